//! The NSS maps a cluster's nodes read (nsscache's "files" format, which
//! stock nsscache's http source fetches and libnss-cache serves):
//! passwd, group, shadow and sshkey, holding the active members of the
//! cluster's groups and those groups.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use serde_json::Value;

use super::clusters::{find_cluster, may_read_cluster};
use super::model::{PosixAccount, Principal};
use super::posix_rules::{DEFAULT_SHELL, HOME_PREFIX};
use super::{Directory, DirectoryError, DirectoryResult};
use crate::scim::schema::ResourceType;

/// The four maps of a cluster, and when their source last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NssMaps {
    pub passwd: String,
    pub group: String,
    pub shadow: String,
    pub sshkey: String,
    /// RFC 3339: the latest change to the org's directory or to the
    /// cluster's group list.
    pub modified: String,
    /// Entity tags of passwd, group, shadow and sshkey, in that order.
    pub etags: [String; 4],
    /// The change-log position the maps reflect.
    pub seq: i64,
    /// The cluster's groups as Slurm accounts: POSIX name, GID and the
    /// POSIX names of their active members.
    pub accounts: Vec<(String, i64, Vec<String>)>,
    /// Accounts that exist in Slurm from before Roster and that an import
    /// handed to this cluster's agent (`roster import --slurm`).
    pub adopt: Vec<String>,
    /// Mass removals are approved for plans up to this change
    /// (`roster cluster approve-removal`).
    pub removal_approved_through: Option<i64>,
}

impl NssMaps {
    /// The entity tag of everything a snapshot carries but its position:
    /// a change elsewhere in the org leaves it as it is, so an agent that
    /// has the content gets 304 and only moves its position.
    pub fn snapshot_etag(&self) -> String {
        let mut all = self.etags.join("");
        for (name, gid, members) in &self.accounts {
            all.push_str(&format!("\n{name}:{gid}:{}", members.join(",")));
            if self.adopt.contains(name) {
                all.push_str(":adopt");
            }
        }
        if let Some(seq) = self.removal_approved_through {
            all.push_str(&format!("\napproved:{seq}"));
        }
        etag(&all)
    }

    /// A map and its entity tag.
    pub fn get(&self, map: &str) -> Option<(&str, &str)> {
        let (body, i) = match map {
            "passwd" => (&self.passwd, 0),
            "group" => (&self.group, 1),
            "shadow" => (&self.shadow, 2),
            "sshkey" => (&self.sshkey, 3),
            _ => return None,
        };
        Some((body, self.etags.get(i).map(String::as_str).unwrap_or("")))
    }
}

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

struct Member {
    account: PosixAccount,
    gecos: String,
    keys: Vec<String>,
}

fn render(
    members: &BTreeMap<i64, Member>,
    groups: &[(PosixAccount, Vec<String>)],
    modified: String,
) -> NssMaps {
    let mut passwd = String::new();
    let mut shadow = String::new();
    let mut sshkey = String::new();
    let mut group_lines: BTreeMap<i64, String> = BTreeMap::new();
    for (uid, m) in members {
        let a = &m.account;
        let home = a
            .home
            .clone()
            .unwrap_or_else(|| format!("{HOME_PREFIX}{}", a.name));
        let shell = a.shell.as_deref().unwrap_or(DEFAULT_SHELL);
        passwd.push_str(&format!(
            "{}:x:{uid}:{}:{}:{home}:{shell}\n",
            a.name, a.gid, m.gecos
        ));
        shadow.push_str(&format!("{}:*:::::::\n", a.name));
        if !m.keys.is_empty() {
            let list: Vec<String> = m
                .keys
                .iter()
                .map(|k| format!("'{}'", key_entry(k)))
                .collect();
            sshkey.push_str(&format!("{}:[{}]\n", a.name, list.join(", ")));
        }
        // The user's private group.
        if a.gid == *uid {
            group_lines.insert(a.gid, format!("{}:x:{}:\n", a.name, a.gid));
        }
    }
    for (g, names) in groups {
        group_lines.insert(
            g.gid,
            format!("{}:x:{}:{}\n", g.name, g.gid, names.join(",")),
        );
    }
    let group: String = group_lines.into_values().collect();
    let etags = [etag(&passwd), etag(&group), etag(&shadow), etag(&sshkey)];
    let accounts = groups
        .iter()
        .map(|(g, names)| (g.name.clone(), g.gid, names.clone()))
        .collect();
    NssMaps {
        passwd,
        group,
        shadow,
        sshkey,
        modified,
        etags,
        seq: 0,
        accounts,
        adopt: Vec::new(),
        removal_approved_through: None,
    }
}

