//! `select(2)`: the kernel's `fd_set` words, growable past `FD_SETSIZE`
//! (Linux and the BSDs accept sets sized to the highest descriptor), and one
//! `pselect6` call on three of them. Used by the public [`select()`](crate::select())
//! and [`SelectSets`](crate::SelectSets) and by the Selector's select backend.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use rustix::event::FdSetElement;

use crate::error;
use crate::timeout;

/// One word of an `fd_set` bit vector, as the platform lays it out.
#[cfg(any(target_os = "linux", target_os = "android"))]
type Word = std::ffi::c_ulong;
#[cfg(all(
    not(any(target_os = "linux", target_os = "android")),
    target_pointer_width = "64",
    any(target_os = "freebsd", target_os = "dragonfly")
))]
type Word = u64;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    all(
        target_pointer_width = "64",
        any(target_os = "freebsd", target_os = "dragonfly")
    )
)))]
type Word = u32;

const BITS: usize = Word::BITS as usize;

// `FdSetElement` is `repr(transparent)` over this same integer; the casts in
// `FdSet::as_elements` rely on it.
const _: () = assert!(std::mem::size_of::<Word>() == std::mem::size_of::<FdSetElement>());
const _: () = assert!(std::mem::align_of::<Word>() == std::mem::align_of::<FdSetElement>());

/// Words kept inline: a `select` call on descriptors below 256 (the common
/// case) allocates nothing. Kept small because `Selected` holds three sets
/// and is moved by value: 1024 bits inline cost more in copies than the
/// allocation they save (measured with the Python module's benchmark).
const INLINE_WORDS: usize = 256 / BITS;

/// The words of an `fd_set`: inline up to [`INLINE_WORDS`], on the heap
/// beyond (and from then on, reusing that allocation).
#[derive(Clone, Debug)]
struct Words {
    inline: [Word; INLINE_WORDS],
    /// Used instead of `inline` once it has a capacity.
    heap: Vec<Word>,
    /// Words in use (of `inline`, or `heap.len()`).
    len: usize,
}

impl Default for Words {
    fn default() -> Self {
        Words {
            inline: [0; INLINE_WORDS],
            heap: Vec::new(),
            len: 0,
        }
    }
}

impl Words {
    #[inline]
    fn spilled(&self) -> bool {
        self.heap.capacity() != 0
    }

