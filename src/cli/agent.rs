//! `roster agent` and `roster authorized-keys`: the commands that run on a
//! cluster's nodes. The agent keeps the node's NSS caches (and with
//! `--slurm-cluster`, Slurm) in step with the directory; authorized-keys
//! answers sshd from the local caches, with no network.

use clap::{Args, Subcommand};

use super::Global;
use super::output::print_json;

/// The node's own account files, which IdP identities never shadow.
#[derive(Args, Clone)]
struct LocalAccountFiles {
    /// The node's own passwd file: no name or UID in it is ever served from the caches.
    #[arg(long, default_value = "/etc/passwd")]
    local_passwd: std::path::PathBuf,
    /// The node's own group file: no name or GID in it is ever served from the caches.
    #[arg(long, default_value = "/etc/group")]
    local_group: std::path::PathBuf,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    action: Option<AgentAction>,
    /// The Roster server's URL, such as https://roster.example.org.
    #[arg(long, env = "ROSTER_SERVER")]
    server: Option<String>,
    /// Organization id or name.
    #[arg(long, env = "ROSTER_ORG")]
    org: Option<String>,
    /// The cluster's name.
    #[arg(long, env = "ROSTER_CLUSTER")]
    cluster: Option<String>,
    /// A file holding the cluster's token (`roster cluster token create`).
    #[arg(long, env = "ROSTER_TOKEN_FILE")]
    token_file: Option<std::path::PathBuf>,
    /// Where the caches go (passwd.cache, group.cache, shadow.cache, sshkey.cache).
    #[arg(long, env = "ROSTER_NSS_DIR", default_value = "/etc")]
    nss_dir: std::path::PathBuf,
    /// Where the agent keeps its position and status; the last snapshot
    /// applied is kept beside it (STATE.snapshot.json), the base of the
    /// deltas the server sends.
    #[arg(
        long,
        env = "ROSTER_STATE_FILE",
        default_value = "/var/lib/roster-agent/state.json"
    )]
    state_file: std::path::PathBuf,
    /// Print what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Apply the current state once and exit (non-zero on failure).
    #[arg(long)]
    once: bool,
    /// Apply a plan even if it removes more than --max-removal-share of the cluster's users.
    #[arg(long)]
    allow_mass_removal: bool,
    /// The largest share of users one plan may remove without --allow-mass-removal.
    #[arg(long, default_value_t = 0.2)]
    max_removal_share: f64,
    /// Fewer removals than this are never held back, whatever their share
    /// (one person leaving a five-user cluster is not a mass removal).
    #[arg(long, default_value_t = 10)]
    min_mass_removal: usize,
    /// How long each long poll of the change feed waits, in seconds.
    #[arg(long, default_value_t = 30)]
    wait: u64,
    /// Manage this Slurm cluster's accounts, users and associations with sacctmgr.
    #[arg(long, env = "ROSTER_SLURM_CLUSTER")]
    slurm_cluster: Option<String>,
    /// This node's name as the server's console shows it beside the change
    /// it has applied (default: the host name).
    #[arg(long, env = "ROSTER_NODE_NAME")]
    node_name: Option<String>,
    /// Slurm users the agent never touches, comma-separated.
    #[arg(
        long,
        env = "ROSTER_SLURM_IGNORE",
        value_delimiter = ',',
        default_value = "root"
    )]
    slurm_ignore: Vec<String>,
    #[command(flatten)]
    local: LocalAccountFiles,
    /// Write the agent's metrics here after each pass, in Prometheus' text
    /// format: node_exporter's textfile collector directory, as roster_agent.prom.
    #[arg(long, env = "ROSTER_METRICS_FILE")]
    metrics_file: Option<std::path::PathBuf>,
    /// PEM certificates of the CA that signed the server's certificate,
    /// trusted besides the system's store (for a site's own CA).
    #[arg(long, env = "ROSTER_CA_FILE")]
    ca_file: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum AgentAction {
    /// Show the agent's last applied position, lag and errors.
    Status {
        #[arg(
            long,
            env = "ROSTER_STATE_FILE",
            default_value = "/var/lib/roster-agent/state.json"
        )]
        state_file: std::path::PathBuf,
    },
}

