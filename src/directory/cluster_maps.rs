//! The NSS maps a cluster's nodes read (nsscache's "files" format, which
//! stock nsscache's http source fetches and libnss-cache serves):
//! passwd, group, shadow and sshkey, holding the active members of the
//! cluster's groups and those groups.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::map_model::{MAX_UPDATE, MapModel};
use crate::api_v1::LinesDelta;
use crate::nss_delta::{self, etag};

use super::clusters::{find_cluster, may_read_cluster};
use super::model::Principal;
use super::{Directory, DirectoryError, DirectoryResult};

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
    /// `snapshot_etag`, computed once when the maps are built.
    tag: String,
}

/// A Slurm account as a delta carries it: name, GID, members, adopted.
pub type AccountEntry = (String, i64, Vec<String>, bool);

/// What turns one version of a cluster's maps into another (`nss_delta`):
/// what an agent that has the older one is sent instead of a snapshot.
/// (Its position is the current maps': the same content may be current
/// at a later position.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapsDelta {
    /// passwd, group, shadow and sshkey (`nss_delta::MAPS`).
    pub maps: Vec<LinesDelta>,
    /// Accounts new or changed.
    pub accounts: Vec<AccountEntry>,
    /// Accounts gone, by name.
    pub accounts_removed: Vec<String>,
    pub removal_approved_through: Option<i64>,
}

impl MapsDelta {
    /// The delta from `old` to `new`.
    fn between(old: &NssMaps, new: &NssMaps) -> MapsDelta {
        let maps = nss_delta::MAPS
            .iter()
            .map(|m| nss_delta::diff(m, old.body(m), new.body(m)))
            .collect();
        let before: HashMap<&str, (i64, &Vec<String>, bool)> = old
            .accounts
            .iter()
            .map(|(name, gid, members)| (name.as_str(), (*gid, members, old.adopt.contains(name))))
            .collect();
        let now: HashSet<&String> = new.accounts.iter().map(|(name, _, _)| name).collect();
        MapsDelta {
            maps,
            accounts: new
                .accounts
                .iter()
                .filter(|(name, gid, members)| {
                    before.get(name.as_str()) != Some(&(*gid, members, new.adopt.contains(name)))
                })
                .map(|(name, gid, members)| {
                    (
                        name.clone(),
                        *gid,
                        members.clone(),
                        new.adopt.contains(name),
                    )
                })
                .collect(),
            accounts_removed: old
                .accounts
                .iter()
                .map(|(name, _, _)| name)
                .filter(|name| !now.contains(name))
                .cloned()
                .collect(),
            removal_approved_through: new.removal_approved_through,
        }
    }

    /// This delta, then `next`: one delta for both (the later entry for a
    /// key or account wins; a key added then removed is listed as
    /// removed, which does nothing to a map without it).
    fn then(&self, next: &MapsDelta) -> MapsDelta {
        let maps = nss_delta::MAPS
            .iter()
            .zip(self.maps.iter().zip(&next.maps))
            .map(|(map, (a, b))| {
                let mut entries: BTreeMap<String, Option<&String>> = BTreeMap::new();
                for d in [a, b] {
                    for k in &d.removed {
                        entries.insert(k.clone(), None);
                    }
                    for l in &d.lines {
                        entries.insert(nss_delta::entry_key(map, l).to_string(), Some(l));
                    }
                }
                let mut out = LinesDelta {
                    removed: Vec::new(),
                    lines: Vec::new(),
                    etag: b.etag.clone(),
                };
                for (k, v) in entries {
                    match v {
                        Some(l) => out.lines.push(l.clone()),
                        None => out.removed.push(k),
                    }
                }
                out
            })
            .collect();
        let mut accounts: BTreeMap<&String, Option<&AccountEntry>> = BTreeMap::new();
        for d in [self, next] {
            for name in &d.accounts_removed {
                accounts.insert(name, None);
            }
            for a in &d.accounts {
                accounts.insert(&a.0, Some(a));
            }
        }
        MapsDelta {
            maps,
            accounts: accounts.values().flatten().map(|a| (*a).clone()).collect(),
            accounts_removed: accounts
                .iter()
                .filter(|(_, a)| a.is_none())
                .map(|(name, _)| (*name).clone())
                .collect(),
            removal_approved_through: next.removal_approved_through,
        }
    }
}

