//! Identifiers people are known by (a user's `userName`, a group's
//! `displayName`, a SAML NameID) must be in Unicode normal form NFKC.
//! Otherwise two identities that the IdP holds apart reach one account:
//! `kate@example.com` written with the Kelvin sign (U+212A) case-folds to
//! the same text as the real Kate's. Refusing what is not already
//! normalised, rather than normalising it quietly, keeps Roster's record
//! equal to the IdP's.

use unicode_normalization::{UnicodeNormalization, is_nfkc};

use super::{DirectoryError, DirectoryResult};

/// Refuses an identifier that is not in NFKC, saying what to send.
pub fn check_identifier(attr: &str, value: &str) -> DirectoryResult<()> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(DirectoryError::InvalidValue(format!(
            "{attr} contains the control character U+{:04X}; identifiers may not hold control characters",
            u32::from(c)
        )));
    }
    if is_nfkc(value) {
        return Ok(());
    }
    let normal: String = value.nfkc().collect();
    Err(DirectoryError::InvalidValue(format!(
        "{attr} \"{value}\" is not in Unicode normal form NFKC (it would be \"{normal}\"); identifiers must be sent normalised, so that look-alike characters cannot name someone else"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_are_refused() {
        assert!(check_identifier("userName", "kate@example.com").is_ok());
        assert!(check_identifier("userName", "Zoë Ångström").is_ok());
        for s in [
            "\u{212A}ate@example.com",
            "ﬁona@example.com",
            "ａda@example.com",
        ] {
            assert!(check_identifier("userName", s).is_err(), "{s}");
        }
    }
}
