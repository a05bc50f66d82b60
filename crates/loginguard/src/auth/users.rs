//! The accounts: a TOML users file, or the demo accounts.
//!
//! Loaded at start-up and on each reload by `Accounts`; a loaded `Users` never
//! changes (a reload replaces it whole). Each entry has an argon2id hash (made
//! with `loginguard hash-password`) and may override the global session policy. The demo accounts' hashes are made once and kept
//! here, so start-up does no hashing (fast, and no 19 MiB hashing buffer left
//! behind in an idle process).

use std::collections::HashMap;
use std::path::Path;

use argon2::password_hash::PasswordHash;
use serde::Deserialize;

use super::files;
use crate::domain::{ClassLimits, OnLimit, PasswordFingerprint, Username};

// argon2id (m = 19 MiB, t = 2, p = 1) of the public demo passwords.
const DEMO_USER1: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$QBLp5DbtXP0cjJUXOufkMw$FeWcbejx40F/xhTIHaRwL9ALns74XCRgz5uIO9WP6Y4";
const DEMO_USER2: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$TmEQFmp4/uIkmcjQdYmjHw$sFcgVUeaCOHMSZlyoHOtp7fSyem907xR9LiRf9MRlLA";
const DEMO_ADMIN: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$2vpP3btpXNYz3qaRnPppCQ$cSJJGq//fZdmYlrUJ1xkc3XI8hyNTWYWJ2RZcRWI8zA";

/// One account.
#[derive(Clone, Debug)]
pub struct User {
    pub username: Username,
    /// Display name ("User One").
    pub name: String,
    pub password_hash: String,
    pub is_admin: bool,
    /// Overrides the global `max_sessions` for this account.
    pub max_sessions: Option<u32>,
    /// Overrides the global `on_limit` for this account.
    pub on_limit: Option<OnLimit>,
    /// Overrides the global `--class-limits` (all of them) for this account.
    pub class_limits: Option<ClassLimits>,
}

impl User {
    /// What sessions signed in under the current password record.
    pub fn password_fingerprint(&self) -> PasswordFingerprint {
        PasswordFingerprint::of(&self.password_hash)
    }
}

/// A demo account. Its password is public on purpose: the page and the
/// README show it to newcomers.
#[derive(Clone, Copy, Debug)]
pub struct DemoAccount {
    pub username: &'static str,
    pub display_name: &'static str,
    pub password: &'static str,
    password_hash: &'static str,
    pub is_admin: bool,
}

/// The accounts of demo mode (no users file).
const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        username: "user1",
        display_name: "User One",
        password: "password1",
        password_hash: DEMO_USER1,
        is_admin: false,
    },
    DemoAccount {
        username: "user2",
        display_name: "User Two",
        password: "password2",
        password_hash: DEMO_USER2,
        is_admin: false,
    },
    DemoAccount {
        username: "admin",
        display_name: "Administrator",
        password: "admin123",
        password_hash: DEMO_ADMIN,
        is_admin: true,
    },
];

/// All accounts by name.
#[derive(Clone, Debug, Default)]
pub struct Users {
    by_name: HashMap<Username, User>,
    /// The demo accounts when these are they; empty for a users file.
    demo: &'static [DemoAccount],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    users: Vec<UserEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    username: String,
    #[serde(default)]
    name: Option<String>,
    password_hash: String,
    #[serde(default)]
    admin: bool,
    max_sessions: Option<u32>,
    on_limit: Option<OnLimit>,
    /// `class_limits = { web = 1, mobile = 2 }`; each at least 1.
    class_limits: Option<ClassLimits>,
}

impl Users {
    /// Parses a users file; every problem names the file and the entry.
    pub fn load(path: &Path) -> Result<Self, String> {
        files::load(path, "users file", Self::parse)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: UsersFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut by_name = HashMap::new();
        for (i, e) in file.users.into_iter().enumerate() {
            let at = files::entry_label(text, "users", i, &e.username);
            let username = Username::parse(&e.username).map_err(|err| format!("{at}: {err}"))?;
            PasswordHash::new(&e.password_hash)
                .map_err(|err| format!("{at}: password_hash is not a PHC string: {err}"))?;
            if e.max_sessions == Some(0) {
                return Err(format!("{at}: max_sessions must be at least 1"));
            }
            let user = User {
                name: e.name.unwrap_or_else(|| e.username.clone()),
                username: username.clone(),
                password_hash: e.password_hash,
                is_admin: e.admin,
                max_sessions: e.max_sessions,
                on_limit: e.on_limit,
                class_limits: e.class_limits,
            };
            if by_name.insert(username, user).is_some() {
                return Err(format!("{at}: duplicate username"));
            }
        }
        Ok(Users { by_name, demo: &[] })
    }

