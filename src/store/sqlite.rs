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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params, params_from_iter};

use super::sqlite_query::{self, RESOURCE_COLUMNS, table};
use super::sqlite_sign_in as sign_in;
use crate::directory::model::{
    Change, ChangeKind, Cluster, GroupRef, LedgerKind, MemberRef, Org, OrgSettings, PosixAccount,
    ResourceType, SamlSettings, Session, StoredResource, Subject, TokenRecord,
};
use crate::directory::query::{Query, Window, fold};
use crate::directory::scim_log::{ScimLogEntry, ScimLogQuery};
use crate::directory::store::{
    CommitStats, ReadJob, ReadTx, Store, StoreError, StoreResult, WriteJob, WriteTx,
};

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 512;
/// Upper bounds of the commit batch size histogram.
pub const BATCH_BUCKETS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const SCHEMA_VERSION: i64 = 6;

/// Each schema version and the SQL that reaches it from the one before.
const MIGRATIONS: [(i64, &str); 6] = [
    (1, SCHEMA),
    (2, SCIM_LOG_SCHEMA),
    (3, POSIX_SCHEMA),
    (4, CLUSTER_SCHEMA),
    (5, sign_in::SIGN_IN_SCHEMA),
    (6, HARDENING_SCHEMA),
];

/// Names an org reserves (one per line), and what `serve` records for the
/// command line (its public URL).
const HARDENING_SCHEMA: &str = r#"
ALTER TABLE orgs ADD COLUMN reserved_names TEXT NOT NULL DEFAULT '';
CREATE TABLE server_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#;

const CLUSTER_SCHEMA: &str = r#"
CREATE TABLE clusters (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    UNIQUE (org_id, name_key)
);
CREATE TABLE cluster_groups (
    cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    PRIMARY KEY (cluster_id, group_id)
) WITHOUT ROWID;
ALTER TABLE tokens ADD COLUMN cluster_id TEXT REFERENCES clusters(id) ON DELETE CASCADE;
"#;

const POSIX_SCHEMA: &str = r#"
ALTER TABLE orgs ADD COLUMN next_uid INTEGER NOT NULL DEFAULT 100000;
ALTER TABLE orgs ADD COLUMN next_gid INTEGER NOT NULL DEFAULT 200000;
CREATE TABLE posix_accounts (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    uid INTEGER,
    gid INTEGER NOT NULL,
    name TEXT NOT NULL,
    home TEXT,
    shell TEXT,
    PRIMARY KEY (org_id, resource_type, resource_id)
) WITHOUT ROWID;
CREATE TABLE posix_ledger (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    PRIMARY KEY (org_id, kind, value)
) WITHOUT ROWID;
"#;

const SCIM_LOG_SCHEMA: &str = r#"
CREATE TABLE scim_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    token_name TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    scim_type TEXT,
    detail TEXT,
    latency_ms REAL NOT NULL,
    body TEXT
);
CREATE INDEX scim_log_org ON scim_log(org_id, id);
CREATE INDEX scim_log_at ON scim_log(at);
"#;
/// Read connections kept open, and reads run at once. A few more than the
/// cores, so that a read waiting on the disk does not idle a core.
const MAX_READERS: usize = 8;

