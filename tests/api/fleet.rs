//! Seeing the fleet: real agents report on their feed requests, and
//! `roster cluster status` (and the console, and `roster explain`) show
//! each node's position, how far behind it is, its errors, and Slurm's.

use serde_json::{Value, json};

use crate::helpers::*;

/// `roster cluster status acme c1 --json`, once `until` holds of it (the
/// server records reports within a second), with its exit status.
fn status_until(app: &TestApp, until: impl Fn(&Value) -> bool) -> (bool, Value) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = run_cli(&app.db, &["cluster", "status", "acme", "c1", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        if until(&v) || std::time::Instant::now() > deadline {
            return (out.status.success(), v);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn node<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == name)
        .unwrap_or_else(|| panic!("no node {name} in {v}"))
}

#[test]
fn nodes_report_their_position_lag_and_errors() {
    let app = sup_app();
    let ada = app.create_user("ada@example.com").id();
    let gpu = app.create_group("gpu", &[&ada]).id();
    create_cluster(&app.db, "c1", "gpu");
    let (ok, none) = status_until(&app, |_| true);
    assert!(ok && none["nodes"].as_array().unwrap().is_empty(), "{none}");

    // Two nodes apply the cluster; their next request says so.
    let (n1, n2) = (AgentNode::new(&app.db, "c1"), AgentNode::new(&app.db, "c1"));
    for (n, name) in [(&n1, "n1"), (&n2, "n2")] {
        n.once(&app, "c1", &["--node-name", name]);
        n.once(&app, "c1", &["--node-name", name]);
    }
    let (ok, v) = status_until(&app, |v| v["nodes"].as_array().unwrap().len() == 2);
    assert!(ok, "all current: {v}");
    let latest = v["latest"].as_i64().unwrap();
    // The node's own metrics, for node_exporter's textfile collector.
    let prom = n1.dir.path().join("roster_agent.prom");
    n1.once(
        &app,
        "c1",
        &[
            "--node-name",
            "n1",
            "--metrics-file",
            prom.to_str().unwrap(),
        ],
    );
    let metrics = std::fs::read_to_string(&prom).unwrap();
    for line in [
        "roster_agent_up{cluster=\"c1\",node=\"n1\"} 1".to_string(),
        format!("roster_agent_applied_seq{{cluster=\"c1\",node=\"n1\"}} {latest}"),
        "roster_agent_held{cluster=\"c1\",node=\"n1\"} 0".to_string(),
    ] {
        assert!(metrics.contains(&line), "no {line} in {metrics}");
    }
    for name in ["n1", "n2"] {
        let n = node(&v, name);
        assert_eq!(
            (n["applied_seq"].as_i64(), n["behind"].as_u64(), &n["stale"]),
            (Some(latest), Some(0), &json!(false)),
            "{n}"
        );
        assert_eq!(n["error"], Value::Null);
    }

    // Changes to the cluster: bob's creation and his joining gpu (both
    // concern a member of the cluster); a user in no cluster group is not
    // counted. Behind until a node applies them.
    let bob = app.create_user("bob@example.com").id();
    app.patch(
        &format!("/Groups/{gpu}"),
        json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]),
    )
    .expect(200);
    app.create_user("elsewhere@example.com");
    n1.once(&app, "c1", &["--node-name", "n1"]);
    n1.once(&app, "c1", &["--node-name", "n1"]);
    let (ok, v) = status_until(&app, |v| node(v, "n1")["behind"] == 0);
    assert!(!ok, "n2 is behind: exit status 1");
    assert_eq!(node(&v, "n1")["behind"], 0, "{v}");
    assert_eq!(node(&v, "n2")["behind"], 2, "{v}");
    let text = run_cli(&app.db, &["cluster", "status", "acme", "c1"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("1 of 2 node(s) up to date"), "{text}");

    // The node that manages Slurm cannot reach it: its next request
    // reports the error, and that it is the Slurm agent.
    let failed = n2.run(&app, "c1", &["--node-name", "n2", "--slurm-cluster", "c1"]);
    assert!(!failed.status.success());
    n2.run(&app, "c1", &["--node-name", "n2", "--slurm-cluster", "c1"]);
    let (_, v) = status_until(&app, |v| node(v, "n2")["error"].is_string());
    let n = node(&v, "n2");
    assert_eq!(n["slurm"], true, "{n}");
    assert!(n["error"].as_str().unwrap().starts_with("slurm:"), "{n}");
    let text = run_cli(&app.db, &["cluster", "status", "acme", "c1"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(
        text.contains("n2 (Slurm)") && text.contains("ERROR slurm:"),
        "{text}"
    );
}

#[test]
fn a_held_mass_removal_is_approved_once_and_every_node_applies_it() {
    let app = sup_app();
    let ids: Vec<String> = (0..12)
        .map(|i| app.create_user(&format!("u{i}@example.com")).id())
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let gpu = app.create_group("gpu", &refs).id();
    create_cluster(&app.db, "c1", "gpu");
    let nodes = [AgentNode::new(&app.db, "c1"), AgentNode::new(&app.db, "c1")];
    let args = |i: usize| ["--node-name".to_string(), format!("n{i}")];
    let run = |i: usize| {
        let a = args(i);
        nodes[i].run(&app, "c1", &[a[0].as_str(), a[1].as_str()])
    };
    for i in 0..2 {
        assert!(run(i).status.success());
        assert!(run(i).status.success());
    }
    // The IdP empties the group but for one: 11 of 12 would go.
    app.patch(
        &format!("/Groups/{gpu}"),
        json!([{"op": "replace", "path": "members", "value": [{"value": ids[0]}]}]),
    )
    .expect(200);
    for i in 0..2 {
        let held = run(i);
        assert!(!held.status.success());
        let log = String::from_utf8_lossy(&held.stderr).to_string();
        assert!(
            log.contains("refusing to remove 11 of the cluster's 12 users"),
            "{log}"
        );
        // Its next request reports the hold.
        assert!(!run(i).status.success());
    }
    let (ok, v) = status_until(&app, |v| {
        let nodes = v["nodes"].as_array().unwrap();
        nodes.len() == 2 && nodes.iter().all(|n| n["held"] == true)
    });
    assert!(!ok, "held nodes: exit status 1: {v}");
    assert!(
        node(&v, "n0")["error"]
            .as_str()
            .unwrap()
            .contains("roster cluster approve-removal ORG c1"),
        "{v}"
    );
    let text = run_cli(&app.db, &["cluster", "status", "acme", "c1"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(
        text.contains("A mass removal is held back") && text.contains("HELD refusing"),
        "{text}"
    );
    // The same, for monitoring.
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "roster_cluster_nodes{org=\"acme\",cluster=\"c1\"} 2",
        "roster_cluster_nodes_held{org=\"acme\",cluster=\"c1\"} 2",
        "roster_cluster_nodes_behind{org=\"acme\",cluster=\"c1\"} 2",
        "roster_cluster_nodes_failing{org=\"acme\",cluster=\"c1\"} 0",
    ] {
        assert!(metrics.contains(line), "no {line} in {metrics}");
    }
    let passwd =
        |i: usize| std::fs::read_to_string(nodes[i].dir.path().join("etc/passwd.cache")).unwrap();
    assert_eq!(passwd(0).lines().count(), 12, "nothing was removed");

    // One approval, on the server; every node applies the removal.
    let approved = cli_json(&app.db, &["cluster", "approve-removal", "acme", "c1"]);
    assert!(approved["approved_through"].as_i64().unwrap() > 0);
    for i in 0..2 {
        let out = run(i);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(passwd(i).lines().count(), 1, "node {i}");
        assert!(run(i).status.success());
    }
    let (ok, v) = status_until(&app, |v| {
        let nodes = v["nodes"].as_array().unwrap();
        nodes.len() == 2 && nodes.iter().all(|n| n["error"].is_null())
    });
    assert!(ok, "{v}");
    let trail = cli_json(&app.db, &["audit", "acme", "--resource", "cluster"]);
    assert_eq!(trail[0]["action"], "cluster.approve_removal", "{trail}");

    // A later mass removal is held again: the approval covered its change.
    let more: Vec<String> = (0..12)
        .map(|i| app.create_user(&format!("v{i}@example.com")).id())
        .collect();
    let value: Vec<Value> = more.iter().map(|id| json!({"value": id})).collect();
    app.patch(
        &format!("/Groups/{gpu}"),
        json!([{"op": "add", "path": "members", "value": value}]),
    )
    .expect(200);
    assert!(run(0).status.success());
    app.patch(
        &format!("/Groups/{gpu}"),
        json!([{"op": "replace", "path": "members", "value": [{"value": ids[0]}]}]),
    )
    .expect(200);
    assert!(!run(0).status.success(), "held again");
}

/// Kills a process and its children (the sacctmgr it waits on) when
/// dropped.
struct WithChildren(std::process::Child);

impl Drop for WithChildren {
    fn drop(&mut self) {
        let pid = self.0.id();
        let mut children = Vec::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                let list = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
                children.extend(list.split_whitespace().map(str::to_string));
            }
        }
        // The children first: the agent, waiting on them, reaps them.
        for c in children {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &c])
                .status();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_caches_do_not_wait_for_a_slurmdbd_that_hangs() {
    let app = sup_app();
    let ada = app.create_user("ada@example.com").id();
    let gpu = app.create_group("gpu", &[&ada]).id();
    let token = create_cluster(&app.db, "c1", "gpu");
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("etc")).unwrap();
    std::fs::write(work.path().join("token"), &token).unwrap();
    // sacctmgr with a slurm.conf that is not there retries for a minute
    // before it gives up: Slurm's work hangs.
    let _agent = WithChildren(
        std::process::Command::new(roster_bin())
            .args(["agent", "--server", &format!("http://{}", app.addr)])
            .args([
                "--org",
                "acme",
                "--cluster",
                "c1",
                "--wait",
                "5",
                "--node-name",
                "slurm-1",
            ])
            .args(["--slurm-cluster", "c1"])
            .arg("--token-file")
            .arg(work.path().join("token"))
            .arg("--nss-dir")
            .arg(work.path().join("etc"))
            .arg("--state-file")
            .arg(work.path().join("state.json"))
            .env("SLURM_CONF", work.path().join("missing-slurm.conf"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let has = |name: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let passwd =
                std::fs::read_to_string(work.path().join("etc/passwd.cache")).unwrap_or_default();
            if passwd.lines().any(|l| l.starts_with(&format!("{name}:"))) {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    assert!(has("ada"), "the first snapshot reached the caches");
    // Slurm is still stuck on its first sacctmgr; a new member reaches the
    // caches all the same.
    let bob = app.create_user("bob@example.com").id();
    app.patch(
        &format!("/Groups/{gpu}"),
        json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]),
    )
    .expect(200);
    let began = std::time::Instant::now();
    assert!(has("bob"), "the caches waited for sacctmgr");
    assert!(began.elapsed() < std::time::Duration::from_secs(15));
    // The node reports that it manages Slurm.
    let (_, v) = status_until(&app, |v| {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["node"] == "slurm-1")
    });
    assert_eq!(node(&v, "slurm-1")["slurm"], true, "{v}");
}

#[test]
fn after_a_server_restart_the_agents_come_back_spread_out() {
    // 200 real agents, each a process with its own caches and state.
    const NODES: usize = 200;
    let app_cell = std::cell::RefCell::new(sup_app());
    let ada = app_cell.borrow().create_user("ada@example.com").id();
    let gpu = app_cell.borrow().create_group("gpu", &[&ada]).id();
    let token = create_cluster(&app_cell.borrow().db, "c1", "gpu");
    let addr = app_cell.borrow().addr.clone();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("token"), &token).unwrap();
    let agents: Vec<WithChildren> = (0..NODES)
        .map(|i| {
            let d = work.path().join(format!("n{i}"));
            std::fs::create_dir_all(d.join("etc")).unwrap();
            let log = std::fs::File::create(d.join("agent.log")).unwrap();
            WithChildren(
                std::process::Command::new(roster_bin())
                    .args(["agent", "--server", &format!("http://{addr}")])
                    .args(["--org", "acme", "--cluster", "c1", "--wait", "30"])
                    .args(["--node-name", &format!("n{i}")])
                    .arg("--token-file")
                    .arg(work.path().join("token"))
                    .arg("--nss-dir")
                    .arg(d.join("etc"))
                    .arg("--state-file")
                    .arg(d.join("state.json"))
                    .stderr(log)
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    // All of them wait on the server (each has reported).
    let (_, v) = status_until(&app_cell.borrow(), |v| {
        v["nodes"].as_array().unwrap().len() == NODES
    });
    assert_eq!(v["nodes"].as_array().unwrap().len(), NODES, "{v}");
    // The server dies with all their long polls open, and comes back on its port.
    {
        let mut app = app_cell.borrow_mut();
        app.kill();
        app.launch();
    }
    let app = app_cell.borrow();
    // A change after the restart reaches every node.
    let bob = app.create_user("bob@example.com").id();
    app.patch(
        &format!("/Groups/{gpu}"),
        json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]),
    )
    .expect(200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for i in 0..NODES {
        let passwd = work.path().join(format!("n{i}/etc/passwd.cache"));
        while !std::fs::read_to_string(&passwd)
            .unwrap_or_default()
            .contains("bob:")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "node n{i} did not come back"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    drop(agents);
    // Each came back after its own pause: no thundering herd.
    let pauses: Vec<u64> = (0..NODES)
        .filter_map(|i| {
            let log = std::fs::read_to_string(work.path().join(format!("n{i}/agent.log"))).unwrap();
            log.lines()
                .find_map(|l| l.split("retry_in_ms=").nth(1))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .collect();
    assert_eq!(
        pauses.len(),
        NODES,
        "every agent lost the server and retried: {pauses:?}"
    );
    let (min, max) = (pauses.iter().min().unwrap(), pauses.iter().max().unwrap());
    assert!(
        *min >= 100 && *max <= 1000 && max - min >= 200,
        "first retries spread over the backoff: {pauses:?}"
    );
}
