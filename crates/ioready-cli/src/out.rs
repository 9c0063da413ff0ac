//! Whole lines to standard output and error. A closed output (`| head`) is
//! not an error worth dying for: the line is dropped.

use std::io::Write;

/// Writes `line` and a newline to standard output, as one write.
pub fn stdout_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// Writes `line` and a newline to standard error.
pub fn stderr_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}
