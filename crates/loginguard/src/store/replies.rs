//! Answers to recent store requests, so that a re-run of a request answers
//! what its first run did instead of acting a second time.
//!
//! A reply lost to a timeout makes the caller (or the Redis Cluster client)
//! send the same request again. `RequestId` names a request the same way on
//! every backend; Redis keeps each answer as a key with a TTL (`keys.rs`),
//! the memory store in a `Replies` map beside the account. Nothing here
//! decides a policy: it only remembers what one decided.

use std::collections::HashMap;
use std::time::Duration;

use crate::domain::{Millis, Reason, SessionId};

/// How long an answer is kept for re-runs. Far longer than any retry (the
/// sign-in's own, a few seconds; the Cluster client's, within one call),
/// short enough that the answers of a busy instance stay a few MB.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(60);

/// One request, named by what the caller sent: a re-run carries the same name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// The sign-in creating session `id` (unique per request); its undo shares it.
    pub fn sign_in(id: &SessionId) -> Self {
        RequestId(format!("in:{id}"))
    }

    /// A revocation of `id` (or of the whole account) for `reason` at `at`.
    pub fn revoke(id: Option<&SessionId>, reason: Reason, at: Millis) -> Self {
        let target = id.map_or("*", SessionId::as_str);
        RequestId(format!("out:{target}:{}:{}", reason.as_str(), at.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Recent answers of one kind, each kept until `REPLAY_WINDOW` after it was given.
#[derive(Debug)]
pub struct Replies<T> {
    answers: HashMap<RequestId, (T, Millis)>,
}

impl<T> Default for Replies<T> {
    fn default() -> Self {
        Replies {
            answers: HashMap::new(),
        }
    }
}

impl<T: Clone> Replies<T> {
    /// The answer given to `request`, unless it is older than the window.
    pub fn get(&self, request: &RequestId, now: Millis) -> Option<T> {
        self.answers
            .get(request)
            .filter(|(_, until)| *until > now)
            .map(|(answer, _)| answer.clone())
    }

    /// Keeps `answer` for re-runs of `request`, replacing an earlier one.
    pub fn remember(&mut self, request: RequestId, answer: T, now: Millis) {
        self.answers
            .insert(request, (answer, now.plus(REPLAY_WINDOW)));
    }

    /// Drops answers past the window (periodic upkeep).
    pub fn forget_stale(&mut self, now: Millis) {
        self.answers.retain(|_, (_, until)| *until > now);
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_for_the_window_only() {
        let id = RequestId::sign_in(&SessionId::from_bytes([1; 16]));
        let mut replies = Replies::default();
        replies.remember(id.clone(), 7, Millis(1000));
        let end = Millis(1000).plus(REPLAY_WINDOW);
        assert_eq!(replies.get(&id, Millis(end.0 - 1)), Some(7));
        assert_eq!(replies.get(&id, end), None);
        replies.forget_stale(end);
        assert!(replies.is_empty());
    }

    #[test]
    fn revokes_are_named_by_target_reason_and_time() {
        let id = SessionId::from_bytes([2; 16]);
        let one = RequestId::revoke(Some(&id), Reason::Logout, Millis(5));
        assert_eq!(one, RequestId::revoke(Some(&id), Reason::Logout, Millis(5)));
        assert_ne!(one, RequestId::revoke(Some(&id), Reason::Logout, Millis(6)));
        assert_ne!(one, RequestId::revoke(None, Reason::Logout, Millis(5)));
        assert_ne!(one, RequestId::sign_in(&id));
    }
}
