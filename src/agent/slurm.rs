//! Planning Slurm's accounting (docs/agent.md, "What it does"): each
//! provisioned group is an account named by its POSIX group name, each
//! active member a user with an association to each of its groups'
//! accounts, its default account the first of them by name. The plan is the
//! difference between what `sacctmgr` shows and what is wanted, ordered so
//! that a user's default moves before the association it names goes, and it
//! never touches accounts Roster did not create or users on the ignore
//! list, but for the existing accounts an import handed to it (`adopt`),
//! which it marks as its own first and manages from then on.
//!
//! `plan` and `simulate` are pure; `read_state` and `apply` run `sacctmgr`.

use std::collections::{BTreeMap, BTreeSet};

pub use crate::api_v1::slurm_organization as organization;

/// What `sacctmgr` shows for one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmState {
    /// The cluster's accounts, and whether Roster manages them. (Accounts
    /// are global in Slurm; removing one here removes its association with
    /// this cluster only, so other clusters keep theirs.)
    pub accounts: BTreeMap<String, bool>,
    /// Each user's accounts (its associations).
    pub assocs: BTreeMap<String, BTreeSet<String>>,
    pub defaults: BTreeMap<String, String>,
}

/// What the directory wants: each account's members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub accounts: BTreeMap<String, BTreeSet<String>>,
    /// Existing accounts to make Roster's (lower-case names).
    pub adopt: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlurmOp {
    AddAccount(String),
    AddAssoc {
        user: String,
        account: String,
        default: bool,
    },
    SetDefault {
        user: String,
        account: String,
    },
    RemoveAssoc {
        user: String,
        account: String,
    },
    DeleteAccount(String),
    /// Marks an existing account with this cluster's Organization: from
    /// then on the agent manages it as one it created.
    Adopt(String),
}

impl SlurmOp {
    /// The `sacctmgr -i` arguments for this operation; `organization`
    /// marks the accounts it creates.
    pub fn args(&self, cluster: &str, organization: &str) -> Vec<String> {
        let c = format!("cluster={cluster}");
        match self {
            // `a` may name several accounts, comma-separated (see
            // `commands`); the description is the same for all.
            SlurmOp::AddAccount(a) => vec![
                "add".into(),
                "account".into(),
                a.clone(),
                c,
                format!("Organization={organization}"),
                "Description=Roster group".into(),
            ],
            SlurmOp::AddAssoc {
                user,
                account,
                default,
            } => {
                let mut v = vec![
                    "add".into(),
                    "user".into(),
                    user.clone(),
                    format!("account={account}"),
                    c,
                ];
                if *default {
                    v.push(format!("DefaultAccount={account}"));
                }
                v
            }
            SlurmOp::SetDefault { user, account } => {
                vec![
                    "modify".into(),
                    "user".into(),
                    "where".into(),
                    format!("name={user}"),
                    "set".into(),
                    format!("DefaultAccount={account}"),
                ]
            }
            SlurmOp::RemoveAssoc { user, account } => {
                vec![
                    "delete".into(),
                    "user".into(),
                    "where".into(),
                    format!("name={user}"),
                    format!("account={account}"),
                    c,
                ]
            }
            SlurmOp::DeleteAccount(a) => vec![
                "delete".into(),
                "account".into(),
                "where".into(),
                format!("name={a}"),
                c,
            ],
            SlurmOp::Adopt(a) => vec![
                "modify".into(),
                "account".into(),
                "where".into(),
                format!("name={a}"),
                "set".into(),
                format!("Organization={organization}"),
            ],
        }
    }
}

/// Parses `sacctmgr -n -P show account format=account,organization`: each
/// account, and whether `organization` marks it.
pub fn parse_accounts(out: &str, organization: &str) -> BTreeMap<String, bool> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.split('|');
            let name = f.next()?.trim();
            let org = f.next().unwrap_or("").trim();
            (!name.is_empty())
                .then(|| (name.to_lowercase(), org.eq_ignore_ascii_case(organization)))
        })
        .collect()
}

