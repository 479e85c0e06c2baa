//! The agents this server has heard from: each node's last request to its
//! cluster's change feed says which change it has applied (`after=`). The
//! console shows it beside the cluster's latest change, as the node's lag.
//!
//! Kept in memory, per server: a replica knows the agents that poll it,
//! and a restart forgets them until they ask again (within their wait).

use std::collections::HashMap;
use std::sync::Mutex;

/// Nodes remembered per cluster at most; past it the longest silent goes.
const MAX_NODES: usize = 10_000;

/// A node's name as its agent gives it (`X-Roster-Node`), at most this
/// long, of these characters; anything else is not a name.
const MAX_NAME: usize = 64;

/// What one node last said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSeen {
    pub node: String,
    /// The last change it has applied.
    pub applied: i64,
    /// When it asked (RFC 3339).
    pub at: String,
}

/// A cluster's nodes: name → (applied change, when it asked).
type Nodes = HashMap<String, (i64, String)>;

#[derive(Default)]
pub struct AgentsSeen {
    /// By cluster (`feed::seen_key`).
    clusters: Mutex<HashMap<String, Nodes>>,
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

impl AgentsSeen {
    pub fn record(&self, cluster_id: &str, node: String, applied: i64, at: String) {
        let Ok(mut clusters) = self.clusters.lock() else {
            return;
        };
        let nodes = clusters.entry(cluster_id.to_string()).or_default();
        if nodes.len() >= MAX_NODES && !nodes.contains_key(&node) {
            let oldest = nodes
                .iter()
                .min_by(|a, b| a.1.1.cmp(&b.1.1))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                nodes.remove(&k);
            }
        }
        nodes.insert(node, (applied, at));
    }

    /// The nodes of a cluster, by name.
    pub fn of(&self, cluster_id: &str) -> Vec<AgentSeen> {
        let Ok(clusters) = self.clusters.lock() else {
            return Vec::new();
        };
        let mut out: Vec<AgentSeen> = clusters
            .get(cluster_id)
            .map(|nodes| {
                nodes
                    .iter()
                    .map(|(node, (applied, at))| AgentSeen {
                        node: node.clone(),
                        applied: *applied,
                        at: at.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| a.node.cmp(&b.node));
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_kept_and_the_latest_word_counts() {
        assert_eq!(
            node_name(Some("gpu-001.cluster")),
            Some("gpu-001.cluster".into())
        );
        assert_eq!(node_name(Some("")), None);
        assert_eq!(node_name(Some("a b")), None);
        assert_eq!(node_name(Some("<script>")), None);
        assert_eq!(node_name(Some(&"n".repeat(65))), None);
        let seen = AgentsSeen::default();
        seen.record("c1", "n2".into(), 5, "t1".into());
        seen.record("c1", "n1".into(), 3, "t1".into());
        seen.record("c1", "n2".into(), 7, "t2".into());
        let nodes = seen.of("c1");
        assert_eq!(nodes.len(), 2);
        assert_eq!((nodes[0].node.as_str(), nodes[0].applied), ("n1", 3));
        assert_eq!((nodes[1].node.as_str(), nodes[1].applied), ("n2", 7));
        assert!(seen.of("c2").is_empty());
    }
}
