//! How commands print: JSON for `--json`, aligned text for people.
//! Results go to standard output; guidance ("Next: ...") to standard error,
//! so `$(roster org create acme)` captures only the id.

use serde::Serialize;

/// Prints a value as pretty JSON (the `--json` form of every command).
pub fn print_json(v: impl Serialize) {
    match serde_json::to_string_pretty(&v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print the result as JSON: {e}"),
    }
}

pub fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

pub fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// "1 session", "2 sessions".
pub fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
