//! The control events both engines share: the [`ShutdownHandle`] and its
//! waker, and `SIGINT`/`SIGTERM`
//! ([`Config::handle_signals`](crate::Config::handle_signals)), each a
//! library source with a token. The readiness engine registers them with
//! its selector, next to its listener and connections; the io_uring engine
//! with a small control selector of its own, whose descriptor its ring
//! polls.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ioready::{Signals, Token, Waker};

/// The [`ShutdownHandle`](crate::ShutdownHandle)'s waker.
pub(crate) const WAKER: Token = Token(1);
/// `SIGINT` and `SIGTERM`, when `config.handle_signals`.
pub(crate) const SIGNALS: Token = Token(2);

/// What the signals received since the last look ask for: nothing, a
/// graceful shutdown (one signal while running), or an immediate stop (a
/// second signal, or one while already draining).
pub(crate) fn signal_request(signals: Option<&Signals>, draining: bool) -> SignalRequest {
    let n: u32 = signals.map_or(0, |s| s.receive().iter().map(|(_, count)| count).sum());
    match n {
        0 => SignalRequest::None,
        1 if !draining => SignalRequest::Shutdown,
        _ => SignalRequest::Stop,
    }
}

/// See [`signal_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignalRequest {
    None,
    Shutdown,
    Stop,
}

/// Asks a running [`Server`] to shut down, from any thread.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// A handle that sets `flag` and wakes the engine's wait with `waker`.
    pub(crate) fn new(flag: Arc<AtomicBool>, waker: Arc<Waker>) -> ShutdownHandle {
        ShutdownHandle { flag, waker }
    }

    /// Starts the shutdown (stop accepting, flush, close, return from
    /// `run`). Calling it again is harmless.
    ///
    /// # Errors
    ///
    /// Those of [`Waker::wake`] (none known in practice).
    pub fn shutdown(&self) -> io::Result<()> {
        self.flag.store(true, Ordering::SeqCst);
        self.waker.wake()
    }
}
