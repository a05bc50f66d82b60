//! Every Redis key and channel name, built in one place.
//!
//! Layout (`<p>` is the configurable prefix, default `lg`):
//! - `<p>:{a:<account key>}:s`: hash, session id -> session record (live
//!   sessions; MessagePack, `record.rs`; JSON from earlier versions still read)
//! - `<p>:{a:<account key>}:x`: hash, session id -> tombstone record (same)
//! - `<p>:{a:<account key>}:xe`: sorted set, session id by tombstone expiry
//! - `<p>:{a:<account key>}:r:<request>`: string, a changing script's reply,
//!   kept for the replay window so a re-run of that request gets it again
//!   (a MessagePack array of the reply's strings)
//! - `<p>:{a:<account key>}:t:<token hash>`: string, an eviction ticket's
//!   waiting sign-in (`domain::PendingSignIn` as MessagePack, `common.lua`),
//!   expiring with the ticket
//! - `<p>:{a:<account key>}:o`: string, the account's runtime policy
//!   override (`domain::PolicyOverride` JSON), kept until removed
//! - `<p>:{idx}:accounts`: set of user names that ever signed in (admin listing)
//! - `<p>:{s:<session id>}:a`: string, the session's account key, expiring
//!   with the session's absolute lifetime (finding a session by id alone)
//! - `<p>:events`: pub/sub channel of `StoreEvent` JSON
//! - `<p>:{webhooks}:due`: sorted set, webhook delivery key -> due time (ms),
//!   or the lease's end while an instance attempts it
//! - `<p>:{webhooks}:jobs`: hash, webhook delivery key -> delivery JSON
//! - `<p>:{webhooks}:born`: sorted set, webhook delivery key -> event time (ms)
//! - `<p>:{audit}:log`: stream, the audit trail (field `e`: `AuditRecord`
//!   JSON), capped with `MAXLEN ~`
//! - `<p>:{i:<instance>}:presence`: hash, session id -> sockets open on that instance
//! - `<p>:{idx}:instances`: sorted set, instance id -> last heartbeat (ms)
//! - `<p>:{a:<account key>}:f`: hash, the account's failed-sign-in window
//!   (`w` start, `f` failures, `p` checks in flight, `q`/`qw` carried ones)
//! - `<p>:{a:<account key>}:f:<device id>`: hash, one trusted device's window
//! - `<p>:{ip:<hex of the IP>}:f`: hash, one client IP's window
//!
//! The account key is a fixed-length hex digest of the user name, so the
//! `{...}` hash tag puts all of one account's keys in one Cluster slot and no
//! user name can reach into another account's keys. An IP is hex-encoded for
//! the same reason; a device id is base64url, which holds no brace.

use super::super::replies::RequestId;
use super::super::FailureKey;
use crate::domain::{AccountKey, SessionId, TokenHash};

/// The three keys of one account, in the order the scripts expect them.
pub struct AccountKeys {
    pub sessions: String,
    pub tombstones: String,
    pub tombstone_index: String,
}

/// The webhook schedule's keys, one slot, in the order the scripts expect.
#[derive(Clone, Debug)]
pub struct WebhookKeys {
    pub due: String,
    pub jobs: String,
    pub born: String,
}

/// Key and channel names under one prefix.
#[derive(Clone, Debug)]
pub struct KeySpace {
    prefix: String,
}

impl KeySpace {
    pub fn new(prefix: &str) -> Self {
        KeySpace {
            prefix: prefix.to_owned(),
        }
    }

    /// Every key of one account starts with this; its `{...}` is the hash tag.
    fn account_base(&self, key: &AccountKey) -> String {
        format!("{}:{{a:{}}}", self.prefix, key.as_str())
    }

    /// One of the account's own keys, `<p>:{a:<account key>}:<suffix>`, built
    /// in one step (a token check builds one on every request).
    fn in_account(&self, key: &AccountKey, suffix: &str) -> String {
        format!("{}:{{a:{}}}:{suffix}", self.prefix, key.as_str())
    }

    pub fn account(&self, key: &AccountKey) -> AccountKeys {
        AccountKeys {
            sessions: self.sessions(key),
            tombstones: self.in_account(key, "x"),
            tombstone_index: self.in_account(key, "xe"),
        }
    }

    /// The account's live sessions hash alone: what a token check reads.
    pub fn sessions(&self, key: &AccountKey) -> String {
        self.in_account(key, "s")
    }

