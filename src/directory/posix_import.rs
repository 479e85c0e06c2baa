//! Keeping a cluster's existing identities: the users and groups of its
//! passwd and group files, or of its LDAP directory's posixAccount and
//! posixGroup entries (`roster import`), are recorded as identities kept
//! for the people the identity provider will push. Files on shared
//! storage are owned by these numbers, so they must survive the move.
//!
//! A kept identity is a POSIX account and ledger entries held under
//! `import:user:NAME` (or `import:group:NAME`): nobody else can be given
//! its UID, GID or name. When the IdP pushes a person whose email the
//! import recorded for NAME, or whose POSIX name would be NAME (`user7`
//! for `user7@example.com`), or a group whose name would be NAME, they
//! receive it instead of a new one (`posix_assign::claim_kept`).

use std::collections::{HashMap, HashSet};

use super::model::{LedgerKind, PosixAccount, Principal, ResourceType};
use super::orgs::find_org;
use super::posix_rules::{check_name, check_path};
use super::query::fold;
use super::reserved_names::reserved_because;
use super::resources::require_writes;
use super::{Directory, DirectoryResult};

/// A line of a passwd file worth keeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: i64,
    pub gid: i64,
    pub home: String,
    pub shell: String,
    /// The person's email (LDAP's `mail`), matched to the IdP's user.
    pub email: Option<String>,
    /// Their SSH keys (LDAP's `sshPublicKey`): counted in the report; the
    /// IdP or the person sets keys in Roster.
    pub ssh_keys: usize,
}

/// A line of a group file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: i64,
    /// Member login names, for the report (the IdP's groups decide
    /// memberships in Roster).
    pub members: Vec<String>,
}

/// Refuses a value with a control character: a line break in a name,
/// home or shell would start a map line of its own on every node
/// (docs/security.md, "The IdP and its SCIM token"). Shown escaped.
fn no_control(what: &str, value: &str) -> Result<(), String> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "the {what} {value:?} holds the control character U+{:04X}",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

impl PasswdEntry {
    /// Checks the fields that reach the maps with the rules SCIM's
    /// `sunkPreferredHomeDirectory` and `sunkLoginShell` get
    /// (`posix_rules::check_path`: absolute, no `:`, no control
    /// characters); an empty home or shell means the default. The name is
    /// checked as a POSIX name by the import itself.
    pub fn check_fields(&self) -> Result<(), String> {
        no_control("name", &self.name)?;
        if !self.home.is_empty() {
            check_path("home directory", &self.home)?;
        }
        if !self.shell.is_empty() {
            check_path("login shell", &self.shell)?;
        }
        if let Some(mail) = &self.email {
            no_control("mail", mail)?;
        }
        Ok(())
    }
}

impl GroupEntry {
    /// Checks the name and the members' names (reported) for control
    /// characters, as [`PasswdEntry::check_fields`].
    pub fn check_fields(&self) -> Result<(), String> {
        no_control("name", &self.name)?;
        self.members
            .iter()
            .try_for_each(|m| no_control("member name", m))
    }
}

/// The account a kept identity is held under.
pub(crate) fn held_id(rtype: ResourceType, name: &str) -> String {
    match rtype {
        ResourceType::User => format!("import:user:{name}"),
        ResourceType::Group => format!("import:group:{name}"),
    }
}

fn number(field: &str, what: &str, line: usize) -> Result<i64, String> {
    field
        .parse::<i64>()
        .map_err(|_| format!("line {line}: the {what} \"{field}\" is not a number"))
}

/// The records of a colon-separated file with `N` fields, by line number;
/// blank lines and `#` comments skipped.
fn records<'a, const N: usize>(
    text: &'a str,
    shape: &str,
) -> Result<Vec<(usize, [&'a str; N])>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        let fields: [&str; N] = f.as_slice().try_into().map_err(|_| {
            format!(
                "line {}: expected {shape} ({N} fields), found {}",
                i + 1,
                f.len()
            )
        })?;
        out.push((i + 1, fields));
    }
    Ok(out)
}

/// The entries of a passwd(5) file: `name:password:UID:GID:GECOS:home:shell`.
pub fn parse_passwd(text: &str) -> Result<Vec<PasswdEntry>, String> {
    records::<7>(text, "name:password:UID:GID:GECOS:home:shell")?
        .into_iter()
        .map(|(n, [name, _, uid, gid, gecos, home, shell])| {
            let entry = PasswdEntry {
                name: name.to_string(),
                uid: number(uid, "UID", n)?,
                gid: number(gid, "GID", n)?,
                home: home.to_string(),
                shell: shell.to_string(),
                email: None,
                ssh_keys: 0,
            };
            // The GECOS is not kept (the maps take the IdP's displayName),
            // but a control character in it says the file is not what it
            // seems.
            no_control("GECOS", gecos)
                .and_then(|()| entry.check_fields())
                .map_err(|e| format!("line {n}: {e}; fix the entry, or leave it out"))?;
            Ok(entry)
        })
        .collect()
}

