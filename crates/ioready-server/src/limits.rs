//! The descriptor limit. Also used by the load generator and the
//! benchmark peers, which depend on this crate for this function only (it
//! is light: no reason to give it a crate of its own).

use std::io;

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Raises the soft `RLIMIT_NOFILE` of this process to its hard limit and
/// returns the new soft limit (`u64::MAX` for unlimited). A server that holds
/// thousands of connections needs it: the usual soft default is 1024.
///
/// # Errors
///
/// The error of `setrlimit` (`EPERM` should not happen when staying under
/// the hard limit; `EINVAL` on macOS for an unlimited hard limit, where the
/// kernel's `kern.maxfilesperproc` is tried instead of it).
pub fn raise_fd_limit() -> io::Result<u64> {
    let lim = getrlimit(Resource::Nofile);
    if lim.current == lim.maximum {
        return Ok(lim.current.unwrap_or(u64::MAX));
    }
    let new = Rlimit {
        current: lim.maximum,
        maximum: lim.maximum,
    };
    match setrlimit(Resource::Nofile, new) {
        Ok(()) => Ok(lim.maximum.unwrap_or(u64::MAX)),
        Err(e) if lim.maximum.is_none() => {
            // macOS refuses RLIM_INFINITY as a soft limit for NOFILE.
            let fallback = Rlimit {
                current: Some(10_240),
                maximum: lim.maximum,
            };
            setrlimit(Resource::Nofile, fallback).map_err(|_| io::Error::from(e))?;
            Ok(10_240)
        }
        Err(e) => Err(e.into()),
    }
}
