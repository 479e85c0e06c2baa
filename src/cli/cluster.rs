//! `roster cluster ...`: the clusters of an org, the groups each
//! provisions, and their read-only tokens (docs/clusters.md).

use clap::Subcommand;
use serde_json::json;

use super::output::print_json;
use super::{Global, cli_public_url, err, open_directory};
use roster::directory::clusters::ClusterView;

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Register a cluster and the groups it provisions.
    Create {
        /// Organization id or name.
        org: String,
        /// The cluster's name, unique in the org.
        name: String,
        /// Groups to provision, by display name, POSIX name or id, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// Replace the groups a cluster provisions.
    SetGroups {
        /// Organization id or name.
        org: String,
        /// Cluster name or id.
        cluster: String,
        /// Groups to provision, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// List clusters.
    List {
        /// Organization id or name.
        org: String,
    },
    /// Show a cluster, its groups and its map URLs.
    Show {
        /// Organization id or name.
        org: String,
        /// Cluster name or id.
        cluster: String,
    },
    /// The cluster's nodes: the change each agent has applied, how far
    /// behind it is, its last error, and which are stale (silent for two
    /// minutes). Exits 1 when a node is behind, stale or failing.
    #[command(after_help = "\
Each running `roster agent` reports on its feed requests (its node name,
--node-name; the change it applied; its last error; whether it manages
Slurm); the server records the reports within a second.

Examples:
  roster cluster status acme prod
  roster cluster status acme prod --json | jq '.nodes[] | select(.stale)'")]
    Status {
        /// Organization id or name.
        org: String,
        /// Cluster name or id.
        cluster: String,
    },
    /// Approve, once for every node, the mass removal the cluster's agents
    /// hold back (`roster cluster status` shows it and who it removes).
    #[command(after_help = "\
An agent holds back a plan that removes more than --max-removal-share of the
cluster's users (and at least --min-mass-removal of them): an IdP mistake must
not empty 500 nodes. This approves the plans up to the cluster's current
change; every node's agent applies its removal at its next pass. A later change
that again removes many is held again.")]
    ApproveRemoval {
        /// Organization id or name.
        org: String,
        /// Cluster name or id.
        cluster: String,
    },
    /// Forget a node of the cluster (decommissioned or renamed): it leaves
    /// `roster cluster status` and /metrics, and frees its place under
    /// `roster serve --max-nodes-per-cluster`.
    #[command(after_help = "\
The server forgets nodes silent for `roster serve --forget-nodes-after` (7 days
by default) by itself; this forgets one now. A node whose agent still runs
comes back at its next request.

Example:
  roster cluster forget-node acme prod gpu-017")]
    ForgetNode {
        /// Organization id or name.
        org: String,
        /// Cluster name or id.
        cluster: String,
        /// The node's name, as `roster cluster status` shows it.
        node: String,
    },
    /// Read-only tokens for a cluster's nodes.
    #[command(subcommand)]
    Token(ClusterTokenCommand),
}

#[derive(Subcommand)]
pub enum ClusterTokenCommand {
    /// Create a read-only token that reads this cluster's maps and SCIM resources; printed once.
    Create {
        /// Organization id or name.
        org: String,
        /// Cluster name or id.
        cluster: String,
    },
}

fn cluster_json(v: &ClusterView, base: &str) -> serde_json::Value {
    let c = &v.cluster;
    let maps: Vec<String> = ["passwd", "group", "shadow", "sshkey"]
        .iter()
        .map(|m| format!("{base}/nss/{}/{}/{m}", c.org_id, c.name))
        .collect();
    json!({
        "id": c.id,
        "name": c.name,
        "created": c.created,
        "groups": v.groups.iter().map(|(id, name, a)| json!({
            "id": id, "displayName": name,
            "posixName": a.as_ref().map(|a| a.name.clone()),
            "gid": a.as_ref().map(|a| a.gid),
        })).collect::<Vec<_>>(),
        "maps": maps,
    })
}

pub async fn run(g: &Global, cmd: &ClusterCommand) -> Result<(), String> {
    let dir = open_directory(g)?;
    let base = cli_public_url(g, &dir).await;
    let show = |v: &ClusterView| {
        if g.json {
            print_json(cluster_json(v, &base));
        } else {
            println!(
                "{}  {}  groups: {}",
                v.cluster.id,
                v.cluster.name,
                v.groups
                    .iter()
                    .map(|(_, n, a)| match a {
                        Some(a) => format!("{n} ({}, gid {})", a.name, a.gid),
                        None => n.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    };
    match cmd {
        ClusterCommand::Create { org, name, groups } => show(
            &dir.create_cluster(&super::cli_actor(), org, name, groups.clone())
                .await
                .map_err(err)?,
        ),
        ClusterCommand::SetGroups {
            org,
            cluster,
            groups,
        } => show(
            &dir.set_cluster_groups(&super::cli_actor(), org, cluster, groups.clone())
                .await
                .map_err(err)?,
        ),
        ClusterCommand::List { org } => {
            let all = dir.clusters(org).await.map_err(err)?;
            if g.json {
                print_json(json!(
                    all.iter()
                        .map(|v| cluster_json(v, &base))
                        .collect::<Vec<_>>()
                ));
            } else if all.is_empty() {
                eprintln!(
                    "No clusters. Register one with: roster cluster create {org} NAME --groups GROUP,..."
                );
            } else {
                all.iter().for_each(show);
            }
        }
        ClusterCommand::Show { org, cluster } => {
            let v = dir.cluster(org, cluster).await.map_err(err)?;
            show(&v);
            if !g.json {
                for url in cluster_json(&v, &base)
                    .get("maps")
                    .and_then(|m| m.as_array())
                    .cloned()
                    .into_iter()
                    .flatten()
                {
                    println!("  {}", url.as_str().unwrap_or(""));
                }
            }
        }
        ClusterCommand::Status { org, cluster } => {
            let status = dir.cluster_status(org, cluster).await.map_err(err)?;
            if g.json {
                print_json(json!(status));
            } else {
                print_status(&status);
            }
            let n = status.nodes.len();
            if n > 0 && status.current() < n {
                return Err(format!(
                    "{} of {n} node(s) behind, stale or failing",
                    n - status.current()
                ));
            }
        }
        ClusterCommand::ApproveRemoval { org, cluster } => {
            let seq = dir
                .approve_removal(&super::cli_actor(), org, cluster)
                .await
                .map_err(err)?;
            if g.json {
                print_json(json!({"approved_through": seq}));
            } else {
                println!(
                    "Mass removals on {cluster} approved for plans up to change {seq}; each node's agent applies them at its next pass (roster cluster status {org} {cluster})."
                );
            }
        }
        ClusterCommand::ForgetNode { org, cluster, node } => {
            dir.forget_node(&super::cli_actor(), org, cluster, node)
                .await
                .map_err(err)?;
            if g.json {
                print_json(json!({"forgotten": node}));
            } else {
                println!("Node {node} of {cluster} forgotten.");
            }
        }
        ClusterCommand::Token(ClusterTokenCommand::Create { org, cluster }) => {
            let (t, secret) = dir
                .create_cluster_token(&super::cli_actor(), org, cluster)
                .await
                .map_err(err)?;
            if g.json {
                print_json(json!({"id": t.id, "name": t.name, "token": secret}));
            } else {
                println!("{secret}");
                eprintln!(
                    "Read-only token \"{}\" (id {}); shown only this once.",
                    t.name, t.id
                );
            }
        }
    }
    Ok(())
}

fn print_status(s: &roster::directory::fleet::ClusterStatus) {
    println!(
        "cluster {}: latest change {}; {} of {} node(s) up to date",
        s.cluster,
        s.latest,
        s.current(),
        s.nodes.len()
    );
    if let Some(seq) = s.removal_approved_through {
        println!("mass removals approved for plans up to change {seq}");
    }
    if s.nodes.iter().any(|n| n.held) {
        println!(
            "A mass removal is held back; if it is intended: roster cluster approve-removal ORG {}",
            s.cluster
        );
    }
    if s.nodes.is_empty() {
        println!("No agent has reported yet: start `roster agent` on the nodes (docs/agent.md).");
        return;
    }
    println!(
        "{:<28} {:>8} {:>8}  {:<20}  STATE",
        "NODE", "APPLIED", "BEHIND", "LAST ASKED"
    );
    for n in &s.nodes {
        let mut state = Vec::new();
        if n.stale {
            state.push("STALE (silent over 2 minutes)".to_string());
        }
        if let Some(e) = &n.report.error {
            state.push(if n.held {
                format!("HELD {e}")
            } else {
                format!("ERROR {e}")
            });
        }
        if state.is_empty() {
            state.push("ok".into());
        }
        let node = if n.report.slurm {
            format!("{} (Slurm)", n.report.node)
        } else {
            n.report.node.clone()
        };
        println!(
            "{:<28} {:>8} {:>8}  {:<20}  {}",
            node,
            n.report.applied_seq,
            n.behind,
            n.report.reported_at,
            state.join("; ")
        );
    }
}
