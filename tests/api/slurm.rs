//! The agent against a real Slurm accounting stack (MariaDB, munged,
//! slurmdbd from Debian; tests/slurm/stack.sh), driven through SCIM.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

use crate::slurm_stack::SlurmStack as Stack;

/// What the test asks of the stack besides the shared handle.
impl Stack {
    /// (account, user) rows of the test cluster's associations; the user
    /// is empty on an account's own row.
    fn assoc_rows(&self) -> Vec<(String, String)> {
        self.sacctmgr(&[
            "-n",
            "-P",
            "show",
            "assoc",
            "where",
            "cluster=testcluster",
            "format=account,user",
        ])
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(a, u)| (a.to_string(), u.to_string()))
        .collect()
    }
    /// (account, user) associations of the test cluster, users only.
    fn assocs(&self) -> BTreeSet<(String, String)> {
        self.assoc_rows()
            .into_iter()
            .filter(|(_, u)| !u.is_empty() && u != "root")
            .collect()
    }
    /// Accounts associated with the test cluster.
    fn accounts(&self) -> BTreeSet<String> {
        self.assoc_rows()
            .into_iter()
            .filter(|(a, u)| u.is_empty() && a != "root")
            .map(|(a, _)| a)
            .collect()
    }
    fn default_of(&self, user: &str) -> String {
        self.sacctmgr(&["-n", "-P", "show", "user", user, "format=defaultaccount"])
            .trim()
            .to_string()
    }
    fn slurmdbd(&self, up: bool) {
        if up {
            assert!(
                Command::new("slurmdbd")
                    .env("SLURM_CONF", self.conf())
                    .status()
                    .unwrap()
                    .success()
            );
            let deadline = Instant::now() + Duration::from_secs(30);
            while !Command::new("sacctmgr")
                .args(["-n", "show", "cluster"])
                .env("SLURM_CONF", self.conf())
                .output()
                .unwrap()
                .status
                .success()
            {
                assert!(Instant::now() < deadline, "slurmdbd did not come back");
                std::thread::sleep(Duration::from_millis(200));
            }
        } else {
            let pid = std::fs::read_to_string(self.0.join("run/slurmdbd.pid")).unwrap();
            let pid = pid.trim();
            assert!(Command::new("kill").arg(pid).status().unwrap().success());
            while Command::new("kill")
                .args(["-0", pid])
                .status()
                .unwrap()
                .success()
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// `getent -s cache DB KEY` with the agent's caches overlaid on /etc in a
/// private mount namespace (libnss-cache reads only /etc/*.cache).
pub(crate) fn getent(work: &std::path::Path, db: &str, key: &str) -> String {
    let (upper, scratch) = (work.join("etc"), work.join("ovl-work"));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let script = format!(
        "mount -t overlay overlay -o lowerdir=/etc,upperdir={},workdir={} /etc && getent -s cache {db} {key}",
        upper.display(),
        scratch.display()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn pairs(p: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    p.iter()
        .map(|(a, u)| (a.to_string(), u.to_string()))
        .collect()
}

#[test]
fn the_agent_keeps_slurm_in_step() {
    let app = TestApp::start();
    let work = tempfile::tempdir().unwrap();
    let stack =
        Stack::start(work.path()).unwrap_or_else(|e| panic!("the Slurm stack did not start: {e}"));
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    let ids: Vec<String> = ["ada", "bob", "cy"]
        .iter()
        .map(|n| app.create_user(&format!("{n}@example.com")).id())
        .collect();
    let gpu = app.create_group("GPU Users", &[&ids[0], &ids[1]]).id();
    let ml = app.create_group("ML", &[&ids[0]]).id();
    cli_ok(
        &app.db,
        &[
            "cluster",
            "create",
            "acme",
            "c1",
            "--groups",
            "gpu_users,ml",
        ],
    );
    let token = cluster_token(&app.db, "c1");
    std::fs::create_dir_all(work.path().join("etc")).unwrap();
    std::fs::write(work.path().join("token"), &token).unwrap();
    let agent = |extra: &[&str]| {
        let d = work.path();
        let out = agent_command(&app, "c1", d)
            .args([
                "--once",
                "--slurm-cluster",
                "testcluster",
                "--max-removal-share",
                "0.5",
            ])
            .args(extra)
            .env("SLURM_CONF", stack.conf())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, log) = agent(&["--dry-run"]);
    assert!(
        ok && log.contains("dry run, not applied: sacctmgr -i add account gpu_users"),
        "{log}"
    );
    assert!(stack.assocs().is_empty(), "a dry run changed Slurm");
    let (ok, log) = agent(&[]);
    assert!(ok, "{log}");
    assert_eq!(
        stack.assocs(),
        pairs(&[("gpu_users", "ada"), ("gpu_users", "bob"), ("ml", "ada")])
    );
    assert_eq!(
        stack.default_of("ada"),
        "gpu_users",
        "the default is the first account by name"
    );
    assert_eq!(
        getent(work.path(), "passwd", "ada"),
        "ada:x:100000:100000:ada@example.com:/home/ada:/bin/bash"
    );
    assert_eq!(
        getent(work.path(), "group", "gpu_users"),
        "gpu_users:x:200000:ada,bob"
    );
    // Both accounts, made by one sacctmgr call, are marked as this agent's.
    let accounts = stack.sacctmgr(&["-n", "-P", "show", "account", "format=account,organization"]);
    for account in ["gpu_users", "ml"] {
        assert!(
            accounts
                .lines()
                .any(|l| l == format!("{account}|roster-c1")),
            "{account} is not marked: {accounts}"
        );
    }
    assert!(
        log.contains("add account gpu_users,ml "),
        "one call for both accounts: {log}"
    );
    // Applying again changes nothing.
    assert!(agent(&[]).0);
    assert_eq!(stack.assocs().len(), 3);

    // Add a member, remove another; ada leaves gpu_users, her default moves to ml.
    app.patch(&format!("/Groups/{gpu}"), json!([{"op": "add", "path": "members", "value": [{"value": ids[2]}]}, {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}])).expect(200);
    assert!(agent(&[]).0);
    assert_eq!(
        stack.assocs(),
        pairs(&[("gpu_users", "bob"), ("gpu_users", "cy"), ("ml", "ada")])
    );
    assert_eq!(stack.default_of("ada"), "ml");
    assert_eq!(
        getent(work.path(), "group", "gpu_users"),
        "gpu_users:x:200000:bob,cy"
    );
    // A rename at the IdP keeps the POSIX name, so the account stays.
    app.patch(
        &format!("/Groups/{gpu}"),
        json!([{"op": "replace", "path": "displayName", "value": "GPU People"}]),
    )
    .expect(200);
    assert!(agent(&[]).0);
    assert_eq!(
        stack.accounts(),
        ["gpu_users", "ml"].iter().map(|s| s.to_string()).collect()
    );
    // slurmdbd down: the agent reports and applies nothing; back up: it converges.
    app.patch(
        &format!("/Users/{}", ids[1]),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .expect(200);
    stack.slurmdbd(false);
    let (ok, log) = agent(&[]);
    assert!(!ok && log.contains("slurm"), "{log}");
    stack.slurmdbd(true);
    assert!(agent(&[]).0);
    assert_eq!(
        stack.assocs(),
        pairs(&[("gpu_users", "cy"), ("ml", "ada")]),
        "the deactivated user lost its associations"
    );
    assert_eq!(
        getent(work.path(), "passwd", "bob"),
        "",
        "a deactivated user left the node's maps"
    );
    let set_groups = |groups: &str| {
        cli_ok(
            &app.db,
            &["cluster", "set-groups", "acme", "c1", "--groups", groups],
        )
    };
    // A group removed from the cluster loses its account.
    set_groups("gpu_users");
    let _ = ml;
    let (ok, log) = agent(&[]);
    assert!(ok, "{log}");
    assert_eq!(
        stack.accounts(),
        ["gpu_users"].iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(stack.assocs(), pairs(&[("gpu_users", "cy")]));
    assert_eq!(getent(work.path(), "group", "ml"), "");
    assert_eq!(
        getent(work.path(), "passwd", "ada"),
        "",
        "ada is in no group of the cluster any more"
    );
    // A Slurm account the site made itself, named like a pushed group:
    // the agent adds no one to it.
    stack.sacctmgr(&["-i", "add", "account", "physics", "cluster=testcluster"]);
    app.create_group("physics", &[&ids[2]]);
    set_groups("gpu_users,physics");
    let (ok, log) = agent(&[]);
    assert!(ok, "{log}");
    assert!(
        log.contains("the Slurm account physics exists but was not created by this agent"),
        "{log}"
    );
    assert_eq!(stack.assocs(), pairs(&[("gpu_users", "cy")]));
    assert!(
        stack.accounts().contains("physics"),
        "the site's account stays"
    );

    // Moving the site's accounts over: `sacctmgr dump` (the real one) is
    // imported for c1; the agent then adopts physics and manages it: the
    // group's member cy is associated, the site's user legacy is not kept.
    stack.sacctmgr(&[
        "-i",
        "add",
        "user",
        "legacy",
        "account=physics",
        "cluster=testcluster",
    ]);
    let dump = work.path().join("testcluster.cfg");
    stack.sacctmgr(&[
        "-i",
        "dump",
        "testcluster",
        &format!("file={}", dump.display()),
    ]);
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(text.contains("Account - 'physics'"), "{text}");
    let import = |extra: &[&str]| {
        let mut args = vec![
            "import",
            "acme",
            "--slurm",
            dump.to_str().unwrap(),
            "--cluster",
            "c1",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = run_cli(&app.db, &args);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), v)
    };
    let (code, dry) = import(&["--dry-run"]);
    assert_eq!(code, Some(0), "{dry}");
    let line = |v: &serde_json::Value, name: &str| {
        v["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}: {v}"))
    };
    let physics = line(&dry, "physics");
    assert_eq!(physics["outcome"], "kept", "{dry}");
    assert!(
        physics["detail"]
            .as_str()
            .unwrap()
            .contains("1 association(s) now (legacy)"),
        "{physics}"
    );
    assert_eq!(
        line(&dry, "gpu_users")["outcome"],
        "unchanged",
        "already c1's"
    );
    assert!(
        line(&dry, "cy")["detail"]
            .as_str()
            .unwrap()
            .contains("associated with [gpu_users]"),
        "{dry}"
    );
    let (ok, log) = agent(&[]);
    assert!(
        ok && log.contains("was not created by this agent"),
        "a dry run hands nothing over: {log}"
    );
    let (code, done) = import(&[]);
    assert_eq!((code, &done["applied"]), (Some(0), &json!(true)), "{done}");
    assert_eq!(
        line(&import(&[]).1, "physics")["outcome"],
        "unchanged",
        "idempotent"
    );
    let (ok, log) = agent(&[]);
    assert!(ok, "{log}");
    assert!(
        log.contains("modify account where name=physics set Organization=roster-c1"),
        "{log}"
    );
    assert_eq!(
        stack.assocs(),
        pairs(&[("gpu_users", "cy"), ("physics", "cy")]),
        "the group's member in, the site's user out"
    );
    let accounts = stack.sacctmgr(&["-n", "-P", "show", "account", "format=account,organization"]);
    assert!(
        accounts.lines().any(|l| l == "physics|roster-c1"),
        "{accounts}"
    );
}
