//! Issue 22's defences of reach: what a cluster's token learns through
//! filters, what anonymous clients can push out of the provisioning log,
//! and what the IdP can do to a group that grants console roles.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

/// A cluster token's filters see only its cluster's groups: a group
/// outside it answers as if it did not exist, in every form a filter can
/// name it (`groups.display`, `groups.value`, `groups pr`, `?groups=`, the
/// root `/.search`).
#[test]
fn a_cluster_token_learns_no_membership_outside_its_cluster() {
    let app = sup_app();
    let ann = app.create_user("ann@example.com").id();
    let bob = app.create_user("bob@example.com").id();
    let cay = app.create_user("cay@example.com").id();
    app.create_group("gpu", &[&ann, &bob]).expect(201);
    let secret = app.create_group("secret-project", &[&ann, &cay]).id();
    let token = create_cluster(&app.db, "c1", "gpu");

    let count = |bearer: &str, query: &[(&str, &str)]| -> u64 {
        app.send(
            app.client
                .get(app.scim_url("/Users"))
                .query(query)
                .bearer_auth(bearer),
        )
        .expect(200)
        .total()
    };
    let filter = |f: &str| vec![("filter", f.to_string())];
    let by_name = "groups.display eq \"secret-project\"".to_string();
    let by_id = format!("groups.value eq \"{secret}\"");
    // The org's own token sees the membership: the filters work.
    assert_eq!(count(&app.token, &[("filter", &by_name)]), 2);
    assert_eq!(count(&app.token, &[("filter", &by_id)]), 2);
    assert_eq!(count(&app.token, &[("groups", "secret-project")]), 2);

    // The cluster's token: nobody is in a group it cannot see...
    for f in [&by_name, &by_id] {
        let q = filter(f);
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(count(&token, &q), 0, "{f}");
    }
    assert_eq!(count(&token, &[("groups", "secret-project")]), 0);
    // ...so everyone it can see is outside it, and `groups pr` means its
    // own groups only (cay, in secret-project alone, is not in scope).
    let not = format!("not ({by_name})");
    assert_eq!(count(&token, &[("filter", &not)]), 2);
    assert_eq!(count(&token, &[("filter", "groups pr")]), 2);
    assert_eq!(
        count(&token, &[("filter", "groups.display eq \"gpu\"")]),
        2,
        "its own group still filters"
    );
    assert_eq!(count(&token, &[("groups", "gpu,secret-project")]), 2);

    // The root search, across resource types.
    let root = app
        .send(
            app.client
                .post(app.url("/scim/acme/.search"))
                .header("content-type", "application/scim+json")
                .bearer_auth(&token)
                .body(
                    json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": by_name,
                    })
                    .to_string(),
                ),
        )
        .expect(200);
    assert_eq!(root.total(), 0, "{}", root.body);
}

