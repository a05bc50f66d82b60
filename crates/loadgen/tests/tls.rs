//! loadgen against an `https://` target: the real app in-process with
//! `--tls-cert/--tls-key` (a CA and a certificate for 127.0.0.1 made here
//! with rcgen), `LOADGEN_CA` naming that CA. `validate` over HTTPS and `idle`
//! over WSS run without an error. Its own test binary, because it sets an
//! environment variable that the whole process reads.

mod common;

use common::loadgen;

use loadgen::accounts::{write_users_file, HashCost};
use loginguard::config::Config;
use loginguard::startup::App;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "tls-password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_and_idle_run_over_tls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let (ca_file, cert_file, key_file) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    // SAFETY: the only test of this binary; nothing else runs yet.
    unsafe { std::env::set_var(loadgen::tls::CA_ENV, &ca_file) };

    let users = dir.path().join("users.toml");
    let cheap = HashCost {
        memory_kib: 256,
        iterations: 1,
    };
    write_users_file(&users, "lg", 10, None, PASSWORD, cheap).expect("users file");
    let mut config = Config::defaults();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.http.tls_cert = Some(cert_file);
    config.http.tls_key = Some(key_file);
    config.accounts.users = Some(users);
    config.ws.max_sockets_per_session = 1000;
    let app = App::build(config).await.expect("app builds");
    let url = format!("https://{}", app.local_addr());
    let cancel = CancellationToken::new();
    tokio::spawn(app.run(cancel.clone()));

    let common = ["--target", &url, "--accounts", "10", "--password", PASSWORD];
    let mut args = vec![
        "validate",
        "--count",
        "200",
        "--connections",
        "4",
        "--sessions",
        "2",
    ];
    args.extend(common);
    let validate = loadgen(&args).await;
    assert_eq!(validate["ok"], 200, "{validate}");
    assert_eq!(validate["errors"], 0, "{validate}");
    assert!(
        validate["target"].as_str().unwrap().starts_with("https://"),
        "{validate}"
    );

    let mut args = vec![
        "idle",
        "--count",
        "100",
        "--sessions",
        "2",
        "--hold",
        "50ms",
    ];
    args.extend(common);
    let idle = loadgen(&args).await;
    assert_eq!(idle["opened"], 100, "{idle}");
    assert_eq!(idle["failed"], 0, "{idle}");
    cancel.cancel();
}
