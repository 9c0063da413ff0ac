//! io_uring, the OS layer (Linux, cargo feature `uring`): one [`Ring`]
//! (setup with probing, one `io_uring_enter` per loop that both submits and
//! waits, its timeout in the enter call's own argument) and provided
//! [`BufRing`]s for multishot receive.
//!
//! The ring's memory protocol (mmap, head/tail atomics, SQE packing) is the
//! `io-uring` crate's; what this layer adds is what every user of it would
//! otherwise get wrong:
//!
//! * **Probe, never assume.** Setup flags are tried best first
//!   (`SINGLE_ISSUER` + `DEFER_TASKRUN`, then without `DEFER_TASKRUN`, then
//!   plain), opcodes are read with `IORING_REGISTER_PROBE`, and
//!   `IORING_FEAT_EXT_ARG` is required (the wait's timeout rides in the
//!   enter call). What was found is kept in [`Features`].
//! * **Refusals are errors that name the reason** ([`refusal`]): a seccomp
//!   filter (Docker's default profile), `kernel.io_uring_disabled`, a kernel
//!   without io_uring, a missing opcode or feature.
//! * **One syscall per loop**: [`Ring::submit_and_wait`] submits what is
//!   queued and waits for `want` completions or the timeout, in one
//!   `io_uring_enter`, through the registered ring descriptor where the
//!   kernel has it.

mod buf_ring;
mod cancel;
mod enter;
pub(crate) mod refusal;
mod ring;

pub use buf_ring::BufRing;
pub(crate) use cancel::sync_cancel;
pub use ring::{Capability, Features, Ring, RingBuilder};
