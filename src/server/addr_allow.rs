//! Address ranges an operator allows (`roster serve --metrics-allow`):
//! single addresses or CIDR blocks (RFC 4632 §3.1 for IPv4, RFC 4291
//! §2.3 for IPv6 prefixes).

use std::net::IpAddr;
use std::str::FromStr;

/// An address, or a block of them written `ADDRESS/PREFIX-LENGTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    net: IpAddr,
    prefix: u8,
}

impl AddrRange {
    /// Loopback: what `/metrics` answers unless told otherwise.
    pub fn loopback() -> Vec<AddrRange> {
        vec![
            AddrRange {
                net: IpAddr::from([127, 0, 0, 0]),
                prefix: 8,
            },
            AddrRange {
                net: IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        ]
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        // An IPv4 client of a dual-stack listener arrives as
        // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2): compared as IPv4.
        match (self.net, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Whether any of `ranges` holds `addr`.
pub fn allowed(ranges: &[AddrRange], addr: IpAddr) -> bool {
    ranges.iter().any(|r| r.contains(addr))
}

impl FromStr for AddrRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().map_err(|_| {
            format!(
                "\"{s}\" is not an IP address or CIDR block (such as 10.0.0.5, 10.0.0.0/24 or ::1)"
            )
        })?;
        let net = net.to_canonical();
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                format!("\"{s}\": the prefix length must be a number from 0 to {max}")
            })?,
        };
        Ok(AddrRange { net, prefix })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_blocks_hold_what_they_should() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let r = |s: &str| s.parse::<AddrRange>().unwrap();
        assert!(r("10.1.0.0/16").contains(ip("10.1.200.3")));
        assert!(!r("10.1.0.0/16").contains(ip("10.2.0.1")));
        assert!(r("10.9.9.9").contains(ip("10.9.9.9")));
        assert!(!r("10.9.9.9").contains(ip("10.9.9.8")));
        assert!(r("0.0.0.0/0").contains(ip("203.0.113.1")));
        assert!(!r("0.0.0.0/0").contains(ip("::1")));
        assert!(r("fd00::/8").contains(ip("fd12::1")));
        let lo = AddrRange::loopback();
        assert!(allowed(&lo, ip("127.0.0.1")));
        assert!(allowed(&lo, ip("::ffff:127.0.0.1")), "IPv4-mapped");
        assert!(allowed(&lo, ip("::1")));
        assert!(!allowed(&lo, ip("192.0.2.1")));
        assert!("10.0.0.0/33".parse::<AddrRange>().is_err());
        assert!("nonsense".parse::<AddrRange>().is_err());
        assert!("::/129".parse::<AddrRange>().is_err());
    }
}
