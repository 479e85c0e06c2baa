//! The writer thread: the only writing connection, committing jobs in
//! batches (group commit), each job in its own savepoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;

use rusqlite::Connection;

use super::SqliteTx;
use crate::directory::store::{BATCH_BUCKETS, StoreError, WriteJob};

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 512;

/// Commit counts, for the metrics.
#[derive(Default)]
pub(super) struct Stats {
    pub(super) commits: AtomicU64,
    pub(super) jobs: AtomicU64,
    pub(super) max_batch: AtomicU64,
    pub(super) buckets: [AtomicU64; 10],
}

pub(super) fn write_loop(conn: Connection, rx: Receiver<WriteJob>, stats: Arc<Stats>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        run_batch(&conn, batch, &stats);
    }
}

fn run_batch(conn: &Connection, batch: Vec<WriteJob>, stats: &Stats) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, jobs = batch.len(), "cannot begin a write transaction; the writes are refused");
        for job in batch {
            // Run nothing: each job is dropped, and its caller hears that
            // the write was not carried out.
            drop(job);
        }
        return;
    }
    let n = batch.len();
    let mut deliveries = Vec::with_capacity(n);
    let mut tx = SqliteTx { conn };
    for job in batch {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            tracing::error!(error = %e, "cannot open a savepoint");
            drop(job);
            continue;
        }
        let WriteJob { mut run, deliver } = job;
        let keep = run(&mut tx);
        let end = if keep {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            tracing::error!(error = %e, "cannot close a savepoint");
        }
        deliveries.push(deliver);
    }
    let committed = conn.execute_batch("COMMIT");
    if committed.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    stats.commits.fetch_add(1, Ordering::Relaxed);
    stats.jobs.fetch_add(n as u64, Ordering::Relaxed);
    stats.max_batch.fetch_max(n as u64, Ordering::Relaxed);
    let bucket = BATCH_BUCKETS
        .iter()
        .position(|b| n as u64 <= *b)
        .unwrap_or(BATCH_BUCKETS.len() - 1);
    if let Some(b) = stats.buckets.get(bucket) {
        b.fetch_add(1, Ordering::Relaxed);
    }
    for d in deliveries {
        d(match &committed {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Backend(format!("commit failed: {e}"))),
        });
    }
}
