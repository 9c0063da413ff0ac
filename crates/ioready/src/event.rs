//! The portable types of the [`Selector`](crate::Selector): what to wait for
//! ([`Interest`], [`Trigger`]), who it is for ([`Token`]) and what happened
//! ([`Event`], [`Events`]).

use crate::flags::flag_set;
use crate::sys::event::{self as sys_event, bits, RawEvent};

/// Identifies a registration: the value given to `register`, handed back in
/// every [`Event`] for that descriptor.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub usize);

impl From<usize> for Token {
    fn from(v: usize) -> Self {
        Token(v)
    }
}

impl From<Token> for usize {
    fn from(t: Token) -> usize {
        t.0
    }
}

flag_set! {
    /// What a registration waits for. Combine with `|`.
    ///
    /// Errors and hang-ups are always reported, whatever the interest, as the
    /// kernel does.
    pub struct Interest(u32);
    /// Data to read, a connection to accept, or end of file.
    const READABLE = bits::IN;
    /// Room to write, or a non-blocking connect that has completed.
    const WRITABLE = bits::OUT;
    /// Priority data: TCP urgent data, a GPIO sysfs edge, a PTY packet-mode
    /// state change. May be used alone (GPIO sysfs needs `PRI` without `IN`).
    const PRIORITY = bits::PRI;
    /// The peer shut down its writing side, or the connection is closed
    /// ([`Event::is_read_closed`]).
    ///
    /// Alone, without `READABLE`, it reports that and not data, where the
    /// kernel tells them apart (`EPOLLRDHUP`, `POLLRDHUP`): on epoll, and
    /// poll on Linux and Android ([`Backend::supports_read_closed`](crate::Backend::supports_read_closed)).
    /// select, kqueue and poll elsewhere cannot, and refuse it alone with
    /// `ErrorKind::Unsupported`. With `READABLE`, select and poll outside
    /// Linux show end of file as readable only (a read then returns 0).
    const READ_CLOSED = bits::RDHUP;
}

impl Interest {
    /// Both [`READABLE`](Self::READABLE) and [`WRITABLE`](Self::WRITABLE).
    pub const BOTH: Interest = Interest(bits::IN | bits::OUT);

    /// The interest bits this crate knows, without anything else.
    pub(crate) fn known(self) -> Interest {
        self & (Self::READABLE | Self::WRITABLE | Self::PRIORITY | Self::READ_CLOSED)
    }

    /// The known interest as event bits (`POLLIN`, `POLLOUT`, `POLLPRI`,
    /// `POLLRDHUP`; the same values as `EPOLL*`): the interest's own bits,
    /// which are defined as those.
    pub(crate) fn event_bits(self) -> u32 {
        self.known().bits()
    }
}

/// How readiness is reported.
///
/// Non-exhaustive: a mode may be added, so a `match` on it needs a `_` arm.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Trigger {
    /// Reported on every wait for as long as the descriptor is ready, like
    /// `poll(2)` and Python's `poll`/`epoll` defaults. The default.
    #[default]
    Level,
    /// Reported once each time readiness arrives; the caller must then do I/O
    /// until `WouldBlock` (epoll `EPOLLET`, kqueue `EV_CLEAR`). Not available
    /// on the select and poll backends: registering fails with
    /// `ErrorKind::Unsupported`.
    Edge,
    /// Reported once, then disarmed until `reregister` (epoll `EPOLLONESHOT`,
    /// kqueue `EV_DISPATCH`). Emulated on the select and poll backends.
    Oneshot,
}

/// One readiness event: a [`Token`] and what became ready.
///
/// On Linux this is the kernel's own `epoll_event` (the epoll backend has
/// the kernel write events straight into [`Events`]); elsewhere an
/// equivalent pair. Either way the OS layer reads it (`sys::event`).
#[repr(transparent)]
#[derive(Copy, Clone)]
pub struct Event {
    inner: RawEvent,
}

impl Event {
    /// The token of the registration this event is for.
    pub fn token(&self) -> Token {
        Token(sys_event::token(&self.inner))
    }

    /// The raw readiness bits, in Linux's `POLL*` numbering (`POLLIN` = 1,
    /// `POLLPRI` = 2, `POLLOUT` = 4, `POLLERR` = 8, `POLLHUP` = 0x10,
    /// `POLLNVAL` = 0x20, `POLLRDHUP` = 0x2000) on every platform.
    pub fn raw_flags(&self) -> u32 {
        sys_event::flags(&self.inner)
    }

