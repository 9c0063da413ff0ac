//! What a server does with its connections: the [`Service`] trait and the
//! two services shipped with it, [`Echo`] and [`TimeService`] (RFC 868,
//! whose wire format is [`rfc868`]).

use std::net::SocketAddr;
use std::time::SystemTime;

use crate::{CloseReason, Conn};

/// What a server does with its connections (the `asyncore.dispatcher`
/// methods), the same on both engines. Every callback about a connection
/// gets it as a [`Conn`], through which it answers ([`Conn::send`]) or ends
/// ([`Conn::close`]) the connection, and the service's own state for that
/// connection, [`Service::State`]: made by [`on_connect`](Self::on_connect),
/// handed to every later callback, and given back, with the reason, to
/// [`on_close`](Self::on_close).
///
/// A line-based protocol keeps the start of a line that has not ended yet
/// in its state (`examples/line_server.rs`):
///
/// ```
/// use ioready_server::{Conn, Service};
///
/// /// Answers each line with its length.
/// struct LineLengths;
///
/// impl Service for LineLengths {
///     type State = Vec<u8>; // the partial line of this connection
///
///     fn on_connect(&mut self, _: &mut Conn<'_>) -> Vec<u8> {
///         Vec::new()
///     }
///
///     fn on_data(&mut self, conn: &mut Conn<'_>, partial: &mut Vec<u8>, data: &[u8]) {
///         for &b in data {
///             if b == b'\n' {
///                 conn.send(format!("{}\n", partial.len()).as_bytes());
///                 partial.clear();
///             } else {
///                 partial.push(b);
///             }
///         }
///     }
/// }
/// ```
pub trait Service {
    /// What the service keeps for each connection (`()` for none).
    type State;

    /// A connection was accepted: returns its state. The connection may
    /// already be answered ([`Conn::send`]) or closed ([`Conn::close`]).
    fn on_connect(&mut self, conn: &mut Conn<'_>) -> Self::State;

    /// Bytes arrived (never empty).
    fn on_data(&mut self, conn: &mut Conn<'_>, state: &mut Self::State, data: &[u8]);

    /// The peer shut down its writing side. The connection is closed once
    /// its queued output is sent (the default does nothing more).
    fn on_read_closed(&mut self, conn: &mut Conn<'_>, state: &mut Self::State) {
        let _ = (conn, state);
    }

    /// The connection with this peer is closed (nothing more can be sent):
    /// its state is handed back, with why it closed. Called once for every
    /// connection `on_connect` was called for, on both engines, also for
    /// those a shutdown closes ([`CloseReason::Shutdown`]); a
    /// [`Server::run`](crate::Server::run) that ends with an error drops
    /// the states of the connections still open without calling it.
    fn on_close(&mut self, peer: SocketAddr, state: Self::State, reason: &CloseReason<'_>) {
        let _ = (peer, state, reason);
    }

    /// A wait of [`Config::tick`](crate::Config::tick) ended with nothing
    /// ready.
    fn on_tick(&mut self) {}
}

/// The echo service: every byte read is sent back.
#[derive(Debug, Default, Clone, Copy)]
pub struct Echo;

impl Service for Echo {
    type State = ();

    #[inline]
    fn on_connect(&mut self, _: &mut Conn<'_>) {}

    #[inline]
    fn on_data(&mut self, conn: &mut Conn<'_>, _: &mut (), data: &[u8]) {
        conn.send(data);
    }
}

/// The RFC 868 time service: on connect, four bytes (big-endian seconds
/// since 1900-01-01 UTC, modulo 2^32), then close.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimeService;

impl Service for TimeService {
    type State = ();

    fn on_connect(&mut self, conn: &mut Conn<'_>) {
        conn.send(&rfc868::encode(SystemTime::now()).to_be_bytes());
        conn.close();
    }

    fn on_data(&mut self, _: &mut Conn<'_>, _: &mut (), _: &[u8]) {}
}

/// RFC 868's time value, both ways: whole seconds since 1900-01-01 00:00
/// UTC in 32 bits, which wrap on 2036-02-07.
pub mod rfc868 {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// Seconds between 1900-01-01 and 1970-01-01.
    pub const EPOCH_OFFSET: u64 = 2_208_988_800;

    /// The value for `time`, modulo 2^32 (as the RFC's field wraps in
    /// 2036). Times before 1900 give 0.
    pub fn encode(time: SystemTime) -> u32 {
        let since_1900 = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => after.as_secs().wrapping_add(EPOCH_OFFSET),
            Err(before) => {
                // Whole seconds, rounded down: 1.5 s before 1970 is in the
                // second that starts 2 s before it.
                let d = before.duration();
                let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
                EPOCH_OFFSET.saturating_sub(secs)
            }
        };
        since_1900 as u32
    }

    /// The time a value stands for. Values below [`EPOCH_OFFSET`] (before
    /// 1970) are taken to be after the wrap of 2036, so every value maps to
    /// one of the 2^32 seconds from 1970-01-01 on: a time server answers
    /// with the present, not with 1900-1969.
    pub fn decode(value: u32) -> SystemTime {
        let v = u64::from(value);
        let unix = if v < EPOCH_OFFSET {
            v + (1 << 32) - EPOCH_OFFSET
        } else {
            v - EPOCH_OFFSET
        };
        UNIX_EPOCH + Duration::from_secs(unix)
    }
}
