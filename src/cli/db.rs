//! `roster db ...`: the database itself: where its schema stands, and
//! migrating it without serving (replicas migrate on start too, once).

use clap::Subcommand;
use serde_json::json;

use super::output::print_json;
use super::{Global, database_url, open_directory};
use roster::store::{DatabaseUrl, copy::copy, redact_url, schema_status};

#[derive(Subcommand)]
pub enum DbCommand {
    /// Show the database (password hidden), its schema version and the one
    /// this roster needs.
    Status,
    /// Bring the schema up to date, then exit. `serve` does the same on
    /// start; replicas starting together migrate once.
    Migrate,
    /// Copy every row (orgs, tokens, users, groups, memberships, the POSIX
    /// ledger, change logs, sessions, SAML settings, the provisioning log)
    /// into an empty database, and check each table's row count. SQLite to
    /// PostgreSQL moves an installation to replicas; the reverse makes a
    /// backup file. Stop `roster serve` first: writes during the copy are
    /// not carried over.
    #[command(after_help = "\
Examples:
  roster db copy --from sqlite:///var/lib/roster/roster.db --to \"$PG_URL\"
  roster db copy --from \"$PG_URL\" --to sqlite:///backup/roster-$(date +%F).db")]
    Copy {
        /// The database to read.
        #[arg(long)]
        from: String,
        /// The empty database to write (created and migrated if needed).
        #[arg(long)]
        to: String,
    },
}

fn kind(url: &str) -> &'static str {
    match DatabaseUrl::parse(url) {
        Ok(DatabaseUrl::Postgres(_)) => "postgres",
        _ => "sqlite",
    }
}

pub async fn run(g: &Global, cmd: &DbCommand) -> Result<(), String> {
    if let DbCommand::Copy { from, to } = cmd {
        let (shown_from, shown_to) = (redact_url(from), redact_url(to));
        eprintln!("copying {shown_from} to {shown_to}...");
        let report = copy(from, to).map_err(|e| e.to_string())?;
        if g.json {
            print_json(json!({"from": shown_from, "to": shown_to, "tables": report.tables}));
        } else {
            for (table, n) in &report.tables {
                println!("{table:<16} {n:>9} rows");
            }
            eprintln!("Copied and checked. Point roster at {shown_to} with --database.");
        }
        return Ok(());
    }
    let url = database_url(g)?;
    let shown = redact_url(&url);
    match cmd {
        DbCommand::Status => {
            let s = schema_status(&url).map_err(|e| format!("{e} (database {shown})"))?;
            if g.json {
                print_json(json!({
                    "database": shown, "kind": kind(&url),
                    "schema_version": s.current, "wanted": s.wanted,
                    "up_to_date": s.current == s.wanted,
                }));
            } else {
                println!("database:        {shown} ({})", kind(&url));
                println!(
                    "schema version:  {} (this roster needs {})",
                    s.current, s.wanted
                );
                if s.current < s.wanted {
                    eprintln!("Not up to date: run `roster db migrate` (or start `roster serve`).");
                } else if s.current > s.wanted {
                    eprintln!("The database is newer than this roster: upgrade roster.");
                }
            }
        }
        DbCommand::Copy { .. } => {}
        DbCommand::Migrate => {
            let before = schema_status(&url).map_err(|e| format!("{e} (database {shown})"))?;
            drop(open_directory(g)?);
            let after = schema_status(&url).map_err(|e| format!("{e} (database {shown})"))?;
            if g.json {
                print_json(json!({"database": shown, "from": before.current, "to": after.current}));
            } else if before.current == after.current {
                println!("{shown}: schema version {} is up to date", after.current);
            } else {
                println!(
                    "{shown}: migrated from schema version {} to {}",
                    before.current, after.current
                );
            }
        }
    }
    Ok(())
}
