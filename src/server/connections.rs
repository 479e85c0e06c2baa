//! Accepting and serving connections, with the limits a server facing the
//! internet needs: a header-read timeout (a client that sends half a
//! request line is dropped, not kept for ever), a bound on open
//! connections, and a graceful stop that lets requests in flight finish.
//! Per-request time limits are a layer of the router (`router`), since the
//! change feed's long poll is exempt from them.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower_service::Service;

/// How long a stop waits for requests in flight (a long poll lasts at most
/// a minute).
const DRAIN: Duration = Duration::from_secs(65);

/// Limits on connections.
#[derive(Clone)]
pub struct ConnectionLimits {
    /// Open connections at most; the next waits in the kernel's backlog
    /// until one closes. Each agent's long poll holds one.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (and, with
    /// TLS, to complete its handshake).
    pub header_read_timeout: Duration,
    /// Serve HTTPS with these settings; plain HTTP without.
    pub tls: Option<Arc<super::tls::Tls>>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 8192,
            header_read_timeout: Duration::from_secs(10),
            tls: None,
        }
    }
}

/// Serves `app` on `listener` until `stop` completes, then finishes the
/// requests in flight.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut stop => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let router = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            let mut router = router.clone();
            async move {
                let resp: Result<axum::response::Response, Infallible> =
                    router.call(req.map(axum::body::Body::new)).await;
                resp
            }
        });
        let (watcher, timeout, tls) = (
            graceful.watcher(),
            limits.header_read_timeout,
            limits.tls.as_ref().and_then(|t| t.acceptor()),
        );
        tokio::spawn(async move {
            let http = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .to_owned();
            let served = match tls {
                None => {
                    watcher
                        .watch(http.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                // The handshake has the time a client has for its headers.
                Some(acceptor) => {
                    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            watcher
                                .watch(http.serve_connection(TokioIo::new(tls_stream), service))
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, client = %remote, "TLS handshake failed");
                            Ok(())
                        }
                        Err(_) => {
                            tracing::debug!(client = %remote, "TLS handshake timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, client = %remote, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing requests in flight");
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
    }
    Ok(())
}
