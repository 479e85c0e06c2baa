//! `GET /api/v1/orgs/{org}/clusters/{cluster}/changes?after=SEQ&wait=SECONDS`
//! (long poll) and `.../snapshot` (the maps and Slurm accounts with their
//! SEQ), for the cluster agent, authenticated by the cluster's token.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::callers::ClusterCaller;
use super::error::ApiErrorResponse;
use super::{AppState, json_reply, with_caller};
use crate::api_v1::{ChangeEntry, ChangesReply, Maps, SlurmAccount, Snapshot, SnapshotDelta};
use crate::directory::DirectoryError;
use crate::directory::cluster_maps::{AccountEntry, MapsContent, NssMaps};
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
    // A poll that would wait takes one of the long polls its org and the
    // server may hold, or is answered at once (429 and Retry-After, which
    // the agent waits out): one token cannot hold every connection.
    let _slot = if wait.is_zero() {
        None
    } else {
        match s.long_polls.join(&p.org.id) {
            Ok(slot) => Some(slot),
            Err(why) => return with_caller(poll_refused(why), &p),
        }
    };
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

/// How long an agent whose long poll was refused waits before it asks
/// again (RFC 9110 §10.2.3).
pub const RETRY_POLL_AFTER: Duration = Duration::from_secs(10);

/// Long polls held open, in all and by org, each below its cap: each
/// holds a connection for up to a minute, and connections are capped
/// (`--max-connections`), so the long polls of one token, or one org,
/// must leave room for everyone else's requests (docs/security.md,
/// "Anonymous clients").
pub struct LongPolls {
    max_total: usize,
    max_per_org: usize,
    /// In all, and by org id.
    held: std::sync::Mutex<(usize, std::collections::HashMap<String, usize>)>,
    /// Polls refused since the start (`roster_feed_long_polls_refused_total`).
    refused: std::sync::atomic::AtomicU64,
}

/// One long poll's place; given back when dropped (the poll answered, or
/// its client gone).
pub struct LongPollSlot {
    polls: Arc<LongPolls>,
    org_id: String,
}

impl LongPolls {
    pub fn new(max_total: usize, max_per_org: usize) -> Self {
        LongPolls {
            max_total,
            max_per_org,
            held: Default::default(),
            refused: Default::default(),
        }
    }

    /// The long polls a server with `max_connections` holds by default:
    /// all but a reserve of an eighth of the connections, and at least
    /// 16 or half of them, for the IdP, administrators, health checks and
    /// nodes' snapshot requests.
    pub fn default_max(max_connections: usize) -> usize {
        let reserve = (max_connections / 8).max((max_connections / 2).min(16));
        max_connections.saturating_sub(reserve).max(1)
    }

    fn join(self: &Arc<Self>, org_id: &str) -> Result<LongPollSlot, String> {
        let refuse = |why: String| {
            self.refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(why)
        };
        let Ok(mut held) = self.held.lock() else {
            return refuse("the change feed is unavailable".into());
        };
        let (total, by_org) = &mut *held;
        if *total >= self.max_total {
            return refuse(format!(
                "the server holds as many long polls as it may ({}, --max-long-polls); retry in {} s",
                self.max_total,
                RETRY_POLL_AFTER.as_secs()
            ));
        }
        let n = by_org.entry(org_id.to_string()).or_insert(0);
        if *n >= self.max_per_org {
            return refuse(format!(
                "this organization holds as many long polls as it may ({}, --max-long-polls-per-org); retry in {} s",
                self.max_per_org,
                RETRY_POLL_AFTER.as_secs()
            ));
        }
        *n += 1;
        *total += 1;
        Ok(LongPollSlot {
            polls: self.clone(),
            org_id: org_id.to_string(),
        })
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for LongPollSlot {
    fn drop(&mut self) {
        if let Ok(mut held) = self.polls.held.lock() {
            let (total, by_org) = &mut *held;
            *total = total.saturating_sub(1);
            if let Some(n) = by_org.get_mut(&self.org_id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    by_org.remove(&self.org_id);
                }
            }
        }
    }
}

/// 429 with `Retry-After` (RFC 6585 §4): a long poll over its cap.
fn poll_refused(why: String) -> Response {
    let mut resp = error(DirectoryError::TooMany(why));
    resp.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(RETRY_POLL_AFTER.as_secs()),
    );
    resp
}

