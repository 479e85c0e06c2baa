//! `roster db copy`: every row of one database into another, SQLite to
//! PostgreSQL (moving an installation to replicas) or PostgreSQL to SQLite
//! (a backup file). The two schemas have the same tables and columns; only
//! their types differ (booleans, byte strings, JSON, identity columns), and
//! each row is converted column by column. The source is read in one
//! snapshot (a copy of a database in use is consistent); the destination
//! must be empty; everything is written in one transaction, then every
//! table's row count is compared with the source's. `roster db backup` is
//! a copy into a new SQLite file.

use postgres::types::ToSql;
use rusqlite::types::Value as SqlValue;

use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::{DatabaseUrl, redact_url};
use crate::directory::store::{StoreError, StoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    /// A 32-bit integer on PostgreSQL (the provisioning log's status).
    Int32,
    Real,
    Bool,
    Bytes,
    /// Text on SQLite, `json` on PostgreSQL.
    Json,
}

use Kind::{Bool, Bytes, Int, Int32, Json, Real, Text};

struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    /// A column PostgreSQL generates, whose sequence must follow the
    /// copied values.
    identity: Option<&'static str>,
}

/// Every table, parents before children (foreign keys).
const TABLES: &[Table] = &[
    Table {
        name: "orgs",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("name_key", Text),
            ("created", Text),
            ("scim_api", Bool),
            ("aup", Bool),
            ("sup", Bool),
            ("legacy_groups", Bool),
            ("jit", Bool),
            ("reserved_names", Text),
            ("last_seq", Int),
            ("next_uid", Int),
            ("next_gid", Int),
            ("uid_min", Int),
            ("uid_max", Int),
            ("gid_min", Int),
            ("gid_max", Int),
            ("allow_reserved_ids", Bool),
        ],
        identity: None,
    },
    Table {
        name: "clusters",
        columns: &[
            ("id", Text),
            ("org_id", Text),
            ("name", Text),
            ("name_key", Text),
            ("created", Text),
            ("modified", Text),
        ],
        identity: None,
    },
    Table {
        name: "cluster_groups",
        columns: &[("cluster_id", Text), ("group_id", Text)],
        identity: None,
    },
    Table {
        name: "tokens",
        columns: &[
            ("id", Text),
            ("org_id", Text),
            ("name", Text),
            ("hash", Bytes),
            ("created", Text),
            ("last_used", Text),
            ("revoked", Text),
            ("cluster_id", Text),
        ],
        identity: None,
    },
    Table {
        name: "users",
        columns: RESOURCE,
        identity: Some("position"),
    },
    Table {
        name: "groups",
        columns: RESOURCE,
        identity: Some("position"),
    },
    Table {
        name: "memberships",
        columns: &[("group_pos", Int), ("user_pos", Int)],
        identity: None,
    },
    Table {
        name: "changes",
        columns: &[
            ("org_id", Text),
            ("seq", Int),
            ("at", Text),
            ("resource_type", Text),
            ("resource_id", Text),
            ("kind", Text),
        ],
        identity: None,
    },
    Table {
        name: "scim_log",
        columns: &[
            ("id", Int),
            ("org_id", Text),
            ("at", Text),
            ("token_name", Text),
            ("method", Text),
            ("path", Text),
            ("status", Int32),
            ("scim_type", Text),
            ("detail", Text),
            ("latency_ms", Real),
            ("body", Text),
            ("from_idp", Int32),
        ],
        identity: Some("id"),
    },
    Table {
        name: "posix_accounts",
        columns: &[
            ("org_id", Text),
            ("resource_type", Text),
            ("resource_id", Text),
            ("uid", Int),
            ("gid", Int),
            ("name", Text),
            ("home", Text),
            ("shell", Text),
        ],
        identity: None,
    },
    Table {
        name: "posix_ledger",
        columns: &[
            ("org_id", Text),
            ("kind", Text),
            ("value", Text),
            ("resource_id", Text),
        ],
        identity: None,
    },
    Table {
        name: "saml_settings",
        columns: &[
            ("org_id", Text),
            ("idp_entity_id", Text),
            ("sso_url", Text),
            ("certificates", Text),
            ("require_signed_assertion", Bool),
            ("allow_idp_initiated", Bool),
            ("metadata_url", Text),
            ("updated", Text),
        ],
        identity: None,
    },
    Table {
        name: "saml_assertions",
        columns: &[("org_id", Text), ("id", Text), ("expires", Text)],
        identity: None,
    },
    Table {
        name: "sessions",
        columns: &[
            ("hash", Bytes),
            ("id", Text),
            ("org_id", Text),
            ("user_id", Text),
            ("subject", Text),
            ("method", Text),
            ("created", Text),
            ("expires", Text),
            ("ended", Text),
        ],
        identity: None,
    },
    Table {
        name: "login_links",
        columns: &[
            ("hash", Bytes),
            ("org_id", Text),
            ("created", Text),
            ("expires", Text),
        ],
        identity: None,
    },
    Table {
        name: "group_roles",
        columns: &[("org_id", Text), ("group_id", Text), ("role", Text)],
        identity: None,
    },
    Table {
        name: "group_member_locks",
        columns: &[("org_id", Text), ("group_id", Text)],
        identity: None,
    },
    Table {
        name: "audit_log",
        columns: &[
            ("id", Int),
            ("org_id", Text),
            ("at", Text),
            ("actor", Text),
            ("action", Text),
            ("target", Text),
            ("detail", Text),
            ("origin", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "node_reports",
        columns: &[
            ("org_id", Text),
            ("cluster_id", Text),
            ("node", Text),
            ("applied_seq", Int),
            ("error", Text),
            ("slurm", Bool),
            ("reported_at", Text),
        ],
        identity: None,
    },
    Table {
        name: "sign_in_outcomes",
        columns: &[
            ("org_id", Text),
            ("subject_key", Text),
            ("ok", Bool),
            ("at", Text),
            ("detail", Text),
        ],
        identity: None,
    },
    Table {
        name: "slurm_adoptions",
        columns: &[("org_id", Text), ("cluster_id", Text), ("account", Text)],
        identity: None,
    },
    Table {
        name: "removal_approvals",
        columns: &[("cluster_id", Text), ("org_id", Text), ("through_seq", Int)],
        identity: None,
    },
    Table {
        name: "server_settings",
        columns: &[("key", Text), ("value", Text)],
        identity: None,
    },
];

const RESOURCE: &[(&str, Kind)] = &[
    ("position", Int),
    ("org_id", Text),
    ("id", Text),
    ("name_key", Text),
    ("display_key", Text),
    ("external_id", Text),
    ("doc", Json),
    ("created", Text),
    ("modified", Text),
    ("version", Int),
];

/// One value, as either database gives it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    Bytes(Vec<u8>),
}