/// Parses `sacctmgr -n -P show assoc where cluster=C format=account,user`
/// (account-level rows have no user) and
/// `sacctmgr -n -P show user format=user,defaultaccount`.
pub fn parse_assocs(
    assoc_out: &str,
    users_out: &str,
) -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, String>) {
    let mut assocs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in assoc_out.lines() {
        let mut f = l.split('|');
        let (Some(account), Some(user)) = (f.next(), f.next()) else {
            continue;
        };
        let (account, user) = (account.trim().to_lowercase(), user.trim().to_lowercase());
        if !account.is_empty() && !user.is_empty() {
            assocs.entry(user).or_default().insert(account);
        }
    }
    let defaults = users_out
        .lines()
        .filter_map(|l| {
            let mut f = l.split('|');
            let user = f.next()?.trim().to_lowercase();
            let default = f.next()?.trim().to_lowercase();
            (!user.is_empty() && !default.is_empty() && default != "(null)")
                .then_some((user, default))
        })
        .collect();
    (assocs, defaults)
}

/// Wanted accounts that exist in Slurm without this agent's mark: someone
/// else's (`root`, a site's own project accounts). The agent adds nothing
/// to them, so that an IdP group can never put people into them.
pub fn foreign_accounts(current: &SlurmState, wanted: &Wanted) -> Vec<String> {
    wanted
        .accounts
        .keys()
        .map(|a| a.to_lowercase())
        .filter(|a| current.accounts.get(a) == Some(&false) && !wanted.adopt.contains(a))
        .collect()
}

/// The existing accounts this plan makes Roster's: wanted, handed over by
/// an import, not yet marked.
fn adopting(current: &SlurmState, wanted: &Wanted) -> BTreeSet<String> {
    wanted
        .accounts
        .keys()
        .map(|a| a.to_lowercase())
        .filter(|a| current.accounts.get(a) == Some(&false) && wanted.adopt.contains(a))
        .collect()
}

/// The operations that bring `current` to `wanted`, in a safe order.
pub fn plan(current: &SlurmState, wanted: &Wanted, ignore: &BTreeSet<String>) -> Vec<SlurmOp> {
    let foreign: BTreeSet<String> = foreign_accounts(current, wanted).into_iter().collect();
    // Slurm lower-cases names.
    let wanted_assocs: BTreeMap<String, BTreeSet<String>> = {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (account, members) in wanted
            .accounts
            .iter()
            .filter(|(a, _)| !foreign.contains(&a.to_lowercase()))
        {
            for u in members {
                m.entry(u.to_lowercase())
                    .or_default()
                    .insert(account.to_lowercase());
            }
        }
        m.retain(|u, _| !ignore.contains(u));
        m
    };
    let wanted_accounts: BTreeSet<String> =
        wanted.accounts.keys().map(|a| a.to_lowercase()).collect();
    let adopted = adopting(current, wanted);
    let mut ops: Vec<SlurmOp> = adopted.iter().cloned().map(SlurmOp::Adopt).collect();
    for a in &wanted_accounts {
        if !current.accounts.contains_key(a) {
            ops.push(SlurmOp::AddAccount(a.clone()));
        }
    }
    let mut defaults = Vec::new();
    for (user, accounts) in &wanted_assocs {
        let have = current.assocs.get(user);
        // docs/agent.md: a user's default account is its first account by name.
        let Some(first) = accounts.iter().next() else {
            continue;
        };
        let is_new = have.is_none_or(BTreeSet::is_empty);
        for a in accounts {
            if !have.is_some_and(|h| h.contains(a)) {
                ops.push(SlurmOp::AddAssoc {
                    user: user.clone(),
                    account: a.clone(),
                    default: is_new && a == first,
                });
            }
        }
        if !is_new && current.defaults.get(user) != Some(first) {
            defaults.push(SlurmOp::SetDefault {
                user: user.clone(),
                account: first.clone(),
            });
        }
    }
    ops.extend(defaults);
    // Removals touch only Roster's accounts and users not on the ignore list.
    let managed =
        |a: &String| current.accounts.get(a).copied().unwrap_or(false) || adopted.contains(a);
    for (user, accounts) in &current.assocs {
        if ignore.contains(user) {
            continue;
        }
        let keep = wanted_assocs.get(user);
        for a in accounts.iter().filter(|a| managed(a)) {
            if !keep.is_some_and(|k| k.contains(a)) {
                ops.push(SlurmOp::RemoveAssoc {
                    user: user.clone(),
                    account: a.clone(),
                });
            }
        }
    }
    for (a, is_managed) in &current.accounts {
        if *is_managed && !wanted_accounts.contains(a) {
            ops.push(SlurmOp::DeleteAccount(a.clone()));
        }
    }
    ops
}

