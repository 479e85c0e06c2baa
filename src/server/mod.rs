//! HTTP: the SCIM service under `/scim/{org}`, health and metrics.

mod error;
mod metrics;
mod scim;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use error::{SCIM_CONTENT_TYPE, to_scim};
pub use metrics::Metrics;

use crate::directory::Directory;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub directory: Directory,
    /// Public base URL, without a trailing slash.
    pub public_url: Arc<str>,
    pub metrics: Arc<Metrics>,
}

/// Who made a request, noted by the SCIM handlers for the request log.
#[derive(Debug, Clone)]
pub struct RequestNote {
    pub org: String,
    pub token: String,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/scim/{org}", scim::routes())
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_page))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found: SCIM lives under /scim/{org}\n",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn ready(State(s): State<AppState>) -> Response {
    match s.directory.list_orgs().await {
        Ok(_) => "ready\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

async fn metrics_page(State(s): State<AppState>) -> Response {
    let body = s.metrics.render(s.directory.store().commit_stats());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// One log line and the metrics for every request.
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    s.metrics
        .requests
        .get_or_create(&metrics::RequestLabels {
            route: route.clone(),
            method: method.to_string(),
            status,
        })
        .inc();
    s.metrics
        .latency
        .get_or_create(&metrics::RouteLabels { route })
        .observe(elapsed.as_secs_f64());
    let note = resp.extensions().get::<RequestNote>();
    let err = resp.extensions().get::<error::ErrorNote>();
    let org = note.map(|n| n.org.as_str()).unwrap_or("-");
    let token = note.map(|n| n.token.as_str()).unwrap_or("-");
    let scim_type = err
        .and_then(|e| e.scim_type)
        .map(|t| t.as_str())
        .unwrap_or("-");
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(org, token, %method, path, status, scim_type, latency_ms, detail = err.map(|e| e.detail.as_str()).unwrap_or(""), "request");
    } else {
        tracing::info!(org, token, %method, path, status, scim_type, latency_ms, "request");
    }
    resp
}

/// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
