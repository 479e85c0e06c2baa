//! Typed edits of users and groups: deactivating a user, setting a user's
//! SSH keys, adding and removing a group's members. What the command line,
//! the admin API and the console do, as domain operations: no caller
//! builds SCIM PATCH JSON to have it parsed back. Each edit obeys the same
//! rules as a SCIM write (who may write, key checks, flat groups, versions,
//! the change log), as it goes through the same store step.

use serde_json::Value;

use super::model::Principal;
use super::model::ResourceView;
use super::resources::{load, replace_stored, require_writes, require_writes_to_self};
use super::{Directory, DirectoryError, DirectoryResult};
use crate::scim::resource::check_value;
use crate::scim::schema::{COREWEAVE_USER, COREWEAVE_USER_SCHEMA, ResourceType};

impl Directory {
    /// Deactivates a user (`active: false`), the deprovisioning signal:
    /// the user leaves every cluster's maps and cannot sign in.
    pub async fn deactivate_user(
        &self,
        p: &Principal,
        user_id: &str,
    ) -> DirectoryResult<ResourceView> {
        let now = self.now();
        require_writes(p)?;
        let (org_id, id) = (p.org.id.clone(), user_id.to_string());
        let who = p.clone();
        self.write(move |tx| {
            let current = load(tx, &org_id, ResourceType::User, &id)?;
            let mut doc = current.doc.clone();
            doc.insert("active".into(), Value::Bool(false));
            let was = current.version;
            let v = replace_stored(tx, &org_id, &now, current, doc, None, false)?;
            if v.stored.version != was {
                let name = super::audit::resource_name(&v.stored);
                super::audit::record(
                    tx,
                    &who,
                    &now,
                    "user.deactivate",
                    &name,
                    "active: false".into(),
                )?;
            }
            Ok(v)
        })
        .await
    }

