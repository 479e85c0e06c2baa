//! Reads: [`ReadTx`] over SQLite.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params, params_from_iter};

use super::query::{self as sqlite_query, RESOURCE_COLUMNS, table};
use super::rows::{
    IN_CHUNK, ORG_COLUMNS, TOKEN_COLUMNS, org_from_row, placeholders, resource_from_row,
    token_from_row, with_doc,
};
use super::{SqliteTx, backend, sign_in};
use crate::directory::model::{
    AuditEntry, AuditQuery, Change, ChangeKind, Cluster, GroupRef, LedgerKind, MemberRef,
    NodeReport, Org, PosixAccount, ResourceType, SamlSettings, Session, SignInOutcome,
    StoredResource, Subject, TokenRecord,
};
use crate::directory::query::{Query, fold};
use crate::directory::scim_log::{ScimLogEntry, ScimLogQuery};
use crate::directory::store::{ReadTx, StoreResult};

impl SqliteTx<'_> {
    pub(super) fn position_of(
        &self,
        org_id: &str,
        rtype: ResourceType,
        id: &str,
    ) -> StoreResult<Option<i64>> {
        let sql = match rtype {
            ResourceType::User => "SELECT position FROM users WHERE org_id = ?1 AND id = ?2",
            ResourceType::Group => "SELECT position FROM groups WHERE org_id = ?1 AND id = ?2",
        };
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row(params![org_id, id], |r| r.get(0)).optional())
            .map_err(backend)
    }
}

impl SqliteTx<'_> {
    /// Runs `sql` (whose `IN (IDS)` takes the ids) for `ids` in chunks and
    /// groups its rows `(owner id, other id, display)` by owner.
    fn related<T>(
        &self,
        sql: &str,
        org_id: &str,
        ids: &[&str],
        make: impl Fn(String, String) -> T,
    ) -> StoreResult<HashMap<String, Vec<T>>> {
        let mut out: HashMap<String, Vec<T>> = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let text = sql.replace("IDS", &placeholders(chunk.len()));
            let mut s = self.conn.prepare_cached(&text).map_err(backend)?;
            let args = std::iter::once(org_id).chain(chunk.iter().copied());
            let rows = s
                .query_map(params_from_iter(args), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })
                .map_err(backend)?;
            for row in rows {
                let (owner, other, display) = row.map_err(backend)?;
                out.entry(owner)
                    .or_default()
                    .push(make(other, display.unwrap_or_default()));
            }
        }
        Ok(out)
    }
}

impl SqliteTx<'_> {
    /// One resource by a unique column (`id` or `name_key`; never input).
    fn resource_where(
        &self,
        org_id: &str,
        rtype: ResourceType,
        column: &'static str,
        value: &str,
    ) -> StoreResult<Option<StoredResource>> {
        let sql = format!(
            "SELECT {RESOURCE_COLUMNS} FROM {} r WHERE r.org_id = ?1 AND r.{column} = ?2",
            table(rtype)
        );
        let row = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_row(params![org_id, value], |r| resource_from_row(rtype, r))
                    .optional()
            })
            .map_err(backend)?;
        row.map(with_doc).transpose()
    }

    fn with_groups(
        &self,
        org_id: &str,
        id: String,
        name: String,
        created: String,
        modified: String,
    ) -> StoreResult<Cluster> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT group_id FROM cluster_groups WHERE cluster_id = ?1 ORDER BY group_id",
            )
            .map_err(backend)?;
        let rows = s.query_map(params![id], |r| r.get(0)).map_err(backend)?;
        let group_ids = rows.collect::<Result<Vec<String>, _>>().map_err(backend)?;
        Ok(Cluster {
            id,
            org_id: org_id.to_string(),
            name,
            created,
            modified,
            group_ids,
        })
    }
}