const SCHEMA: &str = r#"
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    scim_api INTEGER NOT NULL,
    aup INTEGER NOT NULL,
    sup INTEGER NOT NULL,
    legacy_groups INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    created TEXT NOT NULL,
    last_used TEXT,
    revoked TEXT
);
CREATE INDEX tokens_org ON tokens(org_id);
CREATE TABLE users (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name_key TEXT NOT NULL,
    display_key TEXT,
    external_id TEXT,
    doc TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_id ON users(org_id, id);
CREATE UNIQUE INDEX users_name ON users(org_id, name_key);
CREATE INDEX users_display ON users(org_id, display_key);
CREATE INDEX users_external ON users(org_id, external_id);
CREATE TABLE groups (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name_key TEXT NOT NULL,
    display_key TEXT,
    external_id TEXT,
    doc TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_id ON groups(org_id, id);
CREATE UNIQUE INDEX groups_name ON groups(org_id, name_key);
CREATE INDEX groups_display ON groups(org_id, display_key);
CREATE INDEX groups_external ON groups(org_id, external_id);
CREATE TABLE memberships (
    group_pos INTEGER NOT NULL REFERENCES groups(position) ON DELETE CASCADE,
    user_pos INTEGER NOT NULL REFERENCES users(position) ON DELETE CASCADE,
    PRIMARY KEY (group_pos, user_pos)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships(user_pos, group_pos);
CREATE TABLE changes (
    org_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
) WITHOUT ROWID;
"#;

pub(super) fn backend(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
    {
        return StoreError::Unique(msg.clone().unwrap_or_else(|| e.to_string()));
    }
    StoreError::Backend(e.to_string())
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(backend)?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
        .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(128);
    // Case folding as the directory does it (full Unicode, not SQLite's
    // ASCII-only lower()).
    conn.create_scalar_function(
        "roster_fold",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let s: Option<String> = ctx.get(0)?;
            Ok(s.map(|s| fold(&s)))
        },
    )
    .map_err(backend)?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "the database has schema version {version}, newer than this roster ({SCHEMA_VERSION}); upgrade roster"
        )));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    // Another process may have migrated while we waited for the lock.
    let mut current: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    for (to, sql) in MIGRATIONS {
        if current < to {
            tx.execute_batch(sql).map_err(backend)?;
            tx.execute_batch(&format!("PRAGMA user_version = {to}"))
                .map_err(backend)?;
            current = to;
        }
    }
    tx.commit().map_err(backend)
}

/// Creates the database file readable by its owner only (0600), if it
/// does not exist: it holds token hashes, sessions, SSH keys and the
/// provisioning log. SQLite gives its -wal and -shm files the database
/// file's mode. An existing file keeps the mode its operator chose.
fn create_private(path: &Path) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            if let Ok(meta) = std::fs::metadata(path) {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(
                        path = %path.display(),
                        "the database can be read by other users of this machine; chmod 600 it"
                    );
                }
            }
            Ok(())
        }
        Err(e) => Err(StoreError::Backend(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    jobs: AtomicU64,
    max_batch: AtomicU64,
    buckets: [AtomicU64; 10],
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

fn write_loop(conn: Connection, rx: Receiver<WriteJob>, stats: Arc<Stats>) {
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
        let (keep, deliver) = job(&mut tx);
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

struct SqliteTx<'a> {
    conn: &'a Connection,
}

fn org_from_row(r: &Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        id: r.get(0)?,
        name: r.get(1)?,
        created: r.get(2)?,
        settings: OrgSettings {
            scim_api: r.get(3)?,
            aup: r.get(4)?,
            sup: r.get(5)?,
            legacy_groups: r.get(6)?,
            jit: r.get(7)?,
        },
        reserved_names: r.get::<_, String>(8)?.lines().map(str::to_string).collect(),
    })
}

const ORG_COLUMNS: &str =
    "id, name, created, scim_api, aup, sup, legacy_groups, jit, reserved_names";
const TOKEN_COLUMNS: &str = "id, org_id, name, hash, created, last_used, revoked, cluster_id";

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: r.get(0)?,
        org_id: r.get(1)?,
        name: r.get(2)?,
        hash: r.get(3)?,
        created: r.get(4)?,
        last_used: r.get(5)?,
        revoked: r.get(6)?,
        cluster_id: r.get(7)?,
    })
}

fn resource_from_row(
    rtype: ResourceType,
    r: &Row<'_>,
) -> rusqlite::Result<(StoredResource, String)> {
    let doc: String = r.get(5)?;
    Ok((
        StoredResource {
            position: r.get(0)?,
            rtype,
            id: r.get(1)?,
            name_key: r.get(2)?,
            display_key: r.get(3)?,
            external_id: r.get(4)?,
            doc: Default::default(),
            created: r.get(6)?,
            modified: r.get(7)?,
            version: r.get(8)?,
        },
        doc,
    ))
}

fn with_doc((mut s, doc): (StoredResource, String)) -> StoreResult<StoredResource> {
    s.doc = serde_json::from_str(&doc)
        .map_err(|e| StoreError::Corrupt(format!("document of {}: {e}", s.id)))?;
    Ok(s)
}

/// `?, ?, ?` for `n` parameters.
fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

/// SQLite's default limit on bound parameters is 32766; batch well below.
const IN_CHUNK: usize = 500;