type Rows = Vec<Vec<Cell>>;

/// What was copied: each table and its row count.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

fn err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{what}: {e}"))
}

/// Copies every row from `from` to `to` (creating and migrating both as
/// needed); refuses a destination that holds an org.
pub fn copy(from: &str, to: &str) -> StoreResult<CopyReport> {
    let from = DatabaseUrl::parse(from)?;
    let to = DatabaseUrl::parse(to)?;
    if from == to {
        return Err(StoreError::Backend(
            "the source and the destination are the same database".into(),
        ));
    }
    // Off the caller's thread: the PostgreSQL client must not block an
    // async runtime's thread.
    std::thread::scope(|s| {
        s.spawn(|| {
            prepare(&from)?;
            prepare(&to)?;
            // Every table from one snapshot: a copy taken while the
            // server writes is consistent (and lacks the later writes).
            let data = read_all(&from)?;
            let counts: Vec<(String, u64)> = TABLES
                .iter()
                .zip(&data)
                .map(|(t, rows)| (t.name.to_string(), rows.len() as u64))
                .collect();
            // One transaction: a failure leaves the destination empty.
            write(&to, &data).map_err(|e| {
                StoreError::Backend(format!("{e}; nothing was copied"))
            })?;
            for (t, (name, n)) in TABLES.iter().zip(&counts) {
                let got = read(&to, t)?.len() as u64;
                if got != *n {
                    return Err(StoreError::Backend(format!(
                        "{name}: {n} rows in the source, {got} in the destination: the copy is not \
                         complete (was the destination written to during the copy?); empty it and copy again"
                    )));
                }
            }
            Ok(CopyReport { tables: counts })
        })
        .join()
        .unwrap_or_else(|_| Err(StoreError::Backend("the copy thread failed".into())))
    })
}

/// An online backup: the database at `from` (served or not) copied from
/// one snapshot into a new SQLite file, every table's count checked. An
/// existing file is never overwritten; a failed backup leaves none.
pub fn backup(from: &str, file: &std::path::Path) -> StoreResult<CopyReport> {
    if file.exists() {
        return Err(StoreError::Backend(format!(
            "{} exists; a backup goes to a new file",
            file.display()
        )));
    }
    let to = format!("sqlite://{}", file.display());
    copy(from, &to).inspect_err(|_| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    })
}

