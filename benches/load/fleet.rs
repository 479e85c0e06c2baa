//! `ROSTER_BENCH_ONLY=fleet`: a cluster's nodes as lightweight long-poll
//! clients of the change feed (`FLEET_CLIENTS`, default 2,000, half on
//! each of two clusters) against the release server, measured side by
//! side in one run: SCIM PATCH latency at 20 writes/s with no waiter and
//! with all of them waiting (the writes touch the other cluster), the
//! server's CPU while they wait idle, and how long a write that touches a
//! cluster takes to reach each of its waiters.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::{Server, Target, bench_org, cpu_seconds, percentile, run_cli, user};

/// What one waiting node has received: each answer's arrival.
type Arrivals = Arc<Mutex<Vec<Instant>>>;

/// A node's long poll, for ever: answers are noted, and the position moves.
fn spawn_node(
    crowd: &tokio::runtime::Handle,
    addr: String,
    token: String,
    cluster: &'static str,
    node: usize,
    seq: i64,
) -> Arrivals {
    let arrivals: Arrivals = Arc::default();
    let noted = arrivals.clone();
    crowd.spawn(async move {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Client<HttpConnector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(connector);
        let mut after = seq;
        loop {
            let req = hyper::Request::get(format!(
                "http://{addr}/api/v1/orgs/bench/clusters/{cluster}/changes?after={after}&wait=60"
            ))
            .header("authorization", format!("Bearer {token}"))
            .header("x-roster-node", format!("{cluster}-n{node}"))
            .body(Empty::new())
            .unwrap();
            let Ok(resp) = client.request(req).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(body) = resp.into_body().collect().await else {
                continue;
            };
            let v: Value = serde_json::from_slice(&body.to_bytes()).unwrap_or(Value::Null);
            if let Some(s) = v["seq"].as_i64() {
                if v["changes"].as_array().is_some_and(|c| !c.is_empty()) {
                    noted.lock().unwrap().push(Instant::now());
                }
                after = s;
            }
        }
    });
    arrivals
}

