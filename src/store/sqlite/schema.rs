//! The schema: numbered migrations (`migrations/NNNN_*.sql`, compiled in),
//! the runner that applies those a database lacks, and the settings every
//! connection gets.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

use super::backend;
use crate::directory::query::fold;
use crate::directory::store::{StoreError, StoreResult};

/// Each schema version and the SQL that reaches it from the one before.
/// The version is kept in `PRAGMA user_version`; a migration never
/// changes once released (a new one is added instead).
const MIGRATIONS: [(i64, &str); 12] = [
    (1, include_str!("migrations/0001_directory.sql")),
    (2, include_str!("migrations/0002_scim_log.sql")),
    (3, include_str!("migrations/0003_posix.sql")),
    (4, include_str!("migrations/0004_clusters.sql")),
    (5, include_str!("migrations/0005_sign_in.sql")),
    (6, include_str!("migrations/0006_hardening.sql")),
    (7, include_str!("migrations/0007_group_roles.sql")),
    (8, include_str!("migrations/0008_id_ranges.sql")),
    (9, include_str!("migrations/0009_audit.sql")),
    (10, include_str!("migrations/0010_audit_origin.sql")),
    (11, include_str!("migrations/0011_node_reports.sql")),
    (12, include_str!("migrations/0012_log_shares_and_locks.sql")),
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Where a database file's schema stands, without changing it.
pub fn status(path: &Path) -> StoreResult<crate::store::SchemaStatus> {
    if !path.exists() {
        return Ok(crate::store::SchemaStatus {
            current: 0,
            wanted: SCHEMA_VERSION,
        });
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
    let current = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    Ok(crate::store::SchemaStatus {
        current,
        wanted: SCHEMA_VERSION,
    })
}

pub(super) fn configure(conn: &Connection) -> StoreResult<()> {
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

pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
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
pub(super) fn create_private(path: &Path) -> StoreResult<()> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::directory::store::Store;
    use crate::store::sqlite::SqliteStore;

    /// A database left at `version` by an older roster, holding one org.
    fn database_at(version: i64) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let conn = Connection::open(&path).unwrap();
        for (to, sql) in MIGRATIONS.iter().take_while(|(to, _)| *to <= version) {
            conn.execute_batch(sql).unwrap();
            conn.execute_batch(&format!("PRAGMA user_version = {to}"))
                .unwrap();
        }
        conn.execute(
            "INSERT INTO orgs (id, name, name_key, created, scim_api, aup, sup, legacy_groups) \
             VALUES ('o1', 'Acme', 'acme', '2026-01-01T00:00:00Z', 1, 1, 0, 0)",
            [],
        )
        .unwrap();
        (dir, path)
    }

    #[test]
    fn an_older_database_is_migrated_and_keeps_its_rows() {
        for version in 1..SCHEMA_VERSION {
            let (_dir, path) = database_at(version);
            let store = SqliteStore::open(&path).unwrap();
            let mut org = None;
            store
                .read(&mut |r| {
                    org = r.org("acme")?;
                    Ok(())
                })
                .unwrap();
            let org = org.unwrap();
            assert_eq!(org.id, "o1", "from version {version}");
            assert!(org.reserved_names.is_empty());
            assert!(org.settings.jit, "version 5 turns JIT on for every org");
            store.close();
            let conn = Connection::open(&path).unwrap();
            let now: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(now, SCHEMA_VERSION);
        }
    }

    #[test]
    fn a_newer_database_is_refused_with_what_to_do() {
        let (_dir, path) = database_at(SCHEMA_VERSION);
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        let e = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(
            e.contains("schema version 99") && e.contains("upgrade roster"),
            "{e}"
        );
    }
}
