//! The embedded SQLite store.
//!
//! One writer thread owns the only writing connection and commits jobs in
//! batches: while one commit waits for its fsync, new jobs queue up and go
//! into the next transaction together (group commit), each in its own
//! savepoint so that one job's failure rolls back only that job. Reads use
//! a pool of connections and run concurrently (WAL mode).
//!
//! Durability: WAL with `synchronous=FULL` syncs the log on every commit,
//! and a job's delivery runs only after its commit returned, so a write
//! acknowledged to a client survives `kill -9` and power loss.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};

use crate::directory::store::{CommitStats, ReadJob, Store, StoreError, StoreResult, WriteJob};

mod query;
mod read;
mod rows;
pub mod schema;
mod sign_in;
mod write;
mod writer;

use schema::{configure, create_private, migrate};
use writer::{Stats, write_loop};

/// Read connections kept open, and reads run at once. A few more than the
/// cores, so that a read waiting on the disk does not idle a core.
const MAX_READERS: usize = 8;

pub(super) fn backend(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
    {
        return StoreError::Unique(msg.clone().unwrap_or_else(|| e.to_string()));
    }
    StoreError::Backend(e.to_string())
}

pub struct SqliteStore {
    path: PathBuf,
    sender: Mutex<Option<Sender<WriteJob>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    stats: Arc<Stats>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            return Err(StoreError::Backend(format!(
                "the directory {} for the database does not exist; create it first",
                dir.display()
            )));
        }
        create_private(path)?;
        let mut conn = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        configure(&conn)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(backend)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "cannot put {} in WAL mode (got {mode})",
                path.display()
            )));
        }
        migrate(&mut conn)?;
        let (tx, rx) = channel::<WriteJob>();
        let stats = Arc::new(Stats::default());
        let thread_stats = stats.clone();
        let writer = std::thread::Builder::new()
            .name("roster-sqlite-writer".into())
            .spawn(move || write_loop(conn, rx, thread_stats))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            sender: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
            stats,
        })
    }

    fn reader(&self) -> StoreResult<Connection> {
        if let Some(c) = self.readers.lock().ok().and_then(|mut r| r.pop()) {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(backend)?;
        configure(&c)?;
        c.execute_batch("PRAGMA query_only = ON").map_err(backend)?;
        Ok(c)
    }

    /// Stops the writer after the jobs already queued.
    pub fn close(&self) {
        if let Ok(mut s) = self.sender.lock() {
            s.take();
        }
        if let Some(h) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = h.join();
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

impl Store for SqliteStore {
    fn read(&self, job: ReadJob<'_>) -> StoreResult<()> {
        let conn = self.reader()?;
        // Cached statements: parsing BEGIN and ROLLBACK on every read
        // showed up in profiles.
        conn.prepare_cached("BEGIN")
            .and_then(|mut s| s.execute([]))
            .map_err(backend)?;
        let result = {
            let mut tx = SqliteTx { conn: &conn };
            job(&mut tx)
        };
        let _ = conn
            .prepare_cached("ROLLBACK")
            .and_then(|mut s| s.execute([]));
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < MAX_READERS
        {
            pool.push(conn);
        }
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
        MAX_READERS
    }

    fn reads_inline(&self) -> bool {
        true
    }

    fn commit_stats(&self) -> CommitStats {
        let mut buckets = [0u64; 10];
        for (out, b) in buckets.iter_mut().zip(self.stats.buckets.iter()) {
            *out = b.load(Ordering::Relaxed);
        }
        CommitStats {
            commits: self.stats.commits.load(Ordering::Relaxed),
            jobs: self.stats.jobs.load(Ordering::Relaxed),
            max_batch: self.stats.max_batch.load(Ordering::Relaxed),
            batch_buckets: buckets,
        }
    }
}

/// A transaction as the directory sees it: reads and writes through one
/// connection (the writer's inside a batch, or a pooled reader).
struct SqliteTx<'a> {
    conn: &'a Connection,
}
