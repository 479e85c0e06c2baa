//! `roster`: the one binary. `roster serve` runs the server; the other
//! commands administer the directory directly, and work while it runs.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use roster::directory::clusters::ClusterView;
use roster::directory::listing::{ListQuery, MAX_PAGE};
use roster::directory::model::{Org, TokenRecord};
use roster::directory::orgs::SettingsChange;
use roster::directory::resources::ResourceView;
use roster::directory::scim_log::{ScimLogLimits, ScimLogQuery};
use roster::directory::{Directory, DirectoryError};
use roster::scim::schema::{GROUP_SCHEMA, ResourceType};
use roster::server::{AppState, Metrics};

mod saml_commands;

const AFTER_HELP: &str = "\
Getting started:
  roster serve &                                  # listens on 127.0.0.1:8080, database ./roster.db
  roster org create acme                          # prints the org id
  roster org set acme --scim-api on --aup on      # every toggle starts off
  roster token create acme --name Okta            # prints the token once
  # SCIM base URL for the IdP: http://127.0.0.1:8080/scim/<org id>
  roster saml show acme                           # ACS URL and Entity ID for the IdP's SAML app
  roster saml set acme --metadata-url URL         # then the IdP's metadata (or --sso-url/--idp-entity-id/--certificate)
  roster admin login-link acme                    # a one-time administrator sign-in, before SAML works

Every command reads --database (or ROSTER_DATABASE); admin commands work while the server runs.";

#[derive(Parser)]
#[command(name = "roster", version, about = "Identity pipeline for Slurm clusters: SCIM 2.0 from your IdP to POSIX identities on every node", after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// The directory database: sqlite://FILE (relative to the working directory) or sqlite:///ABSOLUTE/PATH.
    #[arg(
        long,
        global = true,
        env = "ROSTER_DATABASE",
        default_value = "sqlite://roster.db"
    )]
    database: String,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The URL clients reach the server at; used in SCIM locations and printed URLs.
    #[arg(long, global = true, env = "ROSTER_PUBLIC_URL")]
    public_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SCIM server (creates and migrates the database on first start).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Log format.
        #[arg(long, env = "ROSTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Provisioning-log entries kept per org (0 turns the log off).
        #[arg(long, env = "ROSTER_SCIM_LOG_MAX_ENTRIES", default_value_t = 10_000)]
        scim_log_max_entries: u64,
        /// Provisioning-log entries older than this are removed (such as 12h, 7d, 30d).
        #[arg(long, env = "ROSTER_SCIM_LOG_MAX_AGE", default_value = "7d", value_parser = parse_age)]
        scim_log_max_age: std::time::Duration,
        /// Most provisioning-log bytes (paths, details, bodies) kept per org, such as 64M or 1G; the oldest entries go first.
        #[arg(long, env = "ROSTER_SCIM_LOG_MAX_SIZE", default_value = "64M", value_parser = parse_size)]
        scim_log_max_size: u64,
        /// How long a browser session lasts after sign-in (such as 8h, 12h, 1d).
        #[arg(long, env = "ROSTER_SESSION_LIFETIME", default_value = "12h", value_parser = parse_age)]
        session_lifetime: std::time::Duration,
        /// Longest time any request may take (the change feed's long poll excepted); 408 beyond.
        #[arg(long, env = "ROSTER_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_age)]
        request_timeout: std::time::Duration,
        /// Most open connections; more wait to be accepted. Each node's agent holds one; raise the
        /// open-file limit (LimitNOFILE) with it.
        #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = 8192)]
        max_connections: usize,
        /// How long a client may take to send a request's headers before the connection is closed.
        #[arg(long, env = "ROSTER_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_age)]
        header_read_timeout: std::time::Duration,
        /// Addresses of the reverse proxies in front of Roster (comma-separated): for requests
        /// from them, the client is the last other address in X-Forwarded-For (per-client limits
        /// would otherwise count everyone behind the proxy as one client).
        #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_delimiter = ',')]
        trusted_proxies: Vec<std::net::IpAddr>,
    },
    /// Configure SAML SSO for an org: what to paste into the IdP, and what to take from it.
    #[command(subcommand)]
    Saml(saml_commands::SamlCommand),
    /// Administrator access.
    #[command(subcommand)]
    Admin(saml_commands::AdminCommand),
    /// Browser sessions: list them, end one or all.
    #[command(subcommand)]
    Session(saml_commands::SessionCommand),
    /// Show an org's provisioning log: every SCIM request, newest first.
    ScimLog {
        /// Organization id or name.
        org: String,
        /// Only requests that failed (status 400 and above).
        #[arg(long)]
        failed: bool,
        /// Only requests within this long (such as 30m, 2h, 7d).
        #[arg(long, value_parser = parse_age)]
        since: Option<std::time::Duration>,
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Also print each request's body (secrets removed).
        #[arg(long)]
        bodies: bool,
    },
    /// Manage organizations (tenants) and their SCIM Configuration toggles.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage SCIM bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage groups by hand (the IdP's next push overwrites what it manages).
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage users by hand (seed 003, "Provision users directly"); the IdP's
    /// next push overwrites what it manages.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage clusters: which groups each provisions, and their read-only tokens.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Keep one cluster's node in step with the directory: the NSS caches,
    /// and with --slurm-cluster Slurm's accounts, users and associations.
    /// `roster agent status` shows what it last did.
    Agent(AgentArgs),
    /// For sshd's AuthorizedKeysCommand: print USER's keys from the local
    /// sshkey cache (no network). Unknown users print nothing and exit 0.
    AuthorizedKeys {
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
    },
}

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
struct AgentArgs {
    #[command(subcommand)]
    action: Option<AgentAction>,
    /// The Roster server's URL, such as https://roster.example.org.
    #[arg(long, env = "ROSTER_SERVER")]
    server: Option<String>,
    /// Organization id or name.
    #[arg(long)]
    org: Option<String>,
    /// The cluster's name.
    #[arg(long)]
    cluster: Option<String>,
    /// A file holding the cluster's token (`roster cluster token create`).
    #[arg(long)]
    token_file: Option<std::path::PathBuf>,
    /// Where the caches go (passwd.cache, group.cache, shadow.cache, sshkey.cache).
    #[arg(long, default_value = "/etc")]
    nss_dir: std::path::PathBuf,
    /// Where the agent keeps its position and status.
    #[arg(long, default_value = "/var/lib/roster-agent/state.json")]
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
    /// How long each long poll of the change feed waits, in seconds.
    #[arg(long, default_value_t = 30)]
    wait: u64,
    /// Manage this Slurm cluster's accounts, users and associations with sacctmgr.
    #[arg(long)]
    slurm_cluster: Option<String>,
    /// Slurm users the agent never touches, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "root")]
    slurm_ignore: Vec<String>,
    #[command(flatten)]
    local: LocalAccountFiles,
}