/// The snapshot: conditional on its entity tag (RFC 9110 §13.1.2,
/// If-None-Match), which covers the content but not the position, so a
/// node asking again after changes elsewhere in the org gets 304 and the
/// position in `X-Roster-Seq`; compressed when the agent accepts gzip.
///
/// An agent that also sends `A-IM: roster-delta-2` (RFC 3229 §10.5.3) is
/// answered `226 IM Used` with only what changed since the version it
/// has, when the server still keeps that version; else as above.
pub async fn snapshot(
    State(s): State<AppState>,
    ClusterCaller(p): ClusterCaller,
    Path((_, cluster)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let has: Vec<&str> = header(axum::http::header::IF_NONE_MATCH)
        .map(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .collect()
        })
        .unwrap_or_default();
    let wants_delta =
        header(axum::http::header::HeaderName::from_static("a-im")).is_some_and(|v| {
            v.split(',')
                .any(|im| im.trim().eq_ignore_ascii_case(crate::api_v1::DELTA_IM))
        });
    let gzip = header(axum::http::header::ACCEPT_ENCODING).is_some_and(|v| {
        v.split(',').any(|e| {
            e.split(';')
                .next()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"))
        })
    });
    let found = match (wants_delta, has.first()) {
        (true, Some(base)) => s.directory.nss_maps_delta(&p, &cluster, base).await,
        _ => s
            .directory
            .nss_version(&p, &cluster)
            .await
            .map(|m| (m, None)),
    };
    let answer = match found {
        Ok((m, _)) if has.contains(&m.snapshot_etag()) => {
            Ok((StatusCode::NOT_MODIFIED.into_response(), m))
        }
        Ok((m, Some(d))) => Ok((delta_body(&m, &d, has.first().copied().unwrap_or("")), m)),
        // The whole snapshot: its content is made (once per version) only
        // now, and the version may have moved on meanwhile.
        Ok((m, None)) => match s.snapshot_bodies.cached(&m).filter(|_| gzip) {
            Some(body) => Ok((gzipped_reply(body), m)),
            None => match s.directory.nss_maps(&p, &cluster).await {
                Ok((m, content)) if gzip => {
                    let resp = s.snapshot_bodies.gzipped(m.clone(), content).await;
                    Ok((resp, m))
                }
                Ok((m, content)) => Ok((typed(&snapshot_of(&m, &content)), m)),
                Err(e) => Err(e),
            },
        },
        Err(e) => Err(e),
    };
    let r = match answer {
        Ok((mut resp, m)) => {
            for (name, value) in [
                (
                    axum::http::header::ETAG.as_str(),
                    m.snapshot_etag().to_string(),
                ),
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

/// `226 IM Used` (RFC 3229 §10.4.1): the delta from `base` to `m`.
fn delta_body(
    m: &crate::directory::cluster_maps::NssMaps,
    d: &crate::directory::cluster_maps::MapsDelta,
    base: &str,
) -> Response {
    let mut resp = json_reply(
        StatusCode::IM_USED,
        &SnapshotDelta {
            seq: m.seq,
            modified: m.modified.clone(),
            maps: d.maps.clone(),
            accounts: d.accounts.iter().map(slurm_account).collect(),
            accounts_removed: d.accounts_removed.clone(),
            removal_approved_through: d.removal_approved_through,
        },
    );
    for (name, value) in [("im", crate::api_v1::DELTA_IM), ("delta-base", base)] {
        if let Ok(v) = axum::http::HeaderValue::from_str(value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

/// Whole snapshots as sent, gzip-compressed, by entity tag, with the
/// position they were encoded at: the nodes that start (or resync) at
/// once cost one encoding, not one each (at 100,000 users an encoding
/// took 450 ms).
#[derive(Default)]
pub struct SnapshotBodies {
    bodies: std::sync::Mutex<std::collections::HashMap<String, (i64, axum::body::Bytes)>>,
    /// Held while encoding: those asking meanwhile wait, then find it.
    encoding: tokio::sync::Mutex<()>,
}

/// Bodies kept: a few versions of each of a few hundred clusters.
const KEPT_BODIES: usize = 256;

impl SnapshotBodies {
    fn cached(&self, m: &NssMaps) -> Option<axum::body::Bytes> {
        let bodies = self.bodies.lock().ok()?;
        let (seq, body) = bodies.get(m.snapshot_etag())?;
        (*seq == m.seq).then(|| body.clone())
    }

    async fn gzipped(&self, m: Arc<NssMaps>, content: Arc<MapsContent>) -> Response {
        let body = match self.cached(&m) {
            Some(b) => Some(b),
            None => {
                let _one = self.encoding.lock().await;
                match self.cached(&m) {
                    Some(b) => Some(b),
                    None => {
                        let (maps, c) = (m.clone(), content.clone());
                        let encoded =
                            tokio::task::spawn_blocking(move || gzip_json(&snapshot_of(&maps, &c)))
                                .await
                                .ok()
                                .flatten();
                        if let (Some(b), Ok(mut bodies)) = (&encoded, self.bodies.lock()) {
                            if bodies.len() >= KEPT_BODIES {
                                bodies.clear();
                            }
                            bodies.insert(m.snapshot_etag().to_string(), (m.seq, b.clone()));
                        }
                        encoded
                    }
                }
            }
        };
        match body {
            Some(body) => gzipped_reply(body),
            None => typed(&snapshot_of(&m, &content)),
        }
    }
}

/// 200 with a gzip-encoded snapshot.
fn gzipped_reply(body: axum::body::Bytes) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    for (name, value) in [
        (axum::http::header::CONTENT_TYPE, "application/json"),
        (axum::http::header::CONTENT_ENCODING, "gzip"),
        (axum::http::header::VARY, "accept-encoding"),
    ] {
        resp.headers_mut()
            .insert(name, axum::http::HeaderValue::from_static(value));
    }
    resp
}

/// `body` as gzip-compressed JSON: serialized first, then compressed in
/// one pass at the fastest level (a node's first snapshot waits for it;
/// at 100,000 users the default level took about 450 ms, for a body
/// 4% smaller).
fn gzip_json<T: serde::Serialize>(body: &T) -> Option<axum::body::Bytes> {
    use std::io::Write;
    let json = serde_json::to_vec(body).ok()?;
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 6),
        flate2::Compression::fast(),
    );
    gz.write_all(&json).ok()?;
    gz.finish().ok().map(axum::body::Bytes::from)
}

fn snapshot_of(m: &NssMaps, content: &MapsContent) -> Snapshot {
    Snapshot {
        seq: m.seq,
        modified: m.modified.clone(),
        maps: Maps {
            passwd: content.passwd.clone(),
            group: content.group.clone(),
            shadow: content.shadow.clone(),
            sshkey: content.sshkey.clone(),
        },
        accounts: content.accounts.iter().map(slurm_account).collect(),
        removal_approved_through: m.removal_approved_through,
    }
}

fn slurm_account((name, gid, members, adopt): &AccountEntry) -> SlurmAccount {
    SlurmAccount {
        name: name.clone(),
        gid: *gid,
        members: members.clone(),
        adopt: *adopt,
    }
}
