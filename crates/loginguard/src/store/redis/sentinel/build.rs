//! Turns `--redis-sentinel` and `--redis-master` into clients: one per
//! Sentinel, and a template for whichever node they name master.
//!
//! Each Sentinel URL carries that Sentinel's own user, password and TLS.
//! `--redis-master` is the master's Sentinel name, or a URL with that name
//! as host carrying the master's user, password, database and TLS; its host
//! is replaced by each address the Sentinels give. A bare name reaches the
//! master the way the Sentinels are reached (`rediss://` Sentinels, a TLS
//! master), so TLS cannot be lost by leaving the scheme out. Builds only;
//! nothing connects here.

use redis::{
    Client, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisResult,
    TlsCertificates,
};

use super::super::RedisTls;

/// How to reach the master at any address.
pub(super) struct MasterTemplate {
    pub name: String,
    info: ConnectionInfo,
    certs: Option<TlsCertificates>,
}

impl MasterTemplate {
    /// `--redis-master` as given (a name or a URL), beside the
    /// `--redis-sentinel` URLs a bare name takes its scheme from.
    pub fn parse(master: &str, sentinels: &[&str], tls: &RedisTls) -> RedisResult<Self> {
        let url = if master.contains("://") {
            master.to_owned()
        } else {
            format!("{}://{master}", sentinel_scheme(sentinels)?)
        };
        let info = url.as_str().into_connection_info()?;
        let name = match info.addr() {
            ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => host.clone(),
            _ => {
                return Err((
                    ErrorKind::InvalidClientConfig,
                    "--redis-master must name the master as the URL's host",
                )
                    .into())
            }
        };
        Ok(MasterTemplate {
            name,
            certs: tls.certificates_for(&url)?,
            info,
        })
    }

    pub fn db(&self) -> i64 {
        self.info.redis_settings().db()
    }

    /// A client for the master at `host:port`, as the template says.
    pub fn client(&self, (host, port): (String, u16)) -> RedisResult<Client> {
        let addr = match self.info.addr() {
            ConnectionAddr::TcpTls { insecure, .. } => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: *insecure,
                tls_params: None,
            },
            _ => ConnectionAddr::Tcp(host, port),
        };
        let info = self.info.clone().set_addr(addr);
        match &self.certs {
            Some(certs) => Client::build_with_tls(info, certs.clone()),
            None => Client::open(info),
        }
    }
}

/// `rediss` when every Sentinel URL is, `redis` when none is; a mix leaves
/// the master's TLS unsaid, which only a `--redis-master` URL may settle.
fn sentinel_scheme(sentinels: &[&str]) -> RedisResult<&'static str> {
    let tls = sentinels
        .iter()
        .map(|url| {
            url.into_connection_info()
                .map(|info| matches!(info.addr(), ConnectionAddr::TcpTls { .. }))
        })
        .collect::<RedisResult<Vec<bool>>>()?;
    if tls.iter().all(|t| *t) {
        Ok("rediss")
    } else if tls.iter().any(|t| *t) {
        Err((
            ErrorKind::InvalidClientConfig,
            "some --redis-sentinel URLs are rediss:// and some redis://: give --redis-master as a URL (rediss://NAME or redis://NAME) to say how to reach the master",
        )
            .into())
    } else {
        Ok("redis")
    }
}

/// One client per `--redis-sentinel` URL.
pub(super) fn sentinels(urls: &[&str], tls: &RedisTls) -> RedisResult<Vec<Client>> {
    if urls.is_empty() {
        return Err((
            ErrorKind::InvalidClientConfig,
            "at least one --redis-sentinel URL is needed",
        )
            .into());
    }
    urls.iter().map(|url| tls.client(url)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master_addr(master: &str, sentinels: &[&str]) -> RedisResult<ConnectionAddr> {
        let template = MasterTemplate::parse(master, sentinels, &RedisTls::with_ca(Vec::new()))?;
        let client = template.client(("10.0.0.1".to_owned(), 6380))?;
        Ok(client.get_connection_info().addr().clone())
    }

    #[test]
    fn a_bare_name_reaches_the_master_as_the_sentinels_are_reached() {
        let tls = ["rediss://s1:26379", "rediss://u:p@s2:26379"];
        assert!(matches!(
            master_addr("mymaster", &tls).unwrap(),
            ConnectionAddr::TcpTls { ref host, port: 6380, .. } if host == "10.0.0.1"
        ));
        assert!(matches!(
            master_addr("mymaster", &["redis://s1:26379"]).unwrap(),
            ConnectionAddr::Tcp(_, 6380)
        ));
        let mixed = ["rediss://s1:26379", "redis://s2:26379"];
        let refused = master_addr("mymaster", &mixed).unwrap_err();
        assert!(refused.to_string().contains("--redis-master as a URL"));
    }

    #[test]
    fn a_master_url_says_its_own_scheme() {
        let mixed = ["rediss://s1:26379", "redis://s2:26379"];
        assert!(matches!(
            master_addr("rediss://lg:pw@mymaster/0", &mixed).unwrap(),
            ConnectionAddr::TcpTls { .. }
        ));
        assert!(matches!(
            master_addr("redis://mymaster", &["rediss://s1:26379"]).unwrap(),
            ConnectionAddr::Tcp(..)
        ));
    }
}
