use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::helpers::*;

fn posix(r: &Reply) -> Value {
    r.body[CW].clone()
}

#[test]
fn users_get_stable_identities_never_reused() {
    let app = sup_app();
    let a = app.create_user("Jane.Doe@example.com");
    assert_eq!(
        posix(&a),
        json!({"sunkPosixUserId": 100000, "sunkPosixGroupId": 100000, "sunkPosixUsername": "jane_doe",
               "sunkPreferredHomeDirectory": "/home/jane_doe", "sunkLoginShell": "/bin/bash"})
    );
    // A collision gets a numeric suffix.
    let b = app.create_user("jane.doe@other.org");
    assert_eq!(posix(&b)["sunkPosixUsername"], "jane_doe2");
    assert_eq!(posix(&b)["sunkPosixUserId"], 100001);
    // A rename at the IdP keeps the identity.
    let r = app
        .patch(
            &format!("/Users/{}", a.id()),
            json!([{"op": "replace", "path": "userName", "value": "jdoe@example.com"}]),
        )
        .expect(200);
    assert_eq!(posix(&r)["sunkPosixUsername"], "jane_doe");
    assert_eq!(posix(&r)["sunkPosixUserId"], 100000);
    // A deleted user's UID and name are never given to anyone else.
    app.delete(&format!("/Users/{}", b.id())).expect(204);
    let c = app.create_user("jane.doe@third.net");
    assert_eq!(posix(&c)["sunkPosixUserId"], 100002);
    assert_eq!(posix(&c)["sunkPosixUsername"], "jane_doe3");
    // Reads show the same, and filters can use them.
    let g = app.get(&format!("/Users/{}", c.id())).expect(200);
    assert_eq!(posix(&g), posix(&c));
}

#[test]
fn overrides_are_checked_and_a_refused_one_changes_nothing() {
    let app = sup_app();
    let a = app.create_user("a@example.com");
    let b = app.create_user("b@example.com");
    let path = format!("/Users/{}", b.id());
    let before = app.get(&path).body;
    for (value, status, scim_type) in [
        (json!({"sunkPosixUserId": 1_000_000}), 400, "invalidValue"),
        (json!({"sunkPosixUserId": 65534}), 400, "invalidValue"),
        (json!({"sunkPosixUserId": 100000}), 409, "uniqueness"),
        (json!({"sunkPosixUsername": "a"}), 409, "uniqueness"),
        (
            json!({"sunkPosixUsername": "Not Valid"}),
            400,
            "invalidValue",
        ),
        (
            json!({"sunkPreferredHomeDirectory": "relative/home"}),
            400,
            "invalidValue",
        ),
        (json!({"sunkLoginShell": "/bin/sh:x"}), 400, "invalidValue"),
    ] {
        let r = app.patch(
            &path,
            json!([{"op": "replace", "path": CW, "value": value}]),
        );
        r.expect_error(status, Some(scim_type));
        assert_eq!(
            app.get(&path).body,
            before,
            "a refused override changed the user"
        );
    }
    let r = app.patch(&path, json!([{"op": "replace", "path": CW, "value": {
        "sunkPosixUserId": 150000, "sunkPosixUsername": "bee", "sunkPreferredHomeDirectory": "/scratch/bee", "sunkLoginShell": "/bin/zsh"}}])).expect(200);
    assert_eq!(
        posix(&r),
        // The private group follows the UID (issue 15: it used to stay at
        // the old GID, and the group line fell out of the map).
        json!({"sunkPosixUserId": 150000, "sunkPosixGroupId": 150000, "sunkPosixUsername": "bee",
               "sunkPreferredHomeDirectory": "/scratch/bee", "sunkLoginShell": "/bin/zsh"})
    );
    // The overridden identity is taken for good: a's override onto it fails.
    app.patch(
        &format!("/Users/{}", a.id()),
        json!([{"op": "add", "path": format!("{CW}:sunkPosixUsername"), "value": "bee"}]),
    )
    .expect_error(409, Some("uniqueness"));
}

