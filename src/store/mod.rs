//! Storage implementations of [`crate::directory::store::Store`].

pub mod copy;
pub mod postgres;
pub mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;

use crate::directory::store::{Store, StoreError};

/// Where the directory lives, parsed from `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// `sqlite://roster.db` (relative to the working directory),
    /// `sqlite:///var/lib/roster/roster.db` (absolute), or a bare path.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(rest) = url.strip_prefix("sqlite://") {
            if rest.is_empty() {
                return Err(StoreError::Backend(
                    "sqlite:// needs a file, such as sqlite://roster.db".into(),
                ));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(rest)));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(rest)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        if url.contains("://") {
            return Err(StoreError::Backend(format!(
                "unsupported database URL \"{}\": use sqlite://FILE or postgres://USER:PASSWORD@HOST/DB",
                redact_url(url)
            )));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(url)))
    }
}

/// Where a database's schema stands (`roster db status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaStatus {
    /// The version applied; 0 for an empty database.
    pub current: i64,
    /// The version this roster needs.
    pub wanted: i64,
}

/// The schema of the database at `url`, read without changing anything.
pub fn schema_status(url: &str) -> Result<SchemaStatus, StoreError> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(path) => sqlite::schema::status(&path),
        DatabaseUrl::Postgres(url) => postgres::PostgresStore::status(&url),
    }
}

/// Opens (creating and migrating when needed) the store at `url`.
pub fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, &postgres::PostgresOptions::default())
}

/// [`open`], with the PostgreSQL pool's settings (SQLite ignores them).
pub fn open_with(
    url: &str,
    options: &postgres::PostgresOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(sqlite::SqliteStore::open(&path)?)),
        DatabaseUrl::Postgres(url) => Ok(Arc::new(postgres::PostgresStore::open(&url, options)?)),
    }
}

/// A database URL fit for a log line or an error: its password replaced
/// by `***` (`postgres://roster:***@db/roster`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The authority ends at the first '/', '?' or '#'; credentials end at
    // its last '@'.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some(at) = authority.rfind('@') else {
        return redact_query(url);
    };
    let (userinfo, host) = authority.split_at(at);
    let user = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => userinfo.to_string(),
    };
    redact_query(&format!("{scheme}://{user}{host}{tail}"))
}

/// `password=` in a URL's query, as libpq accepts it.
fn redact_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_log_line() {
        for (url, shown) in [
            (
                "postgres://roster:s3cret@db:5432/roster",
                "postgres://roster:***@db:5432/roster",
            ),
            (
                "postgresql://roster:p%40ss@db/roster?sslmode=require",
                "postgresql://roster:***@db/roster?sslmode=require",
            ),
            (
                "postgres://db/roster?user=roster&password=s3cret",
                "postgres://db/roster?user=roster&password=***",
            ),
            ("postgres://roster@db/roster", "postgres://roster@db/roster"),
            ("sqlite://roster.db", "sqlite://roster.db"),
        ] {
            assert_eq!(redact_url(url), shown);
            assert!(!redact_url(url).contains("s3cret"));
        }
    }
}
