//! The engine's table of connections and listeners, and the `user_data` of
//! their requests.
//!
//! A request's `user_data` names its slot, the slot's generation and the
//! kind of request. A slot's generation changes every time it is freed, so
//! a completion that arrives after its transport was closed (a cancelled
//! receive, a send that finished meanwhile) never reaches the transport
//! that takes the slot, nor the descriptor number, next.

use std::os::fd::RawFd;

use pyo3::prelude::*;

use super::transport::UringTransport;

/// What a request was for (the top byte of its `user_data`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// The multishot receive of a connection.
    Recv = 1,
    /// A send of a connection.
    Send = 2,
    /// The multishot accept of a listener.
    Accept = 3,
    /// The poll on the readiness selector's descriptor.
    Selector = 4,
    /// A cancellation or a close (their completions are not needed).
    Quiet = 5,
}

/// A request's `user_data`: kind, generation (24 bits), slot.
pub(crate) fn pack(kind: Kind, gen: u32, slot: u32) -> u64 {
    ((kind as u64) << 56) | (u64::from(gen & 0xff_ffff) << 32) | u64::from(slot)
}

/// The kind, generation and slot of a `user_data`; `None` for an unknown
/// kind.
pub(crate) fn unpack(user_data: u64) -> Option<(Kind, u32, u32)> {
    let kind = match (user_data >> 56) as u8 {
        1 => Kind::Recv,
        2 => Kind::Send,
        3 => Kind::Accept,
        4 => Kind::Selector,
        5 => Kind::Quiet,
        _ => return None,
    };
    Some((
        kind,
        ((user_data >> 32) & 0xff_ffff) as u32,
        user_data as u32,
    ))
}

/// One connection's I/O state, owned by the engine (not by the transport
/// object) because the kernel may use its send buffer and descriptor until
/// the last completion of its requests, which can come after the transport
/// is gone.
pub(crate) struct Conn {
    pub(crate) fd: RawFd,
    /// The transport completions are reported to; `None` once released.
    pub(crate) transport: Option<Py<UringTransport>>,
    /// Bytes written since the last send was submitted.
    pub(crate) wbuf: Vec<u8>,
    /// The bytes of the send in flight: `inflight[inpos..]` not yet sent.
    pub(crate) inflight: Vec<u8>,
    pub(crate) inpos: usize,
    /// A send is in flight.
    pub(crate) sending: bool,
    /// Queued for this turn's submission of writes.
    pub(crate) dirty: bool,
    /// The multishot receive is armed (its last completion not yet seen).
    pub(crate) recv_armed: bool,
    /// The transport wants to read (not paused, not closing).
    pub(crate) reading: bool,
    /// Data received after reading was paused (before the receive's
    /// cancellation took effect), delivered on resume.
    pub(crate) stash: Vec<u8>,
    /// The end of stream arrived while paused.
    pub(crate) stash_eof: bool,
    /// `shutdown(SHUT_WR)` once the buffer is sent (`write_eof`).
    pub(crate) shut_wr: bool,
    /// The errno of a failed send, for its dispatch (0: none).
    pub(crate) send_error: i32,
}

impl Conn {
    pub(crate) fn new(fd: RawFd, transport: Py<UringTransport>) -> Self {
        Conn {
            fd,
            transport: Some(transport),
            wbuf: Vec::new(),
            inflight: Vec::new(),
            inpos: 0,
            sending: false,
            dirty: false,
            recv_armed: false,
            reading: false,
            stash: Vec::new(),
            stash_eof: false,
            shut_wr: false,
            send_error: 0,
        }
    }

    /// Bytes written and not yet sent.
    pub(crate) fn pending(&self) -> usize {
        self.wbuf.len() + (self.inflight.len() - self.inpos)
    }

    /// Whether the socket refused bytes, as the readiness transport's
    /// buffering means: a send still in flight after the enter that
    /// submitted it (waiting for room), or the rest of a short send.
    pub(crate) fn refused(&self) -> bool {
        self.sending || self.inpos > 0
    }

    /// Requests the kernel still has.
    pub(crate) fn in_flight(&self) -> bool {
        self.sending || self.recv_armed
    }
}

/// A listening socket served by a multishot accept.
pub(crate) struct Listener {
    pub(crate) fd: RawFd,
    /// Called with each accepted descriptor (or `-errno`).
    pub(crate) callback: Option<Py<PyAny>>,
    pub(crate) armed: bool,
}

/// What a slot holds.
pub(crate) enum Entry {
    Free,
    Conn(Conn),
    Listener(Listener),
}

/// A slot and its generation.
pub(crate) struct Slot {
    pub(crate) gen: u32,
    pub(crate) entry: Entry,
}

/// Every slot, with a free list.
#[derive(Default)]
pub(crate) struct Slots {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Slots {
    /// Takes a free slot for `entry`: its index and generation.
    pub(crate) fn insert(&mut self, entry: Entry) -> (u32, u32) {
        if let Some(i) = self.free.pop() {
            let slot = &mut self.slots[i as usize];
            slot.entry = entry;
            return (i, slot.gen);
        }
        self.slots.push(Slot { gen: 1, entry });
        ((self.slots.len() - 1) as u32, 1)
    }

    /// The slot `i` if its generation is `gen`.
    pub(crate) fn get_mut(&mut self, i: u32, gen: u32) -> Option<&mut Entry> {
        let slot = self.slots.get_mut(i as usize)?;
        if slot.gen & 0xff_ffff != gen & 0xff_ffff || matches!(slot.entry, Entry::Free) {
            return None;
        }
        Some(&mut slot.entry)
    }

    /// Frees slot `i` (a new generation for its next user); what it held.
    pub(crate) fn remove(&mut self, i: u32) -> Entry {
        let slot = &mut self.slots[i as usize];
        slot.gen = slot.gen.wrapping_add(1) & 0xff_ffff;
        if slot.gen == 0 {
            slot.gen = 1;
        }
        self.free.push(i);
        std::mem::replace(&mut slot.entry, Entry::Free)
    }

    /// Every occupied slot, for the garbage collector and shutdown.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut Slot)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| !matches!(s.entry, Entry::Free))
            .map(|(i, s)| (i as u32, s))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slots
            .iter()
            .filter(|s| !matches!(s.entry, Entry::Free))
    }
}
