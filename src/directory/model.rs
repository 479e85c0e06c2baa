//! The directory's records.

use crate::scim::resource::Document;

// The protocol types the domain holds as its own: a store reads and writes
// them through the directory, never from the protocol modules.
pub use crate::saml::{Certificate, IdpConfig};
pub use crate::scim::schema::ResourceType;

/// An organization: a tenant with its own users, groups, tokens and
/// settings. `id` appears in URLs; `name` is unique, case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub created: String,
    pub settings: OrgSettings,
    /// POSIX names this org keeps from every user and group, besides the
    /// system names every org keeps (`reserved_names::SYSTEM_NAMES`).
    pub reserved_names: Vec<String>,
}

/// The toggles of the console's SCIM Configuration page (docs/console.md,
/// "Pages"). All start off, so each needs an explicit choice (docs/okta.md,
/// "2. Prepare the organization in Roster"). Just-in-time accounts start
/// on (docs/saml.md, "Commands").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgSettings {
    /// "Enable SCIM API": off, every `/scim/{org}` request gets 403.
    pub scim_api: bool,
    /// "Enable Automated User Provisioning": off, SCIM writes get 403.
    pub aup: bool,
    /// "Enable SUNK User Provisioning".
    pub sup: bool,
    /// Created with the legacy default groups.
    pub legacy_groups: bool,
    /// A person's first SAML sign-in creates their user when none exists.
    pub jit: bool,
    /// The UID and GID ranges new identities come from.
    pub ids: super::posix_rules::IdRanges,
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            scim_api: false,
            aup: false,
            sup: false,
            legacy_groups: false,
            jit: true,
            ids: Default::default(),
        }
    }
}

/// An org's SAML SSO configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlSettings {
    pub idp: IdpConfig,
    /// Where the metadata came from, when it was fetched.
    pub metadata_url: Option<String>,
    pub updated: String,
}

/// Why an AuthnRequest was sent: a sign-in, or the "Test" step that
/// shows what the IdP sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInPurpose {
    SignIn,
    Test,
}

impl SignInPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInPurpose::SignIn => "sign-in",
            SignInPurpose::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "test" {
            SignInPurpose::Test
        } else {
            SignInPurpose::SignIn
        }
    }
}

/// A browser session. Stored under a hash of its secret, like tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// A public id, for logs (never the secret).
    pub id: String,
    pub org_id: String,
    /// The signed-in user; `None` for the org's bootstrap administrator.
    pub user_id: Option<String>,
    /// The userName, or "bootstrap administrator".
    pub subject: String,
    /// How it began: "saml" or "login-link".
    pub method: String,
    pub created: String,
    pub expires: String,
}

/// A SCIM bearer token as stored: only a hash of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub hash: Vec<u8>,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
    /// For a cluster's read-only token: the cluster.
    pub cluster_id: Option<String>,
}

pub const IAM_ADMIN: &str = "IAM Admin";
pub const IAM_VIEWER: &str = "IAM Viewer";

/// How far a caller reaches, from least to most: the roles a signed-in
/// person's groups carry (docs/console.md, "Roles"), and for a token or
/// the CLI what it is. Domain writes need [`Access::Admin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Their own Settings only.
    Member,
    /// Every page of the org, read-only.
    Viewer,
    /// Everything, for the org.
    Admin,
}

impl Access {
    /// The access the roles give.
    pub fn of_roles<'a>(roles: impl IntoIterator<Item = &'a str>) -> Access {
        roles
            .into_iter()
            .map(|r| match r {
                IAM_ADMIN => Access::Admin,
                IAM_VIEWER => Access::Viewer,
                _ => Access::Member,
            })
            .max()
            .unwrap_or(Access::Member)
    }

    /// The refusal of what needs `self` to `who`, which names the role to
    /// ask for.
    pub fn refusal(self, who: &str) -> String {
        format!(
            "this needs the \"{}\" role, which {who} does not have; an administrator grants it by \
             adding them to a group that carries it",
            self.role()
        )
    }

    /// The role that gives this access, to name in a refusal.
    pub fn role(self) -> &'static str {
        match self {
            Access::Admin => IAM_ADMIN,
            Access::Viewer => IAM_VIEWER,
            Access::Member => "none",
        }
    }
}

/// Who is making a request: an org and the token it presented, or an
/// administrator at the command line.
#[derive(Debug, Clone)]
pub struct Principal {
    pub org: Org,
    pub token_id: String,
    pub token_name: String,
    /// True for an identity provider's SCIM token: its writes need
    /// Automated User Provisioning on. Administrators provision by hand
    /// whatever the toggle says (docs/scim.md, "Endpoints").
    pub via_scim: bool,
    /// A cluster's read-only token: reads that cluster's maps and SCIM
    /// resources, writes nothing.
    pub cluster_id: Option<String>,
    /// What the caller may do: every write needs [`Access::Admin`] (the
    /// CLI, an IdP's SCIM token, an IAM Admin at the console), checked by
    /// the domain whatever the handler did; an IAM Viewer and a cluster's
    /// token read.
    pub access: Access,
    /// At the console, the signed-in person's own user: a member without
    /// roles may still set their own SSH keys.
    pub user_id: Option<String>,
    /// Where the request came from, for the audit trail: the client's
    /// address, or the CLI's host.
    pub origin: String,
}

