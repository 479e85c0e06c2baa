//! `roster db ...`: the database itself: where its schema stands, and
//! migrating it without serving (replicas migrate on start too, once).

use clap::Subcommand;
use serde_json::json;

use super::output::print_json;
use super::{Global, database_url, open_directory};
use roster::store::{DatabaseUrl, redact_url, schema_status};

#[derive(Subcommand)]
pub enum DbCommand {
    /// Show the database (password hidden), its schema version and the one
    /// this roster needs.
    Status,
    /// Bring the schema up to date, then exit. `serve` does the same on
    /// start; replicas starting together migrate once.
    Migrate,
}

fn kind(url: &str) -> &'static str {
    match DatabaseUrl::parse(url) {
        Ok(DatabaseUrl::Postgres(_)) => "postgres",
        _ => "sqlite",
    }
}

pub async fn run(g: &Global, cmd: &DbCommand) -> Result<(), String> {
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
