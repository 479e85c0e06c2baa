//! One wake-up, many waiters: after each commit, one task of the process
//! reads the new changes once, works out which clusters they touch, and
//! wakes only those clusters' long polls, handing them the changes (a
//! waiter that had read up to where the hub started answers from them,
//! without a read of its own). Before, every commit woke every
//! waiter of every cluster, and each read the change log itself: with 100
//! agents connected and 10 SCIM writes a second, the IdP's own writes
//! waited behind the fan-out.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::feed::{FEED_PAGE, touches_given, user_groups};
use super::model::Change;
use super::{Directory, DirectoryResult};

/// What a wake-up brings: the changes after `from`, through `through`,
/// that touch the cluster. `None` (too many to sort): read for yourself.
#[derive(Debug)]
pub(crate) struct News {
    pub from: i64,
    pub through: i64,
    pub changes: Vec<(i64, Change)>,
}

pub(crate) type Wake = Option<Arc<News>>;

#[derive(Default)]
pub(crate) struct FeedHub {
    /// By cluster id: (its org, bumped when a change touching it commits).
    clusters: Mutex<HashMap<String, (String, watch::Sender<Wake>)>>,
    /// By org: the change-log position up to which the hub has woken the
    /// clusters concerned.
    seen: Mutex<HashMap<String, i64>>,
    running: AtomicBool,
    /// Waiters woken, all told.
    pub(crate) wakeups: std::sync::atomic::AtomicU64,
}

impl FeedHub {
    /// The receiver a waiter of `cluster_id` waits on, subscribed before
    /// it reads the change log from `read_through`: a change the hub
    /// sees after that touches the cluster bumps it.
    pub(crate) fn subscribe(
        &self,
        org_id: &str,
        cluster_id: &str,
        read_through: i64,
    ) -> Option<watch::Receiver<Wake>> {
        let rx = {
            let mut clusters = self.clusters.lock().ok()?;
            let entry = clusters
                .entry(cluster_id.to_string())
                .or_insert_with(|| (org_id.to_string(), watch::channel(None).0));
            entry.1.subscribe()
        };
        // The hub looks at the changes after where it stands; the waiter's
        // own first read (after this) covers those before. An org new to
        // the hub starts where the waiter does.
        let mut seen = self.seen.lock().ok()?;
        seen.entry(org_id.to_string()).or_insert(read_through);
        Some(rx)
    }

    /// Forgets clusters nobody waits on, and orgs without such clusters.
    fn prune(&self) {
        let Ok(mut clusters) = self.clusters.lock() else {
            return;
        };
        clusters.retain(|_, (_, tx)| tx.receiver_count() > 0);
        let orgs: BTreeSet<String> = clusters.values().map(|(o, _)| o.clone()).collect();
        drop(clusters);
        if let Ok(mut seen) = self.seen.lock() {
            seen.retain(|org, _| orgs.contains(org));
        }
    }

    /// The clusters of `org_id` someone waits on.
    fn waited_on(&self, org_id: &str) -> Vec<String> {
        self.clusters
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|(_, (o, _))| o == org_id)
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether anyone waits on a cluster.
    pub(crate) fn has_waiters(&self) -> bool {
        self.clusters
            .lock()
            .map(|c| c.values().any(|(_, tx)| tx.receiver_count() > 0))
            .unwrap_or(false)
    }

    fn wake(&self, cluster_id: &str, news: Wake) {
        if let Ok(clusters) = self.clusters.lock()
            && let Some((_, tx)) = clusters.get(cluster_id)
        {
            tx.send_replace(news);
        }
    }
}

impl Directory {
    /// Starts, once per process, the task that turns commits into
    /// wake-ups of the clusters they touch.
    pub(super) fn start_feed_hub(&self) {
        if self.feed_hub.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let dir = self.clone();
        let mut commits = self.commits.subscribe();
        tokio::spawn(async move {
            loop {
                if commits.changed().await.is_err() {
                    return;
                }
                dir.feed_hub.prune();
                let orgs: Vec<(String, i64)> = dir
                    .feed_hub
                    .seen
                    .lock()
                    .map(|s| s.iter().map(|(o, n)| (o.clone(), *n)).collect())
                    .unwrap_or_default();
                for (org_id, seen) in orgs {
                    match dir.touched_clusters(&org_id, seen).await {
                        Ok((through, touched)) => {
                            for (c, news) in touched {
                                dir.feed_hub.wake(&c, news);
                            }
                            if let Ok(mut s) = dir.feed_hub.seen.lock()
                                && let Some(at) = s.get_mut(&org_id)
                            {
                                *at = (*at).max(through);
                            }
                        }
                        Err(e) => {
                            // Wake them all: each waiter reads for itself.
                            tracing::warn!(error = %e, "the change feed could not sort a commit by cluster");
                            for c in dir.feed_hub.waited_on(&org_id) {
                                dir.feed_hub.wake(&c, None);
                            }
                        }
                    }
                }
            }
        });
    }

    /// The clusters waited on that the changes after `seen` touch, and the
    /// position read through: one read for all of the org's waiters.
    async fn touched_clusters(
        &self,
        org_id: &str,
        seen: i64,
    ) -> DirectoryResult<(i64, Vec<(String, Wake)>)> {
        let waited = self.feed_hub.waited_on(org_id);
        if waited.is_empty() {
            return Ok((seen, Vec::new()));
        }
        let org_id = org_id.to_string();
        self.read(move |tx| {
            let last = tx.last_seq(&org_id)?;
            if last <= seen {
                return Ok((seen, Vec::new()));
            }
            let changes = tx.changes_after(&org_id, seen, FEED_PAGE + 1)?;
            let clusters: Vec<_> = tx
                .clusters(&org_id)?
                .into_iter()
                .filter(|c| waited.contains(&c.id))
                .collect();
            // Too many to sort: every waiter reads (and resyncs) itself.
            if changes.len() as u64 > FEED_PAGE {
                return Ok((last, clusters.into_iter().map(|c| (c.id, None)).collect()));
            }
            let mut touched: HashMap<String, Vec<(i64, Change)>> = HashMap::new();
            for (n, change) in &changes {
                let groups = user_groups(tx, &org_id, change)?;
                for c in &clusters {
                    if touches_given(c, change, groups.as_ref()) {
                        touched
                            .entry(c.id.clone())
                            .or_default()
                            .push((*n, change.clone()));
                    }
                }
            }
            let through = changes.last().map(|(n, _)| *n).unwrap_or(last);
            Ok((
                through,
                touched
                    .into_iter()
                    .map(|(id, changes)| {
                        let news = News {
                            from: seen,
                            through,
                            changes,
                        };
                        (id, Some(Arc::new(news)))
                    })
                    .collect(),
            ))
        })
        .await
    }
}
