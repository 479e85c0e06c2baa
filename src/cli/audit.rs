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
  roster audit acme --resource token          # every token created or revoked
  roster audit acme --resource ada@example.com

Each entry: when, who (\"token Okta\", \"console: ada@example.com\", \"roster CLI (alice)\"),
from where (the client's address; the CLI's host), what (user.create, user.patch,
user.ssh_keys, group.member.add, group.roles, org.settings, token.create, token.revoke,
cluster.create, cluster.groups, cluster.token.create, saml.set, saml.disable,
session.end, login_link.create, import), which resource, and a summary; never a
secret. The newest 100,000 per org are kept.")]
pub struct AuditArgs {
    /// Organization id or name.
    org: String,
    /// Only entries within this long (such as 30m, 2h, 7d).
    #[arg(long, value_parser = parse_age)]
    since: Option<std::time::Duration>,
    /// Only entries whose actor contains this (case-insensitively).
    #[arg(long)]
    actor: Option<String>,
    /// Only entries about this kind of resource (user, group, org, token,
    /// cluster, saml, session, import) or a resource whose name contains this.
    #[arg(long)]
    resource: Option<String>,
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
                resource: args.resource.clone(),
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
            let origin = if e.origin.is_empty() { "-" } else { &e.origin };
            println!(
                "{}  {:<30} {:<16} {:<20} {:<28} {}",
                e.at, e.actor, origin, e.action, e.target, e.detail
            );
        }
    }
    Ok(())
}
