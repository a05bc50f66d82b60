//! `Mailbox`: the hub's one-way line to a socket's task.
//!
//! Bounded without ever dropping a kick: a kick or close supersedes whatever
//! is queued (nothing else will be written after it), a second one is
//! dropped (a kick outranks a close), a `Send` equal to a queued one is
//! coalesced and only the newest `MAX_SENDS` `Send`s are kept. So a socket
//! that stops reading costs a few queued messages, not one per event. No
//! preallocated block: an idle socket's mailbox is a few dozen bytes. The hub
//! pushes; only the socket's own task takes. `take` is cancel-safe.

use std::collections::VecDeque;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::hub::Command;

/// Queued `Send`s beyond this drop the oldest: they are notices
/// (`sessions_changed`, `login_blocked`) a client that is this far behind
/// learns from the session list anyway.
const MAX_SENDS: usize = 8;

#[derive(Default)]
pub struct Mailbox {
    queue: Mutex<VecDeque<Command>>,
    ready: Notify,
}

impl Mailbox {
    /// Queues a command (under the rules above) and wakes the socket's task.
    pub fn put(&self, command: Command) {
        {
            let mut queue = self.queue.lock();
            // A final command is always alone in the queue, so the front tells.
            let queued_rank = queue.front().map_or(0, Command::rank);
            match &command {
                Command::Send(text) => {
                    if queued_rank > 0
                        || queue
                            .iter()
                            .any(|c| matches!(c, Command::Send(t) if t == text))
                    {
                        return;
                    }
                    if queue.len() >= MAX_SENDS {
                        queue.pop_front();
                    }
                }
                Command::Kick(..) | Command::Close(_) => {
                    if queued_rank >= command.rank() {
                        return;
                    }
                    queue.clear();
                }
            }
            queue.push_back(command);
        }
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

    use tokio::time::Instant;

    use super::*;
    use crate::ws::close::CloseCode;

    fn send(text: &str) -> Command {
        Command::Send(Arc::from(text))
    }

    fn kick(text: &str) -> Command {
        Command::Kick(Arc::from(text), Instant::now())
    }

    /// Everything queued, in order, without waiting.
    fn drain(mb: &Mailbox) -> Vec<Command> {
        mb.queue.lock().drain(..).collect()
    }

    #[tokio::test]
    async fn delivers_in_order_and_wakes_a_waiting_task() {
        let mb = Arc::new(Mailbox::default());
        mb.put(send("a"));
        mb.put(send("b"));
        assert!(matches!(mb.take().await, Command::Send(t) if &*t == "a"));
        assert!(matches!(mb.take().await, Command::Send(t) if &*t == "b"));
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

    #[test]
    fn sends_are_coalesced_and_bounded() {
        let mb = Mailbox::default();
        for _ in 0..1000 {
            mb.put(send("changed"));
        }
        for n in 0..1000 {
            mb.put(send(&n.to_string()));
        }
        let queued = drain(&mb);
        assert_eq!(queued.len(), MAX_SENDS);
        assert!(matches!(&queued[MAX_SENDS - 1], Command::Send(t) if &**t == "999"));
    }

    #[test]
    fn a_kick_supersedes_sends_and_is_never_dropped() {
        let mb = Mailbox::default();
        for n in 0..MAX_SENDS {
            mb.put(send(&n.to_string()));
        }
        mb.put(kick("first"));
        // A sweep that kicks again, a close and later notices change nothing.
        mb.put(kick("second"));
        mb.put(Command::Close(CloseCode::Restarting));
        mb.put(send("late"));
        let queued = drain(&mb);
        assert_eq!(queued.len(), 1);
        assert!(matches!(&queued[0], Command::Kick(t, _) if &**t == "first"));
    }

    #[test]
    fn a_kick_outranks_a_queued_close() {
        let mb = Mailbox::default();
        mb.put(Command::Close(CloseCode::Restarting));
        mb.put(Command::Close(CloseCode::Unauthorized));
        mb.put(kick("why"));
        let queued = drain(&mb);
        assert_eq!(queued.len(), 1);
        assert!(matches!(&queued[0], Command::Kick(t, _) if &**t == "why"));
    }
}
