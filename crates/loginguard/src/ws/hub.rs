//! The connection hub: which sockets on this instance belong to which session.
//!
//! Fed by the event bus (`EventHandler`) and by `revalidate`; it never writes
//! to a socket, it hands a `Command` to the socket's own task over its
//! `Mailbox`, which is bounded but never drops a kick. It refuses a socket
//! past `--max-sockets-per-session`.
//! Sockets sit in shards by account, each behind a short lock; the hub copies
//! what it needs under the lock and sends after releasing it.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::close::CloseCode;
use super::mailbox::Mailbox;
use super::message::{force_logout, ActorView, ServerMessage};
use crate::domain::{Actor, Millis, Reason, SessionId, Username};
use crate::events::{EventHandler, StoreEvent};
use crate::metrics::Metrics;
use crate::presence::LocalSockets;

const SHARDS: usize = 64;

/// What the hub asks a connection task to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Send this JSON text.
    Send(Arc<str>),
    /// Send this `force_logout` JSON, then close with 4001. The instant is
    /// when the event reached this instance (for the delivery metric).
    Kick(Arc<str>, Instant),
    /// Close with this code (shutdown: 1012; vanished session: 4003).
    Close(CloseCode),
}

impl Command {
    /// How final a command is: a send ends nothing, a close ends the socket,
    /// a kick ends it and says why. The mailbox keeps the highest.
    pub(super) fn rank(&self) -> u8 {
        match self {
            Command::Send(_) => 0,
            Command::Close(_) => 1,
            Command::Kick(..) => 2,
        }
    }
}

struct Entry {
    conn: u64,
    session: SessionId,
    mailbox: Arc<Mailbox>,
}

/// Routes events to sockets; one per instance, shared behind an `Arc`.
pub struct Hub {
    metrics: Arc<Metrics>,
    /// Sockets one session may hold here (`--max-sockets-per-session`).
    max_per_session: usize,
    shards: Vec<Mutex<HashMap<Username, Vec<Entry>>>>,
    hasher: RandomState,
    next_conn: AtomicU64,
    sockets: AtomicUsize,
    resync: Notify,
}

/// Keeps a socket registered; unregisters it when dropped.
pub struct Registration {
    hub: Arc<Hub>,
    username: Username,
    conn: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut shard = self.hub.shard(&self.username).lock();
        if let Some(list) = shard.get_mut(&self.username) {
            list.retain(|e| e.conn != self.conn);
            if list.is_empty() {
                shard.remove(&self.username);
            }
        }
        self.hub.sockets.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Hub {
    pub fn new(metrics: Arc<Metrics>, max_per_session: usize) -> Arc<Self> {
        Arc::new(Hub {
            metrics,
            max_per_session,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            next_conn: AtomicU64::new(1),
            sockets: AtomicUsize::new(0),
            resync: Notify::new(),
        })
    }

    fn shard(&self, username: &Username) -> &Mutex<HashMap<Username, Vec<Entry>>> {
        &self.shards[self.hasher.hash_one(username) as usize % SHARDS]
    }

    /// Registers a socket of `session`; commands for it arrive in `mailbox`.
    /// `None` when the session already holds its maximum of sockets here
    /// (counted under the lock, so concurrent sockets cannot overshoot).
    pub fn register(
        self: &Arc<Self>,
        username: Username,
        session: SessionId,
        mailbox: Arc<Mailbox>,
    ) -> Option<Registration> {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        {
            let mut shard = self.shard(&username).lock();
            let list = shard.entry(username.clone()).or_default();
            if list.iter().filter(|e| e.session == session).count() >= self.max_per_session {
                return None;
            }
            list.push(Entry {
                conn,
                session,
                mailbox,
            });
        }
        self.sockets.fetch_add(1, Ordering::Relaxed);
        Some(Registration {
            hub: Arc::clone(self),
            username,
            conn,
        })
    }

    /// Open sockets of one session on this instance.
    pub fn connections(&self, username: &Username, session: &SessionId) -> usize {
        self.shard(username)
            .lock()
            .get(username)
            .map_or(0, |l| l.iter().filter(|e| &e.session == session).count())
    }

    /// Every (account, session) with a socket here, deduplicated.
    pub fn local_sessions(&self) -> Vec<(Username, SessionId)> {
        let mut out = Vec::new();
        for shard in &self.shards {
            for (user, list) in shard.lock().iter() {
                let mut ids: Vec<&SessionId> = list.iter().map(|e| &e.session).collect();
                ids.sort();
                ids.dedup();
                out.extend(ids.into_iter().map(|id| (user.clone(), id.clone())));
            }
        }
        out
    }

    /// Sends `force_logout` to every socket of `ids` and tells the account's
    /// other sockets that its sessions changed.
    pub fn kick(
        &self,
        username: &Username,
        ids: &[SessionId],
        reason: Reason,
        by: Option<&Actor>,
        at: Millis,
    ) {
        let messages: Vec<(SessionId, Arc<str>)> = ids
            .iter()
            .map(|id| (id.clone(), Arc::from(force_logout(id, reason, by, at))))
            .collect();
        let changed: Arc<str> = Arc::from(ServerMessage::SessionsChanged.to_json());
        let heard = Instant::now();
        self.for_account(username, |e| {
            match messages.iter().find(|(id, _)| id == &e.session) {
                Some((_, msg)) => Command::Kick(msg.clone(), heard),
                None => Command::Send(changed.clone()),
            }
        });
    }

    /// Closes every socket of one session with `code` (no `force_logout`).
    pub fn close_session(&self, username: &Username, id: &SessionId, code: CloseCode) {
        let targets: Vec<_> = self
            .shard(username)
            .lock()
            .get(username)
            .map(|l| {
                l.iter()
                    .filter(|e| &e.session == id)
                    .map(|e| e.mailbox.clone())
                    .collect()
            })
            .unwrap_or_default();
        for mailbox in targets {
            mailbox.put(Command::Close(code));
        }
    }

    /// Sends `code` close to every socket (shutdown).
    pub fn close_all(&self, code: CloseCode) {
        for shard in &self.shards {
            let targets: Vec<_> = shard
                .lock()
                .values()
                .flat_map(|l| l.iter().map(|e| e.mailbox.clone()))
                .collect();
            for mailbox in targets {
                mailbox.put(Command::Close(code));
            }
        }
    }

    /// Waits until a bus asks for revalidation.
    pub async fn resync_requested(&self) {
        self.resync.notified().await
    }

    /// Builds a command per socket of `username` under the lock, sends after.
    fn for_account(&self, username: &Username, mut command: impl FnMut(&Entry) -> Command) {
        let targets: Vec<_> = match self.shard(username).lock().get(username) {
            Some(list) => list
                .iter()
                .map(|e| (e.mailbox.clone(), command(e)))
                .collect(),
            None => return,
        };
        for (mailbox, cmd) in targets {
            mailbox.put(cmd);
        }
    }
}

impl LocalSockets for Hub {
    fn connections_of(&self, sessions: &[(Username, SessionId)]) -> Vec<usize> {
        sessions
            .iter()
            .map(|(user, id)| self.connections(user, id))
            .collect()
    }

