//! The domain: organizations, tokens, users and groups, and every rule that
//! governs them (uniqueness, flat groups, legacy groups, versioning, the
//! change log). Knows the SCIM types it shares with the protocol, and the
//! storage interface; knows no HTTP and no particular database.

pub mod audit;
pub mod clock;
pub mod cluster_maps;
pub mod cluster_scope;
pub mod clusters;
pub mod edits;
pub mod explain;
pub mod feed;
mod feed_hub;
pub mod filter_resolution;
pub mod fleet;
pub mod identifiers;
pub mod legacy_groups;
pub mod listing;
mod map_model;
mod memberships;
pub mod model;
pub mod orgs;
pub(crate) mod posix_assign;
pub mod posix_import;
pub mod posix_rules;
pub mod query;
pub mod reserved_names;
pub mod resources;
pub mod roles;
pub mod scim_log;
pub mod search;
pub mod sign_in;
pub mod sign_in_ticket;
pub mod slurm_import;
pub mod ssh_keys;
pub mod store;
pub mod tokens;

use std::sync::{Arc, Mutex};

use crate::scim::{ScimError, ScimType};
pub use clock::Clock;
use store::{ReadTx, Store, StoreError, WriteTx};

/// Errors of the domain layer. The server turns them into SCIM errors
/// (RFC 7644 §3.12) in one place; the command line prints them.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The request breaks a rule of the protocol it came in (a filter, an
    /// attribute path, a PATCH operation, a cursor, a value): the
    /// protocol's keyword for what is wrong (RFC 7644 §3.12 Table 9, RFC
    /// 9865 §4) and what to fix. The server decides the status.
    #[error("{detail}")]
    Malformed {
        scim_type: Option<ScimType>,
        detail: String,
    },
    /// More in one request than is accepted (a PATCH's operations).
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    NotFound(String),
    /// A uniqueness rule (409 `uniqueness`).
    #[error("{0}")]
    Conflict(String),
    /// A domain rule refuses the value (400 `invalidValue`).
    #[error("{0}")]
    InvalidValue(String),
    /// `If-Match` named another version (412).
    #[error(
        "the resource is at version {current} (ETag W/\"{current}\"), not the one If-Match names; read it again and retry"
    )]
    PreconditionFailed { current: i64 },
    /// No or a wrong credential (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The credential is fine but the org does not allow this (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too much at once; the caller should try again later (429).
    #[error("{0}")]
    TooMany(String),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

pub type DirectoryResult<T> = Result<T, DirectoryError>;

impl DirectoryError {
    /// No user or group `id` in the org (or none the caller may see).
    pub fn no_such(rtype: model::ResourceType, id: &str) -> Self {
        DirectoryError::NotFound(format!(
            "no {} with id \"{id}\" in this organization",
            rtype.name()
        ))
    }
}

/// The protocol layer's parsers (filters, paths, PATCH, values) refuse
/// malformed input with a `ScimError`; in the domain it is a malformed
/// request, keeping the keyword and the detail but not the status. The
/// protocol raises only 400s, and a 413 for a PATCH of too many
/// operations (RFC 7644 §3.12).
impl From<ScimError> for DirectoryError {
    fn from(e: ScimError) -> Self {
        if e.status == 413 {
            return DirectoryError::TooLarge(e.detail);
        }
        DirectoryError::Malformed {
            scim_type: e.scim_type,
            detail: e.detail,
        }
    }
}

/// The directory service. Cheap to clone.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    clock: Clock,
    read_permits: Arc<tokio::sync::Semaphore>,
    token_touches: Arc<tokens::TokenTouches>,
    map_cache: Arc<cluster_maps::MapCache>,
    /// Bumped after every durable commit of this process, so change-feed
    /// waiters wake at once.
    commits: Arc<tokio::sync::watch::Sender<u64>>,
    /// Whether the task that notices other processes' writes runs.
    watching_other_writers: Arc<std::sync::atomic::AtomicBool>,
    /// Signalled by the store when another process extended a change log
    /// (PostgreSQL's NOTIFY), so that the watcher need not wait for its
    /// periodic check.
    external_change: Arc<tokio::sync::Notify>,
    feed_waiters: Arc<feed::Waiters>,
    /// Wakes each cluster's long polls when a commit touches it.
    feed_hub: Arc<feed_hub::FeedHub>,
    /// The key sign-in tickets are signed with, once read.
    ticket_key: Arc<std::sync::OnceLock<Vec<u8>>>,
}

fn run_read<R>(
    store: &dyn Store,
    f: impl FnOnce(&mut dyn ReadTx) -> DirectoryResult<R>,
) -> DirectoryResult<R> {
    let mut f = Some(f);
    let mut out: Option<DirectoryResult<R>> = None;
    let r = store.read(&mut |tx| {
        if let Some(f) = f.take() {
            out = Some(f(tx));
        }
        Ok(())
    });
    match (r, out) {
        (Err(e), _) => Err(DirectoryError::Store(e)),
        (Ok(()), Some(o)) => o,
        (Ok(()), None) => Err(DirectoryError::Store(StoreError::Backend(
            "read job did not run".into(),
        ))),
    }
}

