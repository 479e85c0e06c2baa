//! The pool's connections: a client, and the statements it has prepared.
//! Preparing a statement is a round trip to the server; a store runs the
//! same few dozen statements all day, so each connection keeps them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use postgres::{Client, Config, Statement, Transaction};
use postgres_openssl::MakeTlsConnector;

/// Statements kept per connection at most; filters make ad hoc searches,
/// and past this the cache starts over.
const MAX_STATEMENTS: usize = 512;

pub(crate) struct PgConn {
    pub client: Client,
    pub statements: HashMap<String, Statement>,
}

/// Opens connections for r2d2, and remembers whether the last attempt
/// reached the server.
pub(crate) struct Manager {
    pub config: Config,
    pub tls: MakeTlsConnector,
    pub reachable: Arc<AtomicBool>,
}

/// How long a request waits for a connection while the database answers.
/// The pool opens connections a few at a time (on r2d2's helper threads),
/// so a burst of requests on a cold pool on a loaded machine can wait for
/// them for a while; that is a slow answer, not an outage.
const HEALTHY_WAIT: Duration = Duration::from_secs(10);

/// How often a waiting request looks again whether the database still
/// answers: once a connection attempt has failed it is refused (503,
/// retry) within this, not after `HEALTHY_WAIT`.
const RECHECK: Duration = Duration::from_millis(250);

/// The store's connections, and whether the database answered the last
/// time one was opened.
#[derive(Clone)]
pub(crate) struct Pool {
    pub inner: r2d2::Pool<Manager>,
    pub reachable: Arc<AtomicBool>,
}

impl Pool {
    /// A connection: waits while the database answers, and gives up as
    /// soon as it does not.
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>, r2d2::Error> {
        let started = Instant::now();
        loop {
            match self.inner.get_timeout(RECHECK) {
                Ok(conn) => return Ok(conn),
                Err(e) => {
                    if !self.reachable.load(Ordering::Relaxed) || started.elapsed() >= HEALTHY_WAIT
                    {
                        return Err(e);
                    }
                }
            }
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        let client = self.config.connect(self.tls.clone());
        self.reachable.store(client.is_ok(), Ordering::Relaxed);
        Ok(PgConn {
            client: client?,
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
