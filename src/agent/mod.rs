//! `roster agent`: keeps one cluster's node in step with the directory.
//! It knows the server's API only (the change feed and the snapshot),
//! never the database. This part follows the feed and writes the NSS
//! caches; `slurm` plans and applies Slurm's accounts and associations.

mod files;
pub mod slurm;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use files::{atomic_write, passwd_names};

/// Errors of the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot reach the server: {0}")]
    Server(String),
    #[error("the server refused: {0}")]
    Refused(String),
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
    pub wait: Duration,
    /// The Slurm cluster whose accounts to manage; `None` leaves Slurm alone.
    pub slurm_cluster: Option<String>,
    /// Slurm users never touched (root, service accounts).
    pub slurm_ignore: std::collections::BTreeSet<String>,
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

struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl Client {
    fn get(&self, path: &str, timeout: Duration) -> Result<Value, AgentError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .timeout(timeout)
            .send()
            .map_err(|e| AgentError::Server(e.to_string()))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .map_err(|e| AgentError::Server(format!("{url}: {e}")))?;
        if !status.is_success() {
            let why = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            return Err(AgentError::Refused(format!("{status}: {why}")));
        }
        Ok(body)
    }
}

const MAPS: [&str; 4] = ["passwd", "group", "shadow", "sshkey"];

/// Applies a snapshot to the cache files: only files whose content changed
/// are replaced, each atomically. Returns a one-line summary.
fn apply(cfg: &AgentConfig, snapshot: &Value) -> Result<String, AgentError> {
    let maps = &snapshot["maps"];
    let current_passwd =
        std::fs::read_to_string(cfg.nss_dir.join("passwd.cache")).unwrap_or_default();
    let new_passwd = maps["passwd"].as_str().unwrap_or("");
    let before = passwd_names(&current_passwd);
    let after = passwd_names(new_passwd);
    let removed: Vec<&String> = before.iter().filter(|n| !after.contains(*n)).collect();
    let added = after.iter().filter(|n| !before.contains(*n)).count();
    if !before.is_empty()
        && !cfg.allow_mass_removal
        && removed.len() as f64 > cfg.max_removal_share * before.len() as f64
    {
        return Err(AgentError::MassRemoval(format!(
            "refusing to remove {} of the cluster's {} users (more than {:.0}%); nothing was changed. \
             If this is intended, run with --allow-mass-removal",
            removed.len(),
            before.len(),
            cfg.max_removal_share * 100.0
        )));
    }
    let mut changed = Vec::new();
    for map in MAPS {
        let content = maps[map].as_str().unwrap_or("");
        let path = cfg.nss_dir.join(format!("{map}.cache"));
        if std::fs::read_to_string(&path).ok().as_deref() == Some(content) {
            continue;
        }
        changed.push(map);
        if !cfg.dry_run {
            atomic_write(&path, content.as_bytes())?;
        }
    }
    Ok(format!(
        "{}seq {}: {} users added, {} removed; files changed: {}",
        if cfg.dry_run {
            "dry run, nothing written: "
        } else {
            ""
        },
        snapshot["seq"],
        added,
        removed.len(),
        if changed.is_empty() {
            "none".to_string()
        } else {
            changed.join(", ")
        }
    ))
}

/// One pass: wait for changes after the persisted position (unless this is
/// the first pass), then fetch and apply the snapshot.
fn step(
    cfg: &AgentConfig,
    client: &Client,
    state: &mut AgentState,
    first: bool,
) -> Result<(), AgentError> {
    let base = format!("/api/v1/orgs/{}/clusters/{}", cfg.org, cfg.cluster);
    if !first || state.seq > 0 {
        let wait = if cfg.once { 0 } else { cfg.wait.as_secs() };
        let feed = client.get(
            &format!("{base}/changes?after={}&wait={wait}", state.seq),
            cfg.wait + Duration::from_secs(15),
        )?;
        let empty = feed["changes"].as_array().is_none_or(Vec::is_empty);
        if empty && feed["resync"] != Value::Bool(true) && !first {
            // Nothing up to the feed's position touches this cluster.
            if let Some(seq) = feed["seq"].as_i64()
                && seq > state.seq
                && !cfg.dry_run
            {
                state.seq = seq;
            }
            return Ok(());
        }
    }
    let started = Instant::now();
    let snapshot = client.get(&format!("{base}/snapshot"), Duration::from_secs(120))?;
    let summary = apply(cfg, &snapshot)?;
    tracing::info!(cluster = %cfg.cluster, "{summary}");
    if let Some(slurm_cluster) = &cfg.slurm_cluster {
        let organization = slurm::organization(&cfg.cluster);
        let current = slurm::read_state(slurm_cluster, &organization).map_err(AgentError::Slurm)?;
        let ops = slurm::plan(
            &current,
            &slurm::wanted_from_snapshot(&snapshot),
            &cfg.slurm_ignore,
        );
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
    }
    if !cfg.dry_run {
        state.seq = snapshot["seq"].as_i64().unwrap_or(state.seq);
        state.applied_at = Some(crate::scim::resource::format_time(chrono::Utc::now()));
        state.lag_seconds = snapshot["modified"]
            .as_str()
            .and_then(|m| chrono::DateTime::parse_from_rfc3339(m).ok())
            .map(|m| {
                (chrono::Utc::now() - m.with_timezone(&chrono::Utc)).num_milliseconds() as f64
                    / 1000.0
            })
            .or(Some(started.elapsed().as_secs_f64()));
        state.last_error = None;
        state.held = None;
    }
    Ok(())
}

/// Runs the agent: once, or until the process is stopped. Errors are
/// retried with backoff (the caches keep the last good state), except with
/// `--once`, which reports them.
pub fn run(cfg: &AgentConfig) -> Result<(), AgentError> {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| AgentError::Server(e.to_string()))?;
    let client = Client {
        http,
        base: cfg.server.trim_end_matches('/').to_string(),
        token: cfg.token.clone(),
    };
    let mut state = AgentState::load(&cfg.state_file);
    let mut backoff = Duration::from_secs(1);
    let mut first = true;
    loop {
        match step(cfg, &client, &mut state, first) {
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
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "the agent could not apply the cluster's state");
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
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