    /// user1/password1, user2/password2 and admin/admin123 (admin).
    pub fn demo() -> Self {
        let by_name = DEMO_ACCOUNTS
            .iter()
            .map(|demo| {
                let username = Username::parse(demo.username).expect("demo names are valid");
                let user = User {
                    username: username.clone(),
                    name: demo.display_name.to_owned(),
                    password_hash: demo.password_hash.to_owned(),
                    is_admin: demo.is_admin,
                    max_sessions: None,
                    on_limit: None,
                    class_limits: None,
                };
                (username, user)
            })
            .collect();
        Users {
            by_name,
            demo: DEMO_ACCOUNTS,
        }
    }

    /// The demo accounts with their passwords in demo mode; none otherwise.
    pub fn demo_accounts(&self) -> &'static [DemoAccount] {
        self.demo
    }

    /// How many accounts there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn get(&self, username: &Username) -> Option<&User> {
        self.by_name.get(username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Ticket;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxMjM0NTY$3Ylf0mvu3HXGyXvwVZ6AotmjKGJOfmCdk1OQnZ6lwYU";

    #[test]
    fn parses_entries_with_overrides() {
        let text = format!(
            "[[users]]\nusername = \"alice\"\nname = \"Alice\"\npassword_hash = \"{HASH}\"\nadmin = true\nmax_sessions = 3\non_limit = \"deny_new\"\nclass_limits = {{ web = 1, mobile = 2 }}\n"
        );
        let users = Users::parse(&text).unwrap();
        let alice = users.get(&Username::parse("alice").unwrap()).unwrap();
        assert!(alice.is_admin);
        assert_eq!(alice.max_sessions, Some(3));
        assert_eq!(alice.on_limit, Some(OnLimit::DenyNew));
        assert_eq!(
            alice.class_limits,
            Some(ClassLimits::parse("web=1,mobile=2").unwrap())
        );
        let zero = format!(
            "[[users]]\nusername = \"a\"\npassword_hash = \"{HASH}\"\nclass_limits = {{ web = 0 }}\n"
        );
        assert!(
            Users::parse(&zero).is_err(),
            "a class limit of 0 is refused"
        );
    }

    #[tokio::test]
    async fn demo_hashes_match_the_demo_passwords() {
        let users = Users::demo();
        let v = crate::auth::PasswordVerifier::new(1).unwrap();
        assert_eq!(users.demo_accounts().len(), 3);
        for demo in users.demo_accounts() {
            let user = users.get(&Username::parse(demo.username).unwrap()).unwrap();
            assert!(
                v.verify(
                    Some(&user.password_hash),
                    demo.password,
                    Ticket::unlimited()
                )
                .await
                .unwrap(),
                "{}",
                demo.username
            );
            assert_eq!(user.is_admin, demo.is_admin);
        }
        let admin = users.get(&Username::parse("admin").unwrap()).unwrap();
        assert!(admin.is_admin);
    }

    #[test]
    fn a_users_file_has_no_demo_accounts() {
        let text = format!("[[users]]\nusername = \"user1\"\npassword_hash = \"{HASH}\"\n");
        assert!(Users::parse(&text).unwrap().demo_accounts().is_empty());
    }

    #[test]
    fn refuses_bad_entries_with_a_clear_message() {
        let bad_hash = "# accounts\n[[users]]\nusername = \"a\"\npassword_hash = \"plain\"\n";
        let err = Users::parse(bad_hash).unwrap_err();
        assert!(err.contains("PHC") && err.contains("line 2"), "{err}");
        let zero =
            format!("[[users]]\nusername = \"a\"\npassword_hash = \"{HASH}\"\nmax_sessions = 0\n");
        assert!(Users::parse(&zero).unwrap_err().contains("at least 1"));
        let dup = format!("[[users]]\nusername = \"a\"\npassword_hash = \"{HASH}\"\n[[users]]\nusername = \"a\"\npassword_hash = \"{HASH}\"\n");
        assert!(Users::parse(&dup).unwrap_err().contains("duplicate"));
        assert!(Users::parse("[[users]]\nusername = \"\"\npassword_hash = \"x\"\n").is_err());
    }
}
