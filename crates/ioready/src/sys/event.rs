//! The event record: what the portable [`Event`](crate::Event) wraps.
//!
//! On epoll platforms it is the kernel's own `struct epoll_event` (rustix's
//! `epoll::Event`), so the epoll backend hands the kernel the caller's
//! [`Events`](crate::Events) buffer to write into and translates nothing;
//! elsewhere it is a plain `(bits, token)` pair that the backends fill.

/// Readiness bits as they travel inside an event. They are Linux's
/// `POLL*`/`EPOLL*` values (identical for these bits), so epoll's events
/// need no translation; other backends translate into these.
pub(crate) mod bits {
    pub(crate) const IN: u32 = 0x001;
    pub(crate) const PRI: u32 = 0x002;
    pub(crate) const OUT: u32 = 0x004;
    pub(crate) const ERR: u32 = 0x008;
    pub(crate) const HUP: u32 = 0x010;
    pub(crate) const NVAL: u32 = 0x020;
    pub(crate) const RDHUP: u32 = 0x2000;
}

#[cfg(ioready_epoll)]
mod imp {
    use rustix::event::epoll;

    /// The kernel's `struct epoll_event`. Its data union is only ever used
    /// as a `u64` holding a token.
    pub(crate) type RawEvent = epoll::Event;

    #[inline]
    pub(crate) fn new(token: usize, bits: u32) -> RawEvent {
        epoll::Event {
            flags: epoll::EventFlags::from_bits_retain(bits),
            data: epoll::EventData::new_u64(token as u64),
        }
    }

    #[inline]
    pub(crate) fn token(ev: &RawEvent) -> usize {
        // Copy the field out: the kernel's struct is packed.
        let data = ev.data;
        data.u64() as usize
    }

    #[inline]
    pub(crate) fn flags(ev: &RawEvent) -> u32 {
        // Copy the field out: the kernel's struct is packed.
        let flags = ev.flags;
        flags.bits()
    }
}

#[cfg(not(ioready_epoll))]
mod imp {
    /// An event as the non-epoll backends report it.
    #[derive(Copy, Clone)]
    pub(crate) struct RawEvent {
        bits: u32,
        token: usize,
    }

    #[inline]
    pub(crate) fn new(token: usize, bits: u32) -> RawEvent {
        RawEvent { bits, token }
    }

    #[inline]
    pub(crate) fn token(ev: &RawEvent) -> usize {
        ev.token
    }

    #[inline]
    pub(crate) fn flags(ev: &RawEvent) -> u32 {
        ev.bits
    }
}

pub(crate) use imp::{flags, new, token, RawEvent};
