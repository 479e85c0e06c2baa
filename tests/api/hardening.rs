//! Issue 10's findings, each against the running server: system accounts,
//! inputs that crashed or flooded the server, and what third-party SCIM
//! clients send.

use serde_json::json;

use crate::helpers::*;

#[test]
fn no_idp_identity_takes_a_system_account_or_group() {
    let app = sup_app();
    // Derived names that hit a system name are treated as taken.
    let root = app.create_user("root@evil.example");
    assert_eq!(root.body[CW]["sunkPosixUsername"], "root2");
    let sudo = app.create_group("sudo", &[&root.id()]);
    assert_eq!(sudo.body[CWG]["sunkPosixGroupName"], "sudo2");
    let slurm = app.create_user("Slurm@evil.example");
    assert_eq!(slurm.body[CW]["sunkPosixUsername"], "slurm2");

    // Overrides that name one are refused, and change nothing.
    let before = app.get(&format!("/Users/{}", root.id())).body;
    for (value, needle) in [
        (json!({"sunkPosixUsername": "nobody"}), "reserved"),
        (json!({"sunkPosixUsername": "root"}), "reserved"),
        (json!({"sunkPosixUserId": 0}), "reserved"),
        (
            json!({"sunkPosixUserId": 5000}),
            "below the organization's ranges",
        ),
        (json!({"sunkPosixGroupId": 27}), "reserved"),
        (
            json!({"sunkPosixGroupId": 1001}),
            "below the organization's ranges",
        ),
    ] {
        let r = app
            .patch(
                &format!("/Users/{}", root.id()),
                json!([{"op": "replace", "path": CW, "value": value}]),
            )
            .expect_error(400, Some("invalidValue"));
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{value}: {detail}");
    }
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": "admins", CWG: {"sunkPosixGroupName": "wheel"}}),
        )
        .expect_error(400, Some("invalidValue"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("wheel")
    );
    assert_eq!(app.get(&format!("/Users/{}", root.id())).body, before);
    assert_eq!(
        app.get_with("/Groups", &[("filter", "displayName eq \"admins\"")])
            .total(),
        0
    );

    // The NSS maps hold no system name.
    let token = create_cluster(&app.db, "gpu", "sudo");
    let passwd = app
        .client
        .get(app.url("/nss/acme/gpu/passwd"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(passwd_names_of(&passwd), vec!["root2".to_string()]);
}

#[test]
fn an_org_reserves_names_of_its_own() {
    let app = sup_app();
    let held = app.create_user("labops@example.com");
    // A name someone already holds cannot be reserved from under them.
    let out = run_cli(
        &app.db,
        &["org", "set", "acme", "--reserve-names", "gpuadmin,labops"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("labops") && err.contains(&held.id()), "{err}");

    cli_ok(
        &app.db,
        &["org", "set", "acme", "--reserve-names", "gpuadmin, nodeops"],
    );
    let shown = cli_json(&app.db, &["org", "show", "acme"]);
    assert_eq!(shown["reserved_names"], json!(["gpuadmin", "nodeops"]));
    let u = app.create_user("gpuadmin@example.com");
    assert_eq!(u.body[CW]["sunkPosixUsername"], "gpuadmin2");
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "x@example.com", CW: {"sunkPosixUsername": "nodeops"}}),
        )
        .expect_error(400, Some("invalidValue"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("reserved by this organization")
    );
    // Invalid names are refused with what to do.
    let out = run_cli(
        &app.db,
        &["org", "set", "acme", "--reserve-names", "Not Valid"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid POSIX name"));
}

#[test]
fn long_filters_and_group_lists_are_refused_not_fatal() {
    let app = sup_app();
    let u = app.create_user("ada@example.com");
    app.create_group("gpu", &[&u.id()]);
    // 20,000 group names: a clear 400, and the server lives on.
    let many = vec!["g"; 20_000].join(",");
    let r = app
        .post("/Users/.search", &json!({"groups": many}))
        .expect(200);
    assert_eq!(r.total(), 0);
    let distinct: Vec<String> = (0..20_000).map(|i| format!("g{i}")).collect();
    app.post("/Users/.search", &json!({"groups": distinct.join(",")}))
        .expect_error(400, Some("invalidValue"));
    // Up to the documented cap, one set test answers.
    let mut names: Vec<String> = (0..999).map(|i| format!("g{i}")).collect();
    names.push("gpu".into());
    let r = app
        .post("/Users/.search", &json!({"groups": names.join(",")}))
        .expect(200);
    assert_eq!(r.ids(), vec![u.id()]);
    // A long `or` chain under the 8 KiB limit: 400 invalidFilter.
    let chain = vec!["id eq \"1\""; 550].join(" or ");
    assert!(chain.len() < 8 * 1024);
    let short = vec!["title pr"; 600].join(" or ");
    for f in [chain.as_str(), short.as_str()] {
        app.get_with("/Users", &[("filter", f)])
            .expect_error(400, Some("invalidFilter"));
        app.post("/Users/.search", &json!({"filter": f}))
            .expect_error(400, Some("invalidFilter"));
    }
    // Still serving.
    app.get(&format!("/Users/{}", u.id())).expect(200);
}
