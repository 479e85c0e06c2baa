//! Verifying a response must not leak: samael's default reduction leaked
//! about 3 KB of libxml2 nodes per response whose assertion alone is
//! signed (found by fuzzing with LeakSanitizer), which a long-running
//! server would never give back. Its own process, so that no other test's
//! allocations move the resident size it measures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roster::saml::response::verify;
use roster::saml::{Certificate, IdpConfig, SpEndpoints};

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn verifying_signed_responses_does_not_grow_memory() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/saml/fixtures");
    let cert = std::fs::read_to_string(format!("{dir}/idp.crt")).unwrap();
    // Recorded from tests/saml/idp.py: signed, and long expired, so each
    // is verified in full and then refused at the time check.
    let idp = IdpConfig {
        entity_id: "http://127.0.0.1:43613/idp".into(),
        sso_url: "http://127.0.0.1:43613/sso".into(),
        certificates: Certificate::parse_file(&cert).unwrap(),
        require_signed_assertion: false,
        allow_idp_initiated: true,
    };
    let sp = SpEndpoints::for_org("http://127.0.0.1:8080", "o1");
    for name in ["assertion-signed-response.xml", "both-signed-response.xml"] {
        let xml = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        let e = verify(&xml, &idp, &sp).unwrap_err();
        assert_eq!(
            e.check(),
            "expired",
            "{name}: the signature must verify first: {e}"
        );
        for _ in 0..200 {
            let _ = verify(&xml, &idp, &sp);
        }
        let before = rss_kb();
        for _ in 0..3_000 {
            let _ = verify(&xml, &idp, &sp);
        }
        let grown = rss_kb().saturating_sub(before);
        // The leak grew it by ~9 MB here; allocator noise is far below 2 MB.
        assert!(
            grown < 2_048,
            "{name}: resident size grew {grown} kB over 3,000 verifications"
        );
    }
}
