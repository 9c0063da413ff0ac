//! What each request of the io_uring engine is, written into its user data,
//! and the requests themselves (SQE builders).
//!
//! The user data of a request is `generation << 32 | slot << 8 | kind`. The
//! slot is the connection's index in the engine's slab; the generation is
//! the slab entry's use count. A slot is reused only once every request of
//! its previous connection has completed, and a completion whose generation
//! differs from the slot's is dropped (its buffer, if it carries one, goes
//! back to the ring): so a new connection never sees an old one's data or
//! completions, whatever descriptor number the kernel gives it. Requests
//! name the connection by slot and generation, never by descriptor; the
//! descriptor itself is closed only after the last request that uses it
//! has completed, so its number cannot be reused while one is in flight.

use std::os::fd::RawFd;

use ioready::uring::{opcode, squeue, types};

/// The multishot accept on the listener.
pub(crate) const ACCEPT: u8 = 1;
/// A connection's multishot receive.
pub(crate) const RECV: u8 = 2;
/// A connection's send (`MSG_DONTWAIT`: it completes in the enter that
/// submits it).
pub(crate) const SEND: u8 = 3;
/// A connection's one-shot poll for writability, after a short send.
pub(crate) const POLL_OUT: u8 = 4;
pub(crate) use libc_flags::POLL_ROOM;
/// An `ASYNC_CANCEL` (its own completion is ignored).
pub(crate) const CANCEL: u8 = 5;
/// The poll of the control selector (signals, the shutdown handle).
pub(crate) const CONTROL: u8 = 6;

/// A request's identity, packed into its user data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ud {
    pub(crate) kind: u8,
    pub(crate) slot: u32,
    pub(crate) gen: u32,
}

/// Slots have 24 bits: far more than any descriptor limit.
pub(crate) const MAX_SLOTS: usize = 1 << 24;

impl Ud {
    #[inline]
    pub(crate) fn new(kind: u8, slot: u32, gen: u32) -> Ud {
        Ud { kind, slot, gen }
    }

    #[inline]
    pub(crate) fn pack(self) -> u64 {
        (u64::from(self.gen) << 32) | (u64::from(self.slot) << 8) | u64::from(self.kind)
    }

    #[inline]
    pub(crate) fn unpack(ud: u64) -> Ud {
        Ud {
            kind: ud as u8,
            slot: ((ud >> 8) & 0xff_ffff) as u32,
            gen: (ud >> 32) as u32,
        }
    }
}

/// Multishot accept; new sockets are close-on-exec and non-blocking (the
/// engine's few direct calls on them, in a lingering close, must not block).
pub(crate) fn accept_multi(listener: RawFd) -> squeue::Entry {
    opcode::AcceptMulti::new(types::Fd(listener))
        .flags(libc_flags::SOCK_CLOEXEC | libc_flags::SOCK_NONBLOCK)
        .build()
        .user_data(Ud::new(ACCEPT, 0, 0).pack())
}

/// Multishot receive into buffers of group `bgid`.
#[inline]
pub(crate) fn recv_multi(fd: RawFd, bgid: u16, ud: Ud) -> squeue::Entry {
    opcode::RecvMulti::new(types::Fd(fd), bgid)
        .build()
        .user_data(ud.pack())
}

/// One send of `len` bytes at `ptr`, `MSG_DONTWAIT` (never parked in the
/// kernel waiting for room: a short or refused send comes back at once and
/// the engine polls for writability itself) and `MSG_NOSIGNAL`.
#[inline]
pub(crate) fn send(fd: RawFd, ptr: *const u8, len: u32, ud: Ud) -> squeue::Entry {
    opcode::Send::new(types::Fd(fd), ptr, len)
        .flags(libc_flags::MSG_DONTWAIT | libc_flags::MSG_NOSIGNAL)
        .build()
        .user_data(ud.pack())
}

/// Multishot poll for writability: armed after the first short send and
/// kept until the connection closes. Not single-shot: the kernel adds
/// `POLLRDHUP` to every poll, so on a socket whose peer shut down writing a
/// single-shot poll completes at once, every time, with no room to send (a
/// busy loop); a multishot poll completes on wake-ups only, and the engine
/// acts on those that say room (or an error).
pub(crate) fn poll_out(fd: RawFd, ud: Ud) -> squeue::Entry {
    opcode::PollAdd::new(types::Fd(fd), libc_flags::POLLOUT)
        .multi(true)
        .build()
        .user_data(ud.pack())
}

/// Cancels the request with user data `target`.
pub(crate) fn cancel(target: Ud) -> squeue::Entry {
    opcode::AsyncCancel::new(target.pack())
        .build()
        .user_data(Ud::new(CANCEL, target.slot, target.gen).pack())
}

/// One-shot poll for readability of the control selector's descriptor.
pub(crate) fn poll_in(fd: RawFd, kind: u8) -> squeue::Entry {
    opcode::PollAdd::new(types::Fd(fd), libc_flags::POLLIN)
        .build()
        .user_data(Ud::new(kind, 0, 0).pack())
}

/// The few libc constants the requests carry (from rustix, which has them
/// for every Linux architecture).
mod libc_flags {
    use rustix::net::{SendFlags, SocketFlags};

    pub(crate) const SOCK_CLOEXEC: i32 = SocketFlags::CLOEXEC.bits() as i32;
    pub(crate) const SOCK_NONBLOCK: i32 = SocketFlags::NONBLOCK.bits() as i32;
    pub(crate) const MSG_DONTWAIT: i32 = SendFlags::DONTWAIT.bits() as i32;
    pub(crate) const MSG_NOSIGNAL: i32 = SendFlags::NOSIGNAL.bits() as i32;
    pub(crate) const POLLOUT: u32 = rustix::event::PollFlags::OUT.bits() as u32;
    /// What says the poll for room is answered: room, or an error the send
    /// will report.
    pub(crate) const POLL_ROOM: i32 = (rustix::event::PollFlags::OUT.bits()
        | rustix::event::PollFlags::ERR.bits()
        | rustix::event::PollFlags::HUP.bits()) as i32;
    pub(crate) const POLLIN: u32 = rustix::event::PollFlags::IN.bits() as u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_round_trips() {
        for ud in [
            Ud::new(RECV, 0, 0),
            Ud::new(SEND, (MAX_SLOTS - 1) as u32, u32::MAX),
            Ud::new(CANCEL, 12345, 7),
        ] {
            assert_eq!(Ud::unpack(ud.pack()), ud);
        }
    }
}
