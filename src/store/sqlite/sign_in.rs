//! SQLite storage of sign-in state: SAML configurations, issued
//! AuthnRequests, used assertion ids, sessions and login links.

use rusqlite::{Connection, OptionalExtension, params};

use super::backend;
use crate::directory::model::{Certificate, IdpConfig};
use crate::directory::model::{SamlSettings, Session};
use crate::directory::store::{StoreError, StoreResult};

pub(super) fn saml_settings(conn: &Connection, org_id: &str) -> StoreResult<Option<SamlSettings>> {
    let row = conn
        .prepare_cached(
            "SELECT idp_entity_id, sso_url, certificates, require_signed_assertion, allow_idp_initiated, metadata_url, updated \
             FROM saml_settings WHERE org_id = ?1",
        )
        .and_then(|mut st| {
            st.query_row(params![org_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .optional()
        })
        .map_err(backend)?;
    let Some((
        entity_id,
        sso_url,
        certs,
        require_signed_assertion,
        allow_idp_initiated,
        metadata_url,
        updated,
    )) = row
    else {
        return Ok(None);
    };
    let certificates = certs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(Certificate::from_base64)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Corrupt(format!("SAML certificate of org {org_id}: {e}")))?;
    Ok(Some(SamlSettings {
        idp: IdpConfig {
            entity_id,
            sso_url,
            certificates,
            require_signed_assertion,
            allow_idp_initiated,
        },
        metadata_url,
        updated,
    }))
}

pub(super) fn put_saml_settings(
    conn: &Connection,
    org_id: &str,
    s: Option<&SamlSettings>,
) -> StoreResult<()> {
    let Some(s) = s else {
        conn.execute(
            "DELETE FROM saml_settings WHERE org_id = ?1",
            params![org_id],
        )
        .map_err(backend)?;
        return Ok(());
    };
    let certs: Vec<String> = s
        .idp
        .certificates
        .iter()
        .map(Certificate::to_base64)
        .collect();
    conn.execute(
        "INSERT INTO saml_settings (org_id, idp_entity_id, sso_url, certificates, require_signed_assertion, allow_idp_initiated, metadata_url, updated) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (org_id) DO UPDATE SET idp_entity_id = ?2, sso_url = ?3, certificates = ?4, \
         require_signed_assertion = ?5, allow_idp_initiated = ?6, metadata_url = ?7, updated = ?8",
        params![
            org_id,
            s.idp.entity_id,
            s.idp.sso_url,
            certs.join("\n"),
            s.idp.require_signed_assertion,
            s.idp.allow_idp_initiated,
            s.metadata_url,
            s.updated
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn remember_assertion(
    conn: &Connection,
    org_id: &str,
    id: &str,
    until: &str,
) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO saml_assertions (org_id, id, expires) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut st| st.execute(params![org_id, id, until]))
        .map_err(backend)?;
    Ok(n == 1)
}

const SESSION_COLUMNS: &str = "id, org_id, user_id, subject, method, created, expires";

fn session_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        org_id: r.get(1)?,
        user_id: r.get(2)?,
        subject: r.get(3)?,
        method: r.get(4)?,
        created: r.get(5)?,
        expires: r.get(6)?,
    })
}

pub(super) fn session(conn: &Connection, hash: &[u8]) -> StoreResult<Option<Session>> {
    conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE hash = ?1 AND ended IS NULL"
    ))
    .and_then(|mut st| st.query_row(params![hash], session_from_row).optional())
    .map_err(backend)
}

pub(super) fn sessions(conn: &Connection, org_id: &str) -> StoreResult<Vec<Session>> {
    conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE org_id = ?1 AND ended IS NULL ORDER BY created DESC"
    ))
    .and_then(|mut st| st.query_map(params![org_id], session_from_row)?.collect())
    .map_err(backend)
}

pub(super) fn end_sessions(
    conn: &Connection,
    org_id: &str,
    id: Option<&str>,
    at: &str,
) -> StoreResult<u64> {
    let n = conn
        .execute(
            "UPDATE sessions SET ended = ?3 WHERE org_id = ?1 AND ended IS NULL AND (?2 IS NULL OR id = ?2)",
            params![org_id, id, at],
        )
        .map_err(backend)?;
    Ok(n as u64)
}

pub(super) fn end_user_sessions(
    conn: &Connection,
    org_id: &str,
    user_id: &str,
    at: &str,
) -> StoreResult<u64> {
    let n = conn
        .execute(
            "UPDATE sessions SET ended = ?3 WHERE org_id = ?1 AND user_id = ?2 AND ended IS NULL",
            params![org_id, user_id, at],
        )
        .map_err(backend)?;
    Ok(n as u64)
}

pub(super) fn insert_session(conn: &Connection, hash: &[u8], s: &Session) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO sessions (hash, {SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))
    .and_then(|mut st| {
        st.execute(params![
            hash, s.id, s.org_id, s.user_id, s.subject, s.method, s.created, s.expires
        ])
    })
    .map_err(backend)?;
    Ok(())
}

pub(super) fn end_session(conn: &Connection, hash: &[u8], at: &str) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE sessions SET ended = ?2 WHERE hash = ?1 AND ended IS NULL",
            params![hash, at],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

pub(super) fn insert_login_link(
    conn: &Connection,
    hash: &[u8],
    org_id: &str,
    created: &str,
    expires: &str,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO login_links (hash, org_id, created, expires) VALUES (?1, ?2, ?3, ?4)",
        params![hash, org_id, created, expires],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn take_login_link(
    conn: &Connection,
    hash: &[u8],
) -> StoreResult<Option<(String, String)>> {
    conn.query_row(
        "DELETE FROM login_links WHERE hash = ?1 RETURNING org_id, expires",
        params![hash],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(backend)
}

pub(super) fn prune(conn: &Connection, now: &str) -> StoreResult<()> {
    for table in [
        "saml_requests",
        "saml_assertions",
        "sessions",
        "login_links",
    ] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE expires < ?1"),
            params![now],
        )
        .map_err(backend)?;
    }
    Ok(())
}
