//! The change feed a cluster's agent long-polls: it answers as soon as a
//! change past the agent's position touches its cluster, or with nothing
//! when the wait runs out. Waiting costs nothing but a subscription; a
//! commit wakes only the waiters of the clusters it touches (`feed_hub`).

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use super::clusters::{find_cluster, may_read_cluster};
use super::model::{Change, ChangeKind, Cluster, Principal, Subject};
use super::store::ReadTx;
use super::{Directory, DirectoryError, DirectoryResult};
use crate::scim::schema::ResourceType;

/// Most entries one answer carries; beyond, the agent is told to resync
/// from a snapshot.
pub const FEED_PAGE: u64 = 1000;
/// Longest wait a request may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// Writes by other processes (the `roster` command) do not wake waiters;
/// one task per process looks for them this often, for all waiters at
/// once (each waiter re-reading the store every second cost 500 reads/s
/// at rest for 500 nodes).
const RECHECK: Duration = Duration::from_secs(1);

/// One answer of the feed.
#[derive(Debug, Clone)]
pub struct FeedReply {
    /// The org's latest change-log position.
    pub seq: i64,
    /// The entries after the agent's position that touch this cluster
    /// (see `touches`), which the agent resolves by fetching the
    /// snapshot. Empty with `seq` past the agent's position: nothing up
    /// to `seq` concerns the cluster.
    pub changes: Vec<(i64, Change)>,
    /// The position cannot be served incrementally (too far behind, or
    /// ahead of the server): fetch the snapshot.
    pub resync: bool,
}

/// Whether a change can alter what the cluster's nodes see: its group
/// list, the org's settings, one of its groups, or a user in one of its
/// groups. A deleted user's memberships are gone with it, so a deletion
/// counts as touching every cluster.
pub(super) fn touches(
    tx: &mut dyn ReadTx,
    org_id: &str,
    cluster: &Cluster,
    change: &Change,
) -> DirectoryResult<bool> {
    let groups = user_groups(tx, org_id, change)?;
    Ok(touches_given(cluster, change, groups.as_ref()))
}

/// For a change to a user (not a deletion), the groups they are in now:
/// what `touches_given` needs to know, read once for any number of
/// clusters.
pub(super) fn user_groups(
    tx: &mut dyn ReadTx,
    org_id: &str,
    change: &Change,
) -> DirectoryResult<Option<BTreeSet<String>>> {
    if change.subject != Subject::Resource(ResourceType::User) || change.kind == ChangeKind::Deleted
    {
        return Ok(None);
    }
    Ok(Some(
        tx.groups_of(org_id, &[change.resource_id.as_str()])?
            .remove(&change.resource_id)
            .unwrap_or_default()
            .into_iter()
            .map(|g| g.group_id)
            .collect(),
    ))
}

/// `touches`, given the user's groups (`user_groups`).
pub(super) fn touches_given(
    cluster: &Cluster,
    change: &Change,
    groups: Option<&BTreeSet<String>>,
) -> bool {
    match change.subject {
        Subject::Org => true,
        Subject::Cluster => change.resource_id == cluster.id,
        Subject::Resource(ResourceType::Group) => cluster.group_ids.contains(&change.resource_id),
        Subject::Resource(ResourceType::User) => match groups {
            // A deleted user's memberships are gone with them.
            None => true,
            Some(g) => cluster.group_ids.iter().any(|id| g.contains(id)),
        },
    }
}

/// Most long polls one token may hold open at once: every node of a large
/// cluster shares its cluster's token, and no more than this may wait.
pub const MAX_WAITERS_PER_TOKEN: usize = 4096;

/// Long polls waiting, by token.
#[derive(Default)]
pub(crate) struct Waiters(std::sync::Mutex<std::collections::HashMap<String, usize>>);

/// One waiter's place; given back when dropped.
struct WaiterSlot {
    waiters: std::sync::Arc<Waiters>,
    token_id: String,
}

impl Waiters {
    fn join(self: &std::sync::Arc<Self>, token_id: &str) -> DirectoryResult<WaiterSlot> {
        let mut map = self
            .0
            .lock()
            .map_err(|_| DirectoryError::TooMany("the change feed is unavailable".into()))?;
        let n = map.entry(token_id.to_string()).or_insert(0);
        if *n >= MAX_WAITERS_PER_TOKEN {
            return Err(DirectoryError::TooMany(format!(
                "this token already holds {MAX_WAITERS_PER_TOKEN} open long polls; retry later, or give groups of nodes their own cluster tokens"
            )));
        }
        *n += 1;
        Ok(WaiterSlot {
            waiters: self.clone(),
            token_id: token_id.to_string(),
        })
    }
}

