//! `roster user ...`: users by hand, whether or not Automated User
//! Provisioning is on (docs/scim.md, "Endpoints"); the IdP's next push
//! overwrites what it manages.

use clap::Subcommand;
use serde_json::json;

use super::output::print_json;
use super::resources::{Admin, create_and_print, list_all};
use super::{Global, err};
use roster::directory::model::ResourceView;
use roster::scim::schema::ResourceType;
use roster::server::scim_render;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; prints its id.
    Create {
        /// Organization id or name.
        org: String,
        /// The userName, unique in the org (case-insensitively), such as an email address.
        #[arg(long)]
        user_name: String,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        /// Work email.
        #[arg(long)]
        email: Option<String>,
    },
    /// List users (all, or those a search finds).
    List {
        /// Organization id or name.
        org: String,
        /// Only users whose userName, display name or an email contains this (case-insensitively).
        #[arg(long)]
        search: Option<String>,
    },
    /// Show a user, with its POSIX identity when SUP is on.
    Show {
        /// Organization id or name.
        org: String,
        /// User id or userName.
        user: String,
    },
    /// Deactivate a user: it stays, but leaves every cluster's maps and keys.
    Deactivate {
        /// Organization id or name.
        org: String,
        /// User id or userName.
        user: String,
    },
    /// Delete a user; its UID and username are never given to anyone else.
    Delete {
        /// Organization id or name.
        org: String,
        /// User id or userName.
        user: String,
    },
    /// Replace a user's SSH keys with those in FILE, one per line.
    SetSshKeys {
        /// Organization id or name.
        org: String,
        /// User id or userName.
        user: String,
        /// A file with one public key per line (`-` for standard input).
        #[arg(long)]
        file: std::path::PathBuf,
    },
}

pub async fn run(g: &Global, cmd: &UserCommand) -> Result<(), String> {
    let org_ref = match cmd {
        UserCommand::Create { org, .. }
        | UserCommand::List { org, .. }
        | UserCommand::Show { org, .. }
        | UserCommand::Deactivate { org, .. }
        | UserCommand::Delete { org, .. }
        | UserCommand::SetSshKeys { org, .. } => org,
    };
    let Admin { dir, p, base } = Admin::of(g, org_ref).await?;
    let print_user = |v: &ResourceView| {
        let body = scim_render::resource(v, &base);
        if g.json {
            print_json(body);
        } else {
            let s = |k: &str| {
                body.get(k)
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            println!("id:        {}", s("id"));
            println!("userName:  {}", s("userName"));
            println!(
                "active:    {}",
                body.get("active")
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "true".into())
            );
            if let Some(x) = body.get(roster::scim::schema::COREWEAVE_USER_SCHEMA) {
                for (k, v) in x.as_object().into_iter().flatten() {
                    println!("{k}: {v}");
                }
            }
        }
    };
    match cmd {
        UserCommand::Create {
            user_name,
            given_name,
            family_name,
            email,
            ..
        } => {
            let body = roster::scim::resource::user_request(
                user_name,
                given_name.as_deref(),
                family_name.as_deref(),
                email.as_deref(),
            );
            create_and_print(g, &dir, &p, ResourceType::User, body, &base).await?;
        }
        UserCommand::List { search, .. } => {
            let page = list_all(&dir, &p, ResourceType::User, search).await?;
            if g.json {
                print_json(json!(
                    page.iter()
                        .map(|v| scim_render::resource(v, &base))
                        .collect::<Vec<_>>()
                ));
            } else {
                println!(
                    "{:<36}  {:<32}  {:<8} {:<16} UID",
                    "ID", "USERNAME", "ACTIVE", "POSIX"
                );
                for v in &page {
                    let d = &v.stored.doc;
                    let active = d.get("active").and_then(|a| a.as_bool()).unwrap_or(true);
                    let (name, uid) = v
                        .posix
                        .as_ref()
                        .map(|a| {
                            (
                                a.name.clone(),
                                a.uid.map(|u| u.to_string()).unwrap_or_default(),
                            )
                        })
                        .unwrap_or_default();
                    println!(
                        "{:<36}  {:<32}  {:<8} {:<16} {}",
                        v.stored.id,
                        d.get("userName").and_then(|u| u.as_str()).unwrap_or(""),
                        active,
                        name,
                        uid
                    );
                }
            }
        }
        UserCommand::Show { user, .. } => {
            print_user(&dir.find(&p, ResourceType::User, user).await.map_err(err)?)
        }
        UserCommand::Deactivate { user, .. } => {
            let v = dir.find(&p, ResourceType::User, user).await.map_err(err)?;
            let v = dir.deactivate_user(&p, &v.stored.id).await.map_err(err)?;
            print_user(&v);
        }
        UserCommand::Delete { user, .. } => {
            let v = dir.find(&p, ResourceType::User, user).await.map_err(err)?;
            dir.delete_resource(&p, ResourceType::User, &v.stored.id, None)
                .await
                .map_err(err)?;
            if g.json {
                print_json(json!({"id": v.stored.id, "deleted": true}));
            } else {
                println!("deleted {}", v.stored.id);
            }
        }
        UserCommand::SetSshKeys { user, file, .. } => {
            let text = if file.as_os_str() == "-" {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
                    .map_err(|e| e.to_string())?;
                t
            } else {
                std::fs::read_to_string(file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            };
            let keys = roster::directory::ssh_keys::key_lines(&text);
            let v = dir.find(&p, ResourceType::User, user).await.map_err(err)?;
            let v = dir
                .set_ssh_keys(&p, &v.stored.id, keys)
                .await
                .map_err(err)?;
            print_user(&v);
        }
    }
    Ok(())
}
