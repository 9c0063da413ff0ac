//! Test helpers shared by the ioready crates' test suites (a dev-dependency
//! only; never part of a release).
//!
//! * [`seccomp`]: a real seccomp filter that makes the io_uring system
//!   calls fail with `EPERM`, as Docker's default profile does, installed in
//!   a child process; and [`seccomp::rerun_test_denying_io_uring`], which
//!   re-runs one test of the current test binary under it.

#![warn(missing_docs)]

pub mod seccomp;
