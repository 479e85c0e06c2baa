//! Issue 22's fleet findings, against the running server: one cluster
//! token's made-up node names are bounded per cluster and forgotten when
//! silent; `/metrics` answers only the addresses an operator allows and
//! reads the fleet once for many scrapes; one org's long polls leave
//! connections for everyone else.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

/// A server started with `serve_args`, with cluster c1 of org acme
/// (SUNK User Provisioning on, one group of one user), and c1's token.
fn fleet_app(serve_args: &[&str]) -> (TestApp, String) {
    let app = TestApp::start_with(serve_args);
    let token = cluster_of(&app);
    (app, token)
}

/// Cluster c1 of org acme on `app`, and its token.
fn cluster_of(app: &TestApp) -> String {
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    let ada = app.create_user("ada@example.com").id();
    app.create_group("gpu", &[&ada]);
    create_cluster(&app.db, "c1", "gpu")
}

/// A feed request of node `node` at position `after`, answered at once.
fn report(app: &TestApp, token: &str, node: &str, after: i64) {
    let r = app
        .client
        .get(app.url("/api/v1/orgs/acme/clusters/c1/changes"))
        .query(&[("after", after.to_string()), ("wait", "0".into())])
        .bearer_auth(token)
        .header("X-Roster-Node", node)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text());
}

