//! `roster audit ORG`: who changed what, newest first.

use clap::Args;

use super::output::print_json;
use super::{Global, err, open_directory, parse_age};
use roster::directory::model::AuditQuery;

#[derive(Args)]
#[command(after_help = "\
Examples:
  roster audit acme --since 1d
  roster audit acme --actor console --json

Each entry: when, who (\"token Okta\", \"console: ada@example.com\", \"roster CLI (alice)\"),
what (user.create, user.patch, user.ssh_keys, group.member.add, group.roles, import, ...),
which user or group, and a summary; never a secret. The newest 100,000 per org are kept.")]
pub struct AuditArgs {
    /// Organization id or name.
    org: String,
    /// Only entries within this long (such as 30m, 2h, 7d).
    #[arg(long, value_parser = parse_age)]
    since: Option<std::time::Duration>,
    /// Only entries whose actor contains this (case-insensitively).
    #[arg(long)]
    actor: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 50)]
    limit: u64,
}

pub async fn run(g: &Global, args: &AuditArgs) -> Result<(), String> {
    let dir = open_directory(g)?;
    let since = args.since.map(|d| dir.log_since(d));
    let entries = dir
        .audit(
            &args.org,
            AuditQuery {
                since,
                actor: args.actor.clone(),
                limit: args.limit,
            },
        )
        .await
        .map_err(err)?;
    if g.json {
        print_json(serde_json::json!(entries));
    } else if entries.is_empty() {
        eprintln!(
            "no changes recorded{}",
            if args.since.is_some() {
                " in that time"
            } else {
                ""
            }
        );
    } else {
        for e in &entries {
            println!(
                "{}  {:<30} {:<20} {:<28} {}",
                e.at, e.actor, e.action, e.target, e.detail
            );
        }
    }
    Ok(())
}
