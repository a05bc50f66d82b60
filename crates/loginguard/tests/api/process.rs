//! The real `loginguard` binary as a child process, for tests that send it
//! signals (SIGTERM, SIGKILL, SIGHUP), read its log or check its command line.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `loginguard serve`, killed on drop.
pub struct Proc {
    pub child: Child,
    pub addr: String,
    /// Every line it wrote to stderr so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `loginguard serve --listen 127.0.0.1:0 <args>` and waits for its
    /// "listening" line to learn the address.
    pub fn serve(args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_loginguard"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn loginguard");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("addr=").nth(1) {
                    if line.contains("loginguard listening") {
                        let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                        let _ = tx.send(addr);
                    }
                }
                kept.lock().expect("log lock").push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("loginguard logs its address when ready");
        Proc { child, addr, log }
    }

    /// Whether a line of its log so far contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .any(|l| l.contains(needle))
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.pid()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{name} failed");
    }

    /// Waits for the process to exit, at most `within`.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `loginguard serve --listen 127.0.0.1:0 <args>`, which must stop by
/// itself (refuse to start) within `within`; returns its status and stderr.
pub fn serve_refused(args: &[&str], within: Duration) -> (ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loginguard"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn loginguard");
    let deadline = Instant::now() + within;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("loginguard serve {args:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary with `args` and `stdin`, returning (status, stdout, stderr).
pub fn run(args: &[&str], stdin: &str) -> (ExitStatus, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_loginguard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn loginguard");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A users file with `names`, all with `password`, hashed with a deliberately
/// cheap argon2id cost so storms of sign-ins stay fast in tests (the cost is
/// read from each stored hash, so production hashes keep theirs).
pub fn cheap_users_file(dir: &Path, names: &[String], password: &str) -> std::path::PathBuf {
    let hash = cheap_hash(password);
    let mut text = String::new();
    for name in names {
        text.push_str(&format!(
            "[[users]]\nusername = {name:?}\npassword_hash = {hash:?}\n\n"
        ));
    }
    text.push_str(&format!(
        "[[users]]\nusername = \"admin\"\npassword_hash = {hash:?}\nadmin = true\n"
    ));
    let path = dir.join("users.toml");
    std::fs::write(&path, text).expect("write users file");
    path
}

/// An argon2id hash of `password` at a deliberately cheap cost.
pub fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(1024, 1, 1, None).expect("argon2 params");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"loginguard-tests").expect("salt");
    argon
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}
