//! What the agents say: each node's feed requests carry its name
//! (`X-Roster-Node`), the change it has applied (`after=`), its last error
//! (`X-Roster-Error`) and whether it manages Slurm (`X-Roster-Slurm`).
//! Reports gather in memory and are written to the store in one quiet
//! batch a second (2,000 nodes answering one change cost one write, not
//! 2,000), where `roster cluster status`, `roster explain` and every
//! replica's console read them.

use std::collections::HashMap;
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

#[derive(Default)]
pub struct AgentsSeen {
    /// By (cluster id, node): the latest word of each.
    pending: Mutex<HashMap<(String, String), NodeReport>>,
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
    pub fn record(&self, report: NodeReport) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let key = (report.cluster_id.clone(), report.node.clone());
        if pending.len() >= MAX_PENDING && !pending.contains_key(&key) {
            return;
        }
        pending.insert(key, report);
    }

    /// What was gathered since the last call.
    pub fn take(&self) -> Vec<NodeReport> {
        self.pending
            .lock()
            .map(|mut p| p.drain().map(|(_, r)| r).collect())
            .unwrap_or_default()
    }

    /// Writes the gathered reports every `FLUSH_EVERY`, for as long as the
    /// server runs.
    pub fn start_flushing(self: &Arc<Self>, directory: Directory) {
        let seen = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FLUSH_EVERY).await;
                let batch = seen.take();
                let n = batch.len();
                if let Err(e) = directory.record_node_reports(batch).await {
                    tracing::warn!(error = %e, reports = n, "could not record what the agents reported");
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