impl Directory {
    /// The directory over `store`, on the system clock.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Directory::with_clock(store, Clock::system())
    }

    /// The directory over `store`, reading time from `clock` (a test's
    /// manual clock).
    pub fn with_clock(store: Arc<dyn Store>, clock: Clock) -> Self {
        let permits = store.max_concurrent_reads().max(1);
        let external_change = Arc::new(tokio::sync::Notify::new());
        let signal = external_change.clone();
        store.on_external_change(Arc::new(move || signal.notify_one()));
        Directory {
            store,
            clock,
            external_change,
            read_permits: Arc::new(tokio::sync::Semaphore::new(permits)),
            token_touches: Arc::default(),
            map_cache: Arc::default(),
            commits: Arc::new(tokio::sync::watch::channel(0).0),
            watching_other_writers: Arc::default(),
            feed_waiters: Arc::default(),
            feed_hub: Arc::default(),
            ticket_key: Arc::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock the directory reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Now, as the directory stores times.
    pub(crate) fn now(&self) -> String {
        self.clock.rfc3339()
    }

    /// Runs `f` in a read snapshot on a blocking thread.
    pub(crate) async fn read<R, F>(&self, f: F) -> DirectoryResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn ReadTx) -> DirectoryResult<R> + Send + 'static,
    {
        let store = self.store.clone();
        let permit = self.reader().await?;
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            run_read(store.as_ref(), f)
        })
        .await;
        joined.map_err(|e| {
            DirectoryError::Store(StoreError::Backend(format!("read task failed: {e}")))
        })?
    }

    /// A reader of the store's bounded few, once one is free.
    async fn reader(&self) -> DirectoryResult<tokio::sync::OwnedSemaphorePermit> {
        self.read_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| DirectoryError::Store(StoreError::Closed))
    }

    /// Runs a read of a few indexed rows (a token, one resource, the feed
    /// of a node that is up to date) on the calling thread, once a reader
    /// is free: such a read takes microseconds, less than handing it to a
    /// blocking thread would. (With 1,000 nodes re-polling at once, the
    /// hand-offs, two per poll, cost more than the reads.)
    pub(crate) async fn read_indexed<R, F>(&self, f: F) -> DirectoryResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn ReadTx) -> DirectoryResult<R> + Send + 'static,
    {
        if !self.store.reads_inline() {
            return self.read(f).await;
        }
        let permit = self.reader().await?;
        let out = run_read(self.store.as_ref(), f);
        drop(permit);
        out
    }

    /// Runs `f` in a write transaction; returns once the commit is durable.
    /// An `Err` from `f` rolls back everything `f` did.
    pub(crate) async fn write<R, F>(&self, f: F) -> DirectoryResult<R>
    where
        R: Send + 'static,
        F: FnMut(&mut dyn WriteTx) -> DirectoryResult<R> + Send + 'static,
    {
        self.write_and_wake(f, true).await
    }

    /// A write that adds nothing to the change log (what nodes reported):
    /// the feed's waiters are not woken for it.
    pub(crate) async fn write_quietly<R, F>(&self, f: F) -> DirectoryResult<R>
    where
        R: Send + 'static,
        F: FnMut(&mut dyn WriteTx) -> DirectoryResult<R> + Send + 'static,
    {
        self.write_and_wake(f, false).await
    }

    async fn write_and_wake<R, F>(&self, mut f: F, wake: bool) -> DirectoryResult<R>
    where
        R: Send + 'static,
        F: FnMut(&mut dyn WriteTx) -> DirectoryResult<R> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<DirectoryResult<R>>();
        // The last run's result: the store may run `f` more than once (a
        // retry in a new transaction), and the commit delivers the last.
        let last: Arc<Mutex<Option<DirectoryResult<R>>>> = Arc::new(Mutex::new(None));
        let kept = last.clone();
        let run = Box::new(move |wtx: &mut dyn WriteTx| {
            let result = f(wtx);
            let keep = result.is_ok();
            if let Ok(mut slot) = last.lock() {
                *slot = Some(result);
            }
            keep
        });
        let deliver: store::Delivery = Box::new(move |commit| {
            let result = kept.lock().ok().and_then(|mut slot| slot.take());
            let out = match (commit, result) {
                (Ok(()), Some(result)) => result,
                (Err(e), _) => Err(DirectoryError::Store(e)),
                (Ok(()), None) => Err(DirectoryError::Store(StoreError::Backend(
                    "a write committed without running".into(),
                ))),
            };
            let _ = tx.send(out);
        });
        self.store.write(store::WriteJob { run, deliver })?;
        // A job dropped unrun (no transaction could begin): nothing was
        // written, and the caller may retry.
        let result = rx.await.map_err(|_| {
            DirectoryError::Store(StoreError::Unavailable(
                "the write was not carried out: the database is unavailable".into(),
            ))
        })?;
        if wake && result.is_ok() {
            self.commits.send_modify(|n| *n = n.wrapping_add(1));
        }
        result
    }
}

/// For the domain's unit tests: a directory on a scratch SQLite store,
/// on a manual clock the test moves (`d.clock().advance(...)`).
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod scratch {
    use super::Directory;

    /// Runs `test` with a directory of its own, on a runtime of its own.
    pub fn with_directory<F, Fut>(test: F)
    where
        F: FnOnce(Directory) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("scratch.db").display());
        let d = Directory::with_clock(crate::store::open(&url).unwrap(), super::Clock::manual());
        rt.block_on(test(d));
    }

    /// Who the unit tests' changes are by.
    pub fn tester() -> super::model::Actor {
        super::model::Actor::cli("test", "localhost")
    }
}