    /// Replaces a user's SSH keys (one key per entry; none removes them
    /// all). With SUP on each key is checked and kept in canonical form.
    pub async fn set_ssh_keys(
        &self,
        p: &Principal,
        user_id: &str,
        keys: Vec<String>,
    ) -> DirectoryResult<ResourceView> {
        let now = self.now();
        require_writes_to_self(p, user_id)?;
        let attr = COREWEAVE_USER.attribute("sunkSshKeys").ok_or_else(|| {
            DirectoryError::InvalidValue("this build has no sunkSshKeys attribute".into())
        })?;
        let checked = check_value(
            attr,
            &Value::Array(keys.into_iter().map(Value::String).collect()),
            "sunkSshKeys",
        )?;
        let (org_id, id) = (p.org.id.clone(), user_id.to_string());
        let who = p.clone();
        self.write(move |tx| {
            let current = load(tx, &org_id, ResourceType::User, &id)?;
            let mut doc = current.doc.clone();
            let ext = doc
                .entry(COREWEAVE_USER_SCHEMA.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(ext) = ext {
                match checked.clone() {
                    Some(keys) => {
                        ext.insert("sunkSshKeys".into(), keys);
                    }
                    None => {
                        ext.remove("sunkSshKeys");
                    }
                }
            }
            if doc
                .get(COREWEAVE_USER_SCHEMA)
                .and_then(Value::as_object)
                .is_some_and(|e| e.is_empty())
            {
                doc.remove(COREWEAVE_USER_SCHEMA);
            }
            let was = current.version;
            let v = replace_stored(tx, &org_id, &now, current, doc, None, false)?;
            if v.stored.version != was {
                let name = super::audit::resource_name(&v.stored);
                let n = super::ssh_keys::stored_keys(&v.stored.doc).len();
                super::audit::record(
                    tx,
                    &who,
                    &now,
                    "user.ssh_keys",
                    &name,
                    format!("{n} key(s) set"),
                )?;
            }
            Ok(v)
        })
        .await
    }

    /// Replaces a user's SSH keys with those of a pasted text, one per line
    /// (blank lines and `#` comments skipped). Every bad line is named at
    /// once, and then nothing is saved.
    pub async fn set_ssh_keys_text(
        &self,
        p: &Principal,
        user_id: &str,
        text: &str,
    ) -> DirectoryResult<ResourceView> {
        let errors = super::ssh_keys::line_errors(text);
        if !errors.is_empty() {
            return Err(DirectoryError::InvalidValue(format!(
                "no key was saved; fix {}: {}",
                if errors.len() == 1 {
                    "this line"
                } else {
                    "these lines"
                },
                errors.join("; ")
            )));
        }
        self.set_ssh_keys(p, user_id, super::ssh_keys::key_lines(text))
            .await
    }

    /// Adds a user to a group (flat groups: the member must be a user of
    /// the org). Adding a member twice changes nothing.
    pub async fn add_member(
        &self,
        p: &Principal,
        group_id: &str,
        user_id: &str,
    ) -> DirectoryResult<ResourceView> {
        self.change_members(p, group_id, user_id, true).await
    }

    /// Removes a user from a group; removing a non-member changes nothing.
    pub async fn remove_member(
        &self,
        p: &Principal,
        group_id: &str,
        user_id: &str,
    ) -> DirectoryResult<ResourceView> {
        self.change_members(p, group_id, user_id, false).await
    }

    async fn change_members(
        &self,
        p: &Principal,
        group_id: &str,
        user_id: &str,
        add: bool,
    ) -> DirectoryResult<ResourceView> {
        let now = self.now();
        require_writes(p)?;
        let (org_id, gid, uid) = (p.org.id.clone(), group_id.to_string(), user_id.to_string());
        let who = p.clone();
        self.write(move |tx| {
            let current = load(tx, &org_id, ResourceType::Group, &gid)?;
            let mut members: Vec<String> = tx
                .members(&org_id, &[current.id.as_str()])?
                .remove(&current.id)
                .unwrap_or_default()
                .into_iter()
                .map(|m| m.user_id)
                .collect();
            let present = members.contains(&uid);
            match (add, present) {
                (true, false) => members.push(uid.clone()),
                (false, true) => members.retain(|m| *m != uid),
                _ => {}
            }
            let doc = current.doc.clone();
            let was = current.version;
            let v = replace_stored(tx, &org_id, &now, current, doc, Some(members), false)?;
            if v.stored.version != was {
                let name = super::audit::resource_name(&v.stored);
                let user = tx
                    .resource(&org_id, ResourceType::User, &uid)?
                    .map(|u| super::audit::resource_name(&u))
                    .unwrap_or_else(|| uid.clone());
                let (action, detail) = if add {
                    ("group.member.add", format!("added {user}"))
                } else {
                    ("group.member.remove", format!("removed {user}"))
                };
                super::audit::record(tx, &who, &now, action, &name, detail)?;
            }
            Ok(v)
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::directory::orgs::SettingsChange;
    use serde_json::json;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILenAM0cpltQu8JJx1at/k7/jQ1anEQtqdbwlpgG6zjr k1@example";

    #[test]
    fn typed_edits_follow_the_write_rules() {
        crate::directory::scratch::with_directory(|d| async move {
            d.create_org("e", false).await.unwrap();
            let sup = SettingsChange {
                sup: Some(true),
                ..Default::default()
            };
            let p = Principal::admin(
                d.set_org(&crate::directory::scratch::tester(), "e", sup)
                    .await
                    .unwrap(),
            );
            let user = |name: &str| json!({"userName": name});
            let ada = d
                .create_resource(&p, ResourceType::User, user("ada@x"))
                .await
                .unwrap();
            let group = json!({"displayName": "gpu"});
            let g = d
                .create_resource(&p, ResourceType::Group, group)
                .await
                .unwrap();
            let (gid, uid) = (g.stored.id.as_str(), ada.stored.id.as_str());

            let once = d.add_member(&p, gid, uid).await.unwrap();
            let twice = d.add_member(&p, gid, uid).await.unwrap();
            assert_eq!(once.members.as_ref().map(Vec::len), Some(1));
            assert_eq!(
                twice.stored.version, once.stored.version,
                "a repeat changes nothing"
            );
            // Flat groups: a group is no member.
            let nested = d.add_member(&p, gid, gid).await;
            assert!(matches!(nested, Err(DirectoryError::InvalidValue(_))));
            let removed = d.remove_member(&p, gid, uid).await.unwrap();
            assert_eq!(removed.members.as_ref().map(Vec::len), Some(0));

            let with_key = d.set_ssh_keys(&p, uid, vec![KEY.into()]).await.unwrap();
            assert_eq!(
                with_key.stored.doc[COREWEAVE_USER_SCHEMA]["sunkSshKeys"],
                json!([KEY])
            );
            let bad = d.set_ssh_keys(&p, uid, vec!["ssh-rsa AAAA".into()]).await;
            assert!(matches!(bad, Err(DirectoryError::InvalidValue(_))));
            let none = d.set_ssh_keys(&p, uid, Vec::new()).await.unwrap();
            assert!(none.stored.doc.get(COREWEAVE_USER_SCHEMA).is_none());

            let off = d.deactivate_user(&p, uid).await.unwrap();
            assert_eq!(off.stored.doc["active"], json!(false));
            // A cluster's token writes nothing.
            let mut cluster = p.clone();
            cluster.cluster_id = Some("c".into());
            let refused = d.deactivate_user(&cluster, uid).await;
            assert!(matches!(refused, Err(DirectoryError::Forbidden(_))));
            assert!(matches!(
                d.add_member(&p, gid, "no-such-user").await,
                Err(DirectoryError::InvalidValue(_))
            ));
            assert!(matches!(
                d.deactivate_user(&p, "no-such-user").await,
                Err(DirectoryError::NotFound(_))
            ));
        });
    }
}
