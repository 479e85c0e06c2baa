//! The provisioning log: what each org's SCIM clients sent and what they
//! were told, so that an administrator whose IdP reports "provisioning
//! failed" can see why.
//!
//! Recording must cost the request path almost nothing: entries go into a
//! bounded in-memory queue (when it is full, entries are dropped and
//! counted, never waited for), and a background task writes them in
//! batches, one transaction per batch, and prunes by count and age. An
//! entry may therefore be lost if the process dies within the batching
//! interval; the log is a diagnostic aid, not an audit trail.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

pub use super::model::{ScimLogEntry, ScimLogQuery, ScimLogQuota};
use super::orgs::find_org;
use super::{Directory, DirectoryResult};
use crate::scim::resource::format_time;

/// How much of the log is kept, per org.
#[derive(Debug, Clone, Copy)]
pub struct ScimLogLimits {
    /// Most entries of the IdP's kept per org; 0 turns recording off.
    /// Anonymous and refused requests and a cluster's nodes have a share
    /// of their own, a tenth of it ([`ScimLogLimits::others`]).
    pub max_entries: u64,
    /// Entries older than this are removed.
    pub max_age: Duration,
    /// Most bytes (paths, details and bodies) of the IdP's entries kept
    /// per org (others', a quarter); the oldest entries go first.
    pub max_bytes: u64,
}

impl Default for ScimLogLimits {
    fn default() -> Self {
        ScimLogLimits {
            max_entries: 10_000,
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 64 << 20,
        }
    }
}

impl ScimLogLimits {
    /// The IdP's share: the whole of the limits.
    fn idp(&self) -> ScimLogQuota {
        ScimLogQuota {
            from_idp: true,
            max_entries: self.max_entries,
            max_bytes: self.max_bytes,
        }
    }

    /// Everyone else's (anonymous and refused requests, a cluster's
    /// nodes): a tenth of the entries and a quarter of the bytes, kept
    /// apart from the IdP's, so that a flood of them pushes out only
    /// their own kind.
    fn others(&self) -> ScimLogQuota {
        ScimLogQuota {
            from_idp: false,
            max_entries: (self.max_entries / 10).max(1),
            max_bytes: (self.max_bytes / 4).max(1),
        }
    }
}

/// Entries waiting in memory at most; beyond, new ones are dropped.
const QUEUE: usize = 20_000;
/// Entries written in one transaction at most.
const BATCH: usize = 2_000;
/// How long a batch waits to fill before it is written.
const BATCH_WAIT: Duration = Duration::from_millis(200);
/// How often the log is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(30);

/// The recording side, held by the server.
#[derive(Clone)]
pub struct ScimLogRecorder {
    sender: Option<mpsc::Sender<ScimLogEntry>>,
    dropped: Arc<AtomicU64>,
}

impl ScimLogRecorder {
    /// A recorder that records nothing.
    pub fn off() -> Self {
        ScimLogRecorder {
            sender: None,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn enabled(&self) -> bool {
        self.sender.is_some()
    }

    /// Queues an entry; never waits.
    pub fn record(&self, entry: ScimLogEntry) {
        if let Some(s) = &self.sender
            && s.try_send(entry).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Entries dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Directory {
    /// Starts the background writer and returns the recorder for it.
    pub fn start_scim_log(&self, limits: ScimLogLimits) -> ScimLogRecorder {
        if limits.max_entries == 0 {
            return ScimLogRecorder::off();
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let dir = self.clone();
        tokio::spawn(async move { dir.write_scim_log(rx, limits).await });
        ScimLogRecorder {
            sender: Some(tx),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    async fn write_scim_log(&self, mut rx: mpsc::Receiver<ScimLogEntry>, limits: ScimLogLimits) {
        // The first batch prunes by age too, so a restart with a shorter
        // limit applies it at once.
        let now = tokio::time::Instant::now();
        let mut last_prune = now.checked_sub(PRUNE_EVERY).unwrap_or(now);
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + BATCH_WAIT;
            while batch.len() < BATCH {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(e)) => batch.push(e),
                    _ => break,
                }
            }
            // The count bound holds after every batch, for the orgs in it;
            // the age bound is applied now and then.
            let cutoff = if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = tokio::time::Instant::now();
                Some(age_cutoff(self.clock.now(), limits.max_age))
            } else {
                None
            };
            let result = self
                .write(move |tx| {
                    tx.append_scim_log(&batch)?;
                    let mut orgs: Vec<&str> = batch.iter().map(|e| e.org_id.as_str()).collect();
                    orgs.sort_unstable();
                    orgs.dedup();
                    tx.prune_scim_log(&orgs, limits.idp(), cutoff.as_deref())?;
                    tx.prune_scim_log(&orgs, limits.others(), None)?;
                    Ok(())
                })
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not write the provisioning log");
            }
        }
    }

    /// The time `ago` before now, as `ScimLogQuery::since` takes it.
    pub fn log_since(&self, ago: Duration) -> String {
        age_cutoff(self.clock.now(), ago)
    }

    /// Reads an org's provisioning log, newest first.
    pub async fn scim_log(&self, org: &str, q: ScimLogQuery) -> DirectoryResult<Vec<ScimLogEntry>> {
        let org = org.to_string();
        self.read(move |tx| {
            let o = find_org(tx, &org)?;
            Ok(tx.scim_log(&o.id, &q)?)
        })
        .await
    }
}

fn age_cutoff(now: chrono::DateTime<Utc>, max_age: Duration) -> String {
    let age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::days(7));
    format_time(now - age)
}

/// Parses a duration such as `90s`, `15m`, `2h` or `7d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// Parses a size such as `512K`, `64M` or `1G` (powers of 1024), or a
/// plain number of bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let shift = match unit.trim_end_matches(['B', 'b', 'i']) {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("5T"), None);
        assert_eq!(parse_size("M"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("5w"), None);
    }
}