impl NssMaps {
    /// The entity tag of everything a snapshot carries but its position:
    /// a change elsewhere in the org leaves it as it is, so an agent that
    /// has the content gets 304 and only moves its position.
    pub fn snapshot_etag(&self) -> &str {
        &self.tag
    }

    fn compute_tag(&self) -> String {
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

    /// A map's content ("" for a name that is none).
    fn body(&self, map: &str) -> &str {
        self.get(map).map_or("", |(b, _)| b)
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

/// Built maps, by cluster id, with the state they were built from: the
/// org's change-log position and the cluster's group-list time. Every
/// write that changes what a map holds advances the change log, so maps
/// are made again only after a change, from the cluster's model brought
/// up to date by the changes since (`map_model`), and a node polling
/// unchanged maps costs two point reads.
///
/// Each cluster also keeps its last few versions, so that an agent that
/// has one of them is sent a delta (`nss_maps_delta`), and the deltas to
/// the current version, each computed once for all the nodes that ask.
#[derive(Default)]
pub(crate) struct MapCache {
    clusters: Mutex<HashMap<String, CachedMaps>>,
    /// Each cluster's model and the position it reflects, behind a lock
    /// that one build at a time holds.
    builders: Mutex<HashMap<String, Builder>>,
}

/// A cluster's model and the position it reflects (none before the first
/// build), behind the lock a build holds.
type Builder = Arc<Mutex<Option<(MapStamp, MapModel)>>>;

impl MapCache {
    /// The cluster's current maps, if they reflect `stamp` or later.
    fn current(&self, cluster_id: &str, stamp: &MapStamp) -> Option<Arc<NssMaps>> {
        let map = self.clusters.lock().ok()?;
        let cached = map.get(cluster_id)?;
        (cached.stamp.0 >= stamp.0 && cached.stamp.1 >= stamp.1).then(|| cached.current.clone())
    }

    fn builder(&self, cluster_id: &str) -> Builder {
        match self.builders.lock() {
            Ok(mut b) => b.entry(cluster_id.to_string()).or_default().clone(),
            // A poisoned registry: build alone, without a model.
            Err(_) => Arc::default(),
        }
    }

    fn put(&self, cluster_id: &str, stamp: MapStamp, maps: Arc<NssMaps>) {
        if let Ok(mut map) = self.clusters.lock() {
            cache_version(&mut map, cluster_id, stamp, maps);
        }
    }
}

/// Steps between versions kept for deltas: agents follow the feed and
/// are a version or two behind; one further behind gets the snapshot.
/// A step costs the size of its change, not of the maps.
const KEPT_STEPS: usize = 64;

/// One version of a cluster's maps to the next.
struct Step {
    from: String,
    to: String,
    delta: MapsDelta,
}

struct CachedMaps {
    stamp: MapStamp,
    current: Arc<NssMaps>,
    /// The steps that led to `current`, oldest first.
    steps: std::collections::VecDeque<Step>,
    /// Deltas to `current`, by the tag of their base.
    deltas: HashMap<String, Arc<MapsDelta>>,
}

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
            if let Some(maps) = cache.current(&c.id, &stamp) {
                return Ok(maps);
            }
            // One build per cluster at a time: the nodes a commit wakes
            // all ask at once, and all but the first find it built.
            let builder = cache.builder(&c.id);
            let mut model = match builder.lock() {
                Ok(m) => m,
                // A build that panicked may have left the model half
                // updated: build afresh.
                Err(poisoned) => {
                    let mut m = poisoned.into_inner();
                    *m = None;
                    m
                }
            };
            if let Some(maps) = cache.current(&c.id, &stamp) {
                return Ok(maps);
            }
            let updated = match model.take() {
                Some((from, mut m)) if from.1 == stamp.1 && from.0 <= stamp.0 => {
                    let changes = tx.changes_after(&org_id, from.0, MAX_UPDATE + 1)?;
                    let changes: Vec<_> =
                        changes.into_iter().filter(|(n, _)| *n <= stamp.0).collect();
                    (changes.len() as u64 <= MAX_UPDATE && m.update(tx, &org_id, &c, &changes)?)
                        .then_some(m)
                }
                _ => None,
            };
            let mut m = match updated {
                Some(m) => m,
                None => MapModel::build(tx, &org_id, &c)?,
            };
            let r = m.render();
            let last = tx.last_change_at(&org_id)?.unwrap_or_default();
            let modified = if c.modified > last {
                c.modified.clone()
            } else {
                last
            };
            let etags = [
                etag(&r.passwd),
                etag(&r.group),
                etag(&r.shadow),
                etag(&r.sshkey),
            ];
            let mut built = NssMaps {
                passwd: r.passwd,
                group: r.group,
                shadow: r.shadow,
                sshkey: r.sshkey,
                modified,
                etags,
                seq: stamp.0,
                accounts: r.accounts,
                adopt: tx.slurm_adoptions(&c.id)?,
                removal_approved_through: tx.removal_approval(&c.id)?,
                tag: String::new(),
            };
            built.tag = built.compute_tag();
            let maps = Arc::new(built);
            cache.put(&c.id, stamp.clone(), maps.clone());
            *model = Some((stamp, m));
            Ok(maps)
        })
        .await
    }

    /// The cluster's maps, and when the version tagged `base` is one the
    /// server still keeps, the delta from it (computed once per base for
    /// all the nodes that ask).
    pub async fn nss_maps_delta(
        &self,
        p: &Principal,
        cluster: &str,
        base: &str,
    ) -> DirectoryResult<(Arc<NssMaps>, Option<Arc<MapsDelta>>)> {
        let maps = self.nss_maps(p, cluster).await?;
        if base == maps.tag {
            return Ok((maps, None));
        }
        let Ok(mut cache) = self.map_cache.clusters.lock() else {
            return Ok((maps, None));
        };
        // By content: another request may have made the same version anew.
        let Some(cached) = cache.values_mut().find(|c| c.current.tag == maps.tag) else {
            return Ok((maps, None));
        };
        if let Some(d) = cached.deltas.get(base) {
            return Ok((maps, Some(d.clone())));
        }
        // The latest step from `base`, and every step after it.
        let Some(first) = cached.steps.iter().rposition(|s| s.from == base) else {
            return Ok((maps, None));
        };
        let mut steps = cached.steps.iter().skip(first);
        let Some(start) = steps.next() else {
            return Ok((maps, None));
        };
        let (mut delta, mut at) = (start.delta.clone(), &start.to);
        for s in steps {
            if s.from != *at {
                // Not one chain: no delta rather than a wrong one.
                return Ok((maps, None));
            }
            delta = delta.then(&s.delta);
            at = &s.to;
        }
        if *at != maps.tag {
            return Ok((maps, None));
        }
        let delta = Arc::new(delta);
        cached.deltas.insert(base.to_string(), delta.clone());
        Ok((maps, Some(delta)))
    }
}

/// Makes `maps` the cluster's current version, keeping the one it
/// replaces for deltas.
fn cache_version(
    cache: &mut HashMap<String, CachedMaps>,
    cluster_id: &str,
    stamp: MapStamp,
    maps: Arc<NssMaps>,
) {
    let Some(cached) = cache.get_mut(cluster_id) else {
        cache.insert(
            cluster_id.to_string(),
            CachedMaps {
                stamp,
                current: maps,
                steps: Default::default(),
                deltas: HashMap::new(),
            },
        );
        return;
    };
    cached.stamp = stamp;
    if cached.current.tag == maps.tag {
        // Same content at a later position: keep the deltas to it.
        cached.current = maps;
        return;
    }
    cached.steps.push_back(Step {
        from: cached.current.tag.clone(),
        to: maps.tag.clone(),
        delta: MapsDelta::between(&cached.current, &maps),
    });
    cached.current = maps;
    while cached.steps.len() > KEPT_STEPS {
        cached.steps.pop_front();
    }
    cached.deltas.clear();
}
