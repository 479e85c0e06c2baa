use serde_json::Value;

use crate::helpers::*;

fn fresh_db() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    (dir, db)
}

#[test]
fn org_commands() {
    let (_dir, db) = fresh_db();
    let id = cli_ok(&db, &["org", "create", "research"]);
    assert_eq!(id.len(), 36, "prints the org id: {id}");
    let j = cli_json(
        &db,
        &[
            "org",
            "create",
            "ops",
            "--public-url",
            "https://roster.example.org/",
        ],
    );
    let ops_id = j["id"].as_str().unwrap();
    assert_eq!(j["name"], "ops");
    assert_eq!(
        j["scim_base_url"],
        format!("https://roster.example.org/scim/{ops_id}")
    );

    let list = cli_json(&db, &["org", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    // New orgs start with every toggle off.
    let show = cli_json(&db, &["org", "show", "research"]);
    assert_eq!(
        (
            show["scim_api"].as_bool(),
            show["aup"].as_bool(),
            show["sup"].as_bool()
        ),
        (Some(false), Some(false), Some(false))
    );
    assert_eq!(
        cli_json(&db, &["org", "show", &id]),
        show,
        "id and name both work"
    );
    assert_eq!(
        cli_json(&db, &["org", "show", "RESEARCH"])["id"],
        id.as_str()
    );

    let set = cli_json(
        &db,
        &["org", "set", "research", "--scim-api", "on", "--sup", "on"],
    );
    assert_eq!(
        (
            set["scim_api"].as_bool(),
            set["aup"].as_bool(),
            set["sup"].as_bool()
        ),
        (Some(true), Some(false), Some(true))
    );

    for (args, needle) in [
        (vec!["org", "create", "research"], "already exists"),
        (
            vec!["org", "create", "bad name"],
            "not a valid organization name",
        ),
        (vec!["org", "show", "nope"], "roster org list"),
        (vec!["org", "set", "research"], "nothing to set"),
        (
            vec!["token", "create", "nope", "--name", "x"],
            "no organization",
        ),
        (
            vec!["token", "revoke", "research", "no-such-token"],
            "roster token list",
        ),
    ] {
        let out = run_cli(&db, &args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn token_secret_is_printed_once_and_never_listed() {
    let (_dir, db) = fresh_db();
    cli_ok(&db, &["org", "create", "acme"]);
    let secret = cli_ok(&db, &["token", "create", "acme", "--name", "Okta"]);
    assert!(
        secret.starts_with("roster_scim_") && secret.len() > 40,
        "{secret}"
    );
    let text = cli_ok(&db, &["token", "list", "acme"]);
    assert!(text.contains("Okta") && text.contains("never") && !text.contains(&secret));
    let raw = std::fs::read(db.trim_start_matches("sqlite://")).unwrap();
    let wal =
        std::fs::read(format!("{}-wal", db.trim_start_matches("sqlite://"))).unwrap_or_default();
    for bytes in [raw, wal] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret reached the database"
        );
    }
}

#[test]
fn help_teaches_and_serve_says_what_to_do_next() {
    let (_dir, db) = fresh_db();
    let help = cli_ok(&db, &["--help"]);
    for word in [
        "serve",
        "org",
        "token",
        "Getting started",
        "ROSTER_DATABASE",
    ] {
        assert!(help.contains(word), "--help lacks {word}");
    }
    let set_help = cli_ok(&db, &["org", "set", "--help"]);
    assert!(set_help.contains("--scim-api") && set_help.contains("403"));

    let mut child = std::process::Command::new(roster_bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ROSTER_DATABASE", &db)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let mut saw_listen = false;
    let mut saw_next = false;
    for line in lines.by_ref().take(10) {
        let line = line.unwrap();
        saw_listen |= line.contains("listening on http://127.0.0.1:");
        saw_next |= line.contains("roster org create NAME");
        if saw_listen && saw_next {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(saw_listen && saw_next);
    // The database was created and migrated on first start.
    assert!(std::path::Path::new(db.trim_start_matches("sqlite://")).exists());
}

#[test]
fn list_commands_do_not_stop_at_one_page() {
    let app = std::sync::Arc::new(TestApp::start());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let app = app.clone();
            std::thread::spawn(move || {
                for i in 0..126 {
                    app.create_user(&format!("many{t}-{i}@example.com"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let listed = cli_json(&app.db, &["user", "list", "acme"]);
    assert_eq!(
        listed.as_array().unwrap().len(),
        1008,
        "more than one page (1,000) of users"
    );
    // A search finds by part of the userName, case-insensitively.
    let found = cli_json(&app.db, &["user", "list", "acme", "--search", "MANY3-12"]);
    let names: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 7, "many3-12 and many3-120..125: {names:?}");
    assert!(names.iter().all(|n| n.starts_with("many3-12")));
    app.create_group("GPU Users", &[]);
    let groups = cli_json(&app.db, &["group", "list", "acme", "--search", "gpu"]);
    assert_eq!(groups.as_array().unwrap().len(), 1);
}

/// What a database holds, as the command line lists it (with one public
/// URL, so that rendered references compare).
fn listing(db: &str) -> Vec<Value> {
    let url = "--public-url=https://roster.test";
    [
        vec!["user", "list", "acme"],
        vec!["group", "list", "acme"],
        vec!["cluster", "list", "acme"],
        vec!["token", "list", "acme"],
        vec!["org", "show", "acme"],
        vec!["scim-log", "acme", "--limit", "1000"],
    ]
    .into_iter()
    .map(|mut args| {
        args.push(url);
        cli_json(db, &args)
    })
    .collect()
}

#[test]
fn db_copy_moves_everything_and_refuses_a_used_destination() {
    let mut app = sup_app();
    let ada = app.create_user("ada@example.com").id();
    app.create_user("lee@example.com");
    app.create_group("gpu", &[&ada]);
    create_cluster(&app.db, "c1", "gpu");
    // The provisioning log is written in batches, off the request path.
    let started = std::time::Instant::now();
    while cli_json(&app.db, &["scim-log", "acme"])
        .as_array()
        .unwrap()
        .len()
        < 3
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    app.kill();
    let before = listing(&app.db);
    assert_eq!(before[0].as_array().unwrap().len(), 2);

    let dir = tempfile::tempdir().unwrap();
    let pg = scratch_postgres();
    // Out to PostgreSQL when the tests run one, and back to a file;
    // else from one SQLite file to another.
    let mut hops = Vec::new();
    if let Some(pg) = &pg {
        hops.push(pg.url.clone());
    }
    hops.push(format!("sqlite://{}", dir.path().join("copy.db").display()));
    let mut from = app.db.clone();
    for to in &hops {
        let out = cli_json(&from, &["db", "copy", "--from", &from, "--to", to]);
        let users = out["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t[0] == "users")
            .unwrap()[1]
            .as_u64();
        assert_eq!(users, Some(2), "{out}");
        assert_eq!(listing(to), before, "copied to {to}");
        from = to.clone();
    }
    // The copy serves: the same token reads the same users, and new
    // identities continue after the copied ones.
    let last = hops.last().unwrap();
    let moved = app.serving(last);
    assert_eq!(moved.get("/Users").expect(200).total(), 2);
    let next = moved.create_user("kim@example.com");
    assert_eq!(next.body[CW]["sunkPosixUserId"], 100_002);
    // A destination that holds an org is refused, and left as it was.
    let again = run_cli(&app.db, &["db", "copy", "--from", &app.db, "--to", last]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("empty database"));
    assert_eq!(moved.get("/Users").expect(200).total(), 3);
}

#[test]
fn the_pool_size_is_checked_and_the_database_password_never_printed() {
    let app = TestApp::start();
    let out = run_cli(&app.db, &["--db-pool-size", "1", "org", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2..=1000"));
    cli_ok(&app.db, &["--db-pool-size", "4", "org", "list"]);
    // A URL with a password, unreachable: the error names it without it.
    let out = run_cli(
        "postgres://roster:s3cret-pw@127.0.0.1:1/roster",
        &["org", "list"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("roster:***@127.0.0.1:1"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
}

#[test]
fn groups_carry_roles_set_from_the_command_line() {
    let app = TestApp::start();
    cli_ok(&app.db, &["group", "create", "acme", "cluster-admins"]);
    let set_roles = |roles: &str| {
        let args = [
            "group",
            "set-roles",
            "acme",
            "cluster-admins",
            "--roles",
            roles,
        ];
        run_cli(&app.db, &args)
    };
    let shown = || cli_ok(&app.db, &["group", "show", "acme", "cluster-admins"]);
    let out = set_roles("iam admin,CKS Admin");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "cluster-admins grants: CKS Admin, IAM Admin\n",
        "names as known, in order"
    );
    assert!(shown().contains("roles:    CKS Admin, IAM Admin\n"));
    // A typo grants nothing and says what the roles are.
    let out = set_roles("IAM Admn");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("\"IAM Admn\" is not a role") && text.contains("IAM Viewer"),
        "{text}"
    );
    assert!(
        shown().contains("roles:    CKS Admin, IAM Admin\n"),
        "unchanged"
    );
    assert!(set_roles("").status.success());
    assert!(shown().contains("roles:    \n"), "none left");
}

#[test]
fn an_online_backup_is_one_consistent_snapshot_and_serves() {
    let app = sup_app();
    let g = app.create_group("g", &[]).id();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    let file_arg = file.to_str().unwrap();
    // A user created and then added to g, over and over, while the backup
    // runs.
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let (stop, done) = (AtomicBool::new(false), AtomicU64::new(0));
    // Waits (on a loaded machine too) until the writer has done `n`.
    let until = |n: u64| {
        let started = std::time::Instant::now();
        while done.load(Ordering::Relaxed) < n {
            assert!(started.elapsed() < std::time::Duration::from_secs(60));
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    let (report, written) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = app.create_user(&format!("w{n}@example.com")).id();
                app.patch(
                    &format!("/Groups/{g}"),
                    serde_json::json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
                )
                .expect(200);
                n += 1;
                done.store(n, Ordering::Relaxed);
            }
            n
        });
        until(3);
        let report = cli_json(&app.db, &["db", "backup", file_arg]);
        // Writes went on after the backup's snapshot.
        until(done.load(Ordering::Relaxed) + 2);
        stop.store(true, Ordering::Relaxed);
        (report, writer.join().unwrap())
    });
    let count = |table: &str| -> u64 {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t[0] == table)
            .unwrap_or_else(|| panic!("no {table}: {report}"))[1]
            .as_u64()
            .unwrap()
    };
    let users = count("users");
    assert!(
        users > 0 && users < written,
        "{users} of {written}: taken while writing"
    );
    // One snapshot: every member it holds is a user it holds, and at most
    // the last user had not been added yet.
    let backup_db = format!("sqlite://{}", file.display());
    let members = cli_json(&backup_db, &["group", "show", "acme", "g"])["members"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0) as u64;
    assert!(
        members == users || members + 1 == users,
        "{members} members, {users} users"
    );
    let listed = cli_json(&backup_db, &["user", "list", "acme"]);
    assert_eq!(listed.as_array().unwrap().len() as u64, users);
    // The backup is a current database of its own.
    let status = cli_json(&backup_db, &["db", "status"]);
    assert_eq!(status["up_to_date"], true, "{status}");
    // An existing file is never overwritten.
    let before = std::fs::metadata(&file).unwrap().len();
    let again = run_cli(&app.db, &["db", "backup", file_arg]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), before);
}

#[test]
fn an_org_takes_its_id_ranges_from_the_command_line() {
    let app = sup_app();
    let out = run_cli(&app.db, &["org", "set", "acme", "--uid-range", "5000"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a range"));
    let out = run_cli(&app.db, &["org", "set", "acme", "--uid-range", "0-5000"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("never assigned"));
    cli_ok(
        &app.db,
        &["org", "set", "acme", "--uid-range", "5000-59999"],
    );
    let shown = cli_json(&app.db, &["org", "show", "acme"]);
    assert_eq!(
        shown["uid_range"],
        serde_json::json!([5000, 59999]),
        "{shown}"
    );
    assert_eq!(shown["gid_range"], serde_json::json!([200000, 299999]));
    let text = cli_ok(&app.db, &["org", "show", "acme"]);
    assert!(
        text.contains("UIDs 5000-59999, GIDs 200000-299999"),
        "{text}"
    );
    let v = app.create_user("new@example.com");
    assert_eq!(v.body[CW]["sunkPosixUserId"], 5000);
}
