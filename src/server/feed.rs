//! `GET /api/v1/orgs/{org}/clusters/{cluster}/changes?after=SEQ&wait=SECONDS`
//! (long poll) and `.../snapshot` (the maps and Slurm accounts with their
//! SEQ), for the cluster agent, authenticated by the cluster's token.

use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::callers::ClusterCaller;
use super::error::ApiErrorResponse;
use super::{AppState, json_reply, with_caller};
use crate::api_v1::{ChangeEntry, ChangesReply, Maps, SlurmAccount, Snapshot};
use crate::directory::DirectoryError;
use crate::directory::feed::MAX_WAIT;
use crate::directory::model::NodeReport;

fn error(e: DirectoryError) -> Response {
    ApiErrorResponse::from(e).into_response()
}

fn typed<T: serde::Serialize>(body: &T) -> Response {
    json_reply(StatusCode::OK, body)
}

pub async fn changes(
    State(s): State<AppState>,
    ClusterCaller(p): ClusterCaller,
    Path((_, cluster)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let mut after = 0i64;
    let mut wait = Duration::from_secs(30);
    for (k, v) in super::scim::query_pairs(&q) {
        match k.as_str() {
            "after" => match v.parse::<i64>() {
                Ok(n) if n >= 0 => after = n,
                _ => {
                    return with_caller(
                        error(DirectoryError::InvalidValue(format!(
                            "after \"{v}\" is not a change sequence number"
                        ))),
                        &p,
                    );
                }
            },
            "wait" => match v.parse::<u64>() {
                Ok(n) => wait = Duration::from_secs(n).min(MAX_WAIT),
                Err(_) => {
                    return with_caller(
                        error(DirectoryError::InvalidValue(format!(
                            "wait \"{v}\" is not a number of seconds"
                        ))),
                        &p,
                    );
                }
            },
            _ => {}
        }
    }
    // What the node says, noted as it asks (a long poll may then wait a
    // minute). Only a cluster's own token speaks for one of its nodes.
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let (Some(node), Some(cluster_id)) = (
        super::agents_seen::node_name(header(crate::api_v1::NODE_HEADER)),
        &p.cluster_id,
    ) {
        s.agents_seen.record(NodeReport {
            org_id: p.org.id.clone(),
            cluster_id: cluster_id.clone(),
            node,
            applied_seq: after,
            error: super::agents_seen::error_text(header(crate::api_v1::ERROR_HEADER)),
            slurm: header(crate::api_v1::SLURM_HEADER) == Some("yes"),
            reported_at: crate::scim::resource::format_time(s.directory.clock().now()),
        });
    }
    let r = match s.directory.cluster_changes(&p, &cluster, after, wait).await {
        Ok(f) => typed(&ChangesReply {
            seq: f.seq,
            resync: f.resync,
            changes: f
                .changes
                .iter()
                .map(|(seq, c)| ChangeEntry {
                    seq: *seq,
                    subject: c.subject.as_str().to_string(),
                    id: c.resource_id.clone(),
                    kind: c.kind.as_str().to_string(),
                    at: c.at.clone(),
                })
                .collect(),
        }),
        Err(e) => error(e),
    };
    with_caller(r, &p)
}

/// The snapshot: conditional on its entity tag (RFC 9110 §13.1.2,
/// If-None-Match), which covers the content but not the position, so a
/// node asking again after changes elsewhere in the org gets 304 and the
/// position in `X-Roster-Seq`; compressed when the agent accepts gzip.
pub async fn snapshot(
    State(s): State<AppState>,
    ClusterCaller(p): ClusterCaller,
    Path((_, cluster)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let r = match s.directory.nss_maps(&p, &cluster).await {
        Ok(m) => {
            let etag = m.snapshot_etag();
            let has_it = headers
                .get(axum::http::header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.split(',')
                        .any(|t| t.trim().trim_start_matches("W/") == etag)
                });
            let mut resp = if has_it {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                snapshot_body(&m)
            };
            for (name, value) in [
                (axum::http::header::ETAG.as_str(), etag),
                (crate::api_v1::SEQ_HEADER, m.seq.to_string()),
            ] {
                if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
                    resp.headers_mut().insert(name, v);
                }
            }
            resp
        }
        Err(e) => error(e),
    };
    with_caller(r, &p)
}

fn snapshot_body(m: &crate::directory::cluster_maps::NssMaps) -> Response {
    typed(&Snapshot {
        seq: m.seq,
        modified: m.modified.clone(),
        maps: Maps {
            passwd: m.passwd.clone(),
            group: m.group.clone(),
            shadow: m.shadow.clone(),
            sshkey: m.sshkey.clone(),
        },
        accounts: m
            .accounts
            .iter()
            .map(|(name, gid, members)| SlurmAccount {
                name: name.clone(),
                gid: *gid,
                members: members.clone(),
                adopt: m.adopt.contains(name),
            })
            .collect(),
        removal_approved_through: m.removal_approved_through,
    })
}
