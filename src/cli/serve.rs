//! `roster serve`: the server (SCIM, SAML sign-in, the cluster API, the
//! NSS maps and the admin API on one listener).

use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::{Global, open_directory, parse_age, parse_positive_age, parse_size, public_url};
use roster::directory::scim_log::ScimLogLimits;
use roster::server::{AppState, ConnectionLimits, Metrics};

#[derive(Args)]
pub struct ServeArgs {
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
    #[arg(long, env = "ROSTER_SESSION_LIFETIME", default_value = "12h", value_parser = parse_positive_age)]
    session_lifetime: std::time::Duration,
    /// Longest time any request may take (the change feed's long poll excepted); 408 beyond.
    #[arg(long, env = "ROSTER_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_positive_age)]
    request_timeout: std::time::Duration,
    /// Most open connections; more wait to be accepted. Each node's agent holds one; raise the
    /// open-file limit (LimitNOFILE) with it.
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = 8192)]
    max_connections: usize,
    /// How long a client may take to send a request's headers before the connection is closed.
    #[arg(long, env = "ROSTER_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_positive_age)]
    header_read_timeout: std::time::Duration,
    /// Addresses of the reverse proxies in front of Roster (comma-separated): for requests
    /// from them, the client is the last other address in X-Forwarded-For (per-client limits
    /// would otherwise count everyone behind the proxy as one client).
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Client addresses /metrics answers (comma-separated IPs or CIDR blocks, such as
    /// 10.0.0.5,10.1.0.0/16); others get 403. It names every org and cluster. Behind a
    /// proxy, the client is found as for --trusted-proxies.
    #[arg(
        long,
        env = "ROSTER_METRICS_ALLOW",
        value_delimiter = ',',
        default_value = "127.0.0.0/8,::1",
        value_name = "ADDRS"
    )]
    metrics_allow: Vec<roster::server::AddrRange>,
    /// Most nodes a cluster keeps reports of (each agent's --node-name); reports of new
    /// names beyond are dropped (counted in roster_node_reports_dropped_total), known nodes
    /// still update. `roster cluster forget-node` frees a place.
    #[arg(long, env = "ROSTER_MAX_NODES_PER_CLUSTER", default_value_t = roster::directory::fleet::MAX_NODES_PER_CLUSTER, value_parser = clap::value_parser!(u64).range(1..))]
    max_nodes_per_cluster: u64,
    /// Nodes not heard from for this long are forgotten (such as 7d, 30d); checked at start
    /// and every hour.
    #[arg(long, env = "ROSTER_FORGET_NODES_AFTER", default_value = "7d", value_parser = parse_positive_age)]
    forget_nodes_after: std::time::Duration,
    /// Most change-feed long polls held at once; more are answered at once with 429 and
    /// Retry-After. Default: --max-connections less a reserve (an eighth, and at least 16
    /// or half) for every other request. Must be below --max-connections.
    #[arg(long, env = "ROSTER_MAX_LONG_POLLS")]
    max_long_polls: Option<usize>,
    /// Most change-feed long polls one org's tokens may hold at once (default: --max-long-polls).
    #[arg(long, env = "ROSTER_MAX_LONG_POLLS_PER_ORG")]
    max_long_polls_per_org: Option<usize>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs
    /// --tls-key. Reloaded, with the key, on SIGHUP.
    #[arg(
        long,
        env = "ROSTER_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        env = "ROSTER_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    tls_key: Option<std::path::PathBuf>,
    /// Let the console's SAML Metadata URL reach private addresses (loopback, RFC 1918,
    /// link-local, ULA, ...): alone, every one; or only these addresses and networks
    /// (comma-separated, such as 10.1.2.3,10.8.0.0/16). Without it, only public addresses.
    #[arg(
        long,
        env = "ROSTER_METADATA_ALLOW_PRIVATE",
        value_name = "NETWORKS",
        num_args = 0..=1,
        default_missing_value = "all",
        value_parser = roster::idp_metadata::AllowPrivate::parse
    )]
    metadata_allow_private: Option<roster::idp_metadata::AllowPrivate>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

pub async fn run(g: &Global, args: &ServeArgs) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
    let max_long_polls = args
        .max_long_polls
        .unwrap_or_else(|| roster::server::LongPolls::default_max(args.max_connections));
    if max_long_polls == 0 || max_long_polls >= args.max_connections {
        return Err(format!(
            "--max-long-polls {max_long_polls} must be from 1 to below --max-connections ({}): the rest of the connections are for every other request",
            args.max_connections
        ));
    }
    let dir = open_directory(g)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(roster::server::tls::Tls::load(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listen = &args.listen;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        format!("cannot listen on {listen}: {e}; choose another address with --listen")
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let public = public_url(g, Some(&format!("{scheme}://{addr}")));
    // The command line prints URLs with it when not given --public-url;
    // recorded before the server says it listens.
    if let Err(e) = dir.record_public_url(&public).await {
        tracing::warn!(error = %e, "could not record the public URL in the database");
    }
    tracing::info!(address = %addr, database = %roster::store::redact_url(&super::database_url(g)?), public_url = %public, "roster is listening on {scheme}://{addr}");
    match dir.list_orgs().await {
        Ok(orgs) if orgs.is_empty() => {
            tracing::info!(
                "the directory is empty; next: roster org create NAME (with the same --database)"
            );
        }
        Ok(orgs) => tracing::info!(orgs = orgs.len(), "serving SCIM at {public}/scim/{{org}}"),
        Err(e) => return Err(format!("cannot read the directory: {e}")),
    }
    let recorder = dir.start_scim_log(ScimLogLimits {
        max_entries: args.scim_log_max_entries,
        max_age: args.scim_log_max_age,
        max_bytes: args.scim_log_max_size,
    });
    let state = AppState {
        directory: dir,
        public_url: Arc::from(public.as_str()),
        metrics: Arc::new(Metrics::new()),
        scim_log: recorder,
        session_lifetime: args.session_lifetime,
        request_timeout: args.request_timeout,
        sign_in_starts: roster::server::sign_in_start_limit(),
        agents_seen: Arc::new(roster::server::agents_seen::AgentsSeen::new(
            args.max_nodes_per_cluster,
            args.forget_nodes_after,
        )),
        snapshot_bodies: Default::default(),
        trusted_proxies: Arc::from(args.trusted_proxies.clone()),
        metrics_allow: Arc::from(args.metrics_allow.clone()),
        long_polls: Arc::new(roster::server::LongPolls::new(
            max_long_polls,
            args.max_long_polls_per_org.unwrap_or(max_long_polls).max(1),
        )),
        metadata_fetcher: Arc::new(roster::idp_metadata::Fetcher::for_server(
            args.metadata_allow_private.clone().unwrap_or_default(),
        )),
    };
    if let Some(t) = &tls {
        t.reload_on_sighup();
    }
    let limits = ConnectionLimits {
        max_connections: args.max_connections,
        header_read_timeout: args.header_read_timeout,
        tls,
    };
    roster::server::serve(listener, state, limits)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}
