//! A seccomp filter that refuses io_uring, for tests of the fallbacks and
//! error messages: `io_uring_setup`, `io_uring_enter` and
//! `io_uring_register` fail with a chosen errno (Docker's default profile,
//! and Kubernetes' `RuntimeDefault`, answer `EPERM`), every other system
//! call is allowed.
//!
//! The filter is a classic BPF program installed with
//! `prctl(PR_SET_NO_NEW_PRIVS)` and `prctl(PR_SET_SECCOMP,
//! SECCOMP_MODE_FILTER)`: no privilege needed, and it can never be removed,
//! so it is installed in a **child process** (between fork and exec, through
//! [`CommandExt::pre_exec`]), never in the test process itself.
//!
//! ```no_run
//! use std::process::Command;
//! let mut cmd = Command::new("target/debug/ioready");
//! ioready_testkit::seccomp::deny_io_uring_in(&mut cmd, libc::EPERM);
//! let status = cmd.arg("echo-server").status()?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

/// The system call numbers (the same on every architecture since 5.1: the
/// io_uring calls were added to the unified table).
const IO_URING_SETUP: u32 = 425;
const IO_URING_ENTER: u32 = 426;
const IO_URING_REGISTER: u32 = 427;

/// `AUDIT_ARCH_*` of the architecture this is built for.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_003E);
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_00B7);
#[cfg(target_arch = "riscv64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_00F3);
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
const AUDIT_ARCH: Option<u32> = None;

// Classic BPF and seccomp constants (linux/filter.h, linux/seccomp.h).
/// `BPF_LD | BPF_W | BPF_ABS` (0x00 | 0x00 | 0x20).
const BPF_LD_W_ABS: u16 = 0x20;
/// `BPF_JMP | BPF_JEQ | BPF_K` (0x05 | 0x10 | 0x00).
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
/// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

const fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Installs the filter in the calling thread (and every process it later
/// creates): the io_uring system calls fail with `errno`.
///
/// Async-signal-safe (two `prctl` calls, no allocation), so it may run
/// between `fork` and `exec`. It cannot be undone: call it only in a child.
///
/// # Errors
///
/// `Unsupported` on an architecture this helper does not know; the errors
/// of `prctl` (`EINVAL` on a kernel without seccomp filters).
pub fn deny_io_uring(errno: i32) -> io::Result<()> {
    let Some(arch) = AUDIT_ARCH else {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    };
    let errno = (errno as u32) & 0xffff;
    let filter = [
        // A foreign architecture's calls have other numbers: refuse them all.
        stmt(BPF_LD_W_ABS, OFFSET_ARCH),
        jump(BPF_JMP_JEQ_K, arch, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFFSET_NR),
        jump(BPF_JMP_JEQ_K, IO_URING_SETUP, 3, 0),
        jump(BPF_JMP_JEQ_K, IO_URING_ENTER, 2, 0),
        jump(BPF_JMP_JEQ_K, IO_URING_REGISTER, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
        stmt(BPF_RET_K, SECCOMP_RET_ERRNO | errno),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `prog` points to `filter`, a valid BPF program of `len`
    // instructions that lives on this stack frame for the whole call (the
    // kernel copies it).
    if unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `cmd` start its process under [`deny_io_uring`]`(errno)`.
pub fn deny_io_uring_in(cmd: &mut Command, errno: i32) -> &mut Command {
    // SAFETY: the closure runs between fork and exec; `deny_io_uring` is
    // async-signal-safe (two prctl calls on stack data, no allocation, no
    // lock).
    unsafe { cmd.pre_exec(move || deny_io_uring(errno)) }
}

/// The environment variable set in the child of
/// [`rerun_test_denying_io_uring`], so the test can tell that it runs there.
pub const CHILD_ENV: &str = "IOREADY_TEST_UNDER_SECCOMP";

/// True in the child process started by [`rerun_test_denying_io_uring`].
pub fn in_seccomp_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Runs the single test `name` of the current test binary (libtest
/// harness) in a child process under [`deny_io_uring`]`(errno)`, with
/// [`CHILD_ENV`] set, ignored tests included, output captured. Mark the
/// child's test `#[ignore]` so that a plain run skips it, and check
/// [`in_seccomp_child`] in it.
///
/// # Errors
///
/// Those of finding the current executable or starting it.
pub fn rerun_test_denying_io_uring(name: &str, errno: i32) -> io::Result<Output> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args([
        name,
        "--exact",
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, "1");
    deny_io_uring_in(&mut cmd, errno).output()
}
