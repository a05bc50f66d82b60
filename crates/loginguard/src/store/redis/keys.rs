//! Every Redis key and channel name, built in one place.
//!
//! Layout (`<p>` is the configurable prefix, default `lg`):
//! - `<p>:{a:<account key>}:s`: hash, session id -> session JSON (live sessions)
//! - `<p>:{a:<account key>}:x`: hash, session id -> tombstone JSON
//! - `<p>:{a:<account key>}:xe`: sorted set, session id by tombstone expiry
//! - `<p>:{idx}:accounts`: set of user names that ever signed in (admin listing)
//! - `<p>:{s:<session id>}:a`: string, the session's account key, expiring
//!   with the session's absolute lifetime (finding a session by id alone)
//! - `<p>:events`: pub/sub channel of `StoreEvent` JSON
//! - `<p>:{i:<instance>}:presence`: hash, session id -> sockets open on that instance
//! - `<p>:{idx}:instances`: sorted set, instance id -> last heartbeat (ms)
//!
//! The account key is a fixed-length hex digest of the user name, so the
//! `{...}` hash tag puts all of one account's keys in one Cluster slot and no
//! user name can reach into another account's keys.

use crate::domain::{AccountKey, SessionId};

/// The three keys of one account, in the order the scripts expect them.
pub struct AccountKeys {
    pub sessions: String,
    pub tombstones: String,
    pub tombstone_index: String,
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

    pub fn account(&self, key: &AccountKey) -> AccountKeys {
        let base = format!("{}:{{a:{}}}", self.prefix, key.as_str());
        AccountKeys {
            sessions: format!("{base}:s"),
            tombstones: format!("{base}:x"),
            tombstone_index: format!("{base}:xe"),
        }
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
        assert!(!k.sessions.contains("we}ird"));
        assert!(k.sessions.starts_with("lg:{a:") && k.sessions.ends_with("}:s"));
    }
}
