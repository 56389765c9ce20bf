//! Printing: lines on stdout, JSON for scripts.

use crate::error::{fail, R};

/// Prints a line on stdout; a closed pipe (`hookline status | grep -q ...`) is not an error.
pub fn emit(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// `v` as pretty JSON (`--json`).
pub fn to_json<T: serde::Serialize>(v: &T) -> R<String> {
    serde_json::to_string_pretty(v).map_err(|e| fail(format!("cannot print JSON: {e}")))
}