    fn has(&self, bit: u32) -> bool {
        self.raw_flags() & bit != 0
    }

    /// Data can be read (or a connection accepted, or end of file reached).
    pub fn is_readable(&self) -> bool {
        self.has(bits::IN)
    }

    /// Data can be written.
    pub fn is_writable(&self) -> bool {
        self.has(bits::OUT)
    }

    /// Priority data is available.
    pub fn is_priority(&self) -> bool {
        self.has(bits::PRI)
    }

    /// An error is pending on the descriptor (read it with `SO_ERROR` or by
    /// doing I/O), or the descriptor is invalid.
    pub fn is_error(&self) -> bool {
        self.has(bits::ERR | bits::NVAL)
    }

    /// The peer will send nothing more (hang-up, or read side shut down),
    /// also for a registration of [`Interest::READ_CLOSED`] alone, whose
    /// event has no readable bit.
    pub fn is_read_closed(&self) -> bool {
        self.has(bits::HUP | bits::RDHUP)
    }

    /// Nothing more can be written (hang-up, or an error on a writer).
    pub fn is_write_closed(&self) -> bool {
        self.has(bits::HUP) || (self.has(bits::OUT) && self.has(bits::ERR))
    }

    /// The registered descriptor number is no longer open (`POLLNVAL`): it
    /// was closed without being deregistered (select and poll backends).
    pub fn is_invalid(&self) -> bool {
        self.has(bits::NVAL)
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("token", &self.token())
            .field("readable", &self.is_readable())
            .field("writable", &self.is_writable())
            .field("error", &self.is_error())
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .field("priority", &self.is_priority())
            .field("raw_flags", &format_args!("{:#x}", self.raw_flags()))
            .finish()
    }
}

/// A reusable buffer of [`Event`]s, filled by [`Selector::select`](crate::Selector::select).
///
/// Its capacity is fixed at creation and never grows: a wait returns at most
/// that many events (the rest stay pending for the next wait), and no wait
/// allocates.
pub struct Events {
    /// Written by the kernel itself on the epoll backend (`sys::epoll`).
    pub(crate) buf: Vec<RawEvent>,
}

// SAFETY: the raw event is plain integers: a `(bits, token)` pair, or on
// epoll the kernel's struct, `!Send`/`!Sync` in rustix only because its
// data union has a pointer variant. This crate stores only the token (a
// `u64`) in it and never dereferences it.
unsafe impl Send for Events {}
// SAFETY: as for `Send`: shared references only read plain integers.
unsafe impl Sync for Events {}
// SAFETY: as for `Events`: the data holds a token, never a pointer.
unsafe impl Send for Event {}
// SAFETY: as above.
unsafe impl Sync for Event {}

impl Events {
    /// The largest capacity: 1,048,576 events per wait (12 MiB with
    /// Linux's 12-byte events, 16 MiB elsewhere). Larger capacities are
    /// lowered to it; the events that do not fit are reported by the next
    /// waits, in turn.
    pub const MAX_CAPACITY: usize = 1 << 20;

    /// A buffer for up to `capacity` events per wait. A capacity of zero is
    /// raised to one (a wait that can report nothing would be useless), one
    /// above [`MAX_CAPACITY`](Self::MAX_CAPACITY) lowered to it.
    pub fn with_capacity(capacity: usize) -> Self {
        Events {
            buf: Vec::with_capacity(capacity.clamp(1, Self::MAX_CAPACITY)),
        }
    }

    /// How many events one wait can report.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Number of events from the last wait.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True if the last wait reported nothing (it timed out).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Forgets the events (the next wait does this too).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The events of the last wait.
    pub fn iter(&self) -> std::slice::Iter<'_, Event> {
        self.as_slice().iter()
    }

    fn as_slice(&self) -> &[Event] {
        // SAFETY: `Event` is `repr(transparent)` over `RawEvent`, so a slice
        // of one is a slice of the other with the same length.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast::<Event>(), self.buf.len()) }
    }

    /// Appends an event if there is room; returns false when full.
    pub(crate) fn push(&mut self, token: Token, flags: u32) -> bool {
        if self.buf.len() == self.buf.capacity() {
            return false;
        }
        self.buf.push(sys_event::new(token.0, flags));
        true
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = &'a Event;
    type IntoIter = std::slice::Iter<'a, Event>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

// Events and Event can move to (and be shared with) another thread, so that a
// server owning its Selector and Events can run on a spawned thread.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Events>();
    send_sync::<Event>();
};
