//! Roles: what a signed-in person may do in the console (docs/console.md,
//! "Roles"): default-deny, and a user has the roles of the groups it is in.
//! Two roles mean something in Roster, "IAM Admin" (everything, for the
//! org) and "IAM Viewer" (every page, read-only); the legacy groups' other
//! roles are kept and shown, and grant nothing here.

use std::collections::BTreeSet;

use super::legacy_groups::LEGACY_GROUPS;
use super::model::{Principal, ResourceType, Session};
use super::resources::{load, require_writes};
use super::{Directory, DirectoryError, DirectoryResult};

pub use super::model::{Access, IAM_ADMIN, IAM_VIEWER};

/// Every role a group may carry: Roster's two and the legacy groups'.
pub fn known_roles() -> Vec<&'static str> {
    let mut all: BTreeSet<&'static str> = [IAM_ADMIN, IAM_VIEWER].into();
    for (_, roles) in LEGACY_GROUPS {
        all.extend(roles.iter().copied());
    }
    all.into_iter().collect()
}

/// Who is signed in, and what they may do.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    /// Acts for the org in domain operations; named after the person.
    pub principal: Principal,
    pub session: Session,
    /// The roles of the person's groups (all of them for the bootstrap
    /// administrator, who holds "IAM Admin").
    pub roles: Vec<String>,
}

impl ConsoleUser {
    /// How far the person reaches: what their principal carries into every
    /// domain operation.
    pub fn access(&self) -> Access {
        self.principal.access
    }
}

