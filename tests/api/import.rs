//! `roster import`: a cluster's existing passwd and group files kept for
//! the people and groups the IdP then pushes, who receive their old ids;
//! conflicts keep nothing; a second run changes nothing.

use serde_json::{Value, json};

use crate::helpers::*;

fn files(dir: &std::path::Path, extra_user: &str) -> (String, String) {
    let mut passwd = String::from(
        "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    );
    let mut group = String::from("root:x:0:\nusers:x:100:\n");
    for i in 0..300 {
        passwd.push_str(&format!(
            "user{i}:x:{}:{}:User {i}:/home/user{i}:/bin/bash\n",
            5000 + i,
            5000 + i
        ));
        group.push_str(&format!("user{i}:x:{}:\n", 5000 + i));
    }
    // A user whose primary group was a shared one.
    passwd.push_str("shared1:x:5400:7000:Shared:/home/shared1:/bin/zsh\n");
    passwd.push_str(extra_user);
    group.push_str("proj-a:x:7000:user1,user2,shared1\nproj-b:x:7001:user3\n");
    let (p, g) = (dir.join("passwd"), dir.join("group"));
    std::fs::write(&p, passwd).unwrap();
    std::fs::write(&g, group).unwrap();
    (p.display().to_string(), g.display().to_string())
}

fn import(app: &TestApp, passwd: &str, group: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "import", "acme", "--passwd", passwd, "--group", group, "--json",
    ];
    args.extend_from_slice(extra);
    let out = run_cli(&app.db, &args);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

fn outcomes(report: &Value, outcome: &str) -> usize {
    report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["outcome"] == outcome)
        .count()
}

#[test]
fn a_clusters_users_keep_their_ids_when_the_idp_pushes_them() {
    let app = sup_app();
    let dir = tempfile::tempdir().unwrap();
    let (passwd, group) = files(dir.path(), "");

    // A dry run keeps nothing.
    let (code, dry) = import(&app, &passwd, &group, &["--dry-run"]);
    assert_eq!(code, 0, "{dry}");
    assert_eq!(dry["applied"], false);
    assert_eq!(outcomes(&dry, "kept"), 303, "301 users and 2 groups");
    assert_eq!(
        outcomes(&dry, "skipped"),
        2 + 2 + 300,
        "system accounts and private groups"
    );

    let (code, done) = import(&app, &passwd, &group, &[]);
    assert_eq!((code, &done["applied"]), (0, &json!(true)), "{done}");
    assert_eq!(outcomes(&done, "kept"), 303);
    // Idempotent.
    let (code, again) = import(&app, &passwd, &group, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        (outcomes(&again, "kept"), outcomes(&again, "unchanged")),
        (0, 303)
    );

    // The IdP pushes the people and groups: they receive their old ids.
    let u7 = app.create_user("user7@example.com");
    assert_eq!(
        u7.body[CW],
        json!({"sunkPosixUserId": 5007, "sunkPosixGroupId": 5007, "sunkPosixUsername": "user7",
               "sunkPreferredHomeDirectory": "/home/user7", "sunkLoginShell": "/bin/bash"})
    );
    let shared = app.create_user("shared1@example.com");
    assert_eq!(shared.body[CW]["sunkPosixUserId"], 5400);
    assert_eq!(shared.body[CW]["sunkPosixGroupId"], 5400, "a private group");
    let proj = app.create_group("proj-a", &[&u7.id(), &shared.id()]);
    let cw_group = "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveGroup";
    assert_eq!(proj.body[cw_group]["sunkPosixGroupId"], 7000);
    // Someone else gets a new identity, never a kept one.
    let newbie = app.create_user("newbie@example.com");
    assert_eq!(newbie.body[CW]["sunkPosixUserId"], 100_000);

    // On a node, through libnss-cache, the old numbers.
    create_cluster(&app.db, "c1", "proj-a");
    let node = AgentNode::new(&app.db, "c1");
    node.once(&app, "c1", &[]);
    let line = crate::slurm::getent(node.dir.path(), "passwd", "user7");
    assert!(line.starts_with("user7:x:5007:5007:"), "getent: {line:?}");
    let line = crate::slurm::getent(node.dir.path(), "group", "proj-a");
    assert!(line.starts_with("proj-a:x:7000:"), "getent: {line:?}");
}

#[test]
fn a_conflict_keeps_nothing_and_says_what_to_do() {
    let app = sup_app();
    // UID 100000 already belongs to someone in Roster.
    app.create_user("taken@example.com");
    let dir = tempfile::tempdir().unwrap();
    let (passwd, group) = files(dir.path(), "clash:x:100000:100000::/home/clash:/bin/bash\n");
    let (code, report) = import(&app, &passwd, &group, &[]);
    assert_eq!(code, 2, "{report}");
    assert_eq!(report["applied"], false);
    let conflicts = report["conflicts"].as_array().unwrap();
    // Its UID and its private group's GID both belong to taken@.
    assert_eq!(conflicts.len(), 2, "{:?}", report["conflicts"]);
    let c = conflicts[0].as_str().unwrap();
    assert!(
        c.contains("clash")
            && c.contains("UID 100000 is already assigned")
            && c.contains("user taken@example.com"),
        "{c}"
    );
    // Nothing was kept: user7 gets a new identity.
    let u7 = app.create_user("user7@example.com");
    assert_ne!(u7.body[CW]["sunkPosixUserId"], 5007);
    // A malformed file names its line.
    std::fs::write(
        dir.path().join("bad"),
        "ok:x:5000:5000::/h:/s\nbroken:x:1\n",
    )
    .unwrap();
    let out = run_cli(
        &app.db,
        &[
            "import",
            "acme",
            "--passwd",
            dir.path().join("bad").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}
