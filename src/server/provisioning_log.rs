//! `GET /api/v1/orgs/{org}/scim-log`: the provisioning log over the admin
//! API, and the JSON of one entry (shared with `roster scim-log --json`).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::callers::AdminCaller;
use super::error::ApiErrorResponse;
use super::scim::query_pairs;
use super::{AppState, json_reply};
use crate::api_v1::{ProvisioningLog, ProvisioningLogEntry};
use crate::directory::DirectoryError;
use crate::directory::scim_log::{ScimLogEntry, ScimLogQuery, parse_duration};

/// `GET /api/v1/orgs/{org}/scim-log`: the org's provisioning log, newest
/// first, for the org's administrators. Query: `failed=true`,
/// `since=DURATION` (such as `1h`), `limit=N` (default 100, at most 10,000).
pub async fn scim_log_api(
    State(s): State<AppState>,
    AdminCaller(p): AdminCaller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiErrorResponse> {
    let mut query = ScimLogQuery {
        limit: 100,
        ..Default::default()
    };
    for (k, v) in query_pairs(&q) {
        match k.as_str() {
            "failed" => query.failed_only = v == "true" || v == "1",
            "limit" => {
                query.limit = v
                    .parse::<u64>()
                    .map_err(|_| {
                        DirectoryError::InvalidValue(format!("limit \"{v}\" is not a number"))
                    })?
                    .min(10_000)
            }
            "since" => {
                let d = parse_duration(&v).ok_or_else(|| {
                    DirectoryError::InvalidValue(format!(
                        "since \"{v}\" is not a duration such as 30m, 2h or 7d"
                    ))
                })?;
                query.since = Some(s.directory.log_since(d));
            }
            _ => {}
        }
    }
    let entries = s.directory.scim_log(&p.org.id, query).await?;
    Ok(json_reply(
        StatusCode::OK,
        &ProvisioningLog {
            entries: entries.iter().map(log_entry).collect(),
        },
    ))
}

/// One provisioning-log entry as the API shows it.
pub fn log_entry(e: &ScimLogEntry) -> ProvisioningLogEntry {
    ProvisioningLogEntry {
        at: e.at.clone(),
        token: e.token_name.clone(),
        method: e.method.clone(),
        path: e.path.clone(),
        status: e.status,
        scim_type: e.scim_type.clone(),
        detail: e.detail.clone(),
        latency_ms: (e.latency_ms * 1000.0).round() / 1000.0,
        body: e.body.clone(),
    }
}
