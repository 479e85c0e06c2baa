use serde_json::{Value, json};

use crate::helpers::*;

fn okta_create(user_name: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": "00u1",
        "groups": [],
        "password": "hunter2",
        "active": true
    })
}

#[test]
fn create_get_and_never_echo_password() {
    let app = TestApp::start();
    let r = app
        .post("/Users", &okta_create("ada@example.com"))
        .expect(201);
    let id = r.id();
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with("http://") && loc.ends_with(&format!("/Users/{id}")),
        "{loc}"
    );
    assert_eq!(r.body["meta"]["location"], loc.as_str());
    assert_eq!(r.header("etag").as_deref(), Some("W/\"1\""));
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert!(r.body.get("password").is_none());
    assert!(
        r.body.get("groups").is_none(),
        "an empty groups list is not echoed"
    );
    assert_eq!(r.body["name"]["familyName"], "Lovelace");

    let g = app.get(&format!("/Users/{id}")).expect(200);
    assert_eq!(g.body, r.body);
    // The password is not stored anywhere.
    let stored = app.stored_bytes();
    assert!(
        stored
            .iter()
            .any(|b| b.windows(8).any(|w| w == b"Lovelace")),
        "the check reads the data"
    );
    for bytes in stored {
        assert!(
            !bytes.windows(7).any(|w| w == b"hunter2"),
            "the password reached the database"
        );
    }
    app.get("/Users/00000000-0000-0000-0000-000000000000")
        .expect_error(404, None);
}

#[test]
fn user_name_is_unique_case_insensitively() {
    let app = TestApp::start();
    app.create_user("Grace@Example.com");
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "grace@example.COM"}),
        )
        .expect_error(409, Some("uniqueness"));
    assert!(r.body["detail"].as_str().unwrap().contains("userName"));
    assert_eq!(app.get("/Users").total(), 1);
    // A rename onto another user's name is refused too, and changes nothing.
    let other = app.create_user("hopper@example.com");
    app.patch(
        &format!("/Users/{}", other.id()),
        json!([{"op": "replace", "path": "userName", "value": "GRACE@example.com"}]),
    )
    .expect_error(409, Some("uniqueness"));
    assert_eq!(
        app.get(&format!("/Users/{}", other.id())).body["userName"],
        "hopper@example.com"
    );
}

#[test]
fn put_replaces_ignores_read_only_and_keeps_id() {
    let app = TestApp::start();
    let r = app
        .post("/Users", &okta_create("put@example.com"))
        .expect(201);
    let id = r.id();
    let mut body = r.body.clone();
    body["id"] = json!("something-else");
    body["meta"]["created"] = json!("2001-01-01T00:00:00Z");
    body["name"] = json!({"givenName": "Augusta"});
    body["active"] = json!(false);
    body.as_object_mut().unwrap().remove("locale");
    let p = app.put(&format!("/Users/{id}"), &body).expect(200);
    assert_eq!(p.id(), id);
    assert_eq!(p.body["meta"]["created"], r.body["meta"]["created"]);
    assert_eq!(p.body["name"], json!({"givenName": "Augusta"}));
    assert_eq!(p.body["active"], false);
    assert!(
        p.body.get("locale").is_none(),
        "PUT replaces: an omitted attribute is cleared"
    );
    assert_eq!(p.body["meta"]["version"], "W/\"2\"");
    app.put("/Users/nope", &body).expect_error(404, None);
}

#[test]
fn repeated_identical_writes_spend_no_version() {
    let app = TestApp::start();
    let r = app
        .post("/Users", &okta_create("same@example.com"))
        .expect(201);
    let id = r.id();
    for _ in 0..3 {
        let p = app.put(&format!("/Users/{id}"), &r.body).expect(200);
        assert_eq!(p.body["meta"]["version"], "W/\"1\"");
        assert_eq!(
            p.body["meta"]["lastModified"],
            r.body["meta"]["lastModified"]
        );
    }
    let p = app
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .expect(200);
    assert_eq!(p.body["meta"]["version"], "W/\"1\"");
    let seq_before = cli_json(&app.db, &["org", "show", "acme"])["change_seq"]
        .as_i64()
        .unwrap();
    app.put(&format!("/Users/{id}"), &r.body).expect(200);
    assert_eq!(
        cli_json(&app.db, &["org", "show", "acme"])["change_seq"]
            .as_i64()
            .unwrap(),
        seq_before
    );
}

