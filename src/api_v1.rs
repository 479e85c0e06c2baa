//! The bodies of `/api/v1`, defined once for both ends: the server writes
//! them and its clients (`roster agent`, the console) read them. A field
//! renamed on one side is a compile error, not silently empty maps; a
//! response the agent cannot parse is refused with an error that says so.
//!
//! The cluster API (a cluster's token): [`ChangesReply`], [`Snapshot`].
//! The admin API (an org's SCIM token or a browser session):
//! [`SshKeys`], [`ProvisioningLog`]; a browser session: [`SessionInfo`].
//! Every error: [`ApiError`].

use serde::{Deserialize, Serialize};

/// The header an agent names its node in (`roster agent --node-name`), on
/// its requests to the change feed: the console shows each node's last
/// applied change. A name is 1 to 64 letters, digits, '.', '-' or '_'.
pub const NODE_HEADER: &str = "x-roster-node";
/// The agent's last error, if its last pass failed (plain text).
pub const ERROR_HEADER: &str = "x-roster-error";
/// Sent ("yes") by the one agent that manages the cluster's Slurm accounts.
pub const SLURM_HEADER: &str = "x-roster-slurm";
/// On a snapshot, 200 or 304: the change-log position it reflects (a 304
/// has no body to say it).
pub const SEQ_HEADER: &str = "x-roster-seq";
/// How an agent's error begins when it holds back a mass removal.
pub const HELD_PREFIX: &str = "refusing to remove";

/// `GET /api/v1/orgs/{org}/clusters/{cluster}/changes?after=SEQ&wait=S`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangesReply {
    /// The position this answer covers: the agent may wait past it.
    pub seq: i64,
    /// The position cannot be served incrementally: fetch the snapshot.
    pub resync: bool,
    /// The changes after the agent's position that touch the cluster.
    pub changes: Vec<ChangeEntry>,
}

/// One change-log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEntry {
    pub seq: i64,
    /// `User`, `Group`, `Cluster` or `Org`.
    pub subject: String,
    /// The user's, group's or cluster's id; the org's for settings.
    pub id: String,
    /// `created`, `updated`, `deleted` or `members`.
    pub kind: String,
    pub at: String,
}

/// `GET /api/v1/orgs/{org}/clusters/{cluster}/snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The change-log position the snapshot reflects.
    pub seq: i64,
    /// RFC 3339: the latest change it reflects.
    pub modified: String,
    pub maps: Maps,
    /// The cluster's groups as Slurm accounts.
    pub accounts: Vec<SlurmAccount>,
    /// An operator approved mass removals for plans up to this change
    /// (`roster cluster approve-removal`): an agent whose snapshot is at
    /// or before it applies a removal its guard would hold back.
    #[serde(default)]
    pub removal_approved_through: Option<i64>,
}

/// How an agent asks for a delta (RFC 3229 §10.5.3, `A-IM`), with the
/// entity tag of the snapshot it has in `If-None-Match`; the server
/// answers `226 IM Used` with a [`SnapshotDelta`] when it still knows that
/// version, else the whole snapshot (200) or 304.
///
/// `-2`: map entity tags are line sums (`nss_delta::LineSum`); an agent
/// of the first format asks for `roster-delta` and is sent whole
/// snapshots, which it can check.
pub const DELTA_IM: &str = "roster-delta-2";

/// `226 IM Used` to `GET .../snapshot`: what turns the snapshot the agent
/// has (`Delta-Base`, its entity tag) into the current one (`ETag`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotDelta {
    pub seq: i64,
    pub modified: String,
    /// The four maps' changes, in `passwd`, `group`, `shadow`, `sshkey`
    /// order (`nss_delta::MAPS`).
    pub maps: Vec<LinesDelta>,
    /// Accounts new or changed (whole, with their members).
    pub accounts: Vec<SlurmAccount>,
    /// Accounts no longer the cluster's, by name.
    pub accounts_removed: Vec<String>,
    #[serde(default)]
    pub removal_approved_through: Option<i64>,
}

/// The changes to one map (`nss_delta`): keys of entries gone, lines new
/// or changed, and the entity tag of the map they make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinesDelta {
    pub removed: Vec<String>,
    pub lines: Vec<String>,
    pub etag: String,
}

/// The four NSS maps, in nsscache's cache-file formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Maps {
    pub passwd: String,
    pub group: String,
    pub shadow: String,
    pub sshkey: String,
}

/// The Organization Roster gives the Slurm accounts a Roster cluster's
/// agent creates (or adopts), by which it recognises them later: accounts
/// of other clusters, or made by hand, are never touched.
pub fn slurm_organization(roster_cluster: &str) -> String {
    format!("roster-{}", roster_cluster.to_lowercase())
}

/// A provisioned group as a Slurm account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlurmAccount {
    /// The group's POSIX name.
    pub name: String,
    pub gid: i64,
    /// The POSIX names of its active members.
    pub members: Vec<String>,
    /// The account exists in Slurm from before Roster, and an import
    /// (`roster import --slurm`) handed it to this cluster: the agent marks
    /// it as its own and manages it (else it leaves such an account alone).
    #[serde(default)]
    pub adopt: bool,
}

/// `GET` and `PUT /api/v1/orgs/{org}/users/{user}/ssh-keys`: a user's
/// keys (the answer to both). A `PUT` with a JSON body sends
/// [`SshKeysRequest`]; with a text body, one key per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshKeys {
    /// The user's id.
    pub user: String,
    pub keys: Vec<String>,
}

/// The JSON body of `PUT .../ssh-keys`: the keys that replace the user's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshKeysRequest {
    pub keys: Vec<String>,
}

/// `GET /api/v1/orgs/{org}/scim-log?failed=true&since=1h&limit=N`: the
/// org's provisioning log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisioningLog {
    pub entries: Vec<ProvisioningLogEntry>,
}

/// `GET /api/v1/orgs/{org}/audit`: who changed what, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditTrail {
    pub entries: Vec<AuditTrailEntry>,
}

/// One change: when, who, what, to which user or group, in a few words.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditTrailEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    /// Where from: the client's address, or the CLI's host.
    pub origin: String,
}

/// One SCIM request as the provisioning log keeps it (also what
/// `roster scim-log --json` prints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisioningLogEntry {
    pub at: String,
    /// The token's name; `null` when no valid token came with the request.
    pub token: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(rename = "scimType")]
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    pub latency_ms: f64,
    /// The request body, secrets removed.
    pub body: Option<String>,
}

/// `GET /api/v1/session`: the browser session the request's cookie
/// carries (for the console).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub org: OrgRef,
    /// Who signed in: a userName, or "bootstrap administrator".
    pub subject: String,
    /// The signed-in user's id; `null` for the bootstrap administrator.
    pub user_id: Option<String>,
    /// `saml` or `login-link`.
    pub method: String,
    pub created: String,
    pub expires: String,
}

/// An organization, by id and name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

/// The body of every error `/api/v1` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong, and what to do about it, for a person.
    pub error: String,
    /// A stable keyword for programs, such as `not_found`,
    /// `unauthenticated`, `forbidden`, `invalid_value`, `conflict` or
    /// `too_many_requests` (docs/api.md lists them).
    #[serde(default)]
    pub code: String,
}
