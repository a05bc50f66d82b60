//! API keys of trusted backends: the `--api-keys` file, reloadable, and the
//! making of new keys (`loginguard api-key new NAME`).
//!
//! A key is `lgk_` and 43 base64url characters (32 random bytes); the file
//! holds only the hex SHA-256 of it. `app` asks `ApiKeys::find` for the key
//! behind a presented secret and checks its scopes. Every key's digest is
//! compared, each in constant time, so the answer's timing tells nothing
//! about how close a guess came. Keys are named; the name is what logs show,
//! never the key. A file that fails to load leaves the keys in force.

use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::files::{self, InForce};
use super::AuthError;

/// What every key starts with, so a leaked one is easy to recognise (and to
/// tell from a session token).
pub const KEY_PREFIX: &str = "lgk_";

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Create, list and end sessions (`/api/v1/sessions`, `/api/v1/subjects`).
    Sessions,
    /// Ask whether a token works (`/api/v1/introspect`).
    Introspect,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Sessions, Scope::Introspect];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Sessions => "sessions",
            Scope::Introspect => "introspect",
        }
    }

    pub fn parse(raw: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// One key of the file. `Debug` shows the name and scopes, not the digest.
pub struct ApiKey {
    pub name: String,
    digest: [u8; 32],
    scopes: Vec<Scope>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The keys of one file (possibly none).
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<Arc<ApiKey>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    key: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    sha256: String,
    scopes: Vec<Scope>,
}

/// A key name: 1-64 characters of `[A-Za-z0-9._-]`, so it is safe in logs
/// and in the TOML entry `api-key new` prints.
fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err("name must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'".into())
    }
}

