//! `roster scim-log ORG`: the org's provisioning log, newest first
//! (docs/console.md, "Pages": Provisioning log; docs/api.md).

use clap::Args;
use serde_json::json;

use super::output::print_json;
use super::{Global, err, open_directory, parse_age};
use roster::directory::scim_log::ScimLogQuery;

#[derive(Args)]
pub struct ScimLogArgs {
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
}

pub async fn run(g: &Global, args: &ScimLogArgs) -> Result<(), String> {
    let ScimLogArgs {
        org,
        failed,
        since,
        limit,
        bodies,
    } = args;
    let dir = open_directory(g)?;
    let since = since.map(|d| {
        let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
        roster::scim::resource::format_time(dir.clock().now() - d)
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
                .map(roster::server::log_entry)
                .collect::<Vec<_>>()
        ));
    } else if entries.is_empty() {
        eprintln!(
            "No SCIM requests recorded{}.",
            if *failed { " that failed" } else { "" }
        );
    } else {
        let plain = roster::directory::identifiers::shown_plainly;
        for e in &entries {
            println!(
                "{}  {} {:<6} {}  token={}  {:.1}ms{}{}",
                e.at,
                e.status,
                e.method,
                plain(&e.path),
                e.token_name.as_deref().unwrap_or("(none valid)"),
                e.latency_ms,
                e.scim_type
                    .as_deref()
                    .map(|t| format!("  scimType={t}"))
                    .unwrap_or_default(),
                e.detail
                    .as_deref()
                    .map(|d| format!("\n    {}", plain(d)))
                    .unwrap_or_default(),
            );
            if *bodies && let Some(b) = &e.body {
                println!("    body: {}", plain(b));
            }
        }
    }
    Ok(())
}