impl SqliteTx<'_> {
    fn position_of(&self, org_id: &str, rtype: ResourceType, id: &str) -> StoreResult<Option<i64>> {
        let sql = match rtype {
            ResourceType::User => "SELECT position FROM users WHERE org_id = ?1 AND id = ?2",
            ResourceType::Group => "SELECT position FROM groups WHERE org_id = ?1 AND id = ?2",
        };
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row(params![org_id, id], |r| r.get(0)).optional())
            .map_err(backend)
    }
}

impl SqliteTx<'_> {
    /// Runs `sql` (whose `IN (IDS)` takes the ids) for `ids` in chunks and
    /// groups its rows `(owner id, other id, display)` by owner.
    fn related<T>(
        &self,
        sql: &str,
        org_id: &str,
        ids: &[&str],
        make: impl Fn(String, String) -> T,
    ) -> StoreResult<HashMap<String, Vec<T>>> {
        let mut out: HashMap<String, Vec<T>> = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let text = sql.replace("IDS", &placeholders(chunk.len()));
            let mut s = self.conn.prepare_cached(&text).map_err(backend)?;
            let args = std::iter::once(org_id).chain(chunk.iter().copied());
            let rows = s
                .query_map(params_from_iter(args), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })
                .map_err(backend)?;
            for row in rows {
                let (owner, other, display) = row.map_err(backend)?;
                out.entry(owner)
                    .or_default()
                    .push(make(other, display.unwrap_or_default()));
            }
        }
        Ok(out)
    }
}

impl SqliteTx<'_> {
    /// One resource by a unique column (`id` or `name_key`; never input).
    fn resource_where(
        &self,
        org_id: &str,
        rtype: ResourceType,
        column: &'static str,
        value: &str,
    ) -> StoreResult<Option<StoredResource>> {
        let sql = format!(
            "SELECT {RESOURCE_COLUMNS} FROM {} r WHERE r.org_id = ?1 AND r.{column} = ?2",
            table(rtype)
        );
        let row = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_row(params![org_id, value], |r| resource_from_row(rtype, r))
                    .optional()
            })
            .map_err(backend)?;
        row.map(with_doc).transpose()
    }

    fn with_groups(
        &self,
        org_id: &str,
        id: String,
        name: String,
        created: String,
        modified: String,
    ) -> StoreResult<Cluster> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT group_id FROM cluster_groups WHERE cluster_id = ?1 ORDER BY group_id",
            )
            .map_err(backend)?;
        let rows = s.query_map(params![id], |r| r.get(0)).map_err(backend)?;
        let group_ids = rows.collect::<Result<Vec<String>, _>>().map_err(backend)?;
        Ok(Cluster {
            id,
            org_id: org_id.to_string(),
            name,
            created,
            modified,
            group_ids,
        })
    }
}