/// What `ops` do to `state`, as slurmdbd would (for tests and dry runs).
pub fn simulate(state: &mut SlurmState, ops: &[SlurmOp]) {
    for op in ops {
        match op {
            SlurmOp::AddAccount(a) => {
                state.accounts.insert(a.clone(), true);
            }
            SlurmOp::AddAssoc {
                user,
                account,
                default,
            } => {
                state
                    .assocs
                    .entry(user.clone())
                    .or_default()
                    .insert(account.clone());
                if *default {
                    state.defaults.insert(user.clone(), account.clone());
                }
            }
            SlurmOp::SetDefault { user, account } => {
                state.defaults.insert(user.clone(), account.clone());
            }
            SlurmOp::RemoveAssoc { user, account } => {
                if let Some(a) = state.assocs.get_mut(user) {
                    a.remove(account);
                    if a.is_empty() {
                        // Slurm deletes a user with its last association.
                        state.assocs.remove(user);
                        state.defaults.remove(user);
                    }
                }
            }
            SlurmOp::Adopt(a) => {
                state.accounts.insert(a.clone(), true);
            }
            SlurmOp::DeleteAccount(a) => {
                state.accounts.remove(a);
                for accounts in state.assocs.values_mut() {
                    accounts.remove(a);
                }
            }
        }
    }
}

/// The wanted state from a snapshot's `accounts`.
pub fn wanted_from_snapshot(snapshot: &crate::api_v1::Snapshot) -> Wanted {
    let mut w = Wanted::default();
    for a in &snapshot.accounts {
        w.accounts
            .insert(a.name.clone(), a.members.iter().cloned().collect());
        if a.adopt {
            w.adopt.insert(a.name.to_lowercase());
        }
    }
    w
}

fn sacctmgr(args: &[String]) -> Result<String, String> {
    let out = std::process::Command::new("sacctmgr")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run sacctmgr: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() {
        return Ok(stdout);
    }
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // Already so: sacctmgr exits 1 with "Nothing new added" and the like.
    if all.contains("Nothing new added")
        || all.contains("Nothing deleted")
        || all.contains("Nothing modified")
    {
        return Ok(stdout);
    }
    Err(format!(
        "sacctmgr {} failed: {}",
        args.join(" "),
        all.trim()
    ))
}

/// Reads the cluster's current accounting state.
pub fn read_state(cluster: &str, organization: &str) -> Result<SlurmState, String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let accounts = sacctmgr(&s(&[
        "-n",
        "-P",
        "show",
        "account",
        "format=account,organization",
    ]))?;
    let assocs = sacctmgr(&s(&[
        "-n",
        "-P",
        "show",
        "assoc",
        "where",
        &format!("cluster={cluster}"),
        "format=account,user",
    ]))?;
    let users = sacctmgr(&s(&[
        "-n",
        "-P",
        "show",
        "user",
        "format=user,defaultaccount",
    ]))?;
    let managed = parse_accounts(&accounts, organization);
    // An account counts for this cluster when it has the cluster's
    // account-level association (a row without a user).
    let in_cluster: BTreeMap<String, bool> = assocs
        .lines()
        .filter_map(|l| l.split_once('|'))
        .filter(|(_, user)| user.trim().is_empty())
        .map(|(a, _)| {
            let a = a.trim().to_lowercase();
            let m = managed.get(&a).copied().unwrap_or(false);
            (a, m)
        })
        .collect();
    let (assocs, defaults) = parse_assocs(&assocs, &users);
    Ok(SlurmState {
        accounts: in_cluster,
        assocs,
        defaults,
    })
}

