//! [`Backend`]: the kernel mechanisms a [`Selector`](crate::Selector) can
//! wait with, their names, and which the platform has.

use std::io;

/// The kernel mechanism a [`Selector`](crate::Selector) waits with.
///
/// Non-exhaustive: backends may be added, so a `match` on it needs a `_`
/// arm. The names, one list everywhere (`IOREADY_BACKEND`, the command's
/// `--backend`, the READMEs): `auto`, `select`, `poll`, `epoll`, `kqueue`,
/// `uring` ([`Backend::names`]).
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
    ///
    /// What a program can see: a registration's poll request holds the file
    /// in the kernel, so a descriptor closed without being deregistered
    /// stays open (a socket is not shut down) until `deregister_raw` or the
    /// selector's drop. The ring is set up on a short-lived helper thread
    /// and only the waiting thread submits; when the ring is closed the
    /// kernel notifies every thread that submitted to it, so a timed
    /// blocking call in progress there (a `recv` with `SO_RCVTIMEO`) may end
    /// with `EINTR` (code that retries `EINTR` does not notice). How it
    /// works, and its figures: ARCHITECTURE.md and BENCHMARKS.md in the
    /// repository; the ring itself is `ioready::uring` (docs with the
    /// feature `uring`).
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

    /// `Ok(self)` if this build has the backend, else the `Unsupported`
    /// error that [`Selector::with_backend`](crate::Selector::with_backend)
    /// gives: it names the build that would have it (`uring`: ioready's
    /// cargo feature `uring`; `kqueue`: macOS or a BSD; `epoll`: Linux or
    /// Android) and the backends this one has.
    ///
    /// # Errors
    ///
    /// `Unsupported`, as above.
    pub fn check_available(self) -> io::Result<Backend> {
        if self.is_available() {
            Ok(self)
        } else {
            Err(unsupported_backend(self))
        }
    }

    /// Every backend this crate knows, available in this build or not: the
    /// names [`from_str`](std::str::FromStr::from_str) and `IOREADY_BACKEND`
    /// take (with `auto`), in the order of [`available`](Self::available).
    pub fn all() -> impl Iterator<Item = Backend> {
        Self::ALL.into_iter()
    }

    /// The names `IOREADY_BACKEND` and [`from_str`](std::str::FromStr::from_str)
    /// take, as one list: `"auto, select, poll, epoll, kqueue, uring"`.
    /// The command's `--backend` takes the same names.
    pub fn names() -> String {
        let mut names = String::from("auto");
        for b in Self::ALL {
            names.push_str(", ");
            names.push_str(b.name());
        }
        names
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
    /// names one this build lacks (the message says which build has it:
    /// `uring` needs the cargo feature `uring`, `kqueue` macOS or a BSD,
    /// `epoll` Linux or Android). Both messages start with the variable and
    /// its value.
    pub fn from_env() -> io::Result<Backend> {
        match std::env::var("IOREADY_BACKEND") {
            Ok(name) if name.is_empty() || name == "auto" => Ok(Backend::best()),
            Ok(name) => {
                let in_var =
                    |e: io::Error| io::Error::new(e.kind(), format!("IOREADY_BACKEND={name}: {e}"));
                let b: Backend = name.parse().map_err(in_var)?;
                b.check_available().map_err(in_var)
            }
            Err(_) => Ok(Backend::best()),
        }
    }
}

/// `Unsupported`: the platform (or this build) lacks `b`; the message says
/// which build would have it, and what this one has.
pub(super) fn unsupported_backend(b: Backend) -> io::Error {
    let needs = match b {
        Backend::Uring if cfg!(target_os = "linux") => {
            "ioready built with its cargo feature `uring` (this build has not got it)"
        }
        Backend::Uring => "Linux and ioready's cargo feature `uring`",
        Backend::Epoll => "Linux or Android",
        Backend::Kqueue => "macOS, iOS, FreeBSD, OpenBSD, NetBSD or DragonFly",
        // Every Unix has them.
        Backend::Select | Backend::Poll => "a Unix",
    };
    let has: Vec<&str> = Backend::available().map(Backend::name).collect();
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "the {} backend is not available here: it needs {needs}; this build has {}",
            b.name(),
            has.join(", ")
        ),
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
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "backend: unknown name {s:?} (expected one of {})",
                        Backend::names()
                    ),
                )
            })
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
