//! `login`: password sign-ins per second from `--concurrency` keep-alive
//! connections, round-robin over the benchmark accounts. argon2 bounds it.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::background::{LoginLoad, LoginLoadReport, LoginLoadSpec};
use crate::cli::LoginArgs;
use crate::progress::Progress;
use crate::LoadgenError;

#[derive(Debug, Serialize)]
pub struct LoginReport {
    pub scenario: &'static str,
    pub target: String,
    pub accounts: u32,
    #[serde(flatten)]
    pub load: LoginLoadReport,
}

pub async fn run(a: &LoginArgs) -> Result<LoginReport, LoadgenError> {
    let progress = Progress::start("login: sign-ins", a.count);
    let load = LoginLoad::start(
        LoginLoadSpec {
            target: a.target.target.clone(),
            accounts: a.accounts.clone(),
            first_account: 0,
            account_count: u64::from(a.accounts.accounts),
            rate: None,
            concurrency: a.concurrency as usize,
            max_count: a.count,
        },
        progress.counters.clone(),
    );
    let started = Instant::now();
    while !load.finished() && started.elapsed() < a.duration {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let load = load.stop().await;
    Ok(LoginReport {
        scenario: "login",
        target: a.target.target.to_string(),
        accounts: a.accounts.accounts,
        load,
    })
}
