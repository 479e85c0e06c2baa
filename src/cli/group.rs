//! `roster group ...`: groups by hand (the IdP's next push overwrites what
//! it manages).

use clap::Subcommand;
use serde_json::json;

use super::output::print_json;
use super::resources::{Admin, create_and_print, list_all};
use super::{Global, Toggle, err};
use roster::scim::schema::{GROUP_SCHEMA, ResourceType};
use roster::server::scim_render;

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Create a group.
    Create {
        /// Organization id or name.
        org: String,
        /// The group's display name, unique in the org (case-insensitively).
        name: String,
    },
    /// List groups with their member counts (all, or those a search finds).
    List {
        /// Organization id or name.
        org: String,
        /// Only groups whose display name contains this (case-insensitively).
        #[arg(long)]
        search: Option<String>,
    },
    /// Show a group and its members.
    Show {
        /// Organization id or name.
        org: String,
        /// Group id or display name.
        group: String,
    },
    /// Delete a group (its members stay; they only leave the group).
    Delete {
        /// Organization id or name.
        org: String,
        /// Group id or display name.
        group: String,
    },
    /// Add a user to a group.
    AddMember {
        /// Organization id or name.
        org: String,
        /// Group id or display name.
        group: String,
        /// User id or userName.
        user: String,
    },
    /// Set the roles a group grants its members in the console ("IAM Admin":
    /// everything for the org; "IAM Viewer": every page, read-only). The
    /// legacy groups' other roles are accepted and grant nothing here.
    #[command(
        after_help = "Example:\n  roster group set-roles acme cluster-admins --roles \"IAM Admin\" --lock-members on\n  roster group set-roles acme cluster-admins --roles \"\"   # none"
    )]
    SetRoles {
        /// Organization id or name.
        org: String,
        /// Group id or display name.
        group: String,
        /// Roles, separated by commas; an empty string removes them all.
        /// Without it the roles stay as they are.
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        roles: Option<Vec<String>>,
        /// on: the IdP's SCIM writes may no longer change the group's
        /// members (refused with 400 mutability); administrators still can,
        /// here or in the console. For groups that grant IAM Admin, so that
        /// whoever controls the IdP cannot make themselves administrator.
        #[arg(long, value_name = "on|off")]
        lock_members: Option<Toggle>,
    },
    /// Remove a user from a group.
    RemoveMember {
        /// Organization id or name.
        org: String,
        /// Group id or display name.
        group: String,
        /// User id or userName.
        user: String,
    },
}

pub async fn run(g: &Global, cmd: &GroupCommand) -> Result<(), String> {
    let org_ref = match cmd {
        GroupCommand::Create { org, .. }
        | GroupCommand::List { org, .. }
        | GroupCommand::Show { org, .. }
        | GroupCommand::Delete { org, .. }
        | GroupCommand::AddMember { org, .. }
        | GroupCommand::RemoveMember { org, .. }
        | GroupCommand::SetRoles { org, .. } => org,
    };
    let Admin { dir, p, base } = Admin::of(g, org_ref).await?;
    match cmd {
        GroupCommand::Create { name, .. } => {
            let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name});
            create_and_print(g, &dir, &p, ResourceType::Group, body, &base).await?;
        }
        GroupCommand::List { search, .. } => {
            let page = list_all(&dir, &p, ResourceType::Group, search).await?;
            if g.json {
                print_json(json!(
                    page.iter()
                        .map(|v| scim_render::resource(v, &base))
                        .collect::<Vec<_>>()
                ));
            } else {
                println!("{:<36}  {:<30}  MEMBERS", "ID", "NAME");
                for v in &page {
                    let name = v
                        .stored
                        .doc
                        .get("displayName")
                        .and_then(|n| n.as_str())
                        .unwrap_or("");
                    println!(
                        "{:<36}  {:<30}  {}",
                        v.stored.id,
                        name,
                        v.members.as_ref().map(Vec::len).unwrap_or(0)
                    );
                }
            }
        }
        GroupCommand::Show { group, .. } => {
            let v = dir
                .find(&p, ResourceType::Group, group)
                .await
                .map_err(err)?;
            if g.json {
                print_json(scim_render::resource(&v, &base));
            } else {
                println!("id:       {}", v.stored.id);
                println!(
                    "name:     {}",
                    v.stored
                        .doc
                        .get("displayName")
                        .and_then(|n| n.as_str())
                        .unwrap_or("")
                );
                println!("version:  {}", v.stored.version);
                let roles = dir.group_roles(&p, &v.stored.id).await.map_err(err)?;
                println!("roles:    {}", roles.join(", "));
                if dir
                    .group_members_locked(&p, &v.stored.id)
                    .await
                    .map_err(err)?
                {
                    println!(
                        "members:  locked against the IdP (roster group set-roles --lock-members off)"
                    );
                }
                println!("members:");
                for m in v.members.iter().flatten() {
                    println!("  {}  {}", m.user_id, m.display);
                }
            }
        }
        GroupCommand::SetRoles {
            group,
            roles,
            lock_members,
            ..
        } => {
            if roles.is_none() && lock_members.is_none() {
                return Err("give --roles, --lock-members on|off, or both".into());
            }
            let set = match roles {
                Some(roles) => dir.set_group_roles(&p, group, roles).await,
                None => dir.group_roles(&p, group).await,
            }
            .map_err(err)?;
            if let Some(lock) = lock_members {
                dir.lock_group_members(&p, group, (*lock).into())
                    .await
                    .map_err(err)?;
            }
            let locked = dir.group_members_locked(&p, group).await.map_err(err)?;
            if g.json {
                print_json(json!({"group": group, "roles": set, "members_locked": locked}));
            } else {
                if set.is_empty() {
                    println!("{group} grants no roles");
                } else {
                    println!("{group} grants: {}", set.join(", "));
                }
                if locked {
                    println!("its members are locked: only an administrator changes them");
                }
            }
        }
        GroupCommand::Delete { group, .. } => {
            let v = dir
                .find(&p, ResourceType::Group, group)
                .await
                .map_err(err)?;
            dir.delete_resource(&p, ResourceType::Group, &v.stored.id, None)
                .await
                .map_err(err)?;
            if g.json {
                print_json(json!({"id": v.stored.id, "deleted": true}));
            } else {
                println!("deleted {}", v.stored.id);
            }
        }
        GroupCommand::AddMember { group, user, .. }
        | GroupCommand::RemoveMember { group, user, .. } => {
            let v = dir
                .find(&p, ResourceType::Group, group)
                .await
                .map_err(err)?;
            let u = dir.find(&p, ResourceType::User, user).await.map_err(err)?;
            let v = if matches!(cmd, GroupCommand::AddMember { .. }) {
                dir.add_member(&p, &v.stored.id, &u.stored.id).await
            } else {
                dir.remove_member(&p, &v.stored.id, &u.stored.id).await
            }
            .map_err(err)?;
            if g.json {
                print_json(scim_render::resource(&v, &base));
            } else {
                println!(
                    "{} now has {} members",
                    v.stored
                        .doc
                        .get("displayName")
                        .and_then(|n| n.as_str())
                        .unwrap_or(""),
                    v.members.as_ref().map(Vec::len).unwrap_or(0)
                );
            }
        }
    }
    Ok(())
}
