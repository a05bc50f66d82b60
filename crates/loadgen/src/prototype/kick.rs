//! `prototype kick`: duplicate sign-in against the prototype. Each round signs
//! `--batch` accounts in on `--target`, opens their sockets there, signs the
//! same accounts in again on `--login-via` (another instance on the same Redis,
//! or the same one), and counts the `force_logout`s that arrive in time.
//!
//! A round's kicks are awaited together (one `--kick-timeout` per round, not
//! per kick), so a run where every kick is missed still ends quickly.

use std::time::Instant;

use serde::Serialize;

use super::{check_accounts, client, sign_in_many, ProtoKickArgs};
use crate::http::HttpConn;
use crate::progress::Progress;
use crate::scenarios::dial::Dial;
use crate::scenarios::kicks::{self, Outcome};
use crate::stats::{Latency, Summary};
use crate::LoadgenError;

#[derive(Debug, Serialize)]
pub struct ProtoKickReport {
    pub scenario: &'static str,
    pub socket_target: String,
    pub login_target: String,
    /// Duplicate sign-ins made.
    pub kicks: u64,
    /// `force_logout` read on the old session's socket in time.
    pub delivered: u64,
    /// No `force_logout` within the kick timeout.
    pub missed: u64,
    /// Sign-ins that failed, sockets that ended without a kick.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Duplicate sign-in sent -> `force_logout` read (delivered kicks only).
    pub kick_after_request: Summary,
    /// Duplicate sign-in sent -> its 200 read.
    pub login_response: Summary,
    pub elapsed_s: f64,
}

pub async fn run(a: &ProtoKickArgs) -> Result<ProtoKickReport, LoadgenError> {
    let run = &a.kick.run;
    let socket_target = &a.kick.target.target;
    let via = a.kick.login_target();
    let batch = run.batch.min(run.count);
    check_accounts(batch, &a.accounts)?;
    let mut conn = HttpConn::connect(via).await?;
    let mut report = ProtoKickReport {
        scenario: "prototype-kick",
        socket_target: socket_target.to_string(),
        login_target: via.to_string(),
        kicks: 0,
        delivered: 0,
        missed: 0,
        errors: 0,
        first_error: None,
        kick_after_request: Summary::default(),
        login_response: Summary::default(),
        elapsed_s: 0.0,
    };
    let (mut from_request, mut login) = (Latency::new(), Latency::new());
    let started = Instant::now();
    while report.kicks < run.count && started.elapsed() < run.duration {
        let round = batch.min(run.count - report.kicks);
        let first = report.kicks;
        let olds = sign_in_many(socket_target, &a.accounts, first, round).await?;
        let armed = kicks::arm_each(
            socket_target,
            Dial::PrototypeId,
            olds,
            client::await_force_logout,
        )
        .await?;
        let progress = Progress::start("prototype kick: duplicate sign-ins", round);
        let mut sent_at = Vec::with_capacity(armed.len());
        let mut last_answer = Instant::now();
        for j in 0..round {
            report.kicks += 1;
            let user = a.accounts.name(first + j);
            let sent = Instant::now();
            let res = client::login(&mut conn, &user, &a.accounts.password).await;
            last_answer = Instant::now();
            match res {
                Ok(_) => {
                    login.record(last_answer - sent);
                    sent_at.push(Some(sent));
                }
                Err(e) => {
                    report.errors += 1;
                    report.first_error.get_or_insert(e.to_string());
                    progress.counters.error();
                    sent_at.push(None);
                }
            }
        }
        let deadline = last_answer + run.kick_timeout;
        for (waiter, sent) in armed.into_iter().zip(sent_at) {
            let Some(sent) = sent else {
                waiter.abort();
                continue;
            };
            match kicks::outcome(waiter, deadline).await {
                Outcome::Seen(at) => {
                    report.delivered += 1;
                    from_request.record(at.saturating_duration_since(sent));
                    progress.counters.done();
                }
                Outcome::Failed(e) => {
                    report.errors += 1;
                    report.first_error.get_or_insert(e);
                    progress.counters.error();
                }
                Outcome::Missed => {
                    report.missed += 1;
                    progress.counters.error();
                }
            }
        }
    }
    report.kick_after_request = from_request.summary();
    report.login_response = login.summary();
    report.elapsed_s = started.elapsed().as_secs_f64();
    Ok(report)
}
