//! The Lua scripts, compiled into the binary, and the decoding of their replies.
//!
//! Each script is `common.lua` (or, for the failure counters, `failures.lua`)
//! followed by one verb file (the two that admit sessions also get
//! `policy.lua`, the policy decision, in between); `redis::Script` runs
//! it by SHA and loads it on `NOSCRIPT`, so a restarted Redis needs nothing
//! from us. Replies are decoded here, next to the scripts that shape them:
//! lists of byte strings, tags and counts as text, sessions and tombstones
//! as records (`record.rs`).

use std::sync::LazyLock;

use redis::Script;

use super::super::{RedeemOutcome, SignInOutcome, StoreError};
use super::record;
use crate::domain::{Admission, Lookup, Millis, OnLimit, Session};

/// A session script's reply.
pub type Reply = [Vec<u8>];

macro_rules! script {
    ($file:literal) => {
        script!("scripts/common.lua", $file)
    };
    ($helpers:literal, $file:literal) => {
        LazyLock::new(|| Script::new(concat!(include_str!($helpers), "\n", include_str!($file))))
    };
}

/// A script that decides a sign-in: `common.lua`, `policy.lua`, then `$file`.
macro_rules! admitting_script {
    ($file:literal) => {
        LazyLock::new(|| {
            Script::new(concat!(
                include_str!("scripts/common.lua"),
                "\n",
                include_str!("scripts/policy.lua"),
                "\n",
                include_str!($file)
            ))
        })
    };
}

pub static SIGN_IN: LazyLock<Script> = admitting_script!("scripts/sign_in.lua");
pub static REDEEM: LazyLock<Script> = admitting_script!("scripts/redeem.lua");
pub static LOOKUP: LazyLock<Script> = script!("scripts/lookup.lua");
pub static REVOKE: LazyLock<Script> = script!("scripts/revoke.lua");
pub static REVOKE_ALL: LazyLock<Script> = script!("scripts/revoke_all.lua");
pub static UNDO_SIGN_IN: LazyLock<Script> = script!("scripts/undo_sign_in.lua");
pub static LIST: LazyLock<Script> = script!("scripts/list.lua");
pub static PRUNE: LazyLock<Script> = script!("scripts/prune.lua");
pub static FAILURE_ADMIT: LazyLock<Script> =
    script!("scripts/failures.lua", "scripts/failure_admit.lua");
pub static FAILURE_SETTLE: LazyLock<Script> =
    script!("scripts/failures.lua", "scripts/failure_settle.lua");

/// The webhook schedule's scripts stand alone (no helpers).
macro_rules! standalone_script {
    ($file:literal) => {
        LazyLock::new(|| Script::new(include_str!($file)))
    };
}

pub static WEBHOOK_ENQUEUE: LazyLock<Script> = standalone_script!("scripts/webhook_enqueue.lua");
pub static WEBHOOK_CLAIM: LazyLock<Script> = standalone_script!("scripts/webhook_claim.lua");
pub static WEBHOOK_SETTLE: LazyLock<Script> = standalone_script!("scripts/webhook_settle.lua");

/// A session in a reply: a record naming its id.
fn session(raw: &[u8]) -> Result<Session, StoreError> {
    record::session(raw, None)
}

pub fn sessions(raws: &Reply) -> Result<Vec<Session>, StoreError> {
    raws.iter().map(|r| session(r)).collect()
}

/// A reply for an error message: tags as text, records as their length.
fn shown(reply: &Reply) -> Vec<String> {
    reply
        .iter()
        .map(|r| match std::str::from_utf8(r) {
            Ok(text) if r.len() <= 32 => text.to_owned(),
            _ => format!("<{} bytes>", r.len()),
        })
        .collect()
}

fn text(raw: &[u8]) -> Option<&str> {
    std::str::from_utf8(raw).ok()
}