    fn session_counts(&self) -> HashMap<SessionId, usize> {
        let mut counts = HashMap::new();
        for shard in &self.shards {
            for list in shard.lock().values() {
                for e in list {
                    *counts.entry(e.session.clone()).or_insert(0) += 1;
                }
            }
        }
        counts
    }

    fn socket_count(&self) -> usize {
        self.sockets.load(Ordering::Relaxed)
    }
}

impl EventHandler for Hub {
    fn on_event(&self, event: StoreEvent) {
        match event {
            StoreEvent::SignedIn {
                username,
                revoked,
                replaced,
                by,
                ..
            } => {
                self.metrics
                    .revoked(Reason::DuplicateLogin.as_str(), revoked.len());
                self.kick(
                    &username,
                    &revoked,
                    Reason::DuplicateLogin,
                    Some(&by),
                    by.at,
                );
                if let Some(old) = replaced {
                    self.metrics.revoked(Reason::Replaced.as_str(), 1);
                    self.kick(&username, &[old], Reason::Replaced, Some(&by), by.at);
                }
            }
            StoreEvent::Revoked {
                username,
                ids,
                reason,
                by,
                at,
            } => {
                self.metrics.revoked(reason.as_str(), ids.len());
                self.kick(&username, &ids, reason, by.as_ref(), at)
            }
            StoreEvent::LoginBlocked { username, by } => {
                let msg: Arc<str> = Arc::from(
                    ServerMessage::LoginBlocked {
                        by: ActorView::from(&by),
                    }
                    .to_json(),
                );
                self.for_account(&username, |_| Command::Send(msg.clone()));
            }
        }
    }

    fn on_resync(&self) {
        self.resync.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Username {
        Username::parse("user1").unwrap()
    }

    #[tokio::test]
    async fn kicks_the_named_session_and_tells_the_others() {
        let hub = Hub::new(Arc::new(Metrics::new()), 16);
        let (a, b) = (
            SessionId::from_bytes([1; 16]),
            SessionId::from_bytes([2; 16]),
        );
        let (box_a, box_b) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
        let _ra = hub.register(user(), a.clone(), box_a.clone()).unwrap();
        let _rb = hub.register(user(), b.clone(), box_b.clone()).unwrap();
        assert_eq!(hub.socket_count(), 2);
        hub.kick(
            &user(),
            std::slice::from_ref(&a),
            Reason::Logout,
            None,
            Millis(0),
        );
        assert!(matches!(box_a.take().await, Command::Kick(m, _) if m.contains("\"logout\"")));
        assert!(matches!(box_b.take().await, Command::Send(m) if m.contains("sessions_changed")));
    }

    #[test]
    fn registration_drop_unregisters() {
        let hub = Hub::new(Arc::new(Metrics::new()), 16);
        let id = SessionId::from_bytes([1; 16]);
        let r = hub
            .register(user(), id.clone(), Arc::new(Mailbox::default()))
            .unwrap();
        assert_eq!(hub.connections(&user(), &id), 1);
        drop(r);
        assert_eq!(hub.connections(&user(), &id), 0);
        assert_eq!(hub.socket_count(), 0);
        assert!(hub.local_sessions().is_empty());
    }

    #[test]
    fn refuses_a_socket_past_the_cap_per_session() {
        let hub = Hub::new(Arc::new(Metrics::new()), 2);
        let (a, b) = (
            SessionId::from_bytes([1; 16]),
            SessionId::from_bytes([2; 16]),
        );
        let mailbox = || Arc::new(Mailbox::default());
        let first = hub.register(user(), a.clone(), mailbox()).unwrap();
        let _second = hub.register(user(), a.clone(), mailbox()).unwrap();
        assert!(hub.register(user(), a.clone(), mailbox()).is_none());
        assert!(
            hub.register(user(), b.clone(), mailbox()).is_some(),
            "the cap is per session, not per account"
        );
        drop(first);
        assert!(hub.register(user(), a, mailbox()).is_some());
        assert_eq!(
            hub.socket_count(),
            1,
            "refused and dropped ones are not counted"
        );
    }
}
