//! Wait for I/O efficiently: Python's `select` module, done properly in Rust.
//!
//! * [`select()`] over any values that carry a descriptor ([`AsFd`](std::os::fd::AsFd)),
//!   answering with the caller's own values, with no `FD_SETSIZE` limit.
//! * [`Poll`]: the `poll(2)` registry of Python's `select.poll()`
//!   (register / modify / unregister / poll, the `POLL*` flags).
//! * [`Epoll`] (Linux): level, edge, oneshot and exclusive registrations,
//!   waits into a caller-provided buffer.
//! * `Kqueue` through the [`Selector`] on macOS and the BSDs.
//! * [`Selector`]: the portable front, on the best backend of the platform or
//!   a named one ([`Backend`]), with [`Token`]s, [`Interest`]s,
//!   [`Trigger`] modes, a thread-safe [`Registry`] and cross-thread
//!   [`Waker`]s.
//!
//! # Timeouts
//!
//! Every wait takes `Option<Duration>`: `None` blocks, zero polls, anything
//! else waits at most that long and never returns earlier; sub-millisecond
//! timeouts are honoured (`epoll_pwait2`, `ppoll`, `pselect6`) or rounded up,
//! never down to a busy loop; huge ones are clamped, never wrapped. A signal
//! that interrupts a wait (`EINTR`) is retried with the time that remains
//! (PEP 475). The `*_once` variants return `Interrupted` instead, for callers
//! that must act between attempts (use [`Deadline`] to keep the time).
//!
//! # Descriptor lifetime
//!
//! Registrations keep descriptor *numbers*, as the kernel does; they never
//! read, write or close them. What happens to a descriptor closed without
//! being deregistered is defined per backend: see [`Registry`].
//!
//! # Errors
//!
//! Kernel errors come back as [`std::io::Error`] with the OS error code kept
//! (`raw_os_error()`); bad arguments give `InvalidInput` with a message naming
//! the argument; unknown or duplicate registrations give `NotFound` and
//! `AlreadyExists`. Nothing here panics on any input. Every descriptor the
//! crate creates is close-on-exec and closed on drop.
//!
//! # Example: the select echo server, in miniature
//!
//! The loop of the classic Python echo server (accept, read into a
//! per-connection queue, write when writable), on [`select()`]:
//!
//! ```
//! use std::collections::HashMap;
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::time::Duration;
//!
//! let server = TcpListener::bind("127.0.0.1:0")?;
//! server.set_nonblocking(true)?;
//! let mut client = TcpStream::connect(server.local_addr()?)?;
//! client.write_all(b"This is the message. ")?;
//!
//! let mut conns: Vec<TcpStream> = Vec::new();
//! let mut queues: HashMap<usize, Vec<u8>> = HashMap::new();
//! let mut echoed = Vec::new();
//! while echoed.len() < 21 {
//!     // Readers: the listener and every connection. Writers: connections
//!     // with something queued.
//!     let writers: Vec<&TcpStream> =
//!         conns.iter().enumerate().filter(|(i, _)| !queues[i].is_empty()).map(|(_, c)| c).collect();
//!     let listener = [&server];
//!     let ready = ioready::select(&conns, &writers, &[] as &[TcpStream], Some(Duration::from_secs(5)))?;
//!     let accept = ioready::select(&listener, &[] as &[&TcpListener], &[] as &[&TcpListener], Some(Duration::ZERO))?;
//!     assert!(!ready.is_empty() || !accept.is_empty() || conns.is_empty(), "timed out");
//!
//!     let readable: Vec<usize> = ready.readable_positions().collect();
//!     let writable: Vec<usize> = ready.writable().map(|w| conns.iter().position(|c| std::ptr::eq(c, *w)).unwrap()).collect();
//!     drop(ready);
//!     if accept.readable().next().is_some() {
//!         let (conn, _) = server.accept()?;
//!         conn.set_nonblocking(true)?;
//!         queues.insert(conns.len(), Vec::new());
//!         conns.push(conn);
//!     }
//!     for i in readable {
//!         let mut buf = [0; 1024];
//!         match conns[i].read(&mut buf) {
//!             Ok(n) => queues.get_mut(&i).unwrap().extend_from_slice(&buf[..n]),
//!             Err(e) if e.kind() == ErrorKind::WouldBlock => {}
//!             Err(e) => return Err(e),
//!         }
//!     }
//!     for i in writable {
//!         let q = queues.get_mut(&i).unwrap();
//!         let n = conns[i].write(q)?;
//!         q.drain(..n);
//!     }
//!     // The client reads its echo.
//!     client.set_read_timeout(Some(Duration::from_millis(10)))?;
//!     let mut buf = [0; 64];
//!     if let Ok(n) = client.read(&mut buf) {
//!         echoed.extend_from_slice(&buf[..n]);
//!     }
//! }
//! assert_eq!(echoed, b"This is the message. ");
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg(unix)]

mod event;
mod flags;
mod notify;
mod poll;
mod select;
mod selector;
mod timeout;

#[cfg(ioready_epoll)]
mod epoll;

#[cfg(ioready_epoll)]
pub use epoll::{Epoll, EpollEvents, EpollFlags};
pub use event::{Event, Events, Interest, Token, Trigger};
pub use poll::{Poll, PollFlags, PollReady};
pub use select::{select, select_once, Selected};
pub use selector::{Backend, Registry, Selector, Waker};
pub use timeout::Deadline;
