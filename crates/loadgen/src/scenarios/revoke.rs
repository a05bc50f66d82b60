//! `revoke`: `DELETE /api/auth/sessions/{id}` from another session of the same
//! account; time from the request being sent to `force_logout` on the revoked
//! session's socket. The socket may be on one instance and the DELETE sent to
//! another (`--revoke-via`); the server needs `--max-sessions 2` or more.
//!
//! Rounds: sign in a victim session per account, arm its socket, then revoke
//! the victims one at a time, so that each kick is measured on its own.
//! `--idle-background N` holds N more authenticated sockets open on the
//! socket's instance meanwhile (`idle_background`).

use std::time::Instant;

use serde::Serialize;

use super::idle_background::{IdleBackground, IdleBackgroundReport};
use super::kicks::{self, after, Tally};
use super::setup::sign_in_all;
use crate::api;
use crate::background::LoginLoadReport;
use crate::cli::RevokeArgs;
use crate::http::HttpConn;
use crate::progress::Progress;
use crate::stats::{Latency, Summary};
use crate::LoadgenError;

#[derive(Debug, Serialize)]
pub struct RevokeReport {
    pub scenario: &'static str,
    pub socket_target: String,
    pub revoke_target: String,
    #[serde(flatten)]
    pub tally: Tally,
    /// DELETE sent -> `force_logout` read on the revoked socket.
    pub push_latency: Summary,
    /// DELETE sent -> its 204 read.
    pub delete_response: Summary,
    pub elapsed_s: f64,
    pub background: Option<LoginLoadReport>,
    pub idle_background: Option<IdleBackgroundReport>,
}

pub async fn run(a: &RevokeArgs) -> Result<RevokeReport, LoadgenError> {
    let run = &a.run;
    let socket_target = &a.target.target;
    let via = a.revoke_via.as_ref().unwrap_or(socket_target);
    let batch = run.batch.min(run.count);
    kicks::check_batch(batch, &a.accounts)?;
    let revokers = sign_in_all(via, &a.accounts, 0, batch, "loadgen-revoker").await?;
    let mut conn = HttpConn::connect(via).await?;
    let idle = IdleBackground::open(&a.idle, socket_target, &a.accounts, batch).await?;
    let busy_accounts = IdleBackground::accounts_after(&a.idle, batch);
    let background = kicks::start_background(&a.background, via, &a.accounts, busy_accounts)?;

    let mut tally = Tally::default();
    let (mut push, mut delete) = (Latency::new(), Latency::new());
    let started = Instant::now();
    let progress = Progress::start("revoke: kicks", run.count);
    while tally.kicks < run.count && started.elapsed() < run.duration {
        let round = batch.min(run.count - tally.kicks);
        let victims = sign_in_all(socket_target, &a.accounts, 0, round, "loadgen-victim").await?;
        let armed = kicks::arm(socket_target, &victims).await?;
        for ((victim, revoker), waiter) in victims.iter().zip(&revokers).zip(armed) {
            if started.elapsed() >= run.duration {
                waiter.abort();
                continue;
            }
            tally.kicks += 1;
            let sent = Instant::now();
            let res = api::revoke_session(&mut conn, &revoker.token, &victim.session_id).await;
            let answered = Instant::now();
            if let Err(e) = res {
                waiter.abort();
                if matches!(e, LoadgenError::Status { status: 401, .. }) {
                    return Err(LoadgenError::Arg(format!(
                        "the revoking session was signed out ({e}): start the server with --max-sessions 2 or more"
                    )));
                }
                tally.error(e.to_string());
                progress.counters.error();
                continue;
            }
            delete.record(answered - sent);
            let outcome = kicks::outcome(waiter, sent + run.kick_timeout).await;
            if let Some(kick) = tally.settle(outcome, "revoked_by_user", &progress.counters) {
                push.record(after(sent, kick.at));
            }
        }
    }
    drop(progress);
    Ok(RevokeReport {
        scenario: "revoke",
        socket_target: socket_target.to_string(),
        revoke_target: via.to_string(),
        tally,
        push_latency: push.summary(),
        delete_response: delete.summary(),
        elapsed_s: started.elapsed().as_secs_f64(),
        background: kicks::stop_background(background).await,
        idle_background: match idle {
            Some(idle) => Some(idle.close().await),
            None => None,
        },
    })
}
