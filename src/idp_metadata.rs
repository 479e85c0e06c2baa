//! Fetching an IdP's metadata over HTTP, for `roster saml set
//! --metadata-url` and the console's "Metadata URL" (Entra's App
//! Federation Metadata URL). Fetched once, when configured; not refreshed.
//!
//! In the console the URL is typed by an org's IAM Admin and fetched by
//! the server: unguarded, that is a request forgery from the server's
//! place in the network (its own `/metrics`, a cloud's instance metadata
//! at 169.254.169.254, a scan of the server's network told apart by error
//! texts). So (docs/security.md, "The SAML metadata URL"): only public
//! addresses unless the operator allows private ones, checked on the
//! address actually connected to and again at every redirect, with the
//! connection pinned to that address so that a second DNS answer cannot
//! slip in (DNS rebinding); at most 1 MiB read, 10 s in all, a few fetches
//! at once; and one text for every failure of the fetch itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use url::{Host, Url};

use crate::saml::metadata::MAX_METADATA_BYTES;
use crate::server::AddrRange;

/// The whole fetch, redirects included.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Each connection's set-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Redirects followed (Entra's URL answers directly; a CDN may add one).
const MAX_REDIRECTS: usize = 3;
/// Fetches under way at once in the server; more are told to try again.
const MAX_CONCURRENT: usize = 4;

/// Which private addresses may be fetched from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowPrivate {
    /// Public addresses only (the server's default).
    #[default]
    None,
    /// Every address (the operator's own command line, or
    /// `--metadata-allow-private` without a list).
    All,
    /// Public addresses and these networks (an IdP on the site's network).
    Networks(Vec<AddrRange>),
}

impl AllowPrivate {
    /// `all`, or addresses and networks separated by commas
    /// (`10.1.2.3,fd00::/8`).
    pub fn parse(s: &str) -> Result<AllowPrivate, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("all") {
            return Ok(AllowPrivate::All);
        }
        let networks = s
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::parse::<AddrRange>)
            .collect::<Result<Vec<_>, _>>()?;
        if networks.is_empty() {
            return Err(
                "give \"all\", or addresses or networks such as 10.1.2.3,10.8.0.0/16".into(),
            );
        }
        Ok(AllowPrivate::Networks(networks))
    }

    fn allows(&self, ip: IpAddr) -> bool {
        match self {
            AllowPrivate::All => true,
            AllowPrivate::None => is_public(ip),
            AllowPrivate::Networks(n) => is_public(ip) || n.iter().any(|n| n.contains(ip)),
        }
    }
}

fn in_v4(a: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(a) & mask == u32::from(net) & mask
}

fn in_v6(a: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    u128::from(a) & mask == u128::from(net) & mask
}

/// Whether `ip` is a public unicast address: none of the special-purpose
/// ranges of the IANA registries (RFC 6890), where a server's private
/// neighbours live.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    const NOT_PUBLIC: [([u8; 4], u8); 15] = [
        ([0, 0, 0, 0], 8),       // "this network", unspecified (RFC 1122 §3.2.1.3)
        ([10, 0, 0, 0], 8),      // private (RFC 1918)
        ([100, 64, 0, 0], 10),   // carrier-grade NAT (RFC 6598)
        ([127, 0, 0, 0], 8),     // loopback (RFC 1122)
        ([169, 254, 0, 0], 16),  // link-local, cloud instance metadata (RFC 3927)
        ([172, 16, 0, 0], 12),   // private (RFC 1918)
        ([192, 0, 0, 0], 24),    // IETF protocol assignments (RFC 6890)
        ([192, 0, 2, 0], 24),    // documentation (RFC 5737)
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast (RFC 7526)
        ([192, 168, 0, 0], 16),  // private (RFC 1918)
        ([198, 18, 0, 0], 15),   // benchmarking (RFC 2544)
        ([198, 51, 100, 0], 24), // documentation (RFC 5737)
        ([203, 0, 113, 0], 24),  // documentation (RFC 5737)
        ([224, 0, 0, 0], 4),     // multicast (RFC 5771)
        ([240, 0, 0, 0], 4),     // reserved, and the broadcast address (RFC 1112, RFC 919)
    ];
    !NOT_PUBLIC
        .iter()
        .any(|(net, prefix)| in_v4(a, Ipv4Addr::from(*net), *prefix))
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    // IPv4 inside IPv6 reaches the IPv4 address: mapped (::ffff:0:0/96,
    // RFC 4291 §2.5.5.2), compatible (::/96, deprecated by the same
    // section), NAT64 (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16,
    // RFC 3056) are judged by the address they carry.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        // :: and ::1 are in ::/96 too, and 0.0.0.0/8 is not public.
        return is_public_v4(embedded(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    const NOT_PUBLIC: [(u128, u8); 4] = [
        (0x2001_0000 << 96, 23), // IETF protocol assignments, Teredo (RFC 2928, RFC 4380)
        (0x2001_0db8 << 96, 32), // documentation (RFC 3849)
        (0x3fff_0000 << 96, 20), // documentation (RFC 9637)
        (0x0064_ff9b_0001 << 80, 48), // local-use NAT64 (RFC 8215)
    ];
    // Global unicast is 2000::/3 (RFC 4291 §2.4); everything else (ULA
    // fc00::/7 of RFC 4193, link-local fe80::/10, multicast ff00::/8,
    // discard 100::/64 of RFC 6666) is not public.
    in_v6(a, Ipv6Addr::from(0x2000_u128 << 112), 3)
        && !NOT_PUBLIC
            .iter()
            .any(|(net, prefix)| in_v6(a, Ipv6Addr::from(*net), *prefix))
}

/// Why a fetch gave no metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Too many fetches under way: try again in a moment.
    Busy(String),
    /// Anything else, in words for the person who gave the URL.
    Failed(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Busy(s) | FetchError::Failed(s) => f.write_str(s),
        }
    }
}

