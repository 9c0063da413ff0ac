//! Wait for I/O efficiently: a portable [`Selector`] for programs that wait
//! on many sockets, pipes, timers, signals and child processes in one thread,
//! and Python's `select` module, done properly in Rust.
//!
//! A whole program (`examples/hello_selector.rs`): a listener, a client
//! thread, and one loop that accepts, reads, answers and stops; a [`Timer`]
//! is an event among the others.
//!
#![doc = concat!("```\n", include_str!("../examples/hello_selector.rs"), "```\n")]
//!
//! The selector is **level-triggered by default**, as Python's and
//! `poll(2)`'s (mio's is edge-triggered): register for `WRITABLE` only
//! while output is queued ([`Selector`] says why, and shows the pattern).
//!
//! What the crate has:
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
//! * io_uring (Linux, cargo feature `uring`): `Backend::Uring` for the
//!   [`Selector`] (registration changes at no system call), and the
//!   `uring` module, the ring itself for completion-style loops.
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
//! Compared with its peers: mio rounds sub-millisecond timeouts up and clamps
//! huge ones too (since mio#1615 and mio#1948), but its epoll backend waits
//! in whole milliseconds and returns `EINTR` to the caller; polling reaches
//! nanoseconds by re-arming a timerfd around each timed wait. Here the
//! nanoseconds go into the one wait call (`epoll_pwait2`, with a fallback to
//! milliseconds rounded up on kernels before 5.11).
//!
//! # Non-blocking sources, nesting
//!
//! Register non-blocking descriptors and read or write until `WouldBlock`:
//! an event is a hint, not a promise ([`Registry`] says why). On epoll and
//! kqueue a [`Selector`] is itself a descriptor another poller can wait on
//! ([`Selector::try_as_fd`]).
//!
//! # Descriptor lifetime
//!
//! Registrations keep descriptor *numbers*, as the kernel does; they never
//! read, write or close them. Deregister a descriptor before closing it:
//! what happens to one closed without being deregistered, and to a number
//! then reused by another file, is defined per backend but differs (see
//! [`Registry`]).
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
//! The loop of the classic Python echo server: the listener and every
//! connection are readers, connections with queued output are writers; a
//! readable listener means a connection to accept, a readable connection
//! means data to queue (or end of file), a writable one means room to send.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::os::fd::{AsFd, BorrowedFd};
//! use std::time::Duration;
//!
//! let server = TcpListener::bind("127.0.0.1:0")?;
//! let mut client = TcpStream::connect(server.local_addr()?)?;
//! client.write_all(b"This is the message. ")?;
//! client.shutdown(std::net::Shutdown::Write)?;
//!
//! // Each connection with its queue of bytes to send back.
//! let mut conns: Vec<(TcpStream, Vec<u8>)> = Vec::new();
//! let mut open = true;
//! while open {
//!     let mut readers: Vec<BorrowedFd<'_>> = vec![server.as_fd()];
//!     readers.extend(conns.iter().map(|(c, _)| c.as_fd()));
//!     let writers: Vec<BorrowedFd<'_>> =
//!         conns.iter().filter(|(_, q)| !q.is_empty()).map(|(c, _)| c.as_fd()).collect();
//!     let ready = ioready::select(&readers, &writers, &[] as &[BorrowedFd<'_>],
//!                                 Some(Duration::from_secs(5)))?;
//!     assert!(!ready.is_empty(), "timed out");
//!     // Positions in `readers`: 0 is the listener, i + 1 is conns[i].
//!     let readable: Vec<usize> = ready.readable_positions().collect();
//!     let writable: Vec<i32> = ready.writable().map(|fd| std::os::fd::AsRawFd::as_raw_fd(fd)).collect();
//!     drop(ready);
//!     for &i in readable.iter().rev() {
//!         if i == 0 {
//!             let (conn, _) = server.accept()?;
//!             conns.push((conn, Vec::new()));
//!             continue;
//!         }
//!         let (conn, queue) = &mut conns[i - 1];
//!         let mut buf = [0; 1024];
//!         match conn.read(&mut buf)? {
//!             0 => open = !queue.is_empty(), // end of file: stop once flushed
//!             n => queue.extend_from_slice(&buf[..n]),
//!         }
//!     }
//!     for (conn, queue) in conns.iter_mut() {
//!         if writable.contains(&std::os::fd::AsRawFd::as_raw_fd(conn)) {
//!             let n = conn.write(queue)?;
//!             queue.drain(..n);
//!         }
//!     }
//! }
//! let mut echoed = String::new();
//! conns.clear(); // close the server side, so the client sees end of file
//! client.read_to_string(&mut echoed)?;
//! assert_eq!(echoed, "This is the message. ");
//! # Ok::<(), std::io::Error>(())
//! ```

#![cfg(unix)]
// docs.rs (`--cfg docsrs`, see `[package.metadata.docs.rs]`): platform
// badges on the items that exist only on some systems.
#![cfg_attr(docsrs, feature(doc_cfg))]
// The badges name operating systems, not the build script's names for
// kernel mechanisms (or Unix, which the whole crate needs).
#![cfg_attr(docsrs, doc(auto_cfg(hide(unix, ioready_epoll, ioready_kqueue))))]

mod error;
mod event;
mod flags;
mod poll;
mod select;
mod selector;
mod source;
mod sys;
mod timeout;

#[cfg(ioready_epoll)]
mod epoll;

// io_uring (feature `uring`, Linux): the public front of `sys::uring`, the
// ring, for completion-style loops.
#[cfg(all(feature = "uring", target_os = "linux"))]
pub mod uring;

#[cfg(ioready_epoll)]
#[cfg_attr(docsrs, doc(cfg(any(target_os = "linux", target_os = "android"))))]
pub use epoll::{Epoll, EpollEvents, EpollFlags};
pub use event::{Event, Events, Interest, Token, Trigger};
pub use poll::{Poll, PollFlags, PollReady};
pub use select::{select, select_once, SelectSets, Selected};
pub use selector::{Backend, Registry, Selector, Waker};
pub use source::{Process, ReceivedSignals, Signal, Signals, Timer};
pub use timeout::Deadline;
