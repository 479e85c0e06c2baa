//! `GET /nss/{org}/{cluster}/{passwd|group|shadow|sshkey}`: the maps stock
//! nsscache's http source fetches. Stock nsscache hands the URL to libcurl,
//! which turns credentials in the URL into HTTP Basic, so the cluster
//! token is accepted as a bearer token and as the Basic password
//! ([`NssCaller`]). Refusals are plain text, which nsscache shows as it is.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::callers::NssCaller;
use super::error::Refusal;
use super::{AppState, RequestNote};

fn plain(status: StatusCode, msg: String) -> Response {
    Refusal::new(status, msg).plain_text()
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// How long after a change a client's `If-Modified-Since` is not trusted:
/// HTTP dates have whole seconds, so two changes within one second share a
/// `Last-Modified`, and a client that fetched between them must not be
/// told 304.
const SAME_SECOND_GUARD_SECS: i64 = 2;

pub async fn map(
    State(s): State<AppState>,
    NssCaller(p): NssCaller,
    Path((_, cluster, map)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let note = RequestNote::of(&p, None);
    let mut resp = match s.directory.nss_maps(&p, &cluster).await {
        Ok((maps, content)) => match (content.body(&map), maps.etag(&map)) {
            (Some(body), Some(etag)) => conditional(
                s.directory.clock().now(),
                &headers,
                body,
                etag,
                &maps.modified,
            ),
            _ => plain(
                StatusCode::NOT_FOUND,
                format!("no map \"{map}\": the maps are passwd, group, shadow and sshkey"),
            ),
        },
        // Plain text, which nsscache shows as it is; the status from the
        // one mapping of domain errors.
        Err(e) => Refusal::from(e).plain_text(),
    };
    resp.extensions_mut().insert(note);
    resp
}

/// 200 with `ETag` and `Last-Modified`, or 304 when the client has it.
fn conditional(
    now: DateTime<Utc>,
    headers: &HeaderMap,
    body: &str,
    etag: &str,
    modified: &str,
) -> Response {
    let changed = DateTime::parse_from_rfc3339(modified)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    let last_modified = http_date(changed);
    let not_modified = match (
        headers.get(header::IF_NONE_MATCH),
        headers.get(header::IF_MODIFIED_SINCE),
    ) {
        (Some(inm), _) => inm.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        }),
        (None, Some(ims)) => {
            let since = ims
                .to_str()
                .ok()
                .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
                .map(|t| t.with_timezone(&Utc));
            let settled = (now - changed).num_seconds() >= SAME_SECOND_GUARD_SECS;
            since.is_some_and(|since| settled && since.timestamp() >= changed.timestamp())
        }
        (None, None) => false,
    };
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body.to_string(),
        )
            .into_response()
    };
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&last_modified) {
        resp.headers_mut().insert(header::LAST_MODIFIED, v);
    }
    resp
}
