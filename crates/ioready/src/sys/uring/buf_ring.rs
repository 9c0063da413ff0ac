//! [`BufRing`]: a provided buffer ring (`IORING_REGISTER_PBUF_RING`, Linux
//! 5.19), the memory a multishot receive picks its buffers from.
//!
//! Memory follows data in flight, not connections: one ring of `entries`
//! buffers serves every connection whose receive names its group. The kernel
//! takes a buffer when data arrives and names it in the completion
//! (`IORING_CQE_F_BUFFER`, the buffer id in the upper 16 bits of the flags);
//! the program reads it, then gives it back with [`BufRing::recycle`]. When
//! the ring is empty, a multishot receive ends with `ENOBUFS` (its last
//! completion, without `F_MORE`): recycle, then re-arm it.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::cqueue;
use rustix::io_uring::{io_uring_register, IoringRegisterOp};
use rustix::mm::{mmap_anonymous, munmap, MapFlags, ProtFlags};

use super::refusal;
use super::ring::Ring;

/// `struct io_uring_buf_reg`.
#[repr(C)]
struct BufReg {
    ring_addr: u64,
    ring_entries: u32,
    bgid: u16,
    flags: u16,
    resv: [u64; 3],
}

/// `struct io_uring_buf`: one entry of the ring. The ring's tail overlays
/// the `resv` field of entry 0.
#[repr(C)]
struct BufEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

/// The largest ring the kernel accepts.
const MAX_ENTRIES: u16 = 32_768;

/// A provided buffer ring: `entries` buffers of `buf_len` bytes, registered
/// with a ring as buffer group `bgid`.
///
/// Each buffer is either with the kernel (in the ring, free for a receive to
/// pick) or with the program (named by a completion, claimed with
/// [`claim`](Self::claim), readable with [`buf`](Self::buf) until
/// [`recycle`](Self::recycle)d). The states are tracked, so a buffer cannot be
/// read while the kernel may write it, nor given back twice.
///
/// Dropping it unregisters the group, then frees the memory. It holds its
/// own reference to the ring's file, so it may outlive the [`Ring`] value.
/// Cancel the requests that use the group before dropping it.
pub struct BufRing {
    /// A duplicate of the ring's descriptor, to unregister on drop.
    ring_fd: OwnedFd,
    bgid: u16,
    entries: u16,
    buf_len: u32,
    /// The ring of `BufEntry`s (page-aligned, as the kernel requires).
    ring: *mut BufEntry,
    ring_bytes: usize,
    /// The buffers, `buf_len` bytes each, in buffer-id order.
    bufs: *mut u8,
    bufs_bytes: usize,
    /// Our copy of the ring's tail (the kernel only reads it).
    tail: u16,
    /// Per buffer id: true while the kernel has it.
    with_kernel: Vec<bool>,
    handed_out: usize,
}

// SAFETY: the two mappings are owned by this value alone (no thread
// affinity); the kernel's accesses to them are synchronised through the
// ring's tail (release store here) and the completions the owner reaps.
unsafe impl Send for BufRing {}

impl std::fmt::Debug for BufRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufRing")
            .field("bgid", &self.bgid)
            .field("entries", &self.entries)
            .field("buf_len", &self.buf_len)
            .field("handed_out", &self.handed_out)
            .finish()
    }
}

