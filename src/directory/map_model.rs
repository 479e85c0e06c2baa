//! What a cluster's maps are made of (its groups, their members, the
//! active members' POSIX accounts and keys), kept per cluster and brought
//! up to date by the change log: a change to one person re-reads that
//! person, not the cluster (at 100,000 users a rebuild took seconds).
//!
//! The model also keeps the four maps and the Slurm accounts themselves,
//! entry by entry in their canonical order (`nss_delta`), each with its
//! [`LineSum`]: an update marks the entries it may have touched, makes
//! only those again, and notes what each was before, which is the delta
//! for the agents. A one-person change then costs the size of the change,
//! entity tags included; the maps are joined into text only when a node
//! asks for them whole (`content`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::DirectoryResult;
use super::cluster_maps::{AccountEntry, MapsDelta};
use super::model::{Change, Cluster, PosixAccount, Subject};
use super::posix_rules::{DEFAULT_SHELL, HOME_PREFIX, check_name, check_path};
use super::store::ReadTx;
use crate::api_v1::LinesDelta;
use crate::nss_delta::{LineSum, entry_key};
use crate::scim::schema::ResourceType;

/// One person in the maps, with their lines (without line ends), made
/// when they are read.
#[derive(Debug, Clone)]
struct Member {
    user_id: String,
    name: Arc<str>,
    passwd: Arc<str>,
    shadow: Arc<str>,
    /// None without a usable key.
    sshkey: Option<Arc<str>>,
    /// The private group's line, when the GID is the UID's.
    private_group: Option<Arc<str>>,
}

impl Member {
    /// The member's lines, or why they cannot be written: see
    /// [`unfit_for_maps`].
    fn new(uid: i64, a: &PosixAccount, gecos: &str, keys: &[String]) -> Result<Member, String> {
        unfit_for_maps(a)?;
        let home = a
            .home
            .clone()
            .unwrap_or_else(|| format!("{HOME_PREFIX}{}", a.name));
        let shell = a.shell.as_deref().unwrap_or(DEFAULT_SHELL);
        let sshkey = (!keys.is_empty()).then(|| {
            let list: Vec<String> = keys.iter().map(|k| format!("'{}'", key_entry(k))).collect();
            Arc::from(format!("{}:[{}]", a.name, list.join(", ")))
        });
        Ok(Member {
            user_id: a.resource_id.clone(),
            name: Arc::from(a.name.as_str()),
            passwd: Arc::from(format!(
                "{}:x:{uid}:{}:{gecos}:{home}:{shell}",
                a.name, a.gid
            )),
            shadow: Arc::from(format!("{}:*:::::::", a.name)),
            sshkey,
            private_group: (a.gid == uid).then(|| Arc::from(format!("{}:x:{}:", a.name, a.gid))),
        })
    }
}

/// Refuses an account whose fields would break the maps' line format
/// (passwd(5), group(5): `:` separates fields, a line ends an entry, `,`
/// separates a group's members): a name that is not a POSIX name, a home
/// or shell that is not an absolute path without `:` and control
/// characters. Every way in checks these already (SCIM overrides, imports,
/// claims: `posix_rules`); this is the last check whatever the source, so
/// that one bad record costs its own entry and can never write another
/// (a shell of `/bin/bash\nroot2:x:0:0::/root:/bin/bash` would be a second
/// passwd line; docs/security.md, "The IdP and its SCIM token").
fn unfit_for_maps(a: &PosixAccount) -> Result<(), String> {
    check_name(&a.name)?;
    if let Some(home) = &a.home {
        check_path("home directory", home)?;
    }
    if let Some(shell) = &a.shell {
        check_path("login shell", shell)?;
    }
    Ok(())
}

/// A Slurm account: one of the cluster's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Account {
    gid: i64,
    members: Vec<String>,
    /// Handed to this cluster by `roster import --slurm`.
    adopt: bool,
}

