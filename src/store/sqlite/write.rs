//! Writes: [`WriteTx`] over SQLite.

use rusqlite::params;

use super::query::table;
use super::{SqliteTx, backend, sign_in};
use crate::directory::model::{
    AuditEntry, Change, Cluster, LedgerKind, NodeReport, Org, PosixAccount, ResourceType,
    SamlSettings, Session, SignInOutcome, StoredResource, TokenRecord,
};
use crate::directory::query::fold;
use crate::directory::scim_log::{ScimLogEntry, ScimLogQuota};
use crate::directory::store::{StoreError, StoreResult, WriteTx};

impl WriteTx for SqliteTx<'_> {
    fn insert_org(&mut self, org: &Org) -> StoreResult<()> {
        let s = &org.settings;
        self.conn
            .prepare_cached("INSERT INTO orgs (id, name, name_key, created, scim_api, aup, sup, legacy_groups, jit, reserved_names, uid_min, uid_max, gid_min, gid_max, allow_reserved_ids) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)")
            .and_then(|mut st| st.execute(params![org.id, org.name, fold(&org.name), org.created, s.scim_api, s.aup, s.sup, s.legacy_groups, s.jit, org.reserved_names.join("\n"), s.ids.uid.0, s.ids.uid.1, s.ids.gid.0, s.ids.gid.1, s.ids.allow_reserved]))
            .map(|_| ())
            .map_err(backend)
    }

    fn update_org(&mut self, org: &Org) -> StoreResult<()> {
        let s = &org.settings;
        self.conn
            .prepare_cached("UPDATE orgs SET name = ?2, name_key = ?3, scim_api = ?4, aup = ?5, sup = ?6, legacy_groups = ?7, jit = ?8, reserved_names = ?9, uid_min = ?10, uid_max = ?11, gid_min = ?12, gid_max = ?13, allow_reserved_ids = ?14 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![org.id, org.name, fold(&org.name), s.scim_api, s.aup, s.sup, s.legacy_groups, s.jit, org.reserved_names.join("\n"), s.ids.uid.0, s.ids.uid.1, s.ids.gid.0, s.ids.gid.1, s.ids.allow_reserved]))
            .map(|_| ())
            .map_err(backend)
    }

    fn insert_token(&mut self, t: &TokenRecord) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO tokens (id, org_id, name, hash, created, cluster_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut st| st.execute(params![t.id, t.org_id, t.name, t.hash, t.created, t.cluster_id]))
            .map(|_| ())
            .map_err(backend)
    }

    fn revoke_token(&mut self, org_id: &str, token_id: &str, at: &str) -> StoreResult<bool> {
        self.conn
            .prepare_cached(
                "UPDATE tokens SET revoked = ?3 WHERE org_id = ?1 AND id = ?2 AND revoked IS NULL",
            )
            .and_then(|mut st| st.execute(params![org_id, token_id, at]))
            .map(|n| n > 0)
            .map_err(backend)
    }

    fn touch_token(&mut self, token_id: &str, at: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE tokens SET last_used = ?2 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![token_id, at]))
            .map(|_| ())
            .map_err(backend)
    }

    fn insert_resource(&mut self, org_id: &str, r: &StoredResource) -> StoreResult<i64> {
        let sql = format!(
            "INSERT INTO {} (org_id, id, name_key, display_key, external_id, doc, created, modified, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            table(r.rtype)
        );
        let doc = serde_json::to_string(&r.doc).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.execute(params![
                    org_id,
                    r.id,
                    r.name_key,
                    r.display_key,
                    r.external_id,
                    doc,
                    r.created,
                    r.modified,
                    r.version
                ])
            })
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn update_resource(&mut self, org_id: &str, r: &StoredResource) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET name_key = ?3, display_key = ?4, external_id = ?5, doc = ?6, modified = ?7, version = ?8 WHERE org_id = ?1 AND id = ?2",
            table(r.rtype)
        );
        let doc = serde_json::to_string(&r.doc).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.execute(params![
                    org_id,
                    r.id,
                    r.name_key,
                    r.display_key,
                    r.external_id,
                    doc,
                    r.modified,
                    r.version
                ])
            })
            .map(|_| ())
            .map_err(backend)
    }

    fn delete_resource(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        id: &str,
    ) -> StoreResult<bool> {
        // The account goes with the resource; the ledger keeps its ids.
        self.conn
            .prepare_cached("DELETE FROM posix_accounts WHERE org_id = ?1 AND resource_type = ?2 AND resource_id = ?3")
            .and_then(|mut s| s.execute(params![org_id, rtype.name(), id]))
            .map_err(backend)?;
        if rtype == ResourceType::Group {
            self.set_group_roles(org_id, id, &[])?;
            self.set_members_locked(org_id, id, false)?;
        }
        let sql = format!("DELETE FROM {} WHERE org_id = ?1 AND id = ?2", table(rtype));
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.execute(params![org_id, id]))
            .map(|n| n > 0)
            .map_err(backend)
    }

    fn add_members(&mut self, org_id: &str, group_id: &str, user_ids: &[&str]) -> StoreResult<()> {
        let g = self
            .position_of(org_id, ResourceType::Group, group_id)?
            .ok_or_else(|| StoreError::Backend(format!("group {group_id} vanished")))?;
        let mut st = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO memberships (group_pos, user_pos) SELECT ?1, position FROM users WHERE org_id = ?2 AND id = ?3")
            .map_err(backend)?;
        for u in user_ids {
            st.execute(params![g, org_id, u]).map_err(backend)?;
        }
        Ok(())
    }

    fn remove_members(
        &mut self,
        org_id: &str,
        group_id: &str,
        user_ids: &[&str],
    ) -> StoreResult<()> {
        let g = self
            .position_of(org_id, ResourceType::Group, group_id)?
            .ok_or_else(|| StoreError::Backend(format!("group {group_id} vanished")))?;
        let mut st = self
            .conn
            .prepare_cached("DELETE FROM memberships WHERE group_pos = ?1 AND user_pos = (SELECT position FROM users WHERE org_id = ?2 AND id = ?3)")
            .map_err(backend)?;
        for u in user_ids {
            st.execute(params![g, org_id, u]).map_err(backend)?;
        }
        Ok(())
    }

    fn append_change(&mut self, org_id: &str, c: &Change) -> StoreResult<i64> {
        let seq: i64 = self
            .conn
            .prepare_cached(
                "UPDATE orgs SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
            )
            .and_then(|mut st| st.query_row(params![org_id], |r| r.get(0)))
            .map_err(backend)?;
        self.conn
            .prepare_cached("INSERT INTO changes (org_id, seq, at, resource_type, resource_id, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .and_then(|mut st| st.execute(params![org_id, seq, c.at, c.subject.as_str(), c.resource_id, c.kind.as_str()]))
            .map_err(backend)?;
        Ok(seq)
    }

    fn put_posix_account(&mut self, org_id: &str, a: &PosixAccount) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO posix_accounts (org_id, resource_type, resource_id, uid, gid, name, home, shell) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| s.execute(params![org_id, a.rtype.name(), a.resource_id, a.uid, a.gid, a.name, a.home, a.shell]))
            .map(|_| ())
            .map_err(backend)
    }

    fn claim_posix(
        &mut self,
        org_id: &str,
        kind: LedgerKind,
        value: &str,
        resource_id: &str,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT INTO posix_ledger (org_id, kind, value, resource_id) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![org_id, kind.as_str(), value, resource_id]))
            .map(|_| ())
            .map_err(backend)
    }

    fn set_next_posix_ids(
        &mut self,
        org_id: &str,
        next_uid: i64,
        next_gid: i64,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE orgs SET next_uid = ?2, next_gid = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![org_id, next_uid, next_gid]))
            .map(|_| ())
            .map_err(backend)
    }

    fn insert_cluster(&mut self, c: &Cluster) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT INTO clusters (id, org_id, name, name_key, created, modified) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .and_then(|mut s| s.execute(params![c.id, c.org_id, c.name, fold(&c.name), c.created, c.modified]))
            .map_err(backend)?;
        self.set_cluster_groups(&c.id, &c.group_ids, &c.modified)
    }

    fn set_cluster_groups(
        &mut self,
        cluster_id: &str,
        group_ids: &[String],
        modified: &str,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached("DELETE FROM cluster_groups WHERE cluster_id = ?1")
            .and_then(|mut s| s.execute(params![cluster_id]))
            .map_err(backend)?;
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO cluster_groups (cluster_id, group_id) VALUES (?1, ?2)",
            )
            .map_err(backend)?;
        for g in group_ids {
            st.execute(params![cluster_id, g]).map_err(backend)?;
        }
        self.conn
            .prepare_cached("UPDATE clusters SET modified = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![cluster_id, modified]))
            .map(|_| ())
            .map_err(backend)
    }

    fn append_scim_log(&mut self, entries: &[ScimLogEntry]) -> StoreResult<()> {
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT INTO scim_log (org_id, at, token_name, method, path, status, scim_type, detail, latency_ms, body, from_idp) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 WHERE EXISTS (SELECT 1 FROM orgs WHERE id = ?1)",
            )
            .map_err(backend)?;
        for e in entries {
            st.execute(params![
                e.org_id,
                e.at,
                e.token_name,
                e.method,
                e.path,
                e.status,
                e.scim_type,
                e.detail,
                e.latency_ms,
                e.body,
                e.from_idp
            ])
            .map_err(backend)?;
        }
        Ok(())
    }

    fn prune_scim_log(
        &mut self,
        org_ids: &[&str],
        quota: ScimLogQuota,
        cutoff: Option<&str>,
    ) -> StoreResult<()> {
        if let Some(cutoff) = cutoff {
            self.conn
                .prepare_cached("DELETE FROM scim_log WHERE at < ?1")
                .and_then(|mut s| s.execute(params![cutoff]))
                .map_err(backend)?;
        }
        let mut st = self
            .conn
            .prepare_cached(
                "DELETE FROM scim_log WHERE org_id = ?1 AND from_idp = ?3 AND id <= \
                 (SELECT id FROM scim_log WHERE org_id = ?1 AND from_idp = ?3 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            )
            .map_err(backend)?;
        for org in org_ids {
            st.execute(params![
                org,
                quota.max_entries.min(i64::MAX as u64) as i64,
                quota.from_idp
            ])
            .map_err(backend)?;
        }
        // Newest first, the running size; everything from the first entry
        // past the limit on is removed.
        let mut st = self
            .conn
            .prepare_cached(
                "DELETE FROM scim_log WHERE org_id = ?1 AND from_idp = ?3 AND id <= \
                 (SELECT id FROM (SELECT id, sum(length(path) + coalesce(length(detail), 0) + coalesce(length(body), 0)) \
                   OVER (ORDER BY id DESC) AS running FROM scim_log WHERE org_id = ?1 AND from_idp = ?3) \
                  WHERE running > ?2 ORDER BY id DESC LIMIT 1)",
            )
            .map_err(backend)?;
        for org in org_ids {
            st.execute(params![
                org,
                quota.max_bytes.min(i64::MAX as u64) as i64,
                quota.from_idp
            ])
            .map_err(backend)?;
        }
        Ok(())
    }

    fn transfer_posix(&mut self, org_id: &str, held: &PosixAccount, to: &str) -> StoreResult<()> {
        let from = held.resource_id.as_str();
        let mut st = self
            .conn
            .prepare_cached("UPDATE posix_ledger SET resource_id = ?5 WHERE org_id = ?1 AND kind = ?2 AND value = ?3 AND resource_id = ?4")
            .map_err(backend)?;
        for (kind, value) in held.ledger_entries() {
            st.execute(params![org_id, kind.as_str(), value, from, to])
                .map_err(backend)?;
        }
        self.conn
            .prepare_cached("UPDATE posix_accounts SET resource_id = ?4 WHERE org_id = ?1 AND resource_type = ?2 AND resource_id = ?3")
            .and_then(|mut s| s.execute(params![org_id, held.rtype.name(), from, to]))
            .map(|_| ())
            .map_err(backend)
    }

    fn append_audit(&mut self, org_id: &str, e: &AuditEntry, keep: u64) -> StoreResult<()> {
        let id: i64 = self
            .conn
            .prepare_cached("INSERT INTO audit_log (org_id, at, actor, action, target, detail, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id")
            .and_then(|mut s| s.query_row(params![org_id, e.at, e.actor, e.action, e.target, e.detail, e.origin], |r| r.get(0)))
            .map_err(backend)?;
        // Ids grow per database, not per org: an org's oldest entries
        // beyond `keep` go, checked every so often.
        if id % 256 == 0 {
            self.conn
                .prepare_cached("DELETE FROM audit_log WHERE org_id = ?1 AND id < (SELECT id FROM audit_log WHERE org_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)")
                .and_then(|mut s| s.execute(params![org_id, i64::try_from(keep).unwrap_or(i64::MAX)]))
                .map_err(backend)?;
        }
        Ok(())
    }

    fn put_node_reports(&mut self, reports: &[NodeReport], max_nodes: u64) -> StoreResult<u64> {
        // Each cluster's node count, read once per batch and kept as new
        // nodes are added: a known node costs a look-up by primary key,
        // and only a new name costs the count.
        let mut counts: std::collections::HashMap<&str, u64> = Default::default();
        let mut refused = 0;
        for r in reports {
            let known = self
                .conn
                .prepare_cached("SELECT 1 FROM node_reports WHERE cluster_id = ?1 AND node = ?2")
                .and_then(|mut s| s.exists(params![r.cluster_id, r.node]))
                .map_err(backend)?;
            let count = match (known, counts.get(r.cluster_id.as_str())) {
                (true, _) => 0,
                (false, Some(n)) => *n,
                (false, None) => self
                    .conn
                    .prepare_cached("SELECT COUNT(*) FROM node_reports WHERE cluster_id = ?1")
                    .and_then(|mut s| {
                        s.query_row(params![r.cluster_id], |row| row.get::<_, i64>(0))
                    })
                    .map(|n| u64::try_from(n).unwrap_or(0))
                    .map_err(backend)?,
            };
            if !known && count >= max_nodes {
                refused += 1;
                counts.insert(&r.cluster_id, count);
                continue;
            }
            let written = self
                .conn
                .prepare_cached(
                    "INSERT INTO node_reports (org_id, cluster_id, node, applied_seq, error, slurm, reported_at) \
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM clusters WHERE id = ?2) \
                     ON CONFLICT (cluster_id, node) DO UPDATE SET applied_seq = excluded.applied_seq, \
                     error = excluded.error, slurm = excluded.slurm, reported_at = excluded.reported_at \
                     WHERE excluded.reported_at >= node_reports.reported_at",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        r.org_id,
                        r.cluster_id,
                        r.node,
                        r.applied_seq,
                        r.error,
                        r.slurm,
                        r.reported_at
                    ])
                })
                .map_err(backend)?;
            if !known {
                counts.insert(&r.cluster_id, count + written as u64);
            }
        }
        Ok(refused)
    }

    fn delete_node_report(&mut self, cluster_id: &str, node: &str) -> StoreResult<bool> {
        self.conn
            .prepare_cached("DELETE FROM node_reports WHERE cluster_id = ?1 AND node = ?2")
            .and_then(|mut s| s.execute(params![cluster_id, node]))
            .map(|n| n > 0)
            .map_err(backend)
    }

    fn prune_node_reports(&mut self, before: &str) -> StoreResult<u64> {
        self.conn
            .prepare_cached("DELETE FROM node_reports WHERE reported_at < ?1")
            .and_then(|mut s| s.execute(params![before]))
            .map(|n| n as u64)
            .map_err(backend)
    }

    fn approve_removal(&mut self, org_id: &str, cluster_id: &str, seq: i64) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO removal_approvals (cluster_id, org_id, through_seq) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (cluster_id) DO UPDATE SET through_seq = excluded.through_seq",
            )
            .and_then(|mut s| s.execute(params![cluster_id, org_id, seq]))
            .map(|_| ())
            .map_err(backend)
    }

    fn adopt_slurm_account(
        &mut self,
        org_id: &str,
        cluster_id: &str,
        account: &str,
    ) -> StoreResult<bool> {
        self.conn
            .prepare_cached(
                "INSERT INTO slurm_adoptions (org_id, cluster_id, account) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (cluster_id, account) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![org_id, cluster_id, account]))
            .map(|n| n > 0)
            .map_err(backend)
    }

    fn put_sign_in_outcome(
        &mut self,
        org_id: &str,
        subject_key: &str,
        o: &SignInOutcome,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO sign_in_outcomes (org_id, subject_key, ok, at, detail) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (org_id, subject_key, ok) DO UPDATE SET at = excluded.at, detail = excluded.detail",
            )
            .and_then(|mut s| s.execute(params![org_id, subject_key, o.ok, o.at, o.detail]))
            .map(|_| ())
            .map_err(backend)
    }

    fn set_members_locked(
        &mut self,
        org_id: &str,
        group_id: &str,
        locked: bool,
    ) -> StoreResult<()> {
        let sql = if locked {
            "INSERT OR IGNORE INTO group_member_locks (org_id, group_id) VALUES (?1, ?2)"
        } else {
            "DELETE FROM group_member_locks WHERE org_id = ?1 AND group_id = ?2"
        };
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params![org_id, group_id]))
            .map(|_| ())
            .map_err(backend)
    }

    fn set_group_roles(
        &mut self,
        org_id: &str,
        group_id: &str,
        roles: &[String],
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached("DELETE FROM group_roles WHERE org_id = ?1 AND group_id = ?2")
            .and_then(|mut s| s.execute(params![org_id, group_id]))
            .map_err(backend)?;
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO group_roles (org_id, group_id, role) VALUES (?1, ?2, ?3)",
            )
            .map_err(backend)?;
        for role in roles {
            st.execute(params![org_id, group_id, role])
                .map_err(backend)?;
        }
        Ok(())
    }

    fn put_server_setting(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT INTO server_settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .and_then(|mut s| s.execute(params![key, value]))
            .map(|_| ())
            .map_err(backend)
    }

    fn put_saml_settings(&mut self, org_id: &str, s: Option<&SamlSettings>) -> StoreResult<()> {
        sign_in::put_saml_settings(self.conn, org_id, s)
    }

    fn remember_assertion(&mut self, org_id: &str, id: &str, until: &str) -> StoreResult<bool> {
        sign_in::remember_assertion(self.conn, org_id, id, until)
    }

    fn insert_session(&mut self, hash: &[u8], s: &Session) -> StoreResult<()> {
        sign_in::insert_session(self.conn, hash, s)
    }

    fn end_session(&mut self, hash: &[u8], at: &str) -> StoreResult<bool> {
        sign_in::end_session(self.conn, hash, at)
    }

    fn end_sessions(&mut self, org_id: &str, id: Option<&str>, at: &str) -> StoreResult<u64> {
        sign_in::end_sessions(self.conn, org_id, id, at)
    }

    fn end_user_sessions(&mut self, org_id: &str, user_id: &str, at: &str) -> StoreResult<u64> {
        sign_in::end_user_sessions(self.conn, org_id, user_id, at)
    }

    fn insert_login_link(
        &mut self,
        hash: &[u8],
        org_id: &str,
        created: &str,
        expires: &str,
    ) -> StoreResult<()> {
        sign_in::insert_login_link(self.conn, hash, org_id, created, expires)
    }

    fn take_login_link(&mut self, hash: &[u8]) -> StoreResult<Option<(String, String)>> {
        sign_in::take_login_link(self.conn, hash)
    }

    fn prune_sign_in_state(&mut self, now: &str) -> StoreResult<()> {
        sign_in::prune(self.conn, now)
    }
}
