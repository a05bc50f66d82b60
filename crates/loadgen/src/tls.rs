//! TLS to an `https://` target (loginguard's `--tls-cert/--tls-key`), so the
//! same scenarios can measure what TLS costs. The CA that signed the
//! server's certificate comes from the `LOADGEN_CA` environment variable (a
//! PEM file), read once per process; `idle`'s worker children inherit it.
//! Nothing here decides where traffic goes: `target` does.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::LoadgenError;

/// A connection to a target: plain or TLS.
pub type Stream = tokio_util::either::Either<TcpStream, TlsStream<TcpStream>>;

/// The environment variable naming the CA file.
pub const CA_ENV: &str = "LOADGEN_CA";

/// The process's client configuration (or why there is none), made once.
fn client_config() -> Result<Arc<ClientConfig>, LoadgenError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let path = std::env::var_os(CA_ENV).ok_or_else(|| {
                format!("an https:// target needs {CA_ENV}=<PEM file of the server's CA>")
            })?;
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(&path)
                .map_err(|e| format!("{CA_ENV}={}: {e}", path.to_string_lossy()))?
            {
                let cert = cert.map_err(|e| format!("{CA_ENV}={}: {e}", path.to_string_lossy()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{CA_ENV}={}: {e}", path.to_string_lossy()))?;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
        .map_err(LoadgenError::Arg)
}

/// Runs the TLS handshake on `tcp` for a server certified for `ip`.
pub async fn handshake(tcp: TcpStream, ip: IpAddr) -> Result<Stream, LoadgenError> {
    let connector = TlsConnector::from(client_config()?);
    let tls = connector
        .connect(ServerName::IpAddress(ip.into()), tcp)
        .await?;
    Ok(Stream::Right(tls))
}
