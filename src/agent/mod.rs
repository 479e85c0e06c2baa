//! `roster agent`: keeps one cluster's node in step with the directory.
//! It knows the server's API only (the change feed and the snapshot),
//! never the database. This part follows the feed and writes the NSS
//! caches; `slurm` plans and applies Slurm's accounts and associations.

mod client;
mod delta;
mod files;
pub mod slurm;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api_v1::{ChangesReply, Snapshot};
use client::{Client, Fetched};

pub use files::{atomic_write, passwd_names};

use crate::node_guard::{LocalAccounts, guard};

/// Errors of the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot reach the server: {0}")]
    Server(String),
    #[error("the server refused: {0}")]
    Refused(String),
    /// The server is at a cap (429 or 503 with `Retry-After`, RFC 9110
    /// §10.2.3): ask again after the pause, which is not the node's error.
    #[error("the server is busy: {1}")]
    Busy(Duration, String),
    #[error("{0}")]
    MassRemoval(String),
    #[error("file system: {0}")]
    Files(String),
    #[error("slurm: {0}")]
    Slurm(String),
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub server: String,
    pub org: String,
    pub cluster: String,
    pub token: String,
    pub nss_dir: PathBuf,
    pub state_file: PathBuf,
    pub dry_run: bool,
    pub once: bool,
    pub allow_mass_removal: bool,
    /// Largest share of the cluster's users one plan may remove.
    pub max_removal_share: f64,
    /// Fewest removals that count as mass: in a small cluster, one person
    /// leaving is a large share and an ordinary day.
    pub min_mass_removal: usize,
    pub wait: Duration,
    /// The Slurm cluster whose accounts to manage; `None` leaves Slurm alone.
    pub slurm_cluster: Option<String>,
    /// The node's name, sent with each request to the change feed
    /// (`X-Roster-Node`) so that the console can show what it applied.
    pub node_name: String,
    /// Slurm users never touched (root, service accounts).
    pub slurm_ignore: std::collections::BTreeSet<String>,
    /// The node's own passwd and group files (`node_guard`).
    pub local_passwd: PathBuf,
    pub local_group: PathBuf,
    /// Where to write the agent's metrics after each pass, in Prometheus'
    /// text format (for node_exporter's textfile collector).
    pub metrics_file: Option<PathBuf>,
    /// PEM certificates of the site's CA, trusted besides the system's
    /// store and the bundled web roots.
    pub ca_pem: Option<Vec<u8>>,
}

/// What the agent persists between runs, and what `roster agent status`
/// shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AgentState {
    /// The change-log position last applied.
    pub seq: i64,
    pub applied_at: Option<String>,
    /// Seconds from the server's change to its application, last time.
    pub lag_seconds: Option<f64>,
    pub last_error: Option<String>,
    /// A plan held back (a mass removal), and why.
    pub held: Option<String>,
    /// Entries of the last snapshot not written, because the node has
    /// their name or id for itself (or the id is a system one), and why.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// The entity tag of the last snapshot applied in full: the next
    /// fetch is conditional on it.
    #[serde(default)]
    pub snapshot_etag: Option<String>,
    /// Changes applied from a delta, and whole snapshots applied, since
    /// the state file was made.
    #[serde(default)]
    pub deltas_applied: u64,
    #[serde(default)]
    pub snapshots_applied: u64,
    /// Deltas that did not make the maps their entity tags name (a copy
    /// changed by hand, or a fault): each time the whole snapshot was
    /// fetched instead.
    #[serde(default)]
    pub delta_mismatches: u64,
}

impl AgentState {
    pub fn load(path: &Path) -> AgentState {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    fn save(&self, path: &Path) -> Result<(), AgentError> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| AgentError::Files(e.to_string()))?;
        atomic_write(path, text.as_bytes())
    }
}

