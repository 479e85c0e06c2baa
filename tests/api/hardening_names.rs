//! Issue 22's names and fields: every way in (SCIM, `roster import`) keeps
//! the rules SCIM keeps. An import whose home, shell or name would break a
//! map line is refused with the line named; an import's system and
//! reserved names are skipped and its ids obey the org's floor; names that
//! hide characters (Default_Ignorable_Code_Point, Bidi_Control) are
//! refused over SCIM, naming the attribute and the code point.

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::*;

/// One of cluster `c1`'s maps, as its nodes read it.
fn nss_map(app: &TestApp, token: &str, map: &str) -> String {
    let r = app
        .client
        .get(app.url(&format!("/nss/acme/c1/{map}")))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "GET /nss/acme/c1/{map}");
    r.text().unwrap()
}

fn import(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["import", "acme"];
    all.extend_from_slice(args);
    let out = run_cli(&app.db, &all);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_import_whose_fields_would_break_a_map_line_is_refused_with_its_line() {
    let app = sup_app();
    // The ids of the sources below are people's: within the org's ranges.
    cli_ok(
        &app.db,
        &["org", "set", "acme", "--uid-range", "5000-59999"],
    );
    let dir = tempfile::tempdir().unwrap();

    // An LDAP export whose loginShell (base64, RFC 2849) holds a second
    // passwd line.
    let shell = base64::engine::general_purpose::STANDARD
        .encode("/bin/bash\nroot2:x:0:0:pwned:/root:/bin/bash");
    let ldif = format!(
        "dn: uid=ada,ou=People,dc=example,dc=org\n\
         objectClass: posixAccount\n\
         uid: ada\nuidNumber: 6001\ngidNumber: 6001\nhomeDirectory: /home/ada\n\
         mail: ada@corp.example\n\n\
         dn: uid=mallory,ou=People,dc=example,dc=org\n\
         objectClass: posixAccount\n\
         uid: mallory\nuidNumber: 6002\ngidNumber: 6002\nhomeDirectory: /home/mallory\n\
         loginShell:: {shell}\nmail: mallory@corp.example\n"
    );
    let path = dir.path().join("hostile.ldif");
    std::fs::write(&path, ldif).unwrap();
    let (code, _, err) = import(&app, &["--ldif", path.to_str().unwrap()]);
    assert_eq!(code, Some(1), "refused: {err}");
    assert!(
        err.contains("line 9")
            && err.contains("uid=mallory")
            && err.contains("login shell")
            && err.contains("U+000A"),
        "names the entry and what is wrong: {err}"
    );
    assert!(
        !err.contains("\nroot2"),
        "the hostile value is shown escaped: {err}"
    );

    // A passwd file with a raw carriage return in a home directory.
    let passwd = dir.path().join("passwd");
    std::fs::write(
        &passwd,
        "grace:x:6003:6003:Grace:/home/grace:/bin/bash\n\
         eve:x:6004:6004:Eve:/home/eve\r/x:/bin/bash\n",
    )
    .unwrap();
    let (code, _, err) = import(&app, &["--passwd", passwd.to_str().unwrap()]);
    assert_eq!(code, Some(1), "refused: {err}");
    assert!(
        err.contains("line 2") && err.contains("home directory") && err.contains("U+000D"),
        "{err}"
    );

    // Nothing was kept: the people the IdP pushes get new identities, and
    // no raw line reaches a node's maps.
    let mallory = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "mallory@example.com",
                    "emails": [{"value": "mallory@corp.example", "primary": true}]}),
        )
        .expect(201);
    assert_ne!(
        mallory.body[CW]["sunkPosixUserId"], 6002,
        "{}",
        mallory.body
    );
    assert_eq!(
        mallory.body[CW]["sunkLoginShell"], "/bin/bash",
        "the default"
    );
    let grace = app.create_user("grace@example.com");
    assert_ne!(grace.body[CW]["sunkPosixUserId"], 6003);
    app.create_group("hpc", &[&mallory.id(), &grace.id()]);
    let token = create_cluster(&app.db, "c1", "hpc");
    let passwd = nss_map(&app, &token, "passwd");
    assert_eq!(
        passwd_names_of(&passwd),
        ["mallory", "grace"],
        "one line per person: {passwd:?}"
    );
    assert!(
        !passwd.contains("root2") && !passwd.contains('\r'),
        "{passwd:?}"
    );
}

/// An LDAP export with a node's own accounts and group among its people.
const RESERVED_LDIF: &str = "\
dn: uid=ubuntu,ou=People,dc=example,dc=org
objectClass: posixAccount
uid: ubuntu
uidNumber: 1000
gidNumber: 1000
homeDirectory: /home/ubuntu

dn: uid=root,ou=People,dc=example,dc=org
objectClass: posixAccount
uid: root
uidNumber: 4002
gidNumber: 4002
homeDirectory: /root
mail: root@corp.example

dn: uid=ada,ou=People,dc=example,dc=org
objectClass: posixAccount
uid: ada
uidNumber: 6001
gidNumber: 6001
homeDirectory: /home/ada
mail: ada@corp.example

dn: cn=sudo,ou=Groups,dc=example,dc=org
objectClass: posixGroup
cn: sudo
gidNumber: 1500
memberUid: ada
";

