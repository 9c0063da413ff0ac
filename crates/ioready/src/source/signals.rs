//! [`Signals`]: Unix signals delivered as readiness on a token.

use std::io;

use super::Registration;
use crate::error;
use crate::event::Token;
use crate::selector::Registry;
use crate::sys::signal::{self as sys, MAX_SIGNAL};

/// A signal number (`SIGINT` is [`Signal::INT`]).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

impl Signal {
    /// `SIGHUP`: the terminal hung up; by convention, reload configuration.
    pub const HUP: Signal = Signal(sys::numbers::HUP);
    /// `SIGINT`: Ctrl-C.
    pub const INT: Signal = Signal(sys::numbers::INT);
    /// `SIGQUIT`: Ctrl-\.
    pub const QUIT: Signal = Signal(sys::numbers::QUIT);
    /// `SIGUSR1`.
    pub const USR1: Signal = Signal(sys::numbers::USR1);
    /// `SIGUSR2`.
    pub const USR2: Signal = Signal(sys::numbers::USR2);
    /// `SIGPIPE`: a write to a closed pipe or socket.
    pub const PIPE: Signal = Signal(sys::numbers::PIPE);
    /// `SIGALRM`.
    pub const ALRM: Signal = Signal(sys::numbers::ALRM);
    /// `SIGTERM`: the polite request to stop.
    pub const TERM: Signal = Signal(sys::numbers::TERM);
    /// `SIGCHLD`: a child stopped or exited (see [`Process`](crate::Process)
    /// for a race-free way to wait for one).
    pub const CHLD: Signal = Signal(sys::numbers::CHLD);
    /// `SIGCONT`.
    pub const CONT: Signal = Signal(sys::numbers::CONT);
    /// `SIGTSTP`: Ctrl-Z.
    pub const TSTP: Signal = Signal(sys::numbers::TSTP);
    /// `SIGWINCH`: the terminal was resized.
    pub const WINCH: Signal = Signal(sys::numbers::WINCH);
    /// `SIGKILL`: can be sent ([`Process::kill`](crate::Process::kill)),
    /// never received ([`Signals::new`] refuses it).
    pub const KILL: Signal = Signal(sys::numbers::KILL);

    /// The signal numbered `raw`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `raw` is out of range (1 to 64 on Linux). Whether it
    /// can be *received* is checked by [`Signals::new`].
    pub fn from_raw(raw: i32) -> io::Result<Signal> {
        if raw <= 0 || raw as usize > MAX_SIGNAL {
            return Err(error::invalid_input(&format!(
                "signal: {raw} is not a signal number (1..={MAX_SIGNAL})"
            )));
        }
        Ok(Signal(raw))
    }

    /// The `n`th real-time signal, `SIGRTMIN + n` (Linux): queued by the
    /// kernel, so every delivery is counted.
    ///
    /// # Errors
    ///
    /// `InvalidInput` past `SIGRTMAX`; `Unsupported` where the platform has
    /// no real-time signals.
    pub fn realtime(n: u32) -> io::Result<Signal> {
        let Some((min, max)) = sys::realtime_range() else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "realtime: no real-time signals on this platform",
            ));
        };
        match i32::try_from(n).ok().and_then(|n| min.checked_add(n)) {
            Some(s) if s <= max => Signal::from_raw(s),
            _ => Err(error::invalid_input(&format!(
                "realtime: SIGRTMIN + {n} is past SIGRTMAX ({max})"
            ))),
        }
    }

    /// The number.
    pub const fn raw(self) -> i32 {
        self.0
    }

    fn name(self) -> Option<&'static str> {
        const NAMES: [(Signal, &str); 13] = [
            (Signal::KILL, "SIGKILL"),
            (Signal::HUP, "SIGHUP"),
            (Signal::INT, "SIGINT"),
            (Signal::QUIT, "SIGQUIT"),
            (Signal::USR1, "SIGUSR1"),
            (Signal::USR2, "SIGUSR2"),
            (Signal::PIPE, "SIGPIPE"),
            (Signal::ALRM, "SIGALRM"),
            (Signal::TERM, "SIGTERM"),
            (Signal::CHLD, "SIGCHLD"),
            (Signal::CONT, "SIGCONT"),
            (Signal::TSTP, "SIGTSTP"),
            (Signal::WINCH, "SIGWINCH"),
        ];
        NAMES.iter().find(|(s, _)| *s == self).map(|(_, n)| *n)
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self} ({})", self.0)
    }
}

