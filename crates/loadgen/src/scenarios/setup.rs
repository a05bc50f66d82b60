//! Set-up shared by the scenarios: signing in many sessions before a
//! measurement starts. Set-up must fully succeed; its first error ends the run.

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

/// Signs in accounts `first .. first + n` (one session each, in index order).
pub async fn sign_in_all(
    target: &Target,
    accounts: &AccountArgs,
    first: u64,
    n: u64,
    device: &str,
) -> Result<Vec<Session>, LoadgenError> {
    let progress = Progress::start(format!("signing in {n} sessions"), n);
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..SETUP_CONCURRENCY.min(n) {
        let (target, accounts, next, counters) = (
            target.clone(),
            accounts.clone(),
            next.clone(),
            progress.counters.clone(),
        );
        let device = device.to_owned();
        workers.push(tokio::spawn(async move {
            let mut conn = HttpConn::connect(&target).await?;
            let mut got = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, LoadgenError>(got);
                }
                let user = accounts.name(first + i);
                let session = api::login(&mut conn, &user, &accounts.password, &device)
                    .await
                    .map_err(|e| explain(&user, e))?;
                counters.done();
                got.push((i, session));
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
    Ok(all.into_iter().map(|(_, s)| s).collect())
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