impl Account {
    /// What its sum counts.
    fn line(&self, name: &str) -> String {
        format!(
            "{name}:{}:{}{}",
            self.gid,
            self.members.join(","),
            if self.adopt { ":adopt" } else { "" }
        )
    }
}

/// Entries by their place in the canonical order, with their sum.
#[derive(Debug, Clone)]
struct Entries<K, V> {
    by_key: BTreeMap<K, V>,
    sum: LineSum,
}

impl<K, V> Default for Entries<K, V> {
    fn default() -> Self {
        Entries {
            by_key: BTreeMap::new(),
            sum: LineSum::default(),
        }
    }
}

/// Each changed key's entry before its first change.
type Journal<K, V> = BTreeMap<K, Option<V>>;

impl<K: Ord + Clone, V: PartialEq + Clone> Entries<K, V> {
    /// Makes `key`'s entry `value`, noting what it was.
    fn set(
        &mut self,
        key: &K,
        value: Option<V>,
        line: impl Fn(&K, &V) -> String,
        journal: &mut Journal<K, V>,
    ) {
        let old = match &value {
            Some(v) => self.by_key.insert(key.clone(), v.clone()),
            None => self.by_key.remove(key),
        };
        if old == value {
            return;
        }
        if let Some(o) = &old {
            self.sum.remove(&line(key, o));
        }
        if let Some(v) = &value {
            self.sum.add(&line(key, v));
        }
        journal.entry(key.clone()).or_insert(old);
    }

    /// What `old` had where it differs from this: a journal from `old`.
    fn differences(&self, old: &Self) -> Journal<K, V> {
        let mut journal = Journal::new();
        for (k, v) in &old.by_key {
            if self.by_key.get(k) != Some(v) {
                journal.insert(k.clone(), Some(v.clone()));
            }
        }
        for k in self.by_key.keys() {
            if !old.by_key.contains_key(k) {
                journal.insert(k.clone(), None);
            }
        }
        journal
    }
}

type Lines<K> = Entries<K, Arc<str>>;

fn text<K>(_: &K, line: &Arc<str>) -> String {
    line.to_string()
}

/// Lines changed since `journal` began, as the delta of `map`: a key is
/// removed when its entry is gone or now has another key (a rename), and
/// the lines new or changed are sent whole (`nss_delta::apply`).
fn lines_delta<K: Ord>(map: &str, now: &Lines<K>, journal: Journal<K, Arc<str>>) -> LinesDelta {
    let mut removed = BTreeSet::new();
    let mut lines = Vec::new();
    for (k, old) in journal {
        let new = now.by_key.get(&k);
        if old.as_ref() == new {
            continue;
        }
        if let Some(o) = &old {
            let key = entry_key(map, o);
            if new.is_none_or(|n| entry_key(map, n) != key) {
                removed.insert(key.to_string());
            }
        }
        if let Some(n) = new {
            lines.push(n.to_string());
        }
    }
    LinesDelta {
        removed: removed.into_iter().collect(),
        lines,
        etag: now.sum.etag(),
    }
}

/// What an update may have changed, to be made again.
#[derive(Debug, Clone, Default)]
struct Dirty {
    uids: BTreeSet<i64>,
    names: BTreeSet<Arc<str>>,
    gids: BTreeSet<i64>,
    /// Group ids whose line must be made again.
    groups: BTreeSet<String>,
    accounts: BTreeSet<String>,
}

/// What the maps changed by, as they were before: one journal per map.
#[derive(Default)]
struct Journals {
    passwd: Journal<i64, Arc<str>>,
    group: Journal<i64, Arc<str>>,
    shadow: Journal<Arc<str>, Arc<str>>,
    sshkey: Journal<Arc<str>, Arc<str>>,
    accounts: Journal<String, Arc<Account>>,
}