/// Most users (or accounts) named in one `sacctmgr add` command.
const BATCH: usize = 200;

/// The `sacctmgr -i` commands for `ops`: each run of account additions
/// becomes one command naming many accounts, and each run of association
/// additions one command per account (and default flag) naming many users,
/// as each sacctmgr call costs a round trip to slurmdbd (a first sync of
/// 100 groups made 100 account calls). Additions do not depend on each
/// other, so regrouping them keeps the plan's meaning.
pub fn commands(cluster: &str, organization: &str, ops: &[SlurmOp]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        if matches!(ops.get(i), Some(SlurmOp::AddAccount(_))) {
            let mut accounts = Vec::new();
            while let Some(SlurmOp::AddAccount(a)) = ops.get(i) {
                accounts.push(a.clone());
                i += 1;
            }
            for chunk in accounts.chunks(BATCH) {
                out.push(SlurmOp::AddAccount(chunk.join(",")).args(cluster, organization));
            }
            continue;
        }
        if matches!(ops.get(i), Some(SlurmOp::AddAssoc { .. })) {
            let mut groups: Vec<((String, bool), Vec<String>)> = Vec::new();
            while let Some(SlurmOp::AddAssoc {
                user,
                account,
                default,
            }) = ops.get(i)
            {
                let key = (account.clone(), *default);
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, users)) => users.push(user.clone()),
                    None => groups.push((key, vec![user.clone()])),
                }
                i += 1;
            }
            for ((account, default), users) in groups {
                for chunk in users.chunks(BATCH) {
                    let op = SlurmOp::AddAssoc {
                        user: chunk.join(","),
                        account: account.clone(),
                        default,
                    };
                    out.push(op.args(cluster, organization));
                }
            }
            continue;
        }
        if matches!(ops.get(i), Some(SlurmOp::RemoveAssoc { .. })) {
            let mut groups: Vec<(String, Vec<String>)> = Vec::new();
            while let Some(SlurmOp::RemoveAssoc { user, account }) = ops.get(i) {
                match groups.iter_mut().find(|(a, _)| a == account) {
                    Some((_, users)) => users.push(user.clone()),
                    None => groups.push((account.clone(), vec![user.clone()])),
                }
                i += 1;
            }
            for (account, users) in groups {
                for chunk in users.chunks(BATCH) {
                    let op = SlurmOp::RemoveAssoc {
                        user: chunk.join(","),
                        account: account.clone(),
                    };
                    out.push(op.args(cluster, organization));
                }
            }
            continue;
        }
        if let Some(op) = ops.get(i) {
            out.push(op.args(cluster, organization));
        }
        i += 1;
    }
    out
}

