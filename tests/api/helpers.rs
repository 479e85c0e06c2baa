//! Starts the real `roster` binary on a random loopback port with its own
//! database, and drives it over HTTP and its command line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const CW: &str = "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveUser";
pub const CWG: &str = "urn:coreweave:params:scim:schemas:extension:coreweave:2.0:CoreWeaveGroup";

/// A server whose org "acme" has SUNK User Provisioning on.
pub fn sup_app() -> TestApp {
    let app = TestApp::start();
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    app
}

/// The binary under test: this build's, or `ROSTER_TEST_BIN` (the test
/// command runs the hostile-input tests against a release build too, as
/// stack use and overflow checks differ between the two).
pub fn roster_bin() -> String {
    std::env::var("ROSTER_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_roster").to_string())
}

#[path = "../postgres/scratch.rs"]
mod scratch;

/// Whether the integration tests run against PostgreSQL
/// (`ROSTER_TEST_STORE=postgres`, with the test server's admin URL in
/// `ROSTER_TEST_POSTGRES_URL`); else against SQLite.
/// A database of its own on the test PostgreSQL, when one runs.
pub fn scratch_postgres() -> Option<scratch::ScratchDb> {
    scratch::ScratchDb::create()
}

pub fn on_postgres() -> bool {
    std::env::var("ROSTER_TEST_STORE").as_deref() == Ok("postgres")
}

pub struct TestApp {
    child: Option<Child>,
    /// The PostgreSQL database of this app, when the tests run on one;
    /// dropped after the server.
    pg: Option<scratch::ScratchDb>,
    pub dir: tempfile::TempDir,
    pub db: String,
    pub addr: String,
    pub org: String,
    pub org_id: String,
    pub token: String,
    pub client: Client,
    pub log: Arc<Mutex<Vec<String>>>,
    /// Extra arguments for `roster serve`.
    pub serve_args: Vec<String>,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    fn from(r: Response) -> Reply {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    pub fn scim_type(&self) -> Option<&str> {
        self.body.get("scimType").and_then(Value::as_str)
    }
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_string()
    }
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }
    #[track_caller]
    pub fn expect_error(self, status: u16, scim_type: Option<&str>) -> Reply {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.scim_type(), scim_type, "body: {}", self.body);
        assert_eq!(
            self.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(self.body["status"], status.to_string());
        assert!(
            self.body["detail"].as_str().is_some_and(|d| d.len() > 10),
            "no useful detail: {}",
            self.body
        );
        self
    }
    /// An `/api/v1` error: `{"error": DETAIL, "code": CODE}` as JSON.
    pub fn expect_api_error(self, status: u16, code: &str) -> Reply {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert!(
            self.body["error"].as_str().is_some_and(|d| d.len() > 10),
            "no useful detail: {}",
            self.body
        );
        assert!(
            self.body.get("schemas").is_none(),
            "a SCIM body: {}",
            self.body
        );
        self
    }
    /// Resource ids of a ListResponse.
    pub fn ids(&self) -> Vec<String> {
        self.body["Resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["id"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn total(&self) -> u64 {
        self.body["totalResults"].as_u64().unwrap_or(u64::MAX)
    }
}

pub fn run_cli(db: &str, args: &[&str]) -> Output {
    let out = Command::new(roster_bin())
        .args(args)
        .env("ROSTER_DATABASE", db)
        .env_remove("ROSTER_PUBLIC_URL")
        .output();
    match out {
        Ok(o) => o,
        Err(e) => panic!("cannot run roster: {e}"),
    }
}

