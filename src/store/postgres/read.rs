//! Reads: [`ReadTx`] over PostgreSQL.

use std::collections::HashMap;

use postgres::Row;
use postgres::types::ToSql;

use super::query;
use super::rows::{self, ORG_COLUMNS, RESOURCE_COLUMNS, SESSION_COLUMNS, TOKEN_COLUMNS, table};
use super::{PgTx, backend};
use crate::directory::model::{
    AuditEntry, AuditQuery, Certificate, Change, ChangeKind, Cluster, GroupRef, IdpConfig,
    LedgerKind, MemberRef, NodeReport, Org, PosixAccount, ResourceType, SamlSettings, ScimLogEntry,
    ScimLogQuery, Session, SignInOutcome, StoredResource, Subject, TokenRecord,
};
use crate::directory::query::{Query, fold};
use crate::directory::store::{ReadTx, StoreError, StoreResult};

impl PgTx<'_, '_> {
    /// A failed statement as a store error, noting whether the job is to
    /// run again in a new transaction.
    fn failed(&mut self, e: postgres::Error) -> StoreError {
        if super::asks_for_retry(&e) {
            self.retry = Some(e.to_string());
        }
        backend(e)
    }

    fn statement(&mut self, sql: &str) -> StoreResult<postgres::Statement> {
        super::connection::statement(self.tx, self.statements, sql).map_err(|e| self.failed(e))
    }

    pub(super) fn query(
        &mut self,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<Row>> {
        let st = self.statement(sql)?;
        self.tx.query(&st, args).map_err(|e| self.failed(e))
    }

    pub(super) fn query_opt(
        &mut self,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        let st = self.statement(sql)?;
        self.tx.query_opt(&st, args).map_err(|e| self.failed(e))
    }

    pub(super) fn query_one(
        &mut self,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Row> {
        let st = self.statement(sql)?;
        self.tx.query_one(&st, args).map_err(|e| self.failed(e))
    }

    pub(super) fn execute(&mut self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let st = self.statement(sql)?;
        self.tx.execute(&st, args).map_err(|e| self.failed(e))
    }

    pub(super) fn position_of(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        id: &str,
    ) -> StoreResult<Option<i64>> {
        let sql = format!(
            "SELECT position FROM {} WHERE org_id = $1 AND id = $2",
            table(rtype)
        );
        self.query_opt(&sql, &[&org_id, &id])?
            .map(|r| r.try_get(0).map_err(backend))
            .transpose()
    }

    /// Rows `(owner id, other id, display)` of `sql` (whose `$2` takes the
    /// ids), grouped by owner.
    fn related<T>(
        &mut self,
        sql: &str,
        org_id: &str,
        ids: &[&str],
        make: impl Fn(String, String) -> T,
    ) -> StoreResult<HashMap<String, Vec<T>>> {
        let mut out: HashMap<String, Vec<T>> = HashMap::new();
        for row in self.query(sql, &[&org_id, &ids])? {
            let owner: String = row.try_get(0).map_err(backend)?;
            let other: String = row.try_get(1).map_err(backend)?;
            let display: Option<String> = row.try_get(2).map_err(backend)?;
            out.entry(owner)
                .or_default()
                .push(make(other, display.unwrap_or_default()));
        }
        Ok(out)
    }

    fn resource_where(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        column: &'static str,
        value: &str,
    ) -> StoreResult<Option<StoredResource>> {
        let sql = format!(
            "SELECT {RESOURCE_COLUMNS} FROM {} r WHERE r.org_id = $1 AND r.{column} = $2",
            table(rtype)
        );
        self.query_opt(&sql, &[&org_id, &value])?
            .map(|r| rows::resource(rtype, &r))
            .transpose()
    }

    fn cluster_of(&mut self, org_id: &str, r: &Row) -> StoreResult<Cluster> {
        let id: String = r.try_get(0).map_err(backend)?;
        let group_ids = self
            .query(
                "SELECT group_id FROM cluster_groups WHERE cluster_id = $1 ORDER BY group_id COLLATE \"C\"",
                &[&id],
            )?
            .iter()
            .map(|g| g.try_get(0).map_err(backend))
            .collect::<StoreResult<Vec<String>>>()?;
        Ok(Cluster {
            id,
            org_id: org_id.to_string(),
            name: r.try_get(1).map_err(backend)?,
            created: r.try_get(2).map_err(backend)?,
            modified: r.try_get(3).map_err(backend)?,
            group_ids,
        })
    }
}

impl ReadTx for PgTx<'_, '_> {
    fn org(&mut self, id_or_name: &str) -> StoreResult<Option<Org>> {
        // In a write, the org's row is locked until the commit: writes to
        // one org are serialized across replicas (its counters live there).
        let lock = if self.writing { " FOR UPDATE" } else { "" };
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1 OR name_key = $2{lock}");
        self.query_opt(&sql, &[&id_or_name, &fold(id_or_name)])?
            .map(|r| rows::org(&r))
            .transpose()
    }

    fn orgs(&mut self) -> StoreResult<Vec<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY name_key COLLATE \"C\"");
        self.query(&sql, &[])?.iter().map(rows::org).collect()
    }