#[test]
fn groups_get_gids_and_members_carry_usernames() {
    let app = sup_app();
    let u = app.create_user("grace@example.com");
    let g = app.create_group("GPU Users", &[&u.id()]);
    assert_eq!(
        g.body[CWG],
        json!({"sunkPosixGroupName": "gpu_users", "sunkPosixGroupId": 200000})
    );
    assert_eq!(g.body["members"][0]["display"], "grace");
    let g2 = app.post("/Groups", &json!({"schemas": [GROUP], "displayName": "ops", CWG: {"sunkPosixGroupName": "operators", "sunkPosixGroupId": 250000}})).expect(201);
    assert_eq!(
        g2.body[CWG],
        json!({"sunkPosixGroupName": "operators", "sunkPosixGroupId": 250000})
    );
    // A group cannot take a user's name (its private group has it).
    app.post(
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "x", CWG: {"sunkPosixGroupName": "grace"}}),
    )
    .expect_error(409, Some("uniqueness"));
    // A rename keeps the POSIX name.
    let r = app
        .patch(
            &format!("/Groups/{}", g.id()),
            json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]),
        )
        .expect(200);
    assert_eq!(r.body[CWG]["sunkPosixGroupName"], "gpu_users");
}

#[test]
fn turning_sup_on_assigns_identities_to_existing_users() {
    let app = TestApp::start();
    let u = app.create_user("early@example.com");
    let g = app.create_group("early birds", &[&u.id()]);
    assert!(
        u.body.get(CW).is_none(),
        "no POSIX attributes while SUP is off"
    );
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    assert_eq!(
        posix(&app.get(&format!("/Users/{}", u.id())))["sunkPosixUsername"],
        "early"
    );
    assert_eq!(
        app.get(&format!("/Groups/{}", g.id())).body[CWG]["sunkPosixGroupId"],
        200000
    );
    // Off again: nothing exposed; on again: the same identity.
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "off"]);
    assert!(
        app.get(&format!("/Users/{}", u.id()))
            .body
            .get(CW)
            .is_none()
    );
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    assert_eq!(
        posix(&app.get(&format!("/Users/{}", u.id())))["sunkPosixUserId"],
        100000
    );
}

