//! Test helpers shared by the ioready crates' test suites (a dev-dependency
//! only; never part of a release).
//!
//! * [`seccomp`]: a real seccomp filter that makes the io_uring system
//!   calls fail with `EPERM`, as Docker's default profile does, installed in
//!   a child process; and [`seccomp::rerun_test_denying_io_uring`], which
//!   re-runs one test of the current test binary under it.

#![warn(missing_docs)]

pub mod seccomp;

/// The workspace README's code blocks, compiled and run as doctests (this
/// crate is never published, so the README one level up the tree is always
/// there): its Rust program is `ioready/examples/hello_selector.rs`, which
/// the tests of this crate check it is identical to.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