/// A strong entity tag: the first 96 bits of the content's SHA-256.
fn etag(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    format!(
        "\"{}\"",
        digest
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Built maps, by cluster id, with the state they were built from: the
/// org's change-log position and the cluster's group-list time. Every
/// write that changes what a map holds advances the change log, so a map
/// is rebuilt only after a change, and a node polling an unchanged map
/// costs two point reads.
#[derive(Default)]
pub(crate) struct MapCache(Mutex<HashMap<String, (MapStamp, Arc<NssMaps>)>>);

/// What a cluster's maps were built from: (change-log position, the
/// cluster's group-list time).
type MapStamp = (i64, String);

impl Directory {
    /// The maps of a cluster. SUP must be on; `p` must be the cluster's
    /// token or an administrator.
    pub async fn nss_maps(&self, p: &Principal, cluster: &str) -> DirectoryResult<Arc<NssMaps>> {
        if !p.org.settings.sup {
            return Err(DirectoryError::Forbidden(format!(
                "SUNK User Provisioning is off for \"{}\": there are no maps; turn it on with `roster org set {} --sup on`",
                p.org.name, p.org.name
            )));
        }
        let org_id = p.org.id.clone();
        let cluster = cluster.to_string();
        let principal = p.clone();
        let cache = self.map_cache.clone();
        self.read(move |tx| {
            let c = find_cluster(tx, &org_id, &cluster)?;
            if !may_read_cluster(&principal, &c) {
                return Err(DirectoryError::Forbidden(format!(
                    "this token does not belong to cluster \"{}\"",
                    c.name
                )));
            }
            let stamp = (tx.last_seq(&org_id)?, c.modified.clone());
            if let Ok(map) = cache.0.lock()
                && let Some((s, maps)) = map.get(&c.id)
                && *s == stamp
            {
                return Ok(maps.clone());
            }
            let ids: Vec<&str> = c.group_ids.iter().map(String::as_str).collect();
            let group_accounts = tx.posix_accounts(&org_id, ResourceType::Group, &ids)?;
            let memberships = tx.members(&org_id, &ids)?;
            let user_ids: Vec<&str> = memberships
                .values()
                .flatten()
                .map(|m| m.user_id.as_str())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let users = tx.resources_by_ids(&org_id, ResourceType::User, &user_ids)?;
            let mut accounts = tx.posix_accounts(&org_id, ResourceType::User, &user_ids)?;
            // Only active users appear (design.md, "Deactivation").
            let mut members: BTreeMap<i64, Member> = BTreeMap::new();
            let mut names: HashMap<String, String> = HashMap::new();
            for u in users {
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
                names.insert(u.id.clone(), account.name.clone());
                members.insert(
                    uid,
                    Member {
                        account,
                        gecos,
                        keys,
                    },
                );
            }
            let mut groups = Vec::new();
            for gid in &c.group_ids {
                let Some(g) = group_accounts.get(gid) else {
                    continue;
                };
                let mut member_names: Vec<String> = memberships
                    .get(gid)
                    .into_iter()
                    .flatten()
                    .filter_map(|m| names.get(&m.user_id).cloned())
                    .collect();
                member_names.sort();
                groups.push((g.clone(), member_names));
            }
            let last = tx.last_change_at(&org_id)?.unwrap_or_default();
            let modified = if c.modified > last {
                c.modified.clone()
            } else {
                last
            };
            let mut built = render(&members, &groups, modified);
            built.seq = stamp.0;
            built.adopt = tx.slurm_adoptions(&c.id)?;
            built.removal_approved_through = tx.removal_approval(&c.id)?;
            let maps = Arc::new(built);
            if let Ok(mut map) = cache.0.lock() {
                map.insert(c.id.clone(), (stamp, maps.clone()));
            }
            Ok(maps)
        })
        .await
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
