//! Assigning POSIX identities inside write transactions (docs/scim.md,
//! "SUNK User Provisioning"): allocated once, stable afterwards, never
//! reused, overrides checked against every identity ever assigned in the
//! org.

use serde_json::Value;

use super::model::{LedgerKind, PosixAccount, StoredResource};
use super::posix_rules::{self, IdRanges};
use super::query::fold;
use super::reserved_names::reserved_because;
use super::store::WriteTx;
use super::{DirectoryError, DirectoryResult};
use crate::scim::schema::{COREWEAVE_GROUP_SCHEMA, COREWEAVE_USER_SCHEMA, ResourceType};

fn ext_field<'a>(r: &'a StoredResource, schema: &str, name: &str) -> Option<&'a Value> {
    r.doc.get(schema).and_then(|e| e.get(name))
}

fn ext_int(r: &StoredResource, schema: &str, name: &str) -> Option<i64> {
    ext_field(r, schema, name).and_then(Value::as_i64)
}

fn ext_str<'a>(r: &'a StoredResource, schema: &str, name: &str) -> Option<&'a str> {
    ext_field(r, schema, name).and_then(Value::as_str)
}

/// Claims `value` for `owner`, or says which attribute collides.
fn claim(
    tx: &mut dyn WriteTx,
    org_id: &str,
    kind: LedgerKind,
    value: &str,
    owner: &str,
    attr: &str,
) -> DirectoryResult<()> {
    match tx.posix_owner(org_id, kind, value)? {
        Some(o) if o == owner => Ok(()),
        Some(_) => Err(DirectoryError::Conflict(format!(
            "{attr} \"{value}\" is already assigned in this organization (POSIX ids and names are never reused); choose another"
        ))),
        None => Ok(tx.claim_posix(org_id, kind, value, owner)?),
    }
}

fn invalid(e: String) -> DirectoryError {
    DirectoryError::InvalidValue(e)
}

/// A free name: `base`, else `base2`, `base3`, ... A reserved name counts
/// as taken (docs/scim.md, "SUNK User Provisioning").
fn free_name(
    tx: &mut dyn WriteTx,
    org_id: &str,
    base: &str,
    owner: &str,
    reserved: &[String],
) -> DirectoryResult<String> {
    let mut candidate = base.to_string();
    let mut n = 1;
    loop {
        let taken = reserved_because(&candidate, reserved).is_some()
            || tx
                .posix_owner(org_id, LedgerKind::Name, &candidate)?
                .is_some_and(|o| o != owner);
        if !taken {
            return Ok(candidate);
        }
        n += 1;
        candidate = posix_rules::with_suffix(base, n);
    }
}

/// The POSIX name: the override `attr` of the resource's extension, else
/// the name already assigned (renames at the IdP do not change it), else
/// one derived from `source` (userName or displayName), made unique.
fn posix_name(
    tx: &mut dyn WriteTx,
    org_id: &str,
    r: &StoredResource,
    existing: Option<&PosixAccount>,
    attr: &str,
    source: &str,
) -> DirectoryResult<String> {
    let schema = match r.rtype {
        ResourceType::User => COREWEAVE_USER_SCHEMA,
        ResourceType::Group => COREWEAVE_GROUP_SCHEMA,
    };
    let reserved = tx
        .org(org_id)?
        .map(|o| o.reserved_names)
        .unwrap_or_default();
    let name = match (ext_str(r, schema, attr), existing) {
        (Some(n), _) => {
            // Named by code point first: check_name's message would not
            // say that the name holds an invisible character.
            super::identifiers::check_visible(attr, n).map_err(invalid)?;
            posix_rules::check_name(n).map_err(invalid)?;
            // An override keeps a name the identity already holds (one
            // assigned before the org reserved it); any other reserved name
            // is refused.
            if existing.is_none_or(|e| e.name != n)
                && let Some(why) = reserved_because(n, &reserved)
            {
                return Err(invalid(format!("{attr}: {why}")));
            }
            n.to_string()
        }
        (None, Some(e)) => e.name.clone(),
        (None, None) => {
            let base =
                posix_rules::derive_name(r.doc.get(source).and_then(Value::as_str).unwrap_or("x"));
            free_name(tx, org_id, &base, &r.id, &reserved)?
        }
    };
    claim(tx, org_id, LedgerKind::Name, &name, &r.id, attr)?;
    Ok(name)
}

