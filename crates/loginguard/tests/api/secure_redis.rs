//! Redis the way a careful operator runs it, for tests: TLS with a private
//! CA made at test time (rcgen), the `default` user off, an `admin` user for
//! the harness, and loginguard's user with exactly the ACL rule that
//! docs/redis.md gives (read from that file, so the two cannot drift).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::redis_server::Setup;

/// The harness's own user: everything (stands for the operator).
pub const ADMIN_PASSWORD: &str = "admin-test-password";
/// loginguard's user: the documented rule and nothing more.
pub const LG_USER: &str = "lg";
pub const LG_PASSWORD: &str = "lg-test-password";

/// A throwaway CA and a certificate for 127.0.0.1 and localhost signed by it.
pub struct TestCerts {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCerts {
    pub fn write_to(dir: &Path) -> TestCerts {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "loginguard test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let certs = TestCerts {
            ca: dir.join("ca.pem"),
            cert: dir.join("redis.pem"),
            key: dir.join("redis.key"),
        };
        std::fs::write(&certs.ca, ca.pem()).unwrap();
        std::fs::write(&certs.cert, cert.pem()).unwrap();
        std::fs::write(&certs.key, key.serialize_pem()).unwrap();
        certs
    }

    /// Serves TLS only, with these files; clients need no certificate.
    pub fn apply(&self, setup: &mut Setup) {
        setup.tls = true;
        for (flag, file) in [
            ("--tls-cert-file", &self.cert),
            ("--tls-key-file", &self.key),
            ("--tls-ca-cert-file", &self.ca),
        ] {
            setup.server_args.push(flag.to_owned());
            setup.server_args.push(file.display().to_string());
        }
        setup.server_args.extend(
            [
                "--tls-auth-clients",
                "no",
                "--tls-replication",
                "yes",
                "--tls-cluster",
                "yes",
            ]
            .map(String::from),
        );
        setup
            .cli_args
            .extend(["--tls".to_owned(), "--cacert".to_owned()]);
        setup.cli_args.push(self.ca.display().to_string());
    }
}

/// The `user lg ...` line of docs/redis.md, with the test password.
pub fn documented_rule() -> String {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/redis.md"))
        .expect("docs/redis.md");
    let line = docs
        .lines()
        .find(|l| l.starts_with("user lg on "))
        .expect("docs/redis.md gives the ACL rule as a `user lg on ...` line");
    assert!(
        line.contains(">CHANGE-ME"),
        "the documented rule has a placeholder password: {line}"
    );
    line.replace(">CHANGE-ME", &format!(">{LG_PASSWORD}"))
}

/// Loads an ACL file in `dir`: `default` off, `admin` for the harness, and
/// loginguard's user with the documented rule.
pub fn apply_acl(dir: &Path, setup: &mut Setup) {
    let file = dir.join("users.acl");
    let text = format!(
        "user default off\nuser admin on >{ADMIN_PASSWORD} ~* &* +@all\n{}\n",
        documented_rule()
    );
    std::fs::write(&file, text).unwrap();
    setup.server_args.push("--aclfile".to_owned());
    setup.server_args.push(file.display().to_string());
    setup.cli_args.extend(
        [
            "--user",
            "admin",
            "--pass",
            ADMIN_PASSWORD,
            "--no-auth-warning",
        ]
        .map(String::from),
    );
}

/// `url` (the harness's, no user) with loginguard's user in it.
pub fn as_lg(url: &str) -> String {
    url.replacen("://", &format!("://{LG_USER}:{LG_PASSWORD}@"), 1)
}
