//! Rows to domain values, and the column lists they read.

use postgres::Row;

use super::backend;
use crate::directory::model::{
    Org, OrgSettings, ResourceType, Session, StoredResource, TokenRecord,
};
use crate::directory::store::{StoreError, StoreResult};

pub(super) const ORG_COLUMNS: &str = "id, name, created, scim_api, aup, sup, legacy_groups, jit, reserved_names, uid_min, uid_max, gid_min, gid_max, allow_reserved_ids";
pub(super) const TOKEN_COLUMNS: &str =
    "id, org_id, name, hash, created, last_used, revoked, cluster_id";
/// `doc` as text: the document exactly as written.
pub(super) const RESOURCE_COLUMNS: &str = "r.position, r.id, r.name_key, r.display_key, r.external_id, r.doc::text, r.created, r.modified, r.version";
pub(super) const SESSION_COLUMNS: &str = "id, org_id, user_id, subject, method, created, expires";

pub(super) fn org(r: &Row) -> StoreResult<Org> {
    let reserved: String = r.try_get(8).map_err(backend)?;
    Ok(Org {
        id: r.try_get(0).map_err(backend)?,
        name: r.try_get(1).map_err(backend)?,
        created: r.try_get(2).map_err(backend)?,
        settings: OrgSettings {
            scim_api: r.try_get(3).map_err(backend)?,
            aup: r.try_get(4).map_err(backend)?,
            sup: r.try_get(5).map_err(backend)?,
            legacy_groups: r.try_get(6).map_err(backend)?,
            jit: r.try_get(7).map_err(backend)?,
            ids: crate::directory::posix_rules::IdRanges {
                uid: (
                    r.try_get(9).map_err(backend)?,
                    r.try_get(10).map_err(backend)?,
                ),
                gid: (
                    r.try_get(11).map_err(backend)?,
                    r.try_get(12).map_err(backend)?,
                ),
                allow_reserved: r.try_get(13).map_err(backend)?,
            },
        },
        reserved_names: reserved.lines().map(str::to_string).collect(),
    })
}

pub(super) fn token(r: &Row) -> StoreResult<TokenRecord> {
    Ok(TokenRecord {
        id: r.try_get(0).map_err(backend)?,
        org_id: r.try_get(1).map_err(backend)?,
        name: r.try_get(2).map_err(backend)?,
        hash: r.try_get(3).map_err(backend)?,
        created: r.try_get(4).map_err(backend)?,
        last_used: r.try_get(5).map_err(backend)?,
        revoked: r.try_get(6).map_err(backend)?,
        cluster_id: r.try_get(7).map_err(backend)?,
    })
}

pub(super) fn resource(rtype: ResourceType, r: &Row) -> StoreResult<StoredResource> {
    let id: String = r.try_get(1).map_err(backend)?;
    let doc: String = r.try_get(5).map_err(backend)?;
    let doc = serde_json::from_str(&doc)
        .map_err(|e| StoreError::Corrupt(format!("document of {id}: {e}")))?;
    Ok(StoredResource {
        position: r.try_get(0).map_err(backend)?,
        rtype,
        id,
        name_key: r.try_get(2).map_err(backend)?,
        display_key: r.try_get(3).map_err(backend)?,
        external_id: r.try_get(4).map_err(backend)?,
        doc,
        created: r.try_get(6).map_err(backend)?,
        modified: r.try_get(7).map_err(backend)?,
        version: r.try_get(8).map_err(backend)?,
    })
}

pub(super) fn session(r: &Row) -> StoreResult<Session> {
    Ok(Session {
        id: r.try_get(0).map_err(backend)?,
        org_id: r.try_get(1).map_err(backend)?,
        user_id: r.try_get(2).map_err(backend)?,
        subject: r.try_get(3).map_err(backend)?,
        method: r.try_get(4).map_err(backend)?,
        created: r.try_get(5).map_err(backend)?,
        expires: r.try_get(6).map_err(backend)?,
    })
}

pub(super) fn table(rtype: ResourceType) -> &'static str {
    match rtype {
        ResourceType::User => "users",
        ResourceType::Group => "groups",
    }
}