fn exhausted(what: &str, range: (i64, i64)) -> DirectoryError {
    DirectoryError::Conflict(format!(
        "the org's {what} range {}-{} is exhausted",
        range.0, range.1
    ))
}

/// Gives `r` its POSIX identity, or brings it in line with the overrides
/// `r` carries. Returns the account.
pub(crate) fn assign(
    tx: &mut dyn WriteTx,
    org_id: &str,
    r: &StoredResource,
) -> DirectoryResult<PosixAccount> {
    let existing = match tx
        .posix_accounts(org_id, r.rtype, &[r.id.as_str()])?
        .remove(&r.id)
    {
        Some(e) => Some(e),
        None => claim_kept(tx, org_id, r)?,
    };
    let ranges = tx.org(org_id)?.map(|o| o.settings.ids).unwrap_or_default();
    let account = match r.rtype {
        ResourceType::User => assign_user(tx, org_id, r, existing.as_ref(), &ranges)?,
        ResourceType::Group => assign_group(tx, org_id, r, existing.as_ref(), &ranges)?,
    };
    if existing.as_ref() != Some(&account) {
        tx.put_posix_account(org_id, &account)?;
    }
    Ok(account)
}

/// The identity an import kept for `r` (`posix_import`), handed over to
/// `r`: for a user, the one the import matched to one of their emails,
/// else the one held under the POSIX name `r` would be given, unless its
/// source named an email (then it waits for that person).
fn claim_kept(
    tx: &mut dyn WriteTx,
    org_id: &str,
    r: &StoredResource,
) -> DirectoryResult<Option<PosixAccount>> {
    let source = match r.rtype {
        ResourceType::User => "userName",
        ResourceType::Group => "displayName",
    };
    let Some(text) = r.doc.get(source).and_then(Value::as_str) else {
        return Ok(None);
    };
    let mut candidates = Vec::new();
    if r.rtype == ResourceType::User {
        let emails = r
            .doc
            .get("emails")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("value").and_then(Value::as_str));
        for email in std::iter::once(text).chain(emails) {
            if let Some(held) = tx.posix_owner(org_id, LedgerKind::Email, &fold(email))? {
                candidates.push(held);
            }
        }
    }
    let by_name = super::posix_import::held_id(r.rtype, &posix_rules::derive_name(text));
    if tx
        .posix_owner(org_id, LedgerKind::EmailOnly, &by_name)?
        .is_none()
    {
        candidates.push(by_name);
    }
    let reserved = tx
        .org(org_id)?
        .map(|o| o.reserved_names)
        .unwrap_or_default();
    for held in candidates {
        if let Some(mut account) = tx
            .posix_accounts(org_id, r.rtype, &[held.as_str()])?
            .remove(&held)
        {
            // Checked again as it is handed over: an identity kept before
            // imports checked names (or before the org reserved this one)
            // must not give an IdP identity a node's name.
            if let Some(why) = posix_rules::check_name(&account.name)
                .err()
                .or_else(|| reserved_because(&account.name, &reserved))
            {
                tracing::warn!(held = %held, %why, "a kept identity not handed over: its name may not be given");
                continue;
            }
            tx.transfer_posix(org_id, &account, &r.id)?;
            tx.claim_posix(org_id, LedgerKind::Kept, &r.id, &r.id)?;
            account.resource_id = r.id.clone();
            return Ok(Some(account));
        }
    }
    Ok(None)
}

/// Where allocation resumes in `range`: the org's counter when it lies in
/// the range (the range may have changed since), else the range's start.
fn resume_at(next: i64, range: (i64, i64)) -> i64 {
    if (range.0..=range.1).contains(&next) {
        next
    } else {
        range.0
    }
}

