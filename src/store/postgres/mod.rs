//! The PostgreSQL store, for several `roster serve` replicas sharing one
//! database (docs/postgres.md). The same storage trait as SQLite, and the
//! same behaviour: the store contract suite runs against both.
//!
//! Client: the `postgres` crate (the synchronous face of tokio-postgres,
//! the most used PostgreSQL client in Rust), because the storage trait is
//! synchronous: the directory runs store jobs on blocking threads.
//! Connections come from an `r2d2` pool. TLS is OpenSSL's (a dependency
//! already), always verifying the server's certificate and name.
//!
//! Concurrency across replicas: every write job runs in its own
//! transaction, and a write that reads its org takes the org's row lock
//! first (`SELECT ... FOR UPDATE`), so writes to one org are serialized
//! across replicas. The per-org counters (the change sequence, the next
//! UID and GID) live on that row: sequence order is commit order, and no
//! id is handed out twice. Reads run in `REPEATABLE READ READ ONLY`
//! snapshots. A write that loses a deadlock or a serialization failure
//! runs again in a new transaction (`run_write`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::error::SqlState;
use postgres_openssl::MakeTlsConnector;

use crate::directory::store::{
    CommitStats, ReadJob, Store, StoreError, StoreResult, WriteJob, WriteTx,
};

mod connection;
mod query;
mod read;
mod rows;
mod schema;
mod write;

use super::SchemaStatus;
pub use schema::SCHEMA_VERSION;

use connection::Pool;

/// How a PostgreSQL store is set up.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections this process opens (reads and writes together).
    pub pool_size: u32,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions { pool_size: 16 }
    }
}

/// A PostgreSQL error as a store error: unique violations are the
/// domain's business (409), a database that cannot be reached is
/// `Unavailable` (503, retry), the rest is the store's failure.
pub(crate) fn backend(e: postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            return StoreError::Unique(db.message().to_string());
        }
        // Connection exceptions (08), the server shutting down or in
        // recovery (57), out of resources (53), and a transaction that
        // lost a race (40001, 40P01): nothing wrong with the request, and
        // worth retrying.
        let class = code.code().get(..2).unwrap_or("");
        if matches!(class, "08" | "57" | "53")
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            return StoreError::Unavailable(format!("{}: {}", code.code(), db.message()));
        }
        return StoreError::Backend(format!("{}: {}", code.code(), db.message()));
    }
    // The client's own errors say their kind first. Those of the link
    // (a socket that failed or closed, a message cut short, a timeout)
    // are an outage; the rest (a value that would not convert, a column
    // missing) are this program's fault.
    const LINK: [&str; 8] = [
        "error communicating with the server",
        "connection closed",
        "unexpected message from server",
        "error parsing response from server",
        "error performing TLS handshake",
        "error connecting to server",
        "timeout waiting for server",
        "authentication error",
    ];
    let text = e.to_string();
    if e.is_closed() || LINK.iter().any(|kind| text.starts_with(kind)) {
        return StoreError::Unavailable(format!("the database is unreachable: {text}"));
    }
    StoreError::Backend(text)
}

fn pool_error(e: r2d2::Error) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {e}"))
}

/// A transaction as the directory sees it.
pub(crate) struct PgTx<'a, 'c> {
    tx: &'a mut postgres::Transaction<'c>,
    /// The connection's prepared statements.
    statements: &'a mut std::collections::HashMap<String, postgres::Statement>,
    /// In a write, reading an org locks its row until the commit.
    writing: bool,
    /// The write extended a change log: other replicas are notified.
    changed: bool,
    /// A statement failed because the transaction lost a race (why): the
    /// whole job is to run again.
    retry: Option<String>,
}

#[derive(Default)]
struct Stats {
    commits: AtomicU64,
}

pub struct PostgresStore {
    /// Who to wake when another process writes to a change log.
    wakers: Arc<Mutex<Vec<Waker>>>,
    /// Tells the listener to stop.
    stop: Arc<AtomicBool>,
    /// `None` only while dropping (the pool is dropped on a thread of its
    /// own, see `Drop`).
    pool: Option<Pool>,
    sender: Mutex<Option<Sender<WriteJob>>>,
    writers: Mutex<Vec<JoinHandle<()>>>,
    stats: Arc<Stats>,
    max_reads: usize,
}