impl Drop for WaiterSlot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.waiters.0.lock()
            && let Some(n) = map.get_mut(&self.token_id)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.token_id);
            }
        }
    }
}

impl Directory {
    /// Long polls woken by a commit since the process started (each wake
    /// costs a read of the change log): `roster_feed_wakeups_total`.
    pub fn feed_wakeups(&self) -> u64 {
        self.feed_hub
            .wakeups
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub async fn cluster_changes(
        &self,
        p: &Principal,
        cluster: &str,
        after: i64,
        wait: Duration,
    ) -> DirectoryResult<FeedReply> {
        let mut after = after;
        let _slot = self.feed_waiters.join(&p.token_id)?;
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        // Woken only by commits that touch this cluster (`feed_hub`),
        // subscribed before the first read so that no commit falls between.
        // (A request that does not wait has nothing to subscribe to.)
        let mut woken = if wait.is_zero() {
            None
        } else {
            let cluster_id = match &p.cluster_id {
                Some(id) => id.clone(),
                None => self.cluster(&p.org.id, cluster).await?.cluster.id,
            };
            self.feed_hub.subscribe(&p.org.id, &cluster_id, after)
        };
        self.start_feed_hub();
        loop {
            let (org_id, cluster_ref, principal) =
                (p.org.id.clone(), cluster.to_string(), p.clone());
            let reply = self
                .read_indexed(move |tx| {
                    let c = find_cluster(tx, &org_id, &cluster_ref)?;
                    if !may_read_cluster(&principal, &c) {
                        return Err(DirectoryError::Forbidden(format!(
                            "this token does not belong to cluster \"{}\"",
                            c.name
                        )));
                    }
                    let seq = tx.last_seq(&org_id)?;
                    if after > seq {
                        return Ok(FeedReply {
                            seq,
                            changes: Vec::new(),
                            resync: true,
                        });
                    }
                    let mut changes = tx.changes_after(&org_id, after, FEED_PAGE + 1)?;
                    let resync = changes.len() as u64 > FEED_PAGE;
                    changes.truncate(FEED_PAGE as usize);
                    // What the answer covers: every change up to `seq`, or,
                    // when cut short, up to the last one read.
                    let seq = match (resync, changes.last()) {
                        (true, Some((last, _))) => *last,
                        _ => seq,
                    };
                    let mut touching = Vec::with_capacity(changes.len());
                    for (n, change) in changes {
                        if touches(tx, &org_id, &c, &change)? {
                            touching.push((n, change));
                        }
                    }
                    Ok(FeedReply {
                        seq,
                        changes: touching,
                        resync,
                    })
                })
                .await?;
            let now = Instant::now();
            if reply.resync || !reply.changes.is_empty() || now >= deadline {
                return Ok(reply);
            }
            // Nothing up to `seq` touches this cluster: wait past it.
            after = reply.seq;
            self.watch_other_writers();
            let Some(rx) = woken.as_mut() else {
                // No hub (a poisoned lock): the wait runs out.
                tokio::time::sleep(deadline - now).await;
                continue;
            };
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep(deadline - now).await;
                        continue;
                    }
                    self.feed_hub.wakeups.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    // The hub's changes answer a waiter that had read up to
                    // where it started: no read of its own.
                    let news = rx.borrow_and_update().clone();
                    if let Some(news) = news
                        && news.from <= after
                    {
                        let changes: Vec<_> = news
                            .changes
                            .iter()
                            .filter(|(n, _)| *n > after)
                            .cloned()
                            .collect();
                        if !changes.is_empty() {
                            return Ok(FeedReply {
                                seq: news.through.max(after),
                                changes,
                                resync: false,
                            });
                        }
                    }
                }
                _ = tokio::time::sleep(deadline - now) => {}
            }
        }
    }
}

impl Directory {
    /// Starts, once per process, the task that notices writes by other
    /// processes and hands them to the feed hub like its own commits. It
    /// reads the store only while someone waits.
    fn watch_other_writers(&self) {
        if self
            .watching_other_writers
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let dir = self.clone();
        tokio::spawn(async move {
            let mut last = None;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(RECHECK) => {}
                    _ = dir.external_change.notified() => {}
                }
                if !dir.feed_hub.has_waiters() {
                    last = None;
                    continue;
                }
                let Ok(marker) = dir.read(|tx| Ok(tx.change_marker()?)).await else {
                    continue;
                };
                // The first reading wakes too: a write may have landed
                // between a waiter's read and this one.
                if last != Some(marker) {
                    dir.commits.send_modify(|n| *n = n.wrapping_add(1));
                }
                last = Some(marker);
            }
        });
    }
}
