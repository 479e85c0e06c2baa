//! HTTP: the SCIM service under `/scim/{org}`, sign-in under `/accounts`,
//! the cluster API and maps, health and metrics.

mod addr_allow;
mod admin_api;
pub mod agents_seen;
mod callers;
mod connections;
mod console;
mod error;
mod feed;
mod form_body;
mod metrics;
mod nss_http;
mod provisioning_log;
mod rate_limit;
mod scim;
pub mod scim_render;
mod sign_in;
pub mod tls;
pub use provisioning_log::log_entry;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use addr_allow::AddrRange;
pub use connections::ConnectionLimits;
pub use console::{RouteAccess, route_table as console_route_table};
pub use error::SCIM_CONTENT_TYPE;
pub use feed::LongPolls;
pub use metrics::Metrics;

use crate::directory::Directory;
use crate::directory::scim_log::{ScimLogEntry, ScimLogRecorder};
use crate::scim::redact::{MAX_LOGGED_BODY, cut, redacted_body};

use crate::scim::resource::format_time;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub directory: Directory,
    /// Public base URL, without a trailing slash.
    pub public_url: Arc<str>,
    pub metrics: Arc<Metrics>,
    pub scim_log: ScimLogRecorder,
    /// How long a browser session lasts.
    pub session_lifetime: std::time::Duration,
    /// How long any request but the change feed's long poll may take.
    pub request_timeout: std::time::Duration,
    /// Sign-in starts per client address.
    pub sign_in_starts: Arc<rate_limit::RateLimit>,
    /// What each node's agent last said it has applied (the console).
    pub agents_seen: Arc<agents_seen::AgentsSeen>,
    /// Proxies in front of Roster whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// Whole snapshots as sent, compressed once for all the nodes.
    pub snapshot_bodies: Arc<feed::SnapshotBodies>,
    /// Fetches IdP metadata for the console's Metadata URL, under the
    /// operator's `--metadata-allow-private` (docs/security.md).
    pub metadata_fetcher: Arc<crate::idp_metadata::Fetcher>,
    /// Client addresses `/metrics` answers (`--metrics-allow`).
    pub metrics_allow: Arc<[AddrRange]>,
    /// The change feed's long polls held, and their caps.
    pub long_polls: Arc<LongPolls>,
}

/// The client's address: the connection's peer, or, when the peer is a
/// trusted proxy, the last address in `X-Forwarded-For` that is not one
/// (each proxy appends the address it was reached from, so only the
/// right end of the list is to be believed).
pub(crate) fn client_address(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

/// Where a request came from, for the audit trail: the client's address
/// (behind a trusted proxy, from `X-Forwarded-For`).
pub(crate) fn request_origin(parts: &axum::http::request::Parts, state: &AppState) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| client_address(c.0.ip(), &parts.headers, &state.trusted_proxies).to_string())
        .unwrap_or_default()
}

/// Sign-in starts a client address may make at once, and how often it
/// regains one: a person needs a few, a flood gets 429.
pub fn sign_in_start_limit() -> Arc<rate_limit::RateLimit> {
    Arc::new(rate_limit::RateLimit::new(
        20,
        std::time::Duration::from_secs(3),
    ))
}

/// Who made a request, noted by the SCIM handlers for the request log.
#[derive(Debug, Clone)]
pub struct RequestNote {
    pub org_id: String,
    pub org: String,
    /// The token's name; `None` when no valid token came with the request.
    pub token: Option<String>,
    /// The body, read after the token was checked; the provisioning log
    /// keeps it with secrets removed.
    pub body: Option<axum::body::Bytes>,
    /// The caller is the org's IdP (a SCIM token, not a cluster's).
    pub from_idp: bool,
}

