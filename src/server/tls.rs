//! TLS for `roster serve` (rustls, with ring as in the agent's client):
//! a certificate chain and key from PEM files, reloaded on SIGHUP so that
//! a renewed certificate (certbot, an internal CA's rotation) takes effect
//! without dropping the agents' connections. A reload that fails keeps the
//! current certificate and says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The server's TLS settings, reloadable.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

/// A server configuration from a PEM certificate chain (leaf first) and
/// a PEM private key (PKCS#8, PKCS#1 or SEC1).
fn config(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the certificate {} is not PEM: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the private key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!(
                "the certificate {} and its key do not make a TLS identity: {e}",
                cert.display()
            )
        })?;
    // The server speaks HTTP/1.1 (hyper's http1 builder).
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

impl Tls {
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Tls>, String> {
        let cfg = config(cert, key)?;
        Ok(Arc::new(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(cfg)),
        }))
    }

    /// An acceptor with the current certificate.
    pub fn acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.current
            .read()
            .ok()
            .map(|c| tokio_rustls::TlsAcceptor::from(Arc::clone(&c)))
    }

    /// Reads the files again; on failure the current certificate stays.
    pub fn reload(&self) -> Result<(), String> {
        let cfg = config(&self.cert, &self.key)?;
        let mut current = self
            .current
            .write()
            .map_err(|_| "the TLS settings are poisoned".to_string())?;
        *current = Arc::new(cfg);
        Ok(())
    }

    /// Reloads on each SIGHUP, for as long as the server runs.
    pub fn reload_on_sighup(self: &Arc<Self>) {
        let tls = Arc::clone(self);
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let Ok(mut hup) = signal(SignalKind::hangup()) else {
                    tracing::warn!("cannot listen for SIGHUP: the certificate is not reloadable");
                    return;
                };
                while hup.recv().await.is_some() {
                    match tls.reload() {
                        Ok(()) => {
                            tracing::info!(cert = %tls.cert.display(), "TLS certificate reloaded")
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "TLS certificate not reloaded; the current one stays")
                        }
                    }
                }
            }
        });
    }
}
