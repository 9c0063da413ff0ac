//! Fixed work for counting system calls per event on a `Selector` backend
//! (bench/uring-counts.sh runs it under `strace -f -c`):
//!
//! * `oneshot`: a descriptor that stays ready, registered oneshot; N times:
//!   one wait that reports it, one reregister that re-arms it;
//! * `churn`: N times: register a ready descriptor, one wait that reports
//!   it, deregister it (a connection's life, without the I/O);
//! * `level`: a descriptor that stays ready, level-triggered; N waits;
//! * `idle-churn`: N times: register an idle descriptor, one wait with a
//!   zero timeout (which arms it in the kernel), deregister it (on io_uring
//!   a request armed in the kernel is cancelled at once: one call).
//!
//! Usage: `rearm BACKEND MODE N` (for example `rearm uring oneshot 10000`).
//! N = 0 does the set-up only, so that a difference of two runs is the cost
//! of N events.

use std::io;
use std::time::Duration;

use ioready::{Backend, Events, Interest, Selector, Token, Trigger};
use rustix::event::{eventfd, EventfdFlags};

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [backend, mode, n] = args.as_slice() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: rearm BACKEND oneshot|churn|level|idle-churn N",
        ));
    };
    let backend: Backend = backend.parse()?;
    let n: u64 = n
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("N: {e}")))?;
    let mut sel = Selector::with_backend(backend)?;
    let reg = sel.registry().clone();
    let fd = eventfd(1, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
    let mut events = Events::with_capacity(16);
    let timeout = Some(Duration::from_secs(5));
    let mut seen = 0u64;
    match mode.as_str() {
        "oneshot" => {
            reg.register_with(&fd, Token(1), Interest::READABLE, Trigger::Oneshot)?;
            for _ in 0..n {
                sel.select(&mut events, timeout)?;
                seen += events.len() as u64;
                reg.reregister_with(&fd, Token(1), Interest::READABLE, Trigger::Oneshot)?;
            }
        }
        "churn" => {
            for _ in 0..n {
                reg.register(&fd, Token(1), Interest::READABLE)?;
                sel.select(&mut events, timeout)?;
                seen += events.len() as u64;
                reg.deregister(&fd)?;
            }
        }
        "idle-churn" => {
            let idle = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            for _ in 0..n {
                reg.register(&idle, Token(2), Interest::READABLE)?;
                sel.select(&mut events, Some(Duration::ZERO))?;
                seen += 1 - events.len() as u64;
                reg.deregister(&idle)?;
            }
        }
        "level" => {
            reg.register(&fd, Token(1), Interest::READABLE)?;
            for _ in 0..n {
                sel.select(&mut events, timeout)?;
                seen += events.len() as u64;
            }
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("mode: {other:?} (expected oneshot, churn, level or idle-churn)"),
            ))
        }
    }
    if seen != n {
        return Err(io::Error::other(format!("{seen} events for {n} waits")));
    }
    Ok(())
}