/// PATCHes of `users` (round robin) at 20 a second for `seconds`: each
/// reply's latency, sorted.
async fn patches(t: &Arc<Target>, users: &[String], seconds: u64) -> Vec<Duration> {
    let mut handles = Vec::new();
    let began = Instant::now();
    for n in 0..seconds * 20 {
        tokio::time::sleep_until((began + Duration::from_millis(50 * n)).into()).await;
        let (t, id) = (t.clone(), users[n as usize % users.len()].clone());
        handles.push(tokio::spawn(async move {
            let op = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": format!("n{n}")}]});
            let s = Instant::now();
            let (status, _) = t.send(hyper::Method::PATCH, &format!("/Users/{id}"), Some(&op)).await;
            assert_eq!(status, 200);
            s.elapsed()
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.push(h.await.unwrap());
    }
    lat.sort();
    lat
}

pub async fn fleet_timings(bin: &str, dir: &std::path::Path) -> Value {
    let clients: usize = std::env::var("FLEET_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let db = format!("sqlite://{}", dir.join("fleet.db").display());
    let (_, token) = bench_org(bin, &db, &["--sup", "on"]);
    let server = Server::start(bin, &db, &["--scim-log-max-entries", "0"]);
    let t = server.target(&token);
    let mut ids = Vec::new();
    for i in 0..200 {
        let (status, body) = t
            .send(
                hyper::Method::POST,
                "/Users",
                Some(&user(&format!("f{i}@bench.example"))),
            )
            .await;
        assert_eq!(status, 201);
        ids.push(
            serde_json::from_slice::<Value>(&body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for (name, members) in [("inside", &ids[..100]), ("outside", &ids[100..])] {
        let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
        let g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members});
        assert_eq!(
            t.send(hyper::Method::POST, "/Groups", Some(&g)).await.0,
            201
        );
    }
    let cli = |args: &[&str]| run_cli(bin, &db, args);
    cli(&["cluster", "create", "bench", "c1", "--groups", "inside"]);
    cli(&["cluster", "create", "bench", "c2", "--groups", "outside"]);
    let tokens = [
        cli(&["cluster", "token", "create", "bench", "c1"]),
        cli(&["cluster", "token", "create", "bench", "c2"]),
    ];

    // Side by side: writes with no waiter, then the same with all waiting.
    let cpu_alone = cpu_seconds(server.pid);
    let alone = patches(&t, &ids[100..], 10).await;
    let cpu_alone = cpu_seconds(server.pid) - cpu_alone;
    let seq: i64 = {
        // The feed's position, from one poll.
        let client: Client<HttpConnector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        let req = hyper::Request::get(format!(
            "http://{}/api/v1/orgs/bench/clusters/c1/changes?after=0&wait=0",
            server.addr
        ))
        .header("authorization", format!("Bearer {}", tokens[0]))
        .body(Empty::new())
        .unwrap();
        let body = client
            .request(req)
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes();
        serde_json::from_slice::<Value>(&body).unwrap()["seq"]
            .as_i64()
            .unwrap()
    };
    // The crowd on threads of its own, as nodes are machines of their
    // own: the benchmark's SCIM client does not queue behind their tasks
    // (they still share the machine's two cores with it and the server).
    let crowd = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut c1_nodes = Vec::new();
    for n in 0..clients {
        let (cluster, token) = if n % 2 == 0 {
            ("c1", &tokens[0])
        } else {
            ("c2", &tokens[1])
        };
        let a = spawn_node(
            crowd.handle(),
            server.addr.clone(),
            token.clone(),
            cluster,
            n,
            seq,
        );
        if cluster == "c1" {
            c1_nodes.push(a);
        }
    }
    // Let them all connect; then the idle cost.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu0 = cpu_seconds(server.pid);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_cpu_share = (cpu_seconds(server.pid) - cpu0) / 10.0;
    // Writes to c2's users wake c2's half; c1's half stays asleep.
    let cpu_crowded = cpu_seconds(server.pid);
    let crowded = patches(&t, &ids[100..], 10).await;
    let cpu_crowded = cpu_seconds(server.pid) - cpu_crowded;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c1_woken_by_c2_writes: usize = c1_nodes.iter().map(|a| a.lock().unwrap().len()).sum();

    // Reach: a write to one of c1's users, then every c1 node's answer.
    let mut per_node = Vec::new();
    let mut all_nodes = Vec::new();
    for (k, id) in ids.iter().take(20).enumerate() {
        let before: Vec<usize> = c1_nodes.iter().map(|a| a.lock().unwrap().len()).collect();
        let op = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": format!("reach{k}")}]});
        let (status, _) = t
            .send(hyper::Method::PATCH, &format!("/Users/{id}"), Some(&op))
            .await;
        assert_eq!(status, 200);
        let acked = Instant::now();
        let deadline = acked + Duration::from_secs(30);
        let mut slowest = Duration::ZERO;
        for (a, b) in c1_nodes.iter().zip(&before) {
            loop {
                let got = a.lock().unwrap().get(*b).copied();
                if let Some(at) = got {
                    let d = at.saturating_duration_since(acked);
                    per_node.push(d);
                    slowest = slowest.max(d);
                    break;
                }
                assert!(Instant::now() < deadline, "a node never heard of write {k}");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        all_nodes.push(slowest);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    per_node.sort();
    all_nodes.sort();
    crowd.shutdown_background();
    json!({
        "feed_clients": clients,
        "patch_ms_p50_no_waiters": percentile(&alone, 0.5),
        "patch_ms_p99_no_waiters": percentile(&alone, 0.99),
        "patch_ms_p50_with_waiters": percentile(&crowded, 0.5),
        "patch_ms_p99_with_waiters": percentile(&crowded, 0.99),
        "patch_p99_ratio_with_to_without": percentile(&crowded, 0.99) / percentile(&alone, 0.99).max(0.001),
        "idle_server_cpu_share_with_waiters": idle_cpu_share,
        // 10 s of writes at 20 a second: the server's time per write.
        "server_cpu_ms_per_write_no_waiters": cpu_alone * 1000.0 / alone.len().max(1) as f64,
        "server_cpu_ms_per_write_waking_1000": cpu_crowded * 1000.0 / crowded.len().max(1) as f64,
        "c1_nodes_woken_by_200_writes_to_c2": c1_woken_by_c2_writes,
        "write_to_one_node_ms_p50": percentile(&per_node, 0.5),
        "write_to_one_node_ms_p99": percentile(&per_node, 0.99),
        "write_to_all_c1_nodes_ms_p50": percentile(&all_nodes, 0.5),
        "write_to_all_c1_nodes_ms_p99": percentile(&all_nodes, 0.99),
    })
}
