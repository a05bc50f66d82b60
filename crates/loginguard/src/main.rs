//! The `loginguard` binary: parses the command line and nothing else.
//!
//! `serve` hands a `Config` to `startup::App`, cancels it on Ctrl-C or
//! SIGTERM and asks it to reload on SIGHUP (the only place signals are
//! read); `hash-password` prints an argon2id hash of a password read from
//! stdin; `api-key new` prints a fresh API key and its keys-file entry;
//! `audit` prints a Redis store's audit trail as JSON lines (and follows it).
//! clap parses once here for
//! `--help` and usage errors; `Config::load` then reads `serve`'s arguments
//! together with the environment and the `--config` file. The allocator is
//! the system's unless built with `dhat-heap` (`allocator`).

mod allocator {
    //! The binary's heap profile, when built with `--features dhat-heap`.
    //!
    //! The feature swaps in dhat's profiling allocator and writes
    //! `dhat-heap-PID.json` (live bytes per allocation site at the heap's peak)
    //! when `serve` returns; `scripts/dhat-sites` reads it. That is how the bytes
    //! per idle socket in BENCHMARKS.md were found. Without the feature this is
    //! the system allocator and a no-op. Only `main` uses it; nothing here knows
    //! the app.

    #[cfg(feature = "dhat-heap")]
    #[global_allocator]
    static ALLOC: dhat::Alloc = dhat::Alloc;

    /// Keep it alive for as long as the heap should be profiled; dropping it
    /// writes the profile. Empty without the `dhat-heap` feature.
    pub struct HeapProfile {
        #[cfg(feature = "dhat-heap")]
        _profiler: dhat::Profiler,
    }

    /// Starts the heap profile (with the `dhat-heap` feature; nothing otherwise).
    pub fn profile() -> HeapProfile {
        HeapProfile {
            // One file per process: a benchmark runs several instances in one directory.
            #[cfg(feature = "dhat-heap")]
            _profiler: dhat::Profiler::builder()
                .file_name(format!("dhat-heap-{}.json", std::process::id()))
                .build(),
        }
    }
}

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use loginguard::app::{list_audit, ListError, Listing};
use loginguard::auth::Scope;
use loginguard::config::{AuditArgs, Config, ServeArgs};
use loginguard::domain::{AuditEntry, Username};
use loginguard::http::AuditEntryView;
use loginguard::startup::{self, App, ReloadHandle};
use std::ffi::OsString;

#[derive(Parser)]
#[command(
    name = "loginguard",
    version,
    about = "One account, one active session, enforced in real time."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default when no command is given).
    Serve(Box<ServeArgs>),
    /// Read a password from stdin and print its argon2id hash for the users file.
    HashPassword,
    /// Check the settings (flags, env, `--config` file) and every file they
    /// name, without starting; exits non-zero with the line and the reason.
    CheckConfig(Box<ServeArgs>),
    /// API keys of trusted backends (`/api/v1`).
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Print the audit trail of a Redis store as JSON lines, newest first
    /// (with --follow: oldest first, then new entries as they come).
    Audit(Box<AuditArgs>),
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Print a fresh key (shown this once) and the entry to paste into the
    /// --api-keys file, which keeps only the key's SHA-256.
    New {
        /// The key's name, shown in logs instead of the key (A-Z, a-z, 0-9, '.', '_', '-').
        name: String,
        /// What the key may do, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "sessions,introspect", value_parser = scope)]
        scopes: Vec<Scope>,
    },
}

fn scope(raw: &str) -> Result<Scope, String> {
    Scope::parse(raw).ok_or_else(|| "expected sessions or introspect".to_owned())
}

fn main() -> ExitCode {
    // `serve`'s (and `check-config`'s) own arguments: everything after the
    // subcommand's name.
    let own_args = || std::env::args_os().skip(2).collect();
    match Cli::try_parse() {
        Ok(Cli { command }) => match command {
            Some(Command::HashPassword) => hash_password(),
            Some(Command::ApiKey(ApiKeyCommand::New { name, scopes })) => {
                new_api_key(&name, &scopes)
            }
            Some(Command::CheckConfig(_)) => check_config(own_args()),
            Some(Command::Audit(args)) => audit(*args),
            Some(Command::Serve(_)) | None => serve(own_args()),
        },
        // A bad setting value: `Config::load` names the setting and its source.
        Err(e) if !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            match std::env::args_os().nth(1) {
                Some(sub) if sub == "serve" => serve(own_args()),
                Some(sub) if sub == "check-config" => check_config(own_args()),
                _ => e.exit(),
            }
        }
        Err(e) => e.exit(),
    }
}

fn hash_password() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("error: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    let password = input.strip_suffix('\n').unwrap_or(&input);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        eprintln!("error: empty password");
        return ExitCode::FAILURE;
    }
    match loginguard::auth::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn new_api_key(name: &str, scopes: &[Scope]) -> ExitCode {
    match loginguard::auth::new_key(name, scopes) {
        Ok(key) => {
            println!("{}\n\n{}", key.secret, key.entry);
            eprintln!("The key (first line) is shown only now: give it to the backend. Paste the entry into the --api-keys file and send SIGHUP.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn audit(args: AuditArgs) -> ExitCode {
    loginguard::telemetry::init("warn");
    let username = match args.username.as_deref().map(Username::parse).transpose() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: --username: {e}");
            return ExitCode::from(2);
        }
    };
    let listing = Listing {
        username,
        limit: usize::from(args.limit),
        follow: args.follow,
        // Each read must come back before the connection's timeout.
        block: (args.store.redis_timeout / 2).min(Duration::from_secs(1)),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The connection spawns its driver task: it is made inside the runtime.
    let _runtime = runtime.enter();
    let store = match startup::audit_store(&args.store) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    let print = |entry: &AuditEntry| {
        let line = serde_json::to_string(&AuditEntryView::from(entry))?;
        writeln!(stdout, "{line}")?;
        stdout.flush()
    };
    let listed = runtime.block_on(async {
        tokio::select! {
            listed = list_audit(&store, &listing, print) => listed,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    });
    match listed {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): nothing more to say.
        Err(ListError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(args: Vec<OsString>) -> ExitCode {
    let checked = Config::load(args)
        .map_err(|e| e.to_string())
        .and_then(|config| startup::check_config(&config).map_err(|e| e.to_string()));
    match checked {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: Vec<OsString>) -> ExitCode {
    let _heap = allocator::profile();
    loginguard::telemetry::init("info,tower_http=warn");
    let config = match Config::load(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        // Listening before the build: SIGHUP's default action ends the process.
        let hangups = hangup_signals();
        let app = match App::build(config).await {
            Ok(app) => app,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        tokio::spawn(reload_on_hangup(hangups, app.reload_handle()));
        match app.run(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    token.cancel();
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

/// SIGHUP's stream; while it exists the signal no longer ends the process.
fn hangup_signals() -> Hangups {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::hangup())
            .inspect_err(
                |e| tracing::warn!(error = %e, "cannot listen for SIGHUP; reloads are off"),
            )
            .ok()
    }
}

/// Turns each SIGHUP into a reload request (the app folds bursts into one).
async fn reload_on_hangup(hangups: Hangups, reload: ReloadHandle) {
    #[cfg(unix)]
    if let Some(mut hangups) = hangups {
        while hangups.recv().await.is_some() {
            tracing::info!(
                "SIGHUP: reloading the users file, the API keys and the TLS certificate"
            );
            reload.request();
        }
    }
    #[cfg(not(unix))]
    let _ = (hangups, reload);
}
