//! What the agents say: each node's feed requests carry its name
//! (`X-Roster-Node`), the change it has applied (`after=`), its last error
//! (`X-Roster-Error`) and whether it manages Slurm (`X-Roster-Slurm`).
//! Reports gather in memory and are written to the store in one quiet
//! batch a second (2,000 nodes answering one change cost one write, not
//! 2,000), where `roster cluster status`, `roster explain` and every
//! replica's console read them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::directory::Directory;
use crate::directory::model::NodeReport;

/// How often gathered reports are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Reports held between two writes at most; past it new nodes wait for
/// the next batch (the ones already held keep being updated).
const MAX_PENDING: usize = 100_000;

/// A node's name as its agent gives it, at most this long, of these
/// characters; anything else is not a name.
const MAX_NAME: usize = 64;

/// The longest error text kept from a report.
const MAX_ERROR: usize = 300;

/// How often nodes not heard from for `forget_after` are forgotten (or
/// every half of `forget_after`, when that is shorter).
const FORGET_EVERY: Duration = Duration::from_secs(3600);

pub struct AgentsSeen {
    /// By cluster id, then node: the latest word of each.
    pending: Mutex<HashMap<String, HashMap<String, NodeReport>>>,
    /// Nodes a cluster keeps at most (`--max-nodes-per-cluster`).
    max_nodes: u64,
    /// Nodes silent this long are forgotten (`--forget-nodes-after`).
    forget_after: Duration,
    /// Reports of new nodes refused at the cap, since the start
    /// (`roster_node_reports_dropped_total`).
    dropped: AtomicU64,
}

impl Default for AgentsSeen {
    fn default() -> Self {
        AgentsSeen::new(
            crate::directory::fleet::MAX_NODES_PER_CLUSTER,
            crate::directory::fleet::FORGET_NODES_AFTER,
        )
    }
}

/// The node name an agent sent, if it is one.
pub fn node_name(header: Option<&str>) -> Option<String> {
    let name = header?.trim();
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    ok.then(|| name.to_string())
}

/// The error an agent reported, as plain printable text of bounded length
/// (it is shown in pages and terminals).
pub fn error_text(header: Option<&str>) -> Option<String> {
    let text: String = header?
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_ERROR)
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

impl AgentsSeen {
    pub fn new(max_nodes: u64, forget_after: Duration) -> Self {
        AgentsSeen {
            pending: Mutex::default(),
            max_nodes,
            forget_after,
            dropped: AtomicU64::new(0),
        }
    }

    pub fn record(&self, report: NodeReport) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let total: usize = pending.values().map(HashMap::len).sum();
        let nodes = pending.entry(report.cluster_id.clone()).or_default();
        // Whether a new name is one too many for its cluster, the store
        // decides (`put_node_reports`), knowing the nodes it keeps: a
        // known node's report is not dropped here for a flood of made-up
        // names in the same second. Checking a name costs the flush about
        // what its request cost the server.
        if !nodes.contains_key(&report.node) && total >= MAX_PENDING {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        nodes.insert(report.node.clone(), report);
    }

    /// Reports of new nodes refused because their cluster had as many as
    /// it may keep.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// What was gathered since the last call.
    pub fn take(&self) -> Vec<NodeReport> {
        self.pending
            .lock()
            .map(|mut p| {
                p.drain()
                    .flat_map(|(_, nodes)| nodes.into_values())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes the gathered reports every `FLUSH_EVERY`, and forgets silent
    /// nodes every `FORGET_EVERY` (the first time at start), for as long
    /// as the server runs.
    pub fn start_flushing(self: &Arc<Self>, directory: Directory) {
        let seen = Arc::clone(self);
        let forget_every = FORGET_EVERY.min(self.forget_after / 2).max(FLUSH_EVERY);
        tokio::spawn(async move {
            let mut forgot_at: Option<tokio::time::Instant> = None;
            let mut logged = 0;
            loop {
                if forgot_at.is_none_or(|t| t.elapsed() >= forget_every) {
                    forgot_at = Some(tokio::time::Instant::now());
                    match directory.forget_silent_nodes(seen.forget_after).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(
                            nodes = n,
                            "forgot nodes not heard from in {:?}",
                            seen.forget_after
                        ),
                        Err(e) => tracing::warn!(error = %e, "could not forget silent nodes"),
                    }
                }
                tokio::time::sleep(FLUSH_EVERY).await;
                let batch = seen.take();
                let n = batch.len();
                match directory.record_node_reports(batch, seen.max_nodes).await {
                    Ok(refused) => {
                        seen.dropped.fetch_add(refused, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, reports = n, "could not record what the agents reported")
                    }
                }
                // One line a second at most, however many were refused.
                let dropped = seen.dropped();
                if dropped > logged {
                    tracing::warn!(
                        refused = dropped - logged,
                        max_nodes = seen.max_nodes,
                        "reports of new nodes refused: their cluster has as many nodes as it may keep (roster serve --max-nodes-per-cluster; roster cluster forget-node)"
                    );
                    logged = dropped;
                }
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn report(node: &str, seq: i64) -> NodeReport {
        NodeReport {
            org_id: "o".into(),
            cluster_id: "c1".into(),
            node: node.into(),
            applied_seq: seq,
            error: None,
            slurm: false,
            reported_at: "t".into(),
        }
    }

    #[test]
    fn only_plain_names_and_printable_errors_are_kept_and_the_latest_word_counts() {
        assert_eq!(
            node_name(Some("gpu-001.cluster")),
            Some("gpu-001.cluster".into())
        );
        assert_eq!(node_name(Some("")), None);
        assert_eq!(node_name(Some("a b")), None);
        assert_eq!(node_name(Some("<script>")), None);
        assert_eq!(node_name(Some(&"n".repeat(65))), None);
        assert_eq!(
            error_text(Some("slurm: sacctmgr\u{1b}[31m down")),
            Some("slurm: sacctmgr[31m down".into())
        );
        assert_eq!(error_text(Some("   ")), None);
        assert_eq!(error_text(Some(&"e".repeat(1000))).unwrap().len(), 300);
        let seen = AgentsSeen::default();
        seen.record(report("n2", 5));
        seen.record(report("n1", 3));
        seen.record(report("n2", 7));
        let mut batch = seen.take();
        batch.sort_by(|a, b| a.node.cmp(&b.node));
        assert_eq!(batch.len(), 2);
        assert_eq!((batch[0].node.as_str(), batch[0].applied_seq), ("n1", 3));
        assert_eq!((batch[1].node.as_str(), batch[1].applied_seq), ("n2", 7));
        assert!(seen.take().is_empty(), "taken once");
    }
}
