//! `ROSTER_BENCH_ONLY=deltas`: what a one-person change costs at 100,000
//! users in 1,000 groups of 100, for a cluster of 10,000 (100 groups) and
//! one of all 100,000, against the release server: the bytes a node is
//! sent (a `226` delta beside the whole snapshot, both gzip-compressed as
//! sent), the server's time to bring the cluster's maps up to date and
//! answer (beside building them from the store, the first request's
//! cost), and, with real agents on the 10,000-user cluster, the time from
//! an acknowledged SCIM write to the change in each node's passwd cache.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Proc, Server, bench_org, ms, percentile_d, rss_kb, run_cli, teams};

/// `DELTA_AGENTS` real agents (default 20) follow the 10,000-user cluster.
fn agent_count() -> usize {
    std::env::var("DELTA_AGENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

struct Fetched {
    status: u16,
    took: Duration,
    /// The body's length as sent (compressed).
    bytes: usize,
    etag: String,
}

async fn snapshot(client: &reqwest::Client, url: &str, token: &str, base: Option<&str>) -> Fetched {
    let mut r = client
        .get(url)
        .bearer_auth(token)
        .header("accept-encoding", "gzip");
    if let Some(b) = base {
        r = r
            .header("if-none-match", b)
            .header("a-im", "roster-delta-2");
    }
    let started = Instant::now();
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let bytes = resp.bytes().await.unwrap().len();
    Fetched {
        status,
        took: started.elapsed(),
        bytes,
        etag,
    }
}

/// Renames the person 20 times, each once every node has the last name,
/// and times each node's passwd cache getting the new one.
///
/// With `getent_in` (the process id of an agent whose /etc is the first
/// node's), also the time until `getent -s cache passwd` in its mount
/// namespace resolves the new name.
async fn follow<F, Fut>(
    dirs: &[std::path::PathBuf],
    rename: &F,
    tag: &str,
    getent_in: Option<u32>,
) -> Value
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let passwd = |d: &std::path::Path| {
        std::fs::read_to_string(d.join("etc/passwd.cache")).unwrap_or_default()
    };
    let ready = format!("{tag} ready");
    rename(ready.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    while dirs
        .iter()
        .any(|d| !passwd(d).contains(&format!(":{ready}:")))
    {
        assert!(Instant::now() < deadline, "the agents did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let user = passwd(&dirs[0])
        .lines()
        .find(|l| l.contains(&format!(":{ready}:")))
        .and_then(|l| l.split(':').next())
        .unwrap()
        .to_string();
    let (mut each, mut slowest, mut resolved) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..20 {
        let name = format!("{tag} {k}");
        rename(name.clone()).await;
        let acked = Instant::now();
        let needle = format!(":{name}:");
        let getent = getent_in.map(|pid| {
            let (user, needle) = (user.clone(), needle.clone());
            tokio::task::spawn_blocking(move || {
                loop {
                    let out = std::process::Command::new("nsenter")
                        .args(["-t", &pid.to_string(), "-m"])
                        .args(["getent", "-s", "cache", "passwd", &user])
                        .output()
                        .expect("nsenter and getent are needed");
                    if String::from_utf8_lossy(&out.stdout).contains(&needle) {
                        return acked.elapsed();
                    }
                    assert!(
                        acked.elapsed() < Duration::from_secs(60),
                        "getent never resolved it"
                    );
                    // Each look is two processes: not in a tight loop.
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        });
        let mut pending: Vec<&std::path::PathBuf> = dirs.iter().collect();
        let deadline = acked + Duration::from_secs(60);
        let mut last = Duration::ZERO;
        while !pending.is_empty() {
            assert!(Instant::now() < deadline, "a node did not get the change");
            pending.retain(|d| {
                if passwd(d).contains(&needle) {
                    let at = acked.elapsed();
                    each.push(at);
                    last = last.max(at);
                    false
                } else {
                    true
                }
            });
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        slowest.push(last);
        if let Some(g) = getent {
            resolved.push(g.await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    each.sort();
    slowest.sort();
    resolved.sort();
    let deltas: u64 = dirs
        .iter()
        .map(|d| {
            let s: Value =
                serde_json::from_str(&std::fs::read_to_string(d.join("state.json")).unwrap())
                    .unwrap();
            s["deltas_applied"].as_u64().unwrap_or(0)
        })
        .sum();
    json!({
        "agents": dirs.len(),
        "cluster_users": 10_000,
        "write_to_node_cache_ms_p50": ms(percentile_d(&each, 0.5)),
        "write_to_node_cache_ms_p99": ms(percentile_d(&each, 0.99)),
        "write_to_every_node_ms_p50": ms(percentile_d(&slowest, 0.5)),
        "write_to_every_node_ms_max": ms(percentile_d(&slowest, 1.0)),
        "deltas_applied_in_all": deltas,
        "write_to_getent_resolves_ms_p50": (!resolved.is_empty()).then(|| ms(percentile_d(&resolved, 0.5))),
        "write_to_getent_resolves_ms_p99": (!resolved.is_empty()).then(|| ms(percentile_d(&resolved, 0.99))),
    })
}

pub async fn delta_timings(bin: &str, dir: &std::path::Path) -> Value {
    let db = format!("sqlite://{}", dir.join("deltas.db").display());
    let cli = |args: &[&str]| run_cli(bin, &db, args);
    let (_, token) = bench_org(bin, &db, &["--sup", "on"]);
    let server = Server::start(bin, &db, &["--scim-log-max-entries", "0"]);
    let t = server.target(&token);
    let began = Instant::now();
    let groups = teams(&t, "team", 1_000).await;
    eprintln!(
        "100,000 users in 1,000 groups stored in {:.0} s",
        began.elapsed().as_secs_f64()
    );
    cli(&[
        "cluster",
        "create",
        "bench",
        "c10k",
        "--groups",
        &groups[..100].join(","),
    ]);
    cli(&[
        "cluster",
        "create",
        "bench",
        "all",
        "--groups",
        &groups.join(","),
    ]);
    // The person whose name changes is in team0000, in both clusters.
    let (_, found) = t
        .send(
            hyper::Method::GET,
            "/Users?filter=userName%20eq%20%22team-user0@bench.example%22",
            None,
        )
        .await;
    let person = serde_json::from_slice::<Value>(&found).unwrap()["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rename = |n: String| {
        let t = t.clone();
        let person = person.clone();
        async move {
            let op = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": n}]});
            let (status, _) = t
                .send(hyper::Method::PATCH, &format!("/Users/{person}"), Some(&op))
                .await;
            assert_eq!(status, 200);
        }
    };
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let mut out = serde_json::Map::new();
    for (cluster, users) in [("c10k", 10_000), ("all", 100_000)] {
        let ctoken = cli(&["cluster", "token", "create", "bench", cluster]);
        let url = format!(
            "http://{}/api/v1/orgs/bench/clusters/{cluster}/snapshot",
            server.addr
        );
        // The first request builds the cluster's maps from the store.
        let cold = snapshot(&client, &url, &ctoken, None).await;
        assert_eq!(cold.status, 200);
        let mut warm = Vec::new();
        for _ in 0..10 {
            warm.push(snapshot(&client, &url, &ctoken, None).await.took);
        }
        warm.sort();
        let mut base = cold.etag.clone();
        let (mut took, mut bytes) = (Vec::new(), Vec::new());
        for k in 0..30 {
            rename(format!("{cluster} {k}")).await;
            let d = snapshot(&client, &url, &ctoken, Some(&base)).await;
            assert_eq!(d.status, 226, "a delta from the version just before");
            took.push(d.took);
            bytes.push(d.bytes);
            base = d.etag;
        }
        took.sort();
        bytes.sort();
        // A new node after a change: the whole snapshot of a version the
        // server has not sent whole yet (made and compressed for it).
        let mut fresh = Vec::new();
        for k in 0..5 {
            rename(format!("{cluster} whole {k}")).await;
            let d = snapshot(&client, &url, &ctoken, None).await;
            assert_eq!(d.status, 200);
            fresh.push(d.took);
        }
        fresh.sort();
        out.insert(
            cluster.into(),
            json!({
                "users": users,
                "snapshot_gzip_bytes": cold.bytes,
                "snapshot_build_from_store_ms": ms(cold.took),
                "snapshot_cached_ms_p50": ms(percentile_d(&warm, 0.5)),
                "snapshot_of_a_new_version_ms_p50": ms(percentile_d(&fresh, 0.5)),
                "snapshot_of_a_new_version_ms_max": ms(percentile_d(&fresh, 1.0)),
                "one_user_change_delta_gzip_bytes_p50": bytes[bytes.len() / 2],
                "one_user_change_delta_gzip_bytes_max": bytes[bytes.len() - 1],
                "one_user_change_update_and_delta_ms_p50": ms(percentile_d(&took, 0.5)),
                "one_user_change_update_and_delta_ms_p99": ms(percentile_d(&took, 0.99)),
            }),
        );
        eprintln!("{cluster}: {}", out[cluster]);
    }

    // Real agents on the 10,000-user cluster: one alone, then a crowd.
    let ctoken = cli(&["cluster", "token", "create", "bench", "c10k"]);
    let mut procs = Vec::new();
    let mut dirs = Vec::new();
    for (phase, count) in [("one_agent", 1), ("agents", agent_count())] {
        while dirs.len() < count {
            let n = dirs.len();
            let d = dir.join(format!("node{n}"));
            std::fs::create_dir_all(d.join("etc")).unwrap();
            std::fs::create_dir_all(d.join("work")).unwrap();
            std::fs::write(d.join("token"), &ctoken).unwrap();
            // The first node's agent writes /etc in a mount namespace of
            // its own, with the node's etc/ overlaid on the machine's,
            // so that `getent -s cache` there resolves what it wrote.
            let mut command = if n == 0 {
                let mut c = std::process::Command::new("unshare");
                c.args(["-m", "sh", "-c"]).arg(format!(
                    "mount -t overlay overlay -o lowerdir=/etc,upperdir={},workdir={} /etc && exec \"$0\" \"$@\"",
                    d.join("etc").display(),
                    d.join("work").display()
                ));
                c.arg(bin).args(["agent", "--nss-dir", "/etc"]);
                c
            } else {
                let mut c = std::process::Command::new(bin);
                c.arg("agent").arg("--nss-dir").arg(d.join("etc"));
                c
            };
            procs.push(Proc(
                command
                    .args(["--server", &format!("http://{}", server.addr)])
                    .args(["--org", "bench", "--cluster", "c10k", "--wait", "60"])
                    .args(["--node-name", &format!("n{n}")])
                    .arg("--token-file")
                    .arg(d.join("token"))
                    .arg("--state-file")
                    .arg(d.join("state.json"))
                    .env("ROSTER_LOG", "roster=warn")
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap(),
            ));
            dirs.push(d);
        }
        let getent_in = (count == 1).then(|| procs[0].0.id());
        out.insert(phase.into(), follow(&dirs, &rename, phase, getent_in).await);
        eprintln!("{phase}: {}", out[phase]);
    }
    drop(procs);
    // What keeping both clusters' models, maps and steps costs the server.
    out.insert(
        "server_memory_mb".into(),
        json!({
            "rss": rss_kb(server.pid, "VmRSS:") / 1024,
            "peak": rss_kb(server.pid, "VmHWM:") / 1024,
        }),
    );
    Value::Object(out)
}
