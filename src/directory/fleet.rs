//! Seeing the fleet: what each node's agent reported on its feed requests
//! (the change it has applied, its last error, whether it manages Slurm),
//! and how far behind the cluster each node is. `roster cluster status`,
//! `roster explain` and the console's cluster page read it.

use std::time::Duration;

use super::clusters::{find_cluster, log_cluster_change};
use super::feed::{FEED_PAGE, touches};
use super::model::{Actor, ChangeKind, Cluster, NodeReport};
use super::orgs::find_org;
use super::store::ReadTx;
use super::{Directory, DirectoryError, DirectoryResult};

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

/// Nodes a cluster keeps reports of, unless `roster serve
/// --max-nodes-per-cluster` says otherwise: one token speaks for every
/// node of its cluster, and each name it sends would otherwise be a row
/// for ever (docs/security.md, "Nodes and cluster tokens").
pub const MAX_NODES_PER_CLUSTER: u64 = 10_000;

/// A node not heard from for this long is forgotten, unless `roster
/// serve --forget-nodes-after` says otherwise.
pub const FORGET_NODES_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

impl Directory {
    /// Records what nodes reported (a batch the server gathered): known
    /// nodes are updated, and a cluster takes new nodes only while it has
    /// fewer than `max_nodes`. Returns how many new nodes were refused.
    pub async fn record_node_reports(
        &self,
        reports: Vec<NodeReport>,
        max_nodes: u64,
    ) -> DirectoryResult<u64> {
        if reports.is_empty() {
            return Ok(0);
        }
        self.write_quietly(move |tx| Ok(tx.put_node_reports(&reports, max_nodes)?))
            .await
    }

    /// Forgets the nodes of every cluster not heard from within `silent`
    /// (a node that was decommissioned or renamed); returns how many.
    pub async fn forget_silent_nodes(&self, silent: Duration) -> DirectoryResult<u64> {
        let cutoff = chrono::Duration::from_std(silent)
            .ok()
            .and_then(|d| self.clock().now().checked_sub_signed(d));
        let Some(cutoff) = cutoff else {
            return Ok(0);
        };
        let before = crate::scim::resource::format_time(cutoff);
        self.write_quietly(move |tx| Ok(tx.prune_node_reports(&before)?))
            .await
    }

    /// Forgets one node of a cluster (`roster cluster forget-node`): it no
    /// longer counts in `roster cluster status` or `/metrics`, nor against
    /// the cluster's cap, until its agent reports again.
    pub async fn forget_node(
        &self,
        by: &Actor,
        org: &str,
        cluster: &str,
        node: &str,
    ) -> DirectoryResult<()> {
        let now = self.now();
        let (org, cluster, node, by) = (
            org.to_string(),
            cluster.to_string(),
            node.to_string(),
            by.clone(),
        );
        self.write_quietly(move |tx| {
            let o = find_org(tx, &org)?;
            let c = find_cluster(tx, &o.id, &cluster)?;
            if !tx.delete_node_report(&c.id, &node)? {
                return Err(DirectoryError::NotFound(format!(
                    "cluster \"{}\" has no node \"{node}\"; `roster cluster status {} {}` lists its nodes",
                    c.name, o.name, c.name
                )));
            }
            super::audit::record_as(
                tx,
                &o.id,
                &by,
                &now,
                "cluster.forget_node",
                &c.name,
                format!("node {node} forgotten"),
            )
        })
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
            let lag = Lag::read(tx, &o.id, &c, latest, reports.iter().map(|r| r.applied_seq))?;
            let mut nodes = Vec::with_capacity(reports.len());
            for report in reports {
                let behind = lag.behind(report.applied_seq);
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

/// How far behind the cluster each position is, from one read of the
/// org's latest changes (at most `FEED_PAGE`), each change checked once
/// for the cluster: the cost does not grow with the number of nodes or of
/// positions they report (one read per position cost about 2 s for 2,000
/// nodes at 2,000 positions).
struct Lag {
    /// The oldest change read; a position before it is more than
    /// `FEED_PAGE` changes behind.
    from: i64,
    /// The changes read that touch the cluster, ascending.
    touching: Vec<i64>,
}

impl Lag {
    fn read(
        tx: &mut dyn ReadTx,
        org_id: &str,
        cluster: &Cluster,
        latest: i64,
        positions: impl Iterator<Item = i64>,
    ) -> DirectoryResult<Lag> {
        // Change sequence numbers are consecutive in an org: the window
        // is what follows the oldest position, or the last FEED_PAGE.
        let oldest = positions.min().unwrap_or(latest);
        let from = oldest
            .max(latest.saturating_sub(FEED_PAGE as i64))
            .min(latest);
        let mut touching = Vec::new();
        for (seq, change) in tx.changes_after(org_id, from, FEED_PAGE)? {
            if touches(tx, org_id, cluster, &change)? {
                touching.push(seq);
            }
        }
        Ok(Lag { from, touching })
    }

    /// Changes touching the cluster after `applied` (at most
    /// `FEED_PAGE`: a node further behind resyncs from a snapshot).
    fn behind(&self, applied: i64) -> u64 {
        if applied < self.from {
            return FEED_PAGE;
        }
        let later = self.touching.len() - self.touching.partition_point(|s| *s <= applied);
        later as u64
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
