//! The NSS maps a cluster's nodes read (nsscache's "files" format, which
//! stock nsscache's http source fetches and libnss-cache serves):
//! passwd, group, shadow and sshkey, holding the active members of the
//! cluster's groups and those groups.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use super::map_model::{MAX_UPDATE, MapModel};
use crate::api_v1::LinesDelta;
use crate::nss_delta::{self, text_etag};

use super::clusters::{find_cluster, may_read_cluster};
use super::model::{Cluster, Principal};
use super::store::ReadTx;
use super::{Directory, DirectoryError, DirectoryResult};

/// A version of a cluster's four maps: what identifies it, and the
/// content, made when first asked for (a node following deltas never
/// needs the maps whole; at 100,000 users making them is most of a
/// change's cost).
#[derive(Debug)]
pub struct NssMaps {
    /// RFC 3339: the latest change to the org's directory or to the
    /// cluster's group list.
    pub modified: String,
    /// Entity tags of passwd, group, shadow and sshkey, in that order.
    pub etags: [String; 4],
    /// The change-log position the maps reflect.
    pub seq: i64,
    /// Mass removals are approved for plans up to this change
    /// (`roster cluster approve-removal`).
    pub removal_approved_through: Option<i64>,
    /// `snapshot_etag`.
    tag: String,
    content: OnceLock<Arc<MapsContent>>,
}

/// What a version of a cluster's maps holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapsContent {
    pub passwd: String,
    pub group: String,
    pub shadow: String,
    pub sshkey: String,
    /// The cluster's groups as Slurm accounts, by name: POSIX name, GID,
    /// the POSIX names of their active members, and whether an import
    /// handed the account (there from before Roster) to this cluster's
    /// agent (`roster import --slurm`).
    pub accounts: Vec<AccountEntry>,
}

impl MapsContent {
    /// A map's content, by name.
    pub fn body(&self, map: &str) -> Option<&str> {
        match map {
            "passwd" => Some(&self.passwd),
            "group" => Some(&self.group),
            "shadow" => Some(&self.shadow),
            "sshkey" => Some(&self.sshkey),
            _ => None,
        }
    }
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

