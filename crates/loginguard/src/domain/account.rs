//! One account's sessions and tombstones, and every rule that changes them.
//!
//! The memory store keeps one `Account` per account behind a lock and calls
//! these methods; each call is one atomic step because the caller holds the
//! lock for it. The Redis scripts implement the same steps in Lua. Methods
//! return what ended so the store can publish the matching events; nothing
//! here does I/O.

use std::collections::HashMap;
use std::time::Duration;

use super::clock::Millis;
use super::policy::{decide_choosing, Decision, Policy};
use super::reason::{Actor, Reason, Tombstone};
use super::session::{Lifetimes, Session, SessionId};
use super::token::TokenHash;

/// Tombstones kept per account at most; past this the one that would expire
/// first is forgotten, so an account signing in again and again cannot make
/// its record (or, in Redis, its scripts' work) grow without bound.
/// `store/redis/scripts/common.lua` uses the same number.
pub const MAX_TOMBSTONES: usize = 1000;

/// An account's live sessions and the tombstones of its ended ones.
#[derive(Clone, Debug, Default)]
pub struct Account {
    sessions: Vec<Session>,
    tombs: HashMap<SessionId, Tombstone>,
}

/// What a sign-in did.
#[derive(Debug)]
pub enum SignInDecision {
    /// The new session is live; `evicted` lost to it (oldest first,
    /// `duplicate_login`), or it took the place of `replaced` (the same
    /// device, `replaced`).
    Admitted {
        evicted: Vec<Session>,
        replaced: Option<Box<Session>>,
    },
    /// Refused by `deny_new`; `live` are the sessions holding the places
    /// (the ones whose removal would make room).
    Denied { live: Vec<Session> },
}

/// What a token or session id resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Live(Session),
    Ended(Tombstone),
    Unknown,
}

/// The answer `Account::prune` then `Account::lookup` would give, read from
/// the account's live records alone, when that step would change nothing: no
/// session has expired, the one sought is among them and, with `touch`, its
/// last use is recent enough to be left as it is. `None` otherwise (and when
/// the answer is in the tombstones): then only the step itself may answer.
/// A store may skip its locked step with this only when `live` is read
/// atomically from where that step writes, never from a copy kept aside, so
/// a revoked session is rejected on its very next use.
pub fn lookup_unchanged(
    live: Vec<Session>,
    id: &SessionId,
    hash: Option<&TokenHash>,
    now: Millis,
    lifetimes: Lifetimes,
    touch: bool,
) -> Option<Lookup> {
    if live.iter().any(|s| s.is_expired(now, lifetimes.idle)) {
        return None;
    }
    let s = live.into_iter().find(|s| &s.session_id == id)?;
    if hash.is_some_and(|want| want != &s.token_hash) {
        return Some(Lookup::Unknown);
    }
    if touch && s.needs_touch(now, lifetimes.touch_after) {
        return None;
    }
    Some(Lookup::Live(s))
}

impl Account {
    /// Ends every session past its idle or absolute lifetime (reason
    /// `expired`). Returns the sessions that expired now, so their sockets can
    /// be told. Cheap: it does not walk the tombstones.
    pub fn prune(&mut self, now: Millis, idle: Duration) -> Vec<Session> {
        let (expired, live): (Vec<_>, Vec<_>) = std::mem::take(&mut self.sessions)
            .into_iter()
            .partition(|s| s.is_expired(now, idle));
        self.sessions = live;
        for s in &expired {
            self.bury(s.clone(), Reason::Expired, None, now, idle);
        }
        expired
    }

    /// Applies the policy to a new session. Call `prune` first in the same step.
    pub fn sign_in(
        &mut self,
        new: Session,
        policy: Policy,
        now: Millis,
        idle: Duration,
    ) -> SignInDecision {
        self.sign_in_choosing(new, policy, now, idle, None)
    }