/// Creates and migrates the database (opening a store does both).
fn prepare(db: &DatabaseUrl) -> StoreResult<()> {
    match db {
        DatabaseUrl::Sqlite(path) => SqliteStore::open(path).map(|s| s.close()),
        DatabaseUrl::Postgres(url) => {
            PostgresStore::open(url, &super::postgres::PostgresOptions { pool_size: 2 })
                .map(|s| s.close())
        }
    }
}

fn select(t: &Table, json_as_text: bool) -> String {
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|(c, k)| match (k, json_as_text) {
            (Json, true) => format!("{c}::text"),
            _ => c.to_string(),
        })
        .collect();
    let order = t.columns.first().map(|(c, _)| *c).unwrap_or("1");
    format!(
        "SELECT {} FROM {} ORDER BY {order}",
        cols.join(", "),
        t.name
    )
}

/// Every table of `db`, read in one transaction (one snapshot).
fn read_all(db: &DatabaseUrl) -> StoreResult<Vec<Rows>> {
    match db {
        DatabaseUrl::Sqlite(path) => {
            let mut conn = rusqlite::Connection::open(path).map_err(|e| err("open", e))?;
            let tx = conn.transaction().map_err(|e| err("begin", e))?;
            TABLES.iter().map(|t| sqlite_rows(&tx, t)).collect()
        }
        DatabaseUrl::Postgres(url) => {
            let mut client = pg_client(url)?;
            let mut tx = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(|e| err("begin", e))?;
            TABLES.iter().map(|t| pg_rows(&mut tx, t)).collect()
        }
    }
}

/// One table of `db` (the check after the copy).
fn read(db: &DatabaseUrl, t: &Table) -> StoreResult<Rows> {
    match db {
        DatabaseUrl::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).map_err(|e| err("open", e))?;
            sqlite_rows(&conn, t)
        }
        DatabaseUrl::Postgres(url) => {
            let mut client = pg_client(url)?;
            let mut tx = client.transaction().map_err(|e| err("begin", e))?;
            pg_rows(&mut tx, t)
        }
    }
}

fn sqlite_rows(conn: &rusqlite::Connection, t: &Table) -> StoreResult<Rows> {
    let mut st = conn
        .prepare(&select(t, false))
        .map_err(|e| err(t.name, e))?;
    let rows = st
        .query_map([], |r| {
            t.columns
                .iter()
                .enumerate()
                .map(|(i, (_, k))| {
                    let v: SqlValue = r.get(i)?;
                    Ok(match (v, k) {
                        (SqlValue::Null, _) => Cell::Null,
                        (SqlValue::Integer(n), Bool) => Cell::Bool(n != 0),
                        (SqlValue::Integer(n), _) => Cell::Int(n),
                        (SqlValue::Real(f), _) => Cell::Real(f),
                        (SqlValue::Text(s), _) => Cell::Text(s),
                        (SqlValue::Blob(b), _) => Cell::Bytes(b),
                    })
                })
                .collect::<rusqlite::Result<Vec<Cell>>>()
        })
        .map_err(|e| err(t.name, e))?;
    rows.collect::<rusqlite::Result<Rows>>()
        .map_err(|e| err(t.name, e))
}

fn pg_rows(tx: &mut postgres::Transaction<'_>, t: &Table) -> StoreResult<Rows> {
    let rows = tx
        .query(&select(t, true), &[])
        .map_err(|e| err(t.name, e))?;
    rows.iter()
        .map(|r| {
            t.columns
                .iter()
                .enumerate()
                .map(|(i, (_, k))| pg_cell(r, i, *k))
                .collect::<Result<Vec<Cell>, postgres::Error>>()
        })
        .collect::<Result<Rows, _>>()
        .map_err(|e| err(t.name, e))
}

fn pg_cell(r: &postgres::Row, i: usize, k: Kind) -> Result<Cell, postgres::Error> {
    Ok(match k {
        Text | Json => r.try_get::<_, Option<String>>(i)?.map(Cell::Text),
        Int => r.try_get::<_, Option<i64>>(i)?.map(Cell::Int),
        Int32 => r
            .try_get::<_, Option<i32>>(i)?
            .map(|n| Cell::Int(i64::from(n))),
        Real => r.try_get::<_, Option<f64>>(i)?.map(Cell::Real),
        Bool => r.try_get::<_, Option<bool>>(i)?.map(Cell::Bool),
        Bytes => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Cell::Bytes),
    }
    .unwrap_or(Cell::Null))
}

fn pg_client(url: &str) -> StoreResult<postgres::Client> {
    let (config, tls) = super::postgres::client_config(url)?;
    config
        .connect(tls)
        .map_err(|e| err(&format!("cannot connect to {}", redact_url(url)), e))
}