/// `roster cluster status acme c1 --json`, once `until` holds of it (the
/// server records reports within a second), or after a minute.
fn status_until(app: &TestApp, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = run_cli(&app.db, &["cluster", "status", "acme", "c1", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        if until(&v) || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn node_names(v: &Value) -> Vec<String> {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap().to_string())
        .collect()
}

fn applied(v: &Value, node: &str) -> Option<i64> {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == node)
        .and_then(|n| n["applied_seq"].as_i64())
}

/// A counter's value in a /metrics body.
fn counter(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

fn metrics(app: &TestApp) -> (u16, String) {
    let r = app.client.get(app.url("/metrics")).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn one_token_cannot_fill_a_cluster_with_made_up_nodes_and_metrics_read_the_fleet_once() {
    let (app, token) = fleet_app(&["--max-nodes-per-cluster", "5"]);

    for i in 0..5 {
        report(&app, &token, &format!("fake-{i}"), 0);
    }
    let v = status_until(&app, |v| node_names(v).len() == 5);
    assert_eq!(node_names(&v).len(), 5, "{v}");
    // Twenty more names from the same token, then a known node's news.
    for i in 5..25 {
        report(&app, &token, &format!("fake-{i}"), 0);
    }
    report(&app, &token, "fake-0", 1);
    let v = status_until(&app, |v| applied(v, "fake-0") == Some(1));
    assert_eq!(
        applied(&v, "fake-0"),
        Some(1),
        "known nodes still update: {v}"
    );
    let names = node_names(&v);
    assert_eq!(
        names,
        ["fake-0", "fake-1", "fake-2", "fake-3", "fake-4"],
        "the cluster keeps its cap: {v}"
    );
    let (_, body) = metrics(&app);
    assert_eq!(counter(&body, "roster_node_reports_dropped_total"), 20);
    assert!(
        app.wait_for_log("reports of new nodes refused"),
        "the refusal is logged"
    );

    // An operator forgets a node: it leaves, audited, and frees a place.
    let out = cli_json(&app.db, &["cluster", "forget-node", "acme", "c1", "fake-1"]);
    assert_eq!(out["forgotten"], "fake-1");
    let v = status_until(&app, |_| true);
    assert!(!node_names(&v).contains(&"fake-1".to_string()), "{v}");
    let audit = cli_ok(&app.db, &["audit", "acme", "--resource", "c1"]);
    assert!(
        audit.contains("cluster.forget_node") && audit.contains("fake-1"),
        "{audit}"
    );
    let unknown = run_cli(&app.db, &["cluster", "forget-node", "acme", "c1", "nosuch"]);
    assert!(!unknown.status.success());
    let why = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        why.contains("has no node \"nosuch\"") && why.contains("roster cluster status"),
        "{why}"
    );
    report(&app, &token, "fake-99", 0);
    let v = status_until(&app, |v| node_names(v).contains(&"fake-99".to_string()));
    assert_eq!(node_names(&v).len(), 5, "{v}");

    // Many scrapes at once, and more after: the fleet is read once (or
    // twice, should the machine stall past the gauges' few seconds), not
    // once per scrape.
    let bodies: Vec<(u16, String)> = std::thread::scope(|s| {
        let scrapes: Vec<_> = (0..16).map(|_| s.spawn(|| metrics(&app))).collect();
        scrapes.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut reads: Vec<u64> = bodies
        .iter()
        .chain((0..8).map(|_| metrics(&app)).collect::<Vec<_>>().iter())
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            assert!(
                body.contains("roster_cluster_nodes{org=\"acme\",cluster=\"c1\"}"),
                "{body}"
            );
            counter(body, "roster_metrics_fleet_reads_total")
        })
        .collect();
    reads.sort_unstable();
    reads.dedup();
    assert!(
        reads.len() <= 2,
        "24 scrapes read the fleet {reads:?} times"
    );
}

#[test]
fn silent_nodes_are_forgotten() {
    let (app, token) = fleet_app(&["--forget-nodes-after", "3s"]);
    report(&app, &token, "gone", 0);
    report(&app, &token, "live", 0);
    let v = status_until(&app, |v| node_names(v).len() == 2);
    assert_eq!(node_names(&v), ["gone", "live"]);
    // "live" keeps asking; "gone" is silent, and is forgotten.
    let deadline = Instant::now() + Duration::from_secs(60);
    let v = loop {
        report(&app, &token, "live", 0);
        let v = status_until(&app, |_| true);
        if node_names(&v) == ["live"] || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(node_names(&v), ["live"], "{v}");
}

#[test]
fn metrics_answer_only_the_addresses_the_operator_allows() {
    let app = TestApp::start();
    let (status, body) = metrics(&app);
    assert_eq!(status, 200, "loopback is allowed by default: {body}");
    drop(app);

    let app = TestApp::start_with(&[
        "--metrics-allow",
        "10.9.9.9/32,192.0.2.0/24",
        "--trusted-proxies",
        "127.0.0.1",
    ]);
    let (status, body) = metrics(&app);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("--metrics-allow") && body.contains("127.0.0.1") && !body.contains("acme"),
        "{body}"
    );
    // Behind the trusted proxy, the client is the forwarded address.
    let via = |client: &str| {
        let r = app
            .client
            .get(app.url("/metrics"))
            .header("X-Forwarded-For", client)
            .send()
            .unwrap();
        r.status().as_u16()
    };
    assert_eq!(via("10.9.9.9"), 200);
    assert_eq!(via("192.0.2.77"), 200);
    assert_eq!(via("10.9.9.8"), 403);
    // A bad list is refused at start, saying why.
    let bad = run_cli(
        &app.db,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-allow",
            "10.0.0.0/40",
        ],
    );
    assert!(!bad.status.success());
    let why = String::from_utf8_lossy(&bad.stderr);
    assert!(why.contains("prefix length"), "{why}");
}

/// A long poll of `org`'s cluster `cluster` with `token` from a connection
/// of its own: its status and `Retry-After`, once answered.
fn long_poll(
    addr: &str,
    org: &str,
    cluster: &str,
    token: &str,
    after: i64,
) -> (u16, Option<String>) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    match client
        .get(format!(
            "http://{addr}/api/v1/orgs/{org}/clusters/{cluster}/changes"
        ))
        .query(&[("after", after.to_string()), ("wait", "60".into())])
        .bearer_auth(token)
        .send()
    {
        Ok(r) => (
            r.status().as_u16(),
            r.headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string()),
        ),
        // The server stopped at the end of the test.
        Err(_) => (0, None),
    }
}

/// The org's latest change, as a cluster token sees it.
fn latest(app: &TestApp, org: &str, cluster: &str, token: &str) -> i64 {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/orgs/{org}/clusters/{cluster}/changes")))
        .query(&[("after", "0"), ("wait", "0")])
        .bearer_auth(token)
        .send()
        .unwrap();
    r.json::<Value>().unwrap()["seq"].as_i64().unwrap()
}