fn assign_user(
    tx: &mut dyn WriteTx,
    org_id: &str,
    r: &StoredResource,
    existing: Option<&PosixAccount>,
    ranges: &IdRanges,
) -> DirectoryResult<PosixAccount> {
    let s = COREWEAVE_USER_SCHEMA;
    let (next_uid, next_gid) = tx.next_posix_ids(org_id)?;
    let uid = match (
        ext_int(r, s, "sunkPosixUserId"),
        existing.and_then(|e| e.uid),
    ) {
        (Some(u), _) => {
            ranges.check_id("sunkPosixUserId", u).map_err(invalid)?;
            u
        }
        (None, Some(u)) => u,
        (None, None) => {
            let from = resume_at(next_uid, ranges.uid);
            let uid = ranges
                .next_free(from, ranges.uid.1, |id| {
                    let v = id.to_string();
                    // A UID is also its private group's GID: both must be free.
                    Ok::<_, DirectoryError>(
                        tx.posix_owner(org_id, LedgerKind::Uid, &v)?.is_some()
                            || tx.posix_owner(org_id, LedgerKind::Gid, &v)?.is_some(),
                    )
                })?
                .ok_or_else(|| exhausted("UID", ranges.uid))?;
            tx.set_next_posix_ids(org_id, uid + 1, next_gid)?;
            uid
        }
    };
    claim(
        tx,
        org_id,
        LedgerKind::Uid,
        &uid.to_string(),
        &r.id,
        "sunkPosixUserId",
    )?;
    let gid = match ext_int(r, s, "sunkPosixGroupId") {
        Some(g) => {
            ranges.check_id("sunkPosixGroupId", g).map_err(invalid)?;
            g
        }
        // The private group follows the UID (an override that moves the
        // UID moves it too); a GID set apart before stays.
        None => match existing {
            Some(e) if e.uid != Some(e.gid) => e.gid,
            _ => uid,
        },
    };
    claim(
        tx,
        org_id,
        LedgerKind::Gid,
        &gid.to_string(),
        &r.id,
        "sunkPosixGroupId",
    )?;
    let name = posix_name(tx, org_id, r, existing, "sunkPosixUsername", "userName")?;
    let home = ext_str(r, s, "sunkPreferredHomeDirectory").map(str::to_string);
    if let Some(h) = &home {
        posix_rules::check_path("sunkPreferredHomeDirectory", h).map_err(invalid)?;
    }
    let shell = ext_str(r, s, "sunkLoginShell").map(str::to_string);
    if let Some(sh) = &shell {
        posix_rules::check_path("sunkLoginShell", sh).map_err(invalid)?;
    }
    // A kept identity's home and shell (from the cluster's old files) stay
    // unless an override replaces them; anyone else's follow the overrides.
    let kept = match existing {
        Some(e) if tx.posix_owner(org_id, LedgerKind::Kept, &r.id)?.is_some() => Some(e),
        _ => None,
    };
    // Checked again as they are reused, with the overrides' rules: a
    // value kept before imports checked them gives way to the default.
    let kept_path = |what: &str, value: Option<&String>| {
        let value = value?;
        match posix_rules::check_path(what, value) {
            Ok(()) => Some(value.clone()),
            Err(why) => {
                tracing::warn!(user = %r.id, %why, "a kept home or shell dropped for the default");
                None
            }
        }
    };
    let home =
        home.or_else(|| kept_path("kept home directory", kept.and_then(|k| k.home.as_ref())));
    let shell =
        shell.or_else(|| kept_path("kept login shell", kept.and_then(|k| k.shell.as_ref())));
    Ok(PosixAccount {
        rtype: ResourceType::User,
        resource_id: r.id.clone(),
        uid: Some(uid),
        gid,
        name,
        home,
        shell,
    })
}

