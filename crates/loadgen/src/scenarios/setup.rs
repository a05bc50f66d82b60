//! Set-up shared by the scenarios: signing in many sessions before a
//! measurement starts, on loginguard or on the Python prototype (one pool,
//! the per-account call differs). Set-up must fully succeed; its first error
//! ends the run.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::accounts::AccountArgs;
use crate::api::{self, Session};
use crate::http::HttpConn;
use crate::progress::Progress;
use crate::target::Target;
use crate::LoadgenError;

/// Connections used for set-up sign-ins (argon2 on the server is the limit anyway).
const SETUP_CONCURRENCY: u64 = 8;

/// How one account signs in during set-up, and what that yields.
pub(crate) trait SetupLogin: Clone + Send + Sync + 'static {
    type Output: Send + 'static;
    fn login(
        &self,
        conn: &mut HttpConn,
        user: String,
        password: String,
    ) -> impl Future<Output = Result<Self::Output, LoadgenError>> + Send;
}

/// loginguard's sign-in with a device name; yields the session.
#[derive(Clone)]
struct Loginguard {
    device: String,
}

impl SetupLogin for Loginguard {
    type Output = Session;
    async fn login(
        &self,
        conn: &mut HttpConn,
        user: String,
        password: String,
    ) -> Result<Session, LoadgenError> {
        api::login(conn, &user, &password, &self.device)
            .await
            .map_err(|e| explain(&user, e))
    }
}

/// Signs in accounts `first .. first + n` (one session each, in index order).
pub async fn sign_in_all(
    target: &Target,
    accounts: &AccountArgs,
    first: u64,
    n: u64,
    device: &str,
) -> Result<Vec<Session>, LoadgenError> {
    let how = Loginguard {
        device: device.to_owned(),
    };
    sign_in_each(target, accounts, first, n, "signing in", how).await
}

/// Signs in accounts `first .. first + n` with `how`, `SETUP_CONCURRENCY` at
/// a time; the results in index order.
pub(crate) async fn sign_in_each<L: SetupLogin>(
    target: &Target,
    accounts: &AccountArgs,
    first: u64,
    n: u64,
    label: &str,
    how: L,
) -> Result<Vec<L::Output>, LoadgenError> {
    let progress = Progress::start(format!("{label} {n} sessions"), n);
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..SETUP_CONCURRENCY.min(n) {
        let (target, accounts, next, counters, how) = (
            target.clone(),
            accounts.clone(),
            next.clone(),
            progress.counters.clone(),
            how.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut conn = HttpConn::connect(&target).await?;
            let mut got = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, LoadgenError>(got);
                }
                let user = accounts.name(first + i);
                let out = how
                    .login(&mut conn, user, accounts.password.clone())
                    .await?;
                counters.done();
                got.push((i, out));
            }
        }));
    }
    let mut all = Vec::with_capacity(n as usize);
    for w in workers {
        let part = w
            .await
            .map_err(|e| LoadgenError::Worker(format!("sign-in task failed: {e}")))??;
        all.extend(part);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, out)| out).collect())
}

/// A refused set-up sign-in almost always means the server lacks the accounts.
fn explain(user: &str, e: LoadgenError) -> LoadgenError {
    match e {
        LoadgenError::Status { status: 401, .. } => LoadgenError::Arg(format!(
            "sign-in as {user:?} was refused: start the server with --users FILE written by \
             `loadgen users` with the same --user-prefix, --password and enough accounts"
        )),
        other => other,
    }
}
