//! The PostgreSQL schema: numbered migrations (`migrations/NNNN_*.sql`,
//! compiled in), applied in one transaction under an advisory lock so that
//! replicas starting together migrate once, and recorded in
//! `roster_schema`.

use super::{Pool, backend, pool_error};
use crate::directory::store::{StoreError, StoreResult};
use crate::store::SchemaStatus;

/// Each schema version and the SQL that reaches it from the one before. A
/// migration never changes once released; a new one is added instead.
const MIGRATIONS: [(i64, &str); 7] = [
    (1, include_str!("migrations/0001_directory.sql")),
    (2, include_str!("migrations/0002_group_roles.sql")),
    (3, include_str!("migrations/0003_id_ranges.sql")),
    (4, include_str!("migrations/0004_audit.sql")),
    (5, include_str!("migrations/0005_audit_origin.sql")),
    (6, include_str!("migrations/0006_node_reports.sql")),
    (7, include_str!("migrations/0007_log_shares_and_locks.sql")),
];

/// The version this roster needs.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock migrations hold (an arbitrary constant: "roster").
const MIGRATION_LOCK: i64 = 0x726f_7374_6572;

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS roster_schema (\
    version BIGINT PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())";

fn current(client: &mut impl postgres::GenericClient) -> StoreResult<i64> {
    let exists: bool = client
        .query_one("SELECT to_regclass('roster_schema') IS NOT NULL", &[])
        .and_then(|r| r.try_get(0))
        .map_err(backend)?;
    if !exists {
        return Ok(0);
    }
    client
        .query_one("SELECT COALESCE(max(version), 0) FROM roster_schema", &[])
        .and_then(|r| r.try_get(0))
        .map_err(backend)
}

pub(super) fn status(pool: &Pool) -> StoreResult<SchemaStatus> {
    let mut conn = pool.get().map_err(pool_error)?;
    Ok(SchemaStatus {
        current: current(&mut conn.client)?,
        wanted: SCHEMA_VERSION,
    })
}

/// Applies the migrations the database lacks; refuses a database newer
/// than this roster.
pub(super) fn migrate(pool: &Pool) -> StoreResult<()> {
    let mut conn = pool.get().map_err(pool_error)?;
    let mut tx = conn.client.transaction().map_err(backend)?;
    // Held until the commit: a replica starting at the same time waits
    // here, then finds the work done.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(backend)?;
    tx.batch_execute(VERSION_TABLE).map_err(backend)?;
    let mut at = current(&mut tx)?;
    if at > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "the database has schema version {at}, newer than this roster ({SCHEMA_VERSION}); upgrade roster"
        )));
    }
    for (to, sql) in MIGRATIONS {
        if at < to {
            tracing::info!(version = to, "migrating the PostgreSQL schema");
            tx.batch_execute(sql).map_err(backend)?;
            tx.execute("INSERT INTO roster_schema (version) VALUES ($1)", &[&to])
                .map_err(backend)?;
            at = to;
        }
    }
    tx.commit().map_err(backend)
}
