//! The settings tree against its sources: defaults, file, env and flags.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

fn file_with(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lg.toml");
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap().to_owned();
    (dir, path)
}

#[test]
fn defaults_match_the_protocol() {
    let c = Config::defaults();
    assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
    assert!(matches!(c.store.backend(), StoreBackend::Memory));
    assert_eq!(c.session.max_sessions, 1);
    assert_eq!(c.session.on_limit, OnLimit::KickOldest);
    assert_eq!(c.session.idle_timeout, Duration::from_secs(1800));
    assert_eq!(c.session.absolute_lifetime, Duration::from_secs(12 * 3600));
    assert_eq!(c.ws.idle_timeout, Duration::from_secs(90));
    assert_eq!(c.ws.write_timeout, Duration::from_secs(10));
    assert_eq!(c.ws.max_sockets_per_session, 16);
    assert_eq!(c.limits.rate_limit_ip, 50);
    assert!(!c.http.trust_forwarded_for);
}

#[test]
fn help_shows_the_real_defaults() {
    let help = ServeArgs::command().render_long_help().to_string();
    for shown in [
        "[default: 127.0.0.1:8080]",
        "[default: 30m]",
        "[default: kick_oldest]",
        "[default: 90s]",
        "LOGINGUARD_MAX_SESSIONS",
    ] {
        assert!(help.contains(shown), "--help shows {shown}");
    }
}

#[test]
fn flags_override_the_file_which_overrides_defaults() {
    let (_dir, path) =
        file_with("max_sessions = 2\non_limit = \"deny_new\"\nidle_timeout = \"10m\"\n");
    let c = Config::load(["--config", &path, "--max-sessions", "3"]).unwrap();
    assert_eq!(c.session.max_sessions, 3, "flag wins over file");
    assert_eq!(
        c.session.on_limit,
        OnLimit::DenyNew,
        "file wins over default"
    );
    assert_eq!(c.session.idle_timeout, Duration::from_secs(600));
    assert_eq!(c.session.lifetimes().touch_after, Duration::from_secs(60));
}

