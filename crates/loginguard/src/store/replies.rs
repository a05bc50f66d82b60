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

use sha2::{Digest, Sha256};

use crate::domain::{Actor, Millis, Reason, SessionId};

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

    /// A revocation of `id` (or of the whole account) for `reason`, by `by`,
    /// at `at`: the same revocation asked twice in one millisecond is one
    /// request. Hashed, as a device name may hold anything.
    pub fn revoke(id: Option<&SessionId>, reason: Reason, by: Option<&Actor>, at: Millis) -> Self {
        let by = by.map(|a| format!("{}\n{}\n{}", a.device.as_str(), a.ip, a.at.0));
        let target = id.map_or("*", SessionId::as_str);
        let fields = format!(
            "{target}\n{}\n{}\n{}",
            reason.as_str(),
            at.0,
            by.unwrap_or_default()
        );
        let digest = Sha256::digest(fields.as_bytes());
        RequestId(format!("out:{}", hex::encode(&digest[..16])))
    }

    /// One account's part of signing everyone out for `reason` at `at`;
    /// named apart from `revoke`, as its answer is a count.
    pub fn revoke_all(reason: Reason, at: Millis) -> Self {
        RequestId(format!("all:{}:{}", reason.as_str(), at.0))
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
    fn revokes_are_named_by_target_reason_actor_and_time() {
        let id = SessionId::from_bytes([2; 16]);
        let (session, _) = crate::domain::Session::sample(1, Millis(0), REPLAY_WINDOW);
        let by = Actor::of(&session, Millis(5));
        let one = RequestId::revoke(Some(&id), Reason::Logout, None, Millis(5));
        assert_eq!(
            one,
            RequestId::revoke(Some(&id), Reason::Logout, None, Millis(5))
        );
        for other in [
            RequestId::revoke(Some(&id), Reason::Logout, None, Millis(6)),
            RequestId::revoke(Some(&id), Reason::RevokedByUser, None, Millis(5)),
            RequestId::revoke(Some(&id), Reason::Logout, Some(&by), Millis(5)),
            RequestId::revoke(None, Reason::Logout, None, Millis(5)),
            RequestId::sign_in(&id),
        ] {
            assert_ne!(one, other);
        }
    }
}
