//! `RedisTls`: what `rediss://` connections trust.
//!
//! With `--redis-ca` the servers' certificates must chain to that CA; without
//! it, to the system's trust store. Plain `redis://` URLs ignore it. Every
//! Redis client the app builds (store, cluster, Sentinel, event bus) is made
//! here or takes `certificates_for` from here; nothing here connects.

use redis::{Client, ConnectionAddr, IntoConnectionInfo, RedisResult, TlsCertificates};

/// Cheap to clone: the CA bundle is a few kilobytes of PEM.
#[derive(Clone, Default)]
pub struct RedisTls {
    ca_pem: Option<Vec<u8>>,
}

impl RedisTls {
    /// Trust the system's roots only.
    pub fn system_roots() -> Self {
        RedisTls::default()
    }

    /// Trust the CA certificates in `pem` (and not the system's roots).
    pub fn with_ca(pem: Vec<u8>) -> Self {
        RedisTls { ca_pem: Some(pem) }
    }

    /// A client for `url`.
    pub fn client(&self, url: &str) -> RedisResult<Client> {
        match self.certificates_for(url)? {
            Some(certs) => Client::build_with_tls(url, certs),
            None => Client::open(url),
        }
    }

    /// The certificates to hand redis-rs for `url`: only a `rediss://` URL
    /// with a CA configured needs any.
    pub fn certificates_for(&self, url: &str) -> RedisResult<Option<TlsCertificates>> {
        let tls = matches!(
            url.into_connection_info()?.addr(),
            ConnectionAddr::TcpTls { .. }
        );
        Ok(self
            .ca_pem
            .as_ref()
            .filter(|_| tls)
            .map(|pem| TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.clone()),
            }))
    }
}
