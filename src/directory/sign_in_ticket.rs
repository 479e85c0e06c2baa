//! The sign-in ticket: what a browser carries between Roster's login
//! redirect and the IdP's answer at the ACS, instead of a row per started
//! sign-in. It names the org, the AuthnRequest's id, the purpose and an
//! expiry, and is signed with a key of the server's (HMAC-SHA256), so no
//! one can forge one. Starting a sign-in therefore writes nothing, and an
//! anonymous flood of starts cannot crowd out a real person's (with a
//! per-org table of pending requests, 10,000 anonymous GETs locked an org
//! out for ten minutes). Binding the answer to the browser that asked also
//! closes login CSRF for SP-initiated sign-in: a response the IdP issued
//! to someone else does not match this browser's ticket.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::model::SignInPurpose;

type HmacSha256 = Hmac<Sha256>;

/// What a valid ticket says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub request_id: String,
    pub purpose: SignInPurpose,
    /// Unix seconds after which it is void.
    pub expires: i64,
}

fn mac(key: &[u8], payload: &str) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(key).ok()?;
    m.update(payload.as_bytes());
    Some(m)
}

/// A signed ticket for `request_id` of `org_id`.
pub fn issue(key: &[u8], org_id: &str, t: &Ticket) -> Option<String> {
    let payload = format!(
        "{}|{}|{}|{}",
        org_id,
        t.request_id,
        t.purpose.as_str(),
        t.expires
    );
    let tag = mac(key, &payload)?.finalize().into_bytes();
    Some(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(tag)
    ))
}

/// The ticket `text` carries, if Roster signed it for `org_id` and it has
/// not expired at `now` (Unix seconds); else why not.
pub fn open(key: &[u8], text: &str, org_id: &str, now: i64) -> Result<Ticket, &'static str> {
    const FORGED: &str = "the sign-in cookie is not one Roster issued";
    let (payload, tag) = text.split_once('.').ok_or(FORGED)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| FORGED)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| FORGED)?;
    let payload = String::from_utf8(payload).map_err(|_| FORGED)?;
    // Constant-time comparison of the tag.
    mac(key, &payload)
        .ok_or(FORGED)?
        .verify_slice(&tag)
        .map_err(|_| FORGED)?;
    let mut parts = payload.split('|');
    let (Some(org), Some(id), Some(purpose), Some(expires), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(FORGED);
    };
    if org != org_id {
        return Err("the sign-in cookie belongs to another organization");
    }
    let expires: i64 = expires.parse().map_err(|_| FORGED)?;
    if expires <= now {
        return Err("the sign-in was started too long ago");
    }
    Ok(Ticket {
        request_id: id.to_string(),
        purpose: SignInPurpose::parse(purpose),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_open_only_as_issued() {
        let key = [7u8; 32];
        let t = Ticket {
            request_id: "_abc".into(),
            purpose: SignInPurpose::Test,
            expires: 1_000,
        };
        let text = issue(&key, "org1", &t).unwrap_or_default();
        assert_eq!(open(&key, &text, "org1", 999), Ok(t.clone()));
        assert!(open(&key, &text, "org1", 1_000).is_err(), "expired");
        assert!(open(&key, &text, "org2", 999).is_err(), "another org");
        assert!(open(&[8u8; 32], &text, "org1", 999).is_err(), "another key");
        let (payload, tag) = text.split_once('.').unwrap_or_default();
        let forged_payload = URL_SAFE_NO_PAD.encode("org1|_other|sign-in|9999");
        assert!(open(&key, &format!("{forged_payload}.{tag}"), "org1", 999).is_err());
        assert!(open(&key, payload, "org1", 999).is_err());
        assert!(open(&key, "", "org1", 999).is_err());
    }
}
