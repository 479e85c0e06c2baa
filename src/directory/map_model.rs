//! What a cluster's maps are made of (its groups, their members, the
//! active members' POSIX accounts and keys), kept per cluster and brought
//! up to date by the change log: a change to one person re-reads that
//! person, not the cluster (at 100,000 users a rebuild took seconds).
//! `render` turns it into the four maps.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::DirectoryResult;
use super::model::{Change, Cluster, PosixAccount, Subject};
use super::posix_rules::{DEFAULT_SHELL, HOME_PREFIX};
use super::store::ReadTx;
use crate::scim::schema::ResourceType;

/// One person in the maps, with their lines, made when they are read
/// (a render then only joins lines).
#[derive(Debug, Clone)]
struct Member {
    user_id: String,
    name: String,
    passwd: String,
    shadow: String,
    /// None without a usable key.
    sshkey: Option<String>,
    /// The private group's GID and line, when the GID is the UID's.
    private_group: Option<(i64, String)>,
}

impl Member {
    fn new(uid: i64, a: &PosixAccount, gecos: &str, keys: &[String]) -> Member {
        let home = a
            .home
            .clone()
            .unwrap_or_else(|| format!("{HOME_PREFIX}{}", a.name));
        let shell = a.shell.as_deref().unwrap_or(DEFAULT_SHELL);
        let sshkey = (!keys.is_empty()).then(|| {
            let list: Vec<String> = keys.iter().map(|k| format!("'{}'", key_entry(k))).collect();
            format!("{}:[{}]\n", a.name, list.join(", "))
        });
        Member {
            user_id: a.resource_id.clone(),
            name: a.name.clone(),
            passwd: format!("{}:x:{uid}:{}:{gecos}:{home}:{shell}\n", a.name, a.gid),
            shadow: format!("{}:*:::::::\n", a.name),
            sshkey,
            private_group: (a.gid == uid).then(|| (a.gid, format!("{}:x:{}:\n", a.name, a.gid))),
        }
    }
}

/// A cluster's maps, unrendered.
#[derive(Debug, Clone, Default)]
pub(super) struct MapModel {
    /// Active members with a UID, by UID.
    members: BTreeMap<i64, Member>,
    /// The UID of each user in `members`, by user id.
    uid_of: HashMap<String, i64>,
    /// The UID of each member, by POSIX name: shadow's and sshkey's order.
    by_name: BTreeMap<String, i64>,
    /// Each group's line and its members' names, made again only when the
    /// group or one of its members is re-read.
    group_lines: HashMap<String, (String, Vec<String>)>,
    /// The cluster's groups, in its order, with their POSIX accounts
    /// (none: the group has none, or is gone).
    groups: Vec<(String, Option<PosixAccount>)>,
    /// Every member (active or not) of each of the cluster's groups.
    memberships: HashMap<String, BTreeSet<String>>,
}

/// Most changes an update reads; beyond, the model is built afresh.
pub(super) const MAX_UPDATE: u64 = 2000;

