//! A real nginx in front of the app, for the reverse-proxy tests: its
//! config is written at test time into a temp dir, it runs in the
//! foreground as one process (`daemon off`, `master_process off`, so it
//! stays the test's user), listens on a free loopback port and is killed on
//! drop. A static location is guarded by `auth_request` to
//! `/api/auth/verify`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::redis_server::on_path;

/// The file behind `/private/` and what it says.
pub const PRIVATE_PAGE: &str = "members only\n";

pub struct Nginx {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

fn nginx_binary() -> PathBuf {
    on_path("nginx").unwrap_or_else(|| {
        panic!("`nginx` is not installed: the reverse-proxy tests need a real nginx with auth_request. Install it with `apt-get install -y nginx` (scripts/test does this).")
    })
}

/// The whole config: `/private/` is served from `<dir>/www` to requests that
/// `upstream`'s `/api/auth/verify` answers 200 for.
fn config(dir: &std::path::Path, port: u16, upstream: &str) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /private/ {{
      auth_request /_verify;
      auth_request_set $lg_user $upstream_http_x_loginguard_user;
      add_header X-User $lg_user always;
      alias {d}/www/;
    }}
    location = /_verify {{
      internal;
      proxy_pass http://{upstream}/api/auth/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }}
  }}
}}
"#
    )
}

impl Nginx {
    /// Starts nginx guarding `/private/` with `upstream` (`host:port` of
    /// the app) and waits until it answers; a few ports are tried.
    pub fn start(upstream: &str) -> Nginx {
        let binary = nginx_binary();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir for nginx");
            std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
            std::fs::create_dir_all(dir.path().join("www")).unwrap();
            std::fs::write(dir.path().join("www/index.html"), PRIVATE_PAGE).unwrap();
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port");
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, config(dir.path(), port, upstream)).unwrap();
            let child = Command::new(&binary)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn nginx");
            let mut nginx = Nginx { port, dir, child };
            if nginx.wait_listening() {
                return nginx;
            }
        }
        panic!("nginx did not start on a free port after 5 tries");
    }

    /// True once the port accepts connections; false if nginx died first.
    fn wait_listening(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.path().join("error.log"));
                eprintln!("nginx exited with {status}: {}", log.unwrap_or_default());
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
