use serde_json::json;

use crate::helpers::*;

#[test]
fn discovery_describes_what_is_implemented() {
    let app = TestApp::start();
    let spc = app.get("/ServiceProviderConfig").expect(200);
    assert_eq!(
        spc.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["bulk"]["supported"], false);
    assert_eq!(spc.body["filter"]["supported"], true);
    assert_eq!(spc.body["etag"]["supported"], true);
    assert_eq!(spc.body["pagination"]["cursor"], true);

    let rts = app.get("/ResourceTypes").expect(200);
    assert_eq!(rts.total(), 2);
    let user_rt = app.get("/ResourceTypes/User").expect(200);
    assert_eq!(user_rt.body["endpoint"], "/Users");
    let exts: Vec<&str> = user_rt.body["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["schema"].as_str().unwrap())
        .collect();
    assert!(
        exts.contains(&"urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser")
    );

    let schemas = app.get("/Schemas").expect(200);
    assert_eq!(schemas.total(), 5);
    let cw = app
        .get("/Schemas/urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser")
        .expect(200);
    let attrs: Vec<(&str, &str, bool)> = cw.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["type"].as_str().unwrap(),
                a["multiValued"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(attrs.contains(&("sunkSshKeys", "string", true)));
    assert!(attrs.contains(&("sunkPosixUserId", "integer", false)));
    assert!(attrs.contains(&("sunkPosixGroupId", "integer", false)));
    let group_ext = app
        .get("/Schemas/urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveGroup")
        .expect(200);
    assert_eq!(group_ext.body["attributes"].as_array().unwrap().len(), 2);
    app.get("/Schemas/urn:nope").expect_error(404, None);
    app.get("/ResourceTypes/Widget").expect_error(404, None);

    for path in ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes"] {
        app.post(path, &json!({})).expect_error(405, None);
        app.send(app.request(reqwest::Method::DELETE, path))
            .expect_error(405, None);
    }
    app.post("/Bulk", &json!({})).expect_error(501, None);
    app.get("/NoSuchThing").expect_error(404, None);
}

#[test]
fn tokens_are_checked_per_org_and_revocable_at_once() {
    let app = TestApp::start();
    // No token, a wrong token, a malformed header.
    let r = app
        .send(app.client.get(app.scim_url("/Users")))
        .expect_error(401, None);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    app.send(
        app.client
            .get(app.scim_url("/Users"))
            .bearer_auth("roster_scim_wrong"),
    )
    .expect_error(401, None);
    app.send(
        app.client
            .get(app.scim_url("/Users"))
            .header("authorization", "Basic Zm9vOmJhcg=="),
    )
    .expect_error(401, None);

    // The org is reachable by id as well as by name.
    app.send(
        app.client
            .get(app.url(&format!("/scim/{}/Users", app.org_id)))
            .bearer_auth(&app.token),
    )
    .expect(200);

    // A token of another org reaches nothing of this one.
    cli_ok(&app.db, &["org", "create", "other"]);
    cli_ok(
        &app.db,
        &["org", "set", "other", "--scim-api", "on", "--aup", "on"],
    );
    let other = scim_token(&app.db, "other", "x");
    app.send(app.client.get(app.scim_url("/Users")).bearer_auth(&other))
        .expect_error(401, None);
    app.send(
        app.client
            .get(app.url("/scim/other/Users"))
            .bearer_auth(&other),
    )
    .expect(200);
    app.send(
        app.client
            .get(app.url("/scim/nosuchorg/Users"))
            .bearer_auth(&app.token),
    )
    .expect_error(401, None);

    // Revocation through the CLI, while the server runs, takes effect at once.
    let tokens = cli_json(&app.db, &["token", "list", "acme"]);
    let listed = tokens.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].get("token").is_none() && !tokens.to_string().contains(&app.token),
        "token list must not show secrets"
    );
    let id = listed[0]["id"].as_str().unwrap();
    app.get("/Users").expect(200);
    cli_ok(&app.db, &["token", "revoke", "acme", id]);
    app.get("/Users").expect_error(401, None);
    let after = cli_json(&app.db, &["token", "list", "acme"]);
    assert!(after[0]["revoked"].is_string());
}

