//! Issue 22's web findings, against the running server: the console's
//! SAML Metadata URL cannot be turned on the server's own network, org
//! pages do not tell which orgs exist, login links and logout refuse
//! cross-site posts, and the safe defaults (docs/security.md).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use crate::helpers::{TestApp, cli_json, cli_ok};
use crate::saml::{Page, browser, page};

/// An IdP's metadata with the test IdP's certificate: enough for Roster
/// to accept it.
fn metadata_xml() -> String {
    let pem = include_str!("../saml/fixtures/idp.crt");
    let cert: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/tiny"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

/// A tiny HTTP server on `bind` that answers every connection with
/// `answer`, and reports for each how many bytes it managed to send.
fn tiny_server(
    bind: &str,
    answer: impl Fn(&mut TcpStream) -> u64 + Send + 'static,
) -> (u16, mpsc::Receiver<u64>) {
    let listener = TcpListener::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            // Never hang the test: a stalled peer ends the answer.
            let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            read_request_head(&mut stream);
            let sent = answer(&mut stream);
            if tx.send(sent).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

/// Reads up to the end of the request's headers.
fn read_request_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
}

/// Writes `head`, then up to `body_bytes` of filler; the bytes sent.
fn send(stream: &mut TcpStream, head: &str, body_bytes: u64) -> u64 {
    if stream.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0u64;
    while sent < body_bytes {
        match stream.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => sent += n as u64,
        }
    }
    sent
}

fn ok_with(body: String) -> impl Fn(&mut TcpStream) -> u64 + Send + 'static {
    move |s| {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/samlmetadata+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body.as_bytes());
        body.len() as u64
    }
}

fn redirect_to(location: String) -> impl Fn(&mut TcpStream) -> u64 + Send + 'static {
    move |s| {
        let head = format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = s.write_all(head.as_bytes());
        0
    }
}

/// A session as the org's bootstrap administrator (an IAM Admin).
fn admin_cookie(app: &TestApp) -> String {
    let public = format!("--public-url=http://{}", app.addr);
    let link = cli_ok(&app.db, &["admin", "login-link", "acme", &public]);
    let p = page(browser().post(link.trim()).send().unwrap());
    assert_eq!(p.status, 303, "{}", p.body);
    p.cookie.unwrap()
}

