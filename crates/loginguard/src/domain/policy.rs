//! The session policy and its decision, as one pure function.
//!
//! `decide` looks at an account's live sessions (oldest first) and says whether
//! a new sign-in is admitted and which sessions lose. The memory store calls it;
//! `store/redis/scripts/sign_in.lua` does the same steps, and the conformance
//! suite holds the two to the same answers.

use serde::{Deserialize, Serialize};

use super::session::Session;

/// What a sign-in over the limit does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnLimit {
    /// The new sign-in wins; the oldest sessions are revoked (`duplicate_login`).
    #[default]
    KickOldest,
    /// The new sign-in is refused (`session_limit_reached`) while the limit is reached.
    DenyNew,
}

impl OnLimit {
    pub fn as_str(self) -> &'static str {
        match self {
            OnLimit::KickOldest => "kick_oldest",
            OnLimit::DenyNew => "deny_new",
        }
    }
}

/// Live sessions allowed per account and what happens past that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// At least 1 (the configuration refuses 0).
    pub max_sessions: u32,
    pub on_limit: OnLimit,
}

/// The outcome of `decide`; indexes are into the live sessions it was given.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// The same device signed in again: `live[i]` ends (`replaced`) and the
    /// new session takes its place. No other session is touched, no room is
    /// needed.
    Replace(usize),
    /// Admit the new session after revoking `evict` (`duplicate_login`).
    Admit { evict: Vec<usize> },
    /// Refuse the new session; nothing changes.
    Deny,
}

/// Decides a sign-in of `new` given the account's live sessions, oldest first.
///
/// A live session with the new one's `device_id` is replaced. Otherwise the
/// new session needs room: under `kick_oldest` the oldest sessions lose until
/// there is room for one more, under `deny_new` it is refused.
pub fn decide(live: &[Session], new: &Session, policy: &Policy) -> Decision {
    if let Some(id) = &new.device_id {
        if let Some(i) = live.iter().position(|s| s.device_id.as_ref() == Some(id)) {
            return Decision::Replace(i);
        }
    }
    let max = policy.max_sessions.max(1) as usize;
    if live.len() < max {
        return Decision::Admit { evict: Vec::new() };
    }
    match policy.on_limit {
        OnLimit::KickOldest => Decision::Admit {
            evict: (0..live.len() + 1 - max).collect(),
        },
        OnLimit::DenyNew => Decision::Deny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientDeviceId, Millis};
    use std::time::Duration;

    fn p(max: u32, on: OnLimit) -> Policy {
        Policy {
            max_sessions: max,
            on_limit: on,
        }
    }

    /// `n` live sessions, oldest first, and a new one.
    fn sessions(n: u8) -> (Vec<Session>, Session) {
        let life = Duration::from_secs(3600);
        let live = (1..=n)
            .map(|i| Session::sample(i, Millis(u64::from(i)), life).0)
            .collect();
        (live, Session::sample(100, Millis(1000), life).0)
    }

    fn admit(evict: &[usize]) -> Decision {
        Decision::Admit {
            evict: evict.to_vec(),
        }
    }

    #[test]
    fn under_the_limit_admits_without_eviction() {
        let (live, new) = sessions(0);
        assert_eq!(decide(&live, &new, &p(1, OnLimit::KickOldest)), admit(&[]));
        let (live, new) = sessions(2);
        assert_eq!(decide(&live, &new, &p(3, OnLimit::DenyNew)), admit(&[]));
    }

    #[test]
    fn kick_oldest_evicts_down_to_room_for_one() {
        let (live, new) = sessions(1);
        assert_eq!(decide(&live, &new, &p(1, OnLimit::KickOldest)), admit(&[0]));
        // A lowered limit evicts several at once.
        let (live, new) = sessions(5);
        assert_eq!(
            decide(&live, &new, &p(2, OnLimit::KickOldest)),
            admit(&[0, 1, 2, 3])
        );
    }

    #[test]
    fn deny_new_refuses_at_the_limit() {
        let (live, new) = sessions(1);
        assert_eq!(decide(&live, &new, &p(1, OnLimit::DenyNew)), Decision::Deny);
        let (live, new) = sessions(4);
        assert_eq!(decide(&live, &new, &p(2, OnLimit::DenyNew)), Decision::Deny);
    }

    #[test]
    fn the_same_device_replaces_itself_even_at_the_limit() {
        let (mut live, mut new) = sessions(2);
        let id = ClientDeviceId::parse("browser-1").unwrap();
        live[1].device_id = Some(id.clone());
        new.device_id = Some(id);
        for on in [OnLimit::KickOldest, OnLimit::DenyNew] {
            assert_eq!(decide(&live, &new, &p(2, on)), Decision::Replace(1));
        }
        new.device_id = Some(ClientDeviceId::parse("browser-2").unwrap());
        assert_eq!(decide(&live, &new, &p(2, OnLimit::DenyNew)), Decision::Deny);
    }
}