#[track_caller]
pub fn cli_ok(db: &str, args: &[&str]) -> String {
    let out = run_cli(db, args);
    assert!(
        out.status.success(),
        "roster {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Registers cluster `name` of org "acme" provisioning `groups`
/// (comma-separated) and returns a new read-only token for it.
pub fn create_cluster(db: &str, name: &str, groups: &str) -> String {
    cli_ok(db, &["cluster", "create", "acme", name, "--groups", groups]);
    cluster_token(db, name)
}

/// A new SCIM token of `org`.
pub fn scim_token(db: &str, org: &str, name: &str) -> String {
    cli_json(db, &["token", "create", org, "--name", name])["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token for {org}"))
        .to_string()
}

/// A new read-only token for cluster `name` of org "acme".
pub fn cluster_token(db: &str, name: &str) -> String {
    cli_json(db, &["cluster", "token", "create", "acme", name])["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token for cluster {name}"))
        .to_string()
}

pub fn cli_json(db: &str, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let text = cli_ok(db, &a);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("roster {args:?} printed no JSON ({e}): {text}"))
}

impl TestApp {
    /// A server with an org "acme" whose SCIM API and AUP are on, and a token.
    pub fn start() -> TestApp {
        Self::start_with(&[])
    }

    /// As [`TestApp::start`], with extra `roster serve` arguments.
    pub fn start_with(serve_args: &[&str]) -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (db, pg) = if on_postgres() {
            let pg = scratch::ScratchDb::create().unwrap_or_else(|| {
                panic!("ROSTER_TEST_STORE=postgres needs ROSTER_TEST_POSTGRES_URL")
            });
            (pg.url.clone(), Some(pg))
        } else {
            let db = format!("sqlite://{}", dir.path().join("roster.db").display());
            (db, None)
        };
        Self::start_on(dir, db, pg, serve_args)
    }

    /// Starts an app on the database `db`, which the caller provides.
    pub fn start_on_database(db: &str) -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        Self::start_on(dir, db.to_string(), None, &[])
    }

    fn start_on(
        dir: tempfile::TempDir,
        db: String,
        pg: Option<scratch::ScratchDb>,
        serve_args: &[&str],
    ) -> TestApp {
        let created = cli_json(&db, &["org", "create", "acme"]);
        let org_id = created["id"].as_str().unwrap_or_default().to_string();
        cli_ok(
            &db,
            &["org", "set", "acme", "--scim-api", "on", "--aup", "on"],
        );
        let token = scim_token(&db, "acme", "test");
        let mut app = TestApp {
            child: None,
            pg,
            dir,
            db,
            addr: String::new(),
            org: "acme".into(),
            org_id,
            token,
            // Responses as the server sent them: no transparent gzip (the
            // agent's reqwest feature would otherwise decode them and drop
            // Content-Encoding before a test could look).
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .no_gzip()
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
            log: Arc::new(Mutex::new(Vec::new())),
            serve_args: serve_args.iter().map(|s| s.to_string()).collect(),
        };
        app.launch();
        app
    }

    /// Starts the server process on a random port, or restarts it on the
    /// port it had.
    pub fn launch(&mut self) {
        let mut child = Command::new(roster_bin())
            .args([
                "serve",
                "--listen",
                if self.addr.is_empty() {
                    "127.0.0.1:0"
                } else {
                    &self.addr
                },
            ])
            .args(&self.serve_args)
            .env("ROSTER_DATABASE", &self.db)
            .env_remove("ROSTER_PUBLIC_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start roster serve: {e}"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line
                    .split("listening on http://")
                    .nth(1)
                    .or_else(|| line.split("listening on https://").nth(1))
                {
                    let addr: String = rest
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    let _ = tx.send(addr);
                }
                if let Ok(mut l) = log.lock() {
                    l.push(line);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "roster serve did not say where it listens: {:?}",
                    self.log.lock().map(|l| l.clone())
                )
            });
        self.addr = addr;
        self.child = Some(child);
    }

    /// Kills the server with SIGKILL, as a crash or power cut would.
    /// Sends the server SIGKILL without waiting for it (it may be in use
    /// by other threads); `kill` reaps it later.
    pub fn kill_now(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args(["-9", &c.id().to_string()])
                .status();
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    pub fn scim_url(&self, path: &str) -> String {
        format!("http://{}/scim/{}{path}", self.addr, self.org)
    }

    pub fn auth(&self, r: RequestBuilder) -> RequestBuilder {
        r.bearer_auth(&self.token)
    }

    /// Sends a request. Every User or Group it returns is checked against
    /// the schemas the server advertises (`/Schemas`): an attribute they do
    /// not declare fails the test, as schema-driven clients reject it.
    pub fn send(&self, r: RequestBuilder) -> Reply {
        let reply = Reply::from(r.send().unwrap_or_else(|e| panic!("request failed: {e}")));
        let resources: Vec<&Value> = match reply.body.get("Resources") {
            Some(Value::Array(list)) => list.iter().collect(),
            _ => vec![&reply.body],
        };
        for r in resources {
            let undeclared = undeclared_attributes(r);
            assert!(
                undeclared.is_empty(),
                "the response holds attributes /Schemas does not declare: {undeclared:?} in {r}"
            );
        }
        reply
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send(self.auth(self.client.get(self.scim_url(path))))
    }
    pub fn get_with(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send(self.auth(self.client.get(self.scim_url(path)).query(query)))
    }
    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(
            self.auth(self.client.post(self.scim_url(path)))
                .header("content-type", "application/scim+json")
                .body(body.to_string()),
        )
    }
    pub fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(
            self.auth(self.client.put(self.scim_url(path)))
                .header("content-type", "application/scim+json")
                .body(body.to_string()),
        )
    }
    pub fn patch(&self, path: &str, ops: Value) -> Reply {
        let body = json!({"schemas": [PATCH], "Operations": ops});
        self.send(
            self.auth(self.client.patch(self.scim_url(path)))
                .header("content-type", "application/scim+json")
                .body(body.to_string()),
        )
    }
    pub fn delete(&self, path: &str) -> Reply {
        self.send(self.auth(self.client.delete(self.scim_url(path))))
    }
    /// A request with the token, for cases the helpers above do not cover.
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.auth(self.client.request(method, self.scim_url(path)))
    }

    pub fn create_user(&self, user_name: &str) -> Reply {
        self.post("/Users", &json!({"schemas": [USER], "userName": user_name}))
            .expect(201)
    }
    pub fn create_group(&self, name: &str, members: &[&str]) -> Reply {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        self.post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": name, "members": members}),
        )
        .expect(201)
    }

    /// Sends a signal to the server process (`kill -SIG PID`).
    pub fn signal(&self, sig: &str) {
        let pid = self
            .child
            .as_ref()
            .map(|c| c.id().to_string())
            .unwrap_or_else(|| panic!("the server is not running"));
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {pid}");
    }

    pub fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self
                .log
                .lock()
                .map(|l| l.iter().any(|x| x.contains(needle)))
                .unwrap_or(false)
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.kill();
    }
}

