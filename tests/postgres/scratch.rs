//! A database of its own for a test, on the throwaway PostgreSQL the test
//! command starts (`tests/postgres/server.sh`), whose admin URL it passes
//! in `ROSTER_TEST_POSTGRES_URL`. Dropped, with its connections, when the
//! test ends.

use std::sync::atomic::{AtomicU64, Ordering};

/// A database created for one test.
pub struct ScratchDb {
    pub url: String,
    admin_url: String,
    name: String,
}

/// The admin URL of the test PostgreSQL, when the test command started one.
pub fn admin_url() -> Option<String> {
    std::env::var("ROSTER_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

impl ScratchDb {
    /// A fresh, empty database, or `None` when no test PostgreSQL runs.
    pub fn create() -> Option<ScratchDb> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let admin_url = admin_url()?;
        let name = format!(
            "roster_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create {name}: {e}"));
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or_else(|| admin_url.clone());
        Some(ScratchDb {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