/// A console form posted as the browser does from the console's page.
fn console_post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> Page {
    let body = browser()
        .get(app.url("/console/acme/saml"))
        .header("cookie", cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let at = body.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = body[at..at + 64].to_string();
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    page(
        browser()
            .post(app.url(path))
            .header("cookie", cookie)
            .header("origin", app.url(""))
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap(),
    )
}

/// The console's "Next" with a Metadata URL.
fn review(app: &TestApp, cookie: &str, metadata_url: &str) -> Page {
    console_post(
        app,
        cookie,
        "/console/acme/saml/review",
        &[
            ("metadata_url", metadata_url),
            ("sso_url", ""),
            ("entity_id", ""),
            ("certificate", ""),
        ],
    )
}

fn nothing_configured(app: &TestApp) {
    assert!(cli_json(&app.db, &["saml", "show", "acme"])["idp"].is_null());
}

fn healthy(app: &TestApp) {
    let r = browser().get(app.url("/healthz")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200, "the server survives");
}

#[test]
fn metadata_urls_on_the_servers_own_network_are_refused_alike() {
    let app = TestApp::start();
    let cookie = admin_cookie(&app);
    // Open: Roster's own port (its /metrics), and a server that would
    // answer with real metadata. Closed: a port nothing listens on.
    let (served, _rx) = tiny_server("127.0.0.1:0", ok_with(metadata_xml()));
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let own = app.addr.rsplit(':').next().unwrap().to_string();
    let mut texts = Vec::new();
    for url in [
        format!("http://127.0.0.1:{own}/metrics"),
        format!("http://127.0.0.1:{served}/metrics"),
        format!("http://127.0.0.1:{closed}/metrics"),
        format!("http://0x7f000001:{served}/metrics"),
        format!("http://[::ffff:127.0.0.1]:{own}/metrics"),
        format!("http://localhost:{own}/metrics"),
    ] {
        let p = review(&app, &cookie, &url);
        assert_eq!(p.status, 400, "{url}: {}", p.body);
        assert!(
            p.body.contains("could not fetch the metadata from")
                && p.body.contains("--metadata-allow-private"),
            "{url}: {}",
            p.body
        );
        assert!(!p.body.contains("roster_"), "nothing of /metrics shown");
        // The page shows the URL typed; nothing else may depend on what
        // is at the far end.
        texts.push(p.body.replace(&url, "URL"));
    }
    for t in &texts[1..] {
        assert_eq!(t, &texts[0], "the refusal tells one target from another");
    }
    nothing_configured(&app);
}

#[test]
fn a_redirect_to_loopback_is_refused_at_every_hop() {
    // Only 127.0.0.2 is allowed: the first hop, a server the test runs.
    let app = TestApp::start_with(&["--metadata-allow-private", "127.0.0.2"]);
    let cookie = admin_cookie(&app);
    let (v4, _rx4) = tiny_server("127.0.0.1:0", ok_with(metadata_xml()));
    let (v6, _rx6) = tiny_server("[::1]:0", ok_with(metadata_xml()));
    // The allowed address itself works: what follows is refused for
    // where it leads, not for where it starts.
    let (direct, _rxd) = tiny_server("127.0.0.2:0", ok_with(metadata_xml()));
    let p = review(&app, &cookie, &format!("http://127.0.0.2:{direct}/m.xml"));
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("https://idp.example/tiny"), "{}", p.body);
    for target in [
        format!("http://0x7f000001:{v4}/m.xml"),
        format!("http://[::1]:{v6}/m.xml"),
    ] {
        let (hop, _rx) = tiny_server("127.0.0.2:0", redirect_to(target.clone()));
        let p = review(&app, &cookie, &format!("http://127.0.0.2:{hop}/m.xml"));
        assert_eq!(p.status, 400, "{target}: {}", p.body);
        assert!(
            p.body.contains("could not fetch the metadata from"),
            "{target}: {}",
            p.body
        );
        assert!(!p.body.contains("https://idp.example/tiny"));
    }
    nothing_configured(&app);
}

#[test]
fn metadata_past_the_limit_is_refused_while_it_is_read() {
    let app = TestApp::start_with(&["--metadata-allow-private"]);
    let cookie = admin_cookie(&app);
    const BODY: u64 = 64 << 20;
    // An 800 MB Content-Length, and a body without one; each sends up to
    // 64 MiB unless Roster hangs up first.
    let (declared, declared_rx) = tiny_server("127.0.0.1:0", |s| {
        send(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: 800000000\r\n\r\n",
            BODY,
        )
    });
    let (streamed, streamed_rx) = tiny_server("127.0.0.1:0", |s| {
        send(s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", BODY)
    });
    for (port, rx) in [(declared, declared_rx), (streamed, streamed_rx)] {
        let p = review(&app, &cookie, &format!("http://127.0.0.1:{port}/m.xml"));
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains("larger than 1024 KiB"), "{}", p.body);
        let sent = rx.recv_timeout(Duration::from_secs(120)).unwrap();
        // Socket buffers take a few MiB; a whole read takes all 64.
        assert!(
            sent < 16 << 20,
            "Roster read {sent} bytes before refusing the body"
        );
        healthy(&app);
    }
    nothing_configured(&app);
}

