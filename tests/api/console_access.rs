//! Every console route, as declared in the server's own route table
//! (`roster::server::console_route_table`), answers as its declared access
//! says, for no one, a member without roles, an IAM Viewer, an IAM Admin
//! and another org's administrator: a route added without its check, or
//! with the wrong one, fails here.

use roster::server::{RouteAccess, console_route_table};

use crate::console::{MemberAndViewer, member_and_viewer};
use crate::helpers::*;
use crate::saml::{browser, page};

/// How a request came out, as far as access goes.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Sent to the org's sign-in page: no session.
    SignIn,
    /// 403: the roles do not reach it, or the session is another org's.
    Refused,
    /// Anything else: the page, a redirect after a change, a form's own
    /// refusal (400), a 404 for a made-up id.
    Served,
}

fn outcome(status: u16, location: &str) -> Outcome {
    match status {
        303 if location.ends_with("/sign-in") => Outcome::SignIn,
        403 => Outcome::Refused,
        _ => Outcome::Served,
    }
}

/// A session's CSRF token, from the first page of `pages` with a form
/// (a member's Settings; the bootstrap administrator, who is no user and
/// has no keys to set, has forms on the SCIM page).
fn csrf(app: &TestApp, org: &str, cookie: &str) -> String {
    for page_name in ["settings", "scim"] {
        let body = page(
            browser()
                .get(app.url(&format!("/console/{org}/{page_name}")))
                .header("cookie", cookie)
                .send()
                .unwrap(),
        )
        .body;
        if let Some(at) = body.find("name=\"csrf\" value=\"") {
            let at = at + "name=\"csrf\" value=\"".len();
            return body[at..at + 64].to_string();
        }
    }
    panic!("no form for the session of {org}")
}

/// A login link's session for `org`'s bootstrap administrator.
fn admin_session(app: &TestApp, org: &str) -> String {
    let public = format!("--public-url=http://{}", app.addr);
    let link = cli_ok(&app.db, &["admin", "login-link", org, &public]);
    page(browser().post(link.trim()).send().unwrap())
        .cookie
        .expect("the login link opens a session")
}

#[test]
fn every_console_route_answers_as_its_declared_access_says() {
    let MemberAndViewer {
        app,
        mia: member,
        vic: viewer,
        ..
    } = member_and_viewer();
    let admin = admin_session(&app, "acme");
    cli_ok(&app.db, &["org", "create", "beta"]);
    let stranger = admin_session(&app, "beta");

    // What the routes' parameters name.
    let target = app.create_user("target@example.com").id();
    let group = cli_json(&app.db, &["group", "show", "acme", "viewers"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    create_cluster(&app.db, "c1", "viewers");
    let token = cli_json(&app.db, &["token", "create", "acme", "--name", "spare"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let concrete = |path: &str| {
        format!(
            "/console{}",
            path.replace("{org}", "acme")
                .replace("{cluster}", "c1")
                .replace("{user}", &target)
                .replace("{group}", &group)
                .replace("{token}", &token)
        )
    };

    let callers: [(&str, Option<&str>, &str); 5] = [
        ("no one", None, "acme"),
        ("a member", Some(&member), "acme"),
        ("a viewer", Some(&viewer), "acme"),
        ("another org's admin", Some(&stranger), "beta"),
        // Last: an admin's posts change things (a deactivation, a revoked
        // token), which the others' requests must not meet first.
        ("an admin", Some(&admin), "acme"),
    ];
    let routes = console_route_table();
    assert!(
        routes.len() >= 30,
        "the table lists every route: {routes:?}"
    );
    let mut checked = 0;
    for (who, cookie, home) in callers {
        let token = cookie.map(|c| csrf(&app, home, c));
        for (method, path, access) in &routes {
            let url = app.url(&concrete(path));
            let mut req = match *method {
                "GET" => browser().get(&url),
                "POST" => browser()
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("origin", app.url(""))
                    .header("sec-fetch-site", "same-origin")
                    .body(format!("csrf={}", token.as_deref().unwrap_or(""))),
                other => panic!("a route with method {other}"),
            };
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            let p = page(req.send().unwrap());
            let got = outcome(p.status, p.location.as_deref().unwrap_or(""));
            let want = match (access, who) {
                (RouteAccess::Anyone, _) => Outcome::Served,
                (_, "no one") => Outcome::SignIn,
                (_, "another org's admin") => Outcome::Refused,
                (RouteAccess::SignedIn, _) => Outcome::Served,
                (RouteAccess::Viewer, "a member") => Outcome::Refused,
                (RouteAccess::Viewer, _) => Outcome::Served,
                (RouteAccess::Admin, "an admin") => Outcome::Served,
                (RouteAccess::Admin, _) => Outcome::Refused,
            };
            assert_eq!(
                got, want,
                "{method} {path} as {who}: {} {:?}\n{}",
                p.status, p.location, p.body
            );
            if got == Outcome::Refused && who != "another org's admin" {
                assert!(
                    p.body.contains("IAM Viewer") || p.body.contains("IAM Admin"),
                    "{method} {path} as {who}: the refusal names the role: {}",
                    p.body
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 5 * routes.len());

    // The admin API, to a browser's session: the same roles. (Its bearer
    // tokens have tests of their own: tests/api/saml.rs.)
    let mia_id = app
        .get_with("/Users", &[("filter", "userName eq \"mia@example.com\"")])
        .body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let api: [(&str, RouteAccess); 4] = [
        ("/api/v1/session", RouteAccess::SignedIn),
        ("/api/v1/orgs/acme/scim-log", RouteAccess::Admin),
        ("/api/v1/orgs/acme/audit", RouteAccess::Admin),
        // Anyone's keys: an admin's; a member reaches only their own.
        (
            "/api/v1/orgs/acme/users/target@example.com/ssh-keys",
            RouteAccess::Admin,
        ),
    ];
    for (who, cookie) in [
        ("no one", None),
        ("a member", Some(&member)),
        ("a viewer", Some(&viewer)),
        ("another org's admin", Some(&stranger)),
        ("an admin", Some(&admin)),
    ] {
        for (path, access) in &api {
            let mut req = browser().get(app.url(path));
            if let Some(c) = cookie {
                req = req.header("cookie", c.as_str());
            }
            let status = req.send().unwrap().status().as_u16();
            let want = match (access, who) {
                (_, "no one") => 401,
                (RouteAccess::SignedIn, _) => 200,
                (_, "an admin") => 200,
                _ => 403,
            };
            assert_eq!(status, want, "GET {path} as {who}");
        }
    }
    let own = format!("/api/v1/orgs/acme/users/{mia_id}/ssh-keys");
    let status = browser()
        .get(app.url(&own))
        .header("cookie", &member)
        .send()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 200, "a member reads their own keys");
    // Nothing the viewer or the member posted was done.
    let viewers = cli_json(&app.db, &["group", "show", "acme", "viewers"]);
    assert_eq!(viewers["members"].as_array().unwrap().len(), 1, "{viewers}");
}