    #[inline]
    fn as_slice(&self) -> &[Word] {
        if self.spilled() {
            &self.heap
        } else {
            &self.inline[..self.len]
        }
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [Word] {
        if self.spilled() {
            &mut self.heap
        } else {
            &mut self.inline[..self.len]
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Words it can hold without allocating.
    #[inline]
    fn capacity(&self) -> usize {
        if self.spilled() {
            self.heap.capacity()
        } else {
            INLINE_WORDS
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.heap.clear();
        self.len = 0;
    }

    /// Resizes to `len` words, new ones zero.
    ///
    /// Inlined for the inline case (every `insert` of a small descriptor
    /// may grow the set by a word); the heap case is out of line.
    #[inline]
    fn resize(&mut self, len: usize) {
        if !self.spilled() && len <= INLINE_WORDS {
            if len > self.len {
                self.inline[self.len..len].fill(0);
            }
            self.len = len;
        } else {
            self.resize_heap(len);
        }
    }

    /// [`resize`](Self::resize) onto (or within) the heap.
    #[inline(never)]
    fn resize_heap(&mut self, len: usize) {
        if !self.spilled() {
            let mut heap = Vec::with_capacity(len);
            heap.extend_from_slice(&self.inline[..self.len]);
            self.heap = heap;
        }
        self.heap.resize(len, 0);
        self.len = len;
    }

    fn copy_from(&mut self, other: &[Word]) {
        self.clear();
        self.resize(other.len());
        self.as_mut_slice().copy_from_slice(other);
    }
}

/// A growable `fd_set`: bit `fd % BITS` of word `fd / BITS`, the layout the
/// kernel reads, as long as the highest descriptor needs.
#[derive(Clone, Default, Debug)]
pub(crate) struct FdSet {
    words: Words,
}

impl FdSet {
    /// Clears every bit and makes room for descriptors below `nfds`, keeping
    /// the allocation (so a reused set does not allocate in steady state).
    pub(crate) fn reset(&mut self, nfds: usize) {
        let len = nfds.div_ceil(BITS);
        self.words.clear();
        self.words.resize(len);
    }

    /// Copies `other` into `self`, reusing `self`'s allocation.
    pub(crate) fn copy_from(&mut self, other: &FdSet) {
        self.words.copy_from(other.words.as_slice());
    }

    /// Sets `fd`, growing the set if needed. `fd` must be non-negative.
    #[inline]
    pub(crate) fn insert(&mut self, fd: RawFd) {
        let fd = fd as usize;
        if fd / BITS >= self.words.len() {
            self.words.resize(fd / BITS + 1);
        }
        self.words.as_mut_slice()[fd / BITS] |= 1 << (fd % BITS);
    }

    /// True if the set has room for `fd` without allocating (`fd` must be
    /// non-negative).
    #[inline]
    pub(crate) fn has_room_for(&self, fd: RawFd) -> bool {
        (fd as usize) / BITS < self.words.capacity()
    }

    /// Clears `fd`.
    pub(crate) fn remove(&mut self, fd: RawFd) {
        let fd = fd as usize;
        if let Some(w) = self.words.as_mut_slice().get_mut(fd / BITS) {
            *w &= !(1 << (fd % BITS));
        }
    }

    /// True if `fd` is set.
    #[inline]
    pub(crate) fn contains(&self, fd: RawFd) -> bool {
        let fd = fd as usize;
        self.words
            .as_slice()
            .get(fd / BITS)
            .is_some_and(|w| w & (1 << (fd % BITS)) != 0)
    }

    /// Grows to `words` words (zero-filled).
    pub(crate) fn grow_to(&mut self, words: usize) {
        if self.words.len() < words {
            self.words.resize(words);
        }
    }

    /// True if no bit is set.
    pub(crate) fn is_clear(&self) -> bool {
        self.words.as_slice().iter().all(|w| *w == 0)
    }

    /// One past the highest descriptor in the set; 0 if it is empty.
    pub(crate) fn nfds(&self) -> usize {
        let words = self.words.as_slice();
        match words.iter().rposition(|w| *w != 0) {
            Some(i) => i * BITS + (BITS - words[i].leading_zeros() as usize),
            None => 0,
        }
    }

    /// The words as the kernel's `fd_set`, or `None` (NULL) when `used` is
    /// false: an empty set need not be passed at all.
    fn as_elements(&mut self, used: bool) -> Option<&mut [FdSetElement]> {
        if !used || self.words.is_empty() {
            return None;
        }
        let words = self.words.as_mut_slice();
        // SAFETY: `FdSetElement` is `repr(transparent)` over `Word` (checked
        // by the size and alignment assertions above); the slice covers
        // exactly our initialised words and borrows `self` mutably.
        let elements = unsafe {
            std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<FdSetElement>(), words.len())
        };
        Some(elements)
    }
}

/// The three sets of one `select(2)` call, reused between calls.
#[derive(Default, Debug)]
pub(crate) struct FdSets {
    pub(crate) read: FdSet,
    pub(crate) write: FdSet,
    pub(crate) except: FdSet,
}

impl FdSets {
    /// Empties the three sets, keeping their allocations.
    pub(crate) fn clear(&mut self) {
        self.read.reset(0);
        self.write.reset(0);
        self.except.reset(0);
    }

    /// Copies the three sets of `other` (a template) into `self`, reusing
    /// `self`'s allocations.
    pub(crate) fn copy_from(&mut self, other: &FdSets) {
        self.read.copy_from(&other.read);
        self.write.copy_from(&other.write);
        self.except.copy_from(&other.except);
    }

    /// One `select(2)` call on the sets, which it overwrites with the ready
    /// descriptors. Returns the number of ready bits.
    ///
    /// As C callers (and CPython) do, `nfds` is one past the highest
    /// descriptor, not the sets' rounded-up capacity, and a set with no
    /// descriptor is passed as NULL: the kernel then scans, copies in and
    /// copies back only what is needed.
    ///
    /// The sets hold descriptor *numbers*: the kernel only looks them up,
    /// and answers `EBADF` for one that is not open (the argument of
    /// [`borrow_number`](super::borrow_number)); nothing is done through them.
    pub(crate) fn select_once(&mut self, remaining: Option<Duration>) -> io::Result<usize> {
        let (r, w, x) = (self.read.nfds(), self.write.nfds(), self.except.nfds());
        let nfds = r.max(w).max(x);
        let words = nfds.div_ceil(BITS);
        // Every set passed must cover `nfds` bits; the others (all zero,
        // and left so by the call) are not passed and need no room.
        for (set, n) in [
            (&mut self.read, r),
            (&mut self.write, w),
            (&mut self.except, x),
        ] {
            if n > 0 {
                set.grow_to(words);
            }
        }
        let nfds = i32::try_from(nfds)
            .map_err(|_| error::invalid_input("select: descriptor number too large"))?;
        let ts = timeout::to_timespec(remaining);
        // SAFETY: each set passed is at least `words` long, which covers
        // `nfds` bits, and borrowed mutably for the call; the numbers in
        // them are only looked up by the kernel (see above).
        let n = unsafe {
            rustix::event::select(
                nfds,
                self.read.as_elements(r > 0),
                self.write.as_elements(w > 0),
                self.except.as_elements(x > 0),
                ts.as_ref(),
            )?
        };
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_set_grows_from_inline_to_heap_and_back_to_small() {
        let mut set = FdSet::default();
        set.insert(3);
        assert!(!set.words.spilled());
        assert_eq!(set.nfds(), 4);
        set.insert(5000);
        assert!(set.words.spilled());
        assert!(set.contains(3) && set.contains(5000) && !set.contains(4));
        assert_eq!(set.nfds(), 5001);

        // Copies between an inline and a spilled set keep every bit.
        let mut small = FdSet::default();
        small.insert(7);
        small.copy_from(&set);
        assert!(small.contains(3) && small.contains(5000) && !small.contains(7));
        set.copy_from(&FdSet::default());
        assert!(set.is_clear());
        assert_eq!(set.nfds(), 0);

        set.reset(64);
        set.insert(1);
        set.remove(1);
        assert!(set.is_clear());
    }
}