impl Principal {
    pub fn admin(org: Org) -> Self {
        Principal {
            org,
            token_id: String::new(),
            token_name: "roster CLI".into(),
            via_scim: false,
            cluster_id: None,
            access: Access::Admin,
            user_id: None,
            origin: String::new(),
        }
    }

    /// Who this principal is, in the audit trail's words.
    pub fn actor(&self) -> Actor {
        let name = if self.token_name.starts_with("console: ")
            || self.token_name.starts_with("roster CLI")
        {
            self.token_name.clone()
        } else {
            format!("token {}", self.token_name)
        };
        Actor {
            name,
            origin: self.origin.clone(),
        }
    }
}

/// Who makes a change, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// "token Okta", "console: ada@example.com", "roster CLI (alice)".
    pub name: String,
    /// The client's address, or the CLI's host.
    pub origin: String,
}

impl Actor {
    /// The operator at a terminal: their Unix user, on this host.
    pub fn cli(user: &str, host: &str) -> Actor {
        Actor {
            name: format!("roster CLI ({user})"),
            origin: host.to_string(),
        }
    }
}

/// A user or group as stored. `position` is the store's insertion order,
/// which gives lists their stable default order.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub position: i64,
    pub rtype: ResourceType,
    pub id: String,
    /// For users the case-folded `userName`, for groups the case-folded
    /// `displayName`: unique within an org.
    pub name_key: String,
    /// The case-folded `displayName`, for indexed look-ups.
    pub display_key: Option<String>,
    pub external_id: Option<String>,
    /// Attributes, without `id`, `meta`, `members` or `groups`.
    pub doc: Document,
    pub created: String,
    pub modified: String,
    pub version: i64,
}

impl StoredResource {
    /// Whether a user is active: RFC 7643 §4.1.1's `active`, absent
    /// meaning active (IdPs that never send it provision active users).
    pub fn is_active(&self) -> bool {
        self.doc.get("active").and_then(serde_json::Value::as_bool) != Some(false)
    }
}

/// A member of a group, as listed in the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub user_id: String,
    pub display: String,
    /// With SUP on, the member's POSIX username.
    pub posix_name: Option<String>,
}

/// A group a user belongs to, as listed in the user's `groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub group_id: String,
    pub display: String,
}

/// What a change-log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
    MembersChanged,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
            ChangeKind::MembersChanged => "members",
        }
    }

    /// The kind [`ChangeKind::as_str`] wrote (a store reading it back).
    pub fn parse(s: &str) -> Self {
        match s {
            "created" => ChangeKind::Created,
            "deleted" => ChangeKind::Deleted,
            "members" => ChangeKind::MembersChanged,
            _ => ChangeKind::Updated,
        }
    }
}

/// What a change-log entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Resource(ResourceType),
    /// A cluster's group list.
    Cluster,
    /// The org's settings (SUP turned on assigns identities to everyone).
    Org,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Resource(r) => r.name(),
            Subject::Cluster => "Cluster",
            Subject::Org => "Org",
        }
    }

    /// The subject [`Subject::as_str`] wrote (a store reading it back).
    pub fn parse(s: &str) -> Self {
        match s {
            "User" => Subject::Resource(ResourceType::User),
            "Group" => Subject::Resource(ResourceType::Group),
            "Cluster" => Subject::Cluster,
            _ => Subject::Org,
        }
    }
}

/// An entry of an org's change log, committed with the write it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub subject: Subject,
    /// The user's, group's or cluster's id; the org's for settings.
    pub resource_id: String,
    pub kind: ChangeKind,
    pub at: String,
}

/// A user's or group's POSIX identity, as assigned (docs/scim.md, "SUNK
/// User Provisioning"). `home` and `shell` are `None` when no override is
/// given and the org's defaults apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixAccount {
    pub rtype: ResourceType,
    pub resource_id: String,
    /// Users only.
    pub uid: Option<i64>,
    /// A user's private group, or a named group's GID.
    pub gid: i64,
    /// Username or POSIX group name.
    pub name: String,
    pub home: Option<String>,
    pub shell: Option<String>,
}

impl PosixAccount {
    /// The ledger entries this identity holds: its UID, GID and name.
    pub fn ledger_entries(&self) -> Vec<(LedgerKind, String)> {
        let mut out = Vec::with_capacity(3);
        if let Some(uid) = self.uid {
            out.push((LedgerKind::Uid, uid.to_string()));
        }
        out.push((LedgerKind::Gid, self.gid.to_string()));
        out.push((LedgerKind::Name, self.name.clone()));
        out
    }
}

