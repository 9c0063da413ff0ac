//! io_uring for completion-style loops of your own (Linux, cargo feature
//! `uring`).
//!
//! The ring the library's io_uring code is built on, for programs that want
//! to submit requests and reap completions themselves (the server's
//! completion engine is one):
//!
//! * [`Ring`]: setup with probing ([`Features`], [`Capability`]), requests
//!   queued with [`Ring::push`], and [`Ring::submit_and_wait`], one
//!   `io_uring_enter` that submits them and waits for completions or a
//!   timeout (nanoseconds, the enter call's own argument);
//! * [`BufRing`]: a provided buffer ring for multishot receive, handing
//!   buffers out by id and taking them back;
//! * the `io-uring` crate's request builders and queue types, re-exported
//!   ([`opcode`], [`squeue`], [`cqueue`], [`types`]) so a user depends on
//!   one version of them.
//!
//! # Why the `io-uring` crate
//!
//! The ring is a shared-memory protocol (mmap offsets, acquire/release on
//! head and tail, SQE packing), not a system call. The tokio-rs `io-uring`
//! crate has it right, is maintained (releases through 2026, a CI over
//! kernel versions, monoio, compio and tokio on top), covers every feature
//! used here (multishot accept and receive, buffer rings, `DEFER_TASKRUN`,
//! `SINGLE_ISSUER`, the registered ring descriptor, `EXT_ARG`, the probe)
//! and adds only `cfg-if` to the tree. Writing the ring on rustix's raw
//! `io_uring` module would be 500-800 lines of unsafe code of our own;
//! `rustix-uring` is a stale fork without ring-descriptor registration. The
//! study behind this choice: `io-uring-study.md` §2 in the project's
//! research notes. The crate is behind the `uring` feature, so the default
//! build does not carry it.
//!
//! Where io_uring is refused (a seccomp filter such as Docker's default
//! profile, `kernel.io_uring_disabled`, an old kernel), [`Ring::new`] fails
//! with an error whose message names the reason; fall back to
//! [`Selector`](crate::Selector) with epoll.
//!
//! A multishot receive loop, in outline:
//!
//! ```
//! # #[cfg(all(feature = "uring", target_os = "linux"))] {
//! use std::io::Write;
//! use std::os::fd::AsRawFd;
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//! use ioready::uring::{cqueue, opcode, types, BufRing, Capability, Ring};
//!
//! let mut ring = Ring::builder().entries(64).require(Capability::RecvMultishot).build()?;
//! let mut bufs = BufRing::new(&ring, 0, 16, 4096)?;
//! let (a, mut b) = UnixStream::pair()?;
//! let recv = opcode::RecvMulti::new(types::Fd(a.as_raw_fd()), bufs.bgid()).build().user_data(1);
//! // SAFETY: `a` and the buffer ring outlive the request (it is cancelled
//! // by closing `a` after `ring` is dropped, at the end of the block).
//! unsafe { ring.push(&recv)? };
//! b.write_all(b"hello")?;
//! let mut got = Vec::new();
//! while got.len() < 5 {
//!     ring.submit_and_wait(1, Some(Duration::from_secs(5)))?;
//!     let cqes: Vec<_> = ring.completion().collect();
//!     for cqe in cqes {
//!         assert!(cqe.result() >= 0, "recv failed: {}", cqe.result());
//!         if let Some(bid) = bufs.claim(cqe.flags())? {
//!             got.extend_from_slice(bufs.buf(bid, cqe.result() as usize).unwrap());
//!             bufs.recycle(bid)?;
//!         }
//!         assert!(cqueue::more(cqe.flags()), "the multishot receive stays armed");
//!     }
//! }
//! assert_eq!(got, b"hello");
//! # }
//! # Ok::<(), std::io::Error>(())
//! ```

pub use crate::sys::uring::{BufRing, Capability, Features, Ring, RingBuilder};
pub use io_uring::{cqueue, opcode, squeue, types, Probe};

/// The value of the sysctl `kernel.io_uring_disabled` (Linux 6.6+): 0
/// allowed, 1 only for privileged processes and `kernel.io_uring_group`, 2
/// nobody. `None` where the sysctl does not exist or cannot be read.
pub fn io_uring_disabled() -> Option<u32> {
    crate::sys::uring::refusal::io_uring_disabled()
}