impl Directory {
    /// The person a live session belongs to, with the roles their groups
    /// carry now: a group taken away counts from the next request.
    pub async fn console_user(
        &self,
        org: super::model::Org,
        session: Session,
    ) -> DirectoryResult<ConsoleUser> {
        let roles: Vec<String> = match session.user_id.clone() {
            // The bootstrap administrator (a login link).
            None => vec![IAM_ADMIN.to_string()],
            Some(user_id) => {
                let org_id = org.id.clone();
                self.read(move |tx| {
                    let groups: Vec<String> = tx
                        .groups_of(&org_id, &[user_id.as_str()])?
                        .remove(&user_id)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|g| g.group_id)
                        .collect();
                    let ids: Vec<&str> = groups.iter().map(String::as_str).collect();
                    let roles: BTreeSet<String> = tx
                        .group_roles(&org_id, &ids)?
                        .into_values()
                        .flatten()
                        .collect();
                    Ok(roles.into_iter().collect())
                })
                .await?
            }
        };
        let principal = Principal {
            org,
            token_id: session.id.clone(),
            token_name: format!("console: {}", session.subject),
            via_scim: false,
            cluster_id: None,
            access: Access::of_roles(roles.iter().map(String::as_str)),
            user_id: session.user_id.clone(),
            origin: String::new(),
        };
        Ok(ConsoleUser {
            principal,
            session,
            roles,
        })
    }

    /// The roles a group grants.
    pub async fn group_roles(&self, p: &Principal, group: &str) -> DirectoryResult<Vec<String>> {
        let org_id = p.org.id.clone();
        let group = self.find(p, ResourceType::Group, group).await?.stored.id;
        self.read(move |tx| {
            Ok(tx
                .group_roles(&org_id, &[group.as_str()])?
                .remove(&group)
                .unwrap_or_default())
        })
        .await
    }

    /// Replaces the roles a group grants its members. Unknown names are
    /// refused (a typo would grant nothing and say nothing).
    pub async fn set_group_roles(
        &self,
        p: &Principal,
        group: &str,
        roles: &[String],
    ) -> DirectoryResult<Vec<String>> {
        require_writes(p)?;
        let known = known_roles();
        let mut chosen: BTreeSet<String> = BTreeSet::new();
        for role in roles {
            let role = role.trim();
            if role.is_empty() {
                continue;
            }
            let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(role)) else {
                return Err(DirectoryError::InvalidValue(format!(
                    "\"{role}\" is not a role; the roles are: {}",
                    known.join(", ")
                )));
            };
            chosen.insert((*k).to_string());
        }
        let chosen: Vec<String> = chosen.into_iter().collect();
        let group = self.find(p, ResourceType::Group, group).await?.stored.id;
        let org_id = p.org.id.clone();
        let kept = chosen.clone();
        let who = p.clone();
        let now = self.now();
        self.write(move |tx| {
            // The group may have gone since it was found.
            let g = load(tx, &org_id, ResourceType::Group, &group)?;
            tx.set_group_roles(&org_id, &group, &kept)?;
            let roles = if kept.is_empty() {
                "none".to_string()
            } else {
                kept.join(", ")
            };
            let name = super::audit::resource_name(&g);
            super::audit::record(
                tx,
                &who,
                &now,
                "group.roles",
                &name,
                format!("roles: {roles}"),
            )?;
            Ok(())
        })
        .await?;
        Ok(chosen)
    }

    /// Whether only an administrator may change the group's members.
    pub async fn group_members_locked(&self, p: &Principal, group: &str) -> DirectoryResult<bool> {
        let org_id = p.org.id.clone();
        let group = self.find(p, ResourceType::Group, group).await?.stored.id;
        self.read(move |tx| Ok(tx.members_locked(&org_id, &group)?))
            .await
    }

    /// Locks a group's members against the IdP's SCIM writes (or unlocks
    /// them): a group that grants IAM Admin can then be joined only by an
    /// administrator (docs/security.md). Administrators' edits still work.
    pub async fn lock_group_members(
        &self,
        p: &Principal,
        group: &str,
        locked: bool,
    ) -> DirectoryResult<()> {
        require_writes(p)?;
        let group = self.find(p, ResourceType::Group, group).await?.stored.id;
        let org_id = p.org.id.clone();
        let who = p.clone();
        let now = self.now();
        self.write(move |tx| {
            let g = load(tx, &org_id, ResourceType::Group, &group)?;
            if tx.members_locked(&org_id, &group)? == locked {
                return Ok(());
            }
            tx.set_members_locked(&org_id, &group, locked)?;
            super::audit::record(
                tx,
                &who,
                &now,
                "group.lock_members",
                &super::audit::resource_name(&g),
                format!(
                    "members {}",
                    if locked {
                        "locked against the IdP"
                    } else {
                        "unlocked"
                    }
                ),
            )
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::directory::scratch::with_directory;
    use serde_json::json;

    #[test]
    fn access_is_the_most_any_role_gives() {
        assert_eq!(Access::of_roles([]), Access::Member);
        assert_eq!(Access::of_roles(["CKS Admin"]), Access::Member);
        assert_eq!(
            Access::of_roles(["IAM Viewer", "CKS Admin"]),
            Access::Viewer
        );
        assert_eq!(Access::of_roles(["IAM Viewer", "IAM Admin"]), Access::Admin);
    }

    #[test]
    fn a_user_has_the_roles_of_their_groups_and_loses_them_with_the_group() {
        with_directory(|d| async move {
            d.create_org("acme", false).await.unwrap();
            let p = d.admin("acme").await.unwrap();
            let ada = d
                .create_resource(
                    &p,
                    ResourceType::User,
                    json!({"userName": "ada@example.com"}),
                )
                .await
                .unwrap()
                .stored
                .id;
            let admins = d
                .create_resource(
                    &p,
                    ResourceType::Group,
                    json!({"displayName": "admins", "members": [{"value": ada}]}),
                )
                .await
                .unwrap()
                .stored
                .id;
            let session = |user: &str| Session {
                id: "s".into(),
                org_id: p.org.id.clone(),
                user_id: Some(user.to_string()),
                subject: "ada@example.com".into(),
                method: "saml".into(),
                created: String::new(),
                expires: String::new(),
            };
            let who = d.console_user(p.org.clone(), session(&ada)).await.unwrap();
            assert_eq!(who.access(), Access::Member, "default-deny");
            // The domain refuses a member's write, whatever a handler did.
            let e = d
                .set_group_roles(&who.principal, "admins", &[])
                .await
                .unwrap_err();
            assert!(
                matches!(&e, DirectoryError::Forbidden(m) if m.contains("IAM Admin")),
                "{e}"
            );

            let set = d
                .set_group_roles(&p, "admins", &["iam admin".into(), "CKS Admin".into()])
                .await
                .unwrap();
            assert_eq!(set, vec!["CKS Admin", "IAM Admin"], "names as known");
            let who = d.console_user(p.org.clone(), session(&ada)).await.unwrap();
            assert_eq!(who.access(), Access::Admin);
            assert_eq!(d.group_roles(&p, &admins).await.unwrap(), set);

            let e = d.set_group_roles(&p, "admins", &["IAM Admn".into()]).await;
            assert!(matches!(e, Err(DirectoryError::InvalidValue(_))), "{e:?}");
            assert_eq!(d.group_roles(&p, "admins").await.unwrap(), set, "unchanged");

            d.remove_member(&p, &admins, &ada).await.unwrap();
            let who = d.console_user(p.org.clone(), session(&ada)).await.unwrap();
            assert_eq!(who.access(), Access::Member, "taken away at once");

            let boot = Session {
                user_id: None,
                ..session("")
            };
            let who = d.console_user(p.org.clone(), boot).await.unwrap();
            assert_eq!(who.access(), Access::Admin, "the bootstrap administrator");
        });
    }
}