fn write(db: &DatabaseUrl, data: &[Rows]) -> StoreResult<()> {
    match db {
        DatabaseUrl::Sqlite(path) => {
            let mut conn = rusqlite::Connection::open(path).map_err(|e| err("open", e))?;
            let tx = conn.transaction().map_err(|e| err("begin", e))?;
            refuse_nonempty(
                tx.query_row("SELECT count(*) FROM orgs", [], |r| r.get(0))
                    .ok(),
            )?;
            for (t, rows) in TABLES.iter().zip(data) {
                let cols: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
                let marks = vec!["?"; cols.len()].join(", ");
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES ({marks})",
                    t.name,
                    cols.join(", ")
                );
                let mut st = tx.prepare(&sql).map_err(|e| err(t.name, e))?;
                for row in rows {
                    let values = row.iter().map(|c| match c {
                        Cell::Null => SqlValue::Null,
                        Cell::Text(s) => SqlValue::Text(s.clone()),
                        Cell::Int(n) => SqlValue::Integer(*n),
                        Cell::Real(f) => SqlValue::Real(*f),
                        Cell::Bool(b) => SqlValue::Integer(i64::from(*b)),
                        Cell::Bytes(b) => SqlValue::Blob(b.clone()),
                    });
                    st.execute(rusqlite::params_from_iter(values))
                        .map_err(|e| err(t.name, e))?;
                }
            }
            tx.commit().map_err(|e| err("commit", e))
        }
        DatabaseUrl::Postgres(url) => {
            let mut client = pg_client(url)?;
            let mut tx = client.transaction().map_err(|e| err("begin", e))?;
            let orgs: i64 = tx
                .query_one("SELECT count(*) FROM orgs", &[])
                .and_then(|r| r.try_get(0))
                .map_err(|e| err("orgs", e))?;
            refuse_nonempty(Some(orgs))?;
            for (t, rows) in TABLES.iter().zip(data) {
                let cols: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
                let marks: Vec<String> = t
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, k))| match k {
                        Json => format!("${}::text::json", i + 1),
                        _ => format!("${}", i + 1),
                    })
                    .collect();
                let overriding = if t.identity.is_some() {
                    " OVERRIDING SYSTEM VALUE"
                } else {
                    ""
                };
                let sql = format!(
                    "INSERT INTO {} ({}){overriding} VALUES ({})",
                    t.name,
                    cols.join(", "),
                    marks.join(", ")
                );
                let st = tx.prepare(&sql).map_err(|e| err(t.name, e))?;
                for row in rows {
                    let params: Vec<Box<dyn ToSql + Sync>> = row
                        .iter()
                        .zip(t.columns)
                        .map(|(c, (_, k))| pg_param(c, *k))
                        .collect();
                    let refs: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| p.as_ref()).collect();
                    tx.execute(&st, &refs).map_err(|e| err(t.name, e))?;
                }
                if let Some(col) = t.identity {
                    // The next generated value follows the copied ones.
                    tx.execute(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{0}', '{col}'), COALESCE((SELECT max({col}) FROM {0}), 0) + 1, false)",
                            t.name
                        ),
                        &[],
                    )
                    .map_err(|e| err(t.name, e))?;
                }
            }
            tx.commit().map_err(|e| err("commit", e))
        }
    }
}

fn refuse_nonempty(orgs: Option<i64>) -> StoreResult<()> {
    match orgs {
        Some(0) | None => Ok(()),
        Some(n) => Err(StoreError::Backend(format!(
            "the destination already holds {n} organization(s); copy into an empty database"
        ))),
    }
}

fn pg_param(c: &Cell, k: Kind) -> Box<dyn ToSql + Sync> {
    match (c, k) {
        (Cell::Null, Int) => Box::new(None::<i64>),
        (Cell::Null, Int32) => Box::new(None::<i32>),
        (Cell::Null, Real) => Box::new(None::<f64>),
        (Cell::Null, Bool) => Box::new(None::<bool>),
        (Cell::Null, Bytes) => Box::new(None::<Vec<u8>>),
        (Cell::Null, Text | Json) => Box::new(None::<String>),
        (Cell::Int(n), Int32) => Box::new(i32::try_from(*n).unwrap_or(i32::MAX)),
        (Cell::Int(n), Bool) => Box::new(*n != 0),
        (Cell::Int(n), Real) => Box::new(*n as f64),
        (Cell::Int(n), _) => Box::new(*n),
        (Cell::Real(f), _) => Box::new(*f),
        (Cell::Bool(b), _) => Box::new(*b),
        (Cell::Bytes(b), _) => Box::new(b.clone()),
        (Cell::Text(s), _) => Box::new(s.clone()),
    }
}
