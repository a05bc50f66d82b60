//! What `revoke` and `kick` share: sockets armed to catch one kick each (also
//! for `prototype kick`), the outcome of one kick, the tally of a run, and
//! the optional background load.
//!
//! A socket is "armed" once the server holds it (authenticated; on the
//! prototype, its ping answered) and its own task is already reading, so the
//! kick's arrival time is taken the moment it is read, not when the measuring
//! loop gets round to it.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::dial::Dial;
use crate::accounts::AccountArgs;
use crate::api::Session;
use crate::background::{LoginLoad, LoginLoadReport, LoginLoadSpec};
use crate::cli::BackgroundArgs;
use crate::progress::Counters;
use crate::target::Target;
use crate::ws::{self, Kick, Ws};
use crate::LoadgenError;

/// A socket waiting for its kick.
pub type Armed = JoinHandle<Result<Kick, LoadgenError>>;

/// Opens and authenticates one socket per session on `target`; each then
/// waits for its kick in its own task. Fails if any socket cannot open.
pub async fn arm(target: &Target, sessions: &[Session]) -> Result<Vec<Armed>, LoadgenError> {
    let tokens = sessions.iter().map(|s| s.token.clone());
    arm_each(target, Dial::Token, tokens, ws::await_kick).await
}

/// Opens one socket per key on `target` (`dial` says how) and hands each to
/// `wait` in its own task. Returns once every socket is open, so that every
/// kick sent after it can reach its socket; fails if any cannot open.
pub(crate) async fn arm_each<T, W, F>(
    target: &Target,
    dial: Dial,
    keys: impl IntoIterator<Item = String>,
    wait: W,
) -> Result<Vec<JoinHandle<Result<T, LoadgenError>>>, LoadgenError>
where
    T: Send + 'static,
    W: FnOnce(Ws) -> F + Copy + Send + 'static,
    F: Future<Output = Result<T, LoadgenError>> + Send,
{
    let mut armed = Vec::new();
    let mut ready = Vec::new();
    for key in keys {
        let (tx, rx) = oneshot::channel();
        let target = target.clone();
        armed.push(tokio::spawn(async move {
            match dial.open(&target, None, &key).await {
                Ok(ws) => {
                    let _ = tx.send(Ok(()));
                    wait(ws).await
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    Err(LoadgenError::Protocol("socket did not open".into()))
                }
            }
        }));
        ready.push(rx);
    }
    for rx in ready {
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(LoadgenError::Protocol(format!("arming a socket: {e}"))),
            Err(_) => return Err(LoadgenError::Protocol("arming task ended".into())),
        }
    }
    Ok(armed)
}

/// What became of one kick (`T`: what the socket's task saw of it).
pub enum Outcome<T = Kick> {
    Seen(T),
    /// No `force_logout` by the deadline.
    Missed,
    /// The socket ended some other way.
    Failed(String),
}

/// Waits for `armed` until `deadline`; a socket still waiting then is closed.
pub async fn outcome<T>(
    armed: JoinHandle<Result<T, LoadgenError>>,
    deadline: Instant,
) -> Outcome<T> {
    let abort = armed.abort_handle();
    match tokio::time::timeout_at(deadline.into(), armed).await {
        Ok(Ok(Ok(kick))) => Outcome::Seen(kick),
        Ok(Ok(Err(e))) => Outcome::Failed(e.to_string()),
        Ok(Err(e)) => Outcome::Failed(e.to_string()),
        Err(_) => {
            abort.abort();
            Outcome::Missed
        }
    }
}

/// Counts of a kick run.
#[derive(Debug, Default, Serialize)]
pub struct Tally {
    /// Kicks attempted (requests sent).
    pub kicks: u64,
    /// `force_logout` seen with the right reason and then close 4001.
    pub delivered: u64,
    /// No `force_logout` within the kick timeout.
    pub missed: u64,
    /// `force_logout` with another reason, or not followed by close 4001.
    pub wrong: u64,
    /// Requests that failed, sockets that ended without a kick.
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Tally {
    pub fn error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }

    /// Counts one kick's outcome (and the progress line); returns the kick
    /// when it came with `reason` and then close 4001.
    pub fn settle(&mut self, outcome: Outcome, reason: &str, counters: &Counters) -> Option<Kick> {
        match outcome {
            Outcome::Seen(kick) => {
                counters.done();
                self.seen(&kick, reason).then_some(kick)
            }
            Outcome::Missed => {
                self.missed += 1;
                counters.error();
                None
            }
            Outcome::Failed(e) => {
                self.error(e);
                counters.error();
                None
            }
        }
    }

    /// Counts a seen kick; true when it is what PROTOCOL.md promises.
    pub fn seen(&mut self, kick: &Kick, reason: &str) -> bool {
        let right = kick.reason == reason && kick.close_code == Some(4001);
        if right {
            self.delivered += 1;
        } else {
            self.wrong += 1;
            self.first_error.get_or_insert(format!(
                "force_logout reason {:?}, close {:?} (want {reason:?}, 4001)",
                kick.reason, kick.close_code
            ));
        }
        right
    }
}

/// Starts the background sign-ins when asked for: accounts after the `measured` ones.
pub fn start_background(
    args: &BackgroundArgs,
    target: &Target,
    accounts: &AccountArgs,
    measured: u64,
) -> Result<Option<LoginLoad>, LoadgenError> {
    if args.background_logins <= 0.0 {
        return Ok(None);
    }
    let spare = u64::from(accounts.accounts).saturating_sub(measured);
    if spare == 0 {
        return Err(LoadgenError::Arg(format!(
            "background sign-ins need accounts beyond the {measured} measured ones: raise --accounts"
        )));
    }
    Ok(Some(LoginLoad::start(
        LoginLoadSpec {
            target: target.clone(),
            accounts: accounts.clone(),
            first_account: measured,
            account_count: spare,
            rate: Some(args.background_logins),
            concurrency: args.background_concurrency as usize,
            max_count: u64::MAX,
        },
        std::sync::Arc::new(Counters::default()),
    )))
}

/// Stops the background load, if any.
pub async fn stop_background(load: Option<LoginLoad>) -> Option<LoginLoadReport> {
    match load {
        Some(l) => Some(l.stop().await),
        None => None,
    }
}

/// Checks that a round of `batch` accounts fits in the accounts file.
pub fn check_batch(batch: u64, accounts: &AccountArgs) -> Result<(), LoadgenError> {
    if batch > u64::from(accounts.accounts) {
        return Err(LoadgenError::Arg(format!(
            "--batch {batch} needs at least that many --accounts (have {})",
            accounts.accounts
        )));
    }
    Ok(())
}

/// `b - a` in microseconds, negative when `b` is earlier.
pub fn signed_us(a: Instant, b: Instant) -> i64 {
    if b >= a {
        (b - a).as_micros() as i64
    } else {
        -((a - b).as_micros() as i64)
    }
}

/// Time since `since` when `at` is later, else zero.
pub fn after(since: Instant, at: Instant) -> Duration {
    at.saturating_duration_since(since)
}
