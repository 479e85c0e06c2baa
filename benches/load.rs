//! Load benchmark: starts the release `roster serve` on a loopback port and
//! measures, with 10,000 and then 100,000 users stored, user creates per
//! second with 1 and with 64 concurrent clients, `userName eq` lookups per
//! second, latency percentiles at a fixed 500 requests per second, and the
//! server's resident memory. In the same run it measures the store's own
//! limit (durable commits per second, without HTTP), so each HTTP figure is
//! also a ratio to what the disk allows on this machine.
//!
//! Run: `cargo bench --bench load` (set ROSTER_BENCH_SMALL=1 for a quick
//! run with 4,000 and 10,000 users; ROSTER_BENCH_ONLY=agent or =saml for
//! the agent's or SAML sign-in's figures alone; =fleet for 2,000 change-feed
//! clients (FLEET_CLIENTS); =stores, with
//! ROSTER_BENCH_POSTGRES_URL, for SQLite and PostgreSQL side by side).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use roster::directory::Directory;
use roster::directory::model::Principal;
use roster::scim::schema::ResourceType;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct Target {
    client: HttpClient,
    base: String,
    auth: String,
}

impl Target {
    async fn send(&self, method: hyper::Method, path: &str, body: Option<&Value>) -> (u16, Bytes) {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header("authorization", &self.auth);
        let payload = match body {
            Some(b) => {
                req = req.header("content-type", "application/scim+json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let resp = self
            .client
            .request(req.body(Full::new(payload)).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, bytes)
    }
}

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Bench", "familyName": "User"},
        "emails": [{"value": name, "type": "work", "primary": true}],
        "active": true
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Creates `count` users named `{prefix}{i}` with `clients` concurrent
/// clients; returns creates per second.
async fn create_users(t: &Arc<Target>, prefix: &str, start: u64, count: u64, clients: u64) -> f64 {
    let next = Arc::new(AtomicU64::new(start));
    let end = start + count;
    let began = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let t = t.clone();
            let next = next.clone();
            let prefix = prefix.to_string();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        break;
                    }
                    let (status, body) = t
                        .send(
                            hyper::Method::POST,
                            "/Users",
                            Some(&user(&format!("{prefix}{i}@bench.example"))),
                        )
                        .await;
                    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    count as f64 / began.elapsed().as_secs_f64()
}

/// `userName eq` lookups of random existing users for `duration` with
/// `clients` concurrent clients; returns lookups per second.
async fn lookups(t: &Arc<Target>, stored: u64, clients: u64, duration: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let began = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let t = t.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut i = c * 7919;
                while Instant::now() < deadline {
                    i = i
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407)
                        % stored.max(1);
                    let path = format!("/Users?filter=userName%20eq%20%22u{i}%40bench.example%22");
                    let (status, body) = t.send(hyper::Method::GET, &path, None).await;
                    assert_eq!(status, 200);
                    let needle = b"\"totalResults\":1,";
                    assert!(
                        body.windows(needle.len()).any(|w| w == needle),
                        "lookup of u{i} found nothing"
                    );
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / began.elapsed().as_secs_f64()
}

/// An open-loop load at `rate` requests per second for `duration`: 90%
/// lookups, 10% creates. Returns (p50, p99, max) in milliseconds.
async fn fixed_rate(
    t: &Arc<Target>,
    stored: u64,
    rate: u64,
    duration: Duration,
    create_from: u64,
) -> (f64, f64, f64) {
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let total = (duration.as_secs_f64() * rate as f64) as u64;
    let mut handles = Vec::with_capacity(total as usize);
    let began = Instant::now();
    for n in 0..total {
        let at = began + interval * n as u32;
        tokio::time::sleep_until(at.into()).await;
        let t = t.clone();
        handles.push(tokio::spawn(async move {
            let s = Instant::now();
            if n % 10 == 9 {
                let (status, _) = t
                    .send(
                        hyper::Method::POST,
                        "/Users",
                        Some(&user(&format!("r{}@bench.example", create_from + n))),
                    )
                    .await;
                assert_eq!(status, 201);
            } else {
                let i = n.wrapping_mul(2654435761) % stored.max(1);
                let (status, _) = t
                    .send(
                        hyper::Method::GET,
                        &format!("/Users?filter=userName%20eq%20%22u{i}%40bench.example%22"),
                        None,
                    )
                    .await;
                assert_eq!(status, 200);
            }
            s.elapsed()
        }));
    }
    let mut lat = Vec::with_capacity(handles.len());
    for h in handles {
        lat.push(h.await.unwrap());
    }
    lat.sort();
    (
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
    )
}

/// CPU time the process has used (user + system), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let ticks_per_s: f64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (utime + stime) / ticks_per_s
}

/// Runs a `roster` admin command against `db` and returns what it printed.
fn run_cli(bin: &str, db: &str, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .env("ROSTER_DATABASE", db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Creates the org "bench" with the SCIM API and AUP on (and `toggles`);
/// its id and a SCIM token.
fn bench_org(bin: &str, db: &str, toggles: &[&str]) -> (String, String) {
    let org_id = run_cli(bin, db, &["org", "create", "bench"]);
    let mut set = vec!["org", "set", "bench", "--scim-api", "on", "--aup", "on"];
    set.extend_from_slice(toggles);
    run_cli(bin, db, &set);
    let token = run_cli(bin, db, &["token", "create", "bench", "--name", "bench"]);
    (org_id, token)
}

/// A running `roster serve`, stopped however the benchmark ends.
struct Server {
    child: std::process::Child,
    pid: u32,
    addr: String,
}

impl Server {
    fn start(bin: &str, db: &str, args: &[&str]) -> Server {
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("ROSTER_DATABASE", db)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(
                        rest.chars()
                            .take_while(|c| !c.is_whitespace())
                            .collect::<String>(),
                    );
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let pid = child.id();
        Server { child, pid, addr }
    }

    fn target(&self, token: &str) -> Arc<Target> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: HttpClient = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(128)
            .build(connector);
        Arc::new(Target {
            client,
            base: format!("http://{}/scim/bench", self.addr),
            auth: format!("Bearer {token}"),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[path = "../tests/replay/runner.rs"]
mod runner;

#[path = "load/saml.rs"]
mod saml;

#[path = "load/stores.rs"]
mod stores;

#[path = "load/fleet.rs"]
mod fleet;

#[path = "load/deltas.rs"]
mod deltas;

#[path = "../tests/slurm/stack.rs"]
mod slurm_stack;
use slurm_stack::SlurmStack;

const REPLAY_RUNS: usize = 20;

/// Runs each IdP replay suite once per given org (each empty at first)
/// and reports, per suite, the slowest and the 99th-percentile reply, and
/// how many replies exceeded the IdP's limit (Okta's test: 600 ms, 400 ms
/// for discovery).
async fn replay_timings(server: &Server, orgs: Vec<(String, String)>) -> Value {
    let addr = server.addr.clone();
    tokio::task::spawn_blocking(move || {
        let client = reqwest::blocking::Client::new();
        let mut out = serde_json::Map::new();
        for file in ["okta.json", "entra.json"] {
            let text = std::fs::read_to_string(format!(
                "{}/tests/replay/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            let suite: Value = serde_json::from_str(&text).unwrap();
            let mut all = Vec::new();
            for (org, token) in &orgs {
                let vars = std::collections::HashMap::from([
                    ("token".to_string(), Value::String(token.clone())),
                    ("run".to_string(), Value::String(format!("-{file}"))),
                ]);
                let base = format!("http://{addr}/scim/{org}");
                all.extend(runner::run_suite(&client, &base, &suite, vars).unwrap());
            }
            let over = all.iter().filter(|t| t.elapsed > t.limit).count();
            let slowest = all
                .iter()
                .max_by_key(|t| t.elapsed)
                .map(|t| t.name.clone())
                .unwrap_or_default();
            let mut lat: Vec<Duration> = all.iter().map(|t| t.elapsed).collect();
            lat.sort();
            out.insert(
                file.trim_end_matches(".json").to_string(),
                json!({
                    "requests": all.len(),
                    "p50_ms": (percentile(&lat, 0.5) * 100.0).round() / 100.0,
                    "p99_ms": (percentile(&lat, 0.99) * 100.0).round() / 100.0,
                    "max_ms": (percentile(&lat, 1.0) * 100.0).round() / 100.0,
                    "over_idp_limit": over,
                    "slowest_step": slowest,
                }),
            );
        }
        Value::Object(out)
    })
    .await
    .unwrap()
}

/// Runs `count` POSTs of `body(i)` to `path` with `clients` concurrent
/// clients and returns the created ids, in order of `i`.
/// `count` groups of 100 new users each, named `{prefix}0000`...; their
/// names.
async fn teams(t: &Arc<Target>, prefix: &str, count: usize) -> Vec<String> {
    let users = Arc::new(
        post_all(t, "/Users", count * 100, 64, {
            let prefix = prefix.to_string();
            move |i| user(&format!("{prefix}-user{i}@bench.example"))
        })
        .await,
    );
    let names: Vec<String> = (0..count).map(|g| format!("{prefix}{g:04}")).collect();
    let group_names = names.clone();
    post_all(t, "/Groups", count, 32, move |g| {
        let list: Vec<Value> = users[g * 100..(g + 1) * 100].iter().map(|id| json!({"value": id})).collect();
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": group_names[g], "members": list})
    })
    .await;
    names
}

async fn post_all(
    t: &Arc<Target>,
    path: &str,
    count: usize,
    clients: usize,
    body: impl Fn(usize) -> Value + Send + Sync + 'static,
) -> Vec<String> {
    let next = Arc::new(AtomicU64::new(0));
    let body = Arc::new(body);
    let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); count]));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (t, next, body, ids, path) = (
                t.clone(),
                next.clone(),
                body.clone(),
                ids.clone(),
                path.to_string(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= count {
                        break;
                    }
                    let (status, reply) = t.send(hyper::Method::POST, &path, Some(&body(i))).await;
                    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&reply));
                    let v: Value = serde_json::from_slice(&reply).unwrap();
                    ids.lock().unwrap()[i] = v["id"].as_str().unwrap().to_string();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    Arc::try_unwrap(ids)
        .map(|m| m.into_inner().unwrap())
        .unwrap_or_default()
}

/// The time to serve each full map of a cluster provisioning 1,000 groups
/// of 100 users (100,000 users), cold (the first request after a change
/// builds the maps) and warm, and the cost of a 304.
async fn nss_map_timings(bin: &str, dir: &std::path::Path) -> Value {
    let db = format!("sqlite://{}", dir.join("maps.db").display());
    let cli = |args: &[&str]| run_cli(bin, &db, args);
    let (_, token) = bench_org(bin, &db, &["--sup", "on"]);
    let server = Server::start(bin, &db, &["--scim-log-max-entries", "0"]);
    let t = server.target(&token);
    let groups = teams(&t, "team", 1_000).await;
    cli(&[
        "cluster",
        "create",
        "bench",
        "big",
        "--groups",
        &groups.join(","),
    ]);
    let cluster_token = cli(&["cluster", "token", "create", "bench", "big"]);
    let client = reqwest::Client::new();
    let url = |m: &str| format!("http://{}/nss/bench/big/{m}", server.addr);
    let get = |m: String, inm: Option<String>| {
        let mut r = client.get(m).bearer_auth(&cluster_token);
        if let Some(tag) = inm {
            r = r.header("if-none-match", tag);
        }
        async move {
            let started = Instant::now();
            let resp = r.send().await.unwrap();
            let status = resp.status().as_u16();
            let etag = resp
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            let len = resp.bytes().await.unwrap().len();
            (started.elapsed(), status, etag, len)
        }
    };
    let mut out = serde_json::Map::new();
    let (cold, status, _, _) = get(url("passwd"), None).await;
    assert_eq!(status, 200);
    out.insert(
        "cold_build_and_passwd_ms".into(),
        json!((cold.as_secs_f64() * 1e5).round() / 100.0),
    );
    for m in ["passwd", "group", "shadow", "sshkey"] {
        let mut times = Vec::new();
        let mut last = (None, 0);
        for _ in 0..10 {
            let (d, status, etag, len) = get(url(m), None).await;
            assert_eq!(status, 200);
            times.push(d);
            last = (etag, len);
        }
        times.sort();
        let mut not_modified = Vec::new();
        for _ in 0..200 {
            let (d, status, _, _) = get(url(m), last.0.clone()).await;
            assert_eq!(status, 304);
            not_modified.push(d);
        }
        not_modified.sort();
        out.insert(
            m.into(),
            json!({
                "bytes": last.1,
                "full_ms_p50": (percentile(&times, 0.5) * 100.0).round() / 100.0,
                "not_modified_ms_p50": (percentile(&not_modified, 0.5) * 1000.0).round() / 1000.0,
                "not_modified_ms_p99": (percentile(&not_modified, 0.99) * 1000.0).round() / 1000.0,
            }),
        );
    }
    Value::Object(out)
}

/// A running process, stopped however the benchmark ends.
struct Proc(std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// Propagation from an acknowledged SCIM write (a user added to a cluster
/// group) to the node's passwd cache and to slurmdbd, through a running
/// agent; the cost of one bare sacctmgr call; and a first full sync of
/// 10,000 users in 100 groups into an empty Slurm.
async fn agent_timings(bin: &str, dir: &std::path::Path) -> Value {
    let db = format!("sqlite://{}", dir.join("agent.db").display());
    let cli = |args: &[&str]| run_cli(bin, &db, args);
    let (_, token) = bench_org(bin, &db, &["--sup", "on"]);
    let server = Server::start(bin, &db, &["--scim-log-max-entries", "0"]);
    let t = server.target(&token);
    let Ok(stack) = SlurmStack::start(dir) else {
        return json!({"error": "the Slurm stack (tests/slurm/stack.sh) did not start"});
    };
    let mut bare = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        stack.sacctmgr(&["-n", "-P", "show", "cluster"]);
        bare.push(started.elapsed());
    }
    bare.sort();

    // Propagation: one group, one cluster, a running agent.
    let (status, body) = t.send(hyper::Method::POST, "/Groups", Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "prop"}))).await;
    assert_eq!(status, 201);
    let gid = serde_json::from_slice::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    cli(&["cluster", "create", "bench", "p", "--groups", "prop"]);
    let ptoken = cli(&["cluster", "token", "create", "bench", "p"]);
    std::fs::write(dir.join("p.token"), &ptoken).unwrap();
    let etc = dir.join("etc-p");
    std::fs::create_dir_all(&etc).unwrap();
    let _agent = Proc(
        Command::new(bin)
            .args([
                "agent",
                "--server",
                &format!("http://{}", server.addr),
                "--org",
                "bench",
                "--cluster",
                "p",
                "--slurm-cluster",
                "testcluster",
            ])
            .arg("--token-file")
            .arg(dir.join("p.token"))
            .arg("--nss-dir")
            .arg(&etc)
            .arg("--state-file")
            .arg(dir.join("p.state"))
            .env("SLURM_CONF", stack.conf())
            .env("ROSTER_LOG", "warn")
            .spawn()
            .unwrap(),
    );
    let mut nss = Vec::new();
    let mut slurm = Vec::new();
    for i in 0..100 {
        let (status, body) = t
            .send(
                hyper::Method::POST,
                "/Users",
                Some(&user(&format!("prop{i}@bench.example"))),
            )
            .await;
        assert_eq!(status, 201);
        let uid = serde_json::from_slice::<Value>(&body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let op = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]});
        let (status, _) = t
            .send(hyper::Method::PATCH, &format!("/Groups/{gid}"), Some(&op))
            .await;
        assert_eq!(status, 200);
        let acked = Instant::now();
        let needle = format!("prop{i}:x:");
        let deadline = acked + Duration::from_secs(30);
        while !std::fs::read_to_string(etc.join("passwd.cache"))
            .unwrap_or_default()
            .contains(&needle)
        {
            assert!(
                Instant::now() < deadline,
                "the change never reached the node"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        nss.push(acked.elapsed());
        let who = format!("prop{i}");
        while !stack
            .sacctmgr(&[
                "-n",
                "-P",
                "show",
                "assoc",
                "where",
                "cluster=testcluster",
                "format=user",
            ])
            .lines()
            .any(|l| l == who)
        {
            assert!(
                Instant::now() < deadline,
                "the change never reached slurmdbd"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        slurm.push(acked.elapsed());
    }
    nss.sort();
    slurm.sort();
    drop(_agent);

    // A first full sync of 10,000 users in 100 groups into an empty Slurm.
    let groups = teams(&t, "full", 100).await;
    cli(&[
        "cluster",
        "create",
        "bench",
        "full",
        "--groups",
        &groups.join(","),
    ]);
    std::fs::write(
        dir.join("full.token"),
        cli(&["cluster", "token", "create", "bench", "full"]),
    )
    .unwrap();
    let etc_full = dir.join("etc-full");
    std::fs::create_dir_all(&etc_full).unwrap();
    let started = Instant::now();
    let out = Command::new(bin)
        .args([
            "agent",
            "--once",
            "--server",
            &format!("http://{}", server.addr),
            "--org",
            "bench",
            "--cluster",
            "full",
            "--slurm-cluster",
            "testcluster",
        ])
        .arg("--token-file")
        .arg(dir.join("full.token"))
        .arg("--nss-dir")
        .arg(&etc_full)
        .arg("--state-file")
        .arg(dir.join("full.state"))
        .env("SLURM_CONF", stack.conf())
        .env("ROSTER_LOG", "warn")
        .output()
        .unwrap();
    let full_sync = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let assocs = stack
        .sacctmgr(&[
            "-n",
            "-P",
            "show",
            "assoc",
            "where",
            "cluster=testcluster",
            "format=account,user",
        ])
        .lines()
        .filter(|l| l.starts_with("full"))
        .count();
    json!({
        "changes": nss.len(),
        "nss_cache_ms_p50": ms(percentile_d(&nss, 0.5)),
        "nss_cache_ms_p99": ms(percentile_d(&nss, 0.99)),
        "slurm_assoc_ms_p50": ms(percentile_d(&slurm, 0.5)),
        "slurm_assoc_ms_p99": ms(percentile_d(&slurm, 0.99)),
        "bare_sacctmgr_call_ms_p50": ms(percentile_d(&bare, 0.5)),
        "first_full_sync_10k_users_100_groups_s": (full_sync.as_secs_f64() * 100.0).round() / 100.0,
        "associations_after_full_sync": assocs,
    })
}

fn percentile_d(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Look-ups and creates with the provisioning log off and on, alternated
/// on the same database, so the difference is the log's cost.
async fn scim_log_cost(bin: &str, db: &str, token: &str, stored: u64) -> Value {
    let mut off = (0.0, 0.0);
    let mut on = (0.0, 0.0);
    let rounds = 2;
    for round in 0..rounds {
        for enabled in [false, true] {
            let args: &[&str] = if enabled {
                &[]
            } else {
                &["--scim-log-max-entries", "0"]
            };
            let server = Server::start(bin, db, args);
            let t = server.target(token);
            let look = lookups(&t, stored, 64, Duration::from_secs(5)).await;
            let prefix = format!("log{}{round}-", u8::from(enabled));
            let create = create_users(&t, &prefix, 0, 3_000, 64).await;
            let slot = if enabled { &mut on } else { &mut off };
            slot.0 += look / rounds as f64;
            slot.1 += create / rounds as f64;
        }
    }
    json!({
        "lookups_per_s_log_off": off.0.round(),
        "lookups_per_s_log_on": on.0.round(),
        "creates_per_s_64_log_off": off.1.round(),
        "creates_per_s_64_log_on": on.1.round(),
        "ratio_lookups_on_to_off": (on.0 / off.0 * 100.0).round() / 100.0,
        "ratio_creates_on_to_off": (on.1 / off.1 * 100.0).round() / 100.0,
    })
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The store's own limit: creates through the directory, no HTTP.
async fn store_limit(dir: &std::path::Path) -> (f64, f64) {
    let store = roster::store::open(&format!(
        "sqlite://{}",
        dir.join("store-bench.db").display()
    ))
    .unwrap();
    let d = Directory::new(store);
    let org = d.create_org("bench", false).await.unwrap();
    let org = d
        .set_org(
            &roster::directory::model::Actor::cli("bench", "localhost"),
            &org.id,
            roster::directory::orgs::SettingsChange {
                scim_api: Some(true),
                aup: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let p = Principal {
        token_id: "bench".into(),
        token_name: "bench".into(),
        via_scim: true,
        ..Principal::admin(org)
    };
    let n = 2000u64;
    let began = Instant::now();
    for i in 0..n {
        d.create_resource(&p, ResourceType::User, user(&format!("s{i}@bench.example")))
            .await
            .unwrap();
    }
    let single = n as f64 / began.elapsed().as_secs_f64();
    let n64 = 20_000u64;
    let next = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let d = d.clone();
            let p = p.clone();
            let next = next.clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n64 {
                        break;
                    }
                    d.create_resource(&p, ResourceType::User, user(&format!("m{i}@bench.example")))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (single, n64 as f64 / began.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::var("ROSTER_BENCH_ONLY").as_deref() == Ok("saml") {
        let work = tempfile::tempdir().unwrap();
        let report = saml::saml_timings(env!("CARGO_BIN_EXE_roster"), work.path()).await;
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
        return;
    }
    if std::env::var("ROSTER_BENCH_ONLY").as_deref() == Ok("stores") {
        let work = tempfile::tempdir().unwrap();
        let report = stores::store_comparison(env!("CARGO_BIN_EXE_roster"), work.path()).await;
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
        return;
    }
    if std::env::var("ROSTER_BENCH_ONLY").as_deref() == Ok("fleet") {
        let work = tempfile::tempdir().unwrap();
        let report = fleet::fleet_timings(env!("CARGO_BIN_EXE_roster"), work.path()).await;
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
        return;
    }
    if std::env::var("ROSTER_BENCH_ONLY").as_deref() == Ok("deltas") {
        let work = tempfile::tempdir().unwrap();
        let report = deltas::delta_timings(env!("CARGO_BIN_EXE_roster"), work.path()).await;
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
        return;
    }
    if std::env::var("ROSTER_BENCH_ONLY").as_deref() == Ok("agent") {
        let work = tempfile::tempdir().unwrap();
        let report = agent_timings(env!("CARGO_BIN_EXE_roster"), work.path()).await;
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
        return;
    }
    let small = std::env::var("ROSTER_BENCH_SMALL").is_ok();
    let (first, second) = if small {
        (4_000u64, 10_000u64)
    } else {
        (10_000u64, 100_000u64)
    };
    let work = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_roster");
    let db = format!("sqlite://{}", work.path().join("roster.db").display());

    eprintln!("measuring the store's limit (no HTTP)...");
    let (store_single, store_64) = store_limit(work.path()).await;

    let cli = |args: &[&str]| run_cli(bin, &db, args);
    let (_, token) = bench_org(bin, &db, &[]);
    // The replay suites start from an empty org (Okta's connection test
    // expects no users), so each replay run gets an org of its own.
    let replay_tokens: Vec<(String, String)> = (0..REPLAY_RUNS)
        .map(|i| {
            let org = format!("replay{i}");
            cli(&["org", "create", &org]);
            cli(&["org", "set", &org, "--scim-api", "on", "--aup", "on"]);
            let token = cli(&["token", "create", &org, "--name", "replay"]);
            (org, token)
        })
        .collect();
    let server = Server::start(bin, &db, &[]);
    let pid = server.pid;
    let t = server.target(&token);

    let mut rows = Vec::new();
    let mut stored = 0u64;
    let mut extra = 0u64;
    for target_count in [first, second] {
        eprintln!("filling to {target_count} users with 64 clients...");
        let fill = target_count - stored - 2_000;
        assert!(fill > 0);
        let create64 = create_users(&t, "u", stored, fill, 64).await;
        stored += fill;
        let create1 = create_users(&t, "u", stored, 2_000, 1).await;
        stored += 2_000;
        eprintln!("lookups with 64 clients...");
        let cpu_before = cpu_seconds(pid);
        let lookup_began = Instant::now();
        let look = lookups(&t, stored, 64, Duration::from_secs(10)).await;
        let lookup_count = look * lookup_began.elapsed().as_secs_f64();
        let server_cpu_us_per_lookup = (cpu_seconds(pid) - cpu_before) / lookup_count * 1e6;
        eprintln!("latency at 500 requests/s...");
        let (p50, p99, max) = fixed_rate(&t, stored, 500, Duration::from_secs(10), extra).await;
        extra += 5_000;
        let rss = rss_kb(pid, "VmRSS:");
        let hwm = rss_kb(pid, "VmHWM:");
        rows.push(json!({
            "users_stored": target_count,
            "creates_per_s_64_clients": create64.round(),
            "creates_per_s_1_client": create1.round(),
            "lookups_per_s_64_clients": look.round(),
            "server_cpu_us_per_lookup": server_cpu_us_per_lookup.round(),
            "server_lookups_per_s_per_core": (1e6 / server_cpu_us_per_lookup).round(),
            "p50_ms_at_500rps": (p50 * 100.0).round() / 100.0,
            "p99_ms_at_500rps": (p99 * 100.0).round() / 100.0,
            "max_ms_at_500rps": (max * 100.0).round() / 100.0,
            "rss_mb": rss / 1024,
            "peak_rss_mb": hwm / 1024,
            "ratio_creates64_to_store64": (create64 / store_64 * 100.0).round() / 100.0,
            "ratio_creates1_to_store1": (create1 / store_single * 100.0).round() / 100.0,
        }));
    }
    eprintln!("replaying the Okta and Entra suites...");
    let replay = replay_timings(&server, replay_tokens).await;
    drop(server);

    eprintln!("provisioning-log cost, side by side...");
    let log_cost = scim_log_cost(bin, &db, &token, stored).await;

    eprintln!("NSS maps for 100,000 users in 1,000 groups...");
    let maps = nss_map_timings(bin, work.path()).await;

    eprintln!("agent propagation and a first Slurm sync...");
    let agent = agent_timings(bin, work.path()).await;

    let report = json!({
        "machine": {"cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "store_limit": {"durable_commits_per_s_1_writer": store_single.round(), "durable_creates_per_s_64_writers": store_64.round()},
        "http": rows,
        "idp_replay_at_100k": replay,
        "scim_log_cost": log_cost,
        "nss_maps_100k_users_1000_groups": maps,
        "agent": agent,
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    let _ = std::fs::create_dir_all("target");
    let _ = std::fs::write(
        "target/bench-load.json",
        serde_json::to_string_pretty(&report).unwrap(),
    );
}