pub async fn run(g: &Global, a: &AgentArgs) -> Result<(), String> {
    if let Some(AgentAction::Status { state_file }) = &a.action {
        let state = roster::agent::AgentState::load(state_file);
        if g.json {
            print_json(&state);
        } else {
            println!("last applied seq:  {}", state.seq);
            println!(
                "applied at:        {}",
                state.applied_at.as_deref().unwrap_or("never")
            );
            println!(
                "lag:               {}",
                state
                    .lag_seconds
                    .map(|l| format!("{l:.3} s"))
                    .unwrap_or_else(|| "-".into())
            );
            println!(
                "last error:        {}",
                state.last_error.as_deref().unwrap_or("none")
            );
            if let Some(h) = &state.held {
                println!("held back:         {h}");
            }
            println!(
                "applied from:      {} deltas, {} whole snapshots ({} deltas did not match and were fetched whole)",
                state.deltas_applied, state.snapshots_applied, state.delta_mismatches
            );
            println!(
                "entries skipped:   {} (names or ids the node has for itself)",
                state.skipped.len()
            );
            for why in &state.skipped {
                println!("  {why}");
            }
        }
        return Ok(());
    }
    let need = |v: &Option<String>, flag: &str| {
        v.clone()
            .ok_or_else(|| format!("{flag} is required; see roster agent --help"))
    };
    let token_file = a
        .token_file
        .clone()
        .ok_or("--token-file is required; see roster agent --help")?;
    let token = std::fs::read_to_string(&token_file)
        .map_err(|e| format!("cannot read the token file {}: {e}", token_file.display()))?
        .trim()
        .to_string();
    if let Some(dir) = a.state_file.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let cfg = roster::agent::AgentConfig {
        server: need(&a.server, "--server")?,
        org: need(&a.org, "--org")?,
        cluster: need(&a.cluster, "--cluster")?,
        token,
        nss_dir: a.nss_dir.clone(),
        state_file: a.state_file.clone(),
        dry_run: a.dry_run,
        once: a.once,
        allow_mass_removal: a.allow_mass_removal,
        max_removal_share: a.max_removal_share,
        min_mass_removal: a.min_mass_removal,
        wait: std::time::Duration::from_secs(a.wait.clamp(1, 60)),
        slurm_cluster: a.slurm_cluster.clone(),
        node_name: a.node_name.clone().unwrap_or_else(super::host_name),
        local_passwd: a.local.local_passwd.clone(),
        local_group: a.local.local_group.clone(),
        metrics_file: a.metrics_file.clone(),
        ca_pem: match &a.ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?,
            ),
            None => None,
        },
        slurm_ignore: a
            .slurm_ignore
            .iter()
            .map(|u| u.trim().to_lowercase())
            .filter(|u| !u.is_empty())
            .collect(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
    tokio::task::spawn_blocking(move || roster::agent::run(&cfg))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

#[derive(Args)]
pub struct AuthorizedKeysArgs {
    /// The POSIX username (sshd's %u); matched exactly.
    user: String,
    /// The sshkey map written by nsscache or the roster agent.
    #[arg(long, default_value = "/etc/sshkey.cache")]
    cache: std::path::PathBuf,
    /// The passwd map beside it; a user without an entry there, or with a UID or GID
    /// below 1000, gets no keys. Default: passwd.cache in the sshkey map's directory.
    #[arg(long)]
    passwd_cache: Option<std::path::PathBuf>,
    #[command(flatten)]
    local: LocalAccountFiles,
}

/// Prints the user's keys, one per line. Never fails loudly: sshd treats
/// output as keys and a non-zero exit as "no keys" anyway; a refusal goes
/// to standard error, which sshd logs.
pub fn authorized_keys(args: &AuthorizedKeysArgs) {
    let AuthorizedKeysArgs {
        user,
        cache,
        passwd_cache,
        local,
    } = args;
    let passwd_cache = passwd_cache
        .clone()
        .unwrap_or_else(|| cache.with_file_name("passwd.cache"));
    let local = roster::node_guard::LocalAccounts::read(&local.local_passwd, &local.local_group);
    match roster::authorized_keys::keys_for_login(cache, &passwd_cache, &local, user) {
        Ok(keys) => {
            for key in keys {
                println!("{key}");
            }
        }
        Err(why) => eprintln!("roster authorized-keys: no keys served: {why}"),
    }
}