/// The agent's state in Prometheus' text format: what node_exporter's
/// textfile collector reads (write it into its directory, named *.prom).
fn metrics_text(cfg: &AgentConfig, state: &AgentState, ok: bool) -> String {
    let labels = format!("cluster=\"{}\",node=\"{}\"", cfg.cluster, cfg.node_name);
    let applied_at = state
        .applied_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0);
    let gauges: [(&str, &str, String); 6] = [
        (
            "roster_agent_up",
            "1 when the last pass applied the cluster's state, 0 when it failed.",
            u8::from(ok).to_string(),
        ),
        (
            "roster_agent_applied_seq",
            "The change-log position last applied.",
            state.seq.to_string(),
        ),
        (
            "roster_agent_applied_timestamp_seconds",
            "When the last change was applied (Unix time).",
            applied_at.to_string(),
        ),
        (
            "roster_agent_lag_seconds",
            "From the server's change to its application, last time.",
            state.lag_seconds.unwrap_or(0.0).to_string(),
        ),
        (
            "roster_agent_held",
            "1 while a mass removal is held back.",
            u8::from(state.held.is_some()).to_string(),
        ),
        (
            "roster_agent_skipped_entries",
            "Entries the node guard kept out of the caches.",
            state.skipped.len().to_string(),
        ),
    ];
    let counters: [(&str, &str, String); 3] = [
        (
            "roster_agent_deltas_applied_total",
            "Changes applied from a delta (226), since the state file was made.",
            state.deltas_applied.to_string(),
        ),
        (
            "roster_agent_snapshots_applied_total",
            "Whole snapshots applied, since the state file was made.",
            state.snapshots_applied.to_string(),
        ),
        (
            "roster_agent_delta_mismatches_total",
            "Deltas that did not make the maps their tags name (then the whole snapshot was fetched).",
            state.delta_mismatches.to_string(),
        ),
    ];
    let mut out = String::new();
    for (kind, metrics) in [("gauge", &gauges[..]), ("counter", &counters[..])] {
        for (name, help, value) in metrics {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{{labels}}} {value}\n"
            ));
        }
    }
    out
}

/// A retry's pause: anywhere from a tenth of `backoff` to all of it
/// ("full jitter"), so that when a server restarts, the thousands of
/// agents whose long polls it cut do not all come back in the same
/// millisecond.
fn jittered(backoff: Duration) -> Duration {
    use rand::Rng;
    let max = backoff.as_millis().max(100) as u64;
    Duration::from_millis(rand::rng().random_range(max / 10..=max))
}

/// Applies a snapshot to the cache files: only files whose content changed
/// are replaced, each atomically. Returns a one-line summary.
fn apply(
    cfg: &AgentConfig,
    snapshot: &Snapshot,
    state: &mut AgentState,
) -> Result<Applied, AgentError> {
    let maps = &snapshot.maps;
    let local = LocalAccounts::read(&cfg.local_passwd, &cfg.local_group);
    let guarded = guard(
        &local,
        &maps.passwd,
        &maps.group,
        &maps.shadow,
        &maps.sshkey,
    );
    for why in &guarded.skipped {
        tracing::warn!(cluster = %cfg.cluster, "not written to this node: {why}");
    }
    state.skipped = guarded.skipped.clone();
    let current_passwd =
        std::fs::read_to_string(cfg.nss_dir.join("passwd.cache")).unwrap_or_default();
    let new_passwd = guarded.passwd.as_str();
    let before = passwd_names(&current_passwd);
    let after = passwd_names(new_passwd);
    // Sets: a cluster of 10,000 compared as lists took seconds a change.
    let (before_set, after_set): (HashSet<&String>, HashSet<&String>) =
        (before.iter().collect(), after.iter().collect());
    let removed: Vec<&String> = before.iter().filter(|n| !after_set.contains(n)).collect();
    let added = after.iter().filter(|n| !before_set.contains(n)).count();
    // An operator's approval on the server covers every node at once.
    let approved = snapshot
        .removal_approved_through
        .is_some_and(|through| snapshot.seq <= through);
    if !before.is_empty()
        && !cfg.allow_mass_removal
        && !approved
        && removed.len() >= cfg.min_mass_removal
        && removed.len() as f64 > cfg.max_removal_share * before.len() as f64
    {
        let names: Vec<&str> = removed.iter().take(10).map(|n| n.as_str()).collect();
        // What the server shows (300 characters): the action first.
        return Err(AgentError::MassRemoval(format!(
            "{} {} of the cluster's {} users (more than {:.0}%); nothing was changed. \
             If intended, approve it once for every node: roster cluster approve-removal ORG {} \
             (or run this agent with --allow-mass-removal). They are: {}{}",
            crate::api_v1::HELD_PREFIX,
            removed.len(),
            before.len(),
            cfg.max_removal_share * 100.0,
            cfg.cluster,
            names.join(", "),
            if removed.len() > names.len() {
                ", ..."
            } else {
                ""
            },
        )));
    }
    let mut changed = Vec::new();
    for (map, content) in [
        ("passwd", &guarded.passwd),
        ("group", &guarded.group),
        ("shadow", &guarded.shadow),
        ("sshkey", &guarded.sshkey),
    ] {
        let path = cfg.nss_dir.join(format!("{map}.cache"));
        if std::fs::read_to_string(&path).ok().as_deref() == Some(content) {
            continue;
        }
        changed.push(map);
        if !cfg.dry_run {
            atomic_write(&path, content.as_bytes())?;
        }
    }
    let summary = format!(
        "{}seq {}: {} users added, {} removed; files changed: {}",
        if cfg.dry_run {
            "dry run, nothing written: "
        } else {
            ""
        },
        snapshot.seq,
        added,
        removed.len(),
        if changed.is_empty() {
            "none".to_string()
        } else {
            changed.join(", ")
        }
    );
    Ok(Applied {
        summary,
        users: after,
    })
}