/// A set of signals whose arrival is an event with one token, in the same
/// wait as socket events, on every backend.
///
/// When one of the signals arrives the token becomes readable and stays so
/// (level-triggered) until [`receive`](Self::receive) takes the list of
/// signals received, each with a count.
///
/// * **Counts and coalescing.** A count is the number of times the kernel
///   delivered the signal since the last `receive`. The kernel merges a
///   standard signal (`SIGINT`, `SIGTERM`, ...) sent again while one is still
///   pending, so a burst of them may count fewer than were sent (at least
///   one). Real-time signals ([`Signal::realtime`]) are queued and counted
///   one by one.
/// * **Disposition.** While a `Signals` asks for a signal, ioready's handler
///   is its disposition: the default action (terminating on `SIGTERM`) does
///   not happen, and a previous handler is not called. When the last owner of
///   the signal is dropped, the disposition it replaced is put back (unless
///   someone replaced ioready's handler meanwhile: theirs stays). Signals not
///   asked for are never touched.
/// * **Several owners.** Any number of `Signals`, in one selector or in
///   several, may ask for the same signal: **every owner receives every
///   delivery** (each counts it and is woken), unlike `signalfd`, where
///   readers compete for one queue.
/// * **Threads and children.** A signal is handled on whichever thread the
///   kernel picks; the handler only counts (atomically) and writes to the
///   owner's descriptor, and the owner list it reads is lock-free, so any
///   thread may create, receive and drop `Signals` at any time. Nothing is
///   blocked, so threads spawned earlier and child processes behave as
///   before (`exec` resets the handler to the default).
///
/// Why not `signalfd`: it needs the signal blocked in every thread of the
/// process, which a library cannot do for threads it did not start (one of
/// them would still take `SIGTERM` and die), and the blocked mask is
/// inherited by every child across `exec`. This is libuv's and CPython's
/// design (`uv_signal_t`, `signal.set_wakeup_fd`).
///
/// ```
/// use std::time::Duration;
/// use ioready::{Events, Selector, Signal, Signals, Token};
///
/// let mut selector = Selector::new()?;
/// let signals = Signals::new(selector.registry(), Token(9), &[Signal::USR2])?;
/// // Another process (here: this one) sends SIGUSR2.
/// rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::USR2)?;
/// let mut events = Events::with_capacity(8);
/// selector.select(&mut events, Some(Duration::from_secs(5)))?;
/// assert_eq!(events.iter().next().map(|e| e.token()), Some(Token(9)));
/// let received = signals.receive();
/// assert_eq!(received.count(Signal::USR2), 1);
/// drop(signals); // SIGUSR2's previous disposition is back
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Signals {
    // Declared first: deregistered before the descriptor closes.
    /// Held for its `Drop`.
    _registration: Registration,
    owner: sys::Owner,
}

impl Signals {
    /// Takes `signals` (duplicates are ignored) and registers their arrival
    /// with `registry` under `token`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an empty list and for a signal that cannot be
    /// handled: `SIGKILL`, `SIGSTOP`, or one of the faults `SIGSEGV`,
    /// `SIGBUS`, `SIGILL`, `SIGFPE` (a handler that returns from those re-runs
    /// the faulting instruction); `EMFILE`/`ENFILE` when out of
    /// descriptors; `sigaction`'s errors (`EINVAL` for a real-time signal
    /// the C library keeps for itself); the registration's errors. On error
    /// no disposition is changed.
    pub fn new(registry: &Registry, token: Token, signals: &[Signal]) -> io::Result<Signals> {
        if signals.is_empty() {
            return Err(error::invalid_input("signals: the list is empty"));
        }
        let mut raw: Vec<i32> = signals.iter().map(|s| s.0).collect();
        raw.sort_unstable();
        raw.dedup();
        for &s in &raw {
            sys::check(s)?;
        }
        let owner = sys::Owner::new(&raw)?;
        let registration = Registration::new(registry, owner.as_fd(), token)?;
        Ok(Signals {
            _registration: registration,
            owner,
        })
    }

    /// The signals received since the last call, with counts (empty when the
    /// wait ended for another token, or rarely after a signal that arrived
    /// during the previous call, which it already counted). Afterwards the
    /// token is not reported again until the next signal.
    pub fn receive(&self) -> ReceivedSignals {
        let mut counts = [0u32; MAX_SIGNAL + 1];
        self.owner.take(&mut counts);
        ReceivedSignals { counts }
    }
}

/// What [`Signals::receive`] took: each signal received, with how many times
/// (see [`Signals`] on coalescing). Held inline: receiving allocates nothing.
#[derive(Clone)]
pub struct ReceivedSignals {
    counts: [u32; MAX_SIGNAL + 1],
}

impl ReceivedSignals {
    /// How many times `signal` was delivered.
    pub fn count(&self, signal: Signal) -> u32 {
        self.counts.get(signal.0 as usize).copied().unwrap_or(0)
    }

    /// True if nothing was received.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0)
    }

    /// The signals received, lowest number first, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (Signal, u32)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(s, &c)| (Signal(s as i32), c))
    }
}

impl std::fmt::Debug for ReceivedSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
