use serde_json::json;

use crate::helpers::*;

#[test]
fn members_and_computed_user_groups() {
    let app = TestApp::start();
    let a = app.create_user("a@example.com").id();
    let b = app.create_user("b@example.com").id();
    let g = app.create_group("Engineering", &[&a, &b, &a]);
    let gid = g.id();
    let members: Vec<&str> = g.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![a.as_str(), b.as_str()], "duplicates collapse");
    assert_eq!(g.body["members"][0]["type"], "User");
    // A user's groups are computed from memberships.
    let u = app.get(&format!("/Users/{a}")).expect(200);
    assert_eq!(
        u.body["groups"],
        json!([{"value": gid, "$ref": g.body["meta"]["location"], "display": "Engineering", "type": "direct"}])
    );
    // Okta: remove by value filter, add without type, rename path-less.
    let path = format!("/Groups/{gid}");
    app.patch(
        &path,
        json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
    )
    .expect(200);
    let r = app.patch(&path, json!([
        {"op": "replace", "value": {"id": gid, "displayName": "Eng"}},
        {"op": "add", "path": "members", "value": [{"value": a, "display": "a@example.com"}]}
    ])).expect(200);
    assert_eq!(r.body["displayName"], "Eng");
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    // Entra: remove only the listed members.
    let r = app
        .patch(
            &path,
            json!([{"op": "Remove", "path": "members", "value": [{"value": b}]}]),
        )
        .expect(200);
    assert_eq!(
        r.body["members"],
        json!([{"value": a, "$ref": app.get(&format!("/Users/{a}")).body["meta"]["location"], "type": "User"}])
    );
    // Full replace with [] empties the group.
    let r = app
        .patch(
            &path,
            json!([{"op": "replace", "path": "members", "value": []}]),
        )
        .expect(200);
    assert!(r.body.get("members").is_none());
    assert!(app.get(&format!("/Users/{a}")).body.get("groups").is_none());
    // excludedAttributes=members, as Entra looks groups up.
    app.patch(
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
    )
    .expect(200);
    let l = app
        .get_with(
            "/Groups",
            &[
                ("excludedAttributes", "members"),
                ("filter", "displayName eq \"eng\""),
            ],
        )
        .expect(200);
    assert_eq!(l.ids(), vec![gid.clone()]);
    assert!(l.body["Resources"][0].get("members").is_none());
    // Deleting a user removes it from its groups.
    app.delete(&format!("/Users/{a}")).expect(204);
    assert!(app.get(&path).body.get("members").is_none());
}

#[test]
fn groups_are_flat_and_members_must_exist() {
    let app = TestApp::start();
    let u = app.create_user("flat@example.com").id();
    let child = app.create_group("child", &[&u]).id();
    let parent = app.create_group("parent", &[]).id();
    let path = format!("/Groups/{parent}");
    let before = app.get(&path).body;
    // Entra's nested assignment: a PATCH adding the child group's id.
    let r = app
        .patch(
            &path,
            json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": child}]}]),
        )
        .expect_error(400, Some("invalidValue"));
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&child) && detail.contains("nested groups are not supported"),
        "{detail}"
    );
    assert_eq!(app.get(&path).body, before);
    // In a POST, with or without type.
    app.post(
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "p2", "members": [{"value": child}]}),
    )
    .expect_error(400, Some("invalidValue"));
    app.post("/Groups", &json!({"schemas": [GROUP], "displayName": "p3", "members": [{"value": u}, {"value": "x", "type": "Group"}]})).expect_error(400, Some("invalidValue"));
    // An unknown id, named in the detail; the valid member in the same request is not added.
    let r = app.patch(&path, json!([{"op": "add", "path": "members", "value": [{"value": u}, {"value": "no-such-user"}]}])).expect_error(400, Some("invalidValue"));
    assert!(r.body["detail"].as_str().unwrap().contains("no-such-user"));
    assert_eq!(app.get(&path).body, before);
    assert_eq!(app.get("/Groups").total(), 2);
}

#[test]
fn display_names_are_unique_case_insensitively() {
    let app = TestApp::start();
    app.create_group("Admins", &[]);
    app.post(
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "ADMINS"}),
    )
    .expect_error(409, Some("uniqueness"));
    app.post("/Groups", &json!({"schemas": [GROUP]}))
        .expect_error(400, Some("invalidValue"));
    let id = app.create_group("Other", &[]).id();
    app.patch(
        &format!("/Groups/{id}"),
        json!([{"op": "replace", "path": "displayName", "value": "admins"}]),
    )
    .expect_error(409, Some("uniqueness"));
    // Okta unlink.
    assert_eq!(app.delete(&format!("/Groups/{id}")).status, 204);
}