/// The entries of a group(5) file: `name:password:GID:members`.
pub fn parse_group(text: &str) -> Result<Vec<GroupEntry>, String> {
    records::<4>(text, "name:password:GID:members")?
        .into_iter()
        .map(|(n, [name, _, gid, members])| {
            let entry = GroupEntry {
                name: name.to_string(),
                gid: number(gid, "GID", n)?,
                members: members
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            };
            entry
                .check_fields()
                .map_err(|e| format!("line {n}: {e}; fix the entry, or leave it out"))?;
            Ok(entry)
        })
        .collect()
}

/// The users and groups of an LDAP export (RFC 2307 posixAccount and
/// posixGroup; `mail`; `sshPublicKey` of openssh-lpk's ldapPublicKey).
/// Other entries (organizational units, people without a POSIX account)
/// are passed over.
pub fn from_ldif(text: &str) -> Result<(Vec<PasswdEntry>, Vec<GroupEntry>), String> {
    let entries = crate::ldif::parse(text)?;
    let need = |e: &crate::ldif::Entry, attr: &str| {
        e.first(attr).map(str::to_string).ok_or_else(|| {
            format!(
                "line {}: the entry {} has no {attr}, which RFC 2307 requires of it",
                e.line, e.dn
            )
        })
    };
    let id =
        |e: &crate::ldif::Entry, attr: &str| need(e, attr).and_then(|v| number(&v, attr, e.line));
    // A base64 value (RFC 2849 §2) can hold any byte: a loginShell of
    // "/bin/bash\nroot2:x:0:0::/root:/bin/bash" is refused here, naming
    // the entry.
    let refuse = |e: &crate::ldif::Entry, why: String| {
        format!(
            "line {}: the entry {}: {why}; fix the entry, or leave it out",
            e.line,
            e.dn.escape_debug()
        )
    };
    let (mut users, mut groups) = (Vec::new(), Vec::new());
    for e in &entries {
        if e.is_a("posixAccount") {
            let user = PasswdEntry {
                name: need(e, "uid")?,
                uid: id(e, "uidNumber")?,
                gid: id(e, "gidNumber")?,
                home: need(e, "homeDirectory")?,
                shell: e.first("loginShell").unwrap_or("").to_string(),
                email: e.first("mail").map(str::to_string),
                ssh_keys: e.all("sshPublicKey").count(),
            };
            user.check_fields().map_err(|why| refuse(e, why))?;
            users.push(user);
        } else if e.is_a("posixGroup") {
            let group = GroupEntry {
                name: need(e, "cn")?,
                gid: id(e, "gidNumber")?,
                members: e.all("memberUid").map(str::to_string).collect(),
            };
            group.check_fields().map_err(|why| refuse(e, why))?;
            groups.push(group);
        }
    }
    Ok((users, groups))
}

/// What became of one entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportLine {
    /// "user" or "group".
    pub kind: &'static str,
    pub name: String,
    /// "kept", "unchanged" (kept by an earlier import) or "skipped".
    pub outcome: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    pub lines: Vec<ImportLine>,
    /// Each conflict, with what to do; any conflict and nothing is kept.
    pub conflicts: Vec<String>,
    /// Whether anything was written (not a dry run, no conflict).
    pub applied: bool,
}

/// Who holds a ledger entry, in words: a user or group by name, or an
/// identity an earlier import kept.
/// Whom an identity an earlier import kept belongs to now, when the
/// IdP's push claimed it whole: one resource holds every id and the name
/// the files give, with the same ids and name (its home and shell may
/// have been set since).
fn claimed_since(
    tx: &mut dyn super::store::WriteTx,
    org_id: &str,
    wanted: &PosixAccount,
) -> DirectoryResult<Option<String>> {
    let mut owner: Option<String> = None;
    for (lk, value) in wanted.ledger_entries() {
        match (tx.posix_owner(org_id, lk, &value)?, &owner) {
            (Some(o), None) if o != wanted.resource_id => owner = Some(o),
            (Some(o), Some(first)) if &o == first => {}
            _ => return Ok(None),
        }
    }
    let Some(owner) = owner else {
        return Ok(None);
    };
    let same = tx
        .posix_accounts(org_id, wanted.rtype, &[owner.as_str()])?
        .remove(&owner)
        .is_some_and(|a| a.uid == wanted.uid && a.gid == wanted.gid && a.name == wanted.name);
    Ok(if same {
        Some(describe_owner(tx, org_id, &owner)?)
    } else {
        None
    })
}