    /// The counter of one failed-sign-in window.
    pub fn failures(&self, key: &FailureKey) -> String {
        let p = &self.prefix;
        match key {
            FailureKey::Ip(ip) => format!("{p}:{{ip:{}}}:f", hex::encode(ip)),
            FailureKey::Account(a) => format!("{p}:{{a:{}}}:f", a.as_str()),
            FailureKey::Device(a, d) => format!("{p}:{{a:{}}}:f:{}", a.as_str(), d.as_str()),
        }
    }

    /// Where the reply to `request` on `key`'s account is kept (same slot).
    pub fn reply(&self, key: &AccountKey, request: &RequestId) -> String {
        format!("{}:r:{}", self.account_base(key), request.as_str())
    }

    /// Where the eviction ticket with hash `hash` of `key`'s account is kept
    /// (same slot as the account).
    pub fn ticket(&self, key: &AccountKey, hash: &TokenHash) -> String {
        format!("{}:t:{}", self.account_base(key), hash.as_str())
    }

    /// Where `key`'s runtime policy override is kept (same slot as the
    /// account, so the sign-in script reads it in its own step).
    pub fn policy_override(&self, key: &AccountKey) -> String {
        format!("{}:o", self.account_base(key))
    }

    /// Where session `id`'s account key is kept. Session ids are `s_` and hex,
    /// so they cannot break the hash tag; each lives in its own slot, which
    /// is why it is written beside the sign-in script, never inside it.
    pub fn session_account(&self, id: &SessionId) -> String {
        format!("{}:{{s:{}}}:a", self.prefix, id.as_str())
    }

    pub fn accounts_index(&self) -> String {
        format!("{}:{{idx}}:accounts", self.prefix)
    }

    pub fn presence(&self, instance: &str) -> String {
        format!("{}:{{i:{instance}}}:presence", self.prefix)
    }

    pub fn instances(&self) -> String {
        format!("{}:{{idx}}:instances", self.prefix)
    }

    pub fn webhooks(&self) -> WebhookKeys {
        let base = format!("{}:{{webhooks}}", self.prefix);
        WebhookKeys {
            due: format!("{base}:due"),
            jobs: format!("{base}:jobs"),
            born: format!("{base}:born"),
        }
    }

    /// The audit trail's one stream. On Cluster it has its own slot, which
    /// is why the scripts there hand their entries back (`audit.rs`).
    pub fn audit_stream(&self) -> String {
        format!("{}:{{audit}}:log", self.prefix)
    }

    pub fn events_channel(&self) -> String {
        format!("{}:events", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Username;

    #[test]
    fn account_keys_share_one_hash_tag() {
        let ks = KeySpace::new("lg");
        let user = Username::parse("we}ird{name").unwrap();
        let k = ks.account(&AccountKey::of(&user));
        let tag = |s: &str| s[s.find('{').unwrap()..=s.find('}').unwrap()].to_owned();
        assert_eq!(tag(&k.sessions), tag(&k.tombstones));
        assert_eq!(tag(&k.sessions), tag(&k.tombstone_index));
        let id = crate::domain::SessionId::from_bytes([3; 16]);
        let reply = ks.reply(&AccountKey::of(&user), &RequestId::sign_in(&id));
        assert_eq!(tag(&k.sessions), tag(&reply));
        let over = ks.policy_override(&AccountKey::of(&user));
        assert_eq!(tag(&k.sessions), tag(&over));
        assert!(!k.sessions.contains("we}ird"));
        assert!(k.sessions.starts_with("lg:{a:") && k.sessions.ends_with("}:s"));
        assert_eq!(ks.sessions(&AccountKey::of(&user)), k.sessions);
        assert_eq!(over, format!("{}:o", &k.sessions[..k.sessions.len() - 2]));
    }

    #[test]
    fn failure_counters_keep_client_text_out_of_the_hash_tag() {
        let ks = KeySpace::new("lg");
        let ip = ks.failures(&FailureKey::Ip("::1}{x".into()));
        assert_eq!(ip, format!("lg:{{ip:{}}}:f", hex::encode("::1}{x")));
        let user = AccountKey::of(&Username::parse("u").unwrap());
        let device = crate::domain::DeviceId::from_bytes([0xfb; 16]);
        let on_device = ks.failures(&FailureKey::Device(user.clone(), device));
        let on_account = ks.failures(&FailureKey::Account(user));
        assert!(on_device.starts_with(&on_account), "one account, one slot");
        assert_eq!(on_device.matches('{').count(), 1);
    }
}
