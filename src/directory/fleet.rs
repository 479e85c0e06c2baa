//! Seeing the fleet: what each node's agent reported on its feed requests
//! (the change it has applied, its last error, whether it manages Slurm),
//! and how far behind the cluster each node is. `roster cluster status`,
//! `roster explain` and the console's cluster page read it.

use std::time::Duration;

use super::clusters::{find_cluster, log_cluster_change};
use super::feed::{FEED_PAGE, touches};
use super::model::{Actor, ChangeKind, NodeReport};
use super::orgs::find_org;
use super::{Directory, DirectoryResult};

/// A node not heard from for this long is stale: its agent asks at least
/// every `feed::MAX_WAIT` (60 s) while it runs.
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// One node, as `roster cluster status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeStatus {
    #[serde(flatten)]
    pub report: NodeReport,
    /// Changes touching the cluster after the one it applied (at most
    /// `FEED_PAGE`; more counts as that many).
    pub behind: u64,
    /// Not heard from within `STALE_AFTER`.
    pub stale: bool,
    /// Its agent holds back a mass removal (its error says which).
    pub held: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterStatus {
    pub cluster: String,
    /// The org's latest change.
    pub latest: i64,
    pub nodes: Vec<NodeStatus>,
    /// Mass removals are approved for plans up to this change.
    pub removal_approved_through: Option<i64>,
}

impl ClusterStatus {
    /// Nodes that are up to date and were heard from recently.
    pub fn current(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.behind == 0 && !n.stale)
            .count()
    }
}

impl Directory {
    /// Records what nodes reported (a batch the server gathered).
    pub async fn record_node_reports(&self, reports: Vec<NodeReport>) -> DirectoryResult<()> {
        if reports.is_empty() {
            return Ok(());
        }
        self.write_quietly(move |tx| Ok(tx.put_node_reports(&reports)?))
            .await
    }

    /// A cluster's nodes: what each applied, how far behind it is, its
    /// last error, whether it is stale.
    pub async fn cluster_status(&self, org: &str, cluster: &str) -> DirectoryResult<ClusterStatus> {
        let now = self.clock().now();
        let (org, cluster) = (org.to_string(), cluster.to_string());
        self.read(move |tx| {
            let o = find_org(tx, &org)?;
            let c = find_cluster(tx, &o.id, &cluster)?;
            let latest = tx.last_seq(&o.id)?;
            let reports = tx.node_reports(&c.id)?;
            // How many changes after each position touch the cluster; nodes
            // mostly share a few positions.
            let mut behind_at: std::collections::HashMap<i64, u64> = Default::default();
            let mut nodes = Vec::with_capacity(reports.len());
            for report in reports {
                let behind = match behind_at.get(&report.applied_seq) {
                    Some(b) => *b,
                    None => {
                        let mut n = 0;
                        for (_, change) in tx.changes_after(&o.id, report.applied_seq, FEED_PAGE)? {
                            if touches(tx, &o.id, &c, &change)? {
                                n += 1;
                            }
                        }
                        behind_at.insert(report.applied_seq, n);
                        n
                    }
                };
                let stale = chrono::DateTime::parse_from_rfc3339(&report.reported_at)
                    .map(|t| {
                        (now - t.with_timezone(&chrono::Utc))
                            .to_std()
                            .is_ok_and(|age| age > STALE_AFTER)
                    })
                    .unwrap_or(true);
                let held = report
                    .error
                    .as_deref()
                    .is_some_and(|e| e.starts_with(crate::api_v1::HELD_PREFIX));
                nodes.push(NodeStatus {
                    report,
                    behind,
                    stale,
                    held,
                });
            }
            Ok(ClusterStatus {
                removal_approved_through: tx.removal_approval(&c.id)?,
                cluster: c.name,
                latest,
                nodes,
            })
        })
        .await
    }
}

impl Directory {
    /// Approves, once for every node, the mass removal the cluster's
    /// agents hold back: plans up to the change this records may remove
    /// more than the guard allows. Returns that change.
    pub async fn approve_removal(
        &self,
        by: &Actor,
        org: &str,
        cluster: &str,
    ) -> DirectoryResult<i64> {
        let now = self.now();
        let (org, cluster, by) = (org.to_string(), cluster.to_string(), by.clone());
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let mut c = find_cluster(tx, &o.id, &cluster)?;
            // A change to the cluster wakes its agents, who fetch the
            // snapshot that carries the approval.
            c.modified = now.clone();
            log_cluster_change(tx, &c, ChangeKind::Updated)?;
            let seq = tx.last_seq(&o.id)?;
            tx.approve_removal(&o.id, &c.id, seq)?;
            super::audit::record_as(
                tx,
                &o.id,
                &by,
                &now,
                "cluster.approve_removal",
                &c.name,
                format!("mass removals approved for plans up to change {seq}"),
            )?;
            Ok(seq)
        })
        .await
    }
}

/// One cluster's nodes in numbers, for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetGauge {
    pub org: String,
    pub cluster: String,
    pub nodes: usize,
    pub behind: usize,
    pub stale: usize,
    pub failing: usize,
    pub held: usize,
}

impl Directory {
    /// Every cluster's nodes in numbers.
    pub async fn fleet_gauges(&self) -> DirectoryResult<Vec<FleetGauge>> {
        let mut out = Vec::new();
        for org in self.list_orgs().await? {
            for c in self.clusters(&org.id).await? {
                let s = self.cluster_status(&org.id, &c.cluster.name).await?;
                let count =
                    |f: &dyn Fn(&NodeStatus) -> bool| s.nodes.iter().filter(|n| f(n)).count();
                out.push(FleetGauge {
                    org: org.name.clone(),
                    cluster: s.cluster.clone(),
                    nodes: s.nodes.len(),
                    behind: count(&|n| n.behind > 0),
                    stale: count(&|n| n.stale),
                    failing: count(&|n| n.report.error.is_some() && !n.held),
                    held: count(&|n| n.held),
                });
            }
        }
        Ok(out)
    }
}
