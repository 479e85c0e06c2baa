//! The console in a real browser: every step docs/console.md names, by an
//! administrator; what a member without roles and an IAM Viewer may see
//! and do, checked on the server's answers; axe-core on every page; a
//! screenshot of every page under target/console-screenshots/.

use serde_json::json;

use crate::browser::Browser;
use crate::helpers::*;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILenAM0cpltQu8JJx1at/k7/jQ1anEQtqdbwlpgG6zjr ada@laptop";

/// Signs the browser in as the org's bootstrap administrator.
fn sign_in_with_login_link(app: &TestApp, b: &Browser) {
    let public = format!("--public-url=http://{}", app.addr);
    let link = cli_ok(&app.db, &["admin", "login-link", "acme", &public]);
    b.goto(link.trim());
    b.click_text("Sign in");
    b.wait_for_text("Clusters");
}

/// A console form posted with the session's cookie but none of the
/// browser's own marks: what a forged cross-site request would be.
fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> u16 {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = app
        .client
        .post(app.url(path))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    app.send(req).status
}

#[test]
fn an_administrator_does_every_console_step_in_a_real_browser() {
    // The test IdP's metadata is on loopback: allowed by the operator.
    let app = TestApp::start_with(&["--metadata-allow-private"]);
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    // Ada comes from the IdP (with an externalId, as Okta and Entra send);
    // Bob was added by hand.
    let ada = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "ada@example.com", "externalId": "00u1",
                    "name": {"givenName": "Ada", "familyName": "Lovelace"},
                    "emails": [{"value": "ada@example.com", "primary": true}]}),
        )
        .expect(201)
        .id();
    let bob = app.create_user("bob@example.com").id();
    let gpu = app.create_group("gpu", &[&ada, &bob]).id();
    create_cluster(&app.db, "c1", "gpu");
    // A node's agent, which names itself to the server.
    let node = AgentNode::new(&app.db, "c1");
    let agent_once = || node.once(&app, "c1", &["--node-name", "gpu-001"]);
    // The first run takes a snapshot; the second asks the change feed.
    agent_once();
    agent_once();
    let b = Browser::start();
    sign_in_with_login_link(&app, &b);

    // Clusters: the landing page, then the cluster's groups, maps, tokens.
    assert!(b.url().ends_with("/console/acme/clusters"), "{}", b.url());
    assert!(b.text().contains("c1"));
    b.check_page("clusters");
    b.click_text("c1");
    b.wait_for_text("NSS maps");
    assert!(
        b.text()
            .contains(&format!("http://{}/nss/acme/c1/passwd", app.addr))
    );
    // The server records what agents report within a second.
    b.goto_until(&app.url("/console/acme/clusters/c1"), "gpu-001");
    let agents = b.text_of("main");
    assert!(
        agents.contains("gpu-001") && agents.contains("up to date"),
        "{agents}"
    );
    b.check_page("cluster");
    // A change the node has not applied yet shows as its lag.
    let carol = app.create_user("carol.lag@example.com").id();
    app.patch(
        &format!("/Groups/{gpu}"),
        json!([{"op": "add", "path": "members", "value": [{"value": carol}]}]),
    )
    .expect(200);
    b.goto(&app.url("/console/acme/clusters/c1"));
    let agents = b.text_of("main");
    assert!(
        agents.contains("Behind by") && agents.contains(" change"),
        "{agents}"
    );
    b.shot_of("#agents", "cluster-agents-behind");
    // The node applies it; its next request says so (a running agent
    // asks again at once).
    agent_once();
    agent_once();
    b.goto_until(&app.url("/console/acme/clusters/c1"), "up to date");
    b.click_text("Create cluster token");
    b.wait_for_text("will not be shown again");
    let node_token = b.text_of("#token");
    b.check_page("cluster-token-created");
    let passwd = app.send(
        app.client
            .get(app.url("/nss/acme/c1/passwd"))
            .bearer_auth(&node_token),
    );
    assert_eq!(passwd.status, 200, "the shown token reads the maps");
    b.click_text("Done");

    // Users: the list, a search, and Ada's details.
    b.goto(&app.url("/console/acme/users"));
    assert!(b.text().contains("3 users"));
    b.check_page("users");
    b.fill("Search by userName, display name or email", "ada@");
    b.click_text("Search");
    b.wait_for_text("1 user found");
    b.click("a[aria-label='View Details of ada@example.com']");
    b.wait_for_text("Slurm Attributes");
    let text = b.text();
    assert!(text.contains("Managed by the identity provider"), "{text}");
    // Ada has no key yet: the access check says so, first.
    assert!(
        text.contains("The first step below stops") && text.contains("no SSH key"),
        "{text}"
    );
    assert!(
        text.contains("POSIX username") && text.contains("UID"),
        "{text}"
    );
    b.check_page("user");
    // SSH keys: a bad line is named and nothing is saved; then a good key.
    b.fill("SSH Keys", &format!("{KEY}\nnot a key"));
    b.click_text("Save SSH Keys");
    b.wait_for_text("line 2:");
    b.check_page("user-ssh-key-refused");
    assert!(app.get(&format!("/Users/{ada}")).body[CW]["sunkSshKeys"].is_null());
    b.fill("SSH Keys", KEY);
    b.click_text("Save SSH Keys");
    b.wait_for_text("The SSH keys are saved.");
    assert!(b.text().contains("Nothing stops ada@example.com"));
    assert_eq!(
        app.get(&format!("/Users/{ada}")).body[CW]["sunkSshKeys"][0],
        KEY
    );
    // Deactivate Bob, after the confirmation.
    b.goto(&app.url(&format!("/console/acme/users/{bob}")));
    b.click_text("Deactivate");
    b.accept_dialog();
    b.wait_for_text("The user is deactivated");
    let text = b.text();
    assert!(
        text.contains("The first step below stops") && text.contains("is deactivated"),
        "{text}"
    );
    assert_eq!(app.get(&format!("/Users/{bob}")).body["active"], false);
    // Add User.
    b.goto(&app.url("/console/acme/users"));
    b.fill("Username (userName)", "carol@example.com");
    b.click_text("Add User");
    b.wait_for_text("The user is created.");
    assert_eq!(
        app.get_with("/Users", &[("filter", "userName eq \"carol@example.com\"")])
            .total(),
        1
    );

    // Groups: Create Group, a member, a role.
    b.goto(&app.url("/console/acme/groups"));
    b.check_page("groups");
    b.fill("Group name", "cluster-admins");
    b.click_text("Create");
    b.wait_for_text("The group is created.");
    b.fill(
        "Add a member (userName or POSIX username)",
        "ada@example.com",
    );
    b.click_text("Add");
    b.wait_for_text("The member is added.");
    b.click("input[value='IAM Viewer']");
    b.click_text("Save roles");
    b.wait_for_text("The group's roles are saved.");
    b.check_page("group");
    let shown = cli_ok(&app.db, &["group", "show", "acme", "cluster-admins"]);
    assert!(shown.contains("roles:    IAM Viewer"), "{shown}");
    assert!(shown.contains("ada@example.com"), "{shown}");
    b.click("button[aria-label='Remove ada@example.com']");
    b.accept_dialog();
    b.wait_for_text("The member is removed.");
    let shown = cli_ok(&app.db, &["group", "show", "acme", "cluster-admins"]);
    assert!(!shown.contains("ada@example.com"), "{shown}");
    // A cluster's groups: cluster-admins reaches c1 too.
    b.goto(&app.url("/console/acme/clusters/c1"));
    b.click_text("cluster-admins");
    b.click_text("Save groups");
    b.wait_for_text("The cluster's groups are saved.");
    let shown = cli_ok(&app.db, &["cluster", "show", "acme", "c1"]);
    assert!(
        shown.contains("cluster-admins") && shown.contains("gpu"),
        "{shown}"
    );

    // SCIM Configuration: a switch that saves when flipped, a token.
    b.goto(&app.url("/console/acme/scim"));
    b.check_page("scim-configuration");
    b.click("input[type=checkbox][aria-describedby='does-sup']");
    b.wait_for_text("The setting is saved.");
    let org = cli_json(&app.db, &["org", "show", "acme"]);
    assert_eq!(org["sup"], false, "{org}");
    b.click("input[type=checkbox][aria-describedby='does-sup']");
    b.wait_for_text("The setting is saved.");
    assert_eq!(cli_json(&app.db, &["org", "show", "acme"])["sup"], true);
    b.fill("Token name", "Okta");
    b.click_text("Create token");
    b.wait_for_text("will not be shown again");
    let secret = b.text_of("#token");
    b.check_page("scim-token-created");
    let scim = |token: &str| {
        app.send(app.client.get(app.scim_url("/Users")).bearer_auth(token))
            .status
    };
    assert_eq!(scim(&secret), 200, "the shown token works");
    b.goto(&app.url("/console/acme/scim"));
    b.click("button[aria-label='Revoke Okta']");
    b.accept_dialog();
    b.wait_for_text("The token is revoked");
    assert_eq!(scim(&secret), 401, "and is refused once revoked");

    // SAML SSO: what to paste into the IdP; refusals that say what to fix;
    // then Entra's way, a Metadata URL: "Next", "Deploy SSO".
    let idp = crate::saml::Idp::start();
    b.goto(&app.url("/console/acme/saml"));
    assert!(
        b.text()
            .contains(&format!("/accounts/saml/{}/acs", app.org_id))
    );
    b.check_page("saml-sso");
    b.click_text("Next");
    b.wait_for_text("missing SSO URL and Entity ID");
    b.fill("SSO URL", &idp.url("/sso"));
    b.fill("Entity ID", &idp.entity_id());
    b.click_text("Next");
    b.wait_for_text("no signing certificate");
    b.fill("Metadata URL", "http://127.0.0.1:9/metadata");
    b.click_text("Next");
    b.wait_for_text("could not fetch the metadata from http://127.0.0.1:9/metadata");
    b.check_page("saml-sso-refused");
    assert!(cli_json(&app.db, &["saml", "show", "acme"])["idp"].is_null());
    b.fill("Metadata URL", &idp.url("/metadata?style=entra"));
    b.fill("SSO URL", "");
    b.fill("Entity ID", "");
    b.click_text("Next");
    b.wait_for_text("This is what will be deployed");
    assert!(b.text().contains(&idp.entity_id()));
    b.check_page("saml-sso-review");
    b.click_text("Deploy SSO");
    b.wait_for_text("The SAML configuration is deployed.");
    assert!(b.text().contains("Test"));
    b.check_page("saml-sso-deployed");
    let shown = cli_json(&app.db, &["saml", "show", "acme"]);
    assert_eq!(shown["idp"]["idp_entity_id"], idp.entity_id(), "{shown}");
    b.click_text("Disable SSO");
    b.accept_dialog();
    b.wait_for_text("SAML sign-in is disabled.");
    assert!(cli_json(&app.db, &["saml", "show", "acme"])["idp"].is_null());

    // Provisioning log: a request the IdP got wrong, and why.
    app.post(
        "/Users",
        &json!({"schemas": [USER], "userName": "ada@example.com"}),
    )
    .expect(409);
    // (The log is written behind the answer: the page may need a reload.)
    b.goto_until(&app.url("/console/acme/log"), "Failed 409");
    b.click("#failed");
    b.click_text("Show");
    b.wait_for_text("Failed 409");
    assert!(!b.text().contains("201"), "failed requests only");
    b.click("details.entry summary");
    b.wait_for_text("Roster's explanation");
    assert!(
        b.text().contains("ada@example.com"),
        "the body, redacted of secrets"
    );
    b.check_page("provisioning-log");

    // The audit trail names the console's person for what they did.
    let trail = cli_json(
        &app.db,
        &["audit", "acme", "--actor", "console", "--limit", "500"],
    );
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .inspect(|e| assert_eq!(e["actor"], "console: bootstrap administrator"))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for done in [
        "user.ssh_keys",
        "user.deactivate",
        "user.create",
        "group.create",
        "group.member.add",
        "group.roles",
        "group.member.remove",
    ] {
        assert!(actions.contains(&done), "{done} not in {actions:?}");
    }

    // Settings: the bootstrap administrator has no profile of their own.
    b.goto(&app.url("/console/acme/settings"));
    assert!(b.text().contains("bootstrap administrator"));
    b.check_page("settings-bootstrap-admin");

    // A forged form (the session's cookie, but no token, or from another
    // site) changes nothing.
    let cookie = b.cookie("roster_session");
    let forged = [("displayName", "forged")];
    assert_eq!(
        post_form(&app, "/console/acme/groups", &cookie, &forged, &[]),
        403
    );
    b.goto(&app.url("/console/acme/groups"));
    let csrf = b.attr("input[name=csrf]", "value");
    let with_token = [("displayName", "forged"), ("csrf", csrf.as_str())];
    let cross = [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(
        post_form(&app, "/console/acme/groups", &cookie, &with_token, &cross),
        403
    );
    assert_eq!(
        app.get_with("/Groups", &[("filter", "displayName eq \"forged\"")])
            .total(),
        0
    );
    // The same token from the console's own origin is accepted.
    let origin = app.url("");
    let own = [
        ("origin", origin.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    // (The client follows the redirect to the new group's page.)
    assert_eq!(
        post_form(&app, "/console/acme/groups", &cookie, &with_token, &own),
        200
    );
    assert_eq!(
        app.get_with("/Groups", &[("filter", "displayName eq \"forged\"")])
            .total(),
        1
    );

    // Every change above is in the audit trail as the console's, from the
    // browser's address.
    let trail = cli_json(
        &app.db,
        &["audit", "acme", "--actor", "console:", "--limit", "500"],
    );
    let trail = trail.as_array().unwrap();
    let actions: Vec<&str> = trail
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for done in [
        "cluster.groups",
        "cluster.token.create",
        "user.ssh_keys",
        "group.create",
        "group.roles",
        "org.settings",
        "token.create",
        "token.revoke",
        "saml.set",
        "saml.disable",
    ] {
        assert!(actions.contains(&done), "no {done} in {actions:?}");
    }
    assert!(
        trail.iter().all(|e| e["origin"] == "127.0.0.1"),
        "{trail:?}"
    );
}

/// A GET with a session cookie, redirects not followed: (status, where
/// to, body).
fn get_as(app: &TestApp, cookie: &str, path: &str) -> (u16, String, String) {
    let p = crate::saml::page(
        crate::saml::browser()
            .get(app.url(path))
            .header("cookie", cookie)
            .send()
            .unwrap(),
    );
    (p.status, p.location.unwrap_or_default(), p.body)
}

/// The CSRF token a console page carries in its forms.
fn csrf_of(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no form on the page: {body}"))
        + "name=\"csrf\" value=\"".len();
    body[at..at + 64].to_string()
}

/// A form as the browser sends it from the console's own page.
fn post_as(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> u16 {
    let origin = app.url("");
    let headers = [
        ("origin", origin.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = crate::saml::browser()
        .post(app.url(path))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send().unwrap().status().as_u16()
}

/// An org with SAML SSO through a real pysaml2 IdP and SUP on, and the
/// sessions of two people who signed in there (each first sign-in creates
/// the user, just in time): Mia, with no role, and Vic, in `viewers`,
/// which carries IAM Viewer.
pub(crate) struct MemberAndViewer {
    pub idp: crate::saml::Idp,
    pub app: TestApp,
    pub mia: String,
    pub vic: String,
}

pub(crate) fn member_and_viewer() -> MemberAndViewer {
    let idp = crate::saml::Idp::start();
    let app = crate::saml::saml_app_from(&idp, "style=okta");
    cli_ok(&app.db, &["org", "set", "acme", "--sup", "on"]);
    let sign_in = |user: &str| -> String {
        let (p, _) = crate::saml::sp_initiated(&app, &idp, "login", user);
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(p.location.as_deref(), Some("/console/acme"));
        p.cookie.unwrap()
    };
    let mia = sign_in("mia@example.com");
    let vic = sign_in("vic@example.com");
    cli_ok(&app.db, &["group", "create", "acme", "viewers"]);
    cli_ok(
        &app.db,
        &["group", "add-member", "acme", "viewers", "vic@example.com"],
    );
    cli_ok(
        &app.db,
        &[
            "group",
            "set-roles",
            "acme",
            "viewers",
            "--roles",
            "IAM Viewer",
        ],
    );
    MemberAndViewer { idp, app, mia, vic }
}

#[test]
fn members_and_viewers_reach_only_what_their_roles_allow() {
    let MemberAndViewer { idp, app, mia, vic } = member_and_viewer();
    let groups_before = app.get_with("/Groups", &[("count", "0")]).total();

    // Mia has no role: her own Settings, and nothing else.
    let (status, to, _) = get_as(&app, &mia, "/console/acme");
    assert_eq!((status, to.as_str()), (303, "/console/acme/settings"));
    for path in ["clusters", "users", "groups", "scim"] {
        let (status, _, body) = get_as(&app, &mia, &format!("/console/acme/{path}"));
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body.contains("IAM Viewer"),
            "the page names the role: {body}"
        );
    }
    let (status, _, settings) = get_as(&app, &mia, "/console/acme/settings");
    assert_eq!(status, 200);
    assert!(settings.contains("Slurm Attributes") && settings.contains("POSIX username"));
    let csrf = csrf_of(&settings);
    // Her own keys she may set; a group she may not create.
    assert_eq!(
        post_as(
            &app,
            &mia,
            "/console/acme/settings/ssh-keys",
            &[("csrf", &csrf), ("keys", KEY)]
        ),
        303
    );
    let me = &app
        .get_with("/Users", &[("filter", "userName eq \"mia@example.com\"")])
        .body["Resources"][0];
    assert_eq!(me[CW]["sunkSshKeys"][0], KEY);
    let forbidden = [("csrf", csrf.as_str()), ("displayName", "mine")];
    assert_eq!(post_as(&app, &mia, "/console/acme/groups", &forbidden), 403);

    // Vic sees every page, read-only, and the server refuses his changes.
    let (status, _, users) = get_as(&app, &vic, "/console/acme/users");
    assert_eq!(status, 200);
    assert!(
        users.contains("read-only access") && !users.contains("Add User"),
        "{users}"
    );
    let csrf = csrf_of(&get_as(&app, &vic, "/console/acme/settings").2);
    let tries: [(&str, &[(&str, &str)]); 3] = [
        ("/console/acme/groups", &[("displayName", "mine")]),
        (
            "/console/acme/scim/settings",
            &[("toggle", "sup"), ("enabled", "")],
        ),
        ("/console/acme/scim/tokens", &[("name", "mine")]),
    ];
    for (path, form) in tries {
        let mut form = form.to_vec();
        form.push(("csrf", &csrf));
        assert_eq!(post_as(&app, &vic, path, &form), 403, "{path}");
    }
    assert_eq!(
        app.get_with("/Groups", &[("count", "0")]).total(),
        groups_before
    );
    assert_eq!(cli_json(&app.db, &["org", "show", "acme"])["sup"], true);

    // In a real browser, through the IdP, as Vic.
    let r = crate::saml::browser()
        .post(idp.url("/login-as"))
        .body(json!({"user": "vic@example.com"}).to_string())
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let b = Browser::start();
    b.goto(&app.url(&format!("/accounts/saml/{}/login", app.org_id)));
    b.wait_for_text("Clusters");
    b.goto(&app.url("/console/acme/users"));
    assert!(
        !b.has("form[method=post][action='/console/acme/users']"),
        "no Add User form"
    );
    b.check_page("users-as-viewer");
    b.goto(&app.url("/console/acme/settings"));
    b.check_page("settings-as-viewer");

    // Taken out of the group, Vic loses the role on his next request.
    cli_ok(
        &app.db,
        &[
            "group",
            "remove-member",
            "acme",
            "viewers",
            "vic@example.com",
        ],
    );
    assert_eq!(get_as(&app, &vic, "/console/acme/users").0, 403);
    b.goto(&app.url("/console/acme/users"));
    b.wait_for_text("Not allowed");
    b.check_page("forbidden");

    // Signed out (the profile menu), the console sends Vic to sign in.
    b.click("details.profile summary");
    b.click_text("Sign out");
    b.wait_for_text("Your session has ended");
    b.goto(&app.url("/console/acme/users"));
    b.wait_for_text("Sign in with SSO");
    b.check_page("sign-in");
}
