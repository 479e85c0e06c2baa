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
