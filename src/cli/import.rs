//! `roster import ORG --passwd FILE --group FILE`: keep a cluster's
//! existing UIDs, GIDs and names for the people the IdP will push.

use clap::Args;

use super::output::print_json;
use super::resources::Admin;
use super::{Global, err};
use roster::directory::posix_import::{parse_group, parse_passwd};

#[derive(Args)]
#[command(after_help = "\
Examples:
  roster import acme --passwd /etc/passwd --group /etc/group --dry-run
  getent passwd > passwd; getent group > group    # from NIS or LDAP through NSS
  roster import acme --passwd passwd --group group

Each user is kept for the person whose POSIX name would be theirs (user7 for
user7@example.com), each group for the group of that name: when the IdP pushes
them, they receive these ids instead of new ones. System accounts (ids below
1000, and 65534) and users' private groups are skipped. Any conflict and
nothing is kept; running it again changes nothing. Exits 2 on conflicts.")]
pub struct ImportArgs {
    /// Organization id or name.
    org: String,
    /// A passwd(5) file: name:password:UID:GID:GECOS:home:shell.
    #[arg(long)]
    passwd: Option<std::path::PathBuf>,
    /// A group(5) file: name:password:GID:members.
    #[arg(long)]
    group: Option<std::path::PathBuf>,
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
    if args.passwd.is_none() && args.group.is_none() {
        return Err("nothing to import: give --passwd FILE and/or --group FILE".into());
    }
    let users = parse_passwd(&read(&args.passwd, "passwd")?)
        .map_err(|e| format!("the passwd file, {e}"))?;
    let groups =
        parse_group(&read(&args.group, "group")?).map_err(|e| format!("the group file, {e}"))?;
    let Admin { dir, p, .. } = Admin::of(g, &args.org).await?;
    let report = dir
        .import_posix(&p, users, groups, args.dry_run)
        .await
        .map_err(err)?;
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
                "{kept} identities kept for the people and groups the identity provider will push."
            );
        } else {
            eprintln!("Dry run: {kept} identities would be kept; nothing was changed.");
        }
    }
    Ok(report.conflicts.is_empty())
}