impl TestApp {
    /// A second `roster serve` on the same database (a replica), on a port
    /// of its own; the database stays this app's.
    pub fn replica(&self) -> TestApp {
        self.serving(&self.db.clone())
    }

    /// A `roster serve` for this app's org on another database `db` (one
    /// it was copied to), on a port of its own.
    pub fn serving(&self, db: &str) -> TestApp {
        let mut r = TestApp {
            child: None,
            pg: None,
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
            db: db.to_string(),
            addr: String::new(),
            org: self.org.clone(),
            org_id: self.org_id.clone(),
            token: self.token.clone(),
            client: self.client.clone(),
            log: Arc::new(Mutex::new(Vec::new())),
            serve_args: self.serve_args.clone(),
        };
        r.launch();
        r
    }

    /// Everything the database holds, as bytes: the SQLite file and its
    /// log, or a data dump of the PostgreSQL database. For checking that a
    /// secret never reached storage.
    pub fn stored_bytes(&self) -> Vec<Vec<u8>> {
        match &self.pg {
            Some(pg) => {
                let bin = std::fs::read_dir("/usr/lib/postgresql")
                    .unwrap()
                    .filter_map(|e| e.ok())
                    .map(|e| e.path().join("bin/pg_dump"))
                    .filter(|p| p.exists())
                    .max()
                    .unwrap_or_else(|| panic!("no pg_dump"));
                let out = Command::new(bin)
                    .args(["--data-only", "--dbname", &pg.url])
                    .output()
                    .unwrap_or_else(|e| panic!("pg_dump: {e}"));
                assert!(out.status.success(), "pg_dump failed: {out:?}");
                vec![out.stdout]
            }
            None => ["roster.db", "roster.db-wal"]
                .iter()
                .map(|f| std::fs::read(self.dir.path().join(f)).unwrap_or_default())
                .collect(),
        }
    }
}

