//! `Accounts`: the users in force, replaced whole when the users file is
//! reloaded.
//!
//! Built once by `startup` from `--users` (or the demo accounts). Every `app`
//! use case reads the current `Users` through it; `app`'s reload task calls
//! `reload`. A file that fails to load leaves the accounts in force untouched,
//! so a reload applies entirely or not at all. Ending the sessions a change
//! outdates is `app`'s job: nothing here touches the store.

use std::path::Path;
use std::sync::Arc;

use super::files::InForce;
use super::Users;

pub struct Accounts(InForce<Users>);

impl Accounts {
    /// The accounts of `file`, or the demo accounts without one.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        InForce::load(file, Users::load, Users::demo).map(Accounts)
    }

    /// The accounts in force now.
    pub fn current(&self) -> Arc<Users> {
        self.0.current()
    }

    /// Reads the users file again and puts it in force. `Ok(false)` in demo
    /// mode (there is no file); on an error the accounts in force stay.
    pub fn reload(&self) -> Result<bool, String> {
        Ok(self.0.reload(Users::load)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Username;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxMjM0NTY$3Ylf0mvu3HXGyXvwVZ6AotmjKGJOfmCdk1OQnZ6lwYU";

    fn entry(name: &str) -> String {
        format!("[[users]]\nusername = \"{name}\"\npassword_hash = \"{HASH}\"\n")
    }

    #[test]
    fn reload_replaces_the_accounts_or_keeps_them_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        std::fs::write(&path, entry("alice") + &entry("bob")).unwrap();
        let accounts = Accounts::load(Some(&path)).unwrap();
        let held = accounts.current();
        let bob = Username::parse("bob").unwrap();

        std::fs::write(&path, entry("alice")).unwrap();
        assert_eq!(accounts.reload(), Ok(true));
        assert!(accounts.current().get(&bob).is_none());
        assert!(held.get(&bob).is_some(), "a reader keeps the users it took");

        std::fs::write(&path, entry("alice") + "[[users]]\nusername = \"bob\"\n").unwrap();
        assert!(accounts.reload().unwrap_err().contains("password_hash"));
        std::fs::remove_file(&path).unwrap();
        assert!(accounts.reload().is_err());
        let alice = Username::parse("alice").unwrap();
        assert!(
            accounts.current().get(&alice).is_some(),
            "the old accounts stay"
        );
    }

    #[test]
    fn demo_accounts_have_nothing_to_reload() {
        let accounts = Accounts::load(None).unwrap();
        assert_eq!(accounts.reload(), Ok(false));
        assert!(!accounts.current().demo_accounts().is_empty());
    }
}
