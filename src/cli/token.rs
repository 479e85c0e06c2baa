//! `roster token ...`: the org's SCIM bearer tokens. A secret is printed
//! once, at creation, and never stored.

use clap::Subcommand;
use serde_json::json;

use super::output::print_json;
use super::{Global, err, open_directory};
use roster::directory::model::TokenRecord;

#[derive(Subcommand)]
pub enum TokenCommand {
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

fn token_json(t: &TokenRecord) -> serde_json::Value {
    json!({"id": t.id, "name": t.name, "created": t.created, "last_used": t.last_used, "revoked": t.revoked})
}

pub async fn run(g: &Global, cmd: &TokenCommand) -> Result<(), String> {
    let dir = open_directory(g)?;
    match cmd {
        TokenCommand::Create { org, name } => {
            let (t, secret) = dir
                .create_token(&super::cli_actor(), org, name)
                .await
                .map_err(err)?;
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
                eprintln!("No tokens. Create one with: roster token create {org} --name NAME");
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
            dir.revoke_token(&super::cli_actor(), org, token_id)
                .await
                .map_err(err)?;
            if g.json {
                print_json(json!({"id": token_id, "revoked": true}));
            } else {
                println!("revoked {token_id}");
            }
        }
    }
    Ok(())
}
