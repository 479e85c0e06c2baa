//! "Why can't this person log in?": the whole path from the directory to
//! a node's NSS maps, walked for one user, as a checklist whose failing
//! step comes first with what to do about it.

use serde_json::Value;

use super::fleet::ClusterStatus;
use super::model::{Principal, ResourceType};
use super::ssh_keys::check_key;
use super::{Directory, DirectoryError, DirectoryResult};

/// How a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// This step stops the person from logging in.
    Fail,
    /// It may, or it limits them (a bad key among good ones).
    Warn,
    Ok,
}

/// One step of the path.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub step: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do, when something is to be done.
    pub fix: Option<String>,
}

/// The checklist for one user (and one cluster, when named), failing
/// steps first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explanation {
    pub user: String,
    pub cluster: Option<String>,
    /// The change-log position the cluster's maps were read at.
    pub seq: Option<i64>,
    pub steps: Vec<Step>,
}

impl Explanation {
    pub fn can_log_in(&self) -> bool {
        self.steps.iter().all(|s| s.verdict != Verdict::Fail)
    }
}

fn step(step: &'static str, verdict: Verdict, detail: String, fix: Option<String>) -> Step {
    Step {
        step,
        verdict,
        detail,
        fix,
    }
}

/// Whether the cluster's nodes have applied its changes (what their
/// agents last reported).
fn agents_step(fleet: &ClusterStatus) -> Step {
    let n = fleet.nodes.len();
    if n == 0 {
        return step(
            "agents",
            Verdict::Warn,
            format!("no agent has reported for {}: nodes that run `roster agent` say what they applied; nodes on stock nsscache do not", fleet.cluster),
            Some("start roster agent on the nodes (docs/agent.md), or check them by hand: getent passwd NAME".into()),
        );
    }
    let lagging: Vec<String> = fleet
        .nodes
        .iter()
        .filter(|s| s.behind > 0 || s.stale)
        .map(|s| {
            if s.stale {
                format!("{} (silent since {})", s.report.node, s.report.reported_at)
            } else {
                format!("{} ({} change(s) behind)", s.report.node, s.behind)
            }
        })
        .collect();
    if lagging.is_empty() {
        return step(
            "agents",
            Verdict::Ok,
            format!(
                "all {n} node(s) of {} have applied its latest change",
                fleet.cluster
            ),
            None,
        );
    }
    let shown: Vec<&str> = lagging.iter().take(10).map(String::as_str).collect();
    step(
        "agents",
        if lagging.len() == n {
            Verdict::Fail
        } else {
            Verdict::Warn
        },
        format!(
            "{} of {n} node(s) have not applied {}'s latest changes, so may not know the person yet: {}{}",
            lagging.len(),
            fleet.cluster,
            shown.join(", "),
            if lagging.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        ),
        Some(format!(
            "roster cluster status ORG {} lists them; on a node: roster agent status, and the agent's log (journalctl -u roster-agent)",
            fleet.cluster
        )),
    )
}

/// The person's Slurm associations: planned from the cluster's groups,
/// applied by the agent that manages Slurm (from its last report).
fn slurm_step(fleet: &ClusterStatus, accounts: &[&str]) -> Step {
    let planned = if accounts.is_empty() {
        "no Slurm association planned (in none of the cluster's groups' accounts)".to_string()
    } else {
        format!(
            "associations planned with account(s) [{}]",
            accounts.join(", ")
        )
    };
    let Some(agent) = fleet.nodes.iter().find(|s| s.report.slurm) else {
        return step(
            "slurm",
            Verdict::Warn,
            format!("{planned}; no agent managing Slurm (--slurm-cluster) has reported for {}", fleet.cluster),
            Some("if the cluster runs Slurm, run one roster agent with --slurm-cluster where sacctmgr works (docs/agent.md)".into()),
        );
    };
    let node = &agent.report.node;
    if let Some(e) = agent
        .report
        .error
        .as_deref()
        .filter(|e| e.starts_with("slurm:"))
    {
        return step(
            "slurm",
            Verdict::Fail,
            format!("{planned}; the Slurm agent on {node} fails: {e}"),
            Some(format!(
                "check slurmdbd and munge from {node} (sacctmgr show cluster); the agent retries on its own"
            )),
        );
    }
    if agent.behind > 0 || agent.stale {
        return step(
            "slurm",
            Verdict::Warn,
            format!("{planned}; the Slurm agent on {node} has not applied the latest changes"),
            Some(format!(
                "roster cluster status ORG {} shows it",
                fleet.cluster
            )),
        );
    }
    step(
        "slurm",
        Verdict::Ok,
        format!("{planned}; applied by the Slurm agent on {node}"),
        None,
    )
}

