//! `loadgen prototype ...`: the same three measurements (`validate`, `idle`,
//! `kick`) against the Python prototype re-created in `bench/prototype`, so
//! that both designs are measured by one tool in one run.
//!
//! Owns the prototype's command line, its wire calls (`client`) and its three
//! scenarios. It must not change how loginguard itself is measured: nothing
//! outside this module depends on it beyond the `Command::Prototype` hook.

pub(crate) mod client;
mod idle;
mod kick;
mod validate;

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::accounts::AccountArgs;
use crate::cli::{parse_duration, TargetArgs};
use crate::http::HttpConn;
use crate::scenarios::bounded;
use crate::scenarios::setup::{sign_in_each, SetupLogin};
use crate::target::Target;
use crate::LoadgenError;

/// The prototype scenarios.
#[derive(Subcommand, Debug)]
pub enum ProtoCommand {
    /// `GET /api/auth/check-session/{id}` per second over keep-alive connections.
    Validate(ProtoValidateArgs),
    /// N idle WebSockets on `/ws/{id}`, one session each; the server's RSS per socket.
    Idle(ProtoIdleArgs),
    /// Socket on `--target`, duplicate sign-in on `--login-via`: kicks delivered or missed.
    Kick(ProtoKickArgs),
}

#[derive(Args, Clone, Debug)]
pub struct ProtoValidateArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Keep-alive connections, each sending one request after another.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub connections: u64,
    /// Distinct sessions whose ids are checked.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub sessions: u64,
    /// Requests to send at most.
    #[arg(long, default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Stop after this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

#[derive(Args, Clone, Debug)]
pub struct ProtoIdleArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Sockets to open; each gets its own session, so `--accounts` must be at least this.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// The server's pid: its VmRSS is read before and after the sockets open.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// How long to hold every socket open before the "after" RSS sample.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub hold: Duration,
    /// Sockets connecting at the same time.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub connect_concurrency: u64,
    /// Give up opening sockets after this long.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub duration: Duration,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

#[derive(Args, Clone, Debug)]
pub struct ProtoKickArgs {
    /// Instance the old session's socket is on.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Instance the duplicate sign-in goes to [default: --target].
    #[arg(long, value_parser = Target::parse)]
    pub login_via: Option<Target>,
    /// Kicks to attempt.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Sockets armed per round (their kicks are awaited together).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// A kick not seen this long after the round's last sign-in answer is missed.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub kick_timeout: Duration,
    /// Stop after this long.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub duration: Duration,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

/// Runs one prototype scenario under the same hard limit as the others.
pub async fn run(command: ProtoCommand) -> Result<Value, LoadgenError> {
    match command {
        ProtoCommand::Validate(a) => bounded(a.duration, validate::run(&a)).await,
        ProtoCommand::Idle(a) => bounded(a.duration + a.hold, idle::run(&a)).await,
        ProtoCommand::Kick(a) => bounded(a.duration, kick::run(&a)).await,
    }
}

/// The prototype's sign-in; yields the session id.
#[derive(Clone)]
struct PrototypeLogin;

impl SetupLogin for PrototypeLogin {
    type Output = String;
    async fn login(
        &self,
        conn: &mut HttpConn,
        user: String,
        password: String,
    ) -> Result<String, LoadgenError> {
        client::login(conn, &user, &password).await
    }
}

/// Signs in accounts `first .. first + n` on `target`; their session ids in
/// index order. Set-up must fully succeed: the first error ends the run.
async fn sign_in_many(
    target: &Target,
    accounts: &AccountArgs,
    first: u64,
    n: u64,
) -> Result<Vec<String>, LoadgenError> {
    sign_in_each(
        target,
        accounts,
        first,
        n,
        "prototype: signing in",
        PrototypeLogin,
    )
    .await
}

/// Refuses a run that needs more distinct accounts than the server knows.
fn check_accounts(needed: u64, accounts: &AccountArgs) -> Result<(), LoadgenError> {
    if needed > u64::from(accounts.accounts) {
        return Err(LoadgenError::Arg(format!(
            "{needed} distinct sessions need at least that many --accounts (have {}): \
             a second sign-in of one account would kick the first",
            accounts.accounts
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<ProtoCommand, clap::Error> {
        let cli = Cli::try_parse_from(
            ["loadgen", "prototype"]
                .into_iter()
                .chain(args.iter().copied()),
        )?;
        match cli.command {
            Command::Prototype(c) => Ok(c),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn each_prototype_scenario_parses_with_its_defaults() {
        let ProtoCommand::Validate(v) = parse(&["validate"]).unwrap() else {
            panic!("validate")
        };
        assert_eq!((v.connections, v.sessions), (64, 16));
        assert_eq!(v.duration, Duration::from_secs(10));
        let ProtoCommand::Idle(i) = parse(&["idle"]).unwrap() else {
            panic!("idle")
        };
        assert_eq!((i.count, i.server_pid), (1000, None));
        let ProtoCommand::Kick(k) = parse(&["kick"]).unwrap() else {
            panic!("kick")
        };
        assert_eq!((k.count, k.batch), (200, 100));
        assert!(k.login_via.is_none());
        assert_eq!(k.kick_timeout, Duration::from_secs(2));
    }

    #[test]
    fn prototype_flags_reach_their_fields() {
        let ProtoCommand::Kick(k) = parse(&[
            "kick",
            "--target",
            "http://127.0.0.1:9001",
            "--login-via",
            "http://127.0.0.1:9002",
            "--count",
            "50",
            "--kick-timeout",
            "500ms",
            "--accounts",
            "3000",
        ])
        .unwrap() else {
            panic!("kick")
        };
        assert_eq!(k.target.target.addr, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(k.login_via.unwrap().addr, "127.0.0.1:9002".parse().unwrap());
        assert_eq!(k.count, 50);
        assert_eq!(k.kick_timeout, Duration::from_millis(500));
        assert_eq!(k.accounts.accounts, 3000);
        let ProtoCommand::Idle(i) =
            parse(&["idle", "--count", "2000", "--server-pid", "42"]).unwrap()
        else {
            panic!("idle")
        };
        assert_eq!((i.count, i.server_pid), (2000, Some(42)));
    }

    #[test]
    fn prototype_refuses_bad_arguments() {
        for args in [
            &["kick", "--login-via", "http://10.0.0.2:8000"][..],
            &["validate", "--target", "http://example.com:8000"],
            &["idle", "--count", "0"],
            &["kick", "--batch", "0"],
            &["nonsense"],
        ] {
            assert!(parse(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn accounts_must_cover_distinct_sessions() {
        let accounts = AccountArgs {
            user_prefix: "lg".into(),
            accounts: 100,
            password: "p".into(),
        };
        assert!(check_accounts(100, &accounts).is_ok());
        let err = check_accounts(101, &accounts).unwrap_err().to_string();
        assert!(err.contains("--accounts"), "{err}");
    }
}
