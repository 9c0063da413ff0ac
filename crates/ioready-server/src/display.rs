//! The lines of the seeds' Python server, for [`ServerEvent`]s.

use std::fmt;
use std::net::SocketAddr;

use crate::{CloseReason, ServerEvent};

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

impl fmt::Display for ServerEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
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
                "warning: accept failed ({e}): serving existing connections, not accepting for {} ms",
                d.as_millis()
            ),
            ServerEvent::AcceptFailed(e) => write!(f, "warning: accepting a connection failed: {e}"),
            ServerEvent::ShuttingDown { conns, pending } => write!(
                f,
                "shutting down: no longer accepting; flushing {pending} bytes to {conns} connections"
            ),
        }
    }
}