impl PostgresStore {
    /// Connects, and brings the schema up to date (under an advisory lock,
    /// so replicas starting together migrate once).
    pub fn open(url: &str, options: &PostgresOptions) -> StoreResult<Self> {
        let pool = off_runtime(|| {
            let pool = connect(url, options)?;
            schema::migrate(&pool)?;
            Ok(pool)
        })?;
        // Writers hold a connection only while a job runs; half the pool
        // writes at most, the rest is left for reads.
        let writer_count = (options.pool_size / 2).max(1) as usize;
        let (tx, rx) = channel::<WriteJob>();
        let rx = Arc::new(Mutex::new(rx));
        let stats = Arc::new(Stats::default());
        let mut writers = Vec::with_capacity(writer_count);
        for i in 0..writer_count {
            let (pool, rx, stats) = (pool.clone(), rx.clone(), stats.clone());
            let handle = std::thread::Builder::new()
                .name(format!("roster-pg-writer-{i}"))
                .spawn(move || write_loop(&pool, &rx, &stats))
                .map_err(|e| StoreError::Backend(format!("cannot start a writer thread: {e}")))?;
            writers.push(handle);
        }
        let wakers: Arc<Mutex<Vec<Waker>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (url, wakers, stop) = (url.to_string(), wakers.clone(), stop.clone());
            std::thread::Builder::new()
                .name("roster-pg-listener".into())
                .spawn(move || listen_loop(&url, &wakers, &stop))
                .map_err(|e| StoreError::Backend(format!("cannot start the listener: {e}")))?;
        }
        Ok(PostgresStore {
            wakers,
            stop,
            pool: Some(pool),
            sender: Mutex::new(Some(tx)),
            writers: Mutex::new(writers),
            stats,
            max_reads: (options.pool_size as usize - writer_count).max(1),
        })
    }

    /// The schema's state, without changing it (`roster db status`).
    pub fn status(url: &str) -> StoreResult<SchemaStatus> {
        off_runtime(|| {
            let pool = connect(url, &PostgresOptions { pool_size: 1 })?;
            schema::status(&pool)
        })
    }

    /// Stops the writers after the jobs already queued.
    pub fn close(&self) {
        if let Ok(mut s) = self.sender.lock() {
            s.take();
        }
        let handles = self
            .writers
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        for h in handles {
            let _ = h.join();
        }
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.close();
        // Closing a connection blocks on the client's own runtime, which
        // must not happen on a thread that drives async tasks (the store
        // may be dropped on one): the pool goes on a thread of its own.
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// Runs `f` on a thread of its own and waits for it. The `postgres`
/// client blocks on a runtime of its own, which tokio forbids on a thread
/// that drives async tasks: opening a store is called from async code.
fn off_runtime<T: Send>(f: impl FnOnce() -> StoreResult<T> + Send) -> StoreResult<T> {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|_| Err(StoreError::Backend("the database thread failed".into())))
    })
}

/// The pool for `url`: TLS when the server offers it (and required with
/// `sslmode=require`), verified against the system's CAs or the file
/// `sslrootcert=` names.
fn connect(url: &str, options: &PostgresOptions) -> StoreResult<Pool> {
    let (config, tls) = client_config(url)?;
    let reachable = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let manager = connection::Manager {
        config,
        tls,
        reachable: reachable.clone(),
    };
    let inner = r2d2::Pool::builder()
        .max_size(options.pool_size.max(2))
        .min_idle(Some(1))
        // No round trip to test a connection before each use: a broken
        // one fails its statement (503, retry) and is not returned.
        .test_on_check_out(false)
        // Callers wait as `Pool::get` says, not this long.
        .connection_timeout(Duration::from_secs(30))
        .build_unchecked(manager);
    let pool = Pool { inner, reachable };
    // The first connection says whether the URL works: on a loaded
    // machine it may be slow to come, and a refusal is said at once.
    pool.get().map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot connect to {}: {}",
            super::redact_url(url),
            why_not(url).unwrap_or_else(|| e.to_string())
        ))
    })?;
    Ok(pool)
}

/// Why a connection to `url` fails, in the server's words (the pool says
/// only that it timed out).
fn why_not(url: &str) -> Option<String> {
    let (config, tls) = client_config(url).ok()?;
    match config.connect(tls) {
        Ok(_) => None,
        Err(e) => Some(match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        }),
    }
}