#[derive(Subcommand)]
enum AgentAction {
    /// Show the agent's last applied position, lag and errors.
    Status {
        #[arg(long, default_value = "/var/lib/roster-agent/state.json")]
        state_file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; prints its id.
    Create {
        /// Organization id or name.
        org: String,
        /// The userName, unique in the org (case-insensitively), such as an email address.
        #[arg(long)]
        user_name: String,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        /// Work email.
        #[arg(long)]
        email: Option<String>,
    },
    /// List users (all, or those a search finds).
    List {
        /// Organization id or name.
        org: String,
        /// Only users whose userName, display name or an email contains this (case-insensitively).
        #[arg(long)]
        search: Option<String>,
    },
    /// Show a user, with its POSIX identity when SUP is on.
    Show {
        /// Organization id or name.
        org: String,
        /// User id or userName.
        user: String,
    },
    /// Deactivate a user: it stays, but leaves every cluster's maps and keys.
    Deactivate {
        /// Organization id or name.
        org: String,
        /// User id or userName.
        user: String,
    },
    /// Delete a user; its UID and username are never given to anyone else.
    Delete {
        /// Organization id or name.
        org: String,
        /// User id or userName.
        user: String,
    },
    /// Replace a user's SSH keys with those in FILE, one per line.
    SetSshKeys {
        /// Organization id or name.
        org: String,
        /// User id or userName.
        user: String,
        /// A file with one public key per line (`-` for standard input).
        #[arg(long)]
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Register a cluster and the groups it provisions.
    Create {
        /// Organization id or name.
        org: String,
        /// The cluster's name, unique in the org.
        name: String,
        /// Groups to provision, by display name, POSIX name or id, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// Replace the groups a cluster provisions.
    SetGroups {
        /// Organization id or name.
        org: String,
        /// Cluster name or id.
        cluster: String,
        /// Groups to provision, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// List clusters.
    List {
        /// Organization id or name.
        org: String,
    },
    /// Show a cluster, its groups and its map URLs.
    Show {
        /// Organization id or name.
        org: String,
        /// Cluster name or id.
        cluster: String,
    },
    /// Read-only tokens for a cluster's nodes.
    #[command(subcommand)]
    Token(ClusterTokenCommand),
}

#[derive(Subcommand)]
enum ClusterTokenCommand {
    /// Create a read-only token that reads this cluster's maps and SCIM resources; printed once.
    Create {
        /// Organization id or name.
        org: String,
        /// Cluster name or id.
        cluster: String,
    },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group.
    Create {
        /// Organization id or name.
        org: String,
        /// The group's display name, unique in the org (case-insensitively).
        name: String,
    },
    /// List groups with their member counts (all, or those a search finds).
    List {
        /// Organization id or name.
        org: String,
        /// Only groups whose display name contains this (case-insensitively).
        #[arg(long)]
        search: Option<String>,
    },
    /// Show a group and its members.
    Show {
        /// Organization id or name.
        org: String,
        /// Group id or display name.
        group: String,
    },
    /// Delete a group (its members stay; they only leave the group).
    Delete {
        /// Organization id or name.
        org: String,
        /// Group id or display name.
        group: String,
    },
    /// Add a user to a group.
    AddMember {
        /// Organization id or name.
        org: String,
        /// Group id or display name.
        group: String,
        /// User id or userName.
        user: String,
    },
    /// Remove a user from a group.
    RemoveMember {
        /// Organization id or name.
        org: String,
        /// Group id or display name.
        group: String,
        /// User id or userName.
        user: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Toggle {
    On,
    Off,
}

impl From<Toggle> for bool {
    fn from(t: Toggle) -> bool {
        matches!(t, Toggle::On)
    }
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization; prints its id. Every toggle starts off.
    Create {
        /// A unique name: letters, digits, '-', '_', '.'; usable in URLs in place of the id.
        name: String,
        /// Create the legacy default groups admin, metrics, read, write and billing_viewer.
        #[arg(long)]
        legacy_groups: bool,
    },
    /// List organizations.
    List,
    /// Show an organization's settings, URLs and counts.
    Show {
        /// Organization id or name.
        org: String,
    },
    /// Change an organization's toggles.
    Set {
        /// Organization id or name.
        org: String,
        /// Enable SCIM API: off, every /scim request of the org gets 403.
        #[arg(long, value_enum)]
        scim_api: Option<Toggle>,
        /// Enable Automated User Provisioning: off, SCIM writes get 403.
        #[arg(long, value_enum)]
        aup: Option<Toggle>,
        /// Enable SUNK User Provisioning (POSIX identities for clusters).
        #[arg(long, value_enum)]
        sup: Option<Toggle>,
        /// Just-in-time accounts: a person's first SAML sign-in creates their user (on by default).
        #[arg(long, value_enum)]
        jit: Option<Toggle>,
        /// POSIX names no user or group of the org may take, besides the
        /// system names every org keeps (root, sudo, wheel, slurm, ...):
        /// comma-separated, replacing the org's list; "" clears it. Add the
        /// local accounts and groups your nodes have.
        #[arg(long, value_name = "NAME,NAME")]
        reserve_names: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a SCIM token; the secret is printed once and never stored.
    Create {
        /// Organization id or name.
        org: String,
        /// A name for the token, such as the IdP that will use it.
        #[arg(long)]
        name: String,
    },
    /// List tokens: names, ids, created and last used; never the secret.
    List {
        /// Organization id or name.
        org: String,
    },
    /// Revoke a token at once.
    Revoke {
        /// Organization id or name.
        org: String,
        /// The token's id, from `roster token list`.
        token_id: String,
    },
}

fn parse_age(s: &str) -> Result<std::time::Duration, String> {
    roster::directory::scim_log::parse_duration(s).ok_or_else(|| {
        format!("\"{s}\" is not a duration: use a number and s, m, h or d, such as 30m or 7d")
    })
}

fn parse_size(s: &str) -> Result<u64, String> {
    roster::directory::scim_log::parse_size(s).ok_or_else(|| {
        format!("\"{s}\" is not a size: use a number of bytes, or one with K, M or G, such as 64M")
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn open_directory(database: &str) -> Result<Directory, String> {
    let store = roster::store::open(database).map_err(|e| format!("{e} (database {database})"))?;
    Ok(Directory::new(store))
}

/// The public URL for printed URLs: `--public-url` if given, else the one
/// `serve` recorded in the database, else the default listen address.
async fn cli_public_url(g: &Global, dir: &Directory) -> String {
    if g.public_url.is_some() {
        return public_url(g, None);
    }
    match dir.recorded_public_url().await {
        Ok(Some(url)) => url,
        _ => public_url(g, None),
    }
}

fn public_url(g: &Global, listen: Option<&str>) -> String {
    let url = match &g.public_url {
        Some(u) => u.clone(),
        None => format!("http://{}", listen.unwrap_or("127.0.0.1:8080")),
    };
    url.trim_end_matches('/').to_string()
}

fn err(e: DirectoryError) -> String {
    e.to_string()
}

fn print_json(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn org_json(o: &Org, base: &str) -> serde_json::Value {
    json!({
        "id": o.id,
        "name": o.name,
        "created": o.created,
        "scim_api": o.settings.scim_api,
        "aup": o.settings.aup,
        "sup": o.settings.sup,
        "legacy_groups": o.settings.legacy_groups,
        "jit": o.settings.jit,
        "reserved_names": o.reserved_names,
        "scim_base_url": format!("{base}/scim/{}", o.id),
    })
}

fn token_json(t: &TokenRecord) -> serde_json::Value {
    json!({"id": t.id, "name": t.name, "created": t.created, "last_used": t.last_used, "revoked": t.revoked})
}

async fn run(cli: Cli) -> Result<(), String> {
    let g = &cli.global;
    match &cli.command {
        Command::Serve {
            listen,
            log_format,
            scim_log_max_entries,
            scim_log_max_age,
            scim_log_max_size,
            session_lifetime,
            request_timeout,
            max_connections,
            header_read_timeout,
            trusted_proxies,
        } => {
            let limits = ScimLogLimits {
                max_entries: *scim_log_max_entries,
                max_age: *scim_log_max_age,
                max_bytes: *scim_log_max_size,
            };
            let serving = Serving {
                trusted_proxies: trusted_proxies.clone(),
                session_lifetime: *session_lifetime,
                request_timeout: *request_timeout,
                connections: roster::server::ConnectionLimits {
                    max_connections: *max_connections,
                    header_read_timeout: *header_read_timeout,
                },
            };
            serve(g, listen, *log_format, limits, serving).await
        }
        Command::Saml(cmd) => {
            let dir = open_directory(&g.database)?;
            saml_commands::saml(&dir, &cli_public_url(g, &dir).await, g.json, cmd).await
        }
        Command::Session(cmd) => {
            let dir = open_directory(&g.database)?;
            saml_commands::session(&dir, g.json, cmd).await
        }
        Command::Admin(cmd) => {
            let dir = open_directory(&g.database)?;
            saml_commands::admin(&dir, &cli_public_url(g, &dir).await, g.json, cmd).await
        }
        Command::ScimLog {
            org,
            failed,
            since,
            limit,
            bodies,
        } => {
            let dir = open_directory(&g.database)?;
            let since = since.map(|d| {
                let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
                roster::scim::resource::format_time(chrono::Utc::now() - d)
            });
            let q = ScimLogQuery {
                failed_only: *failed,
                since,
                limit: *limit,
            };
            let entries = dir.scim_log(org, q).await.map_err(err)?;
            if g.json {
                print_json(json!(
                    entries
                        .iter()
                        .map(roster::server::scim_log_json)
                        .collect::<Vec<_>>()
                ));
            } else if entries.is_empty() {
                eprintln!(
                    "No SCIM requests recorded{}.",
                    if *failed { " that failed" } else { "" }
                );
            } else {
                for e in &entries {
                    println!(
                        "{}  {} {:<6} {}  token={}  {:.1}ms{}{}",
                        e.at,
                        e.status,
                        e.method,
                        e.path,
                        e.token_name.as_deref().unwrap_or("(none valid)"),
                        e.latency_ms,
                        e.scim_type
                            .as_deref()
                            .map(|t| format!("  scimType={t}"))
                            .unwrap_or_default(),
                        e.detail
                            .as_deref()
                            .map(|d| format!("\n    {d}"))
                            .unwrap_or_default(),
                    );
                    if *bodies && let Some(b) = &e.body {
                        println!("    body: {b}");
                    }
                }
            }
            Ok(())
        }
        Command::Group(cmd) => group_command(g, cmd).await,
        Command::Cluster(cmd) => cluster_command(g, cmd).await,
        Command::User(cmd) => user_command(g, cmd).await,
        Command::Agent(args) => agent_command(g, args).await,
        Command::AuthorizedKeys {
            user,
            cache,
            passwd_cache,
            local,
        } => {
            // Never fail loudly here: sshd treats output as keys and a
            // non-zero exit as "no keys" anyway. A refusal goes to stderr,
            // which sshd logs.
            let passwd_cache = passwd_cache
                .clone()
                .unwrap_or_else(|| cache.with_file_name("passwd.cache"));
            let local =
                roster::node_guard::LocalAccounts::read(&local.local_passwd, &local.local_group);
            match roster::nss_cache::keys_for_login(cache, &passwd_cache, &local, user) {
                Ok(keys) => {
                    for key in keys {
                        println!("{key}");
                    }
                }
                Err(why) => eprintln!("roster authorized-keys: no keys served: {why}"),
            }
            Ok(())
        }
        Command::Org(cmd) => {
            let dir = open_directory(&g.database)?;
            let base = cli_public_url(g, &dir).await;
            match cmd {
                OrgCommand::Create {
                    name,
                    legacy_groups,
                } => {
                    let o = dir.create_org(name, *legacy_groups).await.map_err(err)?;
                    if g.json {
                        print_json(
                            json!({"id": o.id, "name": o.name, "scim_base_url": format!("{base}/scim/{}", o.id)}),
                        );
                    } else {
                        println!("{}", o.id);
                        eprintln!(
                            "Created \"{}\". Next: roster org set {} --scim-api on --aup on && roster token create {} --name Okta",
                            o.name, o.name, o.name
                        );
                    }
                }
                OrgCommand::List => {
                    let orgs = dir.list_orgs().await.map_err(err)?;
                    if g.json {
                        print_json(json!(
                            orgs.iter().map(|o| org_json(o, &base)).collect::<Vec<_>>()
                        ));
                    } else if orgs.is_empty() {
                        eprintln!("No organizations yet. Create one with: roster org create NAME");
                    } else {
                        println!(
                            "{:<36}  {:<20}  {:<8} {:<4} {:<4}",
                            "ID", "NAME", "SCIM-API", "AUP", "SUP"
                        );
                        for o in orgs {
                            println!(
                                "{:<36}  {:<20}  {:<8} {:<4} {:<4}",
                                o.id,
                                o.name,
                                on_off(o.settings.scim_api),
                                on_off(o.settings.aup),
                                on_off(o.settings.sup)
                            );
                        }
                    }
                }
                OrgCommand::Show { org } => {
                    let (o, saml) = dir.saml_settings(org).await.map_err(err)?;
                    let (users, groups, seq) = dir.org_counts(&o.id).await.map_err(err)?;
                    if g.json {
                        let mut v = org_json(&o, &base);
                        if let Some(m) = v.as_object_mut() {
                            m.insert("users".into(), json!(users));
                            m.insert("groups".into(), json!(groups));
                            m.insert("change_seq".into(), json!(seq));
                            m.insert(
                                "saml_idp_entity_id".into(),
                                json!(saml.as_ref().map(|c| c.idp.entity_id.clone())),
                            );
                        }
                        print_json(v);
                    } else {
                        println!("id:             {}", o.id);
                        println!("name:           {}", o.name);
                        println!("created:        {}", o.created);
                        println!("SCIM base URL:  {base}/scim/{}", o.id);
                        println!("SCIM API:       {}", on_off(o.settings.scim_api));
                        println!("AUP:            {}", on_off(o.settings.aup));
                        println!("SUP:            {}", on_off(o.settings.sup));
                        println!("JIT accounts:   {}", on_off(o.settings.jit));
                        println!(
                            "reserved names: {} (and the system names every org keeps)",
                            if o.reserved_names.is_empty() {
                                "none of its own".to_string()
                            } else {
                                o.reserved_names.join(", ")
                            }
                        );
                        match &saml {
                            Some(c) => println!("SAML SSO:       on, IdP {}", c.idp.entity_id),
                            None => println!(
                                "SAML SSO:       not configured (roster saml show {})",
                                o.name
                            ),
                        }
                        println!(
                            "legacy groups:  {}",
                            if o.settings.legacy_groups {
                                "yes"
                            } else {
                                "no"
                            }
                        );
                        println!("users:          {users}");
                        println!("groups:         {groups}");
                        println!("change seq:     {seq}");
                    }
                }
                OrgCommand::Set {
                    org,
                    scim_api,
                    aup,
                    sup,
                    jit,
                    reserve_names,
                } => {
                    if scim_api.is_none()
                        && aup.is_none()
                        && sup.is_none()
                        && jit.is_none()
                        && reserve_names.is_none()
                    {
                        return Err(
                            "nothing to set: give --scim-api, --aup, --sup or --jit with on or off, or --reserve-names"
                                .into(),
                        );
                    }
                    let change = SettingsChange {
                        scim_api: scim_api.map(Into::into),
                        aup: aup.map(Into::into),
                        sup: sup.map(Into::into),
                        jit: jit.map(Into::into),
                        reserve_names: reserve_names
                            .as_deref()
                            .map(|l| l.split(',').map(|n| n.trim().to_string()).collect()),
                    };
                    let o = dir.set_org(org, change).await.map_err(err)?;
                    if g.json {
                        print_json(org_json(&o, &base));
                    } else {
                        println!(
                            "{}: SCIM API {}, AUP {}, SUP {}, JIT accounts {}",
                            o.name,
                            on_off(o.settings.scim_api),
                            on_off(o.settings.aup),
                            on_off(o.settings.sup),
                            on_off(o.settings.jit)
                        );
                    }
                }
            }
            Ok(())
        }
        Command::Token(cmd) => {
            let dir = open_directory(&g.database)?;
            match cmd {
                TokenCommand::Create { org, name } => {
                    let (t, secret) = dir.create_token(org, name).await.map_err(err)?;
                    if g.json {
                        print_json(json!({"id": t.id, "name": t.name, "token": secret}));
                    } else {
                        println!("{secret}");
                        eprintln!(
                            "Token \"{}\" (id {}). It is shown only this once: paste it into the IdP as the bearer token now.",
                            t.name, t.id
                        );
                    }
                }
                TokenCommand::List { org } => {
                    let tokens = dir.list_tokens(org).await.map_err(err)?;
                    if g.json {
                        print_json(json!(tokens.iter().map(token_json).collect::<Vec<_>>()));
                    } else if tokens.is_empty() {
                        eprintln!(
                            "No tokens. Create one with: roster token create {org} --name NAME"
                        );
                    } else {
                        println!(
                            "{:<36}  {:<20}  {:<27}  {:<27}  STATE",
                            "ID", "NAME", "CREATED", "LAST USED"
                        );
                        for t in tokens {
                            println!(
                                "{:<36}  {:<20}  {:<27}  {:<27}  {}",
                                t.id,
                                t.name,
                                t.created,
                                t.last_used.as_deref().unwrap_or("never"),
                                if t.revoked.is_some() {
                                    "revoked"
                                } else {
                                    "active"
                                }
                            );
                        }
                    }
                }
                TokenCommand::Revoke { org, token_id } => {
                    dir.revoke_token(org, token_id).await.map_err(err)?;
                    if g.json {
                        print_json(json!({"id": token_id, "revoked": true}));
                    } else {
                        println!("revoked {token_id}");
                    }
                }
            }
            Ok(())
        }
    }
}

/// Creates a user or group as the administrator; prints its id (JSON:
/// the resource).
async fn create_and_print(
    g: &Global,
    dir: &Directory,
    p: &roster::directory::model::Principal,
    rtype: ResourceType,
    body: serde_json::Value,
    base: &str,
) -> Result<(), String> {
    let v = dir.create_resource(p, rtype, body).await.map_err(err)?;
    if g.json {
        print_json(v.render(base));
    } else {
        println!("{}", v.stored.id);
    }
    Ok(())
}

/// Every user or group of the org, page by page (RFC 9865 cursors): a list
/// command must not stop at one page.
/// Every user or group a search finds, page by page.
async fn list_all(
    dir: &Directory,
    p: &roster::directory::model::Principal,
    rtype: ResourceType,
    search: &Option<String>,
) -> Result<Vec<ResourceView>, String> {
    let mut out = Vec::new();
    loop {
        let q = ListQuery {
            search: search.clone(),
            active: None,
            offset: out.len() as u64,
            limit: MAX_PAGE,
        };
        let page = match rtype {
            ResourceType::User => dir.list_users(p, q).await,
            ResourceType::Group => dir.list_groups(p, q).await,
        }
        .map_err(err)?;
        let got = page.items.len();
        out.extend(page.items);
        if got == 0 || out.len() as u64 >= page.total {
            return Ok(out);
        }
    }
}

async fn group_command(g: &Global, cmd: &GroupCommand) -> Result<(), String> {
    let dir = open_directory(&g.database)?;
    let org_ref = match cmd {
        GroupCommand::Create { org, .. }
        | GroupCommand::List { org, .. }
        | GroupCommand::Show { org, .. }
        | GroupCommand::Delete { org, .. }
        | GroupCommand::AddMember { org, .. }
        | GroupCommand::RemoveMember { org, .. } => org,
    };
    let p = dir.admin(org_ref).await.map_err(err)?;
    let base = format!("{}/scim/{}", cli_public_url(g, &dir).await, p.org.id);
    match cmd {
        GroupCommand::Create { name, .. } => {
            let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name});
            create_and_print(g, &dir, &p, ResourceType::Group, body, &base).await?;
        }
        GroupCommand::List { search, .. } => {
            let page = list_all(&dir, &p, ResourceType::Group, search).await?;
            if g.json {
                print_json(json!(
                    page.iter().map(|v| v.render(&base)).collect::<Vec<_>>()
                ));
            } else {
                println!("{:<36}  {:<30}  MEMBERS", "ID", "NAME");
                for v in &page {
                    let name = v
                        .stored
                        .doc
                        .get("displayName")
                        .and_then(|n| n.as_str())
                        .unwrap_or("");
                    println!(
                        "{:<36}  {:<30}  {}",
                        v.stored.id,
                        name,
                        v.members.as_ref().map(Vec::len).unwrap_or(0)
                    );
                }
            }
        }
        GroupCommand::Show { group, .. } => {
            let v = dir
                .find(&p, ResourceType::Group, group)
                .await
                .map_err(err)?;
            if g.json {
                print_json(v.render(&base));
            } else {
                println!("id:       {}", v.stored.id);
                println!(
                    "name:     {}",
                    v.stored
                        .doc
                        .get("displayName")
                        .and_then(|n| n.as_str())
                        .unwrap_or("")
                );
                println!("version:  {}", v.stored.version);
                println!("members:");
                for m in v.members.iter().flatten() {
                    println!("  {}  {}", m.user_id, m.display);
                }
            }
        }
        GroupCommand::Delete { group, .. } => {
            let v = dir
                .find(&p, ResourceType::Group, group)
                .await
                .map_err(err)?;
            dir.delete_resource(&p, ResourceType::Group, &v.stored.id, None)
                .await
                .map_err(err)?;
            if g.json {
                print_json(json!({"id": v.stored.id, "deleted": true}));
            } else {
                println!("deleted {}", v.stored.id);
            }
        }
        GroupCommand::AddMember { group, user, .. }
        | GroupCommand::RemoveMember { group, user, .. } => {
            let v = dir
                .find(&p, ResourceType::Group, group)
                .await
                .map_err(err)?;
            let u = dir.find(&p, ResourceType::User, user).await.map_err(err)?;
            let v = if matches!(cmd, GroupCommand::AddMember { .. }) {
                dir.add_member(&p, &v.stored.id, &u.stored.id).await
            } else {
                dir.remove_member(&p, &v.stored.id, &u.stored.id).await
            }
            .map_err(err)?;
            if g.json {
                print_json(v.render(&base));
            } else {
                println!(
                    "{} now has {} members",
                    v.stored
                        .doc
                        .get("displayName")
                        .and_then(|n| n.as_str())
                        .unwrap_or(""),
                    v.members.as_ref().map(Vec::len).unwrap_or(0)
                );
            }
        }
    }
    Ok(())
}

fn cluster_json(v: &ClusterView, base: &str) -> serde_json::Value {
    let c = &v.cluster;
    let maps: Vec<String> = ["passwd", "group", "shadow", "sshkey"]
        .iter()
        .map(|m| format!("{base}/nss/{}/{}/{m}", c.org_id, c.name))
        .collect();
    json!({
        "id": c.id,
        "name": c.name,
        "created": c.created,
        "groups": v.groups.iter().map(|(id, name, a)| json!({
            "id": id, "displayName": name,
            "posixName": a.as_ref().map(|a| a.name.clone()),
            "gid": a.as_ref().map(|a| a.gid),
        })).collect::<Vec<_>>(),
        "maps": maps,
    })
}

async fn cluster_command(g: &Global, cmd: &ClusterCommand) -> Result<(), String> {
    let dir = open_directory(&g.database)?;
    let base = cli_public_url(g, &dir).await;
    let show = |v: &ClusterView| {
        if g.json {
            print_json(cluster_json(v, &base));
        } else {
            println!(
                "{}  {}  groups: {}",
                v.cluster.id,
                v.cluster.name,
                v.groups
                    .iter()
                    .map(|(_, n, a)| match a {
                        Some(a) => format!("{n} ({}, gid {})", a.name, a.gid),
                        None => n.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    };
    match cmd {
        ClusterCommand::Create { org, name, groups } => show(
            &dir.create_cluster(org, name, groups.clone())
                .await
                .map_err(err)?,
        ),
        ClusterCommand::SetGroups {
            org,
            cluster,
            groups,
        } => show(
            &dir.set_cluster_groups(org, cluster, groups.clone())
                .await
                .map_err(err)?,
        ),
        ClusterCommand::List { org } => {
            let all = dir.clusters(org).await.map_err(err)?;
            if g.json {
                print_json(json!(
                    all.iter()
                        .map(|v| cluster_json(v, &base))
                        .collect::<Vec<_>>()
                ));
            } else if all.is_empty() {
                eprintln!(
                    "No clusters. Register one with: roster cluster create {org} NAME --groups GROUP,..."
                );
            } else {
                all.iter().for_each(show);
            }
        }
        ClusterCommand::Show { org, cluster } => {
            let v = dir.cluster(org, cluster).await.map_err(err)?;
            show(&v);
            if !g.json {
                for url in cluster_json(&v, &base)
                    .get("maps")
                    .and_then(|m| m.as_array())
                    .cloned()
                    .into_iter()
                    .flatten()
                {
                    println!("  {}", url.as_str().unwrap_or(""));
                }
            }
        }
        ClusterCommand::Token(ClusterTokenCommand::Create { org, cluster }) => {
            let (t, secret) = dir.create_cluster_token(org, cluster).await.map_err(err)?;
            if g.json {
                print_json(json!({"id": t.id, "name": t.name, "token": secret}));
            } else {
                println!("{secret}");
                eprintln!(
                    "Read-only token \"{}\" (id {}); shown only this once.",
                    t.name, t.id
                );
            }
        }
    }
    Ok(())
}

async fn user_command(g: &Global, cmd: &UserCommand) -> Result<(), String> {
    let dir = open_directory(&g.database)?;
    let org_ref = match cmd {
        UserCommand::Create { org, .. }
        | UserCommand::List { org, .. }
        | UserCommand::Show { org, .. }
        | UserCommand::Deactivate { org, .. }
        | UserCommand::Delete { org, .. }
        | UserCommand::SetSshKeys { org, .. } => org,
    };
    let p = dir.admin(org_ref).await.map_err(err)?;
    let base = format!("{}/scim/{}", cli_public_url(g, &dir).await, p.org.id);
    let print_user = |v: &ResourceView| {
        let body = v.render(&base);
        if g.json {
            print_json(body);
        } else {
            let s = |k: &str| {
                body.get(k)
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            println!("id:        {}", s("id"));
            println!("userName:  {}", s("userName"));
            println!(
                "active:    {}",
                body.get("active")
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "true".into())
            );
            if let Some(x) = body.get(roster::scim::schema::COREWEAVE_USER_SCHEMA) {
                for (k, v) in x.as_object().into_iter().flatten() {
                    println!("{k}: {v}");
                }
            }
        }
    };
    match cmd {
        UserCommand::Create {
            user_name,
            given_name,
            family_name,
            email,
            ..
        } => {
            let body = roster::scim::resource::user_request(
                user_name,
                given_name.as_deref(),
                family_name.as_deref(),
                email.as_deref(),
            );
            create_and_print(g, &dir, &p, ResourceType::User, body, &base).await?;
        }
        UserCommand::List { search, .. } => {
            let page = list_all(&dir, &p, ResourceType::User, search).await?;
            if g.json {
                print_json(json!(
                    page.iter().map(|v| v.render(&base)).collect::<Vec<_>>()
                ));
            } else {
                println!(
                    "{:<36}  {:<32}  {:<8} {:<16} UID",
                    "ID", "USERNAME", "ACTIVE", "POSIX"
                );
                for v in &page {
                    let d = &v.stored.doc;
                    let active = d.get("active").and_then(|a| a.as_bool()).unwrap_or(true);
                    let (name, uid) = v
                        .posix
                        .as_ref()
                        .map(|a| {
                            (
                                a.name.clone(),
                                a.uid.map(|u| u.to_string()).unwrap_or_default(),
                            )
                        })
                        .unwrap_or_default();
                    println!(
                        "{:<36}  {:<32}  {:<8} {:<16} {}",
                        v.stored.id,
                        d.get("userName").and_then(|u| u.as_str()).unwrap_or(""),
                        active,
                        name,
                        uid
                    );
                }
            }
        }
        UserCommand::Show { user, .. } => {
            print_user(&dir.find(&p, ResourceType::User, user).await.map_err(err)?)
        }
        UserCommand::Deactivate { user, .. } => {
            let v = dir.find(&p, ResourceType::User, user).await.map_err(err)?;
            let v = dir.deactivate_user(&p, &v.stored.id).await.map_err(err)?;
            print_user(&v);
        }
        UserCommand::Delete { user, .. } => {
            let v = dir.find(&p, ResourceType::User, user).await.map_err(err)?;
            dir.delete_resource(&p, ResourceType::User, &v.stored.id, None)
                .await
                .map_err(err)?;
            if g.json {
                print_json(json!({"id": v.stored.id, "deleted": true}));
            } else {
                println!("deleted {}", v.stored.id);
            }
        }
        UserCommand::SetSshKeys { user, file, .. } => {
            let text = if file.as_os_str() == "-" {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
                    .map_err(|e| e.to_string())?;
                t
            } else {
                std::fs::read_to_string(file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            };
            let keys = roster::directory::ssh_keys::key_lines(&text);
            let v = dir.find(&p, ResourceType::User, user).await.map_err(err)?;
            let v = dir
                .set_ssh_keys(&p, &v.stored.id, keys)
                .await
                .map_err(err)?;
            print_user(&v);
        }
    }
    Ok(())
}

async fn agent_command(g: &Global, a: &AgentArgs) -> Result<(), String> {
    if let Some(AgentAction::Status { state_file }) = &a.action {
        let state = roster::agent::AgentState::load(state_file);
        if g.json {
            print_json(serde_json::to_value(&state).unwrap_or_default());
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
        wait: std::time::Duration::from_secs(a.wait.clamp(1, 60)),
        slurm_cluster: a.slurm_cluster.clone(),
        local_passwd: a.local.local_passwd.clone(),
        local_group: a.local.local_group.clone(),
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

/// How `serve` treats sessions, requests and connections.
struct Serving {
    trusted_proxies: Vec<std::net::IpAddr>,
    session_lifetime: std::time::Duration,
    request_timeout: std::time::Duration,
    connections: roster::server::ConnectionLimits,
}

async fn serve(
    g: &Global,
    listen: &str,
    log_format: LogFormat,
    scim_log: ScimLogLimits,
    serving: Serving,
) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
    let dir = open_directory(&g.database)?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        format!("cannot listen on {listen}: {e}; choose another address with --listen")
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let public = public_url(g, Some(&addr.to_string()));
    // The command line prints URLs with it when not given --public-url;
    // recorded before the server says it listens.
    if let Err(e) = dir.record_public_url(&public).await {
        tracing::warn!(error = %e, "could not record the public URL in the database");
    }
    tracing::info!(address = %addr, database = %g.database, public_url = %public, "roster is listening on http://{addr}");
    match dir.list_orgs().await {
        Ok(orgs) if orgs.is_empty() => {
            tracing::info!(
                "the directory is empty; next: roster org create NAME (with the same --database)"
            );
        }
        Ok(orgs) => tracing::info!(orgs = orgs.len(), "serving SCIM at {public}/scim/{{org}}"),
        Err(e) => return Err(format!("cannot read the directory: {e}")),
    }
    let recorder = dir.start_scim_log(scim_log);
    let state = AppState {
        directory: dir,
        public_url: Arc::from(public.as_str()),
        metrics: Arc::new(Metrics::new()),
        scim_log: recorder,
        session_lifetime: serving.session_lifetime,
        request_timeout: serving.request_timeout,
        sign_in_starts: roster::server::sign_in_start_limit(),
        trusted_proxies: Arc::from(serving.trusted_proxies),
    };
    roster::server::serve(listener, state, serving.connections)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

// glibc's malloc took an eighth of the server's CPU in profiles of the
// look-up path; mimalloc's thread-local free lists cost much less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