impl Directory {
    /// The person's last SAML sign-in and last refusal.
    async fn sign_in_step(
        &self,
        org_id: &str,
        doc: &serde_json::Map<String, Value>,
    ) -> DirectoryResult<Step> {
        let mut subjects: Vec<String> = doc
            .get("userName")
            .and_then(Value::as_str)
            .map(str::to_string)
            .into_iter()
            .collect();
        subjects.extend(
            doc.get("emails")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .map(str::to_string),
        );
        let (ok, refused) = self.last_sign_ins(org_id, subjects).await?;
        let refused_last = match (&ok, &refused) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(o), Some(r)) => o.at < r.at,
        };
        Ok(match (ok, refused) {
            (ok, Some(refused)) if refused_last => step(
                "sign-in",
                Verdict::Warn,
                format!(
                    "last SAML sign-in refused {}: {}{}",
                    refused.at,
                    refused.detail,
                    ok.map(|o| format!("; last one that worked {}", o.at))
                        .unwrap_or_default()
                ),
                Some(
                    "the refusal says what to change (the IdP's assignment, the user's state)"
                        .into(),
                ),
            ),
            (Some(ok), Some(refused)) => step(
                "sign-in",
                Verdict::Ok,
                format!(
                    "last SAML sign-in {}: {} (an earlier one was refused {}: {})",
                    ok.at, ok.detail, refused.at, refused.detail
                ),
                None,
            ),
            (None, _) => step(
                "sign-in",
                Verdict::Ok,
                "no SAML sign-in on record (SSH needs none; the console does)".into(),
                None,
            ),
            (Some(ok), None) => step(
                "sign-in",
                Verdict::Ok,
                format!("last SAML sign-in {}: {}", ok.at, ok.detail),
                None,
            ),
        })
    }

    /// Walks the path for `user` (id, userName or POSIX username): the
    /// user, their POSIX identity, their keys, their groups and the
    /// clusters those reach, and, for `cluster`, the maps the nodes read.
    pub async fn explain(
        &self,
        p: &Principal,
        user: &str,
        cluster: Option<&str>,
    ) -> DirectoryResult<Explanation> {
        let org = &p.org;
        let v = self.find(p, ResourceType::User, user).await?;
        let doc = &v.stored.doc;
        let user_name = doc
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut steps = Vec::new();

        let active = doc.get("active").and_then(Value::as_bool) != Some(false);
        let source = if doc.get("externalId").is_some() {
            "provisioned by the identity provider over SCIM"
        } else {
            "added in Roster (by hand, or at a first sign-in)"
        };
        steps.push(if active {
            step("user", Verdict::Ok, format!("{user_name} exists and is active; {source}"), None)
        } else {
            step(
                "user",
                Verdict::Fail,
                format!("{user_name} is deactivated ({source}): deactivated users leave every cluster's maps"),
                Some(if doc.get("externalId").is_some() {
                    "reactivate them in the identity provider (assign them to the app again); its next push sets active".into()
                } else {
                    "reactivate them with a SCIM PATCH of active, or create them again".into()
                }),
            )
        });

        if !org.settings.sup {
            steps.push(step(
                "posix",
                Verdict::Fail,
                format!("SUNK User Provisioning is off for {}: nobody has a POSIX identity or appears in a cluster's maps", org.name),
                Some(format!("roster org set {} --sup on (or the console's SCIM Configuration)", org.name)),
            ));
        } else if let Some(a) = &v.posix {
            let mut said = format!("POSIX username {}", a.name);
            if let Some(uid) = a.uid {
                said.push_str(&format!(", UID {uid}"));
            }
            said.push_str(&format!(", GID {}", a.gid));
            for (what, value) in [("home", &a.home), ("shell", &a.shell)] {
                if let Some(v) = value {
                    said.push_str(&format!(", {what} {v}"));
                }
            }
            steps.push(step("posix", Verdict::Ok, said, None));
        } else {
            steps.push(step(
                "posix",
                Verdict::Fail,
                "no POSIX identity was assigned".into(),
                Some(
                    "check the provisioning log for the refusal (roster scim-log ORG --failed)"
                        .into(),
                ),
            ));
        }

        let keys = super::ssh_keys::stored_keys(doc);
        let bad: Vec<String> = keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| {
                check_key(k)
                    .err()
                    .map(|why| format!("key {}: {why}", i + 1))
            })
            .collect();
        let good = keys.len() - bad.len();
        steps.push(match (good, bad.is_empty()) {
            (0, true) => step(
                "ssh keys",
                Verdict::Fail,
                "no SSH key: sshd has nothing to accept".into(),
                Some("add a key in the console's Settings (the person) or user details (an admin), or the IdP's sunkSshKeys".into()),
            ),
            (0, false) => step(
                "ssh keys",
                Verdict::Fail,
                format!("no valid SSH key; {}", bad.join("; ")),
                Some("replace the keys with valid ones (ssh-ed25519, ECDSA, RSA of 2048 bits or more)".into()),
            ),
            (n, true) => step("ssh keys", Verdict::Ok, format!("{n} valid key(s), all served"), None),
            (n, false) => step(
                "ssh keys",
                Verdict::Warn,
                format!("{n} valid key(s) served; not served: {}", bad.join("; ")),
                Some("replace the keys that are not served".into()),
            ),
        });

        let groups: Vec<(String, String)> = v
            .groups
            .iter()
            .flatten()
            .map(|g| (g.group_id.clone(), g.display.clone()))
            .collect();
        let clusters = self.clusters(&org.id).await?;
        let reached: Vec<String> = clusters
            .iter()
            .filter(|c| {
                groups
                    .iter()
                    .any(|(id, _)| c.cluster.group_ids.contains(id))
            })
            .map(|c| c.cluster.name.clone())
            .collect();
        let group_names: Vec<&str> = groups.iter().map(|(_, n)| n.as_str()).collect();
        let mut seq = None;
        match cluster {
            None => steps.push(if reached.is_empty() {
                step(
                    "clusters",
                    Verdict::Fail,
                    format!(
                        "in groups [{}], none of which reaches a cluster",
                        group_names.join(", ")
                    ),
                    Some("add them to a group a cluster provisions (roster group add-member ORG GROUP USER)".into()),
                )
            } else {
                step(
                    "clusters",
                    Verdict::Ok,
                    format!(
                        "in groups [{}], reaching clusters [{}]",
                        group_names.join(", "),
                        reached.join(", ")
                    ),
                    None,
                )
            }),
            Some(name) => {
                let c = clusters
                    .iter()
                    .find(|c| c.cluster.name.eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        DirectoryError::NotFound(format!(
                            "no cluster \"{name}\" in {}; `roster cluster list {}` shows them",
                            org.name, org.name
                        ))
                    })?;
                let via: Vec<&str> = groups
                    .iter()
                    .filter(|(id, _)| c.cluster.group_ids.contains(id))
                    .map(|(_, n)| n.as_str())
                    .collect();
                let cluster_groups: Vec<&str> =
                    c.groups.iter().map(|(_, n, _)| n.as_str()).collect();
                steps.push(if via.is_empty() {
                    step(
                        "cluster groups",
                        Verdict::Fail,
                        format!(
                            "in groups [{}]; {} provisions [{}]",
                            group_names.join(", "),
                            c.cluster.name,
                            cluster_groups.join(", ")
                        ),
                        Some(format!(
                            "add them to one of [{}], or give {} one of their groups (roster cluster set-groups)",
                            cluster_groups.join(", "),
                            c.cluster.name
                        )),
                    )
                } else {
                    step(
                        "cluster groups",
                        Verdict::Ok,
                        format!("{} reaches them through [{}]", c.cluster.name, via.join(", ")),
                        None,
                    )
                });
                if org.settings.sup
                    && let Some(a) = &v.posix
                {
                    let (maps, content) = self.nss_maps(p, &c.cluster.name).await?;
                    seq = Some(maps.seq);
                    let line = format!("{}:", a.name);
                    let in_passwd = content.passwd.lines().any(|l| l.starts_with(&line));
                    let in_sshkey = content.sshkey.lines().any(|l| l.starts_with(&line));
                    steps.push(match (in_passwd, in_sshkey) {
                        (true, true) => step(
                            "maps",
                            Verdict::Ok,
                            format!("in {}'s passwd and sshkey maps at change {}", c.cluster.name, maps.seq),
                            None,
                        ),
                        (true, false) => step(
                            "maps",
                            Verdict::Fail,
                            format!("in {}'s passwd map at change {}, but with no key in its sshkey map", c.cluster.name, maps.seq),
                            Some("give them a valid SSH key".into()),
                        ),
                        (false, _) => step(
                            "maps",
                            Verdict::Fail,
                            format!("not in {}'s passwd map at change {}", c.cluster.name, maps.seq),
                            Some("the steps above say why".into()),
                        ),
                    });
                    let accounts: Vec<&str> = content
                        .accounts
                        .iter()
                        .filter(|(_, _, members, _)| members.contains(&a.name))
                        .map(|(name, _, _, _)| name.as_str())
                        .collect();
                    let fleet = self.cluster_status(&org.id, &c.cluster.name).await?;
                    steps.push(agents_step(&fleet));
                    steps.push(slurm_step(&fleet, &accounts));
                }
            }
        }
        steps.push(self.sign_in_step(&org.id, doc).await?);
        steps.sort_by_key(|s| s.verdict);
        Ok(Explanation {
            user: user_name,
            cluster: cluster.map(str::to_string),
            seq,
            steps,
        })
    }
}
