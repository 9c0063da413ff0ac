//! [`Backend`]: the kernel mechanisms a [`Selector`](crate::Selector) can
//! wait with, their names, and which the platform has.

use std::io;

/// The kernel mechanism a [`Selector`](crate::Selector) waits with.
///
/// Non-exhaustive: backends are added (io_uring is next), so a `match` on it
/// needs a `_` arm.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// `select(2)`: every Unix; O(highest fd) per wait; no `FD_SETSIZE` limit
    /// here. Level-triggered and emulated oneshot only.
    Select,
    /// `poll(2)`: every Unix; O(registered) per wait. Level-triggered and
    /// emulated oneshot only.
    Poll,
    /// `epoll(7)`: Linux; O(ready) per wait. Level, edge and oneshot.
    Epoll,
    /// `kqueue(2)`: macOS and the BSDs; O(ready) per wait. Level, edge and
    /// oneshot. (Not exercised by this project's CI, which runs on Linux.)
    Kqueue,
    /// io_uring poll requests: Linux, with the cargo feature `uring`. Level,
    /// edge and oneshot. Registration changes cost no system call (they ride
    /// in the next wait's `io_uring_enter`); a wait is one call. Where
    /// io_uring is refused (seccomp, `kernel.io_uring_disabled`),
    /// [`Selector::with_backend`](crate::Selector::with_backend) fails with
    /// the reason. Not [`best`](Self::best): a wait costs more than on epoll.
    Uring,
}

impl Backend {
    /// The best backend for this platform: epoll on Linux, kqueue on macOS
    /// and the BSDs, poll elsewhere.
    pub const fn best() -> Backend {
        if cfg!(ioready_epoll) {
            Backend::Epoll
        } else if cfg!(ioready_kqueue) {
            Backend::Kqueue
        } else {
            Backend::Poll
        }
    }

    /// True if this platform has the backend.
    pub const fn is_available(self) -> bool {
        match self {
            Backend::Select | Backend::Poll => true,
            Backend::Epoll => cfg!(ioready_epoll),
            Backend::Kqueue => cfg!(ioready_kqueue),
            Backend::Uring => cfg!(all(feature = "uring", target_os = "linux")),
        }
    }

    /// Every backend, available here or not, in the order of
    /// [`available`](Self::available).
    const ALL: [Backend; 5] = [
        Backend::Select,
        Backend::Poll,
        Backend::Epoll,
        Backend::Kqueue,
        Backend::Uring,
    ];

    /// The backends this platform has, best last.
    pub fn available() -> impl Iterator<Item = Backend> {
        Self::ALL.into_iter().filter(|b| b.is_available())
    }

    /// True if registrations may use [`Trigger::Edge`](crate::Trigger::Edge).
    pub const fn supports_edge(self) -> bool {
        matches!(self, Backend::Epoll | Backend::Kqueue | Backend::Uring)
    }

    /// True if [`Interest::READ_CLOSED`](crate::Interest::READ_CLOSED) may be
    /// registered without `READABLE`: the backend tells the peer's shutdown
    /// apart from data (`EPOLLRDHUP`, `POLLRDHUP`). epoll, and poll on Linux
    /// and Android. Not select (end of file and data both make a descriptor
    /// readable), kqueue (its read filter fires on both) or poll elsewhere
    /// (no `POLLRDHUP`): there, registering it alone fails with
    /// `ErrorKind::Unsupported`. (io_uring's poll requests take and give
    /// `POLLRDHUP` as poll does.)
    pub const fn supports_read_closed(self) -> bool {
        match self {
            Backend::Epoll | Backend::Uring => true,
            Backend::Poll => cfg!(any(target_os = "linux", target_os = "android")),
            Backend::Select | Backend::Kqueue => false,
        }
    }

    /// The lowercase name (`"select"`, `"poll"`, `"epoll"`, `"kqueue"`,
    /// `"uring"`).
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Select => "select",
            Backend::Poll => "poll",
            Backend::Epoll => "epoll",
            Backend::Kqueue => "kqueue",
            Backend::Uring => "uring",
        }
    }

    /// The backend [`Selector::new`](crate::Selector::new) uses: the one named by the environment
    /// variable `IOREADY_BACKEND` (`select`, `poll`, `epoll`, `kqueue`,
    /// `uring` or `auto`), else [`Backend::best`]. The variable exists so that a whole
    /// program (or test suite) can be run on another backend without being
    /// rebuilt.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the variable names no backend, `Unsupported` if it
    /// names one this platform lacks.
    pub fn from_env() -> io::Result<Backend> {
        match std::env::var("IOREADY_BACKEND") {
            Ok(name) if name.is_empty() || name == "auto" => Ok(Backend::best()),
            Ok(name) => {
                let b: Backend = name.parse()?;
                if b.is_available() {
                    Ok(b)
                } else {
                    Err(unsupported_backend(b))
                }
            }
            Err(_) => Ok(Backend::best()),
        }
    }
}

/// `Unsupported`: the platform (or this build) lacks `b`.
pub(super) fn unsupported_backend(b: Backend) -> io::Error {
    if b == Backend::Uring && cfg!(target_os = "linux") {
        return io::Error::new(
            io::ErrorKind::Unsupported,
            "the uring backend is not available: ioready was built without its cargo feature `uring`",
        );
    }
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("the {} backend is not available on this platform", b.name()),
    )
}

impl std::str::FromStr for Backend {
    type Err = io::Error;

    /// Parses `select`, `poll`, `epoll`, `kqueue`, `uring` (and `auto` for
    /// the best).
    fn from_str(s: &str) -> io::Result<Backend> {
        let name = s.to_ascii_lowercase();
        if name == "auto" {
            return Ok(Backend::best());
        }
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| {
                let mut expected = String::from("auto");
                for b in Backend::ALL {
                    expected.push_str(", ");
                    expected.push_str(b.name());
                }
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("backend: unknown name {s:?} (expected one of {expected})"),
                )
            })
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