/// `lookup.lua`'s reply.
pub fn lookup(reply: &Reply) -> Result<Lookup, StoreError> {
    match reply {
        [tag, raw] if tag == b"live" => Ok(Lookup::Live(session(raw)?)),
        [tag, raw] if tag == b"ended" => Ok(Lookup::Ended(record::tombstone(raw)?)),
        [tag] if tag == b"unknown" => Ok(Lookup::Unknown),
        other => Err(StoreError::corrupt(format!(
            "unexpected lookup reply {:?}",
            shown(other)
        ))),
    }
}

/// `sign_in.lua`'s reply.
pub fn sign_in(reply: &Reply) -> Result<SignInOutcome, StoreError> {
    let on_limit = |raw: &[u8]| {
        text(raw)
            .and_then(OnLimit::parse)
            .ok_or_else(|| StoreError::corrupt(format!("unexpected on_limit {raw:?}")))
    };
    match reply {
        [tag, applied, replaced, revoked @ ..] if tag == b"created" => Ok(SignInOutcome::Created {
            revoked: sessions(revoked)?,
            replaced: (!replaced.is_empty())
                .then(|| session(replaced).map(Box::new))
                .transpose()?,
            on_limit: on_limit(applied)?,
        }),
        [tag, applied, active @ ..] if tag == b"denied" => Ok(SignInOutcome::Denied {
            active: sessions(active)?,
            on_limit: on_limit(applied)?,
        }),
        [tag, ..] if tag == b"undone" => Err(StoreError::sign_in_undone()),
        _ => Err(StoreError::corrupt(format!(
            "unexpected sign_in reply {:?}",
            shown(reply)
        ))),
    }
}

/// `redeem.lua`'s reply.
pub fn redeem(reply: &Reply) -> Result<RedeemOutcome, StoreError> {
    match reply.split_first() {
        Some((tag, rest)) if tag == b"created" => match rest.split_first() {
            Some((new, revoked)) => Ok(RedeemOutcome::Created {
                session: Box::new(session(new)?),
                revoked: sessions(revoked)?,
            }),
            None => Err(StoreError::corrupt("redeem reply without its session")),
        },
        Some((tag, rest)) if tag == b"denied" => Ok(RedeemOutcome::Denied {
            active: sessions(rest)?,
        }),
        Some((tag, [])) if tag == b"invalid" => Ok(RedeemOutcome::InvalidTicket),
        Some((tag, [])) if tag == b"expired" => Ok(RedeemOutcome::ExpiredTicket),
        Some((tag, [])) if tag == b"not_offered" => Ok(RedeemOutcome::NotOffered),
        Some((tag, _)) if tag == b"undone" => Err(StoreError::sign_in_undone()),
        _ => Err(StoreError::corrupt(format!(
            "unexpected redeem reply {:?}",
            shown(reply)
        ))),
    }
}

/// `failure_admit.lua`'s reply.
pub fn failure_admit(reply: &[String]) -> Result<Admission, StoreError> {
    let ms = |n: &str| n.parse::<u64>().ok();
    match reply {
        [tag, start] if tag == "admitted" => {
            ms(start).map(|w| Admission::Admitted { window: Millis(w) })
        }
        [tag] if tag == "wait" => Some(Admission::Wait),
        [tag, left] if tag == "refused" => ms(left).map(|l| Admission::Refused {
            retry_after: std::time::Duration::from_millis(l),
        }),
        _ => None,
    }
    .ok_or_else(|| StoreError::corrupt(format!("unexpected failure_admit reply {reply:?}")))
}

/// `undo_sign_in.lua`'s reply: whether the undo ended a live session.
pub fn undone(reply: &Reply) -> Result<bool, StoreError> {
    match reply {
        [tag, ended] if tag == b"undone" => Ok(ended == b"1"),
        other => Err(StoreError::corrupt(format!(
            "unexpected undo_sign_in reply {:?}",
            shown(other)
        ))),
    }
}

/// `prune.lua`'s and `revoke_all.lua`'s reply: how many sessions it ended.
pub fn count(reply: &Reply) -> Result<usize, StoreError> {
    match reply {
        [n] => text(n).and_then(|n| n.parse().ok()),
        _ => None,
    }
    .ok_or_else(|| StoreError::corrupt(format!("unexpected count reply {:?}", shown(reply))))
}
