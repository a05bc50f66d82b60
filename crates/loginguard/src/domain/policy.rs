//! The session policy and its decision, as one pure function.
//!
//! `decide` looks at an account's live sessions (oldest first) and says whether
//! a new sign-in is admitted and which sessions lose: the same device
//! replaces itself, else the new session needs room in its class (when the
//! class has a limit) and in the total; `kick_oldest` makes room with the
//! oldest sessions, `deny_new` only with stale ones (`stale_after`). The memory store calls it;
//! `store/redis/scripts/sign_in.lua` does the same steps, and the conformance
//! suite holds the two to the same answers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::class_limits::ClassLimits;
use super::clock::Millis;
use super::session::{Session, SessionId};

/// What a sign-in over the limit does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnLimit {
    /// The new sign-in wins; the oldest sessions are revoked (`duplicate_login`).
    #[default]
    KickOldest,
    /// The new sign-in is refused (`session_limit_reached`) while the limit is reached.
    DenyNew,
    /// Like `deny_new`, but the refusal offers the sessions whose removal
    /// would make room and an eviction ticket to sign one of them out.
    Ask,
}

impl OnLimit {
    pub fn as_str(self) -> &'static str {
        match self {
            OnLimit::KickOldest => "kick_oldest",
            OnLimit::DenyNew => "deny_new",
            OnLimit::Ask => "ask",
        }
    }

    /// The value `as_str` gives, back.
    pub fn parse(raw: &str) -> Option<Self> {
        [OnLimit::KickOldest, OnLimit::DenyNew, OnLimit::Ask]
            .into_iter()
            .find(|o| o.as_str() == raw)
    }
}

/// Live sessions allowed per account and what happens past that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// At least 1 (the configuration refuses 0).
    pub max_sessions: u32,
    pub on_limit: OnLimit,
    /// Limits of some device classes within the total.
    pub class_limits: ClassLimits,
    /// Under `deny_new` and `ask`, a session unused this long does not
    /// block a sign-in: it is signed out to make room. `None`: off.
    pub stale_after: Option<Duration>,
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
    /// Refuse the new session; nothing changes. `blocking` are the sessions
    /// whose removal would make room: its class's when the class is full,
    /// else all.
    Deny { blocking: Vec<usize> },
}

/// Decides a sign-in of `new` at `now` given the account's live sessions,
/// oldest first.
///
/// A live session with the new one's `device_id` is replaced. Otherwise the
/// new session of class C needs room in C (when C has a limit) and in the
/// total. Under `kick_oldest` the oldest sessions of C lose until C has
/// room, then the oldest of all until the total has; under `deny_new` only
/// stale sessions may lose (in the same order), and when they cannot make
/// room the sign-in is refused and nothing changes.
pub fn decide(live: &[Session], new: &Session, policy: &Policy, now: Millis) -> Decision {
    decide_choosing(live, new, policy, now, None)
}

/// `decide` for the redemption of an eviction ticket: only `chosen` may be
/// signed out to make room (none when there is room already), whatever the
/// policy says about the others.
pub fn decide_choosing(
    live: &[Session],
    new: &Session,
    policy: &Policy,
    now: Millis,
    chosen: Option<&SessionId>,
) -> Decision {
    if let Some(id) = &new.device_id {
        if let Some(i) = live.iter().position(|s| s.device_id.as_ref() == Some(id)) {
            return Decision::Replace(i);
        }
    }
    let class = new.class();
    let room = Room {
        max: policy.max_sessions.max(1) as usize,
        class_limit: policy.class_limits.get(&class).map(|n| n.max(1) as usize),
        in_class: (0..live.len())
            .filter(|&i| live[i].class() == class)
            .collect(),
        live: live.len(),
    };
    let evict = match (chosen, policy.on_limit) {
        (Some(chosen), _) => room.make(|i| live[i].session_id == *chosen),
        (None, OnLimit::KickOldest) => room.make(|_| true),
        (None, OnLimit::DenyNew | OnLimit::Ask) => room.make(|i| {
            policy
                .stale_after
                .is_some_and(|d| now.since(live[i].last_seen_at) >= d.as_millis() as u64)
        }),
    };
    match evict {
        Some(evict) => Decision::Admit { evict },
        None => Decision::Deny {
            blocking: if room.class_full() {
                room.in_class
            } else {
                (0..live.len()).collect()
            },
        },
    }
}

/// The places a new session of one class needs.
struct Room {
    max: usize,
    class_limit: Option<usize>,
    /// Indexes of the live sessions of the new one's class, oldest first.
    in_class: Vec<usize>,
    live: usize,
}

impl Room {
    fn class_full(&self) -> bool {
        self.class_limit
            .is_some_and(|limit| self.in_class.len() >= limit)
    }

