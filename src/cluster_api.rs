//! The cluster API's bodies, defined once for both ends: the server
//! writes them (`server::feed`) and `roster agent` reads them. A field
//! renamed on one side is a compile error, not silently empty maps; a
//! response the agent cannot parse is refused with an error that says so.

use serde::{Deserialize, Serialize};

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
}

/// The four NSS maps, in nsscache's cache-file formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Maps {
    pub passwd: String,
    pub group: String,
    pub shadow: String,
    pub sshkey: String,
}

/// A provisioned group as a Slurm account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlurmAccount {
    /// The group's POSIX name.
    pub name: String,
    pub gid: i64,
    /// The POSIX names of its active members.
    pub members: Vec<String>,
}

/// The body of every error the cluster API answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}
