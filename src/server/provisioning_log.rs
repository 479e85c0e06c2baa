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
            other => window(&s, other, &v, &mut query.limit, &mut query.since)?,
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

/// `limit=N` (at most 10,000) and `since=DURATION`, which the log and the
/// trail share; other keys are ignored.
fn window(
    s: &AppState,
    key: &str,
    v: &str,
    limit: &mut u64,
    since: &mut Option<String>,
) -> Result<(), DirectoryError> {
    match key {
        "limit" => {
            *limit = v
                .parse::<u64>()
                .map_err(|_| {
                    DirectoryError::InvalidValue(format!("limit \"{v}\" is not a number"))
                })?
                .min(10_000)
        }
        "since" => {
            let d = parse_duration(v).ok_or_else(|| {
                DirectoryError::InvalidValue(format!(
                    "since \"{v}\" is not a duration such as 30m, 2h or 7d"
                ))
            })?;
            *since = Some(s.directory.log_since(d));
        }
        _ => {}
    }
    Ok(())
}

/// `GET /api/v1/orgs/{org}/audit`: the org's audit trail, newest first,
/// for the org's administrators. Query: `since=DURATION`, `actor=TEXT`,
/// `resource=KIND-OR-NAME`, `limit=N` (default 100, at most 10,000).
pub async fn audit_api(
    State(s): State<AppState>,
    AdminCaller(p): AdminCaller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiErrorResponse> {
    let mut query = crate::directory::model::AuditQuery {
        limit: 100,
        ..Default::default()
    };
    for (k, v) in query_pairs(&q) {
        match k.as_str() {
            "actor" => query.actor = Some(v),
            "resource" => query.resource = Some(v),
            other => window(&s, other, &v, &mut query.limit, &mut query.since)?,
        }
    }
    let entries = s.directory.audit(&p.org.id, query).await?;
    Ok(json_reply(
        StatusCode::OK,
        &crate::api_v1::AuditTrail {
            entries: entries
                .into_iter()
                .map(|e| crate::api_v1::AuditTrailEntry {
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    target: e.target,
                    detail: e.detail,
                    origin: e.origin,
                })
                .collect(),
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