    fn token_by_hash(&mut self, hash: &[u8]) -> StoreResult<Option<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1");
        self.query_opt(&sql, &[&hash])?
            .map(|r| rows::token(&r))
            .transpose()
    }

    fn tokens(&mut self, org_id: &str) -> StoreResult<Vec<TokenRecord>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = $1 ORDER BY created, id COLLATE \"C\""
        );
        self.query(&sql, &[&org_id])?
            .iter()
            .map(rows::token)
            .collect()
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
        let (page, count) = query::search(rtype, org_id, q);
        let limit = q.window.limit();
        let mut out = Vec::new();
        if limit > 0 {
            for r in self.query(&page.text, &page.args())? {
                out.push(rows::resource(rtype, &r)?);
            }
        }
        if let Some(total) = q.window.total_from_page(out.len()) {
            return Ok((total, out));
        }
        let total: i64 = self
            .query_one(&count.text, &count.args())?
            .try_get(0)
            .map_err(backend)?;
        Ok((total.max(0) as u64, out))
    }

    fn members(
        &mut self,
        org_id: &str,
        group_ids: &[&str],
    ) -> StoreResult<HashMap<String, Vec<MemberRef>>> {
        let sql = "SELECT g.id, u.id, COALESCE(u.doc ->> 'displayName', u.doc ->> 'userName') \
                   FROM groups g JOIN memberships m ON m.group_pos = g.position JOIN users u ON u.position = m.user_pos \
                   WHERE g.org_id = $1 AND g.id = ANY($2) ORDER BY g.position, u.position";
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
        let sql = "SELECT u.id, g.id, g.doc ->> 'displayName' \
                   FROM users u JOIN memberships m ON m.user_pos = u.position JOIN groups g ON g.position = m.group_pos \
                   WHERE u.org_id = $1 AND u.id = ANY($2) ORDER BY u.position, g.name_key COLLATE \"C\"";
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
        let sql = "SELECT group_id, role, NULL::text FROM group_roles \
                   WHERE org_id = $1 AND group_id = ANY($2) ORDER BY group_id, role COLLATE \"C\"";
        self.related(sql, org_id, group_ids, |role, _| role)
    }

    fn members_locked(&mut self, org_id: &str, group_id: &str) -> StoreResult<bool> {
        Ok(!self
            .query(
                "SELECT 1 FROM group_member_locks WHERE org_id = $1 AND group_id = $2",
                &[&org_id, &group_id],
            )?
            .is_empty())
    }

    fn kinds(&mut self, org_id: &str, ids: &[&str]) -> StoreResult<HashMap<String, ResourceType>> {
        let mut out = HashMap::new();
        for rtype in [ResourceType::User, ResourceType::Group] {
            let sql = format!(
                "SELECT id FROM {} WHERE org_id = $1 AND id = ANY($2)",
                table(rtype)
            );
            for r in self.query(&sql, &[&org_id, &ids])? {
                out.insert(r.try_get(0).map_err(backend)?, rtype);
            }
        }
        Ok(out)
    }

    fn last_seq(&mut self, org_id: &str) -> StoreResult<i64> {
        Ok(self
            .query_opt("SELECT last_seq FROM orgs WHERE id = $1", &[&org_id])?
            .map(|r| r.try_get(0).map_err(backend))
            .transpose()?
            .unwrap_or(0))
    }

    fn server_setting(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.query_opt("SELECT value FROM server_settings WHERE key = $1", &[&key])?
            .map(|r| r.try_get(0).map_err(backend))
            .transpose()
    }

    fn change_marker(&mut self) -> StoreResult<i64> {
        self.query_one("SELECT COALESCE(sum(last_seq), 0)::int8 FROM orgs", &[])?
            .try_get(0)
            .map_err(backend)
    }

    fn audit(&mut self, org_id: &str, q: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let sql = "SELECT at, actor, action, target, detail, origin FROM audit_log \
                   WHERE org_id = $1 AND ($2::text IS NULL OR at >= $2) AND ($3::text IS NULL OR strpos(lower(actor), lower($3)) > 0) \
                   AND ($5::text IS NULL OR strpos(lower(target), lower($5)) > 0 OR lower(action) = lower($5) OR starts_with(lower(action), lower($5) || '.')) \
                   ORDER BY id DESC LIMIT $4";
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        self.query(sql, &[&org_id, &q.since, &q.actor, &limit, &q.resource])?
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get(0).map_err(backend)?,
                    actor: r.try_get(1).map_err(backend)?,
                    action: r.try_get(2).map_err(backend)?,
                    target: r.try_get(3).map_err(backend)?,
                    detail: r.try_get(4).map_err(backend)?,
                    origin: r.try_get(5).map_err(backend)?,
                })
            })
            .collect()
    }

    fn node_reports(&mut self, cluster_id: &str) -> StoreResult<Vec<NodeReport>> {
        self.query(
            "SELECT org_id, cluster_id, node, applied_seq, error, slurm, reported_at \
             FROM node_reports WHERE cluster_id = $1 ORDER BY node",
            &[&cluster_id],
        )?
        .iter()
        .map(|r| {
            Ok(NodeReport {
                org_id: r.try_get(0).map_err(backend)?,
                cluster_id: r.try_get(1).map_err(backend)?,
                node: r.try_get(2).map_err(backend)?,
                applied_seq: r.try_get(3).map_err(backend)?,
                error: r.try_get(4).map_err(backend)?,
                slurm: r.try_get(5).map_err(backend)?,
                reported_at: r.try_get(6).map_err(backend)?,
            })
        })
        .collect()
    }

    fn slurm_adoptions(&mut self, cluster_id: &str) -> StoreResult<Vec<String>> {
        self.query(
            "SELECT account FROM slurm_adoptions WHERE cluster_id = $1 ORDER BY account",
            &[&cluster_id],
        )?
        .iter()
        .map(|r| r.try_get(0).map_err(backend))
        .collect()
    }

    fn removal_approval(&mut self, cluster_id: &str) -> StoreResult<Option<i64>> {
        self.query_opt(
            "SELECT through_seq FROM removal_approvals WHERE cluster_id = $1",
            &[&cluster_id],
        )?
        .map(|r| r.try_get(0).map_err(backend))
        .transpose()
    }

    fn sign_in_outcomes(
        &mut self,
        org_id: &str,
        subject_key: &str,
    ) -> StoreResult<Vec<SignInOutcome>> {
        self.query(
            "SELECT at, ok, detail FROM sign_in_outcomes WHERE org_id = $1 AND subject_key = $2",
            &[&org_id, &subject_key],
        )?
        .iter()
        .map(|r| {
            Ok(SignInOutcome {
                at: r.try_get(0).map_err(backend)?,
                ok: r.try_get(1).map_err(backend)?,
                detail: r.try_get(2).map_err(backend)?,
            })
        })
        .collect()
    }

    fn scim_log(&mut self, org_id: &str, q: &ScimLogQuery) -> StoreResult<Vec<ScimLogEntry>> {
        let sql = "SELECT at, org_id, token_name, method, path, status, scim_type, detail, latency_ms, body, from_idp FROM scim_log \
                   WHERE org_id = $1 AND (NOT $2 OR status >= 400) AND ($3::text IS NULL OR at >= $3) ORDER BY id DESC LIMIT $4";
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        self.query(sql, &[&org_id, &q.failed_only, &q.since, &limit])?
            .iter()
            .map(|r| {
                let status: i32 = r.try_get(5).map_err(backend)?;
                Ok(ScimLogEntry {
                    at: r.try_get(0).map_err(backend)?,
                    org_id: r.try_get(1).map_err(backend)?,
                    token_name: r.try_get(2).map_err(backend)?,
                    method: r.try_get(3).map_err(backend)?,
                    path: r.try_get(4).map_err(backend)?,
                    status: u16::try_from(status).unwrap_or(0),
                    scim_type: r.try_get(6).map_err(backend)?,
                    detail: r.try_get(7).map_err(backend)?,
                    latency_ms: r.try_get(8).map_err(backend)?,
                    body: r.try_get(9).map_err(backend)?,
                    from_idp: r.try_get::<_, i32>(10).map_err(backend)? != 0,
                })
            })
            .collect()
    }

    fn posix_accounts(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        ids: &[&str],
    ) -> StoreResult<HashMap<String, PosixAccount>> {
        let mut out = HashMap::new();
        let rows = self.query(
            "SELECT resource_id, uid, gid, name, home, shell FROM posix_accounts \
             WHERE org_id = $1 AND resource_type = $2 AND resource_id = ANY($3)",
            &[&org_id, &rtype.name(), &ids],
        )?;
        for r in rows {
            let a = PosixAccount {
                rtype,
                resource_id: r.try_get(0).map_err(backend)?,
                uid: r.try_get(1).map_err(backend)?,
                gid: r.try_get(2).map_err(backend)?,
                name: r.try_get(3).map_err(backend)?,
                home: r.try_get(4).map_err(backend)?,
                shell: r.try_get(5).map_err(backend)?,
            };
            out.insert(a.resource_id.clone(), a);
        }
        Ok(out)
    }

    fn posix_owner(
        &mut self,
        org_id: &str,
        kind: LedgerKind,
        value: &str,
    ) -> StoreResult<Option<String>> {
        self.query_opt(
            "SELECT resource_id FROM posix_ledger WHERE org_id = $1 AND kind = $2 AND value = $3",
            &[&org_id, &kind.as_str(), &value],
        )?
        .map(|r| r.try_get(0).map_err(backend))
        .transpose()
    }

    fn next_posix_ids(&mut self, org_id: &str) -> StoreResult<(i64, i64)> {
        let r = self
            .query_opt(
                "SELECT next_uid, next_gid FROM orgs WHERE id = $1",
                &[&org_id],
            )?
            .ok_or_else(|| StoreError::Backend(format!("org {org_id} vanished")))?;
        Ok((
            r.try_get(0).map_err(backend)?,
            r.try_get(1).map_err(backend)?,
        ))
    }

    fn cluster(&mut self, org_id: &str, id_or_name: &str) -> StoreResult<Option<Cluster>> {
        let row = self.query_opt(
            "SELECT id, name, created, modified FROM clusters WHERE org_id = $1 AND (id = $2 OR name_key = $3)",
            &[&org_id, &id_or_name, &fold(id_or_name)],
        )?;
        row.map(|r| self.cluster_of(org_id, &r)).transpose()
    }

    fn clusters(&mut self, org_id: &str) -> StoreResult<Vec<Cluster>> {
        let rows = self.query(
            "SELECT id, name, created, modified FROM clusters WHERE org_id = $1 ORDER BY name_key COLLATE \"C\"",
            &[&org_id],
        )?;
        rows.iter().map(|r| self.cluster_of(org_id, r)).collect()
    }

    fn resources_by_ids(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        ids: &[&str],
    ) -> StoreResult<Vec<StoredResource>> {
        let sql = format!(
            "SELECT {RESOURCE_COLUMNS} FROM {} r WHERE r.org_id = $1 AND r.id = ANY($2)",
            table(rtype)
        );
        self.query(&sql, &[&org_id, &ids])?
            .iter()
            .map(|r| rows::resource(rtype, r))
            .collect()
    }

    fn last_change_at(&mut self, org_id: &str) -> StoreResult<Option<String>> {
        self.query_opt(
            "SELECT at FROM changes WHERE org_id = $1 ORDER BY seq DESC LIMIT 1",
            &[&org_id],
        )?
        .map(|r| r.try_get(0).map_err(backend))
        .transpose()
    }

    fn changes_after(
        &mut self,
        org_id: &str,
        after: i64,
        limit: u64,
    ) -> StoreResult<Vec<(i64, Change)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query(
            "SELECT seq, at, resource_type, resource_id, kind FROM changes WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&org_id, &after, &limit],
        )?
        .iter()
        .map(|r| {
            let subject: String = r.try_get(2).map_err(backend)?;
            let kind: String = r.try_get(4).map_err(backend)?;
            Ok((
                r.try_get(0).map_err(backend)?,
                Change {
                    subject: Subject::parse(&subject),
                    resource_id: r.try_get(3).map_err(backend)?,
                    kind: ChangeKind::parse(&kind),
                    at: r.try_get(1).map_err(backend)?,
                },
            ))
        })
        .collect()
    }

    fn saml_settings(&mut self, org_id: &str) -> StoreResult<Option<SamlSettings>> {
        let Some(r) = self.query_opt(
            "SELECT idp_entity_id, sso_url, certificates, require_signed_assertion, allow_idp_initiated, metadata_url, updated \
             FROM saml_settings WHERE org_id = $1",
            &[&org_id],
        )?
        else {
            return Ok(None);
        };
        let certs: String = r.try_get(2).map_err(backend)?;
        let certificates = certs
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(Certificate::from_base64)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("SAML certificate of org {org_id}: {e}")))?;
        Ok(Some(SamlSettings {
            idp: IdpConfig {
                entity_id: r.try_get(0).map_err(backend)?,
                sso_url: r.try_get(1).map_err(backend)?,
                certificates,
                require_signed_assertion: r.try_get(3).map_err(backend)?,
                allow_idp_initiated: r.try_get(4).map_err(backend)?,
            },
            metadata_url: r.try_get(5).map_err(backend)?,
            updated: r.try_get(6).map_err(backend)?,
        }))
    }

    fn session(&mut self, hash: &[u8]) -> StoreResult<Option<Session>> {
        let sql =
            format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE hash = $1 AND ended IS NULL");
        self.query_opt(&sql, &[&hash])?
            .map(|r| rows::session(&r))
            .transpose()
    }

    fn sessions(&mut self, org_id: &str) -> StoreResult<Vec<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE org_id = $1 AND ended IS NULL ORDER BY created DESC"
        );
        self.query(&sql, &[&org_id])?
            .iter()
            .map(rows::session)
            .collect()
    }
}