#[test]
fn concurrent_creates_never_share_a_uid_or_name() {
    let app = Arc::new(sup_app());
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let app = app.clone();
            std::thread::spawn(move || {
                // The same local part from every client: names collide on purpose.
                (0..64)
                    .map(|i| posix(&app.post("/Users", &json!({"schemas": [USER], "userName": format!("user{i}@client{t}.example")})).expect(201)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<Value> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(all.len(), 2048);
    let uids: HashSet<i64> = all
        .iter()
        .map(|p| p["sunkPosixUserId"].as_i64().unwrap())
        .collect();
    let names: HashSet<&str> = all
        .iter()
        .map(|p| p["sunkPosixUsername"].as_str().unwrap())
        .collect();
    assert_eq!(uids.len(), 2048);
    assert_eq!(names.len(), 2048);
    assert!(uids.iter().all(|u| (100_000..=199_999).contains(u)));
}

#[test]
fn ssh_keys_are_checked_with_sup_on() {
    let app = sup_app();
    let keys = tempfile::tempdir().unwrap();
    let ed = keygen(keys.path(), "ed25519", None, "ed");
    let ec = keygen(keys.path(), "ecdsa", Some("384"), "ec");
    let rsa = keygen(keys.path(), "rsa", Some("2048"), "rsa");
    let weak = keygen(keys.path(), "rsa", Some("1024"), "weak");
    let u = app.create_user("keys@example.com");
    let path = format!("/Users/{}", u.id());
    // Entra's one string with several keys; a duplicate with another comment is dropped.
    let dup = ed.replace(" ed", " laptop");
    let r = app.patch(&path, json!([{"op": "Add", "path": format!("{CW}:sunkSshKeys"), "value": format!("{ed}\n{ec}\r\n{rsa}\n{dup}\n")}])).expect(200);
    assert_eq!(r.body[CW]["sunkSshKeys"], json!([ed, ec, rsa]));
    let before = app.get(&path).body;
    for (bad, why) in [
        (format!("command=\"/bin/sh\" {ed}"), "options"),
        (weak.clone(), "1024 bits"),
        (
            "ssh-ed25519 AAAAnot-base64 x".to_string(),
            "not a valid ssh-ed25519",
        ),
        ("hello world".to_string(), "unknown or missing key type"),
    ] {
        let r = app.patch(&path, json!([{"op": "replace", "path": format!("{CW}:sunkSshKeys"), "value": [ed.clone(), bad]}]));
        let r = r.expect_error(400, Some("invalidValue"));
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("sunkSshKeys[1]") && detail.contains(why),
            "{detail}"
        );
        assert_eq!(app.get(&path).body, before);
    }
    // Okta's array, replacing the list (the IdP's sync overwrites).
    let r = app
        .patch(
            &path,
            json!([{"op": "replace", "path": format!("{CW}:sunkSshKeys"), "value": [rsa.clone()]}]),
        )
        .expect(200);
    assert_eq!(r.body[CW]["sunkSshKeys"], json!([rsa]));
}

#[test]
fn users_by_hand_with_the_cli() {
    let app = sup_app();
    cli_ok(&app.db, &["org", "set", "acme", "--aup", "off"]);
    let id = cli_ok(
        &app.db,
        &[
            "user",
            "create",
            "acme",
            "--user-name",
            "ops@example.com",
            "--given-name",
            "Op",
            "--family-name",
            "Erator",
            "--email",
            "ops@example.com",
        ],
    );
    let shown = cli_json(&app.db, &["user", "show", "acme", "OPS@example.com"]);
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown[CW]["sunkPosixUsername"], "ops");
    assert_eq!(shown["emails"][0]["value"], "ops@example.com");
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519", None, "ops-laptop");
    let file = dir.path().join("keys.txt");
    std::fs::write(&file, format!("# my keys\n{key}\n\n")).unwrap();
    let u = cli_json(
        &app.db,
        &[
            "user",
            "set-ssh-keys",
            "acme",
            "ops",
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert!(u.is_object());
    let u = cli_json(&app.db, &["user", "show", "acme", &id]);
    assert_eq!(u[CW]["sunkSshKeys"], json!([key]));
    std::fs::write(&file, "ssh-ed25519 broken\n").unwrap();
    let out = run_cli(
        &app.db,
        &[
            "user",
            "set-ssh-keys",
            "acme",
            &id,
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("sunkSshKeys[0]")
    );
    let list = cli_json(&app.db, &["user", "list", "acme"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let d = cli_json(&app.db, &["user", "deactivate", "acme", &id]);
    assert_eq!(d["active"], false);
    cli_ok(&app.db, &["user", "delete", "acme", &id]);
    app.get(&format!("/Users/{id}")).expect_error(404, None);
    // The deleted user's UID is not reused.
    let again = cli_json(
        &app.db,
        &["user", "create", "acme", "--user-name", "ops2@example.com"],
    );
    assert_eq!(again[CW]["sunkPosixUserId"], 100001);
}

#[test]
fn users_set_their_keys_through_the_admin_api() {
    let app = sup_app();
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2) = (
        keygen(dir.path(), "ed25519", None, "k1"),
        keygen(dir.path(), "ecdsa", None, "k2"),
    );
    let u = app.create_user("self@example.com");
    let url = app.url("/api/v1/orgs/acme/users/self/ssh-keys");
    let r = app
        .send(
            app.client
                .put(&url)
                .bearer_auth(&app.token)
                .header("content-type", "text/plain")
                .body(format!("{k1}\n# old laptop\n{k2}\n")),
        )
        .expect(200);
    assert_eq!(r.body["keys"], json!([k1, k2]));
    assert_eq!(r.body["user"], u.id().as_str());
    let r = app
        .send(app.client.get(&url).bearer_auth(&app.token))
        .expect(200);
    assert_eq!(r.body["keys"], json!([k1, k2]));
    let r = app
        .send(
            app.client
                .put(&url)
                .bearer_auth(&app.token)
                .header("content-type", "application/json")
                .body(json!({"keys": [k2]}).to_string()),
        )
        .expect(200);
    assert_eq!(r.body["keys"], json!([k2]));
    assert_eq!(
        app.get(&format!("/Users/{}", u.id())).body[CW]["sunkSshKeys"],
        json!([k2])
    );
    app.send(
        app.client
            .put(&url)
            .bearer_auth(&app.token)
            .body("ssh-rsa AAAA short"),
    )
    .expect_api_error(400, "invalid_value");
    app.send(app.client.get(&url))
        .expect_api_error(401, "unauthenticated");
    cli_ok(&app.db, &["group", "create", "acme", "g"]);
    let ct = create_cluster(&app.db, "c", "g");
    app.send(app.client.get(&url).bearer_auth(&ct))
        .expect_api_error(403, "forbidden");
}
