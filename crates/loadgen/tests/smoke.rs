//! Smoke run: the real loginguard app in-process on 127.0.0.1:0 (memory
//! store, a users file from `loadgen users`), and tiny `idle`, `revoke`,
//! `kick`, `validate`, `verify` and `introspect` runs against it through the
//! same entry point as the binary.
//!
//! It checks correctness only (every socket opens, no kick is missed, the
//! figures are present), never speed: CI shares 2 cores.

mod common;

use common::loadgen;

use loadgen::accounts::{write_users_file, HashCost};
use loginguard::auth::{new_key, Scope};
use loginguard::config::Config;
use loginguard::startup::App;
use tokio_util::sync::CancellationToken;

/// A cheap hash: this test measures nothing, and argon2 at full cost would dominate it.
const CHEAP: HashCost = HashCost {
    memory_kib: 256,
    iterations: 1,
};
const PASSWORD: &str = "smoke-password";
const ACCOUNTS: u32 = 30;

/// A running app; dropping it stops the app.
struct Server {
    url: String,
    /// An API key with the `introspect` scope.
    api_key: String,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn start_server(max_sessions: u32) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let users = dir.path().join("users.toml");
    write_users_file(&users, "lg", ACCOUNTS, None, PASSWORD, CHEAP).expect("users file");
    let key = new_key("loadgen", &[Scope::Introspect]).expect("an API key");
    let keys = dir.path().join("api-keys.toml");
    std::fs::write(&keys, &key.entry).expect("keys file");
    let mut config = Config::defaults();
    config.accounts.api_keys = Some(keys);
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.accounts.users = Some(users);
    config.session.max_sessions = max_sessions;
    // `idle` spreads its sockets over a few sessions, many per session.
    config.ws.max_sockets_per_session = 1000;
    let app = App::build(config).await.expect("app builds");
    let url = format!("http://{}", app.local_addr());
    let cancel = CancellationToken::new();
    tokio::spawn(app.run(cancel.clone()));
    Server {
        url,
        api_key: key.secret.to_string(),
        cancel,
        _dir: dir,
    }
}

fn common<'a>(url: &'a str, accounts: &'a str) -> [&'a str; 6] {
    [
        "--target",
        url,
        "--accounts",
        accounts,
        "--password",
        PASSWORD,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_revoke_and_kick_runs_report_figures_and_miss_nothing() {
    let server = start_server(2).await;
    let accounts = ACCOUNTS.to_string();
    let pid = std::process::id().to_string();
    let common = common(&server.url, &accounts);

    let mut args = vec![
        "idle",
        "--count",
        "500",
        "--sessions",
        "5",
        "--sources",
        "2",
    ];
    args.extend(["--hold", "100ms", "--server-pid", &pid]);
    args.extend(common);
    let idle = loadgen(&args).await;
    assert_eq!(idle["opened"], 500, "{idle}");
    assert_eq!(idle["failed"], 0, "{idle}");
    assert_eq!(idle["dropped"], 0, "{idle}");
    assert_eq!(idle["connect"]["count"], 500, "{idle}");
    assert!(
        idle["server_rss"]["after_bytes"].as_u64().unwrap() > 0,
        "{idle}"
    );

    let mut args = vec!["revoke", "--count", "50", "--batch", "25"];
    args.extend([
        "--idle-background",
        "200",
        "--idle-background-sessions",
        "4",
    ]);
    args.extend(common);
    let revoke = loadgen(&args).await;
    assert_eq!(revoke["idle_background"]["opened"], 200, "{revoke}");
    assert_eq!(revoke["idle_background"]["dropped"], 0, "{revoke}");
    assert_eq!(revoke["kicks"], 50, "{revoke}");
    assert_eq!(revoke["delivered"], 50, "{revoke}");
    assert_eq!(revoke["missed"], 0, "{revoke}");
    assert_eq!(revoke["wrong"], 0, "{revoke}");
    assert_eq!(revoke["push_latency"]["count"], 50, "{revoke}");
    assert!(
        revoke["push_latency"]["p99_us"].as_u64().unwrap() > 0,
        "{revoke}"
    );
    drop(server);

    let server = start_server(1).await;
    let common = self::common(&server.url, &accounts);
    let mut args = vec!["kick", "--count", "10", "--batch", "5"];
    args.extend(common);
    let kick = loadgen(&args).await;
    assert_eq!(kick["delivered"], 10, "{kick}");
    assert_eq!(kick["missed"], 0, "{kick}");
    assert_eq!(kick["kick_minus_response"]["count"], 10, "{kick}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_token_checks_run_without_errors() {
    let server = start_server(1).await;
    let accounts = ACCOUNTS.to_string();
    let common = common(&server.url, &accounts);
    let bounds = ["--count", "200", "--connections", "4", "--sessions", "3"];
    for check in [
        &["validate"][..],
        &["verify"],
        &["introspect", "--api-key", &server.api_key],
    ] {
        let mut args = check.to_vec();
        args.extend(bounds);
        args.extend(common);
        let report = loadgen(&args).await;
        assert_eq!(report["scenario"], check[0], "{report}");
        assert_eq!(report["ok"], 200, "{report}");
        assert_eq!(report["errors"], 0, "{report}");
        assert_eq!(report["latency"]["count"], 200, "{report}");
    }
}