    /// The sessions to sign out, oldest first, taking only those `may_go`
    /// allows: first of the class down to room for one, then of all down to
    /// room for one. `None` when those allowed cannot make room.
    fn make(&self, may_go: impl Fn(usize) -> bool) -> Option<Vec<usize>> {
        let mut evict: Vec<usize> = Vec::new();
        if let Some(limit) = self.class_limit {
            let need = (self.in_class.len() + 1).saturating_sub(limit);
            evict.extend(
                self.in_class
                    .iter()
                    .copied()
                    .filter(|&i| may_go(i))
                    .take(need),
            );
            if evict.len() < need {
                return None;
            }
        }
        let need = (self.live - evict.len() + 1).saturating_sub(self.max);
        let others: Vec<usize> = (0..self.live)
            .filter(|i| !evict.contains(i) && may_go(*i))
            .take(need)
            .collect();
        if others.len() < need {
            return None;
        }
        evict.extend(others);
        evict.sort_unstable();
        Some(evict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientDeviceId, DeviceClass, Millis};
    use std::time::Duration;

    fn p(max: u32, on: OnLimit) -> Policy {
        Policy {
            max_sessions: max,
            on_limit: on,
            class_limits: ClassLimits::default(),
            stale_after: None,
        }
    }

    fn with_classes(max: u32, on: OnLimit, limits: &str) -> Policy {
        Policy {
            class_limits: ClassLimits::parse(limits).unwrap(),
            ..p(max, on)
        }
    }

    fn class(s: &mut Session, c: &str) {
        s.device_class = Some(DeviceClass::parse(c).unwrap());
    }

    const NOW: Millis = Millis(10_000);

    fn deny(blocking: &[usize]) -> Decision {
        Decision::Deny {
            blocking: blocking.to_vec(),
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
        assert_eq!(
            decide(&live, &new, &p(1, OnLimit::KickOldest), NOW),
            admit(&[])
        );
        let (live, new) = sessions(2);
        assert_eq!(
            decide(&live, &new, &p(3, OnLimit::DenyNew), NOW),
            admit(&[])
        );
    }

    #[test]
    fn kick_oldest_evicts_down_to_room_for_one() {
        let (live, new) = sessions(1);
        assert_eq!(
            decide(&live, &new, &p(1, OnLimit::KickOldest), NOW),
            admit(&[0])
        );
        // A lowered limit evicts several at once.
        let (live, new) = sessions(5);
        assert_eq!(
            decide(&live, &new, &p(2, OnLimit::KickOldest), NOW),
            admit(&[0, 1, 2, 3])
        );
    }

    #[test]
    fn deny_new_refuses_at_the_limit() {
        let (live, new) = sessions(1);
        assert_eq!(
            decide(&live, &new, &p(1, OnLimit::DenyNew), NOW),
            deny(&[0])
        );
        let (live, new) = sessions(4);
        assert_eq!(
            decide(&live, &new, &p(2, OnLimit::DenyNew), NOW),
            deny(&[0, 1, 2, 3])
        );
    }

    #[test]
    fn the_same_device_replaces_itself_even_at_the_limit() {
        let (mut live, mut new) = sessions(2);
        let id = ClientDeviceId::parse("browser-1").unwrap();
        live[1].device_id = Some(id.clone());
        new.device_id = Some(id);
        for on in [OnLimit::KickOldest, OnLimit::DenyNew] {
            assert_eq!(decide(&live, &new, &p(2, on), NOW), Decision::Replace(1));
        }
        new.device_id = Some(ClientDeviceId::parse("browser-2").unwrap());
        assert_eq!(
            decide(&live, &new, &p(2, OnLimit::DenyNew), NOW),
            deny(&[0, 1])
        );
    }

    /// live: 0 web, 1 mobile, 2 web, 3 mobile (oldest first).
    fn mixed() -> Vec<Session> {
        let (mut live, _) = sessions(4);
        for (i, s) in live.iter_mut().enumerate() {
            class(s, if i % 2 == 0 { "web" } else { "mobile" });
        }
        live
    }

    #[test]
    fn a_full_class_evicts_its_own_oldest_first() {
        let live = mixed();
        let (_, mut new) = sessions(0);
        class(&mut new, "web");
        let web1 = with_classes(5, OnLimit::KickOldest, "web=2,mobile=2");
        assert_eq!(decide(&live, &new, &web1, NOW), admit(&[0]));
        // Class full and total full: one of the class makes room in both.
        let both = with_classes(4, OnLimit::KickOldest, "web=2");
        assert_eq!(decide(&live, &new, &both, NOW), admit(&[0]));
        // A lowered class limit evicts down to room for one.
        let one = with_classes(5, OnLimit::KickOldest, "web=1");
        assert_eq!(decide(&live, &new, &one, NOW), admit(&[0, 2]));
        // Room in the class, none in the total: the oldest of all goes.
        class(&mut new, "mobile");
        let total = with_classes(4, OnLimit::KickOldest, "web=1,mobile=3");
        assert_eq!(decide(&live, &new, &total, NOW), admit(&[0]));
    }

    #[test]
    fn classes_without_a_limit_share_the_total() {
        let live = mixed();
        let (_, mut new) = sessions(0);
        class(&mut new, "tv");
        let policy = with_classes(5, OnLimit::DenyNew, "web=2,mobile=2");
        assert_eq!(decide(&live, &new, &policy, NOW), admit(&[]));
        let policy = with_classes(4, OnLimit::DenyNew, "web=2,mobile=2");
        assert_eq!(decide(&live, &new, &policy, NOW), deny(&[0, 1, 2, 3]));
    }

    #[test]
    fn deny_new_signs_out_stale_sessions_to_make_room_and_only_them() {
        let (mut live, new) = sessions(3);
        let stale = Policy {
            stale_after: Some(Duration::from_secs(5)),
            ..p(3, OnLimit::DenyNew)
        };
        for (s, seen) in live.iter_mut().zip([5_000, 5_000, 9_000]) {
            s.last_seen_at = Millis(seen);
        }
        // 10 000 - 5 000 is exactly the stale age: stale from there on.
        assert_eq!(decide(&live, &new, &stale, NOW), admit(&[0]));
        let two = Policy {
            max_sessions: 2,
            ..stale.clone()
        };
        assert_eq!(decide(&live, &new, &two, NOW), admit(&[0, 1]));
        let one = Policy {
            max_sessions: 1,
            ..stale.clone()
        };
        assert_eq!(
            decide(&live, &new, &one, NOW),
            deny(&[0, 1, 2]),
            "2 is fresh"
        );
        assert_eq!(decide(&live, &new, &stale, Millis(9_999)), deny(&[0, 1, 2]));
        let off = Policy {
            stale_after: None,
            ..stale.clone()
        };
        assert_eq!(decide(&live, &new, &off, NOW), deny(&[0, 1, 2]));
    }

    #[test]
    fn a_full_class_makes_room_only_with_its_own_stale_sessions() {
        let mut live = mixed();
        live[0].last_seen_at = Millis(0); // web, stale
        live[1].last_seen_at = Millis(0); // mobile, stale
        for s in &mut live[2..] {
            s.last_seen_at = NOW;
        }
        let (_, mut new) = sessions(0);
        class(&mut new, "web");
        let policy = Policy {
            stale_after: Some(Duration::from_secs(5)),
            ..with_classes(9, OnLimit::DenyNew, "web=2,mobile=1")
        };
        assert_eq!(decide(&live, &new, &policy, NOW), admit(&[0]));
        live[0].last_seen_at = NOW;
        assert_eq!(
            decide(&live, &new, &policy, NOW),
            deny(&[0, 2]),
            "the stale mobile session does not help a full web class"
        );
    }

    #[test]
    fn a_redemption_signs_out_only_the_chosen_and_only_when_needed() {
        let (live, new) = sessions(2);
        let chosen = live[1].session_id.clone();
        let ask = p(2, OnLimit::Ask);
        assert_eq!(decide(&live, &new, &ask, NOW), deny(&[0, 1]));
        let pick = |policy: &Policy, live: &[Session]| {
            decide_choosing(live, &new, policy, NOW, Some(&chosen))
        };
        assert_eq!(pick(&ask, &live), admit(&[1]));
        assert_eq!(
            pick(&p(3, OnLimit::Ask), &live),
            admit(&[]),
            "room appeared"
        );
        assert_eq!(pick(&ask, &live[..1]), admit(&[]), "the chosen one left");
        let (three, _) = sessions(3);
        let gone = three[2].session_id.clone();
        assert_eq!(
            decide_choosing(&three, &new, &ask, NOW, Some(&gone)),
            deny(&[0, 1, 2]),
            "one chosen cannot make room for two"
        );
    }

    #[test]
    fn deny_new_names_the_sessions_of_a_full_class() {
        let live = mixed();
        let (_, mut new) = sessions(0);
        class(&mut new, "mobile");
        let policy = with_classes(9, OnLimit::DenyNew, "mobile=2");
        assert_eq!(decide(&live, &new, &policy, NOW), deny(&[1, 3]));
        class(&mut new, "web");
        assert_eq!(decide(&live, &new, &policy, NOW), admit(&[]));
    }
}
