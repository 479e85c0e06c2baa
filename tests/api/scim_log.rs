use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

/// The provisioning log is written in batches; wait until `n` entries are in.
fn log_entries(app: &TestApp, args: &[&str], n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut a = vec!["scim-log", "acme", "--limit", "1000"];
        a.extend_from_slice(args);
        let v = cli_json(&app.db, &a);
        let entries = v.as_array().unwrap().clone();
        if entries.len() >= n || Instant::now() > deadline {
            return entries;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_scim_request_is_recorded_with_secrets_removed() {
    let app = TestApp::start();
    let created = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "log@example.com", "password": "hunter2"}),
        )
        .expect(201);
    app.post(
        "/Users",
        &json!({"schemas": [USER], "userName": "LOG@example.com"}),
    )
    .expect_error(409, Some("uniqueness"));
    app.patch(
        &format!("/Users/{}", created.id()),
        json!([{"op": "replace", "path": "password", "value": "s3cret!"}]),
    )
    .expect(200);
    app.get_with("/Users", &[("filter", "userName eq \"log@example.com\"")])
        .expect(200);
    app.send(
        app.client
            .get(app.scim_url("/Users"))
            .bearer_auth("roster_scim_not-a-token"),
    )
    .expect_error(401, None);

    let entries = log_entries(&app, &[], 5);
    assert_eq!(entries.len(), 5, "{entries:?}");
    // Newest first.
    let unauth = &entries[0];
    assert_eq!(unauth["status"], 401);
    assert!(unauth["token"].is_null());
    let lookup = &entries[1];
    assert_eq!(lookup["method"], "GET");
    assert_eq!(
        lookup["path"],
        "/scim/acme/Users?filter=userName+eq+%22log%40example.com%22"
    );
    assert_eq!(lookup["token"], "test");
    let conflict = &entries[3];
    assert_eq!(conflict["status"], 409);
    assert_eq!(conflict["scimType"], "uniqueness");
    assert!(conflict["detail"].as_str().unwrap().contains("userName"));
    assert!(conflict["latency_ms"].as_f64().unwrap() > 0.0);
    let create = &entries[4];
    assert_eq!(
        (create["method"].as_str(), create["status"].as_u64()),
        (Some("POST"), Some(201))
    );
    let body = create["body"].as_str().unwrap();
    assert!(
        body.contains("log@example.com")
            && body.contains("[redacted]")
            && !body.contains("hunter2"),
        "{body}"
    );
    assert!(!entries[2]["body"].as_str().unwrap().contains("s3cret!"));
    // Nothing of the secrets reached the database at all.
    let stored = app.stored_bytes();
    assert!(
        stored
            .iter()
            .any(|b| b.windows(15).any(|w| w == b"log@example.com")),
        "the check reads the data"
    );
    for bytes in stored {
        assert!(!bytes.windows(7).any(|w| w == b"hunter2" || w == b"s3cret!"));
    }

    let failed = log_entries(&app, &["--failed"], 2);
    assert_eq!(
        failed
            .iter()
            .map(|e| e["status"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![401, 409]
    );
    assert_eq!(log_entries(&app, &["--since", "1h"], 5).len(), 5);
    let text = cli_ok(&app.db, &["scim-log", "acme", "--failed", "--bodies"]);
    assert!(
        text.contains("409") && text.contains("scimType=uniqueness") && text.contains("body:"),
        "{text}"
    );

    // The admin API gives the same, to a holder of the org's token.
    let r = app
        .send(
            app.client
                .get(app.url("/api/v1/orgs/acme/scim-log?failed=true&limit=1"))
                .bearer_auth(&app.token),
        )
        .expect(200);
    assert_eq!(r.body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["entries"][0]["status"], 401);
    app.send(app.client.get(app.url("/api/v1/orgs/acme/scim-log")))
        .expect_api_error(401, "unauthenticated");
    app.send(
        app.client
            .get(app.url("/api/v1/orgs/acme/scim-log?since=soon"))
            .bearer_auth(&app.token),
    )
    .expect_api_error(400, "invalid_value");
}

#[test]
fn the_log_is_bounded_and_can_be_turned_off() {
    let app = TestApp::start_with(&["--scim-log-max-entries", "3"]);
    for i in 0..8 {
        app.create_user(&format!("b{i}@example.com"));
    }
    // Wait for the last create to be recorded, then check the bound.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let entries = cli_json(&app.db, &["scim-log", "acme", "--limit", "100"]);
        let list = entries.as_array().unwrap();
        if list
            .first()
            .is_some_and(|e| e["body"].as_str().unwrap_or("").contains("b7@example.com"))
        {
            assert_eq!(list.len(), 3, "{list:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the last request was never recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let off = TestApp::start_with(&["--scim-log-max-entries", "0"]);
    off.create_user("quiet@example.com");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        cli_json(&off.db, &["scim-log", "acme"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let out = run_cli(&off.db, &["serve", "--scim-log-max-age", "forever"]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not a duration")
    );
}

/// The value of a counter on `/metrics`.
fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn anonymous_requests_keep_no_body_and_the_log_is_capped_in_bytes() {
    let app = TestApp::start_with(&["--scim-log-max-size", "16K"]);
    // Without a token, nothing of the body is read or kept: a body over
    // the size limit is not even buffered (401, not 413).
    let big = "x".repeat(2 << 20);
    for _ in 0..20 {
        let r = app
            .client
            .post(app.scim_url("/Users"))
            .header("content-type", "application/scim+json")
            .body(format!("{{\"userName\": \"{}\"}}", &big[..10_000]))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    // The answer may come before the client has sent it all; the client
    // then sees the connection close instead of the 401.
    let r = app
        .client
        .post(app.scim_url("/Users"))
        .bearer_auth("roster_scim_wrong")
        .body(big.clone())
        .send();
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 401);
    }
    let entries = log_entries(&app, &["--bodies"], 21);
    assert_eq!(entries.len(), 21);
    assert!(entries.iter().all(|e| e["body"].is_null()), "{entries:?}");
    assert_eq!(counter(&app, "roster_scim_unauthenticated_total"), 21);
    // An authenticated caller's bodies are kept, up to 16 KiB per org.
    for i in 0..40 {
        app.post(
            "/Users",
            &json!({"schemas": [USER], "userName": format!("u{i}@example.com"), "title": "t".repeat(1000)}),
        )
        .expect(201);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let entries = cli_json(
            &app.db,
            &["scim-log", "acme", "--limit", "1000", "--bodies"],
        );
        let entries = entries.as_array().unwrap();
        let newest_kept = entries[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("u39@"));
        // The IdP's share is capped; the 21 anonymous entries above have
        // a share of their own.
        let size: usize = entries
            .iter()
            .filter(|e| !e["token"].is_null())
            .map(|e| {
                e["path"].as_str().unwrap().len()
                    + e["detail"].as_str().map_or(0, str::len)
                    + e["body"].as_str().map_or(0, str::len)
            })
            .sum();
        if newest_kept && size <= 16 << 10 && entries.len() < 40 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} entries, {size} bytes",
            entries.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
