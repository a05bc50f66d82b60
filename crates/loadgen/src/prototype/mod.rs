//! `loadgen prototype ...`: the same three measurements (`validate`, `idle`,
//! `kick`) against the Python prototype re-created in `bench/prototype`, so
//! that both designs are measured by one tool in one run.
//!
//! Owns the prototype's wire calls (`client`) and where its three scenarios
//! differ from loginguard's, whose arguments, loops and reports they reuse.
//! It must not change how loginguard is measured: outside it, only the
//! `PrototypeId` ways to check a session and to open a socket call `client`.

pub(crate) mod client;
mod idle;
mod kick;
mod validate;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::accounts::AccountArgs;
use crate::cli::{DuplicateLoginArgs, IdleRunArgs, TargetArgs, ValidateArgs};
use crate::http::HttpConn;
use crate::scenarios::bounded;
use crate::scenarios::setup::{sign_in_each, SetupLogin};
use crate::target::Target;
use crate::LoadgenError;

/// The prototype scenarios. They take loginguard's argument groups; the
/// `mut_arg` lines are where the prototype differs: its session check takes
/// an id, it has no background load, it is given fewer concurrent connects
/// and less time to open its sockets, and it awaits a round's kicks together.
#[derive(Subcommand, Debug)]
pub enum ProtoCommand {
    /// `GET /api/auth/check-session/{id}` per second over keep-alive connections.
    #[command(mut_arg("sessions", |a| a.help("Distinct sessions whose ids are checked")))]
    Validate(ValidateArgs),
    /// N idle WebSockets on `/ws/{id}`, one session each; the server's RSS per socket.
    #[command(
        mut_arg("connect_concurrency", |a| a.default_value("128")),
        mut_arg("duration", |a| a.default_value("120s")),
    )]
    Idle(ProtoIdleArgs),
    /// Socket on `--target`, duplicate sign-in on `--login-via`: kicks delivered or missed.
    #[command(
        mut_arg("login_via", |a| {
            a.help("Instance the duplicate sign-in goes to [default: --target]")
        }),
        mut_arg("kick_timeout", |a| {
            a.help("A kick not seen this long after the round's last sign-in answer is missed")
        }),
    )]
    Kick(ProtoKickArgs),
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
    #[command(flatten)]
    pub run: IdleRunArgs,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

#[derive(Args, Clone, Debug)]
pub struct ProtoKickArgs {
    #[command(flatten)]
    pub kick: DuplicateLoginArgs,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

/// Runs one prototype scenario under the same hard limit as the others.
pub async fn run(command: ProtoCommand) -> Result<Value, LoadgenError> {
    match command {
        ProtoCommand::Validate(a) => bounded(a.duration, validate::run(&a)).await,
        ProtoCommand::Idle(a) => bounded(a.run.duration + a.run.hold, idle::run(&a)).await,
        ProtoCommand::Kick(a) => bounded(a.kick.run.duration, kick::run(&a)).await,
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
    use std::time::Duration;

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
        assert_eq!(i.run.connect_concurrency, 128);
        assert_eq!(i.run.duration, Duration::from_secs(120));
        let ProtoCommand::Kick(k) = parse(&["kick"]).unwrap() else {
            panic!("kick")
        };
        assert_eq!((k.kick.run.count, k.kick.run.batch), (200, 100));
        assert!(k.kick.login_via.is_none());
        assert_eq!(k.kick.run.kick_timeout, Duration::from_secs(2));
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
        assert_eq!(k.kick.target.target.addr, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(
            k.kick.login_target().addr,
            "127.0.0.1:9002".parse().unwrap()
        );
        assert_eq!(k.kick.run.count, 50);
        assert_eq!(k.kick.run.kick_timeout, Duration::from_millis(500));
        assert_eq!(k.accounts.accounts, 3000);
        let ProtoCommand::Idle(i) =
            parse(&["idle", "--count", "2000", "--server-pid", "42"]).unwrap()
        else {
            panic!("idle")
        };
        assert_eq!((i.count, i.server_pid), (2000, Some(42)));
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