impl BufRing {
    /// Registers a ring of `entries` buffers (a power of two, at most 32,768)
    /// of `buf_len` bytes each with `ring`, as buffer group `bgid`, all of
    /// them given to the kernel.
    ///
    /// # Errors
    ///
    /// * `InvalidInput` for `entries` not a power of two in 1..=32,768, a
    ///   zero `buf_len`, or a total size that does not fit in memory.
    /// * `AlreadyExists` if `bgid` is registered on this ring already.
    /// * `Unsupported`/`PermissionDenied` naming the reason when the kernel
    ///   lacks buffer rings (5.19) or refuses the registration.
    /// * `ENOMEM` (mapping the memory), `EMFILE` (duplicating the ring's
    ///   descriptor).
    pub fn new(ring: &Ring, bgid: u16, entries: u16, buf_len: u32) -> io::Result<BufRing> {
        if entries == 0 || entries > MAX_ENTRIES || !entries.is_power_of_two() {
            return Err(crate::error::invalid_input(&format!(
                "entries: must be a power of two from 1 to {MAX_ENTRIES}, got {entries}"
            )));
        }
        if buf_len == 0 {
            return Err(crate::error::invalid_input("buf_len: must not be zero"));
        }
        let bufs_bytes = (buf_len as usize)
            .checked_mul(entries as usize)
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or_else(|| crate::error::invalid_input("entries * buf_len: too large"))?;
        let ring_bytes = entries as usize * std::mem::size_of::<BufEntry>();
        let ring_fd = rustix::io::fcntl_dupfd_cloexec(ring.as_fd(), 0)?;
        let ring_mem = map(ring_bytes)?;
        let bufs = match map(bufs_bytes) {
            Ok(b) => b,
            Err(e) => {
                // SAFETY: mapped just above, with this length, and unused.
                let _ = unsafe { munmap(ring_mem, ring_bytes) };
                return Err(e);
            }
        };
        let mut this = BufRing {
            ring_fd,
            bgid,
            entries,
            buf_len,
            ring: ring_mem.cast(),
            ring_bytes,
            bufs: bufs.cast(),
            bufs_bytes,
            tail: 0,
            with_kernel: vec![false; entries as usize],
            handed_out: entries as usize,
        };
        let reg = BufReg {
            ring_addr: this.ring as usize as u64,
            ring_entries: entries as u32,
            bgid,
            flags: 0,
            resv: [0; 3],
        };
        // SAFETY: `reg` is a valid `io_uring_buf_reg` read during the call;
        // the ring memory it names is page-aligned (mmap), `ring_bytes` long,
        // and stays mapped until the group is unregistered in `Drop`.
        let r = unsafe {
            io_uring_register(
                &this.ring_fd,
                IoringRegisterOp::RegisterPbufRing,
                (&reg as *const BufReg).cast(),
                1,
            )
        };
        if let Err(e) = r {
            // Not registered: `Drop` must not unregister someone else's
            // group of the same id.
            this.entries = 0;
            return Err(match e {
                rustix::io::Errno::EXIST => io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("buffer group {bgid} is registered on this ring already"),
                ),
                e => refusal::call_failed(
                    "registering a provided buffer ring (IORING_REGISTER_PBUF_RING, Linux 5.19)",
                    e.into(),
                ),
            });
        }
        for bid in 0..entries {
            this.give(bid);
        }
        this.publish();
        Ok(this)
    }

    /// The buffer group id (for `IOSQE_BUFFER_SELECT` requests).
    #[inline]
    pub fn bgid(&self) -> u16 {
        self.bgid
    }

    /// How many buffers the ring has.
    #[inline]
    pub fn entries(&self) -> u16 {
        self.entries
    }

    /// The size of each buffer.
    #[inline]
    pub fn buf_len(&self) -> u32 {
        self.buf_len
    }

    /// How many buffers the program holds (claimed, not yet recycled).
    #[inline]
    pub fn handed_out(&self) -> usize {
        self.handed_out
    }

    /// Takes the buffer a completion names (`IORING_CQE_F_BUFFER` in
    /// `cqe_flags`) from the kernel's side to the program's: `Ok(None)` when
    /// the completion carries no buffer (an error, or `ENOBUFS`).
    ///
    /// # Errors
    ///
    /// `InvalidData` if the completion names a buffer id this ring does not
    /// have, or one the program holds already (a completion of another
    /// group, or one claimed twice).
    #[inline]
    pub fn claim(&mut self, cqe_flags: u32) -> io::Result<Option<u16>> {
        let Some(bid) = cqueue::buffer_select(cqe_flags) else {
            return Ok(None);
        };
        match self.with_kernel.get_mut(bid as usize) {
            Some(k) if *k => {
                *k = false;
                self.handed_out += 1;
                Ok(Some(bid))
            }
            _ => Err(self.not_with_kernel(bid)),
        }
    }

    /// [`claim`](Self::claim) and [`buf`](Self::buf) in one: the buffer a
    /// completion names, taken from the kernel's side, and its first `len`
    /// bytes (at most [`buf_len`](Self::buf_len)): one look-up where a
    /// receive loop would make two.
    ///
    /// # Errors
    ///
    /// As [`claim`](Self::claim).
    #[inline]
    pub fn claim_buf(&mut self, cqe_flags: u32, len: usize) -> io::Result<Option<(u16, &[u8])>> {
        let Some(bid) = cqueue::buffer_select(cqe_flags) else {
            return Ok(None);
        };
        match self.with_kernel.get_mut(bid as usize) {
            Some(k) if *k => {
                *k = false;
                self.handed_out += 1;
                let len = len.min(self.buf_len as usize);
                // SAFETY: as in `buf`: `bid` is in range and now held by
                // the program; the slice borrows `self`, so it ends before
                // the `&mut self` a `recycle` needs.
                let data = unsafe {
                    std::slice::from_raw_parts(
                        self.bufs.add(bid as usize * self.buf_len as usize),
                        len,
                    )
                };
                Ok(Some((bid, data)))
            }
            _ => Err(self.not_with_kernel(bid)),
        }
    }

    #[cold]
    fn not_with_kernel(&self, bid: u16) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "buffer {bid} of group {} is not with the kernel (another group's \
                 completion, or claimed twice)",
                self.bgid
            ),
        )
    }

    /// The first `len` bytes (at most [`buf_len`](Self::buf_len)) of a buffer
    /// the program holds; `None` if the kernel has it or `bid` is out of
    /// range.
    #[inline]
    pub fn buf(&self, bid: u16, len: usize) -> Option<&[u8]> {
        if self.with_kernel.get(bid as usize) != Some(&false) {
            return None;
        }
        let len = len.min(self.buf_len as usize);
        // SAFETY: `bid` is in range, so the slice lies inside the buffers'
        // mapping; the program holds the buffer, so the kernel does not write
        // it until `recycle`, which needs `&mut self` (no borrow outlives it).
        Some(unsafe {
            std::slice::from_raw_parts(self.bufs.add(bid as usize * self.buf_len as usize), len)
        })
    }

    /// Gives a buffer back to the kernel (published at once).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `bid` is out of range or the kernel has it already
    /// (recycled twice).
    pub fn recycle(&mut self, bid: u16) -> io::Result<()> {
        self.recycle_unpublished(bid)?;
        self.publish();
        Ok(())
    }

    /// Gives a buffer back to the ring without publishing it: the kernel
    /// sees it, with every other buffer given back since, at the next
    /// [`publish`](Self::publish). A program that hands back a batch of
    /// buffers (one per completion of a batch) publishes once, before it
    /// next enters the kernel: one release store instead of one per buffer.
    /// The buffer is the ring's from now on ([`buf`](Self::buf) refuses it).
    ///
    /// # Errors
    ///
    /// As [`recycle`](Self::recycle).
    #[inline]
    pub fn recycle_unpublished(&mut self, bid: u16) -> io::Result<()> {
        match self.with_kernel.get_mut(bid as usize) {
            Some(k) if !*k => *k = true,
            _ => return Err(self.not_held(bid)),
        }
        self.put(bid);
        Ok(())
    }

    #[cold]
    fn not_held(&self, bid: u16) -> io::Error {
        crate::error::invalid_input(&format!(
            "bid: buffer {bid} of group {} is not held by the program",
            self.bgid
        ))
    }

    /// Publishes the buffers given back with
    /// [`recycle_unpublished`](Self::recycle_unpublished): from now on the
    /// kernel may pick them. Cheap when there is nothing new (one store).
    #[inline]
    pub fn publish(&self) {
        // SAFETY: the tail is the `resv` field of entry 0, a 2-byte aligned
        // u16 inside the ring mapping; the kernel reads it with an acquire
        // load, so the release store orders the entries written before it.
        let tail = unsafe { &*(std::ptr::addr_of_mut!((*self.ring).resv) as *const AtomicU16) };
        tail.store(self.tail, Ordering::Release);
    }

    /// Writes buffer `bid` into the ring at our tail (not yet published).
    #[inline]
    fn give(&mut self, bid: u16) {
        self.with_kernel[bid as usize] = true;
        self.put(bid);
    }

    /// [`give`](Self::give) once `with_kernel` says the kernel has it.
    #[inline]
    fn put(&mut self, bid: u16) {
        let slot = (self.tail & (self.entries - 1)) as usize;
        // SAFETY: `slot` < entries, so the entry lies in the ring mapping.
        // The fields are written one by one, never `resv`, which in entry 0
        // is the ring's tail. The kernel reads entries only below the
        // published tail, and this slot is above it.
        unsafe {
            let e = self.ring.add(slot);
            std::ptr::addr_of_mut!((*e).addr)
                .write(self.bufs.add(bid as usize * self.buf_len as usize) as usize as u64);
            std::ptr::addr_of_mut!((*e).len).write(self.buf_len);
            std::ptr::addr_of_mut!((*e).bid).write(bid);
        }
        self.handed_out -= 1;
        self.tail = self.tail.wrapping_add(1);
    }
}

