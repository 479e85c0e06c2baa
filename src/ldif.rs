//! LDIF (RFC 2849) content records, as `slapcat` and `ldapsearch -LLL`
//! write them: each entry a `dn:` line and `attribute: value` lines,
//! entries apart by a blank line. Only what `roster import --ldif` needs:
//! values as text (`attr: value`) or base64 (`attr:: value`, §2 "value-spec"),
//! folded lines (a line that begins with one space continues the one before,
//! §2 note 2), `#` comments (§2 note 3), attribute names compared without
//! case and options (`cn;lang-en`). Change records and URL values
//! (`attr:< file://...`) are refused, since an export never has them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// One entry: its DN and attributes in file order (names lower-cased,
/// without options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    /// The line the entry starts on, for messages.
    pub line: usize,
    pub attrs: Vec<(String, String)>,
}

impl Entry {
    /// Every value of `attr`.
    pub fn all<'a>(&'a self, attr: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attrs
            .iter()
            .filter(move |(a, _)| a.eq_ignore_ascii_case(attr))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `attr`.
    pub fn first(&self, attr: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attr))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the entry has `class` among its objectClass values.
    pub fn is_a(&self, class: &str) -> bool {
        self.all("objectclass")
            .any(|c| c.eq_ignore_ascii_case(class))
    }
}

/// Unfolds continuation lines: (line number, logical line).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix(' ')
            && let Some(last) = out.last_mut()
            && !last.1.is_empty()
        {
            last.1.push_str(rest);
            continue;
        }
        out.push((i + 1, raw.to_string()));
    }
    out
}

/// Parses an LDIF file into its entries.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    for (n, line) in logical_lines(text) {
        if line.is_empty() {
            entries.extend(current.take());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((name, rest)) = line.split_once(':') else {
            return Err(format!(
                "line {n}: expected \"attribute: value\", found \"{}\"",
                line.chars().take(60).collect::<String>()
            ));
        };
        let value = if let Some(b64) = rest.strip_prefix(':') {
            let bytes = STANDARD
                .decode(b64.trim())
                .map_err(|_| format!("line {n}: the base64 value of {name} does not decode"))?;
            String::from_utf8(bytes)
                .map_err(|_| format!("line {n}: the value of {name} is not UTF-8 text"))?
        } else if rest.starts_with('<') {
            return Err(format!(
                "line {n}: {name} refers to a URL; export the values themselves (slapcat, ldapsearch -LLL)"
            ));
        } else {
            rest.trim_start_matches(' ').to_string()
        };
        // Attribute options (`;binary`, `;lang-en`) do not change what it is.
        let attr = name.split(';').next().unwrap_or(name).to_ascii_lowercase();
        if attr == "version" && current.is_none() {
            continue;
        }
        if attr == "changetype" {
            return Err(format!(
                "line {n}: a change record; roster imports an export of entries (slapcat, ldapsearch -LLL)"
            ));
        }
        match &mut current {
            None if attr == "dn" => {
                current = Some(Entry {
                    dn: value,
                    line: n,
                    attrs: Vec::new(),
                })
            }
            None => {
                return Err(format!(
                    "line {n}: an entry must begin with \"dn:\", found \"{name}:\""
                ));
            }
            Some(e) => e.attrs.push((attr, value)),
        }
    }
    entries.extend(current);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn folded_base64_and_comment_lines_are_read_as_rfc_2849_says() {
        let text = "version: 1\n\
                    # a comment\n\
                    dn: uid=ada,ou=People,dc=example,dc=org\n\
                    objectClass: posixAccount\n\
                    objectclass: ldapPublicKey\n\
                    uid: ada\n\
                    sshPublicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA\n \
                    ILenAM0cpltQu8JJx1at ada@laptop\n\
                    cn;lang-en:: QWRhIEzDtnZlbGFjZQ==\n\
                    \n\
                    dn: cn=gpu,ou=Groups,dc=example,dc=org\n\
                    memberUid: ada\n\
                    memberUid: bob\n";
        let e = parse(text).unwrap();
        assert_eq!(e.len(), 2);
        assert!(e[0].is_a("posixaccount") && e[0].is_a("ldapPublicKey"));
        assert_eq!(
            e[0].first("sshpublickey"),
            Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILenAM0cpltQu8JJx1at ada@laptop")
        );
        assert_eq!(e[0].first("cn"), Some("Ada Lövelace"));
        assert_eq!(e[1].line, 11);
        assert_eq!(e[1].all("memberuid").collect::<Vec<_>>(), ["ada", "bob"]);
    }

    #[test]
    fn what_an_export_never_holds_is_refused_with_its_line() {
        for (text, says) in [
            ("uid: ada\n", "line 1: an entry must begin with \"dn:\""),
            ("dn: x\nchangetype: add\n", "line 2: a change record"),
            (
                "dn: x\njpegPhoto:< file:///etc/shadow\n",
                "line 2: jpegPhoto refers to a URL",
            ),
            ("dn: x\ncn:: !!!\n", "line 2: the base64 value of cn"),
            ("dn: x\nno colon here\n", "line 2: expected"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with(says), "{text:?}: {e}");
        }
    }
}
