//! Reconciling: ending the sessions the users file no longer backs.
//!
//! Run by the reload task (`reload.rs`) at start-up and after every reload
//! that applied, and by sign-in for the session it just made. Password
//! sessions of accounts that left the file end with `account_removed`, those
//! signed in under an older password with `password_changed` (the rule is
//! `Session::outdated_by`). Each ending is the store's ordinary `revoke`, so
//! sockets are told like for any revocation and a retry after a failure
//! repeats nothing.

use std::sync::Arc;

use futures_util::{stream, StreamExt, TryStreamExt};

use super::AppError;
use crate::auth::{Accounts, User, Users};
use crate::domain::{AccountKey, Clock, Millis, Reason, Session};
use crate::store::SessionStore;

/// Revocations one reconcile keeps in flight, so a reload that outdates
/// thousands of sessions does not queue thousands of store calls at once.
const REVOKE_IN_FLIGHT: usize = 32;

/// Why `users` no longer backs `session`, if it does not.
pub(crate) fn outdated(users: &Users, session: &Session) -> Option<Reason> {
    let account = users.get(&session.username).map(User::password_fingerprint);
    session.outdated_by(account.as_ref())
}

/// What one reconcile found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Live sessions looked at.
    pub checked: usize,
    /// Sessions ended because their account left the users file.
    pub account_removed: usize,
    /// Sessions ended because they were signed in under an older password.
    pub password_changed: usize,
}

pub struct Reconciler {
    pub accounts: Arc<Accounts>,
    pub store: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
}

impl Reconciler {
    /// Ends every live session the accounts in force no longer back.
    pub async fn reconcile(&self) -> Result<Reconciled, AppError> {
        let users = self.accounts.current();
        let now = self.clock.now();
        let live = self.store.list_all(now).await?;
        let checked = live.len();
        let doomed: Vec<(Session, Reason)> = live
            .into_iter()
            .filter_map(|s| outdated(&users, &s).map(|reason| (s, reason)))
            .collect();
        let ended: Vec<Option<Reason>> = stream::iter(doomed)
            .map(|(session, reason)| async move {
                end_outdated(self.store.as_ref(), &session, reason, now).await
            })
            .buffer_unordered(REVOKE_IN_FLIGHT)
            .try_collect()
            .await?;
        let count = |r: Reason| ended.iter().filter(|&&e| e == Some(r)).count();
        Ok(Reconciled {
            checked,
            account_removed: count(Reason::AccountRemoved),
            password_changed: count(Reason::PasswordChanged),
        })
    }
}

/// Ends `session` with `reason`; `None` when it had already ended.
pub(crate) async fn end_outdated(
    store: &dyn SessionStore,
    session: &Session,
    reason: Reason,
    now: Millis,
) -> Result<Option<Reason>, AppError> {
    let account = AccountKey::of(&session.username);
    let ended = store
        .revoke(&account, &session.session_id, reason, None, now)
        .await?;
    if ended.is_some() {
        tracing::info!(target: "audit", username = %session.username, session_id = %session.session_id, ?reason, "session ended: the users file no longer backs it");
    }
    Ok(ended.map(|_| reason))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::domain::{
        Lifetimes, Lookup, ManualClock, Origin, PasswordFingerprint, Token, Username,
    };
    use crate::events::LocalBus;
    use crate::store::{MemoryStore, SignInRequest};

    const LIFE: Lifetimes = Lifetimes::SAMPLE;
    const OLD: &str =
        "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQxMjM0NTY$b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xk";
    const NEW: &str =
        "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQxMjM0NTY$bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3";

    fn write_users(path: &Path, entries: &[(&str, &str)]) {
        let text: String = entries
            .iter()
            .map(|(name, hash)| {
                format!("[[users]]\nusername = \"{name}\"\npassword_hash = \"{hash}\"\n")
            })
            .collect();
        std::fs::write(path, text).unwrap();
    }

    /// A session of `name` signed in under `hash` (`None`: a record from
    /// before fingerprints), stored; returns its token.
    async fn signed_in(
        store: &MemoryStore,
        at: Millis,
        n: u8,
        name: &str,
        hash: Option<&str>,
    ) -> Token {
        let user = Username::parse(name).unwrap();
        let token = Token::issue(&user, [n; 16], [n; 32]);
        let (mut session, _) = Session::sample(n, at, LIFE.absolute);
        session.session_id = token.session_id().clone();
        session.token_hash = token.hash();
        session.username = user;
        session.origin = Origin::Password;
        session.password = hash.map(PasswordFingerprint::of);
        store
            .sign_in(SignInRequest::one_per_account(session))
            .await
            .unwrap();
        token
    }

    async fn ended_with(store: &MemoryStore, at: Millis, token: &Token) -> Option<Reason> {
        match store.validate(token, at).await.unwrap() {
            Lookup::Ended(t) => Some(t.reason),
            _ => None,
        }
    }

    #[tokio::test]
    async fn ends_removed_accounts_and_old_passwords_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        write_users(
            &path,
            &[("alice", OLD), ("bob", OLD), ("carol", OLD), ("dave", OLD)],
        );
        let accounts = Arc::new(Accounts::load(Some(&path)).unwrap());
        let store = MemoryStore::new(LIFE, LocalBus::new());
        let clock = Arc::new(ManualClock::new());
        let t = clock.now();
        let alice = signed_in(&store, t, 1, "alice", Some(OLD)).await;
        let bob = signed_in(&store, t, 2, "bob", Some(OLD)).await;
        let carol = signed_in(&store, t, 3, "carol", Some(OLD)).await;
        let dave = signed_in(&store, t, 4, "dave", None).await;
        let reconciler = Reconciler {
            accounts: accounts.clone(),
            store: Arc::new(store.clone()),
            clock,
        };
        let quiet = Reconciled {
            checked: 4,
            ..Reconciled::default()
        };
        assert_eq!(reconciler.reconcile().await.unwrap(), quiet);

        write_users(&path, &[("alice", NEW), ("carol", OLD), ("dave", NEW)]);
        accounts.reload().unwrap();
        let result = reconciler.reconcile().await.unwrap();
        assert_eq!(
            result,
            Reconciled {
                checked: 4,
                account_removed: 1,
                password_changed: 1,
            }
        );
        assert_eq!(
            ended_with(&store, t, &alice).await,
            Some(Reason::PasswordChanged)
        );
        assert_eq!(
            ended_with(&store, t, &bob).await,
            Some(Reason::AccountRemoved)
        );
        assert_eq!(ended_with(&store, t, &carol).await, None, "unchanged");
        assert_eq!(
            ended_with(&store, t, &dave).await,
            None,
            "no fingerprint: kept"
        );
        let again = reconciler.reconcile().await.unwrap();
        assert_eq!(again.checked, 2, "nothing left to end");
        assert_eq!(again.account_removed + again.password_changed, 0);
    }
}
