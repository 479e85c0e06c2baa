//! `roster explain`: the failing step named first, for each way a person
//! can be kept off a cluster.

use serde_json::{Value, json};

use crate::helpers::*;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILenAM0cpltQu8JJx1at/k7/jQ1anEQtqdbwlpgG6zjr k1@example";

fn user_with(app: &TestApp, name: &str, keys: &[&str]) -> String {
    app.post(
        "/Users",
        &json!({"schemas": [USER, CW], "userName": name, CW: {"sunkSshKeys": keys}}),
    )
    .expect(201)
    .id()
}

/// (exit status, the JSON explanation).
fn explain(app: &TestApp, user: &str) -> (i32, Value) {
    let out = run_cli(
        &app.db,
        &["explain", "acme", user, "--cluster", "c1", "--json"],
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

#[test]
fn explain_names_the_step_that_keeps_someone_off_a_cluster() {
    let app = sup_app();
    let ada = user_with(&app, "ada@example.com", &[KEY]);
    let bob = user_with(&app, "bob@example.com", &[]);
    user_with(&app, "cat@example.com", &[KEY]);
    let dan = user_with(&app, "dan@example.com", &[KEY]);
    // Eve's key was stored while SUNK User Provisioning was off, which
    // does not check keys.
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "off"]);
    let eve = user_with(&app, "eve@example.com", &["ssh-rsa not-a-key"]);
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    app.create_group("gpu", &[&ada, &bob, &dan, &eve]);
    create_cluster(&app.db, "c1", "gpu");
    app.patch(
        &format!("/Users/{dan}"),
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .expect(200);

    // Before any agent reports, explain says it cannot tell.
    let (code, e) = explain(&app, "ada@example.com");
    assert_eq!(code, 0, "{e}");
    assert_eq!(step_of(&e, "agents")["verdict"], "warn", "{e}");
    // A node applies the cluster (its second run reports to the server).
    let node = AgentNode::new(&app.db, "c1");
    node.once(&app, "c1", &["--node-name", "n1"]);
    node.once(&app, "c1", &["--node-name", "n1"]);
    let e = explain_until(&app, "ada@example.com", |e| {
        step_of(e, "agents")["verdict"] == "ok"
    });
    assert_eq!(e["can_log_in"], true);
    let steps = e["explanation"]["steps"].as_array().unwrap();
    // Slurm: no agent manages it here (a warning, not a failure).
    assert!(
        steps
            .iter()
            .all(|s| s["verdict"] == "ok" || s["step"] == "slurm"),
        "{e}"
    );
    assert!(
        step_of(&e, "slurm")["detail"]
            .as_str()
            .unwrap()
            .contains("associations planned with account(s) [gpu]"),
        "{e}"
    );
    assert!(
        steps.iter().any(|s| s["step"] == "maps"),
        "the maps were read: {e}"
    );

    // Each way in, the failing step first, with what to do.
    for (user, step, says) in [
        ("bob@example.com", "ssh keys", "no SSH key"),
        ("cat@example.com", "cluster groups", "c1 provisions [gpu]"),
        ("dan@example.com", "user", "deactivated"),
        ("eve@example.com", "ssh keys", "no valid SSH key"),
    ] {
        let (code, e) = explain(&app, user);
        assert_eq!(code, 2, "{user}: {e}");
        let first = &e["explanation"]["steps"][0];
        assert_eq!(first["verdict"], "fail", "{user}: {e}");
        assert_eq!(first["step"], step, "{user}: {e}");
        assert!(
            first["detail"].as_str().unwrap().contains(says),
            "{user}: {e}"
        );
        assert!(first["fix"].is_string(), "{user}: a fix is said: {e}");
    }

    // The text: a checklist, failing step first.
    let out = run_cli(&app.db, &["explain", "acme", "cat", "--cluster", "c1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("cat@example.com cannot log in to c1"),
        "{text}"
    );
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .contains("FAIL  cluster groups"),
        "{text}"
    );
    // An unknown cluster or user is said plainly.
    let out = run_cli(&app.db, &["explain", "acme", "ada", "--cluster", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no cluster \"nope\""));

    // Agent lagging: a change to the cluster its only node has not applied.
    let fay = user_with(&app, "fay@example.com", &[KEY]);
    let gpu = app.get_with("/Groups", &[("filter", "displayName eq \"gpu\"")]);
    let gpu = gpu.body["Resources"][0]["id"].as_str().unwrap().to_string();
    app.patch(
        &format!("/Groups/{gpu}"),
        json!([{"op": "add", "path": "members", "value": [{"value": fay}]}]),
    )
    .expect(200);
    let (code, e) = explain(&app, "fay@example.com");
    assert_eq!(code, 2, "{e}");
    let first = &e["explanation"]["steps"][0];
    assert_eq!(
        (&first["step"], &first["verdict"]),
        (&json!("agents"), &json!("fail")),
        "{e}"
    );
    assert!(
        first["detail"]
            .as_str()
            .unwrap()
            .contains("n1 (2 change(s) behind)"),
        "{e}"
    );

    // Slurm down: the node that manages Slurm reports sacctmgr failing.
    let failed = node.run(&app, "c1", &["--node-name", "n1", "--slurm-cluster", "c1"]);
    assert!(!failed.status.success());
    node.run(&app, "c1", &["--node-name", "n1", "--slurm-cluster", "c1"]);
    let e = explain_until(&app, "ada@example.com", |e| {
        step_of(e, "slurm")["verdict"] == "fail"
    });
    assert_eq!(e["can_log_in"], false, "{e}");
    let slurm = step_of(&e, "slurm");
    assert!(
        slurm["detail"]
            .as_str()
            .unwrap()
            .contains("the Slurm agent on n1 fails: slurm: sacctmgr")
            && slurm["detail"]
                .as_str()
                .unwrap()
                .contains("Connection refused"),
        "{e}"
    );
    assert!(slurm["fix"].as_str().unwrap().contains("slurmdbd"), "{e}");
}

fn step_of<'a>(e: &'a Value, name: &str) -> &'a Value {
    e["explanation"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {e}"))
}

/// `explain` for `user` on c1, once `until` holds (agents' reports reach
/// the store within a second).
fn explain_until(app: &TestApp, user: &str, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, e) = explain(app, user);
        if until(&e) || std::time::Instant::now() > deadline {
            return e;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
