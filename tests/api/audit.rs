//! The audit trail: changes by SCIM tokens, the command line and the
//! console, each with its actor; nothing for a push that changes nothing.

use serde_json::{Value, json};

use crate::helpers::*;

fn trail(app: &TestApp, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "acme", "--limit", "100"];
    args.extend_from_slice(extra);
    cli_json(&app.db, &args).as_array().unwrap().clone()
}

#[test]
fn every_change_names_its_actor_and_secrets_stay_out() {
    let app = sup_app();
    // What setting the org up recorded (its settings, the IdP's token).
    let setup = trail(&app, &[]).len();
    // By the IdP's token (named "test" by the helpers).
    let ada = app.create_user("ada@example.com").id();
    let put = json!({"schemas": [USER], "userName": "ada@example.com", "displayName": "Ada"});
    app.put(&format!("/Users/{ada}"), &put).expect(200);
    // The same push again changes nothing, and records nothing.
    app.put(&format!("/Users/{ada}"), &put).expect(200);
    // At the command line.
    cli_ok(&app.db, &["group", "create", "acme", "gpu"]);
    cli_ok(
        &app.db,
        &["group", "add-member", "acme", "gpu", "ada@example.com"],
    );
    cli_ok(
        &app.db,
        &["group", "set-roles", "acme", "gpu", "--roles", "IAM Viewer"],
    );
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILenAM0cpltQu8JJx1at/k7/jQ1anEQtqdbwlpgG6zjr secret-comment";
    let keys = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(keys.path(), key).unwrap();
    cli_ok(
        &app.db,
        &[
            "user",
            "set-ssh-keys",
            "acme",
            "ada@example.com",
            "--file",
            keys.path().to_str().unwrap(),
        ],
    );

    let all = trail(&app, &[]);
    let seen: Vec<(String, String, String)> = all[..all.len() - setup]
        .iter()
        .rev()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let cli = seen
        .iter()
        .find(|s| s.0.starts_with("roster CLI ("))
        .map(|s| s.0.clone())
        .unwrap_or_else(|| panic!("no CLI actor: {seen:?}"));
    let expect = |actor: &str, action: &str, target: &str| {
        (actor.to_string(), action.to_string(), target.to_string())
    };
    assert_eq!(
        seen,
        vec![
            expect("token test", "user.create", "ada@example.com"),
            expect("token test", "user.replace", "ada@example.com"),
            expect(&cli, "group.create", "gpu"),
            expect(&cli, "group.member.add", "gpu"),
            expect(&cli, "group.roles", "gpu"),
            expect(&cli, "user.ssh_keys", "ada@example.com"),
        ],
        "newest first, one entry per change"
    );
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains("AAAAC3Nza") && !text.contains("secret-comment"),
        "{text}"
    );
    assert!(text.contains("added ada@example.com") && text.contains("roles: IAM Viewer"));
    // Over the admin API, with the org's token.
    let api = app.send(app.auth(app.client.get(app.url("/api/v1/orgs/acme/audit?limit=2"))));
    assert_eq!(api.status, 200, "{}", api.body);
    assert_eq!(api.body["entries"].as_array().unwrap().len(), 2);
    assert_eq!(api.body["entries"][0]["action"], "user.ssh_keys");
    let bad = app.send(
        app.auth(
            app.client
                .get(app.url("/api/v1/orgs/acme/audit?since=soon")),
        ),
    );
    assert_eq!(bad.status, 400);
    // Filters.
    assert_eq!(trail(&app, &["--actor", "TOKEN test"]).len(), 2);
    assert_eq!(trail(&app, &["--since", "1h"]).len(), 6 + setup);
}

#[test]
fn org_settings_tokens_clusters_and_sign_in_are_audited_with_where_from() {
    let app = TestApp::start();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    // Setting the org up at the command line: its settings and its token.
    let setup = trail(&app, &[]);
    let actions: Vec<&str> = setup
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token.create", "org.settings"], "{setup:?}");
    assert_eq!(setup[0]["target"], "test");
    assert!(
        setup[1]["detail"].as_str().unwrap().contains("scim-api on"),
        "{setup:?}"
    );
    for e in &setup {
        assert!(
            e["actor"].as_str().unwrap().starts_with("roster CLI ("),
            "{e}"
        );
        assert_eq!(e["origin"], host.as_str(), "the CLI's host: {e}");
    }
    let secret = cli_json(&app.db, &["token", "create", "acme", "--name", "Entra"]);
    let token_id = secret["id"].as_str().unwrap().to_string();
    cli_ok(&app.db, &["token", "revoke", "acme", &token_id]);
    cli_ok(&app.db, &["group", "create", "acme", "gpu"]);
    cli_ok(
        &app.db,
        &["cluster", "create", "acme", "c1", "--groups", "gpu"],
    );
    cli_ok(&app.db, &["cluster", "token", "create", "acme", "c1"]);
    cli_ok(
        &app.db,
        &["org", "set", "acme", "--uid-range", "5000-59999"],
    );
    cli_ok(&app.db, &["admin", "login-link", "acme"]);
    // Setting nothing new records nothing.
    cli_ok(
        &app.db,
        &["org", "set", "acme", "--uid-range", "5000-59999"],
    );
    // Over SCIM and the admin API: the client's address.
    app.create_user("ada@example.com");

    let all = trail(&app, &[]);
    let newest: Vec<(&str, &str)> = all[..all.len() - setup.len()]
        .iter()
        .rev()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        newest,
        [
            ("token.create", "Entra"),
            ("token.revoke", "Entra"),
            ("group.create", "gpu"),
            ("cluster.create", "c1"),
            ("cluster.token.create", "c1"),
            ("org.settings", "acme"),
            ("login_link.create", "acme"),
            ("user.create", "ada@example.com"),
        ]
    );
    assert_eq!(all[2]["detail"], "uid-range 5000-59999");
    assert_eq!(all[0]["actor"], "token test");
    assert_eq!(all[0]["origin"], "127.0.0.1", "SCIM: the client's address");
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains(secret["token"].as_str().unwrap()),
        "no secret in the trail"
    );

    // --resource: a kind, or a name.
    let tokens = trail(&app, &["--resource", "token"]);
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    let c1 = trail(&app, &["--resource", "c1"]);
    assert_eq!(c1.len(), 2, "{c1:?}");
    let api = app.send(
        app.auth(
            app.client
                .get(app.url("/api/v1/orgs/acme/audit?resource=cluster")),
        ),
    );
    assert_eq!(api.status, 200, "{}", api.body);
    let entries = api.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e["origin"] == host.as_str()));
}
