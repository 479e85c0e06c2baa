//! Issue 10's findings, each against the running server: system accounts,
//! inputs that crashed or flooded the server, and what third-party SCIM
//! clients send.

use serde_json::json;

use crate::helpers::*;

#[test]
fn no_idp_identity_takes_a_system_account_or_group() {
    let app = sup_app();
    // Derived names that hit a system name are treated as taken.
    let root = app.create_user("root@evil.example");
    assert_eq!(root.body[CW]["sunkPosixUsername"], "root2");
    let sudo = app.create_group("sudo", &[&root.id()]);
    assert_eq!(sudo.body[CWG]["sunkPosixGroupName"], "sudo2");
    let slurm = app.create_user("Slurm@evil.example");
    assert_eq!(slurm.body[CW]["sunkPosixUsername"], "slurm2");

    // Overrides that name one are refused, and change nothing.
    let before = app.get(&format!("/Users/{}", root.id())).body;
    for (value, needle) in [
        (json!({"sunkPosixUsername": "nobody"}), "reserved"),
        (json!({"sunkPosixUsername": "root"}), "reserved"),
        (json!({"sunkPosixUserId": 0}), "reserved"),
        (
            json!({"sunkPosixUserId": 5000}),
            "below the organization's ranges",
        ),
        (json!({"sunkPosixGroupId": 27}), "reserved"),
        (
            json!({"sunkPosixGroupId": 1001}),
            "below the organization's ranges",
        ),
    ] {
        let r = app
            .patch(
                &format!("/Users/{}", root.id()),
                json!([{"op": "replace", "path": CW, "value": value}]),
            )
            .expect_error(400, Some("invalidValue"));
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{value}: {detail}");
    }
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": "admins", CWG: {"sunkPosixGroupName": "wheel"}}),
        )
        .expect_error(400, Some("invalidValue"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("wheel")
    );
    assert_eq!(app.get(&format!("/Users/{}", root.id())).body, before);
    assert_eq!(
        app.get_with("/Groups", &[("filter", "displayName eq \"admins\"")])
            .total(),
        0
    );

    // The NSS maps hold no system name.
    let token = create_cluster(&app.db, "gpu", "sudo");
    let passwd = app
        .client
        .get(app.url("/nss/acme/gpu/passwd"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(passwd_names_of(&passwd), vec!["root2".to_string()]);
}

#[test]
fn an_org_reserves_names_of_its_own() {
    let app = sup_app();
    let held = app.create_user("labops@example.com");
    // A name someone already holds cannot be reserved from under them.
    let out = run_cli(
        &app.db,
        &["org", "set", "acme", "--reserve-names", "gpuadmin,labops"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("labops") && err.contains(&held.id()), "{err}");

    cli_ok(
        &app.db,
        &["org", "set", "acme", "--reserve-names", "gpuadmin, nodeops"],
    );
    let shown = cli_json(&app.db, &["org", "show", "acme"]);
    assert_eq!(shown["reserved_names"], json!(["gpuadmin", "nodeops"]));
    let u = app.create_user("gpuadmin@example.com");
    assert_eq!(u.body[CW]["sunkPosixUsername"], "gpuadmin2");
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "x@example.com", CW: {"sunkPosixUsername": "nodeops"}}),
        )
        .expect_error(400, Some("invalidValue"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("reserved by this organization")
    );
    // Invalid names are refused with what to do.
    let out = run_cli(
        &app.db,
        &["org", "set", "acme", "--reserve-names", "Not Valid"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid POSIX name"));
}

#[test]
fn long_filters_and_group_lists_are_refused_not_fatal() {
    let app = sup_app();
    let u = app.create_user("ada@example.com");
    app.create_group("gpu", &[&u.id()]);
    // 20,000 group names: a clear 400, and the server lives on.
    let many = vec!["g"; 20_000].join(",");
    let r = app
        .post("/Users/.search", &json!({"groups": many}))
        .expect(200);
    assert_eq!(r.total(), 0);
    let distinct: Vec<String> = (0..20_000).map(|i| format!("g{i}")).collect();
    app.post("/Users/.search", &json!({"groups": distinct.join(",")}))
        .expect_error(400, Some("invalidValue"));
    // Up to the documented cap, one set test answers.
    let mut names: Vec<String> = (0..999).map(|i| format!("g{i}")).collect();
    names.push("gpu".into());
    let r = app
        .post("/Users/.search", &json!({"groups": names.join(",")}))
        .expect(200);
    assert_eq!(r.ids(), vec![u.id()]);
    // A long `or` chain under the 8 KiB limit: 400 invalidFilter.
    let chain = vec!["id eq \"1\""; 550].join(" or ");
    assert!(chain.len() < 8 * 1024);
    let short = vec!["title pr"; 600].join(" or ");
    for f in [chain.as_str(), short.as_str()] {
        app.get_with("/Users", &[("filter", f)])
            .expect_error(400, Some("invalidFilter"));
        app.post("/Users/.search", &json!({"filter": f}))
            .expect_error(400, Some("invalidFilter"));
    }
    // At the bound, 100 operators, each way the filter is walked (resolved,
    // turned into SQL, dropped) holds in a debug build.
    let at_bound = vec!["title pr"; 101].join(" or ");
    app.get_with("/Users", &[("filter", &at_bound)]).expect(200);
    let nested = format!(
        "{}title pr{}",
        "not (title pr or ".repeat(31),
        ")".repeat(31)
    );
    app.get_with("/Users", &[("filter", &nested)]).expect(200);
    // Still serving.
    app.get(&format!("/Users/{}", u.id())).expect(200);
}

#[test]
fn a_cluster_token_reads_only_its_cluster() {
    let app = sup_app();
    let ada = app.create_user("ada@example.com").id();
    let bob = app.create_user("bob@example.com").id();
    let gpu = app.create_group("gpu", &[&ada]).id();
    let finance = app.create_group("finance", &[&ada, &bob]).id();
    let token = create_cluster(&app.db, "c1", "gpu");
    let read = |path: &str, query: &[(&str, &str)]| {
        app.send(
            app.client
                .get(app.scim_url(path))
                .query(query)
                .bearer_auth(&token),
        )
    };
    // Lists hold the cluster's groups and their members only.
    assert_eq!(read("/Users", &[]).expect(200).ids(), vec![ada.clone()]);
    assert_eq!(read("/Groups", &[]).expect(200).ids(), vec![gpu.clone()]);
    let r = read("/Users", &[("filter", "userName eq \"bob@example.com\"")]).expect(200);
    assert_eq!(r.total(), 0);
    let r = app
        .send(
            app.client
                .post(app.scim_url("/.search"))
                .bearer_auth(&token)
                .json(&json!({})),
        )
        .expect(200);
    assert_eq!(r.total(), 2, "{}", r.body);
    // Anything else is not there for this token.
    read(&format!("/Users/{bob}"), &[]).expect_error(404, None);
    read(&format!("/Groups/{finance}"), &[]).expect_error(404, None);
    // A member's groups name only the cluster's.
    let a = read(&format!("/Users/{ada}"), &[]).expect(200);
    let groups: Vec<&str> = a.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    assert_eq!(groups, vec![gpu.as_str()]);
    // The org's own token still sees everything.
    assert_eq!(app.get("/Users").total(), 2);

    // The change feed answers only for changes that touch the cluster.
    let poll = |after: i64, wait: u64| {
        app.send(
            app.client
                .get(app.url(&format!(
                    "/api/v1/orgs/acme/clusters/c1/changes?after={after}&wait={wait}"
                )))
                .bearer_auth(&token),
        )
        .expect(200)
        .body
    };
    let seq = poll(0, 0)["seq"].as_i64().unwrap();
    app.patch(
        &format!("/Users/{bob}"),
        json!([{"op": "replace", "path": "displayName", "value": "Bob"}]),
    )
    .expect(200);
    app.patch(
        &format!("/Groups/{finance}"),
        json!([{"op": "replace", "path": "displayName", "value": "Finance"}]),
    )
    .expect(200);
    let quiet = poll(seq, 1);
    assert_eq!(quiet["changes"], json!([]), "{quiet}");
    assert_eq!(
        quiet["seq"],
        seq + 2,
        "the feed moves the agent past what does not concern it"
    );
    app.patch(
        &format!("/Users/{ada}"),
        json!([{"op": "replace", "path": "displayName", "value": "Ada"}]),
    )
    .expect(200);
    let woke = poll(seq + 2, 5);
    assert_eq!(woke["changes"][0]["id"], ada.as_str(), "{woke}");
}

#[test]
fn a_key_comment_smuggles_no_second_key_into_the_maps() {
    let app = sup_app();
    let dir = tempfile::tempdir().unwrap();
    let good = keygen(dir.path(), "ed25519", None, "good");
    let weak = keygen(dir.path(), "rsa", Some("1024"), "weak");
    let body = good.rsplit_once(' ').unwrap().0.to_string();
    // A carriage return inside the line passes the SCIM layer (keys may
    // come one per line) and must not reach the map.
    let smuggled = format!("{body} x, {weak}\rroot");
    let u = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "eve@example.com", CW: {"sunkSshKeys": [smuggled]}}),
        )
        .expect(201);
    assert_eq!(u.body[CW]["sunkSshKeys"], json!([body]));
    app.create_group("gpu", &[&u.id()]);
    let token = create_cluster(&app.db, "c1", "gpu");
    let map = app
        .client
        .get(app.url("/nss/acme/c1/sshkey"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(map.contains(&body), "{map}");
    assert!(!map.contains("ssh-rsa") && !map.contains('\r'), "{map}");
}

#[test]
fn slow_clients_are_cut_off_and_connections_are_bounded() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    let app = TestApp::start_with(&["--header-read-timeout", "1s", "--request-timeout", "2s"]);
    let connect = || {
        let s = TcpStream::connect(&app.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s
    };
    // Half a request's headers: the connection is closed, not kept.
    let mut half = connect();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = half.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "kept open {:?}",
        started.elapsed()
    );
    // A body trickled after the headers: 408 when the request timeout ends.
    let mut slow = connect();
    let head = format!(
        "POST /scim/acme/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{{\"userName\"",
        app.token
    );
    slow.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // The change feed's long poll is exempt from the request timeout.
    let token = create_cluster(&app.db, "c1", "");
    let started = Instant::now();
    let r = app
        .client
        .get(app.url("/api/v1/orgs/acme/clusters/c1/changes?after=100000&wait=0"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let seq = r.json::<serde_json::Value>().unwrap()["seq"]
        .as_i64()
        .unwrap();
    let r = app
        .client
        .get(app.url(&format!(
            "/api/v1/orgs/acme/clusters/c1/changes?after={seq}&wait=3"
        )))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(started.elapsed() >= Duration::from_secs(3));
    // At most three connections: a fourth waits until one closes.
    let app = TestApp::start_with(&["--max-connections", "3"]);
    let connect = || TcpStream::connect(&app.addr).unwrap();
    let held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = connect();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
            s
        })
        .collect();
    let quick = reqwest::blocking::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert!(
        quick.get(app.url("/healthz")).send().is_err(),
        "a fourth connection was served"
    );
    drop(held);
    let r = app.client.get(app.url("/healthz")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn with_provisioning_off_a_scim_token_writes_no_keys_through_the_admin_api() {
    let app = sup_app();
    let u = app.create_user("ada@example.com");
    cli_ok(&app.db, &["org", "set", "acme", "--aup", "off"]);
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519", None, "k");
    let url = app.url(&format!("/api/v1/orgs/acme/users/{}/ssh-keys", u.id()));
    let r = app
        .send(
            app.client
                .put(&url)
                .bearer_auth(&app.token)
                .body(key.clone()),
        )
        .expect_api_error(403, "forbidden");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("Automated User Provisioning is off")
    );
    let r = app
        .send(app.client.get(&url).bearer_auth(&app.token))
        .expect(200);
    assert_eq!(r.body["keys"], json!([]));
    cli_ok(&app.db, &["org", "set", "acme", "--aup", "on"]);
    app.send(app.client.put(&url).bearer_auth(&app.token).body(key))
        .expect(200);
}

#[test]
fn the_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    if on_postgres() {
        // A file of SQLite's: PostgreSQL's files are its server's.
        return;
    }
    let app = TestApp::start();
    app.create_user("ada@example.com");
    let dir = app.dir.path();
    for name in ["roster.db", "roster.db-wal", "roster.db-shm"] {
        let path = dir.join(name);
        if name != "roster.db" && !path.exists() {
            continue;
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
    }
}

#[test]
fn what_third_party_clients_send_is_served() {
    let app = TestApp::start();
    // No `schemas`: the endpoint says what the resource is.
    let u = app
        .post("/Users", &json!({"userName": "noschemas@example.com"}))
        .expect(201);
    assert_eq!(u.body["schemas"][0], USER);
    app.post(
        "/Groups",
        &json!({"displayName": "noschemas", "members": [{"value": u.id()}]}),
    )
    .expect(201);
    app.put(
        &format!("/Users/{}", u.id()),
        &json!({"userName": "noschemas@example.com", "title": "x"}),
    )
    .expect(200);
    // A `schemas` naming another resource type is refused.
    app.post(
        "/Users",
        &json!({"schemas": [GROUP], "userName": "wrong@example.com"}),
    )
    .expect_error(400, Some("invalidSyntax"));
    // Collection URLs with a trailing slash.
    assert_eq!(app.get("/Users/").expect(200).total(), 1);
    app.post(
        "/Groups/",
        &json!({"schemas": [GROUP], "displayName": "slash"}),
    )
    .expect(201);
    app.get("/Schemas/").expect(200);
    app.get("/ResourceTypes/").expect(200);
    app.get("/ServiceProviderConfig/").expect(200);
    // An id that does not exist is 404, whatever the body.
    let missing = "/Users/00000000-0000-4000-8000-000000000000";
    for body in ["{", "[]", r#"{"userName": 5}"#, r#"{"Operations": "x"}"#] {
        for method in [reqwest::Method::PUT, reqwest::Method::PATCH] {
            app.send(
                app.request(method.clone(), missing)
                    .header("content-type", "application/scim+json")
                    .body(body),
            )
            .expect_error(404, None);
        }
    }
    app.delete(missing).expect_error(404, None);
    app.delete("/Groups/nope").expect_error(404, None);
}

#[test]
fn the_command_line_prints_the_servers_own_public_url() {
    let app = TestApp::start();
    let shown = cli_json(&app.db, &["org", "show", "acme"]);
    assert_eq!(
        shown["scim_base_url"],
        format!("http://{}/scim/{}", app.addr, app.org_id)
    );
    // --public-url still wins.
    let shown = cli_json(
        &app.db,
        &[
            "org",
            "show",
            "acme",
            "--public-url",
            "https://roster.example.org/",
        ],
    );
    assert_eq!(
        shown["scim_base_url"],
        format!("https://roster.example.org/scim/{}", app.org_id)
    );
}
