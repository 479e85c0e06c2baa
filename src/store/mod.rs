//! Storage implementations of [`crate::directory::store::Store`].

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
                "unsupported database URL \"{url}\": use sqlite://FILE"
            )));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(url)))
    }
}

/// Opens (creating and migrating when needed) the store at `url`.
pub fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(sqlite::SqliteStore::open(&path)?)),
        DatabaseUrl::Postgres(_) => Err(StoreError::Backend(
            "PostgreSQL is not supported by this build yet; use sqlite://FILE".into(),
        )),
    }
}
