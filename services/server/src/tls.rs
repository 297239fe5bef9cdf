//! TLS and mutual TLS for the listeners (issue 5), with rustls. The certificate, key and client
//! CA are files (a mounted Kubernetes Secret); when they change the next connection gets the
//! new configuration, without a restart. A broken update keeps the last good configuration.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

use crate::reload::Fingerprint;

/// A handshake slower than this is dropped, so idle sockets cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.cert.clone(), self.key.clone()];
        paths.extend(self.client_ca.clone());
        paths
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("{path} holds no {what}")]
    Missing { what: &'static str, path: String },
    #[error("invalid TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("invalid client CA: {0}")]
    ClientCa(#[from] rustls::server::VerifierBuilderError),
}

fn pem_error(
    what: &'static str,
    path: &Path,
) -> impl FnOnce(rustls::pki_types::pem::Error) -> TlsError {
    let path = path.display().to_string();
    move |e| TlsError::Pem {
        what,
        path,
        reason: e.to_string(),
    }
}

fn read_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem_error(what, path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(what, path))?;
    if certs.is_empty() {
        return Err(TlsError::Missing {
            what,
            path: path.display().to_string(),
        });
    }
    Ok(certs)
}

/// ALPN for gRPC: HTTP/2 only; clients such as grpc-go require ALPN to say so.
pub const ALPN_GRPC: &[&[u8]] = &[b"h2"];
/// ALPN for the webhooks, served over HTTP/1.1.
pub const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1"];

/// Builds a gRPC server configuration from the files as they are now.
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    server_config_for(files, ALPN_GRPC)
}

/// Builds a server configuration offering the `alpn` protocols.
pub fn server_config_for(files: &TlsFiles, alpn: &[&[u8]]) -> Result<ServerConfig, TlsError> {
    let certs = read_certs("certificates", &files.cert)?;
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(pem_error("a private key", &files.key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs("client CA certificates", ca)? {
                roots.add(cert)?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// The current TLS configuration, rebuilt when its files change.
pub struct ReloadingTls {
    files: TlsFiles,
    alpn: &'static [&'static [u8]],
    current: RwLock<(Fingerprint, Arc<ServerConfig>)>,
}

impl ReloadingTls {
    /// For gRPC (HTTP/2).
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        Self::load_for(files, ALPN_GRPC)
    }

    /// For a listener offering the `alpn` protocols (the webhooks: [`ALPN_HTTP1`]).
    pub fn load_for(
        files: TlsFiles,
        alpn: &'static [&'static [u8]],
    ) -> Result<Arc<Self>, TlsError> {
        let fingerprint = Fingerprint::of(&files.paths());
        let config = Arc::new(server_config_for(&files, alpn)?);
        Ok(Arc::new(Self {
            files,
            alpn,
            current: RwLock::new((fingerprint, config)),
        }))
    }

    pub fn config(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
            .clone()
    }

    /// Rebuilds the configuration if a file changed since the last attempt. `Ok(true)` when a
    /// new configuration is in use; on error the previous one stays.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let fingerprint = Fingerprint::of(&self.files.paths());
        {
            let mut current = self
                .current
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if current.0 == fingerprint {
                return Ok(false);
            }
            // Remember the attempt either way: a half-written update is retried when the
            // files change again, not every tick.
            current.0 = fingerprint;
        }
        let config = Arc::new(server_config_for(&self.files, self.alpn)?);
        self.current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1 = config;
        Ok(true)
    }

    /// Checks the files every `every` until the process ends.
    pub fn spawn_watcher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let tls = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match tls.reload_if_changed() {
                    Ok(true) => tracing::info!("TLS certificates reloaded"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "TLS reload failed; keeping the previous certificates")
                    }
                }
            }
        })
    }
}

/// Accepts TCP connections and completes their TLS handshakes off the accept loop, yielding
/// the established streams. Each handshake uses the configuration current at accept time.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<ReloadingTls>,
) -> ReceiverStream<io::Result<TlsStream<TcpStream>>> {
    let (tx, rx) = mpsc::channel(128);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = tx.closed() => break,
                accepted = listener.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // As on plaintext (app.rs): no Nagle delay on small gRPC frames.
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
            let acceptor = TlsAcceptor::from(tls.config());
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
