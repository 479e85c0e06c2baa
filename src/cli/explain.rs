//! `roster explain ORG USER [--cluster C]`: why a person can or cannot log
//! in, as a checklist with the failing step first and what to do.

use clap::Args;

use super::output::print_json;
use super::resources::Admin;
use super::{Global, err};
use roster::directory::explain::Verdict;

#[derive(Args)]
#[command(after_help = "\
Examples:
  roster explain acme ada@example.com --cluster slurm-a
  roster explain acme ada --json

Exits 0 when nothing stops the person, 2 when a step does.")]
pub struct ExplainArgs {
    /// Organization id or name.
    org: String,
    /// The user: id, userName or POSIX username.
    user: String,
    /// Walk the path to this cluster's nodes (its groups and maps).
    #[arg(long)]
    cluster: Option<String>,
}

/// Whether the person can log in, for the exit status.
pub async fn run(g: &Global, args: &ExplainArgs) -> Result<bool, String> {
    let Admin { dir, p, .. } = Admin::of(g, &args.org).await?;
    let e = dir
        .explain(&p, &args.user, args.cluster.as_deref())
        .await
        .map_err(err)?;
    if g.json {
        print_json(serde_json::json!({"can_log_in": e.can_log_in(), "explanation": e}));
    } else {
        let target = e.cluster.as_deref().unwrap_or("the org's clusters");
        println!(
            "{} {} log in to {target}{}",
            e.user,
            if e.can_log_in() { "can" } else { "cannot" },
            e.seq
                .map(|s| format!(" (maps at change {s})"))
                .unwrap_or_default()
        );
        for s in &e.steps {
            let mark = match s.verdict {
                Verdict::Fail => "FAIL",
                Verdict::Warn => "WARN",
                Verdict::Ok => "ok  ",
            };
            println!("  {mark}  {:<14} {}", s.step, s.detail);
            if let Some(fix) = &s.fix {
                println!("        {:<14} fix: {fix}", "");
            }
        }
    }
    Ok(e.can_log_in())
}
