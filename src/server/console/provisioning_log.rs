//! Provisioning log: what the identity provider sent over SCIM and what
//! Roster answered, newest first; failed requests only, over a time
//! window; each entry opens to its (redacted) body and Roster's
//! explanation.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{ConsoleViewer, Layout, refusal, render};
use crate::directory::model::{ScimLogEntry, ScimLogQuery};
use crate::server::AppState;

/// Entries shown at most.
const SHOWN: u64 = 200;

/// The time windows offered: (value, label, seconds; 0 for all).
const WINDOWS: [(&str, &str, u64); 5] = [
    ("1h", "Last hour", 3600),
    ("24h", "Last 24 hours", 86_400),
    ("7d", "Last 7 days", 7 * 86_400),
    ("30d", "Last 30 days", 30 * 86_400),
    ("all", "All kept", 0),
];

#[derive(Deserialize)]
pub(super) struct Params {
    failed: Option<String>,
    window: Option<String>,
}

#[derive(Template)]
#[template(path = "console/provisioning_log.html")]
struct LogPage {
    l: Layout,
    entries: Vec<ScimLogEntry>,
    failed_only: bool,
    window: String,
    windows: &'static [(&'static str, &'static str, u64)],
    recording: bool,
}

pub(super) async fn show(
    State(s): State<AppState>,
    ConsoleViewer(c): ConsoleViewer,
    Query(q): Query<Params>,
) -> Result<Response, Response> {
    let l = c.layout("log", None);
    let failed_only = q.failed.as_deref() == Some("on");
    let window = WINDOWS
        .iter()
        .find(|w| Some(w.0) == q.window.as_deref())
        .unwrap_or(&WINDOWS[1]);
    let since = (window.2 > 0).then(|| {
        s.directory
            .log_since(std::time::Duration::from_secs(window.2))
    });
    let entries = s
        .directory
        .scim_log(
            &c.user.principal.org.id,
            ScimLogQuery {
                failed_only,
                since,
                limit: SHOWN,
            },
        )
        .await
        .map_err(|e| refusal(c.layout("log", None), e))?;
    Ok(render(
        StatusCode::OK,
        &LogPage {
            l,
            entries,
            failed_only,
            window: window.0.to_string(),
            windows: &WINDOWS,
            recording: s.scim_log.enabled(),
        },
    ))
}
