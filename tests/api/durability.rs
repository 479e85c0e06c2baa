use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::helpers::*;

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.split_whitespace().count() == 2)
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn concurrent_clients_share_commits_and_lose_nothing() {
    let app = Arc::new(TestApp::start());
    let threads: Vec<_> = (0..64)
        .map(|t| {
            let app = app.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| app.post("/Users", &json!({"schemas": [USER], "userName": format!("u{t}-{i}@example.com")})).expect(201).id())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(ids.len(), 640);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 640);
    assert_eq!(app.get_with("/Users", &[("count", "0")]).total(), 640);
    let m = app.send(app.client.get(app.url("/metrics"))).expect(200);
    let text = m.body.as_str().unwrap();
    let commits = metric(text, "roster_store_commit_batch_size_count");
    let jobs = metric(text, "roster_store_commit_batch_size_sum");
    assert!(jobs >= 640, "{jobs} jobs");
    if on_postgres() {
        // One transaction per write, run side by side by the writer pool;
        // PostgreSQL shares the log flushes of concurrent commits itself.
        assert_eq!(commits, jobs);
    } else {
        assert!(
            commits < jobs,
            "64 concurrent clients should share commits: {commits} commits for {jobs} jobs"
        );
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut app = TestApp::start();
    let shared = Arc::new(std::sync::Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for t in 0..8 {
            let app = &app;
            let shared = shared.clone();
            s.spawn(move || {
                for i in 0..25 {
                    let id = app.post("/Users", &json!({"schemas": [USER], "userName": format!("k{t}-{i}@example.com")})).expect(201).id();
                    shared.lock().unwrap().push(id);
                }
            });
        }
    });
    let g = app.create_group("survivors", &[]).id();
    app.patch(
        &format!("/Groups/{g}"),
        json!([{"op": "add", "path": "members", "value": [{"value": shared.lock().unwrap()[0]}]}]),
    )
    .expect(200);
    app.kill();
    app.launch();
    for id in shared.lock().unwrap().iter() {
        app.get(&format!("/Users/{id}")).expect(200);
    }
    assert_eq!(app.get_with("/Users", &[("count", "0")]).total(), 200);
    assert_eq!(
        app.get(&format!("/Groups/{g}")).body["members"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