fn digest_of(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

impl KeySet {
    /// Reads and checks a keys file; every problem names the file, and the
    /// entry and its line where there is one.
    pub fn load(path: &Path) -> Result<Self, String> {
        files::load(path, "API keys file", Self::parse)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: KeysFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut keys: Vec<Arc<ApiKey>> = Vec::with_capacity(file.key.len());
        for (i, e) in file.key.into_iter().enumerate() {
            let at = files::entry_label(text, "key", i, &e.name);
            check_name(&e.name).map_err(|why| format!("{at}: {why}"))?;
            let digest: [u8; 32] = hex::decode(&e.sha256)
                .ok()
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| format!("{at}: sha256 must be 64 hex digits"))?;
            if e.scopes.is_empty() {
                return Err(format!(
                    "{at}: scopes must name at least one of sessions, introspect"
                ));
            }
            if keys.iter().any(|k| k.name == e.name) {
                return Err(format!("{at}: duplicate name"));
            }
            if keys.iter().any(|k| k.digest == digest) {
                return Err(format!("{at}: the same key is listed twice"));
            }
            keys.push(Arc::new(ApiKey {
                name: e.name,
                digest,
                scopes: e.scopes,
            }));
        }
        Ok(KeySet { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key whose SHA-256 matches `presented`. Every key is compared,
    /// each in constant time, whatever matched first.
    pub fn find(&self, presented: &str) -> Option<Arc<ApiKey>> {
        let digest = digest_of(presented);
        let mut hit = None;
        for key in &self.keys {
            if bool::from(key.digest.ct_eq(&digest)) {
                hit = Some(key);
            }
        }
        hit.cloned()
    }
}

/// The keys in force, replaced whole on reload. Without `--api-keys` no key
/// works and nothing reloads.
pub struct ApiKeys(InForce<KeySet>);

impl ApiKeys {
    /// The keys of `file`, or none without one.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        InForce::load(file, KeySet::load, KeySet::default).map(ApiKeys)
    }

    /// The key behind `presented`, among the keys in force now.
    pub fn find(&self, presented: &str) -> Option<Arc<ApiKey>> {
        self.0.current().find(presented)
    }

    /// Reads the file again and puts its keys in force: `Ok(Some(n))` with
    /// how many, `Ok(None)` without a file; on an error the keys stay.
    pub fn reload(&self) -> Result<Option<usize>, String> {
        Ok(self.0.reload(KeySet::load)?.map(|keys| keys.len()))
    }
}

/// A fresh key: the secret (to show once) and the entry for the keys file.
pub struct NewKey {
    pub secret: String,
    pub entry: String,
}

/// Makes a key named `name` with `scopes` from the OS RNG.
pub fn new_key(name: &str, scopes: &[Scope]) -> Result<NewKey, NewKeyError> {
    check_name(name).map_err(NewKeyError::Name)?;
    if scopes.is_empty() {
        return Err(NewKeyError::Name("at least one scope is needed".into()));
    }
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| NewKeyError::Auth(AuthError::Rng(e)))?;
    let secret = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let scopes: Vec<String> = scopes.iter().map(|s| format!("{:?}", s.as_str())).collect();
    let entry = format!(
        "[[key]]\nname = {name:?}\nsha256 = \"{}\"\nscopes = [{}]\n",
        hex::encode(digest_of(&secret)),
        scopes.join(", ")
    );
    Ok(NewKey { secret, entry })
}

/// Why `new_key` made no key.
#[derive(Debug, thiserror::Error)]
pub enum NewKeyError {
    #[error("{0}")]
    Name(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_found_through_its_own_entry() {
        let made = new_key("shop", &Scope::ALL).unwrap();
        assert!(made.secret.starts_with("lgk_"));
        assert_eq!(made.secret.len(), 4 + 43);
        let set = KeySet::parse(&made.entry).unwrap();
        let key = set.find(&made.secret).expect("found");
        assert_eq!(key.name, "shop");
        assert!(key.allows(Scope::Sessions) && key.allows(Scope::Introspect));
        assert!(set.find(&made.secret[..46]).is_none());
        assert!(set.find("").is_none());
        let hex_digest = hex::encode(digest_of(&made.secret));
        assert!(!format!("{key:?}").contains(&hex_digest[..16]));
    }

    #[test]
    fn scopes_are_kept_per_key() {
        let a = new_key("a", &[Scope::Introspect]).unwrap();
        let b = new_key("b", &[Scope::Sessions]).unwrap();
        let set = KeySet::parse(&format!("{}\n{}", a.entry, b.entry)).unwrap();
        assert_eq!(set.len(), 2);
        let a_key = set.find(&a.secret).unwrap();
        assert!(a_key.allows(Scope::Introspect) && !a_key.allows(Scope::Sessions));
        assert_eq!(set.find(&b.secret).unwrap().name, "b");
    }

    #[test]
    fn bad_files_name_the_entry_line_and_reason() {
        let ok = new_key("shop", &Scope::ALL).unwrap().entry;
        let cases = [
            (ok.replace("sessions", "everything"), "everything"),
            (ok.replace("\"shop\"", "\"a b\""), "name must be"),
            (ok.replace("sha256 = \"", "sha256 = \"zz"), "64 hex digits"),
            (
                format!(
                    "# keys\n\n{}",
                    ok.replace("\"sessions\", \"introspect\"", "")
                ),
                "line 3",
            ),
            (format!("{ok}{ok}"), "duplicate name"),
            (
                format!("{ok}{}", ok.replace("shop", "other")),
                "listed twice",
            ),
            ("[[key]]\nname = \"x\"\n".to_owned(), "sha256"),
            (format!("{ok}extra = 1\n"), "extra"),
        ];
        for (text, needle) in cases {
            let err = KeySet::parse(&text).unwrap_err();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
        assert!(new_key("no spaces", &Scope::ALL).is_err());
        assert!(new_key("ok", &[]).is_err());
    }

    #[test]
    fn reload_keeps_the_keys_when_the_file_breaks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        let first = new_key("first", &Scope::ALL).unwrap();
        std::fs::write(&path, &first.entry).unwrap();
        let keys = ApiKeys::load(Some(&path)).unwrap();
        assert!(keys.find(&first.secret).is_some());

        let second = new_key("second", &Scope::ALL).unwrap();
        std::fs::write(&path, &second.entry).unwrap();
        assert_eq!(keys.reload(), Ok(Some(1)));
        assert!(keys.find(&first.secret).is_none());
        assert!(keys.find(&second.secret).is_some());

        std::fs::write(&path, "[[key]]\nname = 1\n").unwrap();
        assert!(keys.reload().unwrap_err().contains("keys.toml"));
        assert!(keys.find(&second.secret).is_some(), "the old keys stay");
        assert_eq!(ApiKeys::load(None).unwrap().reload(), Ok(None));
    }
}