pub(super) fn describe_owner(
    tx: &mut dyn super::store::WriteTx,
    org_id: &str,
    owner: &str,
) -> DirectoryResult<String> {
    if let Some(name) = owner.strip_prefix(RESERVED_OWNER) {
        return Ok(format!(
            "the nodes' own account {name} (an import skipped it and holds its ids)"
        ));
    }
    if let Some(rest) = owner.strip_prefix("import:") {
        return Ok(format!("the imported {}", rest.replacen(':', " ", 1)));
    }
    for (rtype, attr, word) in [
        (ResourceType::User, "userName", "user"),
        (ResourceType::Group, "displayName", "group"),
    ] {
        if let Some(r) = tx.resource(org_id, rtype, owner)? {
            let name = r
                .doc
                .get(attr)
                .and_then(serde_json::Value::as_str)
                .unwrap_or(owner);
            return Ok(format!("{word} {name}"));
        }
    }
    Ok(format!(
        "a deleted identity ({owner}): ids are never reused"
    ))
}

/// The owner under which an import holds the ids of a node's own account
/// it skipped by name.
const RESERVED_OWNER: &str = "import:reserved:";

/// Ids a node keeps for itself: never imported.
fn system_id(id: i64) -> bool {
    id < 1000 || id == 65_534
}

/// Why a name of the source is not kept, when it is reserved: the names
/// SCIM refuses as overrides (`reserved_names`, and the org's
/// `--reserve-names`). A real /etc/passwd holds `root`, `daemon` and
/// `ubuntu` (UID 1000), and these are the node's, not a person's; kept,
/// an IdP push would receive the name and its rights (`sudo` as a group).
fn reserved_name(name: &str, org_reserved: &[String]) -> Option<String> {
    reserved_because(name, org_reserved)?;
    Some(format!(
        "the name {name:?} is reserved (an account or group nodes keep for themselves, or one this org reserved with --reserve-names), so it is not kept, and its ids are held so that no one is given them; if it is a person's, rename the entry in the source to keep their ids, else the IdP's push of them gets another name and new ids"
    ))
}

