//! The `roster` command line: one file per noun (`org`, `token`, `user`,
//! `group`, `cluster`, `saml`, `admin`, `session`, `scim_log`, `db`,
//! `agent`, `serve`), each holding its clap definitions and what it runs. Every
//! command calls the same domain operations ([`roster::directory`]) the
//! admin API and the console do; `output` is how they print.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use roster::directory::model::Actor;
use roster::directory::{Directory, DirectoryError};

mod admin;
mod agent;
mod audit;
mod cluster;
mod db;
mod explain;
mod group;
mod import;
mod org;
mod output;
mod resources;
mod saml;
mod scim_log;
mod serve;
mod session;
mod token;
mod user;

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

/// Options every command takes.
#[derive(Args)]
pub struct Global {
    /// The directory database: sqlite://FILE (relative to the working directory),
    /// sqlite:///ABSOLUTE/PATH, or postgres://USER:PASSWORD@HOST:PORT/DB (docs/postgres.md).
    /// Keep a password out of the command line: set ROSTER_DATABASE, or
    /// --database-file.
    #[arg(
        long,
        global = true,
        env = "ROSTER_DATABASE",
        hide_env_values = true,
        default_value = "sqlite://roster.db"
    )]
    pub database: String,
    /// A file holding the database URL (one line), such as a mounted secret;
    /// it takes the place of --database.
    #[arg(long, global = true, env = "ROSTER_DATABASE_FILE", value_name = "FILE")]
    pub database_file: Option<std::path::PathBuf>,
    /// PostgreSQL: most connections this process opens (half may write at
    /// once, the rest read). Size the server's max_connections for it
    /// times the replicas.
    #[arg(long, global = true, env = "ROSTER_DB_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub db_pool_size: u32,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The URL clients reach the server at; used in SCIM locations and printed URLs.
    #[arg(long, global = true, env = "ROSTER_PUBLIC_URL")]
    pub public_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SCIM server (creates and migrates the database on first start).
    Serve(serve::ServeArgs),
    /// Configure SAML SSO for an org: what to paste into the IdP, and what to take from it.
    #[command(subcommand)]
    Saml(saml::SamlCommand),
    /// Administrator access.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Browser sessions: list them, end one or all.
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Who changed what: the org's audit trail, newest first.
    Audit(audit::AuditArgs),
    /// Show an org's provisioning log: every SCIM request, newest first.
    ScimLog(scim_log::ScimLogArgs),
    /// Manage organizations (tenants) and their SCIM Configuration toggles.
    #[command(subcommand)]
    Org(org::OrgCommand),
    /// Manage SCIM bearer tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Manage groups by hand (the IdP's next push overwrites what it manages).
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Manage users by hand (whether or not AUP is on); the IdP's next push
    /// overwrites what it manages.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage clusters: which groups each provisions, and their read-only tokens.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Why a person can or cannot log in: their account, POSIX identity,
    /// SSH keys, groups, and a cluster's maps, failing step first.
    Explain(explain::ExplainArgs),
    /// Keep a cluster's existing UIDs, GIDs and names (its passwd and group
    /// files) for the people and groups the identity provider will push.
    Import(import::ImportArgs),
    /// The database: its schema version, and migrating it.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Keep one cluster's node in step with the directory: the NSS caches,
    /// and with --slurm-cluster Slurm's accounts, users and associations.
    /// `roster agent status` shows what it last did.
    Agent(agent::AgentArgs),
    /// For sshd's AuthorizedKeysCommand: print USER's keys from the local
    /// sshkey cache (no network). Unknown users print nothing and exit 0.
    AuthorizedKeys(agent::AuthorizedKeysArgs),
}

/// An on/off value for a toggle flag.
#[derive(Clone, Copy, ValueEnum)]
pub enum Toggle {
    On,
    Off,
}

impl From<Toggle> for bool {
    fn from(t: Toggle) -> bool {
        matches!(t, Toggle::On)
    }
}