#[test]
fn bad_values_name_the_setting() {
    let cases: [(&[&str], &str); 7] = [
        (&["--max-sessions", "0"], "max_sessions"),
        (&["--on-limit", "sometimes"], "on_limit"),
        (&["--idle-timeout", "soon"], "idle_timeout"),
        (&["--ws-auth-timeout", "300000000000y"], "ws_auth_timeout"),
        (&["--listen", "nowhere"], "listen"),
        (&["--redis", "http://x"], "redis"),
        (&["--device-cookie-key", "short"], "device_cookie_key"),
    ];
    for (args, setting) in cases {
        let err = Config::load(args.iter().copied()).unwrap_err().to_string();
        assert!(err.contains(setting), "{err}");
    }
    let err = Config::load(["--max-sessions", "0"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least 1"), "{err}");
}

#[test]
fn a_bad_value_in_the_file_names_the_file_and_the_setting() {
    let (_dir, path) = file_with("on_limit = \"sometimes\"\n");
    let err = Config::load(["--config", &path]).unwrap_err().to_string();
    assert!(err.contains("on_limit") && err.contains("lg.toml"), "{err}");
}

#[test]
fn redis_urls_are_secrets() {
    let c = Config::load(["--redis", "redis://:s3cret@127.0.0.1:6379/0"]).unwrap();
    assert!(!format!("{c:?}").contains("s3cret"));
    match c.store.backend() {
        StoreBackend::Redis(url) => assert!(url.expose_secret().contains("s3cret")),
        _ => panic!("redis expected"),
    }
    let err = Config::load(["--redis", "redis://:s3cret@[::1:bad/0"])
        .unwrap_err()
        .to_string();
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn the_device_cookie_key_is_a_secret() {
    let key = "k3y-".repeat(8);
    let c = Config::load(["--device-cookie-key", &key]).unwrap();
    assert!(!format!("{c:?}").contains(&key));
    let given = c
        .limits
        .device_cookie_key
        .as_ref()
        .map(|k| k.expose_secret());
    assert_eq!(given, Some(key.as_str()));
    let err = Config::load(["--device-cookie-key", "sh0rt-s3cret"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("at least 32 bytes") && !err.contains("s3cret"),
        "{err}"
    );
}

#[test]
fn redis_and_cluster_exclude_each_other() {
    let err = Config::load([
        "--redis",
        "redis://127.0.0.1:1",
        "--redis-cluster",
        "redis://127.0.0.1:2",
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("redis"), "{err}");
}

#[test]
fn lists_in_the_file_may_be_comma_separated() {
    let (_dir, path) = file_with("allowed_origins = \"https://a.example, https://b.example\"\nredis_cluster = [\"redis://127.0.0.1:7000\"]\ntrust_forwarded_for = true\n");
    let c = Config::load(["--config", &path]).unwrap();
    assert_eq!(
        c.http.allowed_origins,
        vec!["https://a.example", "https://b.example"]
    );
    assert!(matches!(c.store.backend(), StoreBackend::Cluster(nodes) if nodes.len() == 1));
    assert!(c.http.trust_forwarded_for);
}

#[test]
fn unknown_keys_in_the_file_are_refused() {
    let (_dir, path) = file_with("listen = \"127.0.0.1:1\"\nmax_sesions = 2\n");
    let err = Config::load(["--config", &path]).unwrap_err().to_string();
    assert!(
        err.contains("max_sesions") && err.contains("line 2"),
        "{err}"
    );
    let (_dir, path) = file_with("config = \"other.toml\"\n");
    assert!(Config::load(["--config", &path]).is_err());
}

#[test]
fn a_missing_file_is_an_error() {
    let err = Config::load(["--config", "/nonexistent/lg.toml"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/lg.toml"), "{err}");
}

#[test]
fn trust_forwarded_for_works_as_a_switch() {
    assert!(
        Config::load(["--trust-forwarded-for"])
            .unwrap()
            .http
            .trust_forwarded_for
    );
    assert!(
        !Config::load(["--trust-forwarded-for=false"])
            .unwrap()
            .http
            .trust_forwarded_for
    );
}

#[test]
fn sentinel_needs_a_master_and_excludes_the_other_stores() {
    let sentinels = "redis://127.0.0.1:26379,redis://127.0.0.1:26380";
    let c = Config::load(["--redis-sentinel", sentinels, "--redis-master", "mymaster"]).unwrap();
    assert!(matches!(
        c.store.backend(),
        StoreBackend::Sentinel { sentinels, master }
            if sentinels.len() == 2 && master.expose_secret() == "mymaster"
    ));
    let refused: [&[&str]; 4] = [
        &["--redis-sentinel", sentinels],
        &["--redis-master", "mymaster"],
        &[
            "--redis-sentinel",
            sentinels,
            "--redis-master",
            "m",
            "--redis",
            "redis://127.0.0.1:1",
        ],
        &[
            "--redis-sentinel",
            sentinels,
            "--redis-master",
            "m",
            "--redis-cluster",
            "redis://127.0.0.1:1",
        ],
    ];
    for args in refused {
        assert!(Config::load(args.iter().copied()).is_err(), "{args:?}");
    }
}

#[test]
fn class_limits_come_from_flag_env_or_file_and_refuse_zero() {
    assert!(Config::defaults().session.class_limits.is_empty());
    let c = Config::load(["--class-limits", "web=1,mobile=2"]).unwrap();
    assert_eq!(c.session.class_limits.to_string(), "mobile=2,web=1");
    assert_eq!(c.session.policy().class_limits, c.session.class_limits);
    let (_dir, path) = file_with("class_limits = \"web=1\"\n");
    let c = Config::load(["--config", &path]).unwrap();
    assert_eq!(c.session.class_limits.to_string(), "web=1");
    for bad in ["web=0", "web", "Web=1"] {
        assert!(Config::load(["--class-limits", bad]).is_err(), "{bad}");
    }
}

#[test]
fn stale_after_defaults_to_ten_minutes_and_zero_turns_it_off() {
    let c = Config::defaults();
    assert_eq!(c.session.stale_after, Duration::from_secs(600));
    assert_eq!(
        c.session.policy().stale_after,
        Some(Duration::from_secs(600))
    );
    let off = Config::load(["--stale-after", "0"]).unwrap();
    assert_eq!(off.session.policy().stale_after, None);
    // Never below three touch intervals: a pinging page must not look stale.
    let short = Config::load(["--stale-after", "10s", "--touch-interval", "60s"]).unwrap();
    assert_eq!(
        short.session.policy().stale_after,
        Some(Duration::from_secs(180))
    );
    assert!(Config::load(["--stale-after", "soon"]).is_err());
}
