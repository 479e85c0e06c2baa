//! `roster session ...`: an org's browser sessions: list them, end one or
//! all.

use clap::Subcommand;
use serde_json::json;

use super::output::{count, print_json};
use super::{Global, open_directory};

#[derive(Subcommand)]
pub enum SessionCommand {
    /// List an org's live browser sessions (never their secrets).
    List {
        /// Organization id or name.
        org: String,
    },
    /// End one session by its id, or every session of the org with --all.
    End {
        /// Organization id or name.
        org: String,
        /// The session's id, from `roster session list`.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// End every session of the org (everyone signs in again).
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(g: &Global, cmd: &SessionCommand) -> Result<(), String> {
    let dir = open_directory(g)?;
    let as_json = g.json;
    match cmd {
        SessionCommand::List { org } => {
            let (o, sessions) = dir.list_sessions(org).await.map_err(|e| e.to_string())?;
            if as_json {
                print_json(json!(sessions.iter().map(|s| json!({
                    "id": s.id, "subject": s.subject, "user_id": s.user_id, "method": s.method,
                    "created": s.created, "expires": s.expires,
                })).collect::<Vec<_>>()));
            } else if sessions.is_empty() {
                eprintln!("No live sessions in \"{}\".", o.name);
            } else {
                println!(
                    "{:<36}  {:<32}  {:<10}  {:<27}  EXPIRES",
                    "ID", "WHO", "HOW", "SINCE"
                );
                for s in sessions {
                    println!(
                        "{:<36}  {:<32}  {:<10}  {:<27}  {}",
                        s.id, s.subject, s.method, s.created, s.expires
                    );
                }
            }
            Ok(())
        }
        SessionCommand::End { org, id, all } => {
            let n = dir
                .end_sessions(
                    &super::cli_actor(),
                    org,
                    if *all { None } else { id.clone() },
                )
                .await
                .map_err(|e| e.to_string())?;
            if as_json {
                print_json(json!({"ended": n}));
            } else {
                println!("Ended {}.", count(n, "session"));
            }
            Ok(())
        }
    }
}
