use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

struct Node {
    app: TestApp,
    dir: tempfile::TempDir,
    ids: Vec<String>,
}

impl Node {
    /// Adds user `id` to the cluster's group "g" over SCIM.
    fn add_to_group(&self, id: &str) {
        let g = self
            .app
            .get_with("/Groups", &[("filter", "displayName eq \"g\"")])
            .ids()[0]
            .clone();
        self.app
            .patch(
                &format!("/Groups/{g}"),
                json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
            )
            .expect(200);
    }

    fn args(&self) -> Vec<String> {
        let d = self.dir.path();
        vec![
            "agent".into(),
            "--server".into(),
            format!("http://{}", self.app.addr),
            "--org".into(),
            "acme".into(),
            "--cluster".into(),
            "c1".into(),
            "--token-file".into(),
            d.join("token").display().to_string(),
            "--nss-dir".into(),
            d.join("etc").display().to_string(),
            "--state-file".into(),
            d.join("state.json").display().to_string(),
        ]
    }
    fn once(&self, extra: &[&str]) -> std::process::Output {
        let mut a = self.args();
        a.push("--once".into());
        a.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run_cli(&self.app.db, &refs)
    }
    /// Starts a long-running agent with a short feed wait.
    fn spawn_agent(&self, wait: &str) -> Stopped {
        let mut args = self.args();
        args.extend(["--wait".to_string(), wait.to_string()]);
        Stopped(
            Command::new(roster_bin())
                .args(&args)
                .env("ROSTER_DATABASE", &self.app.db)
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
    /// Waits until the node's passwd cache satisfies `what`.
    fn wait_for_passwd(&self, what: &dyn Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !what(&self.cache("passwd")) {
            assert!(
                Instant::now() < deadline,
                "the agent did not converge: {}",
                self.cache("passwd")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    fn cache(&self, map: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("etc").join(format!("{map}.cache")))
            .unwrap_or_default()
    }
}

/// Five users in group "g", provisioned by cluster "c1".
fn node() -> Node {
    let app = TestApp::start();
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    let ids: Vec<String> = ["u1", "u2", "u3", "u4", "u5"]
        .iter()
        .map(|n| app.create_user(&format!("{n}@example.com")).id())
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    app.create_group("g", &refs);
    let token = create_cluster(&app.db, "c1", "g");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("token"), format!("{token}\n")).unwrap();
    Node { app, dir, ids }
}

#[test]
fn the_agent_writes_the_caches_and_holds_back_mass_removals() {
    let n = node();
    let out = n.once(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(n.cache("passwd").lines().count(), 5);
    assert!(n.cache("group").contains("g:x:200000:u1,u2,u3,u4,u5"));
    assert_eq!(n.cache("shadow").lines().count(), 5);
    let status = cli_json(
        &n.app.db,
        &[
            "agent",
            "status",
            "--state-file",
            n.dir.path().join("state.json").to_str().unwrap(),
        ],
    );
    assert!(status["seq"].as_i64().unwrap() > 0 && status["last_error"].is_null());
    // Nothing changed: nothing rewritten.
    let out = n.once(&[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("files changed: none"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One deactivation (20% of 5, over a 10% share, but fewer than the
    // default 10 removals that count as mass) is applied.
    n.app
        .patch(
            &format!("/Users/{}", n.ids[4]),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .expect(200);
    assert!(n.once(&["--max-removal-share", "0.1"]).status.success());
    assert!(!n.cache("passwd").contains("u5:") && !n.cache("group").contains("u5"));

    // Three of the remaining four go at once: held back, files untouched.
    for id in &n.ids[1..4] {
        n.app
            .patch(
                &format!("/Users/{id}"),
                json!([{"op": "replace", "value": {"active": false}}]),
            )
            .expect(200);
    }
    let before = n.cache("passwd");
    let dry = n.once(&["--dry-run", "--allow-mass-removal"]);
    assert!(
        dry.status.success()
            && String::from_utf8_lossy(&dry.stderr).contains("dry run, nothing written")
    );
    assert_eq!(n.cache("passwd"), before);
    let held = n.once(&["--min-mass-removal", "2"]);
    assert!(!held.status.success());
    assert!(
        String::from_utf8_lossy(&held.stderr)
            .contains("refusing to remove 3 of the cluster's 4 users")
    );
    assert_eq!(n.cache("passwd"), before);
    let status = cli_json(
        &n.app.db,
        &[
            "agent",
            "status",
            "--state-file",
            n.dir.path().join("state.json").to_str().unwrap(),
        ],
    );
    assert!(
        status["held"]
            .as_str()
            .unwrap()
            .contains("--allow-mass-removal")
    );
    assert!(n.once(&["--allow-mass-removal"]).status.success());
    assert_eq!(
        n.cache("passwd"),
        "u1:x:100000:100000:u1@example.com:/home/u1:/bin/bash\n"
    );
}

#[test]
fn a_running_agent_follows_the_feed() {
    let n = node();
    let _agent = n.spawn_agent("5");
    n.wait_for_passwd(&|p: &str| p.lines().count() == 5);
    let new = n.app.create_user("late@example.com").id();
    n.add_to_group(&new);
    n.wait_for_passwd(&|p: &str| p.contains("late:x:"));
}

/// The agent process, stopped however the test ends.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_agent_rides_out_a_server_restart() {
    let mut n = node();
    let _agent = n.spawn_agent("2");
    n.wait_for_passwd(&|p: &str| p.lines().count() == 5);
    // The server goes away; the caches keep their last good state.
    n.app.kill();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(n.cache("passwd").lines().count(), 5);
    // It comes back (same address), and a change made then reaches the node.
    n.app.launch();
    let id = n.app.create_user("after@example.com").id();
    n.add_to_group(&id);
    n.wait_for_passwd(&|p: &str| p.contains("after:x:") && p.lines().count() == 6);
    // Nothing lost or duplicated.
    let names = crate::helpers::passwd_names_of(&n.cache("passwd"));
    assert_eq!(names, vec!["u1", "u2", "u3", "u4", "u5", "after"]);
}

#[test]
fn the_agent_never_writes_what_the_node_has_for_itself() {
    let n = node();
    // This node has its own u2 (a local account), a local group "g" and
    // a local account holding the UID the directory gave u3.
    let etc = n.dir.path();
    std::fs::write(
        etc.join("local-passwd"),
        "root:x:0:0:root:/root:/bin/bash\nu2:x:1001:1001::/home/u2:/bin/sh\nsvc:x:100002:100002::/:/bin/false\n",
    )
    .unwrap();
    std::fs::write(etc.join("local-group"), "root:x:0:\ng:x:5000:u2\n").unwrap();
    let local = [
        "--local-passwd",
        &etc.join("local-passwd").display().to_string(),
        "--local-group",
        &etc.join("local-group").display().to_string(),
    ]
    .map(str::to_string);
    let refs: Vec<&str> = local.iter().map(String::as_str).collect();
    let out = n.once(&refs);
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{log}");
    assert_eq!(
        passwd_names_of(&n.cache("passwd")),
        vec!["u1".to_string(), "u4".to_string(), "u5".to_string()],
        "{log}"
    );
    assert!(
        !n.cache("group").lines().any(|l| l.starts_with("g:")),
        "{}",
        n.cache("group")
    );
    assert!(!n.cache("sshkey").contains("u2:") && !n.cache("shadow").contains("u3:"));
    assert!(
        log.contains("user u2: the name is a local account"),
        "{log}"
    );
    assert!(
        log.contains("UID 100002 belongs to a local account"),
        "{log}"
    );
    // The status counts them.
    let state = n.dir.path().join("state.json").display().to_string();
    let status = cli_ok(&n.app.db, &["agent", "status", "--state-file", &state]);
    assert!(status.contains("entries skipped:   3"), "{status}");
}

#[test]
fn the_agent_refuses_a_body_it_cannot_read() {
    use std::io::{Read, Write};
    // A server that answers every request with a snapshot of another shape
    // (what a renamed field would look like): the agent must say so and
    // write nothing, not write empty maps.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = r#"{"seq": 7, "modified": "2026-01-01T00:00:00Z", "tables": {"passwd": "x:x:1:1::/:/bin/sh\n"}, "accounts": []}"#;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("token"), "t\n").unwrap();
    std::fs::write(
        dir.path().join("etc/passwd.cache"),
        "kept:x:100000:100000::/:/bin/sh\n",
    )
    .unwrap();
    let out = Command::new(roster_bin())
        .args([
            "agent",
            "--server",
            &format!("http://{addr}"),
            "--org",
            "acme",
            "--cluster",
            "c1",
            "--once",
        ])
        .arg("--token-file")
        .arg(dir.path().join("token"))
        .arg("--nss-dir")
        .arg(dir.path().join("etc"))
        .arg("--state-file")
        .arg(dir.path().join("state.json"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("a body this agent cannot read"), "{log}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("etc/passwd.cache")).unwrap(),
        "kept:x:100000:100000::/:/bin/sh\n"
    );
}