/// Parses the command line and runs the command; errors print as
/// `error: ...` and exit 1.
pub fn main() -> ExitCode {
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

async fn run(cli: Cli) -> Result<(), String> {
    let g = &cli.global;
    match &cli.command {
        Command::Serve(args) => serve::run(g, args).await,
        Command::Saml(cmd) => saml::run(g, cmd).await,
        Command::Session(cmd) => session::run(g, cmd).await,
        Command::Admin(cmd) => admin::run(g, cmd).await,
        Command::ScimLog(args) => scim_log::run(g, args).await,
        Command::Audit(args) => audit::run(g, args).await,
        Command::Org(cmd) => org::run(g, cmd).await,
        Command::Token(cmd) => token::run(g, cmd).await,
        Command::Group(cmd) => group::run(g, cmd).await,
        Command::Cluster(cmd) => cluster::run(g, cmd).await,
        Command::Db(cmd) => db::run(g, cmd).await,
        Command::User(cmd) => user::run(g, cmd).await,
        Command::Import(args) => match import::run(g, args).await {
            Ok(true) => Ok(()),
            Ok(false) => std::process::exit(2),
            Err(e) => Err(e),
        },
        Command::Explain(args) => match explain::run(g, args).await {
            Ok(true) => Ok(()),
            Ok(false) => std::process::exit(2),
            Err(e) => Err(e),
        },
        Command::Agent(args) => agent::run(g, args).await,
        Command::AuthorizedKeys(args) => {
            agent::authorized_keys(args);
            Ok(())
        }
    }
}

/// The host's name, as the kernel has it; "" when it cannot be read.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|n| n.trim().to_string())
        .unwrap_or_default()
}

/// The operator at this terminal, as the audit trail records their
/// changes: the Unix user (the one who ran sudo, if they did) and host.
pub fn cli_actor() -> Actor {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown user".into());
    Actor::cli(&user, &host_name())
}

pub fn parse_age(s: &str) -> Result<std::time::Duration, String> {
    roster::directory::scim_log::parse_duration(s).ok_or_else(|| {
        format!("\"{s}\" is not a duration: use a number and s, m, h or d, such as 30m or 7d")
    })
}

/// A duration that is not zero: for limits where zero would mean "at
/// once, always" (forgetting every node at each check), never what an
/// operator wants.
pub fn parse_positive_age(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_age(s)?;
    if d.is_zero() {
        return Err(format!(
            "\"{s}\" is zero: give a duration of a second or more, such as 7d"
        ));
    }
    Ok(d)
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    roster::directory::scim_log::parse_size(s).ok_or_else(|| {
        format!("\"{s}\" is not a size: use a number of bytes, or one with K, M or G, such as 64M")
    })
}

/// The database URL: `--database-file`'s content, else `--database`.
pub fn database_url(g: &Global) -> Result<String, String> {
    match &g.database_file {
        Some(path) => std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("cannot read the database URL from {}: {e}", path.display())),
        None => Ok(g.database.clone()),
    }
}

pub fn open_directory(g: &Global) -> Result<Directory, String> {
    let database = database_url(g)?;
    let options = roster::store::postgres::PostgresOptions {
        pool_size: g.db_pool_size,
    };
    let store = roster::store::open_with(&database, &options)
        .map_err(|e| format!("{e} (database {})", roster::store::redact_url(&database)))?;
    Ok(Directory::new(store))
}

/// The public URL for printed URLs: `--public-url` if given, else the one
/// `serve` recorded in the database, else the default listen address.
pub async fn cli_public_url(g: &Global, dir: &Directory) -> String {
    if g.public_url.is_some() {
        return public_url(g, None);
    }
    match dir.recorded_public_url().await {
        Ok(Some(url)) => url,
        _ => public_url(g, None),
    }
}

/// `--public-url`, else `base` (the server's own scheme and address), else
/// the default listen address.
pub fn public_url(g: &Global, base: Option<&str>) -> String {
    let url = match &g.public_url {
        Some(u) => u.clone(),
        None => base.unwrap_or("http://127.0.0.1:8080").to_string(),
    };
    url.trim_end_matches('/').to_string()
}

pub fn err(e: DirectoryError) -> String {
    e.to_string()
}
