//! The file `sacctmgr dump CLUSTER file=FILE` writes (sacctmgr(1), "FLAT
//! FILE DUMP AND LOAD"): a `Cluster - 'name':...` line, then accounts
//! and users, each under the last `Parent - 'account'` line:
//!
//! ```text
//! Cluster - 'testcluster':Fairshare=1:QOS='normal'
//! Parent - 'root'
//! User - 'root':DefaultAccount='root':AdminLevel='Administrator':Fairshare=1
//! Account - 'physics':Description='physics':Organization='physics':Fairshare=1
//! Parent - 'physics'
//! User - 'ada':DefaultAccount='physics':Fairshare=1
//! ```
//!
//! A user line under `Parent - 'A'` is the user's association with account
//! A. Values may be quoted with `'`, and a quoted value may hold `:`.

use std::collections::BTreeMap;

/// An account of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpAccount {
    pub name: String,
    pub parent: String,
    pub organization: Option<String>,
}

/// A user and the accounts it is associated with, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DumpUser {
    pub default_account: Option<String>,
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlurmDump {
    pub cluster: String,
    pub accounts: Vec<DumpAccount>,
    pub users: BTreeMap<String, DumpUser>,
}

/// `'name':Key=Value:Key='va:lue'` split at the colons outside quotes,
/// quotes removed: the name first, then (key, value) pairs.
fn fields(rest: &str, line: usize) -> Result<(String, Vec<(String, String)>), String> {
    let mut parts = Vec::new();
    let (mut cur, mut quoted) = (String::new(), false);
    for c in rest.chars() {
        match c {
            '\'' => quoted = !quoted,
            ':' if !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: a quote is not closed"));
    }
    parts.push(cur);
    let mut parts = parts.into_iter();
    let name = parts.next().unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err(format!("line {line}: no name"));
    }
    let options = parts
        .filter_map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    Ok((name, options))
}

/// Parses a dump. Names are lower-cased, as Slurm keeps them.
pub fn parse(text: &str) -> Result<SlurmDump, String> {
    let mut dump = SlurmDump::default();
    let mut parent: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((kind, rest)) = line.split_once(" - ") else {
            return Err(format!(
                "line {n}: expected \"Cluster|Parent|Account|User - 'name'...\"; is this a `sacctmgr dump` file?"
            ));
        };
        let (name, options) = fields(rest, n)?;
        let name = name.to_lowercase();
        let option = |key: &str| {
            options
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.to_lowercase())
        };
        match kind.trim() {
            "Cluster" => dump.cluster = name,
            "Parent" => parent = Some(name),
            "Account" => {
                let Some(p) = &parent else {
                    return Err(format!("line {n}: an account before any Parent line"));
                };
                dump.accounts.push(DumpAccount {
                    name,
                    parent: p.clone(),
                    organization: options
                        .iter()
                        .find(|(k, _)| k == "organization")
                        .map(|(_, v)| v.clone()),
                });
            }
            "User" => {
                let Some(p) = &parent else {
                    return Err(format!("line {n}: a user before any Parent line"));
                };
                let u = dump.users.entry(name).or_default();
                u.accounts.push(p.clone());
                if let Some(d) = option("defaultaccount") {
                    u.default_account = Some(d);
                }
            }
            // Coordinators, QOS and the like: nothing Roster keeps.
            _ => {}
        }
    }
    if dump.cluster.is_empty() {
        return Err("no \"Cluster - 'name'\" line: is this a `sacctmgr dump` file?".into());
    }
    Ok(dump)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn accounts_users_and_their_parents_are_read() {
        let text = "# sacctmgr dump\n\
            Cluster - 'TestCluster':Fairshare=1:QOS='normal'\n\
            Parent - 'root'\n\
            User - 'root':DefaultAccount='root':AdminLevel='Administrator':Fairshare=1\n\
            Account - 'physics':Description='Physics: the dept':Organization='Phys':Fairshare=1\n\
            Account - 'gpu':Organization='roster-c1'\n\
            Parent - 'physics'\n\
            User - 'Ada':DefaultAccount='physics':Fairshare=1\n\
            Parent - 'gpu'\n\
            User - 'ada':Fairshare=1\n";
        let d = parse(text).unwrap();
        assert_eq!(d.cluster, "testcluster");
        assert_eq!(d.accounts.len(), 2);
        assert_eq!(d.accounts[0].name, "physics");
        assert_eq!(d.accounts[0].parent, "root");
        assert_eq!(d.accounts[0].organization.as_deref(), Some("Phys"));
        let ada = &d.users["ada"];
        assert_eq!(ada.accounts, ["physics", "gpu"]);
        assert_eq!(ada.default_account.as_deref(), Some("physics"));
        assert_eq!(d.users["root"].accounts, ["root"]);
    }

    #[test]
    fn what_is_not_a_dump_is_refused_with_its_line() {
        for (text, says) in [
            ("root:x:0:0::/root:/bin/bash\n", "line 1: expected"),
            (
                "Cluster - 'c':QOS='normal\n",
                "line 1: a quote is not closed",
            ),
            (
                "Cluster - 'c'\nUser - 'ada'\n",
                "line 2: a user before any Parent",
            ),
            ("Parent - 'root'\n", "no \"Cluster"),
            ("Cluster - ''\n", "line 1: no name"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with(says), "{text:?}: {e}");
        }
    }
}