pub fn router(state: AppState) -> Router {
    // Every request but the long poll gets the request timeout: a client
    // that trickles a body, or a slow store, cannot hold a worker for ever.
    let timeout = tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        state.request_timeout,
    );
    Router::new()
        .nest("/scim/{org}", scim::routes())
        .nest("/accounts", sign_in::routes())
        .nest("/console", console::routes())
        .route(
            "/api/v1/orgs/{org}/scim-log",
            get(provisioning_log::scim_log_api).fallback(admin_api::method_not_allowed),
        )
        .route(
            "/api/v1/orgs/{org}/audit",
            get(provisioning_log::audit_api).fallback(admin_api::method_not_allowed),
        )
        .route(
            "/api/v1/session",
            get(admin_api::current_session).fallback(admin_api::method_not_allowed),
        )
        .route(
            "/api/v1/orgs/{org}/users/{user}/ssh-keys",
            get(admin_api::get_ssh_keys)
                .put(admin_api::put_ssh_keys)
                .fallback(admin_api::method_not_allowed),
        )
        .route(
            "/api/v1/orgs/{org}/clusters/{cluster}/snapshot",
            get(feed::snapshot)
                .layer(tower_http::compression::CompressionLayer::new())
                .fallback(admin_api::method_not_allowed),
        )
        .route(
            "/nss/{org}/{cluster}/{map}",
            get(nss_http::map).layer(tower_http::compression::CompressionLayer::new()),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_page))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found: SCIM lives under /scim/{org}\n",
            )
        })
        .layer(timeout)
        .route(
            "/api/v1/orgs/{org}/clusters/{cluster}/changes",
            get(feed::changes).fallback(admin_api::method_not_allowed),
        )
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// A JSON (not SCIM) response: the bodies of `/api/v1` (`api_v1`).
pub(super) fn json_reply<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => {
            let mut r = (status, text).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a response body");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

impl RequestNote {
    /// The note for a request made by `p`, with the body it sent (read
    /// only once the caller was authenticated), for the provisioning log.
    pub(super) fn of(
        p: &crate::directory::model::Principal,
        body: Option<axum::body::Bytes>,
    ) -> Self {
        RequestNote {
            org_id: p.org.id.clone(),
            org: p.org.name.clone(),
            token: Some(p.token_name.clone()),
            body,
            from_idp: p.cluster_id.is_none(),
        }
    }
}

/// Notes who made the request, for the request log.
pub(super) fn with_caller(mut resp: Response, p: &crate::directory::model::Principal) -> Response {
    resp.extensions_mut().insert(RequestNote::of(p, None));
    resp
}

async fn ready(State(s): State<AppState>) -> Response {
    match s.directory.list_orgs().await {
        Ok(_) => "ready\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

/// `/metrics`, to the addresses of `--metrics-allow` only (loopback by
/// default): it names every org and cluster. Its cost does not grow with
/// the fleet: the clusters' gauges are kept for a few seconds
/// (`metrics::FleetCache`).
async fn metrics_page(State(s): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let client = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| client_address(c.0.ip(), &parts.headers, &s.trusted_proxies));
    if !client.is_some_and(|ip| addr_allow::allowed(&s.metrics_allow, ip)) {
        let from = client.map(|ip| ip.to_string()).unwrap_or_default();
        return (
            StatusCode::FORBIDDEN,
            format!(
                "forbidden: /metrics answers only the addresses of `roster serve --metrics-allow` (this request came from {from})\n"
            ),
        )
            .into_response();
    }
    let directory = s.directory.clone();
    let fleet = s
        .metrics
        .fleet
        .gauges(|| async move { directory.fleet_gauges().await })
        .await;
    let body = s.metrics.render(metrics::Extra {
        commits: s.directory.store().commit_stats(),
        scim_log_dropped: s.scim_log.dropped(),
        fleet: &fleet,
        feed_wakeups: s.directory.feed_wakeups(),
        node_reports_dropped: s.agents_seen.dropped(),
        long_polls_refused: s.long_polls.refused(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// The longest path and body kept in the provisioning log of a request
/// that is not the IdP's (anonymous, refused, or a node's).
const OTHERS_MAX_PATH: usize = 256;
const OTHERS_MAX_BODY: usize = 1024;

/// The routes nodes poll (the feed, snapshots, nsscache's maps): logged
/// at debug when answered, at info when refused.
const NODE_POLLS: [&str; 3] = [
    "/api/v1/orgs/{org}/clusters/{cluster}/changes",
    "/api/v1/orgs/{org}/clusters/{cluster}/snapshot",
    "/nss/{org}/{cluster}/{map}",
];

/// One log line and the metrics for every request, and for SCIM requests
/// an entry in the org's provisioning log.
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
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
        .get_or_create(&metrics::RouteLabels {
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    let note = resp.extensions().get::<RequestNote>();
    let scim = path.starts_with("/scim/");
    if scim && status == 401 {
        s.metrics.scim_unauthenticated.inc();
    }
    let err = resp.extensions().get::<error::ErrorNote>();
    let org = note.map(|n| n.org.as_str()).unwrap_or("-");
    let token = note.and_then(|n| n.token.as_deref()).unwrap_or("-");
    let scim_type = err
        .and_then(|e| e.scim_type)
        .map(|t| t.as_str())
        .unwrap_or("-");
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let node_poll = NODE_POLLS.contains(&route.as_str());
    // A path that carries a secret (a login link) is logged as its route.
    let path = if route.contains("{secret}") {
        route
    } else {
        path
    };
    if status >= 500 {
        tracing::error!(org, token, %method, path, status, scim_type, latency_ms, detail = err.map(|e| e.detail.as_str()).unwrap_or(""), "request");
    } else if status < 400 && node_poll {
        // Every node's polls, answered: thousands a minute on a large
        // cluster, and an eighth of the server's time when logged at info.
        // The fleet shows in `roster cluster status` and /metrics.
        tracing::debug!(org, token, %method, path, status, latency_ms, "request");
    } else {
        tracing::info!(org, token, %method, path, status, scim_type, latency_ms, "request");
    }
    if let Some(note) = note
        && scim
    {
        // Anyone who reaches the port can send a refused request, and a
        // node's token reads: their entries have a small share of the log
        // of their own and short paths and bodies, so that they cannot
        // push out what the IdP did (docs/security.md).
        let from_idp = note.from_idp && status != 401 && status != 403;
        let (max_path, max_body) = if from_idp {
            (usize::MAX, MAX_LOGGED_BODY)
        } else {
            (OTHERS_MAX_PATH, OTHERS_MAX_BODY)
        };
        s.scim_log.record(ScimLogEntry {
            at: format_time(s.directory.clock().now()),
            org_id: note.org_id.clone(),
            token_name: note.token.clone(),
            method: method.to_string(),
            path: cut(path_and_query, max_path),
            status,
            scim_type: err
                .and_then(|e| e.scim_type)
                .map(|t| t.as_str().to_string()),
            detail: err.map(|e| e.detail.clone()),
            latency_ms,
            // Only an authenticated caller's body is kept (the handlers
            // note none otherwise): anonymous requests cannot fill the log.
            body: note
                .body
                .as_deref()
                .and_then(|b| redacted_body(b, max_body)),
            from_idp,
        });
    }
    resp
}

/// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    state.agents_seen.start_flushing(state.directory.clone());
    connections::serve_connections(listener, router(state), limits, shutdown_signal()).await
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
    tracing::info!("stop requested");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let ip = |s: &str| {
            s.parse::<std::net::IpAddr>()
                .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))
        };
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_static("198.51.100.9, 203.0.113.5, 10.0.0.2"),
        );
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        // The client claims 198.51.100.9; the first proxy saw 203.0.113.5.
        assert_eq!(
            client_address(ip("127.0.0.1"), &h, &trusted),
            ip("203.0.113.5")
        );
        // Anyone else's header is not believed.
        assert_eq!(
            client_address(ip("192.0.2.1"), &h, &trusted),
            ip("192.0.2.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &axum::http::HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
    }
}