    /// A map's entity tag, by name.
    pub fn etag(&self, map: &str) -> Option<&str> {
        let i = nss_delta::MAPS.iter().position(|m| *m == map)?;
        self.etags.get(i).map(String::as_str)
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

/// A cluster's model, the position it reflects and the tag of the maps it
/// made (none before the first build), behind the lock a build holds.
type Builder = Arc<Mutex<Option<Built>>>;

struct Built {
    stamp: MapStamp,
    tag: String,
    model: MapModel,
}

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

    fn put(&self, cluster_id: &str, stamp: MapStamp, maps: Arc<NssMaps>, step: Option<Step>) {
        if let Ok(mut map) = self.clusters.lock() {
            cache_version(&mut map, cluster_id, stamp, maps, step);
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

/// A version of a cluster's maps, with its content when asked for.
type Found = (String, Arc<NssMaps>, Option<Arc<MapsContent>>);

impl Directory {
    /// The current version of a cluster's maps, without their content.
    /// SUP must be on; `p` must be the cluster's token or an
    /// administrator.
    pub async fn nss_version(&self, p: &Principal, cluster: &str) -> DirectoryResult<Arc<NssMaps>> {
        Ok(self.cluster_maps(p, cluster, false).await?.1)
    }

    /// The current version of a cluster's maps and their content.
    pub async fn nss_maps(
        &self,
        p: &Principal,
        cluster: &str,
    ) -> DirectoryResult<(Arc<NssMaps>, Arc<MapsContent>)> {
        match self.cluster_maps(p, cluster, true).await? {
            (_, maps, Some(content)) => Ok((maps, content)),
            // Not reached: asked whole, the content is made.
            (_, maps, None) => Err(DirectoryError::Store(
                super::store::StoreError::Unavailable(format!(
                    "the maps of change {} could not be made; retry",
                    maps.seq
                )),
            )),
        }
    }

    async fn cluster_maps(
        &self,
        p: &Principal,
        cluster: &str,
        whole: bool,
    ) -> DirectoryResult<Found> {
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
            let ready = |maps: Arc<NssMaps>| match (whole, maps.content.get().cloned()) {
                (false, _) => Some((c.id.clone(), maps, None)),
                (true, Some(content)) => Some((c.id.clone(), maps, Some(content))),
                (true, None) => None,
            };
            if let Some(found) = cache.current(&c.id, &stamp).and_then(ready) {
                return Ok(found);
            }
            // One build per cluster at a time: the nodes a commit wakes
            // all ask at once, and all but the first find it built.
            let builder = cache.builder(&c.id);
            let mut built = match builder.lock() {
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
                if let Some(found) = ready(maps.clone()) {
                    return Ok(found);
                }
                // The content of the current version, from the model
                // that made it.
                if let Some(b) = built.as_ref().filter(|b| b.tag == maps.tag) {
                    let content = maps
                        .content
                        .get_or_init(|| Arc::new(b.model.content()))
                        .clone();
                    return Ok((c.id.clone(), maps, Some(content)));
                }
            }
            let adopt: BTreeSet<String> = tx.slurm_adoptions(&c.id)?.into_iter().collect();
            let (model, step) = next_model(tx, &org_id, &c, &stamp, adopt, built.take())?;
            let last = tx.last_change_at(&org_id)?.unwrap_or_default();
            let removal = tx.removal_approval(&c.id)?;
            let etags = model.etags();
            let tag = text_etag(&format!(
                "{}\naccounts:{}\napproved:{removal:?}",
                etags.join(""),
                model.accounts_etag()
            ));
            let maps = Arc::new(NssMaps {
                modified: if c.modified > last {
                    c.modified.clone()
                } else {
                    last
                },
                etags,
                seq: stamp.0,
                removal_approved_through: removal,
                tag,
                content: OnceLock::new(),
            });
            let content = whole.then(|| {
                maps.content
                    .get_or_init(|| Arc::new(model.content()))
                    .clone()
            });
            let step = step.map(|(from, mut delta)| {
                delta.removal_approved_through = removal;
                Step {
                    from,
                    to: maps.tag.clone(),
                    delta,
                }
            });
            cache.put(&c.id, stamp.clone(), maps.clone(), step);
            *built = Some(Built {
                stamp,
                tag: maps.tag.clone(),
                model,
            });
            Ok((c.id.clone(), maps, content))
        })
        .await
    }

    /// The current version of the cluster's maps, and when the version
    /// tagged `base` is one the server still keeps, the delta from it
    /// (computed once per base for all the nodes that ask).
    pub async fn nss_maps_delta(
        &self,
        p: &Principal,
        cluster: &str,
        base: &str,
    ) -> DirectoryResult<(Arc<NssMaps>, Option<Arc<MapsDelta>>)> {
        let (cluster_id, maps, _) = self.cluster_maps(p, cluster, false).await?;
        if base == maps.tag {
            return Ok((maps, None));
        }
        let Ok(mut cache) = self.map_cache.clusters.lock() else {
            return Ok((maps, None));
        };
        let Some(cached) = cache
            .get_mut(&cluster_id)
            .filter(|c| c.current.tag == maps.tag)
        else {
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

/// The model at `stamp`: the one built before brought up to date by the
/// changes since, or built afresh; with the delta from the version the
/// one before made (its tag), when there was one.
fn next_model(
    tx: &mut dyn ReadTx,
    org_id: &str,
    c: &Cluster,
    stamp: &MapStamp,
    adopt: BTreeSet<String>,
    before: Option<Built>,
) -> DirectoryResult<(MapModel, Option<(String, MapsDelta)>)> {
    let Some(Built {
        stamp: from,
        tag,
        model: mut m,
    }) = before
    else {
        return Ok((MapModel::build(tx, org_id, c, adopt)?, None));
    };
    if from.1 == stamp.1 && from.0 <= stamp.0 {
        let changes = tx.changes_after(org_id, from.0, MAX_UPDATE + 1)?;
        let changes: Vec<_> = changes.into_iter().filter(|(n, _)| *n <= stamp.0).collect();
        if changes.len() as u64 <= MAX_UPDATE
            && let Some(delta) = m.update(tx, org_id, c, &changes, adopt.clone())?
        {
            return Ok((m, Some((tag, delta))));
        }
    }
    let fresh = MapModel::build(tx, org_id, c, adopt)?;
    let delta = fresh.delta_from(&m);
    Ok((fresh, Some((tag, delta))))
}

/// Makes `maps` the cluster's current version; `step` leads to it from
/// the version before.
fn cache_version(
    cache: &mut HashMap<String, CachedMaps>,
    cluster_id: &str,
    stamp: MapStamp,
    maps: Arc<NssMaps>,
    step: Option<Step>,
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
        // Same content at a later position: keep the deltas to it, and
        // the content if it was made.
        if let Some(content) = cached.current.content.get() {
            let _ = maps.content.set(content.clone());
        }
        cached.current = maps;
        return;
    }
    match step {
        Some(step) if step.from == cached.current.tag => cached.steps.push_back(step),
        // Not from the version before: the chain is broken.
        _ => cached.steps.clear(),
    }
    cached.current = maps;
    while cached.steps.len() > KEPT_STEPS {
        cached.steps.pop_front();
    }
    cached.deltas.clear();
}
