//! `GET /api/v1/orgs/{org}/scim-log`: the provisioning log over the admin
//! API, and the JSON of one entry (shared with `roster scim-log --json`).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use super::error::ScimErrorResponse;
use super::scim::{ScimPath, query_pairs};
use crate::scim::ScimError;

/// `GET /api/v1/orgs/{org}/scim-log`: the org's provisioning log, newest
/// first, for the holder of one of the org's SCIM tokens. Query:
/// `failed=true`, `since=DURATION` (such as `1h`), `limit=N` (default 100).
pub async fn scim_log_api(
    State(s): State<AppState>,
    ScimPath(org): ScimPath<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = match super::admin_api::admin(&s, &org, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut query = crate::directory::scim_log::ScimLogQuery {
        limit: 100,
        ..Default::default()
    };
    for (k, v) in query_pairs(&q) {
        match k.as_str() {
            "failed" => query.failed_only = v == "true" || v == "1",
            "limit" => match v.parse::<u64>() {
                Ok(n) => query.limit = n.min(10_000),
                Err(_) => {
                    return ScimErrorResponse(ScimError::invalid_value(format!(
                        "limit \"{v}\" is not a number"
                    )))
                    .into_response();
                }
            },
            "since" => match crate::directory::scim_log::parse_duration(&v) {
                Some(d) => {
                    let since = chrono::Utc::now()
                        - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
                    query.since = Some(crate::scim::resource::format_time(since));
                }
                None => {
                    return ScimErrorResponse(ScimError::invalid_value(format!(
                        "since \"{v}\" is not a duration such as 30m, 2h or 7d"
                    )))
                    .into_response();
                }
            },
            _ => {}
        }
    }
    match s.directory.scim_log(&p.org.id, query).await {
        Ok(entries) => {
            let list: Vec<Value> = entries.iter().map(scim_log_json).collect();
            super::json_reply(StatusCode::OK, serde_json::json!({"entries": list}))
        }
        Err(e) => ScimErrorResponse::from(e).into_response(),
    }
}

/// One provisioning-log entry as JSON (the API and `roster scim-log --json`).
pub fn scim_log_json(e: &crate::directory::scim_log::ScimLogEntry) -> Value {
    serde_json::json!({
        "at": e.at,
        "token": e.token_name,
        "method": e.method,
        "path": e.path,
        "status": e.status,
        "scimType": e.scim_type,
        "detail": e.detail,
        "latency_ms": (e.latency_ms * 1000.0).round() / 1000.0,
        "body": e.body,
    })
}
