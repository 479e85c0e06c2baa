//! Writes: [`WriteTx`] over PostgreSQL.

use super::rows::{SESSION_COLUMNS, table};
use super::{PgTx, backend};
use crate::directory::model::{
    AuditEntry, Change, Cluster, LedgerKind, NodeReport, Org, PosixAccount, ResourceType,
    SamlSettings, ScimLogEntry, ScimLogQuota, Session, SignInOutcome, StoredResource, TokenRecord,
};
use crate::directory::query::fold;
use crate::directory::store::{StoreError, StoreResult, WriteTx};

fn doc_text(r: &StoredResource) -> StoreResult<String> {
    serde_json::to_string(&r.doc).map_err(|e| StoreError::Backend(e.to_string()))
}

fn limit(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgTx<'_, '_> {
    fn group_position(&mut self, org_id: &str, group_id: &str) -> StoreResult<i64> {
        self.position_of(org_id, ResourceType::Group, group_id)?
            .ok_or_else(|| StoreError::Backend(format!("group {group_id} vanished")))
    }
}

impl WriteTx for PgTx<'_, '_> {
    fn insert_org(&mut self, org: &Org) -> StoreResult<()> {
        let s = &org.settings;
        self.execute(
            "INSERT INTO orgs (id, name, name_key, created, scim_api, aup, sup, legacy_groups, jit, reserved_names, uid_min, uid_max, gid_min, gid_max, allow_reserved_ids) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            &[&org.id, &org.name, &fold(&org.name), &org.created, &s.scim_api, &s.aup, &s.sup, &s.legacy_groups, &s.jit, &org.reserved_names.join("\n"), &s.ids.uid.0, &s.ids.uid.1, &s.ids.gid.0, &s.ids.gid.1, &s.ids.allow_reserved],
        )?;
        Ok(())
    }

    fn update_org(&mut self, org: &Org) -> StoreResult<()> {
        let s = &org.settings;
        self.execute(
            "UPDATE orgs SET name = $2, name_key = $3, scim_api = $4, aup = $5, sup = $6, legacy_groups = $7, jit = $8, reserved_names = $9, \
             uid_min = $10, uid_max = $11, gid_min = $12, gid_max = $13, allow_reserved_ids = $14 WHERE id = $1",
            &[&org.id, &org.name, &fold(&org.name), &s.scim_api, &s.aup, &s.sup, &s.legacy_groups, &s.jit, &org.reserved_names.join("\n"), &s.ids.uid.0, &s.ids.uid.1, &s.ids.gid.0, &s.ids.gid.1, &s.ids.allow_reserved],
        )?;
        Ok(())
    }

    fn insert_token(&mut self, t: &TokenRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO tokens (id, org_id, name, hash, created, cluster_id) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&t.id, &t.org_id, &t.name, &t.hash, &t.created, &t.cluster_id],
        )?;
        Ok(())
    }

    fn revoke_token(&mut self, org_id: &str, token_id: &str, at: &str) -> StoreResult<bool> {
        Ok(self.execute(
            "UPDATE tokens SET revoked = $3 WHERE org_id = $1 AND id = $2 AND revoked IS NULL",
            &[&org_id, &token_id, &at],
        )? > 0)
    }

    fn touch_token(&mut self, token_id: &str, at: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE tokens SET last_used = $2 WHERE id = $1",
            &[&token_id, &at],
        )?;
        Ok(())
    }

    fn insert_resource(&mut self, org_id: &str, r: &StoredResource) -> StoreResult<i64> {
        let sql = format!(
            "INSERT INTO {} (org_id, id, name_key, display_key, external_id, doc, created, modified, version) \
             VALUES ($1, $2, $3, $4, $5, $6::text::json, $7, $8, $9) RETURNING position",
            table(r.rtype)
        );
        let doc = doc_text(r)?;
        self.query_one(
            &sql,
            &[
                &org_id,
                &r.id,
                &r.name_key,
                &r.display_key,
                &r.external_id,
                &doc,
                &r.created,
                &r.modified,
                &r.version,
            ],
        )?
        .try_get(0)
        .map_err(backend)
    }

    fn update_resource(&mut self, org_id: &str, r: &StoredResource) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET name_key = $3, display_key = $4, external_id = $5, doc = $6::text::json, modified = $7, version = $8 \
             WHERE org_id = $1 AND id = $2",
            table(r.rtype)
        );
        let doc = doc_text(r)?;
        self.execute(
            &sql,
            &[
                &org_id,
                &r.id,
                &r.name_key,
                &r.display_key,
                &r.external_id,
                &doc,
                &r.modified,
                &r.version,
            ],
        )?;
        Ok(())
    }

    fn delete_resource(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        id: &str,
    ) -> StoreResult<bool> {
        // The account goes with the resource; the ledger keeps its ids.
        self.execute(
            "DELETE FROM posix_accounts WHERE org_id = $1 AND resource_type = $2 AND resource_id = $3",
            &[&org_id, &rtype.name(), &id],
        )?;
        if rtype == ResourceType::Group {
            self.set_group_roles(org_id, id, &[])?;
            self.set_members_locked(org_id, id, false)?;
        }
        let sql = format!("DELETE FROM {} WHERE org_id = $1 AND id = $2", table(rtype));
        Ok(self.execute(&sql, &[&org_id, &id])? > 0)
    }

    fn add_members(&mut self, org_id: &str, group_id: &str, user_ids: &[&str]) -> StoreResult<()> {
        let g = self.group_position(org_id, group_id)?;
        // In the order given: members list in insertion order.
        for u in user_ids {
            self.execute(
                "INSERT INTO memberships (group_pos, user_pos) SELECT $1, position FROM users WHERE org_id = $2 AND id = $3 \
                 ON CONFLICT DO NOTHING",
                &[&g, &org_id, u],
            )?;
        }
        Ok(())
    }

    fn remove_members(
        &mut self,
        org_id: &str,
        group_id: &str,
        user_ids: &[&str],
    ) -> StoreResult<()> {
        let g = self.group_position(org_id, group_id)?;
        self.execute(
            "DELETE FROM memberships WHERE group_pos = $1 AND user_pos IN \
             (SELECT position FROM users WHERE org_id = $2 AND id = ANY($3))",
            &[&g, &org_id, &user_ids],
        )?;
        Ok(())
    }

    fn append_change(&mut self, org_id: &str, c: &Change) -> StoreResult<i64> {
        self.changed = true;
        // The counter row: taken in the writing transaction, so sequence
        // order is commit order on every replica.
        let seq: i64 = self
            .query_one(
                "UPDATE orgs SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
                &[&org_id],
            )?
            .try_get(0)
            .map_err(backend)?;
        self.execute(
            "INSERT INTO changes (org_id, seq, at, resource_type, resource_id, kind) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&org_id, &seq, &c.at, &c.subject.as_str(), &c.resource_id, &c.kind.as_str()],
        )?;
        Ok(seq)
    }

    fn put_posix_account(&mut self, org_id: &str, a: &PosixAccount) -> StoreResult<()> {
        self.execute(
            "INSERT INTO posix_accounts (org_id, resource_type, resource_id, uid, gid, name, home, shell) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (org_id, resource_type, resource_id) DO UPDATE SET uid = EXCLUDED.uid, gid = EXCLUDED.gid, \
             name = EXCLUDED.name, home = EXCLUDED.home, shell = EXCLUDED.shell",
            &[&org_id, &a.rtype.name(), &a.resource_id, &a.uid, &a.gid, &a.name, &a.home, &a.shell],
        )?;
        Ok(())
    }

    fn claim_posix(
        &mut self,
        org_id: &str,
        kind: LedgerKind,
        value: &str,
        resource_id: &str,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO posix_ledger (org_id, kind, value, resource_id) VALUES ($1, $2, $3, $4)",
            &[&org_id, &kind.as_str(), &value, &resource_id],
        )?;
        Ok(())
    }

    fn set_next_posix_ids(
        &mut self,
        org_id: &str,
        next_uid: i64,
        next_gid: i64,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE orgs SET next_uid = $2, next_gid = $3 WHERE id = $1",
            &[&org_id, &next_uid, &next_gid],
        )?;
        Ok(())
    }

    fn insert_cluster(&mut self, c: &Cluster) -> StoreResult<()> {
        self.execute(
            "INSERT INTO clusters (id, org_id, name, name_key, created, modified) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&c.id, &c.org_id, &c.name, &fold(&c.name), &c.created, &c.modified],
        )?;
        self.set_cluster_groups(&c.id, &c.group_ids, &c.modified)
    }

    fn set_cluster_groups(
        &mut self,
        cluster_id: &str,
        group_ids: &[String],
        modified: &str,
    ) -> StoreResult<()> {
        self.execute(
            "DELETE FROM cluster_groups WHERE cluster_id = $1",
            &[&cluster_id],
        )?;
        self.execute(
            "INSERT INTO cluster_groups (cluster_id, group_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
            &[&cluster_id, &group_ids],
        )?;
        self.execute(
            "UPDATE clusters SET modified = $2 WHERE id = $1",
            &[&cluster_id, &modified],
        )?;
        Ok(())
    }

    fn append_scim_log(&mut self, entries: &[ScimLogEntry]) -> StoreResult<()> {
        for e in entries {
            self.execute(
                "INSERT INTO scim_log (org_id, at, token_name, method, path, status, scim_type, detail, latency_ms, body, from_idp) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE EXISTS (SELECT 1 FROM orgs WHERE id = $1)",
                &[&e.org_id, &e.at, &e.token_name, &e.method, &e.path, &i32::from(e.status), &e.scim_type, &e.detail, &e.latency_ms, &e.body, &i32::from(e.from_idp)],
            )?;
        }
        Ok(())
    }

    fn prune_scim_log(
        &mut self,
        org_ids: &[&str],
        quota: ScimLogQuota,
        cutoff: Option<&str>,
    ) -> StoreResult<()> {
        let from_idp = i32::from(quota.from_idp);
        if let Some(cutoff) = cutoff {
            self.execute("DELETE FROM scim_log WHERE at < $1", &[&cutoff])?;
        }
        for org in org_ids {
            self.execute(
                "DELETE FROM scim_log WHERE org_id = $1 AND from_idp = $3 AND id <= \
                 (SELECT id FROM scim_log WHERE org_id = $1 AND from_idp = $3 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                &[org, &limit(quota.max_entries), &from_idp],
            )?;
            // Newest first, the running size; everything from the first
            // entry past the limit on is removed.
            self.execute(
                "DELETE FROM scim_log WHERE org_id = $1 AND from_idp = $3 AND id <= \
                 (SELECT id FROM (SELECT id, sum(length(path) + coalesce(length(detail), 0) + coalesce(length(body), 0)) \
                   OVER (ORDER BY id DESC) AS running FROM scim_log WHERE org_id = $1 AND from_idp = $3) AS sized \
                  WHERE running > $2 ORDER BY id DESC LIMIT 1)",
                &[org, &limit(quota.max_bytes), &from_idp],
            )?;
        }
        Ok(())
    }

    fn transfer_posix(&mut self, org_id: &str, held: &PosixAccount, to: &str) -> StoreResult<()> {
        let from = held.resource_id.as_str();
        for (kind, value) in held.ledger_entries() {
            self.execute(
                "UPDATE posix_ledger SET resource_id = $5 WHERE org_id = $1 AND kind = $2 AND value = $3 AND resource_id = $4",
                &[&org_id, &kind.as_str(), &value, &from, &to],
            )?;
        }
        self.execute(
            "UPDATE posix_accounts SET resource_id = $4 WHERE org_id = $1 AND resource_type = $2 AND resource_id = $3",
            &[&org_id, &held.rtype.name(), &from, &to],
        )?;
        Ok(())
    }

    fn append_audit(&mut self, org_id: &str, e: &AuditEntry, keep: u64) -> StoreResult<()> {
        let id: i64 = self
            .query_one(
                "INSERT INTO audit_log (org_id, at, actor, action, target, detail, origin) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[&org_id, &e.at, &e.actor, &e.action, &e.target, &e.detail, &e.origin],
            )?
            .try_get(0)
            .map_err(backend)?;
        // An org's oldest entries beyond `keep` go, checked every so often.
        if id % 256 == 0 {
            self.execute(
                "DELETE FROM audit_log WHERE org_id = $1 AND id < (SELECT id FROM audit_log WHERE org_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                &[&org_id, &i64::try_from(keep).unwrap_or(i64::MAX)],
            )?;
        }
        Ok(())
    }

    fn put_node_reports(&mut self, reports: &[NodeReport], max_nodes: u64) -> StoreResult<u64> {
        // As SQLite's: each cluster's count read once per batch. Replicas
        // flushing at once may each add a few past the cap; it bounds the
        // table, not a count to the node.
        let mut counts: std::collections::HashMap<&str, u64> = Default::default();
        let mut refused = 0;
        for r in reports {
            let known = self
                .query_opt(
                    "SELECT 1 FROM node_reports WHERE cluster_id = $1 AND node = $2",
                    &[&r.cluster_id, &r.node],
                )?
                .is_some();
            let count = match (known, counts.get(r.cluster_id.as_str())) {
                (true, _) => 0,
                (false, Some(n)) => *n,
                (false, None) => {
                    let n: i64 = self
                        .query_one(
                            "SELECT COUNT(*) FROM node_reports WHERE cluster_id = $1",
                            &[&r.cluster_id],
                        )?
                        .try_get(0)
                        .map_err(backend)?;
                    u64::try_from(n).unwrap_or(0)
                }
            };
            if !known && count >= max_nodes {
                refused += 1;
                counts.insert(&r.cluster_id, count);
                continue;
            }
            let written = self.execute(
                "INSERT INTO node_reports (org_id, cluster_id, node, applied_seq, error, slurm, reported_at) \
                 SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM clusters WHERE id = $2) \
                 ON CONFLICT (cluster_id, node) DO UPDATE SET applied_seq = EXCLUDED.applied_seq, \
                 error = EXCLUDED.error, slurm = EXCLUDED.slurm, reported_at = EXCLUDED.reported_at \
                 WHERE EXCLUDED.reported_at >= node_reports.reported_at",
                &[
                    &r.org_id,
                    &r.cluster_id,
                    &r.node,
                    &r.applied_seq,
                    &r.error,
                    &r.slurm,
                    &r.reported_at,
                ],
            )?;
            if !known {
                counts.insert(&r.cluster_id, count + written);
            }
        }
        Ok(refused)
    }

    fn delete_node_report(&mut self, cluster_id: &str, node: &str) -> StoreResult<bool> {
        self.execute(
            "DELETE FROM node_reports WHERE cluster_id = $1 AND node = $2",
            &[&cluster_id, &node],
        )
        .map(|n| n > 0)
    }

    fn prune_node_reports(&mut self, before: &str) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM node_reports WHERE reported_at < $1",
            &[&before],
        )
    }

    fn approve_removal(&mut self, org_id: &str, cluster_id: &str, seq: i64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO removal_approvals (cluster_id, org_id, through_seq) VALUES ($1, $2, $3) \
             ON CONFLICT (cluster_id) DO UPDATE SET through_seq = EXCLUDED.through_seq",
            &[&cluster_id, &org_id, &seq],
        )?;
        Ok(())
    }

    fn adopt_slurm_account(
        &mut self,
        org_id: &str,
        cluster_id: &str,
        account: &str,
    ) -> StoreResult<bool> {
        let n = self.execute(
            "INSERT INTO slurm_adoptions (org_id, cluster_id, account) VALUES ($1, $2, $3) \
             ON CONFLICT (cluster_id, account) DO NOTHING",
            &[&org_id, &cluster_id, &account],
        )?;
        Ok(n > 0)
    }

    fn put_sign_in_outcome(
        &mut self,
        org_id: &str,
        subject_key: &str,
        o: &SignInOutcome,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO sign_in_outcomes (org_id, subject_key, ok, at, detail) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (org_id, subject_key, ok) DO UPDATE SET at = EXCLUDED.at, detail = EXCLUDED.detail",
            &[&org_id, &subject_key, &o.ok, &o.at, &o.detail],
        )?;
        Ok(())
    }

    fn set_members_locked(
        &mut self,
        org_id: &str,
        group_id: &str,
        locked: bool,
    ) -> StoreResult<()> {
        let sql = if locked {
            "INSERT INTO group_member_locks (org_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM group_member_locks WHERE org_id = $1 AND group_id = $2"
        };
        self.execute(sql, &[&org_id, &group_id])?;
        Ok(())
    }

    fn set_group_roles(
        &mut self,
        org_id: &str,
        group_id: &str,
        roles: &[String],
    ) -> StoreResult<()> {
        self.execute(
            "DELETE FROM group_roles WHERE org_id = $1 AND group_id = $2",
            &[&org_id, &group_id],
        )?;
        for role in roles {
            self.execute(
                "INSERT INTO group_roles (org_id, group_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&org_id, &group_id, role],
            )?;
        }
        Ok(())
    }

    fn put_server_setting(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.execute(
            "INSERT INTO server_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn put_saml_settings(&mut self, org_id: &str, s: Option<&SamlSettings>) -> StoreResult<()> {
        let Some(s) = s else {
            self.execute("DELETE FROM saml_settings WHERE org_id = $1", &[&org_id])?;
            return Ok(());
        };
        let certs: Vec<String> = s.idp.certificates.iter().map(|c| c.to_base64()).collect();
        self.execute(
            "INSERT INTO saml_settings (org_id, idp_entity_id, sso_url, certificates, require_signed_assertion, allow_idp_initiated, metadata_url, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (org_id) DO UPDATE SET idp_entity_id = $2, sso_url = $3, certificates = $4, \
             require_signed_assertion = $5, allow_idp_initiated = $6, metadata_url = $7, updated = $8",
            &[&org_id, &s.idp.entity_id, &s.idp.sso_url, &certs.join("\n"), &s.idp.require_signed_assertion, &s.idp.allow_idp_initiated, &s.metadata_url, &s.updated],
        )?;
        Ok(())
    }

    fn remember_assertion(&mut self, org_id: &str, id: &str, until: &str) -> StoreResult<bool> {
        Ok(self.execute(
            "INSERT INTO saml_assertions (org_id, id, expires) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&org_id, &id, &until],
        )? == 1)
    }

    fn insert_session(&mut self, hash: &[u8], s: &Session) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO sessions (hash, {SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        self.execute(
            &sql,
            &[
                &hash, &s.id, &s.org_id, &s.user_id, &s.subject, &s.method, &s.created, &s.expires,
            ],
        )?;
        Ok(())
    }

    fn end_session(&mut self, hash: &[u8], at: &str) -> StoreResult<bool> {
        Ok(self.execute(
            "UPDATE sessions SET ended = $2 WHERE hash = $1 AND ended IS NULL",
            &[&hash, &at],
        )? == 1)
    }

    fn end_sessions(&mut self, org_id: &str, id: Option<&str>, at: &str) -> StoreResult<u64> {
        self.execute(
            "UPDATE sessions SET ended = $3 WHERE org_id = $1 AND ended IS NULL AND ($2::text IS NULL OR id = $2)",
            &[&org_id, &id, &at],
        )
    }

    fn end_user_sessions(&mut self, org_id: &str, user_id: &str, at: &str) -> StoreResult<u64> {
        self.execute(
            "UPDATE sessions SET ended = $3 WHERE org_id = $1 AND user_id = $2 AND ended IS NULL",
            &[&org_id, &user_id, &at],
        )
    }

    fn insert_login_link(
        &mut self,
        hash: &[u8],
        org_id: &str,
        created: &str,
        expires: &str,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO login_links (hash, org_id, created, expires) VALUES ($1, $2, $3, $4)",
            &[&hash, &org_id, &created, &expires],
        )?;
        Ok(())
    }

    fn take_login_link(&mut self, hash: &[u8]) -> StoreResult<Option<(String, String)>> {
        self.query_opt(
            "DELETE FROM login_links WHERE hash = $1 RETURNING org_id, expires",
            &[&hash],
        )?
        .map(|r| {
            Ok((
                r.try_get(0).map_err(backend)?,
                r.try_get(1).map_err(backend)?,
            ))
        })
        .transpose()
    }

    fn prune_sign_in_state(&mut self, now: &str) -> StoreResult<()> {
        for table in ["saml_assertions", "sessions", "login_links"] {
            self.execute(&format!("DELETE FROM {table} WHERE expires < $1"), &[&now])?;
        }
        Ok(())
    }
}
