//! The pool's connections: a client, and the statements it has prepared.
//! Preparing a statement is a round trip to the server; a store runs the
//! same few dozen statements all day, so each connection keeps them.

use std::collections::HashMap;

use postgres::{Client, Config, Statement, Transaction};
use postgres_openssl::MakeTlsConnector;

/// Statements kept per connection at most; filters make ad hoc searches,
/// and past this the cache starts over.
const MAX_STATEMENTS: usize = 512;

pub(crate) struct PgConn {
    pub client: Client,
    pub statements: HashMap<String, Statement>,
}

/// Opens connections for r2d2.
pub(crate) struct Manager {
    pub config: Config,
    pub tls: MakeTlsConnector,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: self.config.connect(self.tls.clone())?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// The statement for `sql`, prepared once per connection.
pub(crate) fn statement(
    tx: &mut Transaction<'_>,
    cache: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, postgres::Error> {
    if let Some(st) = cache.get(sql) {
        return Ok(st.clone());
    }
    let st = tx.prepare(sql)?;
    if cache.len() >= MAX_STATEMENTS {
        cache.clear();
    }
    cache.insert(sql.to_string(), st.clone());
    Ok(st)
}