#[test]
fn toggles_gate_the_api_and_writes() {
    let app = TestApp::start();
    let u = app.create_user("toggle@example.com");
    cli_ok(&app.db, &["org", "set", "acme", "--aup", "off"]);
    // Reads still work, writes are refused and change nothing.
    app.get(&format!("/Users/{}", u.id())).expect(200);
    app.post(
        "/Users",
        &json!({"schemas": [USER], "userName": "new@example.com"}),
    )
    .expect_error(403, None);
    app.patch(
        &format!("/Users/{}", u.id()),
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .expect_error(403, None);
    app.delete(&format!("/Users/{}", u.id()))
        .expect_error(403, None);
    assert_eq!(app.get("/Users").total(), 1);
    cli_ok(&app.db, &["org", "set", "acme", "--scim-api", "off"]);
    let r = app.get("/Users").expect_error(403, None);
    assert!(r.body["detail"].as_str().unwrap().contains("--scim-api on"));
    app.get("/ServiceProviderConfig").expect_error(403, None);
}

#[test]
fn health_metrics_and_request_log() {
    let app = TestApp::start();
    let h = app.send(app.client.get(app.url("/healthz"))).expect(200);
    assert_eq!(h.body, "ok\n");
    app.send(app.client.get(app.url("/readyz"))).expect(200);
    app.create_user("m@example.com");
    app.get_with("/Users", &[("filter", "userName eq")])
        .expect(400);
    let m = app.send(app.client.get(app.url("/metrics"))).expect(200);
    let text = m.body.as_str().unwrap().to_string();
    assert!(text.contains("roster_http_requests_total{route=\"/scim/{org}/Users\",method=\"POST\",status=\"201\"} 1"), "{text}");
    assert!(text.contains("roster_http_request_duration_seconds_bucket"));
    assert!(text.contains("roster_store_commit_batch_size_count"));
    // One structured line per request: org, token, method, path, status, scimType.
    assert!(app.wait_for_log("scim_type=\"invalidFilter\""));
    let log = app.log.lock().unwrap().clone();
    let line = log.iter().find(|l| l.contains("invalidFilter")).unwrap();
    for part in [
        "org=\"acme\"",
        "token=\"test\"",
        "method=GET",
        "status=400",
        "latency_ms=",
    ] {
        assert!(line.contains(part), "{part} missing in {line}");
    }
}

/// `/api/v1` answers every error in one JSON body, `{"error", "code"}`,
/// whichever part of it refuses (the extractor, the handler or the
/// domain), and never a SCIM error.
#[test]
fn the_admin_api_answers_errors_in_one_body() {
    let app = sup_app();
    let u = app.create_user("ada@example.com");
    let keys = app.url(&format!("/api/v1/orgs/acme/users/{}/ssh-keys", u.id()));
    let r = app
        .send(app.client.get(&keys))
        .expect_api_error(401, "unauthenticated");
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"roster\"")
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    app.send(app.client.get(&keys).bearer_auth("not-a-token"))
        .expect_api_error(401, "unauthenticated");
    let r = app
        .send(
            app.client
                .put(&keys)
                .bearer_auth(&app.token)
                .header("content-type", "application/json")
                .body(r#"{"keys": "ssh-ed25519 AAAA"}"#),
        )
        .expect_api_error(400, "invalid_value");
    assert!(r.body["error"].as_str().unwrap().contains("\"keys\""));
    app.send(
        app.client
            .put(&keys)
            .bearer_auth(&app.token)
            .body("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC0 short\n"),
    )
    .expect_api_error(400, "invalid_value");
    app.send(app.client.delete(&keys).bearer_auth(&app.token))
        .expect_api_error(405, "method_not_allowed");
    app.send(
        app.client
            .get(app.url("/api/v1/orgs/acme/users/nobody/ssh-keys"))
            .bearer_auth(&app.token),
    )
    .expect_api_error(404, "not_found");
    app.send(
        app.client
            .get(app.url("/api/v1/orgs/acme/scim-log?limit=many"))
            .bearer_auth(&app.token),
    )
    .expect_api_error(400, "invalid_value");
    // Nothing was changed by the refused writes.
    let r = app
        .send(app.client.get(&keys).bearer_auth(&app.token))
        .expect(200);
    assert_eq!(r.body, json!({"user": u.id(), "keys": []}));
    // With the SCIM API off, the org's tokens are refused here too.
    cli_ok(&app.db, &["org", "set", "acme", "--scim-api", "off"]);
    app.send(app.client.get(&keys).bearer_auth(&app.token))
        .expect_api_error(403, "forbidden");
}
