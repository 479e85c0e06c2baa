//! Handing a cluster's existing Slurm accounts to Roster (`roster import
//! --slurm`): the accounts of a `sacctmgr dump` are recorded as adopted by
//! a Roster cluster, whose agent then marks each (Organization
//! `roster-CLUSTER`) once a group of that POSIX name is provisioned there,
//! and manages it from then on. Without this the agent leaves an account
//! it did not create alone, for ever. Users and their associations are
//! reported: the IdP's groups decide members.

use std::collections::HashSet;

use super::clusters::{find_cluster, log_cluster_change};
use super::model::{ChangeKind, LedgerKind, Principal};
use super::orgs::find_org;
use super::posix_import::{ImportLine, ImportReport, describe_owner};
use super::posix_rules::check_name;
use super::resources::require_writes;
use super::{Directory, DirectoryResult};
use crate::api_v1::slurm_organization as organization;
use crate::slurm_dump::SlurmDump;

impl Directory {
    /// Records the accounts of `dump` as `cluster`'s to adopt. All or
    /// nothing, like the other imports; running it again changes nothing.
    pub async fn import_slurm(
        &self,
        p: &Principal,
        cluster: &str,
        dump: SlurmDump,
        dry_run: bool,
    ) -> DirectoryResult<ImportReport> {
        require_writes(p)?;
        let (org, cluster, who) = (p.org.id.clone(), cluster.to_string(), p.clone());
        let now = self.now();
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let mut c = find_cluster(tx, &o.id, &cluster)?;
            let mark = organization(&c.name);
            let adopted: HashSet<String> = tx.slurm_adoptions(&c.id)?.into_iter().collect();
            let mut report = ImportReport::default();
            let line = |kind, name: &str, outcome, detail: String| ImportLine {
                kind,
                name: name.to_string(),
                outcome,
                detail,
            };
            let mut take = Vec::new();
            for a in dump.accounts.iter().filter(|a| a.name != "root") {
                let users: Vec<&str> = dump
                    .users
                    .iter()
                    .filter(|(_, u)| u.accounts.contains(&a.name))
                    .map(|(n, _)| n.as_str())
                    .collect();
                let said_org = a.organization.as_deref().unwrap_or("").to_lowercase();
                if said_org == mark {
                    report.lines.push(line("account", &a.name, "unchanged", format!(
                        "already {}'s agent's (Organization {mark})", c.name
                    )));
                } else if said_org.starts_with("roster-") {
                    report.conflicts.push(format!(
                        "account {}: Roster's agent of another cluster manages it (Organization {said_org}); one cluster's agent manages an account: leave it out of this dump, or import it for that cluster",
                        a.name
                    ));
                } else if let Err(why) = check_name(&a.name) {
                    report.lines.push(line("account", &a.name, "skipped", format!(
                        "{why}: no Roster group can have this POSIX name, so none maps to this account; it stays the site's"
                    )));
                } else if adopted.contains(&a.name) {
                    report.lines.push(line("account", &a.name, "unchanged", format!(
                        "handed to {}'s agent by an earlier import", c.name
                    )));
                } else {
                    let others = if users.is_empty() {
                        "it has no user associations now".to_string()
                    } else {
                        format!(
                            "its {} association(s) now ({}) stay only for the group's members",
                            users.len(),
                            users.join(", ")
                        )
                    };
                    report.lines.push(line("account", &a.name, "kept", format!(
                        "handed to {}'s agent: once a group with POSIX name {} is provisioned there, the agent marks the account as Roster's (Organization {mark}) and manages it; {others}",
                        c.name, a.name
                    )));
                    take.push(a.name.clone());
                }
            }
            for (name, u) in dump.users.iter().filter(|(n, _)| *n != "root") {
                let identity = match tx.posix_owner(&o.id, LedgerKind::Name, name)? {
                    Some(owner) => format!("the POSIX name {name} belongs to {}", describe_owner(tx, &o.id, &owner)?),
                    None => format!(
                        "no identity is named {name} in Roster yet: keep its UID first (roster import --passwd/--ldif), or the IdP's person gets a new one"
                    ),
                };
                report.lines.push(line("user", name, "noted", format!(
                    "associated with [{}]{}; {identity}",
                    u.accounts.join(", "),
                    u.default_account.as_ref().map(|d| format!(", default {d}")).unwrap_or_default()
                )));
            }
            if !report.conflicts.is_empty() || dry_run {
                return Ok(report);
            }
            for a in &take {
                tx.adopt_slurm_account(&o.id, &c.id, a)?;
            }
            report.applied = true;
            if !take.is_empty() {
                // Agents learn of it as a change to the cluster.
                c.modified = now.clone();
                log_cluster_change(tx, &c, ChangeKind::Updated)?;
                super::audit::record(
                    tx,
                    &who,
                    &now,
                    "import",
                    &format!("sacctmgr dump of {}", dump.cluster),
                    format!("{} Slurm account(s) handed to {}: {}", take.len(), c.name, take.join(", ")),
                )?;
            }
            Ok(report)
        })
        .await
    }
}
