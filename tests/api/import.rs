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

/// The sources' ids (5000 and up) are people's: the org's ranges reach
/// them (ids below the ranges are the nodes' own, for an import as for an
/// override). The GID range lowers the floor and leaves new UIDs at 100000.
fn reach_the_sources_ids(app: &TestApp) {
    cli_ok(
        &app.db,
        &["org", "set", "acme", "--gid-range", "5000-59999"],
    );
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
    reach_the_sources_ids(&app);
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
    assert_eq!(
        shared.body[CW]["sunkLoginShell"], "/bin/zsh",
        "its old shell"
    );
    // A later push without overrides keeps the old shell.
    let put = json!({"schemas": [USER], "userName": "shared1@example.com", "displayName": "S"});
    let again = app
        .put(&format!("/Users/{}", shared.id()), &put)
        .expect(200);
    assert_eq!(again.body[CW]["sunkLoginShell"], "/bin/zsh");
    let proj = app.create_group("proj-a", &[&u7.id(), &shared.id()]);
    let cw_group = "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveGroup";
    assert_eq!(proj.body[cw_group]["sunkPosixGroupId"], 7000);
    // Someone else gets a new identity, never a kept one.
    let newbie = app.create_user("newbie@example.com");
    assert_eq!(newbie.body[CW]["sunkPosixUserId"], 100_000);
    // The files again, once the IdP has claimed some of what they kept:
    // still nothing to change (an operator re-exports during a move).
    let (code, third) = import(&app, &passwd, &group, &["--dry-run"]);
    assert_eq!(code, 0, "{third}");
    assert_eq!(
        (outcomes(&third, "kept"), outcomes(&third, "unchanged")),
        (0, 303),
        "{third}"
    );
    let claimed = third["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "user7" && l["kind"] == "user")
        .unwrap();
    assert!(
        claimed["detail"]
            .as_str()
            .unwrap()
            .contains("now user user7@example.com's"),
        "{claimed}"
    );

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
    reach_the_sources_ids(&app);
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

/// An LDAP export as slapcat writes it: an organizational unit, people
/// with posixAccount (one folded line, one base64 value), keys, emails.
const LDIF: &str = "version: 1

dn: ou=People,dc=example,dc=org
objectClass: organizationalUnit
ou: People

dn: uid=ada,ou=People,dc=example,dc=org
objectClass: inetOrgPerson
objectClass: posixAccount
objectClass: ldapPublicKey
uid: ada
cn: Ada Lovelace
mail: Ada.Lovelace@corp.example
uidNumber: 6001
gidNumber: 6001
homeDirectory: /home/ada
loginShell: /bin/zsh
sshPublicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILenAM0cpltQu8JJx1at/k7/jQ1an
 EQtqdbwlpgG6zjr ada@laptop

dn: uid=grace,ou=People,dc=example,dc=org
objectClass: posixAccount
uid: grace
cn:: R3JhY2UgSG9wcGVy
uidNumber: 6002
gidNumber: 6002
homeDirectory: /home/grace

dn: cn=hpc,ou=Groups,dc=example,dc=org
objectClass: posixGroup
cn: hpc
gidNumber: 7100
memberUid: ada
memberUid: grace
";

#[test]
fn an_ldap_export_is_kept_and_matched_by_email_first() {
    let app = sup_app();
    reach_the_sources_ids(&app);
    let dir = tempfile::tempdir().unwrap();
    let ldif = dir.path().join("cluster.ldif");
    std::fs::write(&ldif, LDIF).unwrap();
    let ldif = ldif.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["import", "acme", "--ldif", ldif, "--json"];
        args.extend_from_slice(extra);
        let out = run_cli(&app.db, &args);
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap_or(-1), v)
    };
    let (code, dry) = run(&["--dry-run"]);
    assert_eq!((code, outcomes(&dry, "kept")), (0, 3), "{dry}");
    let ada = dry["lines"][0]["detail"].as_str().unwrap();
    assert!(
        ada.contains("UID 6001") && ada.contains("email Ada.Lovelace@corp.example"),
        "{ada}"
    );
    assert!(ada.contains("1 SSH key(s) not copied"), "{ada}");
    let hpc = dry["lines"][2]["detail"].as_str().unwrap();
    assert!(
        hpc.contains("2 member(s) in the source (ada, grace)"),
        "{hpc}"
    );

    let (code, done) = run(&[]);
    assert_eq!((code, &done["applied"]), (0, &json!(true)), "{done}");
    let (_, again) = run(&[]);
    assert_eq!(outcomes(&again, "unchanged"), 3, "idempotent: {again}");

    // Someone else whose POSIX name would be "ada" does not get Ada's
    // identity: the export named her email.
    let other = app.create_user("ada@example.com");
    assert_ne!(other.body[CW]["sunkPosixUserId"], 6001);
    assert_ne!(other.body[CW]["sunkPosixUsername"], "ada");
    // Ada, pushed under another userName, is matched by her email (any
    // case): her old UID, name, home and shell.
    let lovelace = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "alovelace@example.com",
                    "emails": [{"value": "ada.lovelace@CORP.example", "primary": true}]}),
        )
        .expect(201);
    assert_eq!(
        lovelace.body[CW],
        json!({"sunkPosixUserId": 6001, "sunkPosixGroupId": 6001, "sunkPosixUsername": "ada",
               "sunkPreferredHomeDirectory": "/home/ada", "sunkLoginShell": "/bin/zsh"})
    );
    // Grace's entry has no email: matched by name.
    let grace = app.create_user("grace@example.com");
    assert_eq!(grace.body[CW]["sunkPosixUserId"], 6002);
    let hpc = app.create_group("hpc", &[&lovelace.id(), &grace.id()]);
    let cw_group = "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveGroup";
    assert_eq!(hpc.body[cw_group]["sunkPosixGroupId"], 7100);
    // On a node, through libnss-cache: the directory's old numbers.
    create_cluster(&app.db, "c1", "hpc");
    let node = AgentNode::new(&app.db, "c1");
    node.once(&app, "c1", &[]);
    let line = crate::slurm::getent(node.dir.path(), "passwd", "ada");
    assert!(
        line.starts_with("ada:x:6001:6001:") && line.ends_with(":/home/ada:/bin/zsh"),
        "getent: {line:?}"
    );
    let line = crate::slurm::getent(node.dir.path(), "group", "hpc");
    assert_eq!(line, "hpc:x:7100:ada,grace", "getent");

    // A malformed export names its line and keeps nothing.
    let bad = dir.path().join("bad.ldif");
    std::fs::write(
        &bad,
        "dn: uid=x,dc=example,dc=org\nobjectClass: posixAccount\nuid: x\nuidNumber: 6100\n",
    )
    .unwrap();
    let out = run_cli(
        &app.db,
        &["import", "acme", "--ldif", bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1") && err.contains("no gidNumber"),
        "{err}"
    );
}