/// What the ledger of every identity ever assigned in an org records.
/// UIDs, GIDs (private groups included) and names (user and group names
/// share one namespace, as a user's private group bears its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerKind {
    Uid,
    Gid,
    Name,
    /// An email address an import matched to a kept identity
    /// (`posix_import`): the IdP's person with that address receives it.
    Email,
    /// A kept identity (the value: its held id) that goes by email only:
    /// its source named the person's email, so nobody else who merely
    /// derives the same POSIX name may have it.
    EmailOnly,
    /// A user (the value: their id) who received a kept identity: its home
    /// and shell stay theirs when no override says otherwise.
    Kept,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Uid => "uid",
            LedgerKind::Gid => "gid",
            LedgerKind::Name => "name",
            LedgerKind::Email => "email",
            LedgerKind::EmailOnly => "email-only",
            LedgerKind::Kept => "kept",
        }
    }
}

/// What a node's agent last said on its feed requests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeReport {
    pub org_id: String,
    pub cluster_id: String,
    /// As the agent names it (`--node-name`, the host name).
    pub node: String,
    /// The last change it has applied (its position in the change log).
    pub applied_seq: i64,
    /// Its last error (a Slurm one starts "slurm:"), or none.
    pub error: Option<String>,
    /// Whether this agent manages the cluster's Slurm accounts.
    pub slurm: bool,
    /// When it asked (RFC 3339).
    pub reported_at: String,
}

/// How a SAML sign-in of a verified response ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignInOutcome {
    pub at: String,
    /// Whether a session began.
    pub ok: bool,
    /// The refusal's reason, or the session's account.
    pub detail: String,
}

/// A cluster: the groups it provisions (by group id, so a rename keeps
/// them; docs/clusters.md, "1. Register the cluster").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub created: String,
    /// When the group list last changed.
    pub modified: String,
    pub group_ids: Vec<String>,
}

/// The versions a writer expects a resource to be at (RFC 7232 §3.1
/// `If-Match`, RFC 7644 §3.14, in the domain's terms): any, or one of
/// these. A write to any other version is refused, so that a client
/// overwrites nothing it has not seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedVersion {
    Any,
    OneOf(Vec<i64>),
}

impl ExpectedVersion {
    pub fn accepts(&self, version: i64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::OneOf(versions) => versions.contains(&version),
        }
    }
}

/// One SCIM request as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimLogEntry {
    pub at: String,
    pub org_id: String,
    /// The token's name; `None` when the request had no valid token.
    pub token_name: Option<String>,
    pub method: String,
    /// Path and query, as received.
    pub path: String,
    pub status: u16,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    pub latency_ms: f64,
    /// The request body with secrets removed, if it had one.
    pub body: Option<String>,
    /// Whether the request came from the org's identity provider: a valid
    /// SCIM token, not refused. Anonymous and refused requests and a
    /// cluster's nodes have a small share of the log of their own
    /// ([`ScimLogLimits`](super::scim_log::ScimLogLimits)), so that they
    /// cannot push out what the IdP did.
    pub from_idp: bool,
}

/// How much of one share of an org's provisioning log is kept: the IdP's
/// entries, or everyone else's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScimLogQuota {
    pub from_idp: bool,
    pub max_entries: u64,
    pub max_bytes: u64,
}

/// One change in the audit trail: who, what, when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at: String,
    /// "token Okta", "console: ada@example.com", "roster CLI (root)".
    pub actor: String,
    /// Such as "user.create", "group.member.add", "user.ssh_keys".
    pub action: String,
    /// The user or group, by name.
    pub target: String,
    /// What changed, in a few words (never a secret).
    pub detail: String,
    /// Where from: the client's address (admin API, console, SCIM), or
    /// "HOST" for the CLI; empty for entries older than this field.
    pub origin: String,
}

/// Which audit entries to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// At or after this RFC 3339 time.
    pub since: Option<String>,
    /// Actors containing this text.
    pub actor: Option<String>,
    /// Entries about this kind of resource ("user", "group", "cluster",
    /// "token", "org", "saml", "session", "import") or a resource whose
    /// name contains this text.
    pub resource: Option<String>,
    pub limit: u64,
}

/// Which entries to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct ScimLogQuery {
    pub failed_only: bool,
    /// Only entries at or after this RFC 3339 time.
    pub since: Option<String>,
    pub limit: u64,
}

/// A resource with what is computed from memberships.
#[derive(Debug, Clone)]
pub struct ResourceView {
    pub stored: StoredResource,
    /// Groups: their members, when loaded.
    pub members: Option<Vec<MemberRef>>,
    /// Users: the groups they are in.
    pub groups: Option<Vec<GroupRef>>,
    /// With SUP on: the POSIX identity.
    pub posix: Option<PosixAccount>,
}