#[test]
fn long_polls_leave_connections_for_everyone_else() {
    // 20 connections: 10 long polls at most (a reserve of 10), 6 of one org.
    let mut app =
        TestApp::start_with(&["--max-connections", "20", "--max-long-polls-per-org", "6"]);
    let acme = cluster_of(&app);
    cli_ok(&app.db, &["org", "create", "beta"]);
    cli_ok(&app.db, &["org", "set", "beta", "--sup", "on"]);
    cli_ok(&app.db, &["group", "create", "beta", "staff"]);
    cli_ok(
        &app.db,
        &["cluster", "create", "beta", "b1", "--groups", "staff"],
    );
    let beta = cli_json(&app.db, &["cluster", "token", "create", "beta", "b1"])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (acme_at, beta_at) = (
        latest(&app, "acme", "c1", &acme),
        latest(&app, "beta", "b1", &beta),
    );

    let (tx, rx) = std::sync::mpsc::channel();
    let mut polls = Vec::new();
    // acme's 8 polls first, then beta's once acme's are placed, so that
    // which org meets which cap does not depend on the threads' order.
    // The 6 polls over the caps (2 of acme's, over its 6; 4 of beta's,
    // over the server's 10) are answered at once; the 10 others wait.
    let mut refused: Vec<(String, (u16, Option<String>))> = Vec::new();
    for (org, cluster, token, at, over) in [
        ("acme", "c1", &acme, acme_at, 2),
        ("beta", "b1", &beta, beta_at, 4),
    ] {
        for _ in 0..8 {
            let (tx, addr) = (tx.clone(), app.addr.clone());
            let (org, cluster, token) = (org.to_string(), cluster.to_string(), token.clone());
            polls.push(std::thread::spawn(move || {
                let answer = long_poll(&addr, &org, &cluster, &token, at);
                let _ = tx.send((org, answer));
            }));
        }
        for _ in 0..over {
            refused.push(rx.recv_timeout(Duration::from_secs(60)).unwrap());
        }
    }
    for (org, (status, retry)) in &refused {
        assert_eq!(*status, 429, "{org}");
        assert_eq!(retry.as_deref(), Some("10"), "{org}");
    }
    let count = |o: &str| refused.iter().filter(|(org, _)| org == o).count();
    assert_eq!((count("acme"), count("beta")), (2, 4), "{refused:?}");
    // Everyone else still gets in, while the long polls are held.
    let health = app.client.get(app.url("/healthz")).send().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let (status, body) = metrics(&app);
    assert_eq!(status, 200, "{body}");
    assert_eq!(counter(&body, "roster_feed_long_polls_refused_total"), 6);
    assert!(
        rx.try_recv().is_err(),
        "the 10 long polls within the caps are still held"
    );

    // A real agent told 429 waits out Retry-After: not an error of the node.
    let node = AgentNode::new(&app.db, "c1");
    let agent = node.spawn(&app, "c1", "60", &["--node-name", "n1"]);
    let log = node.dir.path().join("agent.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("the server is busy") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(agent);
    assert!(
        text.contains("the server is busy") && text.contains("429"),
        "{text}"
    );
    assert!(!text.contains("could not apply"), "{text}");
    assert!(node.state()["last_error"].is_null(), "{}", node.state());

    app.kill();
    for p in polls {
        p.join().unwrap();
    }
}

/// Limits of zero, which would drop every node's report or forget every
/// node at each check, are refused at start with what to give instead.
#[test]
fn zero_limits_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("r.db").display());
    for (flag, value, says) in [
        ("--max-nodes-per-cluster", "0", "0 is not in 1.."),
        ("--forget-nodes-after", "0s", "a second or more"),
        ("--request-timeout", "0m", "a second or more"),
    ] {
        let out = run_cli(&db, &["serve", "--listen", "127.0.0.1:0", flag, value]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        assert!(err.contains(says), "{flag} {value}: {err}");
    }
}