/// The provisioning log keeps anonymous and refused requests, and a
/// cluster's nodes, in a small share of their own with short paths and
/// bodies: a flood of them cannot push out what the IdP did.
#[test]
fn anonymous_requests_cannot_push_the_idps_entries_out_of_the_log() {
    // The IdP's share: 40 entries; everyone else's: a tenth, 4.
    let app = TestApp::start_with(&["--scim-log-max-entries", "40"]);
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    for i in 0..30 {
        app.create_user(&format!("idp{i}@example.com")).expect(201);
    }
    app.create_group("gpu", &[]).expect(201);
    let token = create_cluster(&app.db, "c1", "gpu");
    let long = "q".repeat(60 << 10);
    for i in 0..60 {
        let r = app
            .client
            .get(app.scim_url("/Users"))
            .query(&[("q", &long)])
            .bearer_auth(if i % 2 == 0 { "" } else { "roster_scim_wrong" })
            .send()
            .unwrap();
        assert!(matches!(r.status().as_u16(), 401 | 414 | 431), "{r:?}");
    }
    let big_filter = format!("userName eq \"{}\"", "n".repeat(4000));
    for _ in 0..10 {
        app.send(
            app.client
                .post(app.scim_url("/Users/.search"))
                .header("content-type", "application/scim+json")
                .bearer_auth(&token)
                .body(json!({"filter": big_filter}).to_string()),
        )
        .expect(200);
    }
    // The last of them is in when a further IdP request is.
    app.create_user("last@example.com").expect(201);
    let deadline = Instant::now() + Duration::from_secs(10);
    let entries = loop {
        let v = cli_json(
            &app.db,
            &["scim-log", "acme", "--limit", "1000", "--bodies"],
        );
        let list = v.as_array().unwrap().clone();
        let last_in = list.iter().any(|e| {
            e["body"]
                .as_str()
                .is_some_and(|b| b.contains("last@example.com"))
        });
        if last_in {
            break list;
        }
        assert!(
            Instant::now() < deadline,
            "the last request was never recorded"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let idp_entries: Vec<&Value> = entries
        .iter()
        .filter(|e| e["method"] == "POST" && e["path"] == "/scim/acme/Users")
        .collect();
    assert_eq!(
        idp_entries.len(),
        31,
        "every one of the IdP's 31 creates is kept: {entries:?}"
    );
    // The test's SCIM token is named "test".
    let others: Vec<&Value> = entries.iter().filter(|e| e["token"] != "test").collect();
    assert!(others.len() <= 4, "others keep a share of 4: {others:?}");
    for e in &others {
        let path = e["path"].as_str().unwrap();
        assert!(
            path.len() <= 256 + "…(cut)".len(),
            "path kept whole: {}",
            path.len()
        );
        if let Some(b) = e["body"].as_str() {
            assert!(
                b.len() <= 1024 + "…(cut)".len(),
                "body kept whole: {}",
                b.len()
            );
        }
    }
}

/// A group that grants console roles can be locked against the IdP's
/// membership changes: its SCIM writes to the members are refused with a
/// reason; an administrator still changes them.
#[test]
fn role_carrying_groups_can_be_locked_against_the_idp() {
    let app = TestApp::start();
    let ann = app.create_user("ann@example.com").id();
    let eve = app.create_user("eve@example.com").id();
    let admins = app.create_group("admins", &[&ann]).id();
    let out = cli_json(
        &app.db,
        &[
            "group",
            "set-roles",
            "acme",
            "admins",
            "--roles",
            "IAM Admin",
            "--lock-members",
            "on",
        ],
    );
    assert_eq!(out["members_locked"], true, "{out}");
    assert_eq!(out["roles"], json!(["IAM Admin"]));

    // The IdP cannot add (PATCH, PUT) or remove members.
    let add = json!([{"op": "add", "path": "members", "value": [{"value": eve}]}]);
    let r = app
        .patch(&format!("/Groups/{admins}"), add.clone())
        .expect_error(400, Some("mutability"));
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("locked")
            && detail.contains("roster group set-roles acme \"admins\" --lock-members off"),
        "{detail}"
    );
    app.put(
        &format!("/Groups/{admins}"),
        &json!({"schemas": [GROUP], "displayName": "admins",
                "members": [{"value": ann}, {"value": eve}]}),
    )
    .expect_error(400, Some("mutability"));
    app.patch(
        &format!("/Groups/{admins}"),
        json!([{"op": "remove", "path": "members"}]),
    )
    .expect_error(400, Some("mutability"));
    app.delete(&format!("/Groups/{admins}"))
        .expect_error(400, Some("mutability"));
    let g = app.get(&format!("/Groups/{admins}")).expect(200);
    let members: Vec<&str> = g.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![ann.as_str()], "nothing changed");
    // Other attributes still take the IdP's writes.
    app.patch(
        &format!("/Groups/{admins}"),
        json!([{"op": "replace", "path": "externalId", "value": "okta-1"}]),
    )
    .expect(200);

    // An administrator can; unlocked, the IdP can again.
    cli_ok(&app.db, &["group", "add-member", "acme", "admins", &eve]);
    let shown = cli_ok(&app.db, &["group", "show", "acme", "admins"]);
    assert!(shown.contains("locked against the IdP"), "{shown}");
    let out = cli_json(
        &app.db,
        &[
            "group",
            "set-roles",
            "acme",
            "admins",
            "--lock-members",
            "off",
        ],
    );
    assert_eq!(out["members_locked"], false);
    assert_eq!(out["roles"], json!(["IAM Admin"]), "roles kept");
    app.patch(
        &format!("/Groups/{admins}"),
        json!([{"op": "remove", "path": "members"}]),
    )
    .expect(200);
    let trail = cli_json(&app.db, &["audit", "acme", "--resource", "admins"]);
    assert!(
        trail.to_string().contains("group.lock_members"),
        "locking is audited: {trail}"
    );
}
