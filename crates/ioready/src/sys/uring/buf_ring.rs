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
//!
//! An *incremental* ring ([`BufRing::incremental`], `IOU_PBUF_RING_INC`,
//! Linux 6.12) lets the kernel fill one buffer with several receives, each
//! starting where the last ended, and keep it until it is full
//! (`IORING_CQE_F_BUF_MORE` says it still has it). Small messages then use
//! the bytes they need rather than a buffer each, so a much smaller ring
//! holds as many of them. A buffer goes back to the ring once the kernel is
//! done with it and the program has recycled every piece it claimed.

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

/// Where one buffer is.
#[derive(Clone, Copy, Default)]
struct BufState {
    /// The kernel has it (for an incremental ring: may still write into
    /// it, past `filled`).
    with_kernel: bool,
    /// The pieces the program claimed and has not recycled (0 or 1 on a
    /// plain ring).
    held: u32,
    /// Incremental ring only: the bytes the kernel filled (the next piece
    /// starts there).
    filled: u32,
}

/// `IOU_PBUF_RING_INC`: the ring's buffers are consumed incrementally.
const PBUF_RING_INC: u16 = 2;

/// The largest ring the kernel accepts.
const MAX_ENTRIES: u16 = 32_768;

/// A provided buffer ring: `entries` buffers of `buf_len` bytes, registered
/// with a ring as buffer group `bgid`.
///
/// Each buffer is either with the kernel (in the ring, free for a receive to
/// pick) or with the program (named by a completion, claimed with
/// [`claim`](Self::claim), readable with [`buf`](Self::buf) until
/// [`recycle`](Self::recycle)d). The states are tracked, so a buffer cannot be
/// read while the kernel may write it, nor given back twice. On an
/// [`incremental`](Self::incremental) ring the program claims pieces of a
/// buffer the kernel may still be filling further on; it goes back to the
/// ring once the kernel is done with it and every piece is recycled.
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
    /// Per buffer id, where it is (one record, one bounds check).
    state: Vec<BufState>,
    /// Incremental consumption (`IOU_PBUF_RING_INC`) is in force.
    incremental: bool,
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
            .field("incremental", &self.incremental)
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
        BufRing::register(ring, bgid, entries, buf_len, false)
    }

    /// As [`new`](Self::new), but consumed incrementally
    /// (`IOU_PBUF_RING_INC`, Linux 6.12): the kernel fills each buffer with
    /// as many receives as fit, and a completion's bytes start where the
    /// previous piece of the same buffer ended. Claim pieces with
    /// [`claim_buf`](Self::claim_buf) (which needs their length);
    /// [`claim`](Self::claim) refuses.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new); `Unsupported` when the kernel does not know
    /// the flag (it answers `EINVAL`): use [`new`](Self::new) there.
    pub fn incremental(ring: &Ring, bgid: u16, entries: u16, buf_len: u32) -> io::Result<BufRing> {
        BufRing::register(ring, bgid, entries, buf_len, true)
    }

    /// Whether the ring is consumed incrementally (see
    /// [`incremental`](Self::incremental)).
    #[inline]
    pub fn is_incremental(&self) -> bool {
        self.incremental
    }

    fn register(
        ring: &Ring,
        bgid: u16,
        entries: u16,
        buf_len: u32,
        incremental: bool,
    ) -> io::Result<BufRing> {
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
            state: vec![BufState::default(); entries as usize],
            incremental,
            handed_out: entries as usize,
        };
        let reg = BufReg {
            ring_addr: this.ring as usize as u64,
            ring_entries: entries as u32,
            bgid,
            flags: if incremental { PBUF_RING_INC } else { 0 },
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
                rustix::io::Errno::INVAL if incremental => refusal::missing(
                    "incrementally consumed buffer rings (IOU_PBUF_RING_INC, Linux 6.12)",
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
    /// group, or one claimed twice); `InvalidInput` on an
    /// [`incremental`](Self::incremental) ring, whose pieces need their
    /// length ([`claim_buf`](Self::claim_buf)).
    #[inline]
    pub fn claim(&mut self, cqe_flags: u32) -> io::Result<Option<u16>> {
        if self.incremental {
            return Err(crate::error::invalid_input(
                "claim: an incremental buffer ring needs the length (claim_buf)",
            ));
        }
        Ok(self.claim_buf(cqe_flags, 0)?.map(|(bid, _, _)| bid))
    }

    /// [`claim`](Self::claim) and [`buf`](Self::buf) in one: the buffer a
    /// completion names, taken from the kernel's side, and the `len` bytes
    /// it received (at most what the buffer holds): one look-up where a
    /// receive loop would make two. On an incremental ring the bytes are
    /// the completion's piece, which starts where the buffer's previous
    /// piece ended; each piece claimed is recycled on its own. Returns the
    /// buffer id, where the bytes start in the buffer, and the bytes.
    ///
    /// # Errors
    ///
    /// `InvalidData` if the completion names a buffer id this ring does not
    /// have, or one the kernel does not have (a completion of another
    /// group, or one claimed twice).
    // Always: it is the receive path's own step, and too big for the
    // heuristics once the incremental case is in.
    #[inline(always)]
    pub fn claim_buf(
        &mut self,
        cqe_flags: u32,
        len: usize,
    ) -> io::Result<Option<(u16, u32, &[u8])>> {
        let Some(bid) = cqueue::buffer_select(cqe_flags) else {
            return Ok(None);
        };
        let buf_len = self.buf_len;
        let st = match self.state.get_mut(bid as usize) {
            Some(st) if st.with_kernel => st,
            _ => return Err(self.not_with_kernel(bid)),
        };
        st.held += 1;
        let (start, len) = if self.incremental {
            // `filled` <= buf_len while the kernel has the buffer.
            let start = st.filled;
            let len = len.min((buf_len - start) as usize);
            st.filled = start + len as u32;
            if cqueue::buffer_more(cqe_flags) {
                // SAFETY: as below; the kernel writes this buffer only past
                // `filled`, beyond these bytes.
                return Ok(Some((bid, start, unsafe { self.slice(bid, start, len) })));
            }
            (start, len)
        } else {
            (0, len.min(buf_len as usize))
        };
        st.with_kernel = false;
        self.handed_out += 1;
        // SAFETY: `bid` is in range (`state` has it) and the kernel is
        // done with the buffer (it named it without `BUF_MORE`); the slice
        // borrows `self`, so it ends before the `&mut self` a `recycle`
        // needs.
        Ok(Some((bid, start, unsafe { self.slice(bid, start, len) })))
    }

    /// `len` bytes of buffer `bid` from `start`.
    ///
    /// # Safety
    ///
    /// `bid` < entries, `start + len` <= buf_len, and the kernel does not
    /// write those bytes while the slice lives.
    #[inline(always)]
    unsafe fn slice(&self, bid: u16, start: u32, len: usize) -> &[u8] {
        // SAFETY: in the buffers' mapping, by the caller's promise.
        unsafe {
            std::slice::from_raw_parts(
                self.bufs
                    .add(bid as usize * self.buf_len as usize + start as usize),
                len,
            )
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

    /// The first `len` bytes (at most [`buf_len`](Self::buf_len); on an
    /// incremental ring, at most what the kernel filled) of a buffer the
    /// program holds (a piece of); `None` if it holds none or `bid` is out
    /// of range.
    #[inline]
    pub fn buf(&self, bid: u16, len: usize) -> Option<&[u8]> {
        let st = self.state.get(bid as usize)?;
        if st.held == 0 {
            return None;
        }
        // What the kernel filled and no longer writes: the whole buffer of
        // a plain ring, the pieces so far of an incremental one.
        let end = if self.incremental {
            st.filled
        } else {
            self.buf_len
        };
        // SAFETY: `bid` is in range and the program holds (part of) it; the
        // kernel writes only past `end`, and never into a buffer the program
        // holds before `recycle`, which needs `&mut self` (no borrow outlives
        // it).
        Some(unsafe { self.slice(bid, 0, len.min(end as usize)) })
    }

    /// `len` bytes from `start` of a buffer the program holds (a piece of,
    /// as [`claim_buf`](Self::claim_buf) named it); `None` if it holds none,
    /// `bid` is out of range, or the bytes are not all filled.
    #[inline]
    pub fn buf_at(&self, bid: u16, start: u32, len: usize) -> Option<&[u8]> {
        let all = self.buf(bid, start as usize + len)?;
        all.get(start as usize..)
    }

    /// Gives a buffer back to the kernel (published at once); on an
    /// incremental ring, one piece of it (the buffer goes back with its
    /// last).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `bid` is out of range or the program holds none of
    /// it (recycled twice).
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
        let st = match self.state.get_mut(bid as usize) {
            Some(st) if st.held > 0 => st,
            _ => return Err(self.not_held(bid)),
        };
        st.held -= 1;
        // Back to the ring once the program holds no piece of it and the
        // kernel is done with it (always, on a plain ring).
        if st.held == 0 && !st.with_kernel {
            self.give(bid);
        }
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
        self.state[bid as usize] = BufState {
            with_kernel: true,
            held: 0,
            filled: 0,
        };
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