/// What one application of a snapshot did.
struct Applied {
    summary: String,
    /// The users the node's maps now hold (those the node guard let in).
    users: Vec<String>,
}

/// One pass: wait for changes after the persisted position (unless this is
/// the first pass), then fetch and apply the snapshot.
fn step(
    cfg: &AgentConfig,
    client: &Client,
    state: &mut AgentState,
    kept: &mut Option<delta::Kept>,
    first: bool,
    slurm_worker: Option<&SlurmWorker>,
) -> Result<(), AgentError> {
    // What the server hears of this node's last error: the caches' or,
    // when Slurm runs apart, Slurm's.
    let reported = state
        .last_error
        .clone()
        .or_else(|| slurm_worker.and_then(SlurmWorker::error));
    let base = format!("/api/v1/orgs/{}/clusters/{}", cfg.org, cfg.cluster);
    if !first || state.seq > 0 {
        let wait = if cfg.once { 0 } else { cfg.wait.as_secs() };
        let feed: ChangesReply = client.get(
            &format!("{base}/changes?after={}&wait={wait}", state.seq),
            cfg.wait + Duration::from_secs(15),
            reported.as_deref(),
        )?;
        if feed.changes.is_empty() && !feed.resync && !first {
            // Nothing up to the feed's position touches this cluster.
            if feed.seq > state.seq && !cfg.dry_run {
                state.seq = feed.seq;
            }
            return Ok(());
        }
    }
    let started = Instant::now();
    // Conditional only when the last pass applied everything: after a
    // failure the whole snapshot is applied again.
    // A process that manages Slurm starts from the whole snapshot, so
    // that Slurm is brought in step at every start.
    let etag = state
        .snapshot_etag
        .as_deref()
        .filter(|_| state.last_error.is_none() && !(first && cfg.slurm_cluster.is_some()));
    // A delta needs the version it applies to.
    let kept_base = kept.as_ref().filter(|k| Some(k.etag.as_str()) == etag);
    let path = format!("{base}/snapshot");
    let timeout = Duration::from_secs(120);
    let fetched = client.get_if_changed(
        &path,
        timeout,
        reported.as_deref(),
        etag,
        kept_base.is_some(),
    )?;
    // The sums of the maps a delta made (none after a whole snapshot).
    let mut sums = None;
    let (snapshot, etag, from_delta): (Snapshot, Option<String>, bool) = match fetched {
        Fetched::Changed(s, etag) => (s, etag, false),
        Fetched::Unchanged(seq) => {
            // Nothing this node has changed: only its position moves.
            if !cfg.dry_run && seq > state.seq {
                state.seq = seq;
            }
            tracing::info!(cluster = %cfg.cluster, "seq {seq}: snapshot unchanged (304); files changed: none");
            return Ok(());
        }
        Fetched::Delta(d, new_etag) => match kept_base.map(|k| delta::apply(k, &d)) {
            Some(Ok((s, new_sums))) => {
                sums = Some(new_sums);
                (s, new_etag, true)
            }
            failed => {
                let why = match failed {
                    Some(Err(why)) => {
                        if !cfg.dry_run {
                            state.delta_mismatches += 1;
                        }
                        why
                    }
                    _ => "a delta came for a version this node does not keep".to_string(),
                };
                tracing::warn!(cluster = %cfg.cluster, "{why}; fetching the whole snapshot");
                match client.get_if_changed(&path, timeout, reported.as_deref(), None, false)? {
                    Fetched::Changed(s, etag) => (s, etag, false),
                    _ => {
                        return Err(AgentError::Server(format!(
                            "{path}: 304 or 226 to a request that asked for neither"
                        )));
                    }
                }
            }
        },
    };
    let applied = apply(cfg, &snapshot, state)?;
    tracing::info!(
        cluster = %cfg.cluster,
        "{} (from {})",
        applied.summary,
        if from_delta { "a delta" } else { "the whole snapshot" }
    );
    match slurm_worker {
        // Slurm apart: the caches never wait for sacctmgr.
        Some(worker) => worker.hand(snapshot.clone(), applied.users.clone()),
        None => slurm_pass(cfg, &snapshot, &applied.users)?,
    }
    if !cfg.dry_run {
        if from_delta {
            state.deltas_applied += 1;
        } else {
            state.snapshots_applied += 1;
        }
        state.seq = snapshot.seq;
        state.snapshot_etag = etag.clone();
        let now = crate::directory::Clock::system().now();
        state.applied_at = Some(crate::scim::resource::format_time(now));
        state.lag_seconds = chrono::DateTime::parse_from_rfc3339(&snapshot.modified)
            .ok()
            .map(|m| (now - m.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0)
            .or(Some(started.elapsed().as_secs_f64()));
        state.last_error = None;
        state.held = None;
        // The base of the next delta: written before the state that
        // names it, and only used when the two agree.
        *kept = match etag {
            Some(etag) => {
                let mut k = delta::Kept::new(etag, snapshot, sums);
                k.save_if_due(&cfg.state_file, kept.as_ref(), !from_delta)?;
                Some(k)
            }
            None => None,
        };
    }
    Ok(())
}

/// Brings Slurm in step with a snapshot (when the agent manages Slurm).
fn slurm_pass(cfg: &AgentConfig, snapshot: &Snapshot, users: &[String]) -> Result<(), AgentError> {
    let Some(slurm_cluster) = &cfg.slurm_cluster else {
        return Ok(());
    };
    let organization = slurm::organization(&cfg.cluster);
    let current = slurm::read_state(slurm_cluster, &organization).map_err(AgentError::Slurm)?;
    // Users the node guard kept out of the maps get no Slurm user
    // either: Slurm knows people by their POSIX names.
    let mut wanted = slurm::wanted_from_snapshot(snapshot);
    let users: HashSet<&String> = users.iter().collect();
    for members in wanted.accounts.values_mut() {
        members.retain(|m| users.contains(m));
    }
    for account in slurm::foreign_accounts(&current, &wanted) {
        tracing::warn!(
            cluster = %cfg.cluster,
            "the Slurm account {account} exists but was not created by this agent (its Organization is not {organization}): \
             no associations are added to it. Give the group another POSIX name, or remove that account"
        );
    }
    let ops = slurm::plan(&current, &wanted, &cfg.slurm_ignore);
    if cfg.dry_run {
        for op in &ops {
            tracing::info!(
                "dry run, not applied: sacctmgr -i {}",
                op.args(slurm_cluster, &organization).join(" ")
            );
        }
    } else {
        slurm::apply(slurm_cluster, &organization, &ops).map_err(AgentError::Slurm)?;
    }
    tracing::info!(cluster = %cfg.cluster, "slurm: {} operations", ops.len());
    Ok(())
}

/// Slurm's work apart from the caches' (a running agent that manages
/// Slurm): the caches are written as soon as a snapshot arrives, and this
/// thread brings Slurm in step with the latest snapshot handed to it,
/// skipping those a newer one replaced, retrying failures with backoff.
/// A slow or unreachable slurmdbd no longer delays a node's logins.
struct SlurmWorker {
    shared: std::sync::Arc<SlurmShared>,
}

#[derive(Default)]
struct SlurmShared {
    /// The latest snapshot not yet applied to Slurm, with its users.
    next: std::sync::Mutex<Option<(Snapshot, Vec<String>)>>,
    ready: std::sync::Condvar,
    /// The last Slurm pass's error, reported to the server.
    error: std::sync::Mutex<Option<String>>,
}

impl SlurmWorker {
    fn start(cfg: &AgentConfig) -> SlurmWorker {
        let shared = std::sync::Arc::new(SlurmShared::default());
        let (s, cfg) = (shared.clone(), cfg.clone());
        std::thread::spawn(move || {
            let mut backoff = Duration::from_secs(1);
            loop {
                let job = {
                    let Ok(mut next) = s.next.lock() else { return };
                    while next.is_none() {
                        next = match s.ready.wait(next) {
                            Ok(n) => n,
                            Err(_) => return,
                        };
                    }
                    next.take()
                };
                let Some((snapshot, users)) = job else {
                    continue;
                };
                match slurm_pass(&cfg, &snapshot, &users) {
                    Ok(()) => {
                        backoff = Duration::from_secs(1);
                        if let Ok(mut e) = s.error.lock() {
                            *e = None;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in = ?backoff, "Slurm is not in step; the caches are");
                        if let Ok(mut err) = s.error.lock() {
                            *err = Some(e.to_string());
                        }
                        std::thread::sleep(jittered(backoff));
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        // Again, unless a newer snapshot came meanwhile.
                        if let Ok(mut next) = s.next.lock()
                            && next.is_none()
                        {
                            *next = Some((snapshot, users));
                        }
                    }
                }
            }
        });
        SlurmWorker { shared }
    }

    /// Hands the worker the latest snapshot (replacing one it has not
    /// started on).
    fn hand(&self, snapshot: Snapshot, users: Vec<String>) {
        if let Ok(mut next) = self.shared.next.lock() {
            *next = Some((snapshot, users));
            self.shared.ready.notify_one();
        }
    }

    fn error(&self) -> Option<String> {
        self.shared.error.lock().ok().and_then(|e| e.clone())
    }
}

/// Runs the agent: once, or until the process is stopped. Errors are
/// retried with backoff (the caches keep the last good state), except with
/// `--once`, which reports them.
pub fn run(cfg: &AgentConfig) -> Result<(), AgentError> {
    let client = Client::new(cfg)?;
    let mut state = AgentState::load(&cfg.state_file);
    let mut kept = delta::load(&cfg.state_file);
    let mut backoff = Duration::from_secs(1);
    let mut first = true;
    // A running agent does Slurm's work apart; `--once` and dry runs do
    // it in line, and report its failure.
    let slurm_worker =
        (cfg.slurm_cluster.is_some() && !cfg.once && !cfg.dry_run).then(|| SlurmWorker::start(cfg));
    loop {
        let pass = step(
            cfg,
            &client,
            &mut state,
            &mut kept,
            first,
            slurm_worker.as_ref(),
        );
        if let Some(path) = &cfg.metrics_file
            && let Err(e) = atomic_write(path, metrics_text(cfg, &state, pass.is_ok()).as_bytes())
        {
            tracing::warn!(error = %e, "cannot write the metrics file");
        }
        match pass {
            Ok(()) => {
                first = false;
                backoff = Duration::from_secs(1);
                if !cfg.dry_run {
                    state.save(&cfg.state_file)?;
                }
                if cfg.once {
                    return Ok(());
                }
            }
            Err(AgentError::Busy(after, why)) if !cfg.once => {
                // Not a failure: the caches are as good as before, and the
                // error reported to the server stays what it was. Spread
                // over up to twice the pause, so refused agents do not all
                // come back at once.
                let pause = after + jittered(after);
                tracing::info!(
                    retry_in_ms = pause.as_millis() as u64,
                    "the server is busy: {why}"
                );
                std::thread::sleep(pause);
            }
            Err(e) => {
                let pause = jittered(backoff);
                tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "the agent could not apply the cluster's state");
                state.last_error = Some(e.to_string());
                if let AgentError::MassRemoval(why) = &e {
                    state.held = Some(why.clone());
                }
                if !cfg.dry_run {
                    let _ = state.save(&cfg.state_file);
                }
                if cfg.once {
                    return Err(e);
                }
                std::thread::sleep(pause);
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_spread_over_the_backoff() {
        let pauses: Vec<Duration> = (0..200).map(|_| jittered(Duration::from_secs(1))).collect();
        assert!(
            pauses
                .iter()
                .all(|p| *p >= Duration::from_millis(100) && *p <= Duration::from_secs(1))
        );
        let distinct: std::collections::BTreeSet<_> = pauses.iter().collect();
        assert!(
            distinct.len() > 100,
            "spread, not one instant: {distinct:?}"
        );
    }
}
