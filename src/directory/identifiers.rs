//! Identifiers people are known by (a user's `userName`, a group's
//! `displayName`, a SAML NameID) must be in Unicode normal form NFKC.
//! Otherwise two identities that the IdP holds apart reach one account:
//! `kate@example.com` written with the Kelvin sign (U+212A) case-folds to
//! the same text as the real Kate's. Refusing what is not already
//! normalised, rather than normalising it quietly, keeps Roster's record
//! equal to the IdP's.

use icu_properties::CodePointSetData;
use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint};
use unicode_normalization::{UnicodeNormalization, is_nfkc};

use super::{DirectoryError, DirectoryResult};

/// Refuses a name holding a character that shows nothing or turns the
/// text around: Unicode's Default_Ignorable_Code_Point (UAX #44,
/// DerivedCoreProperties.txt: U+200B ZERO WIDTH SPACE, U+00AD SOFT
/// HYPHEN, variation selectors, ...) and Bidi_Control (PropList.txt:
/// U+202E RIGHT-TO-LEFT OVERRIDE, ...). NFKC keeps them, so
/// `alice\u{200B}@example.com` would otherwise be a second account that
/// reads as Alice's in every list, log and console page.
pub fn check_visible(attr: &str, value: &str) -> Result<(), String> {
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let bidi = CodePointSetData::new::<BidiControl>();
    match value
        .chars()
        .find(|c| ignorable.contains(*c) || bidi.contains(*c))
    {
        Some(c) => Err(format!(
            "{attr} contains U+{:04X}, an invisible or text-direction character; names may not hold them, so that one name cannot pass for another",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// `text` for a terminal: each invisible, text-direction or control
/// character written as `\u{XXXX}`, so that what a client sent (the
/// provisioning log keeps refused names too) cannot hide or reorder what
/// an operator reads.
pub fn shown_plainly(text: &str) -> String {
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let bidi = CodePointSetData::new::<BidiControl>();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || ignorable.contains(c) || bidi.contains(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Refuses an identifier that is not in NFKC, or holds a control or
/// invisible character, saying what to send.
pub fn check_identifier(attr: &str, value: &str) -> DirectoryResult<()> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(DirectoryError::InvalidValue(format!(
            "{attr} contains the control character U+{:04X}; identifiers may not hold control characters",
            u32::from(c)
        )));
    }
    check_visible(attr, value).map_err(DirectoryError::InvalidValue)?;
    if is_nfkc(value) {
        return Ok(());
    }
    let normal: String = value.nfkc().collect();
    // The characters that change, by code point: a look-alike prints as
    // what it resembles, so the two spellings alone would read the same.
    let changed: Vec<String> = value
        .chars()
        .filter(|c| !is_nfkc(c.encode_utf8(&mut [0; 4])))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    let which = if changed.is_empty() {
        "a combining sequence".to_string()
    } else {
        changed.join(", ")
    };
    Err(DirectoryError::InvalidValue(format!(
        "{attr} \"{value}\" is not in Unicode normal form NFKC ({which} would change; the NFKC form is \"{normal}\"); identifiers must be sent normalised, so that look-alike characters cannot name someone else"
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hidden_characters_are_shown_by_code_point() {
        assert_eq!(
            shown_plainly("a\u{202E}b\u{200B}c\nd é"),
            "a\\u{202E}b\\u{200B}c\\u{000A}d é"
        );
    }

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
        let e = check_identifier("userName", "\u{212A}ate@example.com").unwrap_err();
        assert!(e.to_string().contains("(U+212A would change;"), "{e}");
    }

    #[test]
    fn invisible_and_direction_characters_are_refused_by_code_point() {
        for (s, shown) in [
            ("alice\u{200B}@example.com", "U+200B"),
            ("admins\u{200B}", "U+200B"),
            ("evil\u{202E}moc.elpmaxe@", "U+202E"),
            ("a\u{2066}b", "U+2066"),
            ("soft\u{00AD}hyphen", "U+00AD"),
            ("zwj\u{200D}x", "U+200D"),
            ("tag\u{E0041}", "U+E0041"),
        ] {
            let e = check_identifier("userName", s).unwrap_err().to_string();
            assert!(e.contains("userName") && e.contains(shown), "{s:?}: {e}");
        }
        // Letters of other scripts, and marks that show, are names.
        for s in ["Zoë Ångström", "محمد", "श्रेया", "ada@example.com"] {
            assert!(check_identifier("userName", s).is_ok(), "{s}");
        }
    }
}
