//! The session policy and its decision, as one pure function.
//!
//! `decide` looks at an account's live sessions (oldest first) and says whether
//! a new sign-in is admitted and which sessions lose. The memory store calls it;
//! `store/redis/scripts/sign_in.lua` does the same steps, and the conformance
//! suite holds the two to the same answers.

use serde::{Deserialize, Serialize};

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

/// The outcome of `decide`.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Admit the new session after revoking the `evict` oldest live sessions.
    Admit { evict: usize },
    /// Refuse the new session; nothing changes.
    Deny,
}

/// Decides a sign-in given how many sessions are live now.
/// With `Admit { evict: n }`, the `n` oldest live sessions lose.
pub fn decide(live: usize, policy: Policy) -> Decision {
    let max = policy.max_sessions.max(1) as usize;
    if live < max {
        return Decision::Admit { evict: 0 };
    }
    match policy.on_limit {
        OnLimit::KickOldest => Decision::Admit {
            evict: live + 1 - max,
        },
        OnLimit::DenyNew => Decision::Deny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(max: u32, on: OnLimit) -> Policy {
        Policy {
            max_sessions: max,
            on_limit: on,
        }
    }

    #[test]
    fn under_the_limit_admits_without_eviction() {
        assert_eq!(
            decide(0, p(1, OnLimit::KickOldest)),
            Decision::Admit { evict: 0 }
        );
        assert_eq!(
            decide(2, p(3, OnLimit::DenyNew)),
            Decision::Admit { evict: 0 }
        );
    }

    #[test]
    fn kick_oldest_evicts_down_to_room_for_one() {
        assert_eq!(
            decide(1, p(1, OnLimit::KickOldest)),
            Decision::Admit { evict: 1 }
        );
        // A lowered limit evicts several at once.
        assert_eq!(
            decide(5, p(2, OnLimit::KickOldest)),
            Decision::Admit { evict: 4 }
        );
    }

    #[test]
    fn deny_new_refuses_at_the_limit() {
        assert_eq!(decide(1, p(1, OnLimit::DenyNew)), Decision::Deny);
        assert_eq!(decide(4, p(2, OnLimit::DenyNew)), Decision::Deny);
    }
}