    /// `sign_in` for an eviction ticket's redemption: only `chosen` may be
    /// signed out (`domain::decide_choosing`).
    pub fn sign_in_choosing(
        &mut self,
        new: Session,
        policy: Policy,
        now: Millis,
        idle: Duration,
        chosen: Option<&SessionId>,
    ) -> SignInDecision {
        self.sessions.sort_by(Session::age_order);
        let by = Actor::of(&new, now);
        match decide_choosing(&self.sessions, &new, &policy, now, chosen) {
            Decision::Deny { blocking } => SignInDecision::Denied {
                live: blocking.iter().map(|&i| self.sessions[i].clone()).collect(),
            },
            Decision::Replace(i) => {
                let old = self.sessions.remove(i);
                self.bury(old.clone(), Reason::Replaced, Some(by), now, idle);
                self.sessions.push(new);
                SignInDecision::Admitted {
                    evicted: Vec::new(),
                    replaced: Some(Box::new(old)),
                }
            }
            Decision::Admit { evict } => {
                let losers: Vec<Session> =
                    evict.iter().map(|&i| self.sessions[i].clone()).collect();
                self.sessions
                    .retain(|s| !losers.iter().any(|l| l.session_id == s.session_id));
                for s in &losers {
                    self.bury(
                        s.clone(),
                        Reason::DuplicateLogin,
                        Some(by.clone()),
                        now,
                        idle,
                    );
                }
                self.sessions.push(new);
                SignInDecision::Admitted {
                    evicted: losers,
                    replaced: None,
                }
            }
        }
    }

    /// Resolves a session id and token hash. A hash that does not match is
    /// `Unknown`, never a hint that the id exists. With `touch`, a live
    /// session's `last_seen_at` moves to `now` when it is stale enough.
    pub fn lookup(
        &mut self,
        id: &SessionId,
        hash: Option<&TokenHash>,
        now: Millis,
        lifetimes: Lifetimes,
        touch: bool,
    ) -> Lookup {
        let matches = |h: &TokenHash| hash.is_none_or(|want| want == h);
        if let Some(s) = self.sessions.iter_mut().find(|s| &s.session_id == id) {
            if !matches(&s.token_hash) {
                return Lookup::Unknown;
            }
            if touch && s.needs_touch(now, lifetimes.touch_after) {
                s.last_seen_at = now;
            }
            return Lookup::Live(s.clone());
        }
        match self.tombs.get(id) {
            Some(t) if matches(&t.token_hash) && t.until > now => Lookup::Ended(t.clone()),
            _ => Lookup::Unknown,
        }
    }

    /// Forgets tombstones whose tokens would have expired (periodic upkeep;
    /// lookups already ignore them).
    pub fn forget_stale_tombstones(&mut self, now: Millis) {
        self.tombs.retain(|_, t| t.until > now);
    }

    /// Marks a live session used at `now` (no-op when unknown or fresh).
    pub fn touch(&mut self, id: &SessionId, now: Millis, touch_after: Duration) {
        if let Some(s) = self.sessions.iter_mut().find(|s| &s.session_id == id) {
            if s.needs_touch(now, touch_after) {
                s.last_seen_at = now;
            }
        }
    }

    /// Ends one live session. `None` when it is not live.
    pub fn end(
        &mut self,
        id: &SessionId,
        reason: Reason,
        by: Option<Actor>,
        now: Millis,
        idle: Duration,
    ) -> Option<Session> {
        let pos = self.sessions.iter().position(|s| &s.session_id == id)?;
        let s = self.sessions.remove(pos);
        self.bury(s.clone(), reason, by, now, idle);
        Some(s)
    }

    /// Ends every live session; returns them oldest first.
    pub fn end_all(&mut self, reason: Reason, now: Millis, idle: Duration) -> Vec<Session> {
        self.end_created_by(Millis(u64::MAX), reason, now, idle)
    }

    /// Ends every live session created at or before `cutoff` (signing
    /// everyone out: the sessions admitted after it started stay); returns
    /// them oldest first.
    pub fn end_created_by(
        &mut self,
        cutoff: Millis,
        reason: Reason,
        now: Millis,
        idle: Duration,
    ) -> Vec<Session> {
        let (mut ended, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.sessions)
            .into_iter()
            .partition(|s| s.created_at <= cutoff);
        self.sessions = kept;
        ended.sort_by(Session::age_order);
        for s in &ended {
            self.bury(s.clone(), reason, None, now, idle);
        }
        ended
    }