/// The client settings and TLS connector for `url`.
pub(super) fn client_config(url: &str) -> StoreResult<(postgres::Config, MakeTlsConnector)> {
    let (url, root_cert) = take_param(url, "sslrootcert");
    let config: postgres::Config = url.parse().map_err(|e| {
        StoreError::Backend(format!(
            "the database URL {} is not valid: {e}",
            super::redact_url(&url)
        ))
    })?;
    let mut tls = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls())
        .map_err(|e| StoreError::Backend(format!("cannot set up TLS: {e}")))?;
    if let Some(path) = root_cert {
        tls.set_ca_file(&path)
            .map_err(|e| StoreError::Backend(format!("cannot read sslrootcert {path}: {e}")))?;
    }
    Ok((config, MakeTlsConnector::new(tls.build())))
}

/// The channel writes notify on when they extend a change log.
const CHANGES_CHANNEL: &str = "roster_changes";

type Waker = Arc<dyn Fn() + Send + Sync>;

/// Listens for other replicas' writes (LISTEN, on a connection of its
/// own) and calls the wakers at each; reconnects after a failure. The
/// notification only wakes: what changed is read from the change log, and
/// a reader that misses one (while reconnecting) is caught by the
/// directory's periodic check.
fn listen_loop(url: &str, wakers: &Mutex<Vec<Waker>>, stop: &AtomicBool) {
    let wake_all = || {
        if let Ok(ws) = wakers.lock() {
            ws.iter().for_each(|w| w());
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let client = client_config(url).and_then(|(config, tls)| {
            let mut c = config.connect(tls).map_err(backend)?;
            c.batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
                .map_err(backend)?;
            Ok(c)
        });
        let mut client = match client {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other replicas' writes; retrying in 1 s");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        // What happened while not listening.
        wake_all();
        while !stop.load(Ordering::Relaxed) {
            use postgres::fallible_iterator::FallibleIterator;
            let mut notes = client.notifications();
            match notes.timeout_iter(Duration::from_secs(1)).next() {
                Ok(Some(_)) => wake_all(),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "lost the connection that listens for other replicas' writes");
                    break;
                }
            }
        }
    }
}

/// Removes `name=value` from a URL's query (the `postgres` crate does not
/// know every libpq parameter); returns the URL and the value.
fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.split_once('=') {
            Some((k, v)) if k == name => {
                value = Some(v.to_string());
                false
            }
            _ => true,
        })
        .collect();
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, value)
}

fn write_loop(pool: &Pool, rx: &Mutex<Receiver<WriteJob>>, stats: &Stats) {
    loop {
        let job = match rx.lock() {
            Ok(r) => match r.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        run_write(pool, job, stats);
    }
}

/// Most times a write runs when the database keeps asking for a retry.
const ATTEMPTS: u32 = 5;

/// Runs one job in its own transaction and delivers the outcome. A
/// serialization failure or a deadlock (SQLSTATE 40001, 40P01) is the
/// database asking for the transaction again: it is rolled back and the
/// job runs anew, after a short random pause so that the two sides of a
/// deadlock do not meet again.
fn run_write(pool: &Pool, job: WriteJob, stats: &Stats) {
    let WriteJob { mut run, deliver } = job;
    let mut conn = match pool.get() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no database connection for a write; it is refused");
            // Delivered nothing: its caller hears that the write was not
            // carried out.
            drop(deliver);
            return;
        }
    };
    let mut attempt = 1;
    loop {
        match attempt_write(&mut conn, &mut *run) {
            Attempt::Done(outcome) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                deliver(outcome);
                return;
            }
            Attempt::NotRun => {
                drop(deliver);
                return;
            }
            Attempt::Retry(why) if attempt < ATTEMPTS => {
                tracing::info!(attempt, reason = %why, "the database asked for the write again; it runs anew");
                let pause = rand::random_range(5..=20u64) << attempt;
                std::thread::sleep(Duration::from_millis(pause));
                attempt += 1;
            }
            Attempt::Retry(why) => {
                tracing::warn!(attempts = attempt, reason = %why, "the write was refused: the database kept asking for it again");
                deliver(Err(StoreError::Unavailable(format!(
                    "the write was tried {attempt} times and the database asked for it again each time: {why}"
                ))));
                return;
            }
        }
    }
}

