//! Rows to domain values, the column lists they read, and helpers for
//! statements with many parameters.

use rusqlite::Row;

use crate::directory::model::{Org, OrgSettings, ResourceType, StoredResource, TokenRecord};
use crate::directory::store::{StoreError, StoreResult};

pub(super) fn org_from_row(r: &Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        id: r.get(0)?,
        name: r.get(1)?,
        created: r.get(2)?,
        settings: OrgSettings {
            scim_api: r.get(3)?,
            aup: r.get(4)?,
            sup: r.get(5)?,
            legacy_groups: r.get(6)?,
            jit: r.get(7)?,
            ids: crate::directory::posix_rules::IdRanges {
                uid: (r.get(9)?, r.get(10)?),
                gid: (r.get(11)?, r.get(12)?),
                allow_reserved: r.get(13)?,
            },
        },
        reserved_names: r.get::<_, String>(8)?.lines().map(str::to_string).collect(),
    })
}

pub(super) const ORG_COLUMNS: &str = "id, name, created, scim_api, aup, sup, legacy_groups, jit, reserved_names, uid_min, uid_max, gid_min, gid_max, allow_reserved_ids";
pub(super) const TOKEN_COLUMNS: &str =
    "id, org_id, name, hash, created, last_used, revoked, cluster_id";

pub(super) fn token_from_row(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: r.get(0)?,
        org_id: r.get(1)?,
        name: r.get(2)?,
        hash: r.get(3)?,
        created: r.get(4)?,
        last_used: r.get(5)?,
        revoked: r.get(6)?,
        cluster_id: r.get(7)?,
    })
}

pub(super) fn resource_from_row(
    rtype: ResourceType,
    r: &Row<'_>,
) -> rusqlite::Result<(StoredResource, String)> {
    let doc: String = r.get(5)?;
    Ok((
        StoredResource {
            position: r.get(0)?,
            rtype,
            id: r.get(1)?,
            name_key: r.get(2)?,
            display_key: r.get(3)?,
            external_id: r.get(4)?,
            doc: Default::default(),
            created: r.get(6)?,
            modified: r.get(7)?,
            version: r.get(8)?,
        },
        doc,
    ))
}

pub(super) fn with_doc((mut s, doc): (StoredResource, String)) -> StoreResult<StoredResource> {
    s.doc = serde_json::from_str(&doc)
        .map_err(|e| StoreError::Corrupt(format!("document of {}: {e}", s.id)))?;
    Ok(s)
}

/// `?, ?, ?` for `n` parameters.
pub(super) fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

/// SQLite's default limit on bound parameters is 32766; batch well below.
pub(super) const IN_CHUNK: usize = 500;