impl ReadTx for SqliteTx<'_> {
    fn org(&mut self, id_or_name: &str) -> StoreResult<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?1 OR name_key = ?2");
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_row(params![id_or_name, fold(id_or_name)], org_from_row)
                    .optional()
            })
            .map_err(backend)
    }

    fn orgs(&mut self) -> StoreResult<Vec<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY name_key");
        let mut s = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = s.query_map([], org_from_row).map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn token_by_hash(&mut self, hash: &[u8]) -> StoreResult<Option<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1");
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row(params![hash], token_from_row).optional())
            .map_err(backend)
    }

    fn tokens(&mut self, org_id: &str) -> StoreResult<Vec<TokenRecord>> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = ?1 ORDER BY created, id");
        let mut s = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = s
            .query_map(params![org_id], token_from_row)
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn resource(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        id: &str,
    ) -> StoreResult<Option<StoredResource>> {
        self.resource_where(org_id, rtype, "id", id)
    }

    fn resource_by_name(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        name_key: &str,
    ) -> StoreResult<Option<StoredResource>> {
        self.resource_where(org_id, rtype, "name_key", name_key)
    }

    fn search(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        q: &Query,
    ) -> StoreResult<(u64, Vec<StoredResource>)> {
        let (page, count) = sqlite_query::search(rtype, org_id, q);
        let limit = q.window.limit();
        let mut out = Vec::new();
        if limit > 0 {
            let mut s = self.conn.prepare_cached(&page.text).map_err(backend)?;
            let rows = s
                .query_map(params_from_iter(page.params.iter()), |r| {
                    resource_from_row(rtype, r)
                })
                .map_err(backend)?;
            for row in rows {
                out.push(with_doc(row.map_err(backend)?)?);
            }
        }
        if let Some(total) = q.window.total_from_page(out.len()) {
            return Ok((total, out));
        }
        let total: i64 = self
            .conn
            .prepare_cached(&count.text)
            .and_then(|mut s| s.query_row(params_from_iter(count.params.iter()), |r| r.get(0)))
            .map_err(backend)?;
        Ok((total.max(0) as u64, out))
    }

    fn members(
        &mut self,
        org_id: &str,
        group_ids: &[&str],
    ) -> StoreResult<HashMap<String, Vec<MemberRef>>> {
        let sql = "SELECT g.id, u.id, COALESCE(json_extract(u.doc, '$.displayName'), json_extract(u.doc, '$.userName')) \
                   FROM groups g JOIN memberships m ON m.group_pos = g.position JOIN users u ON u.position = m.user_pos \
                   WHERE g.org_id = ? AND g.id IN (IDS) ORDER BY g.position, u.position";
        self.related(sql, org_id, group_ids, |user_id, display| MemberRef {
            user_id,
            display,
            posix_name: None,
        })
    }

    fn groups_of(
        &mut self,
        org_id: &str,
        user_ids: &[&str],
    ) -> StoreResult<HashMap<String, Vec<GroupRef>>> {
        let sql = "SELECT u.id, g.id, json_extract(g.doc, '$.displayName') \
                   FROM users u JOIN memberships m ON m.user_pos = u.position JOIN groups g ON g.position = m.group_pos \
                   WHERE u.org_id = ? AND u.id IN (IDS) ORDER BY u.position, g.name_key";
        self.related(sql, org_id, user_ids, |group_id, display| GroupRef {
            group_id,
            display,
        })
    }

    fn group_roles(
        &mut self,
        org_id: &str,
        group_ids: &[&str],
    ) -> StoreResult<HashMap<String, Vec<String>>> {
        let sql = "SELECT group_id, role, NULL FROM group_roles \
                   WHERE org_id = ? AND group_id IN (IDS) ORDER BY group_id, role";
        self.related(sql, org_id, group_ids, |role, _| role)
    }

    fn members_locked(&mut self, org_id: &str, group_id: &str) -> StoreResult<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM group_member_locks WHERE org_id = ?1 AND group_id = ?2")
            .and_then(|mut s| s.exists(params![org_id, group_id]))
            .map_err(backend)
    }

    fn kinds(&mut self, org_id: &str, ids: &[&str]) -> StoreResult<HashMap<String, ResourceType>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            for rtype in [ResourceType::User, ResourceType::Group] {
                let sql = format!(
                    "SELECT id FROM {} WHERE org_id = ? AND id IN ({})",
                    table(rtype),
                    placeholders(chunk.len())
                );
                let mut s = self.conn.prepare_cached(&sql).map_err(backend)?;
                let args = std::iter::once(org_id).chain(chunk.iter().copied());
                let rows = s
                    .query_map(params_from_iter(args), |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                for row in rows {
                    out.insert(row.map_err(backend)?, rtype);
                }
            }
        }
        Ok(out)
    }

    fn last_seq(&mut self, org_id: &str) -> StoreResult<i64> {
        self.conn
            .prepare_cached("SELECT last_seq FROM orgs WHERE id = ?1")
            .and_then(|mut s| s.query_row(params![org_id], |r| r.get(0)).optional())
            .map(|v| v.unwrap_or(0))
            .map_err(backend)
    }

    fn server_setting(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.conn
            .prepare_cached("SELECT value FROM server_settings WHERE key = ?1")
            .and_then(|mut s| s.query_row(params![key], |r| r.get(0)).optional())
            .map_err(backend)
    }

    fn change_marker(&mut self) -> StoreResult<i64> {
        self.conn
            .prepare_cached("SELECT CAST(total(last_seq) AS INTEGER) FROM orgs")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(backend)
    }

    fn audit(&mut self, org_id: &str, q: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let sql = "SELECT at, actor, action, target, detail, origin FROM audit_log \
                   WHERE org_id = ?1 AND (?2 IS NULL OR at >= ?2) AND (?3 IS NULL OR instr(lower(actor), lower(?3)) > 0) \
                   AND (?5 IS NULL OR instr(lower(target), lower(?5)) > 0 OR lower(action) = lower(?5) OR substr(lower(action), 1, length(?5) + 1) = lower(?5) || '.') \
                   ORDER BY id DESC LIMIT ?4";
        let mut s = self.conn.prepare_cached(sql).map_err(backend)?;
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let rows = s
            .query_map(params![org_id, q.since, q.actor, limit, q.resource], |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    target: r.get(3)?,
                    detail: r.get(4)?,
                    origin: r.get(5)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn node_reports(&mut self, cluster_id: &str) -> StoreResult<Vec<NodeReport>> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT org_id, cluster_id, node, applied_seq, error, slurm, reported_at \
                 FROM node_reports WHERE cluster_id = ?1 ORDER BY node",
            )
            .map_err(backend)?;
        let rows = s
            .query_map(params![cluster_id], |r| {
                Ok(NodeReport {
                    org_id: r.get(0)?,
                    cluster_id: r.get(1)?,
                    node: r.get(2)?,
                    applied_seq: r.get(3)?,
                    error: r.get(4)?,
                    slurm: r.get(5)?,
                    reported_at: r.get(6)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn slurm_adoptions(&mut self, cluster_id: &str) -> StoreResult<Vec<String>> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT account FROM slurm_adoptions WHERE cluster_id = ?1 ORDER BY account",
            )
            .map_err(backend)?;
        let rows = s
            .query_map(params![cluster_id], |r| r.get(0))
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn removal_approval(&mut self, cluster_id: &str) -> StoreResult<Option<i64>> {
        self.conn
            .prepare_cached("SELECT through_seq FROM removal_approvals WHERE cluster_id = ?1")
            .and_then(|mut s| s.query_row(params![cluster_id], |r| r.get(0)).optional())
            .map_err(backend)
    }

    fn sign_in_outcomes(
        &mut self,
        org_id: &str,
        subject_key: &str,
    ) -> StoreResult<Vec<SignInOutcome>> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT at, ok, detail FROM sign_in_outcomes WHERE org_id = ?1 AND subject_key = ?2",
            )
            .map_err(backend)?;
        let rows = s
            .query_map(params![org_id, subject_key], |r| {
                Ok(SignInOutcome {
                    at: r.get(0)?,
                    ok: r.get(1)?,
                    detail: r.get(2)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn scim_log(&mut self, org_id: &str, q: &ScimLogQuery) -> StoreResult<Vec<ScimLogEntry>> {
        let sql = "SELECT at, org_id, token_name, method, path, status, scim_type, detail, latency_ms, body, from_idp FROM scim_log \
                   WHERE org_id = ?1 AND (?2 = 0 OR status >= 400) AND (?3 IS NULL OR at >= ?3) ORDER BY id DESC LIMIT ?4";
        let mut s = self.conn.prepare_cached(sql).map_err(backend)?;
        let rows = s
            .query_map(
                params![
                    org_id,
                    q.failed_only,
                    q.since,
                    q.limit.min(i64::MAX as u64) as i64
                ],
                |r| {
                    Ok(ScimLogEntry {
                        at: r.get(0)?,
                        org_id: r.get(1)?,
                        token_name: r.get(2)?,
                        method: r.get(3)?,
                        path: r.get(4)?,
                        status: r.get(5)?,
                        scim_type: r.get(6)?,
                        detail: r.get(7)?,
                        latency_ms: r.get(8)?,
                        body: r.get(9)?,
                        from_idp: r.get(10)?,
                    })
                },
            )
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn posix_accounts(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        ids: &[&str],
    ) -> StoreResult<HashMap<String, PosixAccount>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT resource_id, uid, gid, name, home, shell FROM posix_accounts \
                 WHERE org_id = ? AND resource_type = ? AND resource_id IN ({})",
                placeholders(chunk.len())
            );
            let mut s = self.conn.prepare_cached(&sql).map_err(backend)?;
            let args = [org_id, rtype.name()]
                .into_iter()
                .chain(chunk.iter().copied());
            let rows = s
                .query_map(params_from_iter(args), |r| {
                    Ok(PosixAccount {
                        rtype,
                        resource_id: r.get(0)?,
                        uid: r.get(1)?,
                        gid: r.get(2)?,
                        name: r.get(3)?,
                        home: r.get(4)?,
                        shell: r.get(5)?,
                    })
                })
                .map_err(backend)?;
            for row in rows {
                let a = row.map_err(backend)?;
                out.insert(a.resource_id.clone(), a);
            }
        }
        Ok(out)
    }

    fn posix_owner(
        &mut self,
        org_id: &str,
        kind: LedgerKind,
        value: &str,
    ) -> StoreResult<Option<String>> {
        self.conn
            .prepare_cached("SELECT resource_id FROM posix_ledger WHERE org_id = ?1 AND kind = ?2 AND value = ?3")
            .and_then(|mut s| s.query_row(params![org_id, kind.as_str(), value], |r| r.get(0)).optional())
            .map_err(backend)
    }

    fn next_posix_ids(&mut self, org_id: &str) -> StoreResult<(i64, i64)> {
        self.conn
            .prepare_cached("SELECT next_uid, next_gid FROM orgs WHERE id = ?1")
            .and_then(|mut s| s.query_row(params![org_id], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(backend)
    }

    fn cluster(&mut self, org_id: &str, id_or_name: &str) -> StoreResult<Option<Cluster>> {
        let row: Option<(String, String, String, String)> = self
            .conn
            .prepare_cached("SELECT id, name, created, modified FROM clusters WHERE org_id = ?1 AND (id = ?2 OR name_key = ?3)")
            .and_then(|mut s| s.query_row(params![org_id, id_or_name, fold(id_or_name)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional())
            .map_err(backend)?;
        row.map(|(id, name, created, modified)| {
            self.with_groups(org_id, id, name, created, modified)
        })
        .transpose()
    }

    fn clusters(&mut self, org_id: &str) -> StoreResult<Vec<Cluster>> {
        let rows: Vec<(String, String, String, String)> = {
            let mut s = self
                .conn
                .prepare_cached("SELECT id, name, created, modified FROM clusters WHERE org_id = ?1 ORDER BY name_key")
                .map_err(backend)?;
            let rows = s
                .query_map(params![org_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
        };
        rows.into_iter()
            .map(|(id, name, created, modified)| {
                self.with_groups(org_id, id, name, created, modified)
            })
            .collect()
    }

    fn resources_by_ids(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        ids: &[&str],
    ) -> StoreResult<Vec<StoredResource>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT {RESOURCE_COLUMNS} FROM {} r WHERE r.org_id = ? AND r.id IN ({})",
                table(rtype),
                placeholders(chunk.len())
            );
            let mut s = self.conn.prepare_cached(&sql).map_err(backend)?;
            let args = std::iter::once(org_id).chain(chunk.iter().copied());
            let rows = s
                .query_map(params_from_iter(args), |r| resource_from_row(rtype, r))
                .map_err(backend)?;
            for row in rows {
                out.push(with_doc(row.map_err(backend)?)?);
            }
        }
        Ok(out)
    }

    fn last_change_at(&mut self, org_id: &str) -> StoreResult<Option<String>> {
        self.conn
            .prepare_cached("SELECT at FROM changes WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1")
            .and_then(|mut s| s.query_row(params![org_id], |r| r.get(0)).optional())
            .map_err(backend)
    }

    fn changes_after(
        &mut self,
        org_id: &str,
        after: i64,
        limit: u64,
    ) -> StoreResult<Vec<(i64, Change)>> {
        let mut s = self
            .conn
            .prepare_cached(&changes_after_sql(limit))
            .map_err(backend)?;
        let rows = s
            .query_map(params![org_id, after], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, at, subject, resource_id, kind) = row.map_err(backend)?;
            let subject = Subject::parse(&subject);
            let kind = ChangeKind::parse(&kind);
            out.push((
                seq,
                Change {
                    subject,
                    resource_id,
                    kind,
                    at,
                },
            ));
        }
        Ok(out)
    }

    fn saml_settings(&mut self, org_id: &str) -> StoreResult<Option<SamlSettings>> {
        sign_in::saml_settings(self.conn, org_id)
    }

    fn session(&mut self, hash: &[u8]) -> StoreResult<Option<Session>> {
        sign_in::session(self.conn, hash)
    }

    fn sessions(&mut self, org_id: &str) -> StoreResult<Vec<Session>> {
        sign_in::sessions(self.conn, org_id)
    }
}

/// The feed's query. Its limit is written into the SQL, not bound:
/// SQLite's planner looks at a bound LIMIT's value, which makes it
/// prepare the statement again at every use (seen as a tenth of the
/// server's time with 2,000 agents polling); the few limits the server
/// uses each keep their prepared statement.
fn changes_after_sql(limit: u64) -> String {
    format!(
        "SELECT seq, at, resource_type, resource_id, kind FROM changes WHERE org_id = ?1 AND seq > ?2 ORDER BY seq LIMIT {}",
        limit.min(i64::MAX as u64)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use rusqlite::StatementStatus;

    use super::*;

    #[test]
    fn the_feed_query_is_prepared_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        super::super::schema::configure(&conn).unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let mut tx = SqliteTx { conn: &conn };
        for after in 0..5 {
            tx.changes_after("o1", after, 1001).unwrap();
        }
        let s = conn.prepare_cached(&changes_after_sql(1001)).unwrap();
        // The statement that ran (it stepped), never prepared again.
        assert!(s.get_status(StatementStatus::VmStep) > 0);
        assert_eq!(s.get_status(StatementStatus::RePrepare), 0);
    }
}
