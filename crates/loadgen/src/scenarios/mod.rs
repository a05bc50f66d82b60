//! The scenarios and the one entry point that runs a parsed command.
//!
//! Each scenario module has `run(&Args) -> Result<Report>`; `run` here bounds
//! it with a hard timeout (twice its `--duration` plus set-up time) and turns
//! the report into JSON. Printing is left to the caller.

mod backend_calls;
pub(crate) mod dial;
pub(crate) mod idle;
mod idle_background;
pub(crate) mod idle_sockets;
mod kick;
pub(crate) mod kicks;
mod login;
mod ping_flood;
mod reconnect_storm;
mod redis_memory;
mod redis_work;
mod revoke;
mod revoke_all;
pub(crate) mod rss;
pub(crate) mod setup;
pub(crate) mod validate;
mod webhook_delay;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use crate::accounts::{write_users_file, HashCost};
use crate::cli::Command;
use crate::LoadgenError;
use validate::Check;

/// Set-up (sign-ins, sockets) allowed on top of a scenario's bound.
const SETUP_ALLOWANCE: Duration = Duration::from_secs(120);

/// Runs `command`; `None` for the internal idle worker, which prints its own lines.
pub async fn run(command: Command) -> Result<Option<Value>, LoadgenError> {
    let report = match command {
        Command::Idle(a) => bounded(a.run.duration + a.run.hold, idle::run(&a)).await?,
        Command::Revoke(a) => bounded(a.run.duration, revoke::run(&a)).await?,
        Command::Kick(a) => bounded(a.kick.run.duration, kick::run(&a)).await?,
        Command::Login(a) => bounded(a.duration, login::run(&a)).await?,
        Command::Validate(a) => bounded(a.duration, validate::run(&a, Check::Token)).await?,
        Command::Verify(a) => bounded(a.duration, validate::run(&a, Check::Verify)).await?,
        Command::Introspect(a) => {
            let check = Check::Introspect(a.api_key.into());
            bounded(a.check.duration, validate::run(&a.check, check)).await?
        }
        Command::PingUnderLoginFlood(a) => bounded(a.duration, ping_flood::run(&a)).await?,
        Command::ReconnectStorm(a) => bounded(a.duration, reconnect_storm::run(&a)).await?,
        Command::RedisMemory(a) => bounded(a.duration + a.settle, redis_memory::run(&a)).await?,
        Command::WebhookDelay(a) => bounded(a.duration, webhook_delay::run(&a)).await?,
        Command::RevokeAll(a) => bounded(a.duration + a.kick_timeout, revoke_all::run(&a)).await?,
        Command::Prototype(c) => crate::prototype::run(c).await?,
        Command::Plot(c) => crate::plot::run(&c)?,
        Command::Users(a) => {
            let cost = HashCost {
                memory_kib: a.argon2_memory_kib,
                iterations: a.argon2_iterations,
            };
            let admin = a.admin.as_deref();
            write_users_file(&a.out, &a.user_prefix, a.count, admin, &a.password, cost)?;
            json!({"users": a.count, "user_prefix": a.user_prefix, "admin": a.admin, "out": a.out})
        }
        Command::IdleWorker => {
            idle_sockets::worker_main().await?;
            return Ok(None);
        }
    };
    Ok(Some(report))
}

/// Runs `scenario` under a hard timeout derived from its `--duration`.
pub(crate) async fn bounded<R: Serialize>(
    duration: Duration,
    scenario: impl Future<Output = Result<R, LoadgenError>>,
) -> Result<Value, LoadgenError> {
    let limit = duration * 2 + SETUP_ALLOWANCE;
    let report = tokio::time::timeout(limit, scenario)
        .await
        .map_err(|_| LoadgenError::Timeout("the scenario's hard limit"))??;
    Ok(serde_json::to_value(report)?)
}
