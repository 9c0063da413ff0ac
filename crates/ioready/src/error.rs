//! The errors this crate makes itself (kernel errors pass through as they
//! are): one place, so every backend words them the same way.

use std::io;
use std::os::fd::RawFd;
use std::sync::{Mutex, MutexGuard};

/// Locks `m`, also when a thread panicked while holding it. Used only for
/// the crate's registration lists, where every change under the lock is a
/// single insert, remove or assignment: a panic cannot leave one half-made,
/// so a poisoned lock still guards a consistent list, and a registry must
/// not become unusable because some other thread panicked.
pub(crate) fn lock_unpoisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `InvalidInput`, with a message that names the argument.
pub(crate) fn invalid_input(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

/// `InvalidInput` for a negative descriptor number.
pub(crate) fn check_fd(fd: RawFd) -> io::Result<()> {
    if fd < 0 {
        return Err(invalid_input(&format!(
            "fd: descriptor must be non-negative, got {fd}"
        )));
    }
    Ok(())
}

/// `NotFound`: modify or remove a descriptor that is not registered.
pub(crate) fn not_registered(fd: RawFd) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("fd {fd} is not registered"),
    )
}

/// `AlreadyExists`: register a descriptor twice.
pub(crate) fn already_registered(fd: RawFd) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("fd {fd} is already registered"),
    )
}

/// `NotFound` (deregister, reregister) or `InvalidInput` (register): the
/// number names a descriptor the selector opened for itself (a waker's, a
/// stand-in's), so it is no registration of the caller's; most likely the
/// caller closed a registered descriptor without deregistering it and the
/// kernel gave its number to the selector.
pub(crate) fn own_descriptor(fd: RawFd, operation: &str) -> io::Error {
    let kind = if operation == "register" {
        io::ErrorKind::InvalidInput
    } else {
        io::ErrorKind::NotFound
    };
    io::Error::new(
        kind,
        format!(
            "{operation}: fd {fd} is the selector's own descriptor, not a registration of yours \
             (was a registered descriptor closed without deregistering, and its number reused?)"
        ),
    )
}

/// `Unsupported`: a selector whose backend has no kernel object to wait on
/// (`Selector::try_as_fd` on select or poll).
pub(crate) fn not_nestable(backend: &str) -> io::Error {
    let why = match backend {
        // Its ring is a descriptor, but not one that stands for readiness:
        // a registration's poll request is submitted, and a level one
        // re-armed, only inside this selector's own waits.
        "uring" => {
            "its poll requests are submitted and re-armed only by its own waits, \
             so its ring is not readable when a registration is ready"
        }
        _ => "it keeps its registrations in user space",
    };
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "the {backend} backend has no kernel object another poller could wait on \
             ({why}); nest a selector on epoll or kqueue"
        ),
    )
}