fn assign_group(
    tx: &mut dyn WriteTx,
    org_id: &str,
    r: &StoredResource,
    existing: Option<&PosixAccount>,
    ranges: &IdRanges,
) -> DirectoryResult<PosixAccount> {
    let s = COREWEAVE_GROUP_SCHEMA;
    let gid = match (ext_int(r, s, "sunkPosixGroupId"), existing) {
        (Some(g), _) => {
            ranges.check_id("sunkPosixGroupId", g).map_err(invalid)?;
            g
        }
        (None, Some(e)) => e.gid,
        (None, None) => {
            let (next_uid, next_gid) = tx.next_posix_ids(org_id)?;
            let from = resume_at(next_gid, ranges.gid);
            let gid = ranges
                .next_free(from, ranges.gid.1, |id| {
                    Ok::<_, DirectoryError>(
                        tx.posix_owner(org_id, LedgerKind::Gid, &id.to_string())?
                            .is_some(),
                    )
                })?
                .ok_or_else(|| exhausted("GID", ranges.gid))?;
            tx.set_next_posix_ids(org_id, next_uid, gid + 1)?;
            gid
        }
    };
    claim(
        tx,
        org_id,
        LedgerKind::Gid,
        &gid.to_string(),
        &r.id,
        "sunkPosixGroupId",
    )?;
    let name = posix_name(tx, org_id, r, existing, "sunkPosixGroupName", "displayName")?;
    Ok(PosixAccount {
        rtype: ResourceType::Group,
        resource_id: r.id.clone(),
        uid: None,
        gid,
        name,
        home: None,
        shell: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::directory::model::{Principal, ResourceType};
    use crate::directory::orgs::SettingsChange;
    use crate::directory::scratch::with_directory;
    use crate::directory::{Directory, DirectoryError};
    use serde_json::json;

    async fn sup_admin(d: &Directory) -> Principal {
        d.create_org("acme", false).await.unwrap();
        let sup = SettingsChange {
            sup: Some(true),
            ..Default::default()
        };
        Principal::admin(
            d.set_org(&crate::directory::scratch::tester(), "acme", sup)
                .await
                .unwrap(),
        )
    }

    async fn uid_of(d: &Directory, p: &Principal, user_name: &str) -> (String, i64, String) {
        let body = json!({"userName": user_name});
        let v = d
            .create_resource(p, ResourceType::User, body)
            .await
            .unwrap();
        let a = v.posix.unwrap();
        (v.stored.id, a.uid.unwrap(), a.name)
    }

    #[test]
    fn identities_are_given_once_kept_and_never_given_again() {
        with_directory(|d| async move {
            let p = sup_admin(&d).await;
            let (ada, ada_uid, ada_name) = uid_of(&d, &p, "ada@example.com").await;
            let (_, lee_uid, _) = uid_of(&d, &p, "lee@example.com").await;
            assert_eq!(ada_uid, 100_000, "the first UID of the range");
            assert_eq!(lee_uid, 100_001);
            assert_eq!(ada_name, "ada");
            // A new userName keeps the identity.
            let renamed = json!({"userName": "ada.l@example.com"});
            let v = d
                .replace_resource(&p, ResourceType::User, &ada, renamed, None)
                .await
                .unwrap();
            let a = v.posix.unwrap();
            assert_eq!((a.uid, a.name.as_str()), (Some(ada_uid), "ada"));
            // Deleted, its UID and name are not given to the next person.
            d.delete_resource(&p, ResourceType::User, &ada, None)
                .await
                .unwrap();
            let (_, next_uid, next_name) = uid_of(&d, &p, "ada@example.com").await;
            assert_eq!(next_uid, 100_002);
            assert_eq!(next_name, "ada2");
        });
    }

    #[test]
    fn an_override_may_not_take_a_system_id_or_someone_elses() {
        with_directory(|d| async move {
            let p = sup_admin(&d).await;
            let (_, taken, _) = uid_of(&d, &p, "kim@example.com").await;
            let cw = crate::scim::schema::COREWEAVE_USER_SCHEMA;
            for (uid, below_range) in [(0, true), (999, true), (taken, false)] {
                let body = json!({"userName": format!("u{uid}@example.com"), cw: {"sunkPosixUserId": uid}});
                let e = d.create_resource(&p, ResourceType::User, body).await;
                match e {
                    Err(DirectoryError::InvalidValue(_)) if below_range => {}
                    Err(DirectoryError::Conflict(_)) if !below_range => {}
                    other => panic!("uid {uid}: {other:?}"),
                }
            }
            let root = json!({"userName": "root@example.com"});
            let v = d
                .create_resource(&p, ResourceType::User, root)
                .await
                .unwrap();
            assert_eq!(
                v.posix.unwrap().name,
                "root2",
                "a system name is never derived"
            );
        });
    }

    fn ranges(uid: (i64, i64), gid: (i64, i64), allow: Option<bool>) -> SettingsChange {
        SettingsChange {
            uid_range: Some(uid),
            gid_range: Some(gid),
            allow_reserved_ids: allow,
            ..Default::default()
        }
    }

    #[test]
    fn an_org_allocates_from_its_own_ranges_and_says_when_they_run_out() {
        with_directory(|d| async move {
            let p = sup_admin(&d).await;
            let (_, first, _) = uid_of(&d, &p, "old@example.com").await;
            assert_eq!(first, 100_000);
            let o = d
                .set_org(
                    &crate::directory::scratch::tester(),
                    "acme",
                    ranges((5_000, 5_001), (7_000, 7_999), None),
                )
                .await
                .unwrap();
            let p = Principal::admin(o);
            assert_eq!(uid_of(&d, &p, "a@example.com").await.1, 5_000);
            assert_eq!(uid_of(&d, &p, "b@example.com").await.1, 5_001);
            let e = d
                .create_resource(&p, ResourceType::User, json!({"userName": "c@example.com"}))
                .await;
            match e {
                Err(DirectoryError::Conflict(m)) => assert!(m.contains("5000-5001"), "{m}"),
                other => panic!("{other:?}"),
            }
            let g = d
                .create_resource(&p, ResourceType::Group, json!({"displayName": "gpu"}))
                .await
                .unwrap();
            assert_eq!(g.posix.unwrap().gid, 7_000);
            // The identity given before the change keeps its UID.
            let old = d
                .find(&p, ResourceType::User, "old@example.com")
                .await
                .unwrap();
            assert_eq!(old.posix.unwrap().uid, Some(100_000));
        });
    }

    #[test]
    fn ranges_avoid_system_ids_and_reserved_blocks_unless_allowed() {
        with_directory(|d| async move {
            sup_admin(&d).await;
            let refused = |uid, gid, allow| {
                let d = d.clone();
                async move {
                    match d
                        .set_org(
                            &crate::directory::scratch::tester(),
                            "acme",
                            ranges(uid, gid, allow),
                        )
                        .await
                    {
                        Err(DirectoryError::InvalidValue(m)) => m,
                        other => panic!("{uid:?}: {other:?}"),
                    }
                }
            };
            assert!(
                refused((500, 2_000), (7_000, 7_999), None)
                    .await
                    .contains("never assigned")
            );
            assert!(
                refused((9, 1), (7_000, 7_999), None)
                    .await
                    .contains("empty")
            );
            let m = refused((600_000, 700_000), (7_000, 7_999), None).await;
            assert!(m.contains("--allow-reserved-ids"), "{m}");
            // 65534 (nobody) stays refused even when the blocks are allowed.
            let m = refused((65_000, 66_000), (7_000, 7_999), Some(true)).await;
            assert!(m.contains("65534") && m.contains("never assigned"), "{m}");
            // AD-mapped ids, allowed deliberately.
            let o = d
                .set_org(
                    &crate::directory::scratch::tester(),
                    "acme",
                    ranges((600_000, 700_000), (800_000, 900_000), Some(true)),
                )
                .await
                .unwrap();
            assert!(o.settings.ids.allow_reserved);
            let p = Principal::admin(o);
            assert_eq!(uid_of(&d, &p, "ad@example.com").await.1, 600_000);
            // Turning the allowance off with such ranges is refused.
            let off = SettingsChange {
                allow_reserved_ids: Some(false),
                ..Default::default()
            };
            assert!(matches!(
                d.set_org(&crate::directory::scratch::tester(), "acme", off)
                    .await,
                Err(DirectoryError::InvalidValue(_))
            ));
        });
    }

    #[test]
    fn a_uid_override_moves_the_private_group_with_it() {
        with_directory(|d| async move {
            let p = sup_admin(&d).await;
            let (id, uid, _) = uid_of(&d, &p, "mo@example.com").await;
            let cw = crate::scim::schema::COREWEAVE_USER_SCHEMA;
            let moved = json!({"userName": "mo@example.com", cw: {"sunkPosixUserId": 150_000}});
            let v = d
                .replace_resource(&p, ResourceType::User, &id, moved, None)
                .await
                .unwrap();
            let a = v.posix.unwrap();
            assert_eq!((a.uid, a.gid), (Some(150_000), 150_000), "was {uid}");
        });
    }
}