/// An anonymous, private, zeroed, page-aligned mapping of `len` bytes.
fn map(len: usize) -> io::Result<*mut std::ffi::c_void> {
    // SAFETY: a fresh anonymous mapping at an address the kernel picks
    // aliases nothing.
    Ok(unsafe {
        mmap_anonymous(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )?
    })
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.entries != 0 {
            let reg = BufReg {
                ring_addr: 0,
                ring_entries: 0,
                bgid: self.bgid,
                flags: 0,
                resv: [0; 3],
            };
            // SAFETY: `reg` is a valid `io_uring_buf_reg` read during the call.
            let r = unsafe {
                io_uring_register(
                    &self.ring_fd,
                    IoringRegisterOp::UnregisterPbufRing,
                    (&reg as *const BufReg).cast(),
                    1,
                )
            };
            if r.is_err() {
                // Still registered: the kernel may write into the buffers,
                // so the memory must stay mapped (leaked) rather than be
                // freed under it.
                return;
            }
        }
        // SAFETY: both mappings were made in `new` with these lengths and the
        // group is unregistered (or was never registered): nothing refers to
        // them any more.
        unsafe {
            let _ = munmap(self.ring.cast(), self.ring_bytes);
            let _ = munmap(self.bufs.cast(), self.bufs_bytes);
        }
    }
}