impl From<FetchError> for String {
    fn from(e: FetchError) -> String {
        e.to_string()
    }
}

/// What went wrong inside a fetch, before it is put in words.
enum Failure {
    /// A failure of the network or of the far end (refused, closed,
    /// timed out, blocked, an HTTP error, too many redirects): one text
    /// for them all; the cause only in the server's log.
    Network(String),
    TooLarge,
}

/// Fetches IdP metadata under the rules above.
#[derive(Debug)]
pub struct Fetcher {
    allow: AllowPrivate,
    /// Whether the cause of a failure is told to the person (the
    /// operator at the command line) or only logged (the server).
    explain: bool,
    permits: Arc<Semaphore>,
}

impl Fetcher {
    /// The server's: private addresses only as the operator allows.
    pub fn for_server(allow: AllowPrivate) -> Fetcher {
        Fetcher {
            allow,
            explain: false,
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT)),
        }
    }

    /// The command line's: it runs as the operator, who can reach from
    /// that machine whatever the fetch could, so every address is allowed
    /// and the cause of a failure is said.
    pub fn for_operator() -> Fetcher {
        Fetcher {
            allow: AllowPrivate::All,
            explain: true,
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT)),
        }
    }

    /// The metadata document at `url`. `what` names the URL to the person
    /// (a flag or a field) and `instead` the way around a failure.
    pub async fn fetch(&self, url: &str, what: &str, instead: &str) -> Result<String, FetchError> {
        let start = crate::saml::config::check_http_url(url, what)
            .map_err(|e| FetchError::Failed(e.to_string()))?;
        let Ok(_permit) = self.permits.clone().try_acquire_owned() else {
            return Err(FetchError::Busy(format!(
                "{MAX_CONCURRENT} metadata fetches are already under way; try again in a moment"
            )));
        };
        let outcome = match tokio::time::timeout(TOTAL_TIMEOUT, self.get(start)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Network(format!(
                "no answer within {} s",
                TOTAL_TIMEOUT.as_secs()
            ))),
        };
        let body = outcome.map_err(|f| FetchError::Failed(self.words(f, url, instead)))?;
        String::from_utf8(body).map_err(|_| {
            FetchError::Failed(format!(
                "the metadata at {url} is not UTF-8 text; use {instead} instead"
            ))
        })
    }

    fn words(&self, f: Failure, url: &str, instead: &str) -> String {
        match f {
            Failure::TooLarge => format!(
                "the metadata at {url} is larger than {} KiB, more than any IdP's; use {instead} instead",
                MAX_METADATA_BYTES / 1024
            ),
            Failure::Network(cause) => {
                let hint = if self.allow == AllowPrivate::All {
                    ""
                } else {
                    " (an address on a private network needs the operator's `roster serve --metadata-allow-private`)"
                };
                if self.explain {
                    format!(
                        "could not fetch the metadata from {url}: {cause}; check that this machine can reach it, or use {instead} instead"
                    )
                } else {
                    // The cause is the operator's to read: told to the
                    // person, it would tell an open port from a closed one.
                    tracing::warn!(url, cause, "could not fetch IdP metadata");
                    format!(
                        "could not fetch the metadata from {url}; check that the server can reach it{hint}, or use {instead} instead"
                    )
                }
            }
        }
    }

    /// GET `url`, following redirects by hand so that each hop's address
    /// is checked.
    async fn get(&self, mut url: Url) -> Result<Vec<u8>, Failure> {
        let net = |e: reqwest::Error| Failure::Network(e.to_string());
        for _ in 0..=MAX_REDIRECTS {
            let addr = self.checked_address(&url).await?;
            let mut builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would make its own connection, to an address
                // not checked here.
                .no_proxy()
                .connect_timeout(CONNECT_TIMEOUT);
            if let Some(Host::Domain(d)) = url.host() {
                // Pinned: the connection goes to the address just
                // checked, not to a second answer from DNS.
                builder = builder.resolve(d, addr);
            }
            let client = builder.build().map_err(net)?;
            let mut resp = client.get(url.clone()).send().await.map_err(net)?;
            let status = resp.status();
            if status.is_redirection() {
                let next = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| {
                        Failure::Network(format!("HTTP {status} without an http(s) Location"))
                    })?;
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(Failure::Network(format!("HTTP {status}")));
            }
            // Content-Length first, then every chunk as it comes: a body
            // past the limit is never held whole.
            if resp
                .content_length()
                .is_some_and(|n| n > MAX_METADATA_BYTES as u64)
            {
                return Err(Failure::TooLarge);
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(net)? {
                if body.len() + chunk.len() > MAX_METADATA_BYTES {
                    return Err(Failure::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(body);
        }
        Err(Failure::Network(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// The address to connect to for `url`: its literal address, or the
    /// first its name resolves to; refused unless every address the name
    /// has is allowed.
    async fn checked_address(&self, url: &Url) -> Result<SocketAddr, Failure> {
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(Host::Ipv4(a)) => vec![SocketAddr::new(IpAddr::V4(a), port)],
            Some(Host::Ipv6(a)) => vec![SocketAddr::new(IpAddr::V6(a), port)],
            Some(Host::Domain(d)) => tokio::net::lookup_host((d, port))
                .await
                .map_err(|e| Failure::Network(format!("cannot resolve {d}: {e}")))?
                .collect(),
            None => Vec::new(),
        };
        if let Some(refused) = addrs.iter().find(|a| !self.allow.allows(a.ip())) {
            return Err(Failure::Network(format!(
                "{} is not a public address, and private ones are not allowed",
                refused.ip()
            )));
        }
        addrs
            .first()
            .copied()
            .ok_or_else(|| Failure::Network("the host has no address".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn private_loopback_link_local_and_special_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "100::1",
            "64:ff9b:1::1",
        ] {
            assert!(!public(s), "{s} is not public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "20.190.128.1",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2620:1ec:bdf::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(public(s), "{s} is public");
        }
    }

    #[test]
    fn allowed_networks_open_only_themselves() {
        let a = AllowPrivate::parse("127.0.0.2, 10.8.0.0/16,fd00::/8").unwrap();
        for s in [
            "127.0.0.2",
            "::ffff:127.0.0.2",
            "10.8.200.1",
            "fd00::5",
            "8.8.8.8",
        ] {
            assert!(a.allows(s.parse().unwrap()), "{s}");
        }
        for s in ["127.0.0.1", "10.9.0.1", "::1", "fe80::1"] {
            assert!(!a.allows(s.parse().unwrap()), "{s}");
        }
        assert_eq!(AllowPrivate::parse("ALL"), Ok(AllowPrivate::All));
        for bad in ["", "10.0.0.0/33", "fd00::/129", "example.com", "10.0.0.0/x"] {
            assert!(AllowPrivate::parse(bad).is_err(), "{bad}");
        }
        assert!(!AllowPrivate::None.allows("127.0.0.1".parse().unwrap()));
        assert!(AllowPrivate::All.allows("127.0.0.1".parse().unwrap()));
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_by_its_address() {
        let f = Fetcher::for_server(AllowPrivate::None);
        let e = f
            .fetch("http://localhost:9/m.xml", "the URL", "the fields")
            .await
            .unwrap_err();
        let ip = f
            .fetch("http://127.0.0.1:9/m.xml", "the URL", "the fields")
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string().replace("localhost", "H"),
            ip.to_string().replace("127.0.0.1", "H")
        );
        assert!(
            e.to_string().starts_with("could not fetch the metadata"),
            "{e}"
        );
    }
}