#[test]
fn imports_skip_reserved_names_and_keep_no_id_below_the_orgs_floor() {
    let app = sup_app();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.ldif");
    std::fs::write(&path, RESERVED_LDIF).unwrap();
    let ldif = path.to_str().unwrap();

    // The org's ranges start at 100000 (the default): every id of the
    // source is below them, the nodes' own. All or nothing: refused, with
    // the command that makes them people's.
    let (code, out, err) = import(&app, &["--ldif", ldif, "--json"]);
    assert_eq!(code, Some(2), "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["applied"], false);
    let conflicts = report["conflicts"].to_string();
    assert!(
        conflicts.contains("user ada: UID 6001 is below the org's ranges")
            && conflicts.contains("roster org set acme --uid-range 6001-59999"),
        "{conflicts}"
    );

    // With the ranges lowered to the cluster's, the people are kept and
    // the node's names skipped, by name, and said so.
    cli_ok(
        &app.db,
        &["org", "set", "acme", "--uid-range", "1000-59999"],
    );
    let (code, out, err) = import(&app, &["--ldif", ldif, "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let outcome = |name: &str| {
        report["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .map(|l| (l["outcome"].clone(), l["detail"].to_string()))
            .unwrap_or_else(|| panic!("{name} is not in the report: {report}"))
    };
    for name in ["ubuntu", "root", "sudo"] {
        let (o, detail) = outcome(name);
        assert_eq!(o, "skipped", "{name}: {detail}");
        assert!(
            detail.contains("is reserved") && detail.contains("rename the entry"),
            "{name}: {detail}"
        );
    }
    assert_eq!(outcome("ada").0, "kept");

    // The IdP pushes those people and that group: none receives the
    // node's name or the source's id.
    let ubuntu = app.create_user("ubuntu@example.com");
    let root = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "rooty@example.com",
                    "emails": [{"value": "root@corp.example", "primary": true}]}),
        )
        .expect(201);
    let ada = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "ada@example.com",
                    "emails": [{"value": "ada@corp.example", "primary": true}]}),
        )
        .expect(201);
    assert_eq!(ada.body[CW]["sunkPosixUserId"], 6001, "a person is kept");
    let sudo = app.create_group("sudo", &[&ubuntu.id(), &root.id(), &ada.id()]);
    assert_ne!(sudo.body[CWG]["sunkPosixGroupName"], "sudo");
    assert_ne!(sudo.body[CWG]["sunkPosixGroupId"], 1500);
    let posix_name = sudo.body[CWG]["sunkPosixGroupName"].as_str().unwrap();
    let token = create_cluster(&app.db, "c1", posix_name);
    let passwd = nss_map(&app, &token, "passwd");
    let names = passwd_names_of(&passwd);
    assert!(
        !names.iter().any(|n| n == "ubuntu" || n == "root"),
        "{passwd}"
    );
    for line in passwd.lines() {
        let uid = line.split(':').nth(2).unwrap();
        assert!(uid != "1000" && uid != "4002", "{line}");
    }
    let group = nss_map(&app, &token, "group");
    for line in group.lines() {
        let mut f = line.split(':');
        let (name, gid) = (f.next().unwrap(), f.nth(1).unwrap());
        assert!(
            !["sudo", "ubuntu", "root"].contains(&name) && gid != "1500",
            "{line}"
        );
    }
}

#[test]
fn names_with_invisible_or_direction_characters_are_refused_over_scim() {
    let app = sup_app();
    let refused = |r: Reply, attr: &str, code_point: &str| {
        let r = r.expect_error(400, Some("invalidValue"));
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains(attr) && detail.contains(code_point),
            "{detail}"
        );
    };
    for (user_name, code_point) in [
        ("alice\u{200B}@example.com", "U+200B"),
        ("\u{202E}moc.elpmaxe@ecila", "U+202E"),
        ("bob\u{2060}@example.com", "U+2060"),
    ] {
        let body = json!({"schemas": [USER], "userName": user_name});
        refused(app.post("/Users", &body), "userName", code_point);
    }
    let body = json!({"schemas": [USER], "userName": "carol@example.com",
                      CW: {"sunkPosixUsername": "car\u{200B}ol"}});
    refused(app.post("/Users", &body), "sunkPosixUsername", "U+200B");
    let body = json!({"schemas": [GROUP], "displayName": "admins\u{200B}"});
    refused(app.post("/Groups", &body), "displayName", "U+200B");
    let body = json!({"schemas": [GROUP], "displayName": "gpu",
                      CWG: {"sunkPosixGroupName": "gpu\u{202E}"}});
    refused(app.post("/Groups", &body), "sunkPosixGroupName", "U+202E");

    // PATCH to such a name is refused and changes nothing.
    let alice = app.create_user("alice@example.com");
    let path = format!("/Users/{}", alice.id());
    refused(
        app.patch(
            &path,
            json!([{"op": "replace", "path": "userName", "value": "alice\u{200B}@example.com"}]),
        ),
        "userName",
        "U+200B",
    );
    let admins = app.create_group("admins", &[]);
    refused(
        app.patch(
            &format!("/Groups/{}", admins.id()),
            json!([{"op": "replace", "path": "displayName", "value": "admins\u{200F}"}]),
        ),
        "displayName",
        "U+200F",
    );

    // Nothing was created or changed.
    let users = app.get("/Users").expect(200);
    assert_eq!(users.total(), 1, "{}", users.body);
    assert_eq!(
        app.get(&path).expect(200).body["userName"],
        "alice@example.com"
    );
    let groups = app.get("/Groups").expect(200);
    assert_eq!(groups.total(), 1, "{}", groups.body);
    assert_eq!(groups.body["Resources"][0]["displayName"], "admins");
}
