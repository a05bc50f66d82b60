//! A target instance: its URL checked to be on loopback, resolved to an address,
//! and the connections to it, TCP or TLS for `https://` (every HTTP and
//! WebSocket client opens here).
//!
//! This is the only place that decides where traffic may go. Anything that is
//! not 127.0.0.0/8, [::1] or `localhost` is refused before a socket is opened.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use tokio::net::TcpSocket;
use url::{Host, Url};

use crate::tls::{self, Stream};
use crate::LoadgenError;

/// A loginguard instance on loopback, e.g. `http://127.0.0.1:8080`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// `https://`: TLS over the connection (`tls.rs`).
    pub tls: bool,
}

impl Target {
    /// Parses `http://HOST:PORT` or `https://HOST:PORT` (path empty or `/`);
    /// HOST must be loopback.
    pub fn parse(text: &str) -> Result<Target, LoadgenError> {
        let bad = |reason: &str| LoadgenError::BadUrl {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            _ => return Err(bad("the scheme must be http or https")),
        };
        if !(url.path().is_empty() || url.path() == "/") || url.query().is_some() {
            return Err(bad("give the instance's base URL only, without a path"));
        }
        let ip = loopback_host(&url, text)?;
        let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            tls,
        })
    }

    /// The WebSocket URL of this instance.
    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", self.addr)
    }

    /// A TCP connection to this instance, from `source` when given (bound
    /// before connecting: each source address has its own ~28k ephemeral
    /// ports), with Nagle off: every request is small and latency is
    /// measured. TLS is set up on it for an `https://` target.
    pub async fn connect(&self, source: Option<IpAddr>) -> Result<Stream, LoadgenError> {
        let socket = match self.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = socket
            .connect(self.addr)
            .await
            .map_err(|source| LoadgenError::Connect {
                addr: self.addr,
                source,
            })?;
        stream.set_nodelay(true)?;
        if self.tls {
            tls::handshake(stream, self.addr.ip()).await
        } else {
            Ok(Stream::Left(stream))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.addr)
    }
}

impl FromStr for Target {
    type Err = LoadgenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::parse(s)
    }
}

/// The host of `url` (written `text`) when it is on loopback.
fn loopback_host(url: &Url, text: &str) -> Result<IpAddr, LoadgenError> {
    let not_loopback = || LoadgenError::NotLoopback {
        url: text.to_owned(),
    };
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
        // Schemes the URL standard does not know (redis://) keep an address
        // host as text.
        Some(Host::Domain(d)) => d
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| not_loopback())?,
        None => {
            return Err(LoadgenError::BadUrl {
                url: text.to_owned(),
                reason: "no host".to_owned(),
            })
        }
    };
    if ip.is_loopback() {
        Ok(ip)
    } else {
        Err(not_loopback())
    }
}

/// A `redis://` URL whose host is on loopback (what `redis-memory` reads).
pub fn parse_redis_url(text: &str) -> Result<String, LoadgenError> {
    let url = Url::parse(text).map_err(|e| LoadgenError::BadUrl {
        url: text.to_owned(),
        reason: e.to_string(),
    })?;
    if url.scheme() != "redis" {
        return Err(LoadgenError::BadUrl {
            url: text.to_owned(),
            reason: "the scheme must be redis".to_owned(),
        });
    }
    loopback_host(&url, text)?;
    Ok(text.to_owned())
}

/// The `i`-th of `count` loopback source addresses: 127.0.0.1, 127.0.0.2, ...
/// (IPv4 targets only; an IPv6 target always uses ::1).
pub fn source_addr(target: &Target, count: u8, i: u64) -> Option<IpAddr> {
    match target.addr {
        SocketAddr::V4(_) if count > 1 => {
            let last = 1 + (i % u64::from(count)) as u8;
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_accepted() {
        for (url, addr) in [
            ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("http://127.0.0.9:81/", "127.0.0.9:81"),
            ("http://localhost:9000", "127.0.0.1:9000"),
            ("http://[::1]:8080", "[::1]:8080"),
            ("http://127.0.0.1", "127.0.0.1:80"),
        ] {
            let t = Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(t.addr, addr.parse().unwrap(), "{url}");
        }
    }

    #[test]
    fn other_hosts_are_refused_as_not_loopback() {
        for url in [
            "http://10.0.0.1:8080",
            "http://192.168.1.2:8080",
            "http://8.8.8.8",
            "http://example.com:8080",
            "http://[2001:db8::1]:8080",
            "http://0.0.0.0:8080",
        ] {
            let err = Target::parse(url).unwrap_err();
            assert!(
                matches!(err, LoadgenError::NotLoopback { .. }),
                "{url}: {err}"
            );
            assert!(err.to_string().contains("loopback"), "{err}");
        }
    }

    #[test]
    fn https_targets_speak_tls_and_wss() {
        let t = Target::parse("https://127.0.0.1:8443").unwrap();
        assert!(t.tls);
        assert_eq!(t.ws_url(), "wss://127.0.0.1:8443/ws");
        assert_eq!(t.to_string(), "https://127.0.0.1:8443");
        assert!(!Target::parse("http://127.0.0.1:8080").unwrap().tls);
        assert!(Target::parse("ftp://127.0.0.1:21").is_err());
    }

    #[test]
    fn redis_urls_must_be_on_loopback() {
        assert!(parse_redis_url("redis://127.0.0.1:6390/0").is_ok());
        assert!(parse_redis_url("redis://localhost:6390").is_ok());
        let far = parse_redis_url("redis://10.0.0.5:6379").unwrap_err();
        assert!(far.to_string().contains("loopback"), "{far}");
        assert!(parse_redis_url("http://127.0.0.1:6379").is_err());
    }

    #[test]
    fn malformed_urls_are_refused() {
        for url in [
            "127.0.0.1:8080",
            "ws://127.0.0.1:8080",
            "http://127.0.0.1:8080/api",
            "nonsense",
        ] {
            assert!(
                matches!(Target::parse(url), Err(LoadgenError::BadUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn source_addresses_rotate_over_127_0_0_x() {
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(source_addr(&t, 1, 5), None);
        let got: Vec<_> = (0..5).map(|i| source_addr(&t, 3, i).unwrap()).collect();
        let want: Vec<IpAddr> = [
            "127.0.0.1",
            "127.0.0.2",
            "127.0.0.3",
            "127.0.0.1",
            "127.0.0.2",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        assert_eq!(got, want);
        let v6 = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(source_addr(&v6, 4, 1), None);
    }
}