impl ReadTx for SqliteTx<'_> {
    fn org(&mut self, id_or_name: &str) -> StoreResult<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?1 OR name_key = ?2");
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_row(params![id_or_name, fold(id_or_name)], org_from_row)
                    .optional()
            })
            .map_err(backend)
    }

    fn orgs(&mut self) -> StoreResult<Vec<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY name_key");
        let mut s = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = s.query_map([], org_from_row).map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn token_by_hash(&mut self, hash: &[u8]) -> StoreResult<Option<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1");
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row(params![hash], token_from_row).optional())
            .map_err(backend)
    }

    fn tokens(&mut self, org_id: &str) -> StoreResult<Vec<TokenRecord>> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = ?1 ORDER BY created, id");
        let mut s = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = s
            .query_map(params![org_id], token_from_row)
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn resource(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        id: &str,
    ) -> StoreResult<Option<StoredResource>> {
        self.resource_where(org_id, rtype, "id", id)
    }

    fn resource_by_name(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        name_key: &str,
    ) -> StoreResult<Option<StoredResource>> {
        self.resource_where(org_id, rtype, "name_key", name_key)
    }

    fn search(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        q: &Query,
    ) -> StoreResult<(u64, Vec<StoredResource>)> {
        let (page, count) = sqlite_query::search(rtype, org_id, q);
        let (offset, limit) = match q.window {
            Window::Offset { offset, limit } => (Some(offset), limit),
            Window::After { limit, .. } => (None, limit),
        };
        let mut out = Vec::new();
        if limit > 0 {
            let mut s = self.conn.prepare_cached(&page.text).map_err(backend)?;
            let rows = s
                .query_map(params_from_iter(page.params.iter()), |r| {
                    resource_from_row(rtype, r)
                })
                .map_err(backend)?;
            for row in rows {
                out.push(with_doc(row.map_err(backend)?)?);
            }
        }
        // A short page from an offset tells the total without counting:
        // the common look-up (`userName eq`) runs one query, not two.
        if let Some(offset) = offset
            && (out.len() as u64) < limit
            && (offset == 0 || !out.is_empty())
        {
            return Ok((offset + out.len() as u64, out));
        }
        let total: i64 = self
            .conn
            .prepare_cached(&count.text)
            .and_then(|mut s| s.query_row(params_from_iter(count.params.iter()), |r| r.get(0)))
            .map_err(backend)?;
        Ok((total.max(0) as u64, out))
    }

    fn members(
        &mut self,
        org_id: &str,
        group_ids: &[&str],
    ) -> StoreResult<HashMap<String, Vec<MemberRef>>> {
        let sql = "SELECT g.id, u.id, COALESCE(json_extract(u.doc, '$.displayName'), json_extract(u.doc, '$.userName')) \
                   FROM groups g JOIN memberships m ON m.group_pos = g.position JOIN users u ON u.position = m.user_pos \
                   WHERE g.org_id = ? AND g.id IN (IDS) ORDER BY g.position, u.position";
        self.related(sql, org_id, group_ids, |user_id, display| MemberRef {
            user_id,
            display,
            posix_name: None,
        })
    }

    fn groups_of(
        &mut self,
        org_id: &str,
        user_ids: &[&str],
    ) -> StoreResult<HashMap<String, Vec<GroupRef>>> {
        let sql = "SELECT u.id, g.id, json_extract(g.doc, '$.displayName') \
                   FROM users u JOIN memberships m ON m.user_pos = u.position JOIN groups g ON g.position = m.group_pos \
                   WHERE u.org_id = ? AND u.id IN (IDS) ORDER BY u.position, g.name_key";
        self.related(sql, org_id, user_ids, |group_id, display| GroupRef {
            group_id,
            display,
        })
    }

    fn kinds(&mut self, org_id: &str, ids: &[&str]) -> StoreResult<HashMap<String, ResourceType>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            for rtype in [ResourceType::User, ResourceType::Group] {
                let sql = format!(
                    "SELECT id FROM {} WHERE org_id = ? AND id IN ({})",
                    table(rtype),
                    placeholders(chunk.len())
                );
                let mut s = self.conn.prepare_cached(&sql).map_err(backend)?;
                let args = std::iter::once(org_id).chain(chunk.iter().copied());
                let rows = s
                    .query_map(params_from_iter(args), |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                for row in rows {
                    out.insert(row.map_err(backend)?, rtype);
                }
            }
        }
        Ok(out)
    }

    fn last_seq(&mut self, org_id: &str) -> StoreResult<i64> {
        self.conn
            .prepare_cached("SELECT last_seq FROM orgs WHERE id = ?1")
            .and_then(|mut s| s.query_row(params![org_id], |r| r.get(0)).optional())
            .map(|v| v.unwrap_or(0))
            .map_err(backend)
    }

    fn server_setting(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.conn
            .prepare_cached("SELECT value FROM server_settings WHERE key = ?1")
            .and_then(|mut s| s.query_row(params![key], |r| r.get(0)).optional())
            .map_err(backend)
    }

    fn change_marker(&mut self) -> StoreResult<i64> {
        self.conn
            .prepare_cached("SELECT CAST(total(last_seq) AS INTEGER) FROM orgs")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(backend)
    }

    fn scim_log(&mut self, org_id: &str, q: &ScimLogQuery) -> StoreResult<Vec<ScimLogEntry>> {
        let sql = "SELECT at, org_id, token_name, method, path, status, scim_type, detail, latency_ms, body FROM scim_log \
                   WHERE org_id = ?1 AND (?2 = 0 OR status >= 400) AND (?3 IS NULL OR at >= ?3) ORDER BY id DESC LIMIT ?4";
        let mut s = self.conn.prepare_cached(sql).map_err(backend)?;
        let rows = s
            .query_map(
                params![
                    org_id,
                    q.failed_only,
                    q.since,
                    q.limit.min(i64::MAX as u64) as i64
                ],
                |r| {
                    Ok(ScimLogEntry {
                        at: r.get(0)?,
                        org_id: r.get(1)?,
                        token_name: r.get(2)?,
                        method: r.get(3)?,
                        path: r.get(4)?,
                        status: r.get(5)?,
                        scim_type: r.get(6)?,
                        detail: r.get(7)?,
                        latency_ms: r.get(8)?,
                        body: r.get(9)?,
                    })
                },
            )
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn posix_accounts(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        ids: &[&str],
    ) -> StoreResult<HashMap<String, PosixAccount>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT resource_id, uid, gid, name, home, shell FROM posix_accounts \
                 WHERE org_id = ? AND resource_type = ? AND resource_id IN ({})",
                placeholders(chunk.len())
            );
            let mut s = self.conn.prepare_cached(&sql).map_err(backend)?;
            let args = [org_id, rtype.name()]
                .into_iter()
                .chain(chunk.iter().copied());
            let rows = s
                .query_map(params_from_iter(args), |r| {
                    Ok(PosixAccount {
                        rtype,
                        resource_id: r.get(0)?,
                        uid: r.get(1)?,
                        gid: r.get(2)?,
                        name: r.get(3)?,
                        home: r.get(4)?,
                        shell: r.get(5)?,
                    })
                })
                .map_err(backend)?;
            for row in rows {
                let a = row.map_err(backend)?;
                out.insert(a.resource_id.clone(), a);
            }
        }
        Ok(out)
    }

    fn posix_owner(
        &mut self,
        org_id: &str,
        kind: LedgerKind,
        value: &str,
    ) -> StoreResult<Option<String>> {
        self.conn
            .prepare_cached("SELECT resource_id FROM posix_ledger WHERE org_id = ?1 AND kind = ?2 AND value = ?3")
            .and_then(|mut s| s.query_row(params![org_id, kind.as_str(), value], |r| r.get(0)).optional())
            .map_err(backend)
    }

    fn next_posix_ids(&mut self, org_id: &str) -> StoreResult<(i64, i64)> {
        self.conn
            .prepare_cached("SELECT next_uid, next_gid FROM orgs WHERE id = ?1")
            .and_then(|mut s| s.query_row(params![org_id], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(backend)
    }

    fn cluster(&mut self, org_id: &str, id_or_name: &str) -> StoreResult<Option<Cluster>> {
        let row: Option<(String, String, String, String)> = self
            .conn
            .prepare_cached("SELECT id, name, created, modified FROM clusters WHERE org_id = ?1 AND (id = ?2 OR name_key = ?3)")
            .and_then(|mut s| s.query_row(params![org_id, id_or_name, fold(id_or_name)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional())
            .map_err(backend)?;
        row.map(|(id, name, created, modified)| {
            self.with_groups(org_id, id, name, created, modified)
        })
        .transpose()
    }

    fn clusters(&mut self, org_id: &str) -> StoreResult<Vec<Cluster>> {
        let rows: Vec<(String, String, String, String)> = {
            let mut s = self
                .conn
                .prepare_cached("SELECT id, name, created, modified FROM clusters WHERE org_id = ?1 ORDER BY name_key")
                .map_err(backend)?;
            let rows = s
                .query_map(params![org_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
        };
        rows.into_iter()
            .map(|(id, name, created, modified)| {
                self.with_groups(org_id, id, name, created, modified)
            })
            .collect()
    }

    fn resources_by_ids(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        ids: &[&str],
    ) -> StoreResult<Vec<StoredResource>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT {RESOURCE_COLUMNS} FROM {} r WHERE r.org_id = ? AND r.id IN ({})",
                table(rtype),
                placeholders(chunk.len())
            );
            let mut s = self.conn.prepare_cached(&sql).map_err(backend)?;
            let args = std::iter::once(org_id).chain(chunk.iter().copied());
            let rows = s
                .query_map(params_from_iter(args), |r| resource_from_row(rtype, r))
                .map_err(backend)?;
            for row in rows {
                out.push(with_doc(row.map_err(backend)?)?);
            }
        }
        Ok(out)
    }

    fn last_change_at(&mut self, org_id: &str) -> StoreResult<Option<String>> {
        self.conn
            .prepare_cached("SELECT at FROM changes WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1")
            .and_then(|mut s| s.query_row(params![org_id], |r| r.get(0)).optional())
            .map_err(backend)
    }

    fn changes_after(
        &mut self,
        org_id: &str,
        after: i64,
        limit: u64,
    ) -> StoreResult<Vec<(i64, Change)>> {
        let mut s = self
            .conn
            .prepare_cached("SELECT seq, at, resource_type, resource_id, kind FROM changes WHERE org_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")
            .map_err(backend)?;
        let rows = s
            .query_map(
                params![org_id, after, limit.min(i64::MAX as u64) as i64],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, at, subject, resource_id, kind) = row.map_err(backend)?;
            let subject = match subject.as_str() {
                "User" => Subject::Resource(ResourceType::User),
                "Group" => Subject::Resource(ResourceType::Group),
                "Cluster" => Subject::Cluster,
                _ => Subject::Org,
            };
            let kind = match kind.as_str() {
                "created" => ChangeKind::Created,
                "deleted" => ChangeKind::Deleted,
                "members" => ChangeKind::MembersChanged,
                _ => ChangeKind::Updated,
            };
            out.push((
                seq,
                Change {
                    subject,
                    resource_id,
                    kind,
                    at,
                },
            ));
        }
        Ok(out)
    }

    fn saml_settings(&mut self, org_id: &str) -> StoreResult<Option<SamlSettings>> {
        sign_in::saml_settings(self.conn, org_id)
    }

    fn session(&mut self, hash: &[u8]) -> StoreResult<Option<Session>> {
        sign_in::session(self.conn, hash)
    }

    fn sessions(&mut self, org_id: &str) -> StoreResult<Vec<Session>> {
        sign_in::sessions(self.conn, org_id)
    }
}

impl WriteTx for SqliteTx<'_> {
    fn insert_org(&mut self, org: &Org) -> StoreResult<()> {
        let s = &org.settings;
        self.conn
            .prepare_cached("INSERT INTO orgs (id, name, name_key, created, scim_api, aup, sup, legacy_groups, jit, reserved_names) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
            .and_then(|mut st| st.execute(params![org.id, org.name, fold(&org.name), org.created, s.scim_api, s.aup, s.sup, s.legacy_groups, s.jit, org.reserved_names.join("\n")]))
            .map(|_| ())
            .map_err(backend)
    }

    fn update_org(&mut self, org: &Org) -> StoreResult<()> {
        let s = &org.settings;
        self.conn
            .prepare_cached("UPDATE orgs SET name = ?2, name_key = ?3, scim_api = ?4, aup = ?5, sup = ?6, legacy_groups = ?7, jit = ?8, reserved_names = ?9 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![org.id, org.name, fold(&org.name), s.scim_api, s.aup, s.sup, s.legacy_groups, s.jit, org.reserved_names.join("\n")]))
            .map(|_| ())
            .map_err(backend)
    }

    fn insert_token(&mut self, t: &TokenRecord) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO tokens (id, org_id, name, hash, created, cluster_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut st| st.execute(params![t.id, t.org_id, t.name, t.hash, t.created, t.cluster_id]))
            .map(|_| ())
            .map_err(backend)
    }

    fn revoke_token(&mut self, org_id: &str, token_id: &str, at: &str) -> StoreResult<bool> {
        self.conn
            .prepare_cached(
                "UPDATE tokens SET revoked = ?3 WHERE org_id = ?1 AND id = ?2 AND revoked IS NULL",
            )
            .and_then(|mut st| st.execute(params![org_id, token_id, at]))
            .map(|n| n > 0)
            .map_err(backend)
    }

    fn touch_token(&mut self, token_id: &str, at: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE tokens SET last_used = ?2 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![token_id, at]))
            .map(|_| ())
            .map_err(backend)
    }

    fn insert_resource(&mut self, org_id: &str, r: &StoredResource) -> StoreResult<i64> {
        let sql = format!(
            "INSERT INTO {} (org_id, id, name_key, display_key, external_id, doc, created, modified, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            table(r.rtype)
        );
        let doc = serde_json::to_string(&r.doc).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.execute(params![
                    org_id,
                    r.id,
                    r.name_key,
                    r.display_key,
                    r.external_id,
                    doc,
                    r.created,
                    r.modified,
                    r.version
                ])
            })
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn update_resource(&mut self, org_id: &str, r: &StoredResource) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET name_key = ?3, display_key = ?4, external_id = ?5, doc = ?6, modified = ?7, version = ?8 WHERE org_id = ?1 AND id = ?2",
            table(r.rtype)
        );
        let doc = serde_json::to_string(&r.doc).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.execute(params![
                    org_id,
                    r.id,
                    r.name_key,
                    r.display_key,
                    r.external_id,
                    doc,
                    r.modified,
                    r.version
                ])
            })
            .map(|_| ())
            .map_err(backend)
    }

    fn delete_resource(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        id: &str,
    ) -> StoreResult<bool> {
        // The account goes with the resource; the ledger keeps its ids.
        self.conn
            .prepare_cached("DELETE FROM posix_accounts WHERE org_id = ?1 AND resource_type = ?2 AND resource_id = ?3")
            .and_then(|mut s| s.execute(params![org_id, rtype.name(), id]))
            .map_err(backend)?;
        let sql = format!("DELETE FROM {} WHERE org_id = ?1 AND id = ?2", table(rtype));
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.execute(params![org_id, id]))
            .map(|n| n > 0)
            .map_err(backend)
    }

    fn add_members(&mut self, org_id: &str, group_id: &str, user_ids: &[&str]) -> StoreResult<()> {
        let g = self
            .position_of(org_id, ResourceType::Group, group_id)?
            .ok_or_else(|| StoreError::Backend(format!("group {group_id} vanished")))?;
        let mut st = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO memberships (group_pos, user_pos) SELECT ?1, position FROM users WHERE org_id = ?2 AND id = ?3")
            .map_err(backend)?;
        for u in user_ids {
            st.execute(params![g, org_id, u]).map_err(backend)?;
        }
        Ok(())
    }

    fn remove_members(
        &mut self,
        org_id: &str,
        group_id: &str,
        user_ids: &[&str],
    ) -> StoreResult<()> {
        let g = self
            .position_of(org_id, ResourceType::Group, group_id)?
            .ok_or_else(|| StoreError::Backend(format!("group {group_id} vanished")))?;
        let mut st = self
            .conn
            .prepare_cached("DELETE FROM memberships WHERE group_pos = ?1 AND user_pos = (SELECT position FROM users WHERE org_id = ?2 AND id = ?3)")
            .map_err(backend)?;
        for u in user_ids {
            st.execute(params![g, org_id, u]).map_err(backend)?;
        }
        Ok(())
    }

    fn append_change(&mut self, org_id: &str, c: &Change) -> StoreResult<i64> {
        let seq: i64 = self
            .conn
            .prepare_cached(
                "UPDATE orgs SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
            )
            .and_then(|mut st| st.query_row(params![org_id], |r| r.get(0)))
            .map_err(backend)?;
        self.conn
            .prepare_cached("INSERT INTO changes (org_id, seq, at, resource_type, resource_id, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .and_then(|mut st| st.execute(params![org_id, seq, c.at, c.subject.as_str(), c.resource_id, c.kind.as_str()]))
            .map_err(backend)?;
        Ok(seq)
    }

    fn put_posix_account(&mut self, org_id: &str, a: &PosixAccount) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO posix_accounts (org_id, resource_type, resource_id, uid, gid, name, home, shell) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| s.execute(params![org_id, a.rtype.name(), a.resource_id, a.uid, a.gid, a.name, a.home, a.shell]))
            .map(|_| ())
            .map_err(backend)
    }

    fn claim_posix(
        &mut self,
        org_id: &str,
        kind: LedgerKind,
        value: &str,
        resource_id: &str,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT INTO posix_ledger (org_id, kind, value, resource_id) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![org_id, kind.as_str(), value, resource_id]))
            .map(|_| ())
            .map_err(backend)
    }

    fn set_next_posix_ids(
        &mut self,
        org_id: &str,
        next_uid: i64,
        next_gid: i64,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE orgs SET next_uid = ?2, next_gid = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![org_id, next_uid, next_gid]))
            .map(|_| ())
            .map_err(backend)
    }

    fn insert_cluster(&mut self, c: &Cluster) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT INTO clusters (id, org_id, name, name_key, created, modified) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .and_then(|mut s| s.execute(params![c.id, c.org_id, c.name, fold(&c.name), c.created, c.modified]))
            .map_err(backend)?;
        self.set_cluster_groups(&c.id, &c.group_ids, &c.modified)
    }

    fn set_cluster_groups(
        &mut self,
        cluster_id: &str,
        group_ids: &[String],
        modified: &str,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached("DELETE FROM cluster_groups WHERE cluster_id = ?1")
            .and_then(|mut s| s.execute(params![cluster_id]))
            .map_err(backend)?;
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO cluster_groups (cluster_id, group_id) VALUES (?1, ?2)",
            )
            .map_err(backend)?;
        for g in group_ids {
            st.execute(params![cluster_id, g]).map_err(backend)?;
        }
        self.conn
            .prepare_cached("UPDATE clusters SET modified = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![cluster_id, modified]))
            .map(|_| ())
            .map_err(backend)
    }

    fn append_scim_log(&mut self, entries: &[ScimLogEntry]) -> StoreResult<()> {
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT INTO scim_log (org_id, at, token_name, method, path, status, scim_type, detail, latency_ms, body) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE EXISTS (SELECT 1 FROM orgs WHERE id = ?1)",
            )
            .map_err(backend)?;
        for e in entries {
            st.execute(params![
                e.org_id,
                e.at,
                e.token_name,
                e.method,
                e.path,
                e.status,
                e.scim_type,
                e.detail,
                e.latency_ms,
                e.body
            ])
            .map_err(backend)?;
        }
        Ok(())
    }

    fn prune_scim_log(
        &mut self,
        org_ids: &[&str],
        max_entries: u64,
        max_bytes: u64,
        cutoff: Option<&str>,
    ) -> StoreResult<()> {
        if let Some(cutoff) = cutoff {
            self.conn
                .prepare_cached("DELETE FROM scim_log WHERE at < ?1")
                .and_then(|mut s| s.execute(params![cutoff]))
                .map_err(backend)?;
        }
        let mut st = self
            .conn
            .prepare_cached(
                "DELETE FROM scim_log WHERE org_id = ?1 AND id <= \
                 (SELECT id FROM scim_log WHERE org_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            )
            .map_err(backend)?;
        for org in org_ids {
            st.execute(params![org, max_entries.min(i64::MAX as u64) as i64])
                .map_err(backend)?;
        }
        // Newest first, the running size; everything from the first entry
        // past the limit on is removed.
        let mut st = self
            .conn
            .prepare_cached(
                "DELETE FROM scim_log WHERE org_id = ?1 AND id <= \
                 (SELECT id FROM (SELECT id, sum(length(path) + coalesce(length(detail), 0) + coalesce(length(body), 0)) \
                   OVER (ORDER BY id DESC) AS running FROM scim_log WHERE org_id = ?1) \
                  WHERE running > ?2 ORDER BY id DESC LIMIT 1)",
            )
            .map_err(backend)?;
        for org in org_ids {
            st.execute(params![org, max_bytes.min(i64::MAX as u64) as i64])
                .map_err(backend)?;
        }
        Ok(())
    }

    fn put_server_setting(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT INTO server_settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .and_then(|mut s| s.execute(params![key, value]))
            .map(|_| ())
            .map_err(backend)
    }

    fn put_saml_settings(&mut self, org_id: &str, s: Option<&SamlSettings>) -> StoreResult<()> {
        sign_in::put_saml_settings(self.conn, org_id, s)
    }

    fn remember_assertion(&mut self, org_id: &str, id: &str, until: &str) -> StoreResult<bool> {
        sign_in::remember_assertion(self.conn, org_id, id, until)
    }

    fn insert_session(&mut self, hash: &[u8], s: &Session) -> StoreResult<()> {
        sign_in::insert_session(self.conn, hash, s)
    }

    fn end_session(&mut self, hash: &[u8], at: &str) -> StoreResult<bool> {
        sign_in::end_session(self.conn, hash, at)
    }

    fn end_sessions(&mut self, org_id: &str, id: Option<&str>, at: &str) -> StoreResult<u64> {
        sign_in::end_sessions(self.conn, org_id, id, at)
    }

    fn insert_login_link(
        &mut self,
        hash: &[u8],
        org_id: &str,
        created: &str,
        expires: &str,
    ) -> StoreResult<()> {
        sign_in::insert_login_link(self.conn, hash, org_id, created, expires)
    }

    fn take_login_link(&mut self, hash: &[u8]) -> StoreResult<Option<(String, String)>> {
        sign_in::take_login_link(self.conn, hash)
    }

    fn prune_sign_in_state(&mut self, now: &str) -> StoreResult<()> {
        sign_in::prune(self.conn, now)
    }
}
