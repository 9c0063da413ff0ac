//! The seeds' transcript: how the command prints what the server library
//! reports, and the Python-style addresses and byte strings its clients
//! print too. The library's [`ServerEvent`]s carry data only; the wording
//! (PyMOTW's echo server, effbot's time server) is the command's.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;

use ioready_server::{CloseReason, ServerEvent};

/// A socket address the way Python prints one: `('127.0.0.1', 55821)`.
#[derive(Debug, Clone, Copy)]
pub struct PyAddr(pub SocketAddr);

impl fmt::Display for PyAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "('{}', {})", self.0.ip(), self.0.port())
    }
}

/// Bytes shown as text between the seeds' double quotes: printable ASCII as
/// is, the rest escaped (`\n`, `\x00`), cut after 200 bytes with the total.
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a>(pub &'a [u8]);

const SHOWN: usize = 200;

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.0[..self.0.len().min(SHOWN)];
        f.write_str("\"")?;
        for &b in shown {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\t' => f.write_str("\\t")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str("\"")?;
        if self.0.len() > SHOWN {
            write!(f, "... ({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

/// The line the seeds' echo server prints for `event` (without the blank
/// line it prints before "waiting").
pub fn echo_line(event: &ServerEvent<'_>) -> String {
    let mut line = String::new();
    // Writing into a String cannot fail.
    let _ = write_echo_line(&mut line, event);
    line
}

fn write_echo_line(f: &mut String, event: &ServerEvent<'_>) -> fmt::Result {
    match event {
        ServerEvent::Starting(a) => write!(f, "starting up on {} port {}", a.ip(), a.port()),
        ServerEvent::Waiting => f.write_str("waiting for the next event"),
        ServerEvent::TimedOut => f.write_str("  timed out, do some other work here"),
        ServerEvent::Accepted(p) => write!(f, "new connection from {}", PyAddr(*p)),
        ServerEvent::Received(p, d) => write!(f, "received {} from {}", Bytes(d), PyAddr(*p)),
        ServerEvent::Sent(p, d) => write!(f, "sending {} to {}", Bytes(d), PyAddr(*p)),
        ServerEvent::QueueEmpty(p) => write!(f, "output queue for {} is empty", PyAddr(*p)),
        ServerEvent::Closed(p, reason) => {
            write!(f, "closing {}", PyAddr(*p))?;
            match reason {
                CloseReason::Eof => f.write_str(" after reading no data"),
                CloseReason::Done => Ok(()),
                CloseReason::Error(e) => write!(f, " after error: {e}"),
                CloseReason::Idle => f.write_str(" after idle timeout"),
                CloseReason::Shutdown(0) => f.write_str(" at shutdown"),
                CloseReason::Shutdown(n) => {
                    write!(f, " at shutdown ({n} bytes could not be sent in time)")
                }
            }
        }
        ServerEvent::Rejected {
            peer,
            count,
            max_conns,
        } => write!(
            f,
            "warning: {max_conns} connections open (--max-conns): closed the new connection \
                 from {} ({count} refused since the last warning)",
            PyAddr(*peer)
        ),
        ServerEvent::AcceptPaused(e, d) => write!(
            f,
            "warning: accept failed ({e}): serving existing connections, not accepting for {} ms \
             at a time (said again only after an accept succeeds)",
            d.as_millis()
        ),
        ServerEvent::AcceptFailed(e) => write!(f, "warning: accepting a connection failed: {e}"),
        ServerEvent::EngineFallback {
            wanted,
            reason,
            backend,
        } => write!(
            f,
            "warning: --backend {wanted}: {reason}; serving on {backend} instead"
        ),
        ServerEvent::ShuttingDown { conns, pending } => write!(
            f,
            "shutting down: no longer accepting; flushing {pending} bytes to {conns} connections"
        ),
    }
}

/// The line effbot's time server prints for `event`, if any: it announces
/// itself and each connection, and says "still waiting" on each tick.
/// Warnings and the shutdown are worded as by the echo server.
pub fn time_line(event: &ServerEvent<'_>) -> Option<String> {
    match event {
        ServerEvent::Starting(a) => Some(format!("listening on {} port {}", a.ip(), a.port())),
        ServerEvent::Accepted(p) => Some(format!("connection from {}", PyAddr(*p))),
        ServerEvent::TimedOut => Some("still waiting".to_string()),
        ServerEvent::ShuttingDown { .. } => Some(echo_line(event)),
        _ if event.is_warning() => Some(echo_line(event)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:55821".parse().unwrap()
    }

    #[test]
    fn one_echo_reads_like_the_seeds() {
        let p = peer();
        let msg = b"This is the message. ";
        let lines: Vec<String> = [
            ServerEvent::Starting("127.0.0.1:10000".parse().unwrap()),
            ServerEvent::Waiting,
            ServerEvent::Accepted(p),
            ServerEvent::Received(p, msg),
            ServerEvent::Sent(p, msg),
            ServerEvent::QueueEmpty(p),
            ServerEvent::Closed(p, CloseReason::Eof),
            ServerEvent::TimedOut,
        ]
        .iter()
        .map(echo_line)
        .collect();
        assert_eq!(
            lines,
            [
                "starting up on 127.0.0.1 port 10000",
                "waiting for the next event",
                "new connection from ('127.0.0.1', 55821)",
                "received \"This is the message. \" from ('127.0.0.1', 55821)",
                "sending \"This is the message. \" to ('127.0.0.1', 55821)",
                "output queue for ('127.0.0.1', 55821) is empty",
                "closing ('127.0.0.1', 55821) after reading no data",
                "  timed out, do some other work here",
            ]
        );
    }

    #[test]
    fn close_reasons_and_escapes() {
        let p = peer();
        let e = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let line = |r| echo_line(&ServerEvent::Closed(p, r));
        assert_eq!(line(CloseReason::Done), "closing ('127.0.0.1', 55821)");
        assert_eq!(
            line(CloseReason::Idle),
            "closing ('127.0.0.1', 55821) after idle timeout"
        );
        assert_eq!(
            line(CloseReason::Shutdown(0)),
            "closing ('127.0.0.1', 55821) at shutdown"
        );
        assert_eq!(
            line(CloseReason::Shutdown(7)),
            "closing ('127.0.0.1', 55821) at shutdown (7 bytes could not be sent in time)"
        );
        assert!(
            line(CloseReason::Error(&e)).starts_with("closing ('127.0.0.1', 55821) after error: ")
        );
        assert_eq!(
            echo_line(&ServerEvent::Received(p, b"a\"b\\\n\r\t\x01\x7f")),
            "received \"a\\\"b\\\\\\n\\r\\t\\x01\\x7f\" from ('127.0.0.1', 55821)"
        );
        // Long data is cut after 200 bytes, with the total.
        let long = [b'x'; 300];
        let shown = echo_line(&ServerEvent::Sent(p, &long));
        assert!(shown.starts_with(&format!("sending \"{}\"... (300 bytes)", "x".repeat(200))));
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(PyAddr(v6).to_string(), "('::1', 80)");
    }

    #[test]
    fn the_time_server_words_its_own_lines() {
        let p = peer();
        assert_eq!(
            time_line(&ServerEvent::Starting("127.0.0.1:8037".parse().unwrap())).unwrap(),
            "listening on 127.0.0.1 port 8037"
        );
        assert_eq!(
            time_line(&ServerEvent::Accepted(p)).unwrap(),
            "connection from ('127.0.0.1', 55821)"
        );
        assert_eq!(time_line(&ServerEvent::TimedOut).unwrap(), "still waiting");
        assert_eq!(time_line(&ServerEvent::Waiting), None);
        assert_eq!(time_line(&ServerEvent::Sent(p, b"abcd")), None);
        let e = std::io::Error::from_raw_os_error(24);
        let warning = time_line(&ServerEvent::AcceptPaused(&e, std::time::Duration::MAX)).unwrap();
        assert!(warning.starts_with("warning: accept failed"), "{warning}");
        // It says how often it is said (issue 18: once per episode, not once).
        assert!(
            warning.contains("said again only after an accept succeeds"),
            "{warning}"
        );
    }
}
