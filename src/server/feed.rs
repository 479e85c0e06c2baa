//! `GET /api/v1/orgs/{org}/clusters/{cluster}/changes?after=SEQ&wait=SECONDS`
//! (long poll) and `.../snapshot` (the maps and Slurm accounts with their
//! SEQ), for the cluster agent, authenticated by the cluster's token.

use std::time::Duration;

use crate::cluster_api::{ApiError, ChangeEntry, ChangesReply, Maps, SlurmAccount, Snapshot};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::nss::credential;
use super::{AppState, RequestNote};
use crate::directory::DirectoryError;
use crate::directory::feed::MAX_WAIT;
use crate::directory::model::Principal;

use super::json_reply as reply;

/// A domain error as the cluster API's error body; the status comes from
/// the one mapping of domain errors (`error::to_scim`).
fn error(e: DirectoryError) -> Response {
    let e = super::to_scim(e);
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    typed_with(status, &ApiError { error: e.detail })
}

/// A cluster API body as JSON.
fn typed<T: serde::Serialize>(body: &T) -> Response {
    typed_with(StatusCode::OK, body)
}

fn typed_with<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_value(body) {
        Ok(v) => reply(status, v),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a cluster API body");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"error": "internal error"}),
            )
        }
    }
}

/// The caller of the cluster API, as an extractor: a token of the path's
/// org (whether it may read the path's cluster, the domain decides).
pub struct ClusterCaller(pub Principal);

impl axum::extract::FromRequestParts<AppState> for ClusterCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let org = super::path_org(parts, state).await.ok_or_else(|| {
            error(DirectoryError::NotFound(
                "no such cluster: the path is not UTF-8".into(),
            ))
        })?;
        let Some(token) = credential(&parts.headers) else {
            return Err(error(DirectoryError::Unauthenticated(
                "a cluster token is required: `roster cluster token create ORG CLUSTER`".into(),
            )));
        };
        state
            .directory
            .authenticate(&org, &token)
            .await
            .map(ClusterCaller)
            .map_err(error)
    }
}

fn noted(mut r: Response, p: &Principal) -> Response {
    r.extensions_mut().insert(RequestNote {
        org_id: p.org.id.clone(),
        org: p.org.name.clone(),
        token: Some(p.token_name.clone()),
        body: None,
    });
    r
}

pub async fn changes(
    State(s): State<AppState>,
    ClusterCaller(p): ClusterCaller,
    Path((_, cluster)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let mut after = 0i64;
    let mut wait = Duration::from_secs(30);
    for (k, v) in super::scim::query_pairs(&q) {
        match k.as_str() {
            "after" => match v.parse::<i64>() {
                Ok(n) if n >= 0 => after = n,
                _ => {
                    return noted(
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
                    return noted(
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
    noted(r, &p)
}

pub async fn snapshot(
    State(s): State<AppState>,
    ClusterCaller(p): ClusterCaller,
    Path((_, cluster)): Path<(String, String)>,
) -> Response {
    let r = match s.directory.nss_maps(&p, &cluster).await {
        Ok(m) => typed(&Snapshot {
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
                })
                .collect(),
        }),
        Err(e) => error(e),
    };
    noted(r, &p)
}