    /// Whether `id` is one of its sessions not yet ended (expired ones are
    /// still held until the next `prune`).
    pub fn holds(&self, id: &SessionId) -> bool {
        self.sessions.iter().any(|s| &s.session_id == id)
    }

    /// Live sessions, oldest first.
    pub fn live(&self) -> Vec<Session> {
        let mut v = self.sessions.clone();
        v.sort_by(Session::age_order);
        v
    }

    /// True when nothing is left worth keeping.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.tombs.is_empty()
    }

    /// Replaces an ended session by its tombstone. It is kept until the
    /// session's absolute end of life, and at least one idle timeout after the
    /// ending, so a device that comes back soon after is told why even when
    /// its session ended by reaching that absolute end.
    fn bury(&mut self, s: Session, reason: Reason, by: Option<Actor>, now: Millis, idle: Duration) {
        let tomb = Tombstone {
            token_hash: s.token_hash,
            reason,
            revoked_at: now,
            by,
            until: s.expires_at.max(now.plus(idle)),
        };
        self.tombs.insert(s.session_id, tomb);
        if self.tombs.len() > MAX_TOMBSTONES {
            let oldest = self
                .tombs
                .iter()
                .min_by_key(|(id, t)| (t.until, (*id).clone()))
                .map(|(id, _)| id.clone());
            if let Some(id) = oldest {
                self.tombs.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{OnLimit, Token};
    use super::*;

    const LIFE: Lifetimes = Lifetimes {
        idle: Duration::from_secs(1800),
        absolute: Duration::from_secs(43_200),
        touch_after: Duration::from_secs(60),
    };

    fn session(n: u8, at: u64) -> (Session, Token) {
        Session::sample(n, Millis(at), LIFE.absolute)
    }

    fn kick_oldest(max: u32) -> Policy {
        Policy {
            max_sessions: max,
            on_limit: OnLimit::KickOldest,
            class_limits: Default::default(),
            stale_after: None,
        }
    }

    #[test]
    fn second_sign_in_evicts_first_and_leaves_a_tombstone() {
        let mut a = Account::default();
        let (s1, t1) = session(1, 1000);
        let (s2, _) = session(2, 2000);
        a.sign_in(s1.clone(), kick_oldest(1), Millis(1000), LIFE.idle);
        let SignInDecision::Admitted { evicted, .. } =
            a.sign_in(s2, kick_oldest(1), Millis(2000), LIFE.idle)
        else {
            panic!("admitted expected")
        };
        assert_eq!(evicted, vec![s1.clone()]);
        let Lookup::Ended(t) =
            a.lookup(&s1.session_id, Some(&t1.hash()), Millis(2001), LIFE, false)
        else {
            panic!("tombstone expected")
        };
        assert_eq!(t.reason, Reason::DuplicateLogin);
        assert_eq!(t.by.unwrap().device.as_str(), "PC2");
    }

    /// Over expiries, touches, wrong hashes and unknown ids: whenever
    /// `lookup_unchanged` answers, the locked step answers the same and
    /// changes nothing.
    #[test]
    fn an_unchanged_lookup_is_the_step_s_answer_and_the_step_changes_nothing() {
        let (s1, t1) = session(1, 1000);
        let (s2, _) = session(2, 5000);
        let (_, other) = session(9, 1000);
        let mut base = Account::default();
        base.sign_in(s1.clone(), kick_oldest(2), Millis(1000), LIFE.idle);
        base.sign_in(s2.clone(), kick_oldest(2), Millis(5000), LIFE.idle);
        let idle = LIFE.idle.as_millis() as u64;
        let touch_after = LIFE.touch_after.as_millis() as u64;
        let times = [
            5001,
            1000 + touch_after - 1,
            1000 + touch_after,
            1000 + idle - 1,
            1000 + idle,
            5000 + idle,
        ];
        let hashes = [None, Some(t1.hash()), Some(other.hash())];
        let ids = [s1.session_id, s2.session_id, session(7, 0).0.session_id];
        let mut answered = 0;
        for now in times.map(Millis) {
            for hash in &hashes {
                for id in &ids {
                    for touch in [false, true] {
                        let mut a = base.clone();
                        let unchanged = lookup_unchanged(
                            a.sessions.clone(),
                            id,
                            hash.as_ref(),
                            now,
                            LIFE,
                            touch,
                        );
                        let expired = a.prune(now, LIFE.idle);
                        let step = a.lookup(id, hash.as_ref(), now, LIFE, touch);
                        if let Some(answer) = unchanged {
                            answered += 1;
                            assert_eq!(answer, step, "at {now:?}, touch {touch}");
                            assert!(expired.is_empty());
                            assert_eq!(a.sessions, base.sessions);
                        }
                    }
                }
            }
        }
        // Fresh sessions are answered, with any hash and with a touch.
        assert!(answered >= 12, "only {answered} answered");
    }

    #[test]
    fn ending_by_creation_time_keeps_the_later_sessions() {
        let mut a = Account::default();
        let (s1, t1) = session(1, 1000);
        let (s2, _) = session(2, 2000);
        a.sign_in(s1.clone(), kick_oldest(2), Millis(1000), LIFE.idle);
        a.sign_in(s2.clone(), kick_oldest(2), Millis(2000), LIFE.idle);
        let ended = a.end_created_by(
            Millis(1999),
            Reason::RevokedByAdmin,
            Millis(3000),
            LIFE.idle,
        );
        assert_eq!(ended, vec![s1.clone()]);
        assert_eq!(a.live(), vec![s2]);
        let Lookup::Ended(t) =
            a.lookup(&s1.session_id, Some(&t1.hash()), Millis(3001), LIFE, false)
        else {
            panic!("tombstone expected")
        };
        assert_eq!(
            (t.reason, t.revoked_at),
            (Reason::RevokedByAdmin, Millis(3000))
        );
    }

    #[test]
    fn wrong_hash_is_unknown() {
        let mut a = Account::default();
        let (s1, _) = session(1, 1000);
        let (_, other) = session(9, 1000);
        a.sign_in(s1.clone(), kick_oldest(1), Millis(1000), LIFE.idle);
        assert_eq!(
            a.lookup(
                &s1.session_id,
                Some(&other.hash()),
                Millis(1001),
                LIFE,
                false
            ),
            Lookup::Unknown
        );
    }

    #[test]
    fn idle_expiry_and_touch() {
        let mut a = Account::default();
        let (s1, _) = session(1, 0);
        a.sign_in(s1.clone(), kick_oldest(1), Millis(0), LIFE.idle);
        a.touch(&s1.session_id, Millis(1_000_000), LIFE.touch_after);
        assert!(a.prune(Millis(1_000_000 + 1_799_999), LIFE.idle).is_empty());
        let mut expected = s1.clone();
        expected.last_seen_at = Millis(1_000_000);
        assert_eq!(
            a.prune(Millis(1_000_000 + 1_800_000), LIFE.idle),
            vec![expected]
        );
        assert!(a.live().is_empty());
    }

    #[test]
    fn tombstones_are_forgotten_when_the_token_would_have_expired() {
        let mut a = Account::default();
        let (s1, t1) = session(1, 0);
        a.sign_in(s1.clone(), kick_oldest(1), Millis(0), LIFE.idle);
        a.end(&s1.session_id, Reason::Logout, None, Millis(5), LIFE.idle);
        a.prune(Millis(43_200_000), LIFE.idle);
        a.forget_stale_tombstones(Millis(43_200_000));
        assert_eq!(
            a.lookup(
                &s1.session_id,
                Some(&t1.hash()),
                Millis(43_200_000),
                LIFE,
                false
            ),
            Lookup::Unknown
        );
        assert!(a.is_empty());
    }
}