#[test]
fn put_replaces_the_member_list() {
    let app = TestApp::start();
    let a = app.create_user("pa@example.com").id();
    let b = app.create_user("pb@example.com").id();
    let g = app.create_group("put", &[&a]);
    let mut body = g.body.clone();
    body["members"] = json!([{"value": b}]);
    let r = app.put(&format!("/Groups/{}", g.id()), &body).expect(200);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["members"][0]["value"], b.as_str());
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
}

#[test]
fn legacy_orgs_start_with_the_default_groups() {
    let app = TestApp::start();
    let out = cli_json(&app.db, &["org", "create", "legacy", "--legacy-groups"]);
    assert!(out["id"].is_string());
    cli_ok(
        &app.db,
        &["org", "set", "legacy", "--scim-api", "on", "--aup", "on"],
    );
    let token = scim_token(&app.db, "legacy", "t");
    let r = app
        .send(
            app.client
                .get(app.url("/scim/legacy/Groups"))
                .bearer_auth(&token),
        )
        .expect(200);
    let mut names: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["admin", "billing_viewer", "metrics", "read", "write"]
    );
    // acme, created without the flag, has none.
    assert_eq!(app.get("/Groups").total(), 0);
}

#[test]
fn legacy_default_group_collisions_say_how_to_migrate() {
    let app = TestApp::start();
    cli_ok(&app.db, &["org", "create", "legacy", "--legacy-groups"]);
    cli_ok(
        &app.db,
        &["org", "set", "legacy", "--scim-api", "on", "--aup", "on"],
    );
    let token = scim_token(&app.db, "legacy", "Okta");
    let push = |name: &str| {
        app.send(
            app.client
                .post(app.url("/scim/legacy/Groups"))
                .bearer_auth(&token)
                .body(json!({"schemas": [GROUP], "displayName": name, "members": []}).to_string()),
        )
    };
    for name in ["admin", "Metrics", "billing_viewer"] {
        let r = push(name).expect_error(409, Some("uniqueness"));
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("legacy default group")
                && detail.contains("roster group delete legacy"),
            "{detail}"
        );
    }
    // Migrate: a renamed group with the same policies, delete the default, push again.
    cli_ok(&app.db, &["group", "create", "legacy", "administrators"]);
    cli_ok(&app.db, &["group", "delete", "legacy", "admin"]);
    let r = push("admin").expect(201);
    assert_eq!(r.body["displayName"], "admin");
    // In an org without legacy groups, a clash is the plain uniqueness error.
    app.create_group("admin", &[]);
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": "ADMIN"}),
        )
        .expect_error(409, Some("uniqueness"));
    assert!(!r.body["detail"].as_str().unwrap().contains("legacy"));
}

#[test]
fn groups_by_hand_with_the_cli_even_when_aup_is_off() {
    let app = TestApp::start();
    let u = app.create_user("hand@example.com").id();
    cli_ok(&app.db, &["org", "set", "acme", "--aup", "off"]);
    let gid = cli_ok(&app.db, &["group", "create", "acme", "researchers"]);
    let g = cli_json(
        &app.db,
        &[
            "group",
            "add-member",
            "acme",
            "researchers",
            "HAND@example.com",
        ],
    );
    assert_eq!(g["members"][0]["value"], u.as_str());
    let shown = cli_json(&app.db, &["group", "show", "acme", &gid]);
    assert_eq!(shown["displayName"], "researchers");
    let listed = cli_json(&app.db, &["group", "list", "acme"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // Reads over SCIM see it.
    assert_eq!(
        app.get(&format!("/Groups/{gid}")).expect(200).body["members"][0]["value"],
        u.as_str()
    );
    let g = cli_json(
        &app.db,
        &["group", "remove-member", "acme", "researchers", &u],
    );
    assert!(g.get("members").is_none());
    let out = run_cli(
        &app.db,
        &["group", "add-member", "acme", "researchers", "nobody"],
    );
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("no user \"nobody\"")
    );
    cli_ok(&app.db, &["group", "delete", "acme", "researchers"]);
    app.get(&format!("/Groups/{gid}")).expect_error(404, None);
}
