//! The storage interface, which SQLite and PostgreSQL implement; nothing
//! here is specific to either.
//!
//! Reads run in a consistent snapshot. Writes are jobs: the store runs each
//! inside a transaction (possibly together with other jobs, each in its own
//! savepoint) and calls the job's delivery only once the commit is durable.

use std::collections::HashMap;

use super::model::{
    AuditEntry, AuditQuery, Change, Cluster, GroupRef, LedgerKind, MemberRef, NodeReport, Org,
    PosixAccount, SamlSettings, ScimLogEntry, ScimLogQuery, ScimLogQuota, Session, SignInOutcome,
    StoredResource, TokenRecord,
};
use super::query::Query;
use crate::scim::schema::ResourceType;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a unique constraint was violated: {0}")]
    Unique(String),
    #[error("the store is shutting down")]
    Closed,
    /// The database cannot be reached now; the request may be retried.
    #[error("{0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Backend(String),
    #[error("the stored data is not valid: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a read sees.
pub trait ReadTx {
    /// An org by id or by name (case-insensitive).
    fn org(&mut self, id_or_name: &str) -> StoreResult<Option<Org>>;
    fn orgs(&mut self) -> StoreResult<Vec<Org>>;
    fn token_by_hash(&mut self, hash: &[u8]) -> StoreResult<Option<TokenRecord>>;
    fn tokens(&mut self, org_id: &str) -> StoreResult<Vec<TokenRecord>>;
    fn resource(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        id: &str,
    ) -> StoreResult<Option<StoredResource>>;
    fn resource_by_name(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        name_key: &str,
    ) -> StoreResult<Option<StoredResource>>;
    /// The resources matching `q`, and how many match in all.
    fn search(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        q: &Query,
    ) -> StoreResult<(u64, Vec<StoredResource>)>;
    /// Members of each group, in insertion order.
    fn members(
        &mut self,
        org_id: &str,
        group_ids: &[&str],
    ) -> StoreResult<HashMap<String, Vec<MemberRef>>>;
    /// Groups of each user, by display name.
    fn groups_of(
        &mut self,
        org_id: &str,
        user_ids: &[&str],
    ) -> StoreResult<HashMap<String, Vec<GroupRef>>>;
    /// The roles each of `group_ids` grants, by name.
    fn group_roles(
        &mut self,
        org_id: &str,
        group_ids: &[&str],
    ) -> StoreResult<HashMap<String, Vec<String>>>;
    /// Whether only an administrator may change the group's members.
    fn members_locked(&mut self, org_id: &str, group_id: &str) -> StoreResult<bool>;
    /// Which of `ids` are users and which are groups of the org.
    fn kinds(&mut self, org_id: &str, ids: &[&str]) -> StoreResult<HashMap<String, ResourceType>>;
    fn last_seq(&mut self, org_id: &str) -> StoreResult<i64>;
    /// A number that grows whenever any org's change log grows, by this
    /// process or another (the `roster` command writes directly).
    fn change_marker(&mut self) -> StoreResult<i64>;
    /// An org's provisioning log, newest first.
    fn scim_log(&mut self, org_id: &str, q: &ScimLogQuery) -> StoreResult<Vec<ScimLogEntry>>;
    /// An org's audit trail, newest first.
    fn audit(&mut self, org_id: &str, q: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    /// What a cluster's nodes last reported, by node name.
    fn node_reports(&mut self, cluster_id: &str) -> StoreResult<Vec<NodeReport>>;
    /// The existing Slurm accounts a cluster's agent is to adopt.
    fn slurm_adoptions(&mut self, cluster_id: &str) -> StoreResult<Vec<String>>;
    /// The change through which a mass removal on the cluster is approved.
    fn removal_approval(&mut self, cluster_id: &str) -> StoreResult<Option<i64>>;
    /// A person's last sign-in and last refusal (by folded subject).
    fn sign_in_outcomes(
        &mut self,
        org_id: &str,
        subject_key: &str,
    ) -> StoreResult<Vec<SignInOutcome>>;
    /// The POSIX accounts of these users or groups.
    fn posix_accounts(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        ids: &[&str],
    ) -> StoreResult<HashMap<String, PosixAccount>>;
    /// Which resource an identity was ever assigned to, if any.
    fn posix_owner(
        &mut self,
        org_id: &str,
        kind: LedgerKind,
        value: &str,
    ) -> StoreResult<Option<String>>;
    /// The org's allocation high-water marks: (next UID, next GID).
    fn next_posix_ids(&mut self, org_id: &str) -> StoreResult<(i64, i64)>;
    /// A cluster by id or name (case-insensitive).
    fn cluster(&mut self, org_id: &str, id_or_name: &str) -> StoreResult<Option<Cluster>>;
    fn clusters(&mut self, org_id: &str) -> StoreResult<Vec<Cluster>>;
    /// These resources, in no particular order; unknown ids are skipped.
    fn resources_by_ids(
        &mut self,
        org_id: &str,
        rtype: ResourceType,
        ids: &[&str],
    ) -> StoreResult<Vec<StoredResource>>;
    /// When the org's change log last grew.
    fn last_change_at(&mut self, org_id: &str) -> StoreResult<Option<String>>;
    /// Change-log entries after `after`, oldest first, at most `limit`.
    fn changes_after(
        &mut self,
        org_id: &str,
        after: i64,
        limit: u64,
    ) -> StoreResult<Vec<(i64, Change)>>;
    fn saml_settings(&mut self, org_id: &str) -> StoreResult<Option<SamlSettings>>;
    /// A session by the hash of its secret, unless it was ended.
    fn session(&mut self, hash: &[u8]) -> StoreResult<Option<Session>>;
    /// An org's sessions that were not ended, newest first.
    fn sessions(&mut self, org_id: &str) -> StoreResult<Vec<Session>>;
    /// A setting of the server's own (not of an org), such as a key.
    fn server_setting(&mut self, key: &str) -> StoreResult<Option<String>>;
}

/// What a write may do, besides reading.
pub trait WriteTx: ReadTx {
    fn insert_org(&mut self, org: &Org) -> StoreResult<()>;
    fn update_org(&mut self, org: &Org) -> StoreResult<()>;
    fn insert_token(&mut self, token: &TokenRecord) -> StoreResult<()>;
    fn revoke_token(&mut self, org_id: &str, token_id: &str, at: &str) -> StoreResult<bool>;
    fn touch_token(&mut self, token_id: &str, at: &str) -> StoreResult<()>;
    /// Inserts and returns the resource's position.
    fn insert_resource(&mut self, org_id: &str, r: &StoredResource) -> StoreResult<i64>;
    fn update_resource(&mut self, org_id: &str, r: &StoredResource) -> StoreResult<()>;
    fn delete_resource(&mut self, org_id: &str, rtype: ResourceType, id: &str)
    -> StoreResult<bool>;
    fn add_members(&mut self, org_id: &str, group_id: &str, user_ids: &[&str]) -> StoreResult<()>;
    fn remove_members(
        &mut self,
        org_id: &str,
        group_id: &str,
        user_ids: &[&str],
    ) -> StoreResult<()>;
    /// Appends to the org's change log and returns the new sequence number.
    fn append_change(&mut self, org_id: &str, change: &Change) -> StoreResult<i64>;
    fn append_scim_log(&mut self, entries: &[ScimLogEntry]) -> StoreResult<()>;
    /// Records a change in the org's audit trail, keeping the newest
    /// `keep` entries.
    fn append_audit(&mut self, org_id: &str, e: &AuditEntry, keep: u64) -> StoreResult<()>;
    /// Records nodes' reports, each replacing the node's last one unless
    /// that one is newer (replicas flush what they heard independently).
    /// A node the cluster has no report of is added only while the cluster
    /// has fewer than `max_nodes` (docs/security.md, "Nodes and cluster
    /// tokens"); returns how many such new nodes were refused.
    fn put_node_reports(&mut self, reports: &[NodeReport], max_nodes: u64) -> StoreResult<u64>;
    /// Forgets one node of a cluster; false when it had no report.
    fn delete_node_report(&mut self, cluster_id: &str, node: &str) -> StoreResult<bool>;
    /// Forgets every node last heard from before `before`; returns how many.
    fn prune_node_reports(&mut self, before: &str) -> StoreResult<u64>;
    /// Approves a mass removal on a cluster through change `seq`.
    fn approve_removal(&mut self, org_id: &str, cluster_id: &str, seq: i64) -> StoreResult<()>;
    /// Hands an existing Slurm account to a cluster's agent; false if it
    /// already was.
    fn adopt_slurm_account(
        &mut self,
        org_id: &str,
        cluster_id: &str,
        account: &str,
    ) -> StoreResult<bool>;
    /// Records how a sign-in ended, replacing the subject's last one of
    /// the same outcome.
    fn put_sign_in_outcome(
        &mut self,
        org_id: &str,
        subject_key: &str,
        outcome: &SignInOutcome,
    ) -> StoreResult<()>;
    fn put_posix_account(&mut self, org_id: &str, account: &PosixAccount) -> StoreResult<()>;
    /// Records that `value` is assigned to `resource_id`, for ever.
    fn claim_posix(
        &mut self,
        org_id: &str,
        kind: LedgerKind,
        value: &str,
        resource_id: &str,
    ) -> StoreResult<()>;
    fn set_next_posix_ids(&mut self, org_id: &str, next_uid: i64, next_gid: i64)
    -> StoreResult<()>;
    /// Hands a kept identity (`held`: its POSIX account, and the ledger
    /// entries of its UID, GID and name) to `to`: an imported identity
    /// claimed by the person it was kept for.
    fn transfer_posix(&mut self, org_id: &str, held: &PosixAccount, to: &str) -> StoreResult<()>;
    fn insert_cluster(&mut self, cluster: &Cluster) -> StoreResult<()>;
    /// Replaces the cluster's group list.
    fn set_cluster_groups(
        &mut self,
        cluster_id: &str,
        group_ids: &[String],
        modified: &str,
    ) -> StoreResult<()>;
    /// Keeps at most `quota.max_entries` entries, and `quota.max_bytes` of
    /// paths, details and bodies, of the IdP's entries (or, with
    /// `quota.from_idp` false, of everyone else's) for each of `org_ids`,
    /// dropping the oldest; and, given a `cutoff`, none older than it in
    /// any org.
    fn prune_scim_log(
        &mut self,
        org_ids: &[&str],
        quota: ScimLogQuota,
        cutoff: Option<&str>,
    ) -> StoreResult<()>;
    /// Sets (or with `None` removes) the org's SAML configuration.
    fn put_saml_settings(&mut self, org_id: &str, s: Option<&SamlSettings>) -> StoreResult<()>;
    /// Records a used assertion id; false when it was already used.
    fn remember_assertion(&mut self, org_id: &str, id: &str, until: &str) -> StoreResult<bool>;
    fn insert_session(&mut self, hash: &[u8], s: &Session) -> StoreResult<()>;
    /// Ends a session; false when there was none to end.
    fn end_session(&mut self, hash: &[u8], at: &str) -> StoreResult<bool>;
    /// Ends one session of an org by its public id, or all of them;
    /// returns how many were ended.
    fn end_sessions(&mut self, org_id: &str, id: Option<&str>, at: &str) -> StoreResult<u64>;
    /// Ends every live session of one user (deactivated or deleted);
    /// returns how many were ended.
    fn end_user_sessions(&mut self, org_id: &str, user_id: &str, at: &str) -> StoreResult<u64>;
    fn insert_login_link(
        &mut self,
        hash: &[u8],
        org_id: &str,
        created: &str,
        expires: &str,
    ) -> StoreResult<()>;
    /// Removes and returns a login link's (org id, expiry): each works once.
    fn take_login_link(&mut self, hash: &[u8]) -> StoreResult<Option<(String, String)>>;
    /// Forgets requests, assertion ids, sessions and links expired before `now`.
    fn prune_sign_in_state(&mut self, now: &str) -> StoreResult<()>;
    /// Locks (or unlocks) a group's members against the IdP's writes.
    fn set_members_locked(&mut self, org_id: &str, group_id: &str, locked: bool)
    -> StoreResult<()>;
    /// Replaces the roles a group grants.
    fn set_group_roles(
        &mut self,
        org_id: &str,
        group_id: &str,
        roles: &[String],
    ) -> StoreResult<()>;
    /// Sets a setting of the server's own.
    fn put_server_setting(&mut self, key: &str, value: &str) -> StoreResult<()>;
}

/// Called once the job's transaction has committed durably, or failed.
pub type Delivery = Box<dyn FnOnce(StoreResult<()>) + Send>;

/// Carries a write out inside a transaction; says whether to keep it.
pub type WriteRun = Box<dyn FnMut(&mut dyn WriteTx) -> bool + Send>;

/// A write job. `run` carries it out inside the store's transaction and
/// says whether its changes are to be kept; a store may roll it back and
/// run it again in a new transaction when the database asks for that
/// (PostgreSQL's serialization failures and deadlocks, SQLSTATE 40001 and
/// 40P01), so it must depend only on what it reads through the
/// transaction. `deliver` hears the outcome of the commit, once.
pub struct WriteJob {
    pub run: WriteRun,
    pub deliver: Delivery,
}

/// A read job, run on a blocking thread.
pub type ReadJob<'a> = &'a mut dyn FnMut(&mut dyn ReadTx) -> StoreResult<()>;

pub trait Store: Send + Sync + 'static {
    /// Runs `job` in a read snapshot; blocks the calling thread.
    fn read(&self, job: ReadJob<'_>) -> StoreResult<()>;
    /// Queues `job`; its delivery runs after the commit.
    fn write(&self, job: WriteJob) -> StoreResult<()>;
    /// Commit batch sizes so far, for metrics.
    fn commit_stats(&self) -> CommitStats;
    /// How many reads may run at once; more wait their turn rather than
    /// piling up threads and connections.
    fn max_concurrent_reads(&self) -> usize;
    /// Whether a read of a few indexed rows may run on the caller's
    /// thread (an embedded database answers in microseconds); a store
    /// across the network says no.
    fn reads_inline(&self) -> bool {
        false
    }
    /// Registers `wake`, to be called when another process extends a
    /// change log (PostgreSQL's LISTEN/NOTIFY). False when the store cannot
    /// tell: the directory then relies on its periodic check alone.
    fn on_external_change(&self, _wake: std::sync::Arc<dyn Fn() + Send + Sync>) -> bool {
        false
    }
}

/// The upper bounds of [`CommitStats::batch_buckets`]: how many jobs one
/// durable commit carried (a store that commits in batches fills them).
pub const BATCH_BUCKETS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

#[derive(Debug, Clone, Copy, Default)]
pub struct CommitStats {
    pub commits: u64,
    pub jobs: u64,
    pub max_batch: u64,
    /// Commits by batch size, bucketed by [`BATCH_BUCKETS`].
    pub batch_buckets: [u64; BATCH_BUCKETS.len()],
}