/// A cluster's maps, as their parts and as entries.
#[derive(Debug, Clone, Default)]
pub(super) struct MapModel {
    /// Active members with a UID, by UID.
    members: HashMap<i64, Member>,
    /// The UID of each user in `members`, by user id.
    uid_of: HashMap<String, i64>,
    /// The UID of each member, by POSIX name.
    by_name: HashMap<Arc<str>, i64>,
    /// Each group's line and its members' names, made again only when the
    /// group or one of its members is re-read.
    group_lines: HashMap<String, (Arc<str>, Vec<String>)>,
    /// The cluster's groups, in its order, with their POSIX accounts
    /// (none: the group has none, or is gone).
    groups: Vec<(String, Option<PosixAccount>)>,
    /// Every member (active or not) of each of the cluster's groups.
    memberships: HashMap<String, BTreeSet<String>>,
    /// Accounts handed to this cluster by `roster import --slurm`.
    adopt: BTreeSet<String>,
    passwd: Lines<i64>,
    group: Lines<i64>,
    shadow: Lines<Arc<str>>,
    sshkey: Lines<Arc<str>>,
    accounts: Entries<String, Arc<Account>>,
    dirty: Dirty,
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

impl MapModel {
    /// The model of `cluster`, read whole.
    pub fn build(
        tx: &mut dyn ReadTx,
        org_id: &str,
        cluster: &Cluster,
        adopt: BTreeSet<String>,
    ) -> DirectoryResult<Self> {
        let mut m = MapModel {
            groups: cluster
                .group_ids
                .iter()
                .map(|g| (g.clone(), None))
                .collect(),
            adopt,
            ..MapModel::default()
        };
        let ids: Vec<String> = cluster.group_ids.clone();
        m.refresh_groups(tx, org_id, &ids)?;
        let users: BTreeSet<&str> = m
            .memberships
            .values()
            .flatten()
            .map(String::as_str)
            .collect();
        let all: Vec<String> = users.into_iter().map(str::to_string).collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        m.read_users(tx, org_id, &all)?;
        m.sync(&mut Journals::default());
        Ok(m)
    }

