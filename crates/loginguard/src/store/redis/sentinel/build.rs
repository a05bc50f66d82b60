//! Turns `--redis-sentinel` and `--redis-master` into clients: one per
//! Sentinel, and a template for whichever node they name master.
//!
//! Each Sentinel URL carries that Sentinel's own user, password and TLS.
//! `--redis-master` is the master's Sentinel name, or a URL with that name
//! as host carrying the master's user, password, database and TLS; its host
//! is replaced by each address the Sentinels give. Builds only; nothing
//! connects here.

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
    /// `--redis-master` as given (a name or a URL).
    pub fn parse(master: &str, tls: &RedisTls) -> RedisResult<Self> {
        let url = if master.contains("://") {
            master.to_owned()
        } else {
            format!("redis://{master}")
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