/// How one try of a write ended.
enum Attempt {
    /// Committed, rolled back by the job, or failed for good.
    Done(StoreResult<()>),
    /// No transaction could begin: nothing ran.
    NotRun,
    /// The database asked for the transaction again; nothing was kept.
    Retry(String),
}

fn attempt_write(
    conn: &mut connection::PgConn,
    run: &mut (dyn FnMut(&mut dyn WriteTx) -> bool + Send),
) -> Attempt {
    let connection::PgConn { client, statements } = conn;
    let mut tx = match client.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            tracing::warn!(error = %e, "cannot begin a write transaction; it is refused");
            return Attempt::NotRun;
        }
    };
    let (keep, changed, retry) = {
        let mut w = PgTx {
            tx: &mut tx,
            statements,
            writing: true,
            changed: false,
            retry: None,
        };
        let keep = run(&mut w as &mut dyn WriteTx);
        (keep, w.changed, w.retry)
    };
    // Whatever the job made of the failure, the transaction is aborted.
    if let Some(why) = retry {
        let _ = tx.rollback();
        return Attempt::Retry(why);
    }
    if !keep {
        return Attempt::Done(tx.rollback().map_err(backend));
    }
    // Delivered at the commit, to every replica that listens.
    let notified = if changed {
        tx.execute("SELECT pg_notify($1, '')", &[&CHANGES_CHANNEL])
            .map(|_| ())
    } else {
        Ok(())
    };
    match notified.and_then(|()| tx.commit()) {
        Ok(()) => Attempt::Done(Ok(())),
        Err(e) if asks_for_retry(&e) => Attempt::Retry(e.to_string()),
        Err(e) => Attempt::Done(Err(backend(e))),
    }
}

/// A serialization failure or a deadlock: the transaction lost a race,
/// and the same work in a new one can succeed.
fn asks_for_retry(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

impl Store for PostgresStore {
    fn read(&self, job: ReadJob<'_>) -> StoreResult<()> {
        let pool = self.pool.as_ref().ok_or(StoreError::Closed)?;
        let mut conn = pool.get().map_err(pool_error)?;
        let connection::PgConn { client, statements } = &mut *conn;
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(backend)?;
        let result = {
            let mut r = PgTx {
                tx: &mut tx,
                statements,
                writing: false,
                changed: false,
                retry: None,
            };
            job(&mut r)
        };
        let _ = tx.rollback();
        result
    }

    fn write(&self, job: WriteJob) -> StoreResult<()> {
        let guard = self.sender.lock().map_err(|_| StoreError::Closed)?;
        match guard.as_ref() {
            Some(s) => s.send(job).map_err(|_| StoreError::Closed),
            None => Err(StoreError::Closed),
        }
    }

    fn max_concurrent_reads(&self) -> usize {
        self.max_reads
    }

    fn commit_stats(&self) -> CommitStats {
        let commits = self.stats.commits.load(Ordering::Relaxed);
        // One job per transaction: every commit is a batch of one.
        let mut batch_buckets = [0u64; 10];
        if let Some(ones) = batch_buckets.first_mut() {
            *ones = commits;
        }
        CommitStats {
            commits,
            jobs: commits,
            max_batch: u64::from(commits > 0),
            batch_buckets,
        }
    }

    fn reads_inline(&self) -> bool {
        // A read is a network round trip: never on the caller's (async)
        // thread.
        false
    }

    fn on_external_change(&self, wake: Arc<dyn Fn() + Send + Sync>) -> bool {
        if let Ok(mut w) = self.wakers.lock() {
            w.push(wake);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslrootcert_is_taken_out_of_the_url() {
        let (url, v) = take_param(
            "postgres://u:p@h/db?sslmode=require&sslrootcert=/etc/ca.pem",
            "sslrootcert",
        );
        assert_eq!(url, "postgres://u:p@h/db?sslmode=require");
        assert_eq!(v.as_deref(), Some("/etc/ca.pem"));
        let (url, v) = take_param("postgres://u:p@h/db", "sslrootcert");
        assert_eq!((url.as_str(), v), ("postgres://u:p@h/db", None));
    }
}