    /// Brings the model from one change-log position to a later one, given
    /// the changes between, and says what changed in the maps. `Ok(None)`:
    /// a change this cannot follow (the org's settings, the cluster's
    /// group list), and nothing was changed; build afresh.
    pub fn update(
        &mut self,
        tx: &mut dyn ReadTx,
        org_id: &str,
        cluster: &Cluster,
        changes: &[(i64, Change)],
        adopt: BTreeSet<String>,
    ) -> DirectoryResult<Option<MapsDelta>> {
        let mut groups = BTreeSet::new();
        let mut users = BTreeSet::new();
        for (_, c) in changes {
            match c.subject {
                Subject::Org => return Ok(None),
                Subject::Cluster if c.resource_id == cluster.id => return Ok(None),
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
        if adopt != self.adopt {
            // Adoption is a mark on the accounts: all are made again.
            self.dirty
                .accounts
                .extend(self.accounts.by_key.keys().cloned());
            self.adopt = adopt;
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
        let mut journals = Journals::default();
        self.sync(&mut journals);
        Ok(Some(self.delta(journals)))
    }

    /// What turns `old`'s maps into these (after a build afresh).
    pub fn delta_from(&self, old: &MapModel) -> MapsDelta {
        self.delta(Journals {
            passwd: self.passwd.differences(&old.passwd),
            group: self.group.differences(&old.group),
            shadow: self.shadow.differences(&old.shadow),
            sshkey: self.sshkey.differences(&old.sshkey),
            accounts: self.accounts.differences(&old.accounts),
        })
    }

    fn delta(&self, j: Journals) -> MapsDelta {
        let mut accounts = Vec::new();
        let mut accounts_removed = Vec::new();
        for (name, old) in j.accounts {
            match self.accounts.by_key.get(&name) {
                Some(a) if old.as_ref() != Some(a) => accounts.push(entry(&name, a)),
                Some(_) => {}
                None if old.is_some() => accounts_removed.push(name),
                None => {}
            }
        }
        MapsDelta {
            maps: vec![
                lines_delta("passwd", &self.passwd, j.passwd),
                lines_delta("group", &self.group, j.group),
                lines_delta("shadow", &self.shadow, j.shadow),
                lines_delta("sshkey", &self.sshkey, j.sshkey),
            ],
            accounts,
            accounts_removed,
            removal_approved_through: None,
        }
    }

    /// The entity tags of passwd, group, shadow and sshkey.
    pub fn etags(&self) -> [String; 4] {
        [
            self.passwd.sum.etag(),
            self.group.sum.etag(),
            self.shadow.sum.etag(),
            self.sshkey.sum.etag(),
        ]
    }

    /// The entity tag of the Slurm accounts.
    pub fn accounts_etag(&self) -> String {
        self.accounts.sum.etag()
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
                // Its entries where it was, and where it is now.
                if let Some(a) = account.as_ref() {
                    self.dirty.gids.insert(a.gid);
                    self.dirty.accounts.insert(a.name.clone());
                }
                *account = accounts.remove(gid.as_str()).filter(|a| match unfit_for_maps(a) {
                    Ok(()) => true,
                    Err(why) => {
                        tracing::warn!(group = %gid, gid = a.gid, %why, "a group left out of the maps: its entry would break their format");
                        false
                    }
                });
            }
        }
        for id in ids {
            self.group_lines.remove(id);
            self.dirty.groups.insert(id.clone());
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
            // Only active users appear (docs/clusters.md, section 2).
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
            let m = match Member::new(uid, &account, &gecos, &keys) {
                Ok(m) => m,
                Err(why) => {
                    tracing::warn!(user = %u.id, uid, %why, "a user left out of the maps: their entry would break their format");
                    continue;
                }
            };
            // Two people cannot hold one UID (the ledger); if a stale
            // entry held it, it goes.
            if let Some(old) = self.members.get(&uid) {
                let old_id = old.user_id.clone();
                self.forget(&old_id);
            }
            self.mark(uid, &m.name);
            self.uid_of.insert(u.id.clone(), uid);
            self.by_name.insert(m.name.clone(), uid);
            self.members.insert(uid, m);
        }
        Ok(())
    }

    /// The entries a member at `uid` named `name` has.
    fn mark(&mut self, uid: i64, name: &Arc<str>) {
        self.dirty.uids.insert(uid);
        self.dirty.gids.insert(uid);
        self.dirty.names.insert(name.clone());
    }

    /// Takes a user out of the maps; their groups' lines are made again
    /// (those name them, or will).
    fn forget(&mut self, user_id: &str) {
        for (g, members) in &self.memberships {
            if members.contains(user_id) {
                self.dirty.groups.insert(g.clone());
            }
        }
        if let Some(uid) = self.uid_of.remove(user_id)
            && let Some(m) = self.members.remove(&uid)
        {
            if self.by_name.get(&m.name) == Some(&uid) {
                self.by_name.remove(&m.name);
            }
            self.mark(uid, &m.name);
        }
    }

    /// Makes again the entries an update marked, noting in `journals`
    /// what each was.
    fn sync(&mut self, journals: &mut Journals) {
        let dirty = std::mem::take(&mut self.dirty);
        let mut gids = dirty.gids;
        let mut account_names = dirty.accounts;
        for id in &dirty.groups {
            self.group_lines.remove(id);
        }
        // Group lines (their members' names) for the groups re-read.
        for (id, account) in &self.groups {
            let Some(g) = account else { continue };
            if !dirty.groups.contains(id) && self.group_lines.contains_key(id) {
                continue;
            }
            let mut names: Vec<String> = self
                .memberships
                .get(id)
                .into_iter()
                .flatten()
                .filter_map(|u| self.uid_of.get(u))
                .filter_map(|uid| self.members.get(uid))
                .map(|m| m.name.to_string())
                .collect();
            names.sort();
            let line = Arc::from(format!("{}:x:{}:{}", g.name, g.gid, names.join(",")));
            self.group_lines.insert(id.clone(), (line, names));
            gids.insert(g.gid);
            account_names.insert(g.name.clone());
        }
        for uid in &dirty.uids {
            let line = self.members.get(uid).map(|m| m.passwd.clone());
            self.passwd.set(uid, line, text, &mut journals.passwd);
        }
        for name in &dirty.names {
            let m = self
                .by_name
                .get(name)
                .and_then(|uid| self.members.get(uid))
                .filter(|m| m.name == *name);
            let (shadow, sshkey) = (
                m.map(|m| m.shadow.clone()),
                m.and_then(|m| m.sshkey.clone()),
            );
            self.shadow.set(name, shadow, text, &mut journals.shadow);
            self.sshkey.set(name, sshkey, text, &mut journals.sshkey);
        }
        // A group's line wins a GID it shares with a private group; of
        // two groups, the later in the cluster's list.
        let mut named: HashMap<i64, Arc<str>> = HashMap::new();
        let mut accounts: HashMap<String, Arc<Account>> = HashMap::new();
        for (id, account) in &self.groups {
            let (Some(g), Some((line, names))) = (account, self.group_lines.get(id)) else {
                continue;
            };
            if gids.contains(&g.gid) {
                named.insert(g.gid, line.clone());
            }
            if account_names.contains(&g.name) {
                let a = Account {
                    gid: g.gid,
                    members: names.clone(),
                    adopt: self.adopt.contains(&g.name),
                };
                accounts.insert(g.name.clone(), Arc::new(a));
            }
        }
        for gid in &gids {
            let line = named
                .remove(gid)
                .or_else(|| self.members.get(gid).and_then(|m| m.private_group.clone()));
            self.group.set(gid, line, text, &mut journals.group);
        }
        for name in &account_names {
            let a = accounts.remove(name);
            self.accounts
                .set(name, a, |n, a| a.line(n), &mut journals.accounts);
        }
    }

    /// The four maps as text, in their canonical order (`nss_delta`), and
    /// the accounts by name.
    pub fn content(&self) -> super::cluster_maps::MapsContent {
        fn join<K>(lines: &Lines<K>) -> String {
            let mut out = String::with_capacity(lines.by_key.values().map(|l| l.len() + 1).sum());
            for l in lines.by_key.values() {
                out.push_str(l);
                out.push('\n');
            }
            out
        }
        super::cluster_maps::MapsContent {
            passwd: join(&self.passwd),
            group: join(&self.group),
            shadow: join(&self.shadow),
            sshkey: join(&self.sshkey),
            accounts: self
                .accounts
                .by_key
                .iter()
                .map(|(name, a)| entry(name, a))
                .collect(),
        }
    }
}

fn entry(name: &str, a: &Account) -> AccountEntry {
    (name.to_string(), a.gid, a.members.clone(), a.adopt)
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

    #[test]
    fn an_account_that_would_break_a_line_is_never_written() {
        let account = |name: &str, home: Option<&str>, shell: Option<&str>| PosixAccount {
            rtype: ResourceType::User,
            resource_id: "u1".into(),
            uid: Some(5001),
            gid: 5001,
            name: name.into(),
            home: home.map(str::to_string),
            shell: shell.map(str::to_string),
        };
        let ok = Member::new(5001, &account("ada", None, Some("/bin/zsh")), "Ada", &[]);
        assert_eq!(
            ok.map(|m| m.passwd.to_string()),
            Ok("ada:x:5001:5001:Ada:/home/ada:/bin/zsh".to_string())
        );
        for (name, home, shell) in [
            (
                "ada",
                None,
                Some("/bin/bash\nroot2:x:0:0:pwned:/root:/bin/bash"),
            ),
            ("ada", Some("/home/ada\r/x"), None),
            ("ada", Some("/home/a:b"), None),
            ("ada", None, Some("bash")),
            ("root2:x:0:0", None, None),
            ("ada\nroot2", None, None),
            ("ada,bob", None, None),
        ] {
            let m = Member::new(5001, &account(name, home, shell), "Ada", &[]);
            assert!(m.is_err(), "{name:?} {home:?} {shell:?}");
        }
    }
}
