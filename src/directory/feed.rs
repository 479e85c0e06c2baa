//! The change feed a cluster's agent long-polls: it answers as soon as the
//! org's change log grows past the agent's position, or with nothing when
//! the wait runs out. Waiting costs nothing but a subscription; each
//! commit wakes the waiters, who read the log once.

use std::time::Duration;

use tokio::time::Instant;

use super::clusters::{find_cluster, may_read_cluster};
use super::model::{Change, Principal};
use super::{Directory, DirectoryError, DirectoryResult};

/// Most entries one answer carries; beyond, the agent is told to resync
/// from a snapshot.
pub const FEED_PAGE: u64 = 1000;
/// Longest wait a request may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// Writes by other processes (the `roster` command) do not wake waiters;
/// they are noticed within this interval.
const RECHECK: Duration = Duration::from_secs(1);

/// One answer of the feed.
#[derive(Debug, Clone)]
pub struct FeedReply {
    /// The org's latest change-log position.
    pub seq: i64,
    /// The entries after the agent's position (every change of the org: a
    /// superset of what touches this cluster, which the agent resolves by
    /// fetching the snapshot).
    pub changes: Vec<(i64, Change)>,
    /// The position cannot be served incrementally (too far behind, or
    /// ahead of the server): fetch the snapshot.
    pub resync: bool,
}

impl Directory {
    pub async fn cluster_changes(
        &self,
        p: &Principal,
        cluster: &str,
        after: i64,
        wait: Duration,
    ) -> DirectoryResult<FeedReply> {
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        let mut commits = self.commits.subscribe();
        loop {
            let (org_id, cluster_ref, principal) =
                (p.org.id.clone(), cluster.to_string(), p.clone());
            let reply = self
                .read(move |tx| {
                    let c = find_cluster(tx, &org_id, &cluster_ref)?;
                    if !may_read_cluster(&principal, &c) {
                        return Err(DirectoryError::Forbidden(format!(
                            "this token does not belong to cluster \"{}\"",
                            c.name
                        )));
                    }
                    let seq = tx.last_seq(&org_id)?;
                    if after > seq {
                        return Ok(FeedReply {
                            seq,
                            changes: Vec::new(),
                            resync: true,
                        });
                    }
                    let mut changes = tx.changes_after(&org_id, after, FEED_PAGE + 1)?;
                    let resync = changes.len() as u64 > FEED_PAGE;
                    changes.truncate(FEED_PAGE as usize);
                    Ok(FeedReply {
                        seq,
                        changes,
                        resync,
                    })
                })
                .await?;
            let now = Instant::now();
            if reply.resync || !reply.changes.is_empty() || now >= deadline {
                return Ok(reply);
            }
            let nap = (deadline - now).min(RECHECK);
            tokio::select! {
                _ = commits.changed() => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }
}
