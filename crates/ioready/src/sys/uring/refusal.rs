//! Why io_uring is not available here, in words: the errors a ring setup,
//! probe or registration turns into.
//!
//! Each keeps the kernel's code in its message (`os error N`) and has the
//! kind a caller can branch on: `PermissionDenied` for a policy refusal
//! (seccomp, `kernel.io_uring_disabled`), `Unsupported` for a kernel that
//! lacks io_uring, an opcode or a feature. Callers that fall back to another
//! mechanism can print the message as their one line of explanation.

use std::io;

/// The value of `kernel.io_uring_disabled` (Linux 6.6+): 0 allowed, 1 only
/// for the `kernel.io_uring_group` (and privileged) processes, 2 nobody.
/// `None` when the sysctl does not exist (older kernels) or cannot be read.
pub(crate) fn io_uring_disabled() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The error for a failed `io_uring_setup`.
pub(crate) fn setup_failed(e: io::Error) -> io::Error {
    let code = e.raw_os_error().unwrap_or(0);
    let why = match code {
        libc::EPERM => match io_uring_disabled() {
            Some(2) => "io_uring is disabled for every process by the sysctl \
                        kernel.io_uring_disabled=2"
                .to_string(),
            Some(1) => "io_uring is disabled for unprivileged processes outside \
                        kernel.io_uring_group by the sysctl kernel.io_uring_disabled=1"
                .to_string(),
            _ => "io_uring_setup was refused with EPERM although \
                  kernel.io_uring_disabled allows it: a seccomp filter (Docker's and \
                  Kubernetes' default profiles block io_uring) or a security module \
                  denies it"
                .to_string(),
        },
        libc::ENOSYS => "io_uring_setup does not exist (ENOSYS): a kernel built without \
                         CONFIG_IO_URING, older than 5.1, or a seccomp filter answering ENOSYS"
            .to_string(),
        libc::ENOMEM => "io_uring_setup failed with ENOMEM: the ring's memory could not \
                         be allocated or locked (RLIMIT_MEMLOCK on kernels before 5.12)"
            .to_string(),
        libc::EMFILE | libc::ENFILE => return e,
        _ => format!("io_uring_setup failed: {e}"),
    };
    let kind = match code {
        libc::EPERM => io::ErrorKind::PermissionDenied,
        libc::ENOSYS => io::ErrorKind::Unsupported,
        _ => e.kind(),
    };
    io::Error::new(
        kind,
        format!("io_uring unavailable: {why} (os error {code})"),
    )
}

/// The error for a refused `io_uring_register` or `io_uring_enter` during
/// setup (`what` names the operation).
pub(crate) fn call_failed(what: &str, e: io::Error) -> io::Error {
    let code = e.raw_os_error().unwrap_or(0);
    let why = match code {
        libc::EPERM => format!(
            "{what} was refused with EPERM: a seccomp filter or security module \
             denies the io_uring system calls"
        ),
        libc::ENOSYS => format!("{what} does not exist (ENOSYS)"),
        libc::EINVAL => format!("{what} is not supported by this kernel (EINVAL)"),
        _ => format!("{what} failed: {e}"),
    };
    let kind = match code {
        libc::EPERM => io::ErrorKind::PermissionDenied,
        libc::ENOSYS | libc::EINVAL => io::ErrorKind::Unsupported,
        _ => e.kind(),
    };
    io::Error::new(
        kind,
        format!("io_uring unavailable: {why} (os error {code})"),
    )
}

/// The error for something this kernel lacks (`what`, with the Linux
/// release that brought it).
pub(crate) fn missing(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("io_uring unavailable: this kernel lacks {what}"),
    )
}
