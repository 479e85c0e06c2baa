//! The node's own defence (docs/security.md, "Nodes and cluster tokens"):
//! whatever the server sends, a node never takes an entry whose name or id
//! its own `/etc/passwd` or `/etc/group` already holds, nor a UID or GID
//! below 1000 (system accounts). The server refuses such identities too;
//! this holds when the server is wrong, old, or not Roster's. Used by
//! `roster agent` (the cache files) and `roster authorized-keys`.

use std::collections::HashSet;
use std::path::Path;

/// Ids below this are the system's.
pub const MIN_ID: i64 = 1000;

/// The accounts and groups a node has for itself.
#[derive(Debug, Default, Clone)]
pub struct LocalAccounts {
    user_names: HashSet<String>,
    uids: HashSet<i64>,
    group_names: HashSet<String>,
    gids: HashSet<i64>,
}

/// The name and third field (UID or GID) of each line of a passwd or
/// group file.
fn entries(text: &str) -> impl Iterator<Item = (&str, Option<i64>)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next().filter(|n| !n.is_empty())?;
            Some((name, f.nth(1).and_then(|id| id.parse().ok())))
        })
}

impl LocalAccounts {
    /// Reads the node's passwd and group files; a file that cannot be read
    /// counts as empty (the id floor still holds).
    pub fn read(passwd: &Path, group: &Path) -> LocalAccounts {
        let p = std::fs::read_to_string(passwd).unwrap_or_default();
        let g = std::fs::read_to_string(group).unwrap_or_default();
        LocalAccounts::parse(&p, &g)
    }

    pub fn parse(passwd: &str, group: &str) -> LocalAccounts {
        let mut l = LocalAccounts::default();
        for (name, id) in entries(passwd) {
            l.user_names.insert(name.to_string());
            l.uids.extend(id);
        }
        for (name, id) in entries(group) {
            l.group_names.insert(name.to_string());
            l.gids.extend(id);
        }
        l
    }

    /// Why a user entry (name, UID, primary GID) may not be served here.
    pub fn refuse_user(&self, name: &str, uid: Option<i64>, gid: Option<i64>) -> Option<String> {
        if self.user_names.contains(name) || self.group_names.contains(name) {
            return Some(format!(
                "user {name}: the name is a local account or group of this node"
            ));
        }
        match (uid, gid) {
            (Some(u), Some(g)) if u >= MIN_ID && g >= MIN_ID => {}
            _ => {
                return Some(format!(
                    "user {name}: its UID or GID is missing or below {MIN_ID}"
                ));
            }
        }
        if uid.is_some_and(|u| self.uids.contains(&u)) {
            return Some(format!(
                "user {name}: UID {} belongs to a local account",
                uid.unwrap_or_default()
            ));
        }
        None
    }

    /// Why a passwd-map line (`name:x:uid:gid:...`) may not be served here.
    pub fn refuse_passwd_line(&self, line: &str) -> Option<String> {
        self.refuse_user(field(line, 0).unwrap_or(""), id(line, 2), id(line, 3))
    }

    /// Why a group entry may not be served here.
    pub fn refuse_group(&self, name: &str, gid: Option<i64>) -> Option<String> {
        if self.group_names.contains(name) || self.user_names.contains(name) {
            return Some(format!(
                "group {name}: the name is a local group or account of this node"
            ));
        }
        match gid {
            Some(g) if g < MIN_ID => Some(format!("group {name}: GID {g} is below {MIN_ID}")),
            None => Some(format!("group {name}: it has no GID")),
            Some(g) if self.gids.contains(&g) => {
                Some(format!("group {name}: GID {g} belongs to a local group"))
            }
            Some(_) => None,
        }
    }
}

/// The NSS maps with every entry the node must not take removed, and why
/// each was.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GuardedMaps {
    pub passwd: String,
    pub group: String,
    pub shadow: String,
    pub sshkey: String,
    pub skipped: Vec<String>,
}

fn field(line: &str, n: usize) -> Option<&str> {
    line.split(':').nth(n)
}

fn id(line: &str, n: usize) -> Option<i64> {
    field(line, n).and_then(|v| v.parse().ok())
}

/// Filters the four maps: users refused by name or id go from passwd,
/// shadow and sshkey and from every group's members; refused groups go.
/// A user's private group (GID = its own) is its, not a local group's.
pub fn guard(
    local: &LocalAccounts,
    passwd: &str,
    group: &str,
    shadow: &str,
    sshkey: &str,
) -> GuardedMaps {
    let mut out = GuardedMaps::default();
    let mut refused_users = HashSet::new();
    for line in passwd.lines() {
        let name = field(line, 0).unwrap_or("");
        match local.refuse_passwd_line(line) {
            Some(why) => {
                refused_users.insert(name.to_string());
                out.skipped.push(why);
            }
            None => {
                out.passwd.push_str(line);
                out.passwd.push('\n');
            }
        }
    }
    let user_kept = |name: &str| !refused_users.contains(name);
    for line in group.lines() {
        let name = field(line, 0).unwrap_or("");
        if refused_users.contains(name) {
            // The private group of a refused user.
            continue;
        }
        if let Some(why) = local.refuse_group(name, id(line, 2)) {
            out.skipped.push(why);
            continue;
        }
        let mut parts: Vec<&str> = line.splitn(4, ':').collect();
        let members: Vec<&str> = parts
            .get(3)
            .map(|m| {
                m.split(',')
                    .filter(|u| !u.is_empty() && user_kept(u))
                    .collect()
            })
            .unwrap_or_default();
        let joined = members.join(",");
        if let Some(m) = parts.get_mut(3) {
            *m = &joined;
        }
        out.group.push_str(&parts.join(":"));
        out.group.push('\n');
    }
    for (text, into) in [(shadow, &mut out.shadow), (sshkey, &mut out.sshkey)] {
        for line in text.lines() {
            if user_kept(field(line, 0).unwrap_or("")) {
                into.push_str(line);
                into.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL_PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n";
    const LOCAL_GROUP: &str = "root:x:0:\nsudo:x:27:alice\nalice:x:1000:\nlab:x:5000:\n";

    #[test]
    fn local_names_ids_and_system_ids_are_never_served() {
        let local = LocalAccounts::parse(LOCAL_PASSWD, LOCAL_GROUP);
        let passwd = "root:x:100000:100000::/home/root:/bin/bash\n\
                      zero:x:0:0::/home/zero:/bin/bash\n\
                      alice:x:100001:100001::/home/alice:/bin/bash\n\
                      clash:x:1000:100002::/home/clash:/bin/bash\n\
                      ada:x:100003:100003::/home/ada:/bin/bash\n";
        let group = "root:x:100000:\nzero:x:0:\nada:x:100003:\nsudo:x:200000:ada,root\n\
                     lab:x:200001:ada\nhpc:x:5000:ada\ngpu:x:200002:ada,zero,clash\n";
        let shadow = "root:*:::::::\nada:*:::::::\n";
        let sshkey = "root:['ssh-ed25519 AAAA r']\nada:['ssh-ed25519 BBBB a']\n";
        let g = guard(&local, passwd, group, shadow, sshkey);
        assert_eq!(g.passwd, "ada:x:100003:100003::/home/ada:/bin/bash\n");
        assert_eq!(g.group, "ada:x:100003:\ngpu:x:200002:ada\n");
        assert_eq!(g.shadow, "ada:*:::::::\n");
        assert_eq!(g.sshkey, "ada:['ssh-ed25519 BBBB a']\n");
        assert_eq!(g.skipped.len(), 7, "{:?}", g.skipped);
    }
}