impl Directory {
    /// Keeps the identities of a passwd and a group file for the people
    /// and groups the IdP will push. All or nothing: a conflict (an id or
    /// name already given to someone else, a duplicate, an id the org
    /// never assigns) keeps nothing. Running it again changes nothing.
    pub async fn import_posix(
        &self,
        p: &Principal,
        source: &str,
        users: Vec<PasswdEntry>,
        groups: Vec<GroupEntry>,
        dry_run: bool,
    ) -> DirectoryResult<ImportReport> {
        let source = source.to_string();
        require_writes(p)?;
        let org = p.org.id.clone();
        let who = p.clone();
        let now = self.now();
        self.write(move |tx| {
            let o = find_org(tx, &org)?;
            let ranges = o.settings.ids;
            let mut report = ImportReport::default();
            let mut pending: Vec<PosixAccount> = Vec::new();
            // Users and groups share one namespace of names.
            let mut names: HashSet<String> = HashSet::new();
            let mut ids: HashMap<(LedgerKind, i64), String> = HashMap::new();
            let private: HashMap<&str, i64> =
                users.iter().map(|u| (u.name.as_str(), u.uid)).collect();
            let line = |kind, name: &str, outcome, detail: String| ImportLine {
                kind,
                name: name.to_string(),
                outcome,
                detail,
            };

            let mut wanted: Vec<(&'static str, PosixAccount, String)> = Vec::new();
            // Emails the import matches people by: (folded email, held id).
            let mut emails: Vec<(String, String)> = Vec::new();
            let mut seen_emails: HashMap<String, String> = HashMap::new();
            // The ids of the nodes' own accounts the source holds (`ubuntu`
            // at UID 1000): held so that no one is given them, where the
            // org's ranges reach them.
            let mut node_ids: Vec<(LedgerKind, i64, String)> = Vec::new();
            for u in &users {
                if system_id(u.uid) {
                    report.lines.push(line("user", &u.name, "skipped", format!("UID {}: a system account of the node", u.uid)));
                    continue;
                }
                if let Some(why) = reserved_name(&u.name, &o.reserved_names) {
                    report.lines.push(line("user", &u.name, "skipped", format!("UID {}: {why}", u.uid)));
                    let owner = format!("{RESERVED_OWNER}{}", u.name);
                    node_ids.extend([(LedgerKind::Uid, u.uid, owner.clone()), (LedgerKind::Gid, u.uid, owner.clone()), (LedgerKind::Gid, u.gid, owner)]);
                    continue;
                }
                if let Err(why) = u.check_fields() {
                    report.conflicts.push(format!("user {:?}: {why}; fix the source, or leave it out", u.name));
                    continue;
                }
                let mut detail = format!("UID {}, private group GID {}, home {}, shell {}", u.uid, u.uid, u.home, u.shell);
                if u.gid != u.uid {
                    detail.push_str(&format!(" (its primary group was GID {}; Roster gives each user a private group, and keeps GID {} with its group)", u.gid, u.gid));
                }
                let held = held_id(ResourceType::User, &u.name);
                if let Some(email) = &u.email {
                    let key = fold(email);
                    detail.push_str(&format!("; for the person with email {email}"));
                    if let Some(other) = seen_emails.insert(key.clone(), u.name.clone()) {
                        report.conflicts.push(format!(
                            "user {}: the email {email} is also {other}'s in the source; one person, one identity: fix the source",
                            u.name
                        ));
                    } else if let Some(owner) = tx.posix_owner(&o.id, LedgerKind::Email, &key)?
                        && owner != held
                    {
                        let who = describe_owner(tx, &o.id, &owner)?;
                        report.conflicts.push(format!(
                            "user {}: the email {email} is already matched to {who}; leave one of them out",
                            u.name
                        ));
                    }
                    emails.push((key, held.clone()));
                }
                if u.ssh_keys > 0 {
                    detail.push_str(&format!(
                        "; {} SSH key(s) not copied: keys come from the IdP or the person (`roster user set-ssh-keys`, the console's Settings)",
                        u.ssh_keys
                    ));
                }
                let account = PosixAccount {
                    rtype: ResourceType::User,
                    resource_id: held,
                    uid: Some(u.uid),
                    gid: u.uid,
                    name: u.name.clone(),
                    home: Some(u.home.clone()).filter(|h| !h.is_empty()),
                    shell: Some(u.shell.clone()).filter(|s| !s.is_empty()),
                };
                wanted.push(("user", account, detail));
            }
            for g in &groups {
                if system_id(g.gid) {
                    report.lines.push(line("group", &g.name, "skipped", format!("GID {}: a system group of the node", g.gid)));
                    continue;
                }
                if let Some(why) = reserved_name(&g.name, &o.reserved_names) {
                    report.lines.push(line("group", &g.name, "skipped", format!("GID {}: {why}", g.gid)));
                    node_ids.push((LedgerKind::Gid, g.gid, format!("{RESERVED_OWNER}{}", g.name)));
                    continue;
                }
                if let Err(why) = g.check_fields() {
                    report.conflicts.push(format!("group {:?}: {why}; fix the source, or leave it out", g.name));
                    continue;
                }
                if private.get(g.name.as_str()) == Some(&g.gid) {
                    report.lines.push(line("group", &g.name, "skipped", format!("GID {}: the private group of user {}", g.gid, g.name)));
                    continue;
                }
                let account = PosixAccount {
                    rtype: ResourceType::Group,
                    resource_id: held_id(ResourceType::Group, &g.name),
                    uid: None,
                    gid: g.gid,
                    name: g.name.clone(),
                    home: None,
                    shell: None,
                };
                let mut detail = format!("GID {}", g.gid);
                if !g.members.is_empty() {
                    detail.push_str(&format!(
                        "; {} member(s) in the source ({}): the IdP's group decides its members in Roster",
                        g.members.len(),
                        g.members.join(", ")
                    ));
                }
                wanted.push(("group", account, detail));
            }

            let floor = ranges.uid.0.min(ranges.gid.0);
            // The lowest id to keep: the range start an operator would set.
            let lowest = wanted
                .iter()
                .flat_map(|(_, a, _)| [a.uid, Some(a.gid)])
                .flatten()
                .min()
                .unwrap_or(floor);
            // A range the operator can set: it may not cross systemd's
            // block at 60000 (`IdRanges::check_range`).
            let highest = if lowest < 60_000 && !ranges.allow_reserved {
                59_999
            } else {
                ranges.uid.1
            };
            for (kind, account, detail) in wanted {
                let name = account.name.clone();
                let before = report.conflicts.len();
                if let Err(why) = check_name(&name) {
                    report.conflicts.push(format!("{kind} {name}: {why}; rename it in the file, or leave it out"));
                    continue;
                }
                if !names.insert(name.clone()) {
                    report.conflicts.push(format!(
                        "{kind} {name}: the name is in the files twice (users and groups share names); keep one"
                    ));
                }
                for (lk, id) in [(LedgerKind::Uid, account.uid), (LedgerKind::Gid, Some(account.gid))] {
                    let Some(id) = id else { continue };
                    if ranges.reserves(id) {
                        report.conflicts.push(format!(
                            "{kind} {name}: {} {id} is in a block this org never assigns; `roster org set {} --allow-reserved-ids on` allows systemd's blocks (60000-65535, 524288-1879048191), 0-999 and 65534 never",
                            lk.as_str().to_uppercase(), o.name
                        ));
                    } else if id < floor {
                        // The floor an override obeys (`IdRanges::check_id`):
                        // ids below the org's ranges are the nodes' own.
                        // Refused rather than skipped, so that a forgotten
                        // range does not leave the cluster's people to be
                        // given new ids at their first push.
                        report.conflicts.push(format!(
                            "{kind} {name}: {} {id} is below the org's ranges (UIDs {}-{}, GIDs {}-{}), which belong to the nodes' own accounts; if the source's ids are people's, lower the org's ranges first (`roster org set {} --uid-range {lowest}-{highest}`), or leave {name} out",
                            lk.as_str().to_uppercase(), ranges.uid.0, ranges.uid.1, ranges.gid.0, ranges.gid.1, o.name
                        ));
                    }
                    if let Some(other) = ids.insert((lk, id), name.clone()) {
                        report.conflicts.push(format!(
                            "{} {id} belongs to both {other} and {name} in the files; give each its own",
                            lk.as_str().to_uppercase()
                        ));
                    }
                }
                let held = tx
                    .posix_accounts(&o.id, account.rtype, &[account.resource_id.as_str()])?
                    .remove(&account.resource_id);
                match held {
                    Some(h) if h == account => {
                        report.lines.push(line(kind, &name, "unchanged", format!("{detail}: kept by an earlier import")));
                        continue;
                    }
                    Some(h) => {
                        report.conflicts.push(format!(
                            "{kind} {name} was kept by an earlier import with {} GID {}; the files now say otherwise. Fix the files to match, or ask for help: kept ids are never given away",
                            h.uid.map(|u| format!("UID {u},")).unwrap_or_default(), h.gid
                        ));
                        continue;
                    }
                    None => {}
                }
                if let Some(who) = claimed_since(tx, &o.id, &account)? {
                    // The identity an earlier import kept went to the
                    // person the IdP pushed: running the import again
                    // changes nothing (docs/operations.md).
                    report.lines.push(line(kind, &name, "unchanged", format!("{detail}: kept by an earlier import, now {who}'s")));
                    continue;
                }
                for (lk, value) in account.ledger_entries() {
                    if let Some(owner) = tx.posix_owner(&o.id, lk, &value)?
                        && owner != account.resource_id
                    {
                        let who = describe_owner(tx, &o.id, &owner)?;
                        report.conflicts.push(format!(
                            "{kind} {name}: {} {value} is already assigned in {} (to {who}); ids are never given twice. Leave {name} out, or change the file",
                            lk.as_str().to_uppercase(), o.name
                        ));
                    }
                }
                if report.conflicts.len() == before {
                    report.lines.push(line(kind, &name, "kept", detail));
                    pending.push(account);
                }
            }
            if !report.conflicts.is_empty() || dry_run {
                return Ok(report);
            }
            for account in &pending {
                for (lk, value) in account.ledger_entries() {
                    if tx.posix_owner(&o.id, lk, &value)?.is_none() {
                        tx.claim_posix(&o.id, lk, &value, &account.resource_id)?;
                    }
                }
                tx.put_posix_account(&o.id, account)?;
            }
            for (lk, id, owner) in &node_ids {
                let value = id.to_string();
                if tx.posix_owner(&o.id, *lk, &value)?.is_none() {
                    tx.claim_posix(&o.id, *lk, &value, owner)?;
                }
            }
            for (key, held) in &emails {
                if tx.posix_owner(&o.id, LedgerKind::Email, key)?.is_none() {
                    tx.claim_posix(&o.id, LedgerKind::Email, key, held)?;
                }
                if tx.posix_owner(&o.id, LedgerKind::EmailOnly, held)?.is_none() {
                    tx.claim_posix(&o.id, LedgerKind::EmailOnly, held, held)?;
                }
            }
            report.applied = true;
            if !pending.is_empty() {
                super::audit::record(
                    tx,
                    &who,
                    &now,
                    "import",
                    &source,
                    format!("{} identities kept", pending.len()),
                )?;
            }
            Ok(report)
        })
        .await
    }
}
