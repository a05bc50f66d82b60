//! `kick`: duplicate sign-in. An old session's socket is open; the same
//! account signs in again (`--login-via` may be another instance). Reports
//! when the old socket's `force_logout` arrived relative to the new sign-in's
//! HTTP response (negative = before it), which PROTOCOL.md wants at most 1 ms
//! late. The server's session limit must be 1 (the default).
//!
//! Each new session becomes the next round's old one, so a kick costs one argon2.

use std::time::Instant;

use serde::Serialize;

use super::kicks::{self, after, signed_us, Tally};
use super::setup::sign_in_all;
use crate::api;
use crate::background::LoginLoadReport;
use crate::cli::KickArgs;
use crate::http::HttpConn;
use crate::progress::Progress;
use crate::stats::{Latency, SignedLatency, SignedSummary, Summary};
use crate::LoadgenError;

#[derive(Debug, Serialize)]
pub struct KickReport {
    pub scenario: &'static str,
    pub socket_target: String,
    pub login_target: String,
    #[serde(flatten)]
    pub tally: Tally,
    /// `force_logout` read minus sign-in response read (negative: the kick came first).
    pub kick_minus_response: SignedSummary,
    /// Sign-in sent -> `force_logout` read.
    pub kick_after_request: Summary,
    /// Sign-in sent -> its 200 read (argon2 included).
    pub login_response: Summary,
    pub elapsed_s: f64,
    pub background: Option<LoginLoadReport>,
}

pub async fn run(a: &KickArgs) -> Result<KickReport, LoadgenError> {
    let run = &a.kick.run;
    let socket_target = &a.kick.target.target;
    let via = a.kick.login_target();
    let batch = run.batch.min(run.count);
    kicks::check_batch(batch, &a.accounts)?;
    let mut olds = sign_in_all(socket_target, &a.accounts, 0, batch, "loadgen-old").await?;
    let mut conn = HttpConn::connect(via).await?;
    let background = kicks::start_background(&a.background, via, &a.accounts, batch)?;

    let mut tally = Tally::default();
    let mut diff = SignedLatency::default();
    let (mut from_request, mut login) = (Latency::new(), Latency::new());
    let started = Instant::now();
    let progress = Progress::start("kick: duplicate sign-ins", run.count);
    while tally.kicks < run.count && started.elapsed() < run.duration {
        let round = batch.min(run.count - tally.kicks) as usize;
        let armed = kicks::arm(socket_target, &olds[..round]).await?;
        for (j, waiter) in armed.into_iter().enumerate() {
            if started.elapsed() >= run.duration {
                waiter.abort();
                continue;
            }
            tally.kicks += 1;
            let user = a.accounts.name(j as u64);
            let sent = Instant::now();
            let res = api::login(&mut conn, &user, &a.accounts.password, "loadgen-new").await;
            let answered = Instant::now();
            match res {
                Ok(new) => olds[j] = new,
                Err(e) => {
                    waiter.abort();
                    tally.error(e.to_string());
                    progress.counters.error();
                    continue;
                }
            }
            login.record(answered - sent);
            let outcome = kicks::outcome(waiter, answered + run.kick_timeout).await;
            if let Some(kick) = tally.settle(outcome, "duplicate_login", &progress.counters) {
                diff.record_us(signed_us(answered, kick.at));
                from_request.record(after(sent, kick.at));
            }
        }
    }
    drop(progress);
    Ok(KickReport {
        scenario: "kick",
        socket_target: socket_target.to_string(),
        login_target: via.to_string(),
        tally,
        kick_minus_response: diff.summary(),
        kick_after_request: from_request.summary(),
        login_response: login.summary(),
        elapsed_s: started.elapsed().as_secs_f64(),
        background: kicks::stop_background(background).await,
    })
}
