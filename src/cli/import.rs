//! `roster import ORG --passwd FILE --group FILE` or `--ldif FILE`: keep a
//! cluster's existing UIDs, GIDs and names for the people the IdP will push;
//! `--slurm FILE --cluster C`: hand its existing Slurm accounts to C's agent.

use clap::Args;

use super::output::print_json;
use super::resources::Admin;
use super::{Global, err};
use roster::directory::posix_import::{ImportReport, from_ldif, parse_group, parse_passwd};

#[derive(Args)]
#[command(after_help = "\
Examples:
  roster import acme --passwd /etc/passwd --group /etc/group --dry-run
  getent passwd > passwd; getent group > group    # from NIS or LDAP through NSS
  roster import acme --passwd passwd --group group
  slapcat -b dc=example,dc=org > cluster.ldif     # or: ldapsearch -LLL -x -b ... > cluster.ldif
  roster import acme --ldif cluster.ldif --dry-run
  sacctmgr dump prod file=prod.cfg
  roster import acme --slurm prod.cfg --cluster prod --dry-run

Each user is kept for the person with the email the LDAP entry gives (mail), or
else whose POSIX name would be theirs (user7 for user7@example.com); each group
for the group of that name: when the IdP pushes them, they receive these ids
instead of new ones. System accounts (ids below 1000, and 65534), reserved names
(root, ubuntu, sudo, ...: the names SCIM refuses, and the org's --reserve-names)
and users' private groups are skipped. Ids below the org's ranges are conflicts:
lower the ranges first (roster org set ORG --uid-range LOW-HIGH). A name, home,
shell or GECOS with a control character, ':' or a relative path refuses the file,
naming the line. SSH keys and group members in the source are
reported, not copied: the IdP (or the person) sets keys, the IdP's groups decide
members. With --slurm, each account of the dump (but root) is handed to the
cluster's agent: once a group of that POSIX name is provisioned there, the agent
marks the account as Roster's and manages it (associating the group's members,
removing others' associations); without it the agent never touches an account
it did not create. Users in the dump are reported with their associations.
Any conflict and nothing is kept; running it again changes nothing.
Exits 2 on conflicts.")]
pub struct ImportArgs {
    /// Organization id or name.
    org: String,
    /// A passwd(5) file: name:password:UID:GID:GECOS:home:shell.
    #[arg(long)]
    passwd: Option<std::path::PathBuf>,
    /// A group(5) file: name:password:GID:members.
    #[arg(long)]
    group: Option<std::path::PathBuf>,
    /// An LDIF export of the directory (slapcat, ldapsearch -LLL): its
    /// posixAccount and posixGroup entries, with mail and sshPublicKey.
    #[arg(long, conflicts_with_all = ["passwd", "group"])]
    ldif: Option<std::path::PathBuf>,
    /// A `sacctmgr dump CLUSTER file=FILE` of the cluster's Slurm accounts;
    /// needs --cluster.
    #[arg(long, conflicts_with_all = ["passwd", "group", "ldif"], requires = "cluster")]
    slurm: Option<std::path::PathBuf>,
    /// The Roster cluster whose agent manages the dump's accounts.
    #[arg(long)]
    cluster: Option<String>,
    /// Say what would be kept, and every conflict; keep nothing.
    #[arg(long)]
    dry_run: bool,
}

fn read(path: &Option<std::path::PathBuf>, what: &str) -> Result<String, String> {
    match path {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read the {what} file {}: {e}", p.display())),
        None => Ok(String::new()),
    }
}

/// Whether the import went through without conflicts (the exit status).
pub async fn run(g: &Global, args: &ImportArgs) -> Result<bool, String> {
    if let (Some(_), Some(cluster)) = (&args.slurm, &args.cluster) {
        let dump = roster::slurm_dump::parse(&read(&args.slurm, "sacctmgr dump")?)
            .map_err(|e| format!("the sacctmgr dump, {e}"))?;
        let Admin { dir, p, .. } = Admin::of(g, &args.org).await?;
        let report = dir
            .import_slurm(&p, cluster, dump, args.dry_run)
            .await
            .map_err(err)?;
        return Ok(print_report(g, &report));
    }
    let (source, users, groups) = if args.ldif.is_some() {
        let (users, groups) =
            from_ldif(&read(&args.ldif, "LDIF")?).map_err(|e| format!("the LDIF file, {e}"))?;
        ("LDIF export", users, groups)
    } else if args.passwd.is_some() || args.group.is_some() {
        let users = parse_passwd(&read(&args.passwd, "passwd")?)
            .map_err(|e| format!("the passwd file, {e}"))?;
        let groups = parse_group(&read(&args.group, "group")?)
            .map_err(|e| format!("the group file, {e}"))?;
        ("passwd and group files", users, groups)
    } else {
        return Err(
            "nothing to import: give --passwd FILE and/or --group FILE, --ldif FILE, or --slurm FILE --cluster C".into(),
        );
    };
    let Admin { dir, p, .. } = Admin::of(g, &args.org).await?;
    let report = dir
        .import_posix(&p, source, users, groups, args.dry_run)
        .await
        .map_err(err)?;
    Ok(print_report(g, &report))
}

/// Prints an import's report; whether it had no conflict.
fn print_report(g: &Global, report: &ImportReport) -> bool {
    if g.json {
        print_json(serde_json::json!(report));
    } else {
        for l in &report.lines {
            println!("{:<9} {:<5} {:<20} {}", l.outcome, l.kind, l.name, l.detail);
        }
        for c in &report.conflicts {
            println!("CONFLICT  {c}");
        }
        let kept = report.lines.iter().filter(|l| l.outcome == "kept").count();
        if !report.conflicts.is_empty() {
            eprintln!(
                "{} conflict(s): nothing was kept. Fix them and run the import again.",
                report.conflicts.len()
            );
        } else if report.applied {
            eprintln!(
                "{kept} kept for the people, groups and clusters the identity provider's pushes will bring."
            );
        } else {
            eprintln!("Dry run: {kept} would be kept; nothing was changed.");
        }
    }
    report.conflicts.is_empty()
}
