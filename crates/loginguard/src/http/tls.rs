//! TLS on the listener: HTTPS and WSS on the one port, with rustls.
//!
//! Built by `startup` from `--tls-cert`/`--tls-key`; `serve` runs each
//! accepted connection's handshake through `TlsListener::acceptor`. On each
//! reload request (SIGHUP) the files are read again: new connections get the
//! new certificate, open ones (sockets included) keep theirs. Files that do
//! not load keep the certificate in force (logged), never half of a pair.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::app::ReloadRequests;

/// Why a certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read PEM from {path}")]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path} holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("the certificate and key cannot be used together")]
    Rustls(#[source] rustls::Error),
}

/// The certificate in force and where it comes from.
pub struct TlsListener {
    cert: PathBuf,
    key: PathBuf,
    acceptor: RwLock<TlsAcceptor>,
}

impl TlsListener {
    /// Reads `cert` (PEM chain, leaf first) and `key` (PEM private key).
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let config = server_config(cert, key)?;
        Ok(TlsListener {
            cert: cert.to_owned(),
            key: key.to_owned(),
            acceptor: RwLock::new(TlsAcceptor::from(config)),
        })
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.read().clone()
    }

    /// Reads the files again and puts the new pair in force.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.cert, &self.key)?;
        *self.acceptor.write() = TlsAcceptor::from(config);
        Ok(())
    }

    /// Reloads on each request until `shutdown`.
    pub async fn run_reloads(
        self: Arc<Self>,
        requests: ReloadRequests,
        shutdown: CancellationToken,
    ) {
        requests
            .for_each(shutdown, || match self.reload() {
                Ok(()) => {
                    tracing::info!(target: "audit", cert = %self.cert.display(), "TLS certificate reloaded")
                }
                Err(e) => {
                    tracing::error!(error = ?e, "TLS certificate not reloaded; the one in force stays")
                }
            })
            .await
    }
}

fn pem(path: &Path) -> impl Fn(rustls_pki_types::pem::Error) -> TlsError + '_ {
    move |source| TlsError::Pem {
        path: path.to_owned(),
        source,
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(pem(cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem(cert))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem(key))?;
    // The provider is named, not taken from a process default, so other
    // crates' rustls features cannot change or break it.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Rustls)?;
    // HTTP/1.1 only: WebSockets upgrade over it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