#[test]
fn patch_operations_as_identity_providers_send_them() {
    let app = TestApp::start();
    let id = app
        .post("/Users", &okta_create("patch@example.com"))
        .expect(201)
        .id();
    let path = format!("/Users/{id}");
    // Okta OIN deactivation: path-less replace.
    let r = app
        .patch(
            &path,
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .expect(200);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    // Entra: capitalised ops, string booleans, value-filter upsert, extension paths.
    let r = app.patch(&path, json!([
        {"op": "Replace", "path": "active", "value": "True"},
        {"op": "Replace", "path": "emails[type eq \"home\"].value", "value": "home@example.com"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Research"},
        {"op": "Add", "path": "name.middleName", "value": "King"}
    ])).expect(200);
    assert_eq!(r.body["active"], true);
    let emails = r.body["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 2);
    assert!(
        emails
            .iter()
            .any(|e| e["type"] == "home" && e["value"] == "home@example.com")
    );
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Research"
    );
    assert_eq!(r.body["name"]["middleName"], "King");
    assert!(r.body["schemas"].as_array().unwrap().contains(&json!(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )));
    // A new primary email takes primary from the old one (RFC 7643 §2.4).
    let r = app.patch(&path, json!([{"op": "add", "path": "emails", "value": [{"value": "new@example.com", "type": "other", "primary": true}]}])).expect(200);
    let primaries: Vec<&Value> = r.body["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["value"], "new@example.com");
    // Remove by value filter; remove a sub-attribute.
    let r = app
        .patch(
            &path,
            json!([
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "remove", "path": "name.middleName"}
            ]),
        )
        .expect(200);
    assert!(
        !r.body["emails"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "home")
    );
    assert!(r.body["name"].get("middleName").is_none());
    // Operations: [] is a no-op.
    let before = app.get(&path).body;
    let r = app.patch(&path, json!([])).expect(200);
    assert_eq!(r.body, before);
}

#[test]
fn a_failing_operation_rolls_back_the_whole_patch() {
    let app = TestApp::start();
    let id = app.create_user("atomic@example.com").id();
    let path = format!("/Users/{id}");
    let before = app.get(&path).body;
    let cases = [
        (
            json!([{"op": "replace", "path": "displayName", "value": "X"}, {"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "a"}}]),
            "noTarget",
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": "X"}, {"op": "replace", "path": "id", "value": "y"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": "X"}, {"op": "remove", "path": "userName"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": "X"}, {"op": "add", "path": "active", "value": "maybe"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": "X"}, {"op": "add", "path": "bogus", "value": 1}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": "X"}, {"op": "remove"}]),
            "noTarget",
        ),
        (
            json!([{"op": "jump", "path": "displayName", "value": "X"}]),
            "invalidSyntax",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq", "value": "X"}]),
            "invalidPath",
        ),
    ];
    for (ops, scim_type) in cases {
        app.patch(&path, ops).expect_error(400, Some(scim_type));
        assert_eq!(
            app.get(&path).body,
            before,
            "a refused PATCH changed the user"
        );
    }
    // A body without the PatchOp schema.
    let r = app.send(
        app.request(reqwest::Method::PATCH, &path)
            .body(json!({"Operations": []}).to_string()),
    );
    r.expect_error(400, Some("invalidSyntax"));
}

#[test]
fn etags_if_match_and_if_none_match() {
    let app = TestApp::start();
    let id = app.create_user("etag@example.com").id();
    let path = format!("/Users/{id}");
    let r = app.send(
        app.request(reqwest::Method::GET, &path)
            .header("if-none-match", "W/\"1\""),
    );
    assert_eq!(r.status, 304);
    app.send(
        app.request(reqwest::Method::GET, &path)
            .header("if-none-match", "W/\"7\""),
    )
    .expect(200);
    let body = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "E"}]});
    let stale = app.send(
        app.request(reqwest::Method::PATCH, &path)
            .header("if-match", "W/\"9\"")
            .body(body.to_string()),
    );
    stale.expect_error(412, None);
    assert!(app.get(&path).body.get("displayName").is_none());
    let ok = app
        .send(
            app.request(reqwest::Method::PATCH, &path)
                .header("if-match", "W/\"1\"")
                .body(body.to_string()),
        )
        .expect(200);
    assert_eq!(ok.header("etag").as_deref(), Some("W/\"2\""));
    app.send(
        app.request(reqwest::Method::DELETE, &path)
            .header("if-match", "W/\"1\""),
    )
    .expect_error(412, None);
    let d = app.send(
        app.request(reqwest::Method::DELETE, &path)
            .header("if-match", "*"),
    );
    assert_eq!(d.status, 204);
    app.get(&path).expect_error(404, None);
    app.delete(&path).expect_error(404, None);
}

#[test]
fn deactivated_users_stay_readable() {
    let app = TestApp::start();
    let id = app.create_user("okta-never-deletes@example.com").id();
    let mut body = app.get(&format!("/Users/{id}")).body;
    body["active"] = json!(false);
    app.put(&format!("/Users/{id}"), &body).expect(200);
    let g = app.get(&format!("/Users/{id}")).expect(200);
    assert_eq!(g.body["active"], false);
}

#[test]
fn extension_attributes_round_trip() {
    let app = TestApp::start();
    let cw = "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser";
    let r = app.post("/Users", &json!({
        "schemas": [USER, cw],
        "userName": "ext@example.com",
        cw: {"sunkSshKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b"], "sunkPosixUid": 5, "sunkLoginShell": "/bin/zsh", "sunkPosixUserId": "100500"}
    })).expect(201);
    assert_eq!(r.body[cw]["sunkLoginShell"], "/bin/zsh");
    assert_eq!(r.body[cw]["sunkPosixUserId"], 100500);
    assert!(r.body[cw].get("sunkPosixUid").is_none());
    // The whole extension replaced by its URN as the path.
    let r = app
        .patch(
            &format!("/Users/{}", r.id()),
            json!([{"op": "replace", "path": cw, "value": {"sunkLoginShell": "/bin/bash"}}]),
        )
        .expect(200);
    assert_eq!(r.body[cw], json!({"sunkLoginShell": "/bin/bash"}));
}
