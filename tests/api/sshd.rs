//! sshd on a loopback port, in a private mount namespace whose /etc has the
//! cluster's NSS caches and `passwd: files cache`, asking
//! `roster authorized-keys %u` for keys.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

/// sshd runs an AuthorizedKeysCommand only from a path whose every
/// directory is root-owned and not writable by others, which a checkout
/// under /tmp is not; the binary is copied to such a place, removed after.
struct CommandDir(PathBuf);

impl CommandDir {
    fn new() -> CommandDir {
        let dir = PathBuf::from(format!("/var/lib/roster-sshd-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(roster_bin(), dir.join("roster")).unwrap();
        assert!(
            Command::new("chmod")
                .args(["755"])
                .arg(&dir)
                .arg(dir.join("roster"))
                .status()
                .unwrap()
                .success()
        );
        CommandDir(dir)
    }
}

impl Drop for CommandDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_maps(app: &TestApp, token: &str, upper: &Path) {
    for map in ["passwd", "group", "shadow", "sshkey"] {
        let r = app
            .client
            .get(app.url(&format!("/nss/acme/c1/{map}")))
            .bearer_auth(token)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        std::fs::write(upper.join(format!("{map}.cache")), r.text().unwrap()).unwrap();
    }
}

fn ssh(port: u16, key: &Path, user: &str) -> bool {
    Command::new("ssh")
        .args(["-p", &port.to_string(), "-i"])
        .arg(key)
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg(format!("{user}@127.0.0.1"))
        .arg("true")
        .stdin(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn ssh_login_uses_the_directorys_keys() {
    assert!(
        Path::new("/usr/sbin/sshd").exists(),
        "openssh-server is needed (scripts/test.sh installs it)"
    );
    let app = TestApp::start();
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    let keys = tempfile::tempdir().unwrap();
    let alice_key = keygen(keys.path(), "ed25519", None, "alice");
    keygen(keys.path(), "ed25519", None, "mallory");
    let alice = app.post("/Users", &json!({"schemas": [USER], "userName": "alice@example.com", CW: {"sunkSshKeys": [alice_key]}})).expect(201).id();
    app.create_group("login", &[&alice]);
    let token = create_cluster(&app.db, "c1", "login");

    let work = tempfile::tempdir().unwrap();
    let (upper, ovl_work) = (work.path().join("upper"), work.path().join("work"));
    std::fs::create_dir_all(upper.join("ssh")).unwrap();
    std::fs::create_dir_all(&ovl_work).unwrap();
    write_maps(&app, &token, &upper);
    let nsswitch = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
    let nsswitch: String = nsswitch
        .lines()
        .filter(|l| {
            !l.starts_with("passwd:") && !l.starts_with("group:") && !l.starts_with("shadow:")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        upper.join("nsswitch.conf"),
        format!("passwd: files cache\ngroup: files cache\nshadow: files cache\n{nsswitch}"),
    )
    .unwrap();

    let command = CommandDir::new();
    let host_key = work.path().join("host_key");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key)
            .status()
            .unwrap()
            .success()
    );
    let port = free_port();
    let config = work.path().join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\nAuthorizedKeysFile none\n\
             AuthorizedKeysCommand {}/roster authorized-keys %u --cache /etc/sshkey.cache\nAuthorizedKeysCommandUser nobody\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nStrictModes no\n",
            host_key.display(),
            work.path().join("sshd.pid").display(),
            command.0.display()
        ),
    )
    .unwrap();
    let log = work.path().join("sshd.log");
    let script = format!(
        "mount -t overlay overlay -o lowerdir=/etc,upperdir={},workdir={} /etc && mount -t tmpfs tmpfs /run && mkdir -p /run/sshd && exec /usr/sbin/sshd -D -f {} -E {}",
        upper.display(),
        ovl_work.display(),
        config.display(),
        log.display()
    );
    let _sshd = Sshd(
        Command::new("unshare")
            .args(["-m", "sh", "-c", &script])
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "sshd did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    assert!(
        ssh(port, &keys.path().join("alice"), "alice"),
        "alice's key was refused: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(
        !ssh(port, &keys.path().join("mallory"), "alice"),
        "another key was accepted"
    );
    // Deactivated at the IdP; the node's maps are refreshed: no more login.
    app.patch(
        &format!("/Users/{alice}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .expect(200);
    write_maps(&app, &token, &upper);
    assert!(
        !ssh(port, &keys.path().join("alice"), "alice"),
        "a deactivated user logged in"
    );
    // Maps from a rogue or broken server naming the node's own root (by
    // name, and by UID 0 under another name) give no key to sshd.
    let mallory = std::fs::read_to_string(keys.path().join("mallory.pub")).unwrap();
    let mallory = mallory.trim();
    std::fs::write(
        upper.join("passwd.cache"),
        "root:x:0:0::/root:/bin/bash\ntoor:x:0:0::/root:/bin/bash\n",
    )
    .unwrap();
    std::fs::write(
        upper.join("sshkey.cache"),
        format!("root:['{mallory}']\ntoor:['{mallory}']\n"),
    )
    .unwrap();
    for user in ["root", "toor"] {
        assert!(
            !ssh(port, &keys.path().join("mallory"), user),
            "a cached key logged in as {user}"
        );
    }
}