/// Applies `ops` in order with `sacctmgr -i`.
pub fn apply(cluster: &str, organization: &str, ops: &[SlurmOp]) -> Result<(), String> {
    for cmd in commands(cluster, organization, ops) {
        let mut args = vec!["-i".to_string()];
        args.extend(cmd.iter().cloned());
        sacctmgr(&args)?;
        tracing::info!(cluster, "slurm: sacctmgr -i {}", cmd.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(spec: &[(&str, &[&str])]) -> Wanted {
        Wanted {
            accounts: spec
                .iter()
                .map(|(a, m)| (a.to_string(), m.iter().map(|s| s.to_string()).collect()))
                .collect(),
            adopt: BTreeSet::new(),
        }
    }

    fn converge(state: &mut SlurmState, w: &Wanted, ignore: &BTreeSet<String>) -> Vec<SlurmOp> {
        let ops = plan(state, w, ignore);
        simulate(state, &ops);
        assert_eq!(plan(state, w, ignore), vec![], "the plan is not idempotent");
        ops
    }

    #[test]
    fn from_empty_and_back() {
        let ignore = BTreeSet::from(["root".to_string()]);
        let mut s = SlurmState::default();
        s.accounts.insert("root".into(), false);
        s.assocs
            .insert("root".into(), BTreeSet::from(["root".to_string()]));
        let w = wanted(&[("gpu", &["alice", "bob"]), ("ml", &["alice"])]);
        let ops = converge(&mut s, &w, &ignore);
        assert!(ops.contains(&SlurmOp::AddAssoc {
            user: "alice".into(),
            account: "gpu".into(),
            default: true
        }));
        assert!(ops.contains(&SlurmOp::AddAssoc {
            user: "alice".into(),
            account: "ml".into(),
            default: false
        }));
        assert_eq!(s.defaults.get("alice").map(String::as_str), Some("gpu"));
        // alice leaves gpu: her default moves to ml before gpu's association goes.
        let w = wanted(&[("gpu", &["bob"]), ("ml", &["alice"])]);
        let ops = plan(&s, &w, &ignore);
        let set = ops.iter().position(|o| {
            *o == SlurmOp::SetDefault {
                user: "alice".into(),
                account: "ml".into(),
            }
        });
        let remove = ops.iter().position(|o| {
            *o == SlurmOp::RemoveAssoc {
                user: "alice".into(),
                account: "gpu".into(),
            }
        });
        assert!(set.is_some() && remove.is_some() && set < remove, "{ops:?}");
        converge(&mut s, &w, &ignore);
        // bob deactivated, ml removed from the cluster: all of it goes; root stays.
        let w = wanted(&[("gpu", &[])]);
        converge(&mut s, &w, &ignore);
        assert!(!s.assocs.contains_key("bob") && !s.assocs.contains_key("alice"));
        assert!(!s.accounts.contains_key("ml"));
        assert!(s.accounts.contains_key("root") && s.assocs.contains_key("root"));
    }

    #[test]
    fn no_associations_go_to_accounts_the_agent_did_not_create() {
        let mut s = SlurmState::default();
        s.accounts.insert("root".into(), false);
        s.accounts.insert("physics".into(), false);
        let w = wanted(&[("root", &["eve"]), ("physics", &["eve"]), ("gpu", &["eve"])]);
        assert_eq!(
            foreign_accounts(&s, &w),
            vec!["physics".to_string(), "root".to_string()]
        );
        let ops = converge(&mut s, &w, &BTreeSet::new());
        assert!(
            !ops.iter()
                .any(|o| matches!(o, SlurmOp::AddAssoc { account, .. } if account != "gpu")),
            "{ops:?}"
        );
        assert_eq!(s.assocs["eve"], BTreeSet::from(["gpu".to_string()]));
        assert_eq!(s.defaults["eve"], "gpu");
    }

    /// The site's own account physics, with carol and svc in it.
    fn site_account() -> SlurmState {
        let mut s = SlurmState::default();
        s.accounts.insert("physics".into(), false);
        s.assocs
            .insert("carol".into(), BTreeSet::from(["physics".to_string()]));
        s.assocs
            .insert("svc".into(), BTreeSet::from(["physics".to_string()]));
        s
    }

    #[test]
    fn unmanaged_accounts_and_ignored_users_are_never_touched() {
        let mut s = site_account();
        let ignore = BTreeSet::from(["svc".to_string()]);
        let ops = converge(&mut s, &wanted(&[("gpu", &["carol", "svc"])]), &ignore);
        assert!(!ops.iter().any(|o| matches!(o, SlurmOp::RemoveAssoc { account, .. } | SlurmOp::AddAssoc { account, .. } if account == "physics")));
        assert!(
            !ops.iter()
                .any(|o| matches!(o, SlurmOp::AddAssoc { user, .. } if user == "svc"))
        );
        assert!(s.accounts.contains_key("physics") && s.assocs["carol"].contains("physics"));
    }

    #[test]
    fn an_adopted_account_is_marked_first_then_managed_as_roster_s() {
        let mut s = site_account();
        let mut w = wanted(&[("physics", &["dan"])]);
        w.adopt.insert("physics".into());
        assert!(foreign_accounts(&s, &w).is_empty(), "not foreign: adopted");
        let ops = plan(&s, &w, &BTreeSet::from(["svc".to_string()]));
        assert_eq!(ops.first(), Some(&SlurmOp::Adopt("physics".into())));
        assert!(ops.contains(&SlurmOp::AddAssoc {
            user: "dan".into(),
            account: "physics".into(),
            default: true
        }));
        assert!(ops.contains(&SlurmOp::RemoveAssoc {
            user: "carol".into(),
            account: "physics".into()
        }));
        assert!(
            !ops.iter()
                .any(|o| matches!(o, SlurmOp::RemoveAssoc { user, .. } if user == "svc")),
            "ignored users stay: {ops:?}"
        );
        assert_eq!(
            ops[0].args("c1", "roster-c1"),
            [
                "modify",
                "account",
                "where",
                "name=physics",
                "set",
                "Organization=roster-c1"
            ]
        );
        simulate(&mut s, &ops);
        assert_eq!(s.accounts.get("physics"), Some(&true));
        assert!(plan(&s, &w, &BTreeSet::from(["svc".to_string()])).is_empty());
    }

    #[test]
    fn parsing_sacctmgr_output() {
        let accounts = parse_accounts(
            "root|root\ngpu|roster-c1\nml|roster-c2\nPhysics|uni\n",
            &organization("C1"),
        );
        assert_eq!(accounts.get("gpu"), Some(&true));
        assert_eq!(accounts.get("physics"), Some(&false));
        assert_eq!(
            accounts.get("ml"),
            Some(&false),
            "another cluster's account"
        );
        let (assocs, defaults) = parse_assocs(
            "root||\ngpu|\ngpu|alice\nml|alice\n",
            "alice|gpu\nbob|(null)\n",
        );
        assert_eq!(assocs["alice"].len(), 2);
        assert_eq!(defaults.get("alice").map(String::as_str), Some("gpu"));
        assert!(!defaults.contains_key("bob"));
        assert_eq!(
            SlurmOp::AddAssoc {
                user: "a".into(),
                account: "g".into(),
                default: true
            }
            .args("c1", "roster-c1")
            .join(" "),
            "add user a account=g cluster=c1 DefaultAccount=g"
        );
    }

    #[test]
    fn additions_and_removals_are_batched_per_account() {
        let ops = vec![
            SlurmOp::AddAccount("g".into()),
            SlurmOp::AddAccount("k".into()),
            SlurmOp::AddAssoc {
                user: "a".into(),
                account: "g".into(),
                default: true,
            },
            SlurmOp::AddAssoc {
                user: "x".into(),
                account: "k".into(),
                default: true,
            },
            SlurmOp::AddAssoc {
                user: "b".into(),
                account: "g".into(),
                default: true,
            },
            SlurmOp::AddAssoc {
                user: "c".into(),
                account: "g".into(),
                default: false,
            },
            SlurmOp::RemoveAssoc {
                user: "d".into(),
                account: "h".into(),
            },
            SlurmOp::RemoveAssoc {
                user: "e".into(),
                account: "h".into(),
            },
        ];
        let cmds: Vec<String> = commands("c1", "roster-c1", &ops)
            .iter()
            .map(|c| c.join(" "))
            .collect();
        assert_eq!(
            cmds,
            vec![
                "add account g,k cluster=c1 Organization=roster-c1 Description=Roster group",
                "add user a,b account=g cluster=c1 DefaultAccount=g",
                "add user x account=k cluster=c1 DefaultAccount=k",
                "add user c account=g cluster=c1",
                "delete user where name=d,e account=h cluster=c1",
            ]
        );
    }
}