#[test]
fn metadata_fetches_beyond_four_at_once_are_told_to_try_again() {
    let app = TestApp::start_with(&["--metadata-allow-private"]);
    let cookie = admin_cookie(&app);
    // A server that accepts and holds each connection until told to let go.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (held_tx, held_rx) = mpsc::channel::<TcpStream>();
    std::thread::spawn(move || {
        for s in listener.incoming().map_while(Result::ok) {
            if held_tx.send(s).is_err() {
                return;
            }
        }
    });
    let url = format!("http://127.0.0.1:{port}/m.xml");
    std::thread::scope(|scope| {
        let slow: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| review(&app, &cookie, &url).status))
            .collect();
        // Four fetches are connected, and hold their places.
        let held: Vec<TcpStream> = (0..4)
            .map(|_| held_rx.recv_timeout(Duration::from_secs(60)).unwrap())
            .collect();
        let p = review(&app, &cookie, &url);
        assert_eq!(p.status, 429, "{}", p.body);
        assert!(p.body.contains("try again in a moment"), "{}", p.body);
        drop(held);
        for t in slow {
            assert_eq!(t.join().unwrap(), 400);
        }
    });
    healthy(&app);
}

/// The IdP metadata of `metadata_xml` in a file of the app's directory.
fn metadata_file(app: &TestApp) -> String {
    let path = app.dir.path().join("tiny-idp.xml");
    std::fs::write(&path, metadata_xml()).unwrap();
    path.to_str().unwrap().to_string()
}

fn get_page(app: &TestApp, path: &str) -> Page {
    page(browser().get(app.url(path)).send().unwrap())
}

#[test]
fn org_pages_look_alike_whether_or_not_the_org_exists() {
    let app = TestApp::start();
    // acme has no SAML SSO; beta has it.
    let beta = cli_ok(&app.db, &["org", "create", "beta"])
        .trim()
        .to_string();
    cli_ok(
        &app.db,
        &[
            "saml",
            "set",
            "beta",
            "--metadata-file",
            &metadata_file(&app),
        ],
    );
    let unknown_id = "0b6f4f4e-0000-4000-8000-000000000000";
    let made_up = "Your-account-is-locked.Call-555-0100";

    // The console's sign-in: one page for every path, naming no org and
    // showing nothing of the path but the (percent-encoded) link.
    let segments = [
        "acme",
        app.org_id.as_str(),
        "beta",
        beta.as_str(),
        "no-such-org",
        unknown_id,
        made_up,
    ];
    let mut pages = Vec::new();
    for seg in segments {
        let p = get_page(&app, &format!("/console/{seg}/sign-in"));
        assert_eq!(p.status, 401, "{seg}: {}", p.body);
        let link = format!("/accounts/saml/{seg}/login");
        assert!(p.body.contains(&link), "{seg}: {}", p.body);
        let rest = p.body.replace(&link, "LINK");
        for name in ["acme", "beta", "Call-555"] {
            assert!(!rest.contains(name), "{seg}: {name} in {rest}");
        }
        pages.push(rest);
    }
    for p in &pages[1..] {
        assert_eq!(p, &pages[0]);
    }

    // SP-initiated sign-in: an org without SAML SSO and no org at all get
    // the same page, which names none (beta's sends the browser to its IdP).
    let mut refusals = Vec::new();
    for seg in ["acme", app.org_id.as_str(), "no-such-org", unknown_id] {
        for start in ["login", "test"] {
            let p = get_page(&app, &format!("/accounts/saml/{seg}/{start}"));
            assert_eq!(p.status, 404, "{seg}: {}", p.body);
            assert!(!p.body.contains("acme"), "{seg}: {}", p.body);
            assert!(p.body.contains("roster saml set"), "{}", p.body);
            refusals.push(p.body);
        }
    }
    for p in &refusals[1..] {
        assert_eq!(p, &refusals[0]);
    }
    let p = get_page(&app, &format!("/accounts/saml/{beta}/login"));
    assert_eq!(p.status, 303, "{}", p.body);

    // The ACS alike.
    let acs = |seg: &str| {
        page(
            browser()
                .post(app.url(&format!("/accounts/saml/{seg}/acs")))
                .form(&[("SAMLResponse", "x")])
                .send()
                .unwrap(),
        )
    };
    let (known, none) = (acs(&app.org_id), acs(unknown_id));
    assert_eq!((known.status, none.status), (403, 403), "{}", known.body);
    assert_eq!(known.body, none.body);
    assert!(!known.body.contains("acme"), "{}", known.body);
}

