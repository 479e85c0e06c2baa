//! `roster db ...`: the database itself: where its schema stands, and
//! migrating it without serving (replicas migrate on start too, once).

use clap::Subcommand;
use serde_json::json;

use super::output::print_json;
use super::{Global, database_url, open_directory};
use roster::store::copy::{CopyReport, backup, copy};
use roster::store::{DatabaseUrl, redact_url, schema_status};

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
    /// backup file. The source is read in one snapshot; to move an
    /// installation, stop `roster serve` first: later writes are not
    /// carried over.
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
    /// Back up the database (--database: SQLite or PostgreSQL) into a new
    /// SQLite file, online: it is read in one snapshot while roster serve
    /// goes on, and every table's row count is checked. Restore with
    /// `roster db copy --from sqlite://FILE --to EMPTY_DATABASE`, or serve
    /// the file itself (docs/operations.md).
    #[command(after_help = "\
Examples:
  roster db backup /backup/roster-$(date +%F).db
  ROSTER_DATABASE_FILE=/etc/roster/db-url roster db backup /backup/roster.db")]
    Backup {
        /// The new file (an existing one is never overwritten).
        file: std::path::PathBuf,
    },
}

fn print_report(g: &Global, report: &CopyReport, from: &str, to: &str) {
    if g.json {
        print_json(json!({"from": from, "to": to, "tables": report.tables}));
    } else {
        for (table, n) in &report.tables {
            println!("{table:<16} {n:>9} rows");
        }
    }
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
        print_report(g, &report, &shown_from, &shown_to);
        eprintln!("Copied and checked. Point roster at {shown_to} with --database.");
        return Ok(());
    }
    if let DbCommand::Backup { file } = cmd {
        let from = database_url(g)?;
        let shown_from = redact_url(&from);
        let to = format!("sqlite://{}", file.display());
        eprintln!("backing up {shown_from} to {}...", file.display());
        let report = backup(&from, file).map_err(|e| e.to_string())?;
        print_report(g, &report, &shown_from, &to);
        eprintln!(
            "Backed up and checked. Restore: roster db copy --from {to} --to EMPTY_DATABASE (docs/operations.md)."
        );
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
        DbCommand::Copy { .. } | DbCommand::Backup { .. } => {}
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