/// A field of a passwd line: no `:` (the separator), `,` or line breaks.
fn field(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == ':' || c == ',' || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// One key as nsscache's sshkey map holds it: a `:` in a comment would
/// cut the key there, and a quote would end the Python string, so such a
/// comment is left out.
fn key_entry(key: &str) -> String {
    let mut parts = key.splitn(3, ' ');
    let (t, b) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match parts.next() {
        Some(c) if !c.contains([':', '\'', '"', '\\']) => format!("{t} {b} {c}"),
        _ => format!("{t} {b}"),
    }
}

/// The four maps, rendered.
pub(super) struct Rendered {
    pub passwd: String,
    pub group: String,
    pub shadow: String,
    pub sshkey: String,
    /// The groups as Slurm accounts: POSIX name, GID, member names.
    pub accounts: Vec<(String, i64, Vec<String>)>,
}

impl MapModel {
    /// The model of `cluster`, read whole.
    pub fn build(tx: &mut dyn ReadTx, org_id: &str, cluster: &Cluster) -> DirectoryResult<Self> {
        let mut m = MapModel {
            groups: cluster
                .group_ids
                .iter()
                .map(|g| (g.clone(), None))
                .collect(),
            ..MapModel::default()
        };
        let ids: Vec<String> = cluster.group_ids.clone();
        m.refresh_groups(tx, org_id, &ids)?;
        let users: Vec<String> = m
            .memberships
            .values()
            .flatten()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let all: Vec<&str> = users.iter().map(String::as_str).collect();
        m.read_users(tx, org_id, &all)?;
        Ok(m)
    }

    /// Brings the model from one change-log position to a later one, given
    /// the changes between. `Ok(false)`: a change this cannot follow (the
    /// org's settings, the cluster's group list); build afresh.
    pub fn update(
        &mut self,
        tx: &mut dyn ReadTx,
        org_id: &str,
        cluster: &Cluster,
        changes: &[(i64, Change)],
    ) -> DirectoryResult<bool> {
        let mut groups = BTreeSet::new();
        let mut users = BTreeSet::new();
        for (_, c) in changes {
            match c.subject {
                Subject::Org => return Ok(false),
                Subject::Cluster if c.resource_id == cluster.id => return Ok(false),
                Subject::Cluster => {}
                Subject::Resource(ResourceType::Group) => {
                    if self.memberships.contains_key(&c.resource_id) {
                        groups.insert(c.resource_id.clone());
                    }
                }
                Subject::Resource(ResourceType::User) => {
                    users.insert(c.resource_id.clone());
                }
            }
        }
        let groups: Vec<String> = groups.into_iter().collect();
        // Whoever joined or left a group is re-read too.
        let before: Vec<BTreeSet<String>> = groups
            .iter()
            .map(|g| self.memberships.get(g).cloned().unwrap_or_default())
            .collect();
        self.refresh_groups(tx, org_id, &groups)?;
        for (g, old) in groups.iter().zip(before) {
            let new = self.memberships.get(g).cloned().unwrap_or_default();
            users.extend(old.symmetric_difference(&new).cloned());
        }
        let users: Vec<String> = users.into_iter().collect();
        self.refresh_users(tx, org_id, &users)?;
        Ok(true)
    }

    /// Re-reads the POSIX accounts and members of these of the cluster's
    /// groups.
    fn refresh_groups(
        &mut self,
        tx: &mut dyn ReadTx,
        org_id: &str,
        ids: &[String],
    ) -> DirectoryResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut accounts = tx.posix_accounts(org_id, ResourceType::Group, &refs)?;
        let mut members = tx.members(org_id, &refs)?;
        for (gid, account) in self.groups.iter_mut() {
            if ids.contains(gid) {
                *account = accounts.remove(gid.as_str());
            }
        }
        for id in ids {
            self.group_lines.remove(id);
        }
        for id in ids {
            let set = members
                .remove(id)
                .unwrap_or_default()
                .into_iter()
                .map(|m| m.user_id)
                .collect();
            self.memberships.insert(id.clone(), set);
        }
        Ok(())
    }

    /// Re-reads these users: each is in the maps if they are in one of the
    /// cluster's groups, active, and have a UID.
    fn refresh_users(
        &mut self,
        tx: &mut dyn ReadTx,
        org_id: &str,
        ids: &[String],
    ) -> DirectoryResult<()> {
        for id in ids {
            self.forget(id);
            // Their groups' lines name them.
            for (g, members) in &self.memberships {
                if members.contains(id) {
                    self.group_lines.remove(g);
                }
            }
        }
        let wanted: Vec<&str> = ids
            .iter()
            .filter(|id| self.memberships.values().any(|m| m.contains(*id)))
            .map(String::as_str)
            .collect();
        self.read_users(tx, org_id, &wanted)
    }

    /// Reads these members of the cluster's groups into the maps.
    fn read_users(
        &mut self,
        tx: &mut dyn ReadTx,
        org_id: &str,
        wanted: &[&str],
    ) -> DirectoryResult<()> {
        if wanted.is_empty() {
            return Ok(());
        }
        let users = tx.resources_by_ids(org_id, ResourceType::User, wanted)?;
        let mut accounts = tx.posix_accounts(org_id, ResourceType::User, wanted)?;
        for u in users {
            // Only active users appear (design.md, "Deactivation").
            if u.doc.get("active") == Some(&Value::Bool(false)) {
                continue;
            }
            let Some(account) = accounts.remove(&u.id) else {
                continue;
            };
            let Some(uid) = account.uid else { continue };
            let gecos = field(
                u.doc
                    .get("displayName")
                    .and_then(Value::as_str)
                    .or_else(|| u.doc.get("userName").and_then(Value::as_str))
                    .unwrap_or(""),
            );
            let keys: Vec<String> = super::ssh_keys::stored_keys(&u.doc)
                .into_iter()
                .filter(|k| super::ssh_keys::check_key(k).is_ok())
                .collect();
            // Two people cannot hold one UID (the ledger); if a stale
            // entry held it, it goes.
            if let Some(old) = self.members.get(&uid) {
                let old_id = old.user_id.clone();
                self.forget(&old_id);
            }
            self.uid_of.insert(u.id.clone(), uid);
            self.by_name.insert(account.name.clone(), uid);
            self.members
                .insert(uid, Member::new(uid, &account, &gecos, &keys));
        }
        Ok(())
    }

    /// Takes a user out of the maps.
    fn forget(&mut self, user_id: &str) {
        if let Some(uid) = self.uid_of.remove(user_id)
            && let Some(m) = self.members.remove(&uid)
        {
            self.by_name.remove(&m.name);
        }
    }

    /// The four maps in their canonical order (`nss_delta`): passwd and
    /// group by id, shadow and sshkey by name. Only joins lines, but for
    /// the groups re-read since the last render.
    pub fn render(&mut self) -> Rendered {
        for (gid, account) in &self.groups {
            if account.is_none() || self.group_lines.contains_key(gid) {
                continue;
            }
            let Some(g) = account else { continue };
            let mut names: Vec<String> = self
                .memberships
                .get(gid)
                .into_iter()
                .flatten()
                .filter_map(|id| self.uid_of.get(id))
                .filter_map(|uid| self.members.get(uid))
                .map(|m| m.name.clone())
                .collect();
            names.sort();
            let line = format!("{}:x:{}:{}\n", g.name, g.gid, names.join(","));
            self.group_lines.insert(gid.clone(), (line, names));
        }
        let mut passwd = String::with_capacity(self.members.len() * 64);
        for m in self.members.values() {
            passwd.push_str(&m.passwd);
        }
        let (mut shadow, mut sshkey) = (String::new(), String::new());
        for m in self
            .by_name
            .values()
            .filter_map(|uid| self.members.get(uid))
        {
            shadow.push_str(&m.shadow);
            if let Some(k) = &m.sshkey {
                sshkey.push_str(k);
            }
        }
        // The cluster's groups by GID, merged with the private groups (in
        // UID order, which is their GID's); a group's line wins a GID
        // both have.
        let mut accounts = Vec::new();
        let mut named: BTreeMap<i64, &str> = BTreeMap::new();
        for (gid, account) in &self.groups {
            let (Some(g), Some((line, names))) = (account, self.group_lines.get(gid)) else {
                continue;
            };
            named.insert(g.gid, line);
            accounts.push((g.name.clone(), g.gid, names.clone()));
        }
        let mut group = String::new();
        let mut named = named.into_iter().peekable();
        let mut private = self
            .members
            .values()
            .filter_map(|m| m.private_group.as_ref())
            .peekable();
        loop {
            let line = match (private.peek(), named.peek()) {
                (Some((p, _)), Some((g, _))) if g <= p => {
                    if g == p {
                        private.next();
                    }
                    named.next().map(|(_, l)| l)
                }
                (Some(_), _) => private.next().map(|(_, l)| l.as_str()),
                (None, Some(_)) => named.next().map(|(_, l)| l),
                (None, None) => None,
            };
            let Some(line) = line else { break };
            group.push_str(line);
        }
        Rendered {
            passwd,
            group,
            shadow,
            sshkey,
            accounts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_keys_cannot_break_the_format() {
        assert_eq!(field("Ada: Lovelace, PhD\n"), "Ada  Lovelace  PhD ");
        assert_eq!(
            key_entry("ssh-ed25519 AAAA me@host"),
            "ssh-ed25519 AAAA me@host"
        );
        assert_eq!(key_entry("ssh-ed25519 AAAA a:b"), "ssh-ed25519 AAAA");
        assert_eq!(key_entry("ssh-ed25519 AAAA it's"), "ssh-ed25519 AAAA");
    }
}
