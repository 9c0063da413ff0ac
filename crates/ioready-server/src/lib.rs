//! Reusable TCP serving on [`ioready`]: one thread, one
//! [`Selector`](ioready::Selector), many connections, as Python's `asyncore`
//! and `socketserver` let you build.
//!
//! You write a [`Service`] (what to do with the bytes of a connection); the
//! [`Server`] does the rest:
//!
//! * **accept**: every pending connection is accepted per readiness; past
//!   [`Config::max_conns`] a new connection is closed at once (with a
//!   rate-limited warning), never left hanging; on `EMFILE`/`ENFILE` the
//!   listener is set aside for [`Config::accept_backoff`] (one warning) so
//!   the loop keeps serving existing connections without spinning.
//! * **output buffers**: [`Conn::send`] writes at once when nothing is
//!   queued, and queues only what the kernel did not take; queued bytes are
//!   sent, all of them and in order, when the socket becomes writable.
//!   `WRITABLE` is asked for only while bytes are pending.
//! * **backpressure**: while a connection has [`Config::output_cap`] bytes or
//!   more queued, the server stops reading from it, so a client that sends
//!   without reading cannot grow the server's memory; reading resumes once
//!   the queue has drained to half the cap.
//! * **half-close**: a client that shuts down its writing side still gets
//!   every queued byte before the server closes the connection.
//! * **errors**: `ECONNRESET` and every other per-connection error close
//!   that connection only.
//! * **idle timeouts** ([`Config::idle_timeout`]) and a periodic tick
//!   ([`Config::tick`], the seeds' `select(..., timeout)`).
//! * **shutdown**: [`ShutdownHandle::shutdown`], or `SIGINT`/`SIGTERM` with
//!   [`Config::handle_signals`]: stop accepting, stop reading, flush what can
//!   be flushed within [`Config::shutdown_grace`], close everything, and
//!   return from [`Server::run`]. A second signal stops at once.
//!
//! Two engines serve the same [`Service`] API with the same guarantees
//! ([`Config::engine`]): [`Engine::Selector`], readiness on the library's
//! `Selector` (select, poll, epoll, kqueue), and [`Engine::Uring`] (Linux,
//! cargo feature `uring`), a completion loop on io_uring: multishot accept
//! and receive into one provided buffer ring shared by all connections,
//! sends submitted in batches, one `io_uring_enter` per loop iteration (an
//! isolated echo costs one system call instead of three). Where io_uring is
//! refused (a seccomp filter such as Docker's default profile,
//! `kernel.io_uring_disabled`, an old kernel) the server falls back to the
//! readiness engine and says why once ([`ServerEvent::EngineFallback`]).
//!
//! What happens is reported to an [`Observer`] as [`ServerEvent`]s (the
//! `ioready` command prints them as the seeds' transcript lines). With
//! [`Config::trace`] off only warnings and the start are reported, and the
//! data path does no formatting and, in steady state, no allocation: one
//! wait, one read and one write per echoed message.
//!
//! ```
//! use std::io::{Read, Write};
//! use ioready_server::{Config, Echo, Server};
//!
//! let mut server = Server::bind("127.0.0.1:0", Config::default(), Echo)?;
//! let addr = server.local_addr();
//! let stop = server.shutdown_handle();
//! let thread = std::thread::spawn(move || server.run());
//!
//! let mut client = std::net::TcpStream::connect(addr)?;
//! client.write_all(b"This is the message. ")?;
//! client.shutdown(std::net::Shutdown::Write)?;
//! let mut echoed = String::new();
//! client.read_to_string(&mut echoed)?;
//! assert_eq!(echoed, "This is the message. ");
//!
//! stop.shutdown()?;
//! let summary = thread.join().unwrap()?;
//! assert_eq!(summary.accepted, 1);
//! # Ok::<(), std::io::Error>(())
//! ```

#![cfg(unix)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The shared layer, leaves first: each file uses only those above it.
mod config;
mod control;
mod limits;
mod net;
mod report;
mod time;

mod engine;

mod conn;
mod service;

mod server;

// The two engines, siblings: each uses the shared layer, never the other.
mod readiness;
#[cfg(all(feature = "uring", target_os = "linux"))]
mod uring;

pub use config::{Config, Engine, UringConfig};
pub use conn::Conn;
pub use control::ShutdownHandle;
pub use limits::raise_fd_limit;
pub use report::{CloseReason, Observer, ServerEvent, Silent, Summary};
pub use server::Server;
pub use service::{rfc868, Echo, Service, TimeService};
#[cfg(all(feature = "uring", target_os = "linux"))]
pub use uring::UringStats;