/// A fresh public key from ssh-keygen.
pub fn keygen(dir: &std::path::Path, kind: &str, bits: Option<&str>, name: &str) -> String {
    let path = dir.join(name);
    let mut cmd = std::process::Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
        .arg(&path);
    if let Some(b) = bits {
        cmd.args(["-b", b]);
    }
    assert!(cmd.status().unwrap().success(), "ssh-keygen failed");
    std::fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// The user names of a passwd map, in order.
pub fn passwd_names_of(passwd: &str) -> Vec<String> {
    passwd
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(str::to_string)
        .collect()
}

/// The schemas as `/Schemas` serves them.
fn advertised_schemas() -> &'static [Value] {
    static SCHEMAS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    SCHEMAS.get_or_init(|| {
        roster::scim::schema::ALL_SCHEMAS
            .iter()
            .map(|s| s.to_json(""))
            .collect()
    })
}

/// The attributes of a User or Group resource (by `meta.resourceType`)
/// that no advertised schema declares, as paths.
pub fn undeclared_attributes(resource: &Value) -> Vec<String> {
    let (core, extensions): (&str, &[&str]) = match resource["meta"]["resourceType"].as_str() {
        Some("User") => (
            USER,
            &[
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                CW,
            ],
        ),
        Some("Group") => (GROUP, &[CWG]),
        _ => return Vec::new(),
    };
    let attributes_of = |id: &str| -> Vec<Value> {
        advertised_schemas()
            .iter()
            .find(|s| s["id"] == id)
            .and_then(|s| s["attributes"].as_array().cloned())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let Some(obj) = resource.as_object() else {
        return vec!["(not an object)".into()];
    };
    for (key, value) in obj {
        // RFC 7643 §3: common attributes, in no schema's list.
        if ["schemas", "id", "externalId", "meta"].contains(&key.as_str()) {
            continue;
        }
        if extensions.contains(&key.as_str()) {
            check_object(&attributes_of(key), value, key, &mut out);
        } else {
            check_object(&attributes_of(core), &json!({key: value}), "", &mut out);
        }
    }
    out
}

fn check_object(declared: &[Value], value: &Value, at: &str, out: &mut Vec<String>) {
    let Some(obj) = value.as_object() else {
        out.push(format!("{at} (not an object)"));
        return;
    };
    for (key, v) in obj {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        let Some(attr) = declared.iter().find(|a| {
            a["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(key))
        }) else {
            out.push(path);
            continue;
        };
        if attr["type"] == "complex" {
            let subs = attr["subAttributes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let items: Vec<&Value> = match v {
                Value::Array(list) => list.iter().collect(),
                other => vec![other],
            };
            for item in items {
                check_object(&subs, item, &path, out);
            }
        }
    }
}

/// A node of cluster `cluster` in `dir`: its token file and cache
/// directory, for `roster agent`.
pub struct AgentNode {
    pub dir: tempfile::TempDir,
}

impl AgentNode {
    pub fn new(db: &str, cluster: &str) -> AgentNode {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        std::fs::write(dir.path().join("token"), cluster_token(db, cluster))
            .unwrap_or_else(|e| panic!("token file: {e}"));
        std::fs::create_dir(dir.path().join("etc")).unwrap_or_else(|e| panic!("etc: {e}"));
        AgentNode { dir }
    }

    /// One run of the real agent (`--once`), which must succeed.
    pub fn once(&self, app: &TestApp, cluster: &str, extra: &[&str]) {
        let out = self.run(app, cluster, extra);
        assert!(out.status.success(), "the agent failed: {out:?}");
    }

    /// The real agent, running (long polls of `wait` seconds) until the
    /// returned handle is dropped; its log is `agent.log` in the node's
    /// directory.
    pub fn spawn(&self, app: &TestApp, cluster: &str, wait: &str, extra: &[&str]) -> RunningAgent {
        let d = self.dir.path();
        let log =
            std::fs::File::create(d.join("agent.log")).unwrap_or_else(|e| panic!("agent.log: {e}"));
        let child = agent_command(app, cluster, d)
            .args(["--wait", wait])
            .args(extra)
            .env("ROSTER_LOG", "roster=info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run roster: {e}"));
        RunningAgent(child)
    }

    /// The agent's state file, as JSON (null before its first pass).
    pub fn state(&self) -> Value {
        std::fs::read_to_string(self.dir.path().join("state.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    /// The node's cache file for `map`.
    pub fn cache(&self, map: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("etc").join(format!("{map}.cache")))
            .unwrap_or_default()
    }

    /// One run of the real agent (`--once`), as it ends. Slurm's commands
    /// are pointed at a slurmdbd that is down (nothing listens on its
    /// port): a Slurm agent here fails as it would then.
    pub fn run(&self, app: &TestApp, cluster: &str, extra: &[&str]) -> Output {
        let d = self.dir.path();
        let slurm_conf = d.join("slurm-down.conf");
        std::fs::write(
            &slurm_conf,
            "ClusterName=c1\nSlurmctldHost=localhost\nAccountingStorageType=accounting_storage/slurmdbd\n\
             AccountingStorageHost=127.0.0.1\nAccountingStoragePort=9\n",
        )
        .unwrap_or_else(|e| panic!("slurm.conf: {e}"));
        let (token, etc, state) = (d.join("token"), d.join("etc"), d.join("state.json"));
        let server = format!("http://{}", app.addr);
        let mut args = vec![
            "agent",
            "--server",
            &server,
            "--org",
            "acme",
            "--cluster",
            cluster,
            "--token-file",
            token.to_str().unwrap_or_default(),
            "--nss-dir",
            etc.to_str().unwrap_or_default(),
            "--state-file",
            state.to_str().unwrap_or_default(),
            "--once",
        ];
        args.extend_from_slice(extra);
        Command::new(roster_bin())
            .args(&args)
            .env("ROSTER_DATABASE", &app.db)
            .env("SLURM_CONF", &slurm_conf)
            .env("ROSTER_LOG", "roster=debug")
            .output()
            .unwrap_or_else(|e| panic!("cannot run roster: {e}"))
    }
}

/// `roster agent` for org acme's `cluster` on `app`, with the token,
/// caches (`etc/`) and state of the node directory `d`.
pub fn agent_command(app: &TestApp, cluster: &str, d: &std::path::Path) -> Command {
    let mut c = Command::new(roster_bin());
    c.args(["agent", "--server", &format!("http://{}", app.addr)])
        .args(["--org", "acme", "--cluster", cluster])
        .arg("--token-file")
        .arg(d.join("token"))
        .arg("--nss-dir")
        .arg(d.join("etc"))
        .arg("--state-file")
        .arg(d.join("state.json"));
    c
}

/// A running agent, stopped when dropped.
pub struct RunningAgent(Child);

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
