//! `Mailbox`: the hub's one-way line to a socket's task.
//!
//! An unbounded queue, so a kick is never dropped because the queue is full,
//! but without a channel's preallocated block: an idle socket's mailbox is a
//! few dozen bytes, which matters at tens of thousands of sockets. The hub
//! pushes; only the socket's own task takes. `take` is cancel-safe: a command
//! stays queued until a `take` returns it.

use std::collections::VecDeque;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::hub::Command;

#[derive(Default)]
pub struct Mailbox {
    queue: Mutex<VecDeque<Command>>,
    ready: Notify,
}

impl Mailbox {
    /// Queues a command and wakes the socket's task.
    pub fn put(&self, command: Command) {
        self.queue.lock().push_back(command);
        // Stores a permit if the task is not waiting yet, so no wake-up is lost.
        self.ready.notify_one();
    }

    /// The next command, waiting for one if the queue is empty.
    pub async fn take(&self) -> Command {
        loop {
            if let Some(command) = self.queue.lock().pop_front() {
                return command;
            }
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::ws::close::CloseCode;

    #[tokio::test]
    async fn delivers_in_order_and_wakes_a_waiting_task() {
        let mb = Arc::new(Mailbox::default());
        mb.put(Command::Close(CloseCode::Idle));
        mb.put(Command::Close(CloseCode::Restarting));
        assert!(matches!(mb.take().await, Command::Close(CloseCode::Idle)));
        assert!(matches!(
            mb.take().await,
            Command::Close(CloseCode::Restarting)
        ));
        let waiter = tokio::spawn({
            let mb = mb.clone();
            async move { mb.take().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        mb.put(Command::Close(CloseCode::TooBig));
        assert!(matches!(
            waiter.await.unwrap(),
            Command::Close(CloseCode::TooBig)
        ));
    }

    #[tokio::test]
    async fn a_cancelled_take_loses_nothing() {
        let mb = Mailbox::default();
        let timed_out = tokio::time::timeout(Duration::from_millis(5), mb.take()).await;
        assert!(timed_out.is_err());
        mb.put(Command::Close(CloseCode::Revoked));
        assert!(matches!(
            mb.take().await,
            Command::Close(CloseCode::Revoked)
        ));
    }
}