/// A form post to `url` with `headers`.
fn post_with(url: &str, cookie: Option<&str>, headers: &[(&str, &str)]) -> Page {
    let mut req = browser()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    page(req.send().unwrap())
}

fn session_status(app: &TestApp, cookie: &str) -> u16 {
    browser()
        .get(app.url("/accounts/session"))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn login_links_and_logout_refuse_posts_from_other_sites() {
    let app = TestApp::start();
    let public = format!("--public-url=http://{}", app.addr);
    let link = cli_ok(&app.db, &["admin", "login-link", "acme", &public]);
    let link = link.trim();
    let evil = "https://evil.example";
    let ours = app.url("");
    // An attacker's page posting the attacker's own link (login CSRF), as
    // browsers with and without Fetch Metadata send it, from a sibling
    // subdomain, and from a sandboxed frame (Origin: null).
    for headers in [
        &[("origin", evil), ("sec-fetch-site", "cross-site")][..],
        &[("origin", evil)],
        &[("origin", ours.as_str()), ("sec-fetch-site", "same-site")],
        &[("origin", "null")],
        &[("origin", "null"), ("sec-fetch-site", "cross-site")],
    ] {
        let p = post_with(link, None, headers);
        assert_eq!(p.status, 403, "{headers:?}: {}", p.body);
        assert!(p.set_cookie.is_none(), "{headers:?}: a cookie was set");
        assert!(p.body.contains("another site"), "{}", p.body);
    }
    // The link was not used up: from Roster's own page (which sends no
    // referrer, so its post carries Origin: null) it signs in.
    let p = post_with(
        link,
        None,
        &[("origin", "null"), ("sec-fetch-site", "same-origin")],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let cookie = p.cookie.unwrap();

    // Logout from another site ends nothing.
    for headers in [
        &[("origin", evil), ("sec-fetch-site", "cross-site")][..],
        &[("origin", evil)],
    ] {
        let p = post_with(&app.url("/accounts/logout"), Some(&cookie), headers);
        assert_eq!(p.status, 403, "{}", p.body);
        assert!(p.set_cookie.is_none());
        assert_eq!(session_status(&app, &cookie), 200, "still signed in");
    }
    let p = post_with(
        &app.url("/accounts/logout"),
        Some(&cookie),
        &[
            ("origin", ours.trim_end_matches('/')),
            ("sec-fetch-site", "same-origin"),
        ],
    );
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(session_status(&app, &cookie), 401, "signed out");
}

#[test]
fn new_saml_configurations_refuse_idp_initiated_sign_in_and_pages_send_no_referrer() {
    let app = TestApp::start();
    let cookie = admin_cookie(&app);
    // The console's form starts unticked.
    let p = page(
        browser()
            .get(app.url("/console/acme/saml"))
            .header("cookie", &cookie)
            .send()
            .unwrap(),
    );
    assert_eq!(p.status, 200);
    let tick = p.body.find("name=\"allow_idp_initiated\"").unwrap();
    let input = &p.body[tick..tick + p.body[tick..].find('>').unwrap()];
    assert!(!input.contains("checked"), "{input}");
    // And the command line's default is off.
    cli_ok(
        &app.db,
        &[
            "saml",
            "set",
            "acme",
            "--metadata-file",
            &metadata_file(&app),
        ],
    );
    let shown = cli_json(&app.db, &["saml", "show", "acme"]);
    assert_eq!(shown["idp"]["allow_idp_initiated"], false, "{shown}");

    // No page sends a referrer: the console's, its sign-in, the sign-in
    // pages'.
    for (path, cookie) in [
        ("/console/acme/saml", Some(cookie.as_str())),
        ("/console/acme/sign-in", None),
        ("/accounts/session", None),
    ] {
        let mut req = browser().get(app.url(path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().unwrap();
        assert_eq!(r.headers()["referrer-policy"], "no-referrer", "{path}");
    }
}
