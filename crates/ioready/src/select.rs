//! `select(2)` over any values that carry a file descriptor, without the
//! `FD_SETSIZE` limit.
//!
//! The fixed 1024-bit `fd_set` of C is where nix panics and C programs corrupt
//! memory (nix#1087, libc#2421). Here the sets are sized to the highest
//! descriptor in the call, which Linux and the BSDs accept, so descriptors
//! numbered 1024, 5000 or 19999 work like any other.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
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
        // SAFETY: `FdSetElement` is `repr(transparent)` over `Word` (checked
        // by the size and alignment assertions above); the slice covers
        // exactly our initialised words and borrows `self` mutably.
        let words = self.words.as_mut_slice();
        Some(unsafe {
            std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<FdSetElement>(), words.len())
        })
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
    /// One `select(2)` call on the sets, which it overwrites with the ready
    /// descriptors. Returns the number of ready bits.
    ///
    /// As C callers (and CPython) do, `nfds` is one past the highest
    /// descriptor, not the sets' rounded-up capacity, and a set with no
    /// descriptor is passed as NULL: the kernel then scans, copies in and
    /// copies back only what is needed.
    ///
    /// # Safety
    ///
    /// Every descriptor set in the three sets must be a descriptor the caller
    /// may legitimately ask the kernel about for the duration of the call.
    /// The kernel only reads the numbers; a closed one gives `EBADF`.
    pub(crate) unsafe fn select_once(&mut self, remaining: Option<Duration>) -> io::Result<usize> {
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
        // SAFETY: the caller vouches for the descriptors (see above); each
        // set passed is at least `words` long, which covers `nfds` bits.
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

/// Reusable `select(2)` sets for callers that hold plain descriptor numbers
/// (the Python module): fill them, call [`select_once`](Self::select_once),
/// then ask which descriptors are ready.
///
/// Unlike [`select`], nothing is borrowed and nothing is copied around: the
/// three sets are filled in place, the kernel overwrites them with the ready
/// descriptors, and the queries read them where they are. Like the
/// functions, there is no `FD_SETSIZE` limit, and a set with no descriptor is
/// passed to the kernel as NULL.
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
///
/// let (a, mut b) = UnixStream::pair()?;
/// b.write_all(b"ping")?;
/// let mut sets = ioready::SelectSets::new();
/// sets.insert_read(a.as_raw_fd())?;
/// sets.insert_write(b.as_raw_fd())?;
/// assert_eq!(sets.select_once(Some(Duration::from_secs(1)))?, 2);
/// assert!(sets.is_readable(a.as_raw_fd()) && sets.is_writable(b.as_raw_fd()));
/// sets.clear(); // ready for the next call
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Default, Debug)]
pub struct SelectSets {
    sets: FdSets,
}

#[inline]
fn check_raw_fd(fd: RawFd) -> io::Result<()> {
    if fd < 0 {
        return Err(negative_fd());
    }
    Ok(())
}

#[cold]
fn negative_fd() -> io::Error {
    error::invalid_input("select: negative file descriptor")
}

impl SelectSets {
    /// Three empty sets (allocating nothing for descriptors below 256).
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the three sets, keeping any allocation for the next call.
    pub fn clear(&mut self) {
        self.sets.read.reset(0);
        self.sets.write.reset(0);
        self.sets.except.reset(0);
    }

    /// Adds `fd` to the descriptors waited on for reading.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `fd` is negative.
    #[inline]
    pub fn insert_read(&mut self, fd: RawFd) -> io::Result<()> {
        check_raw_fd(fd)?;
        self.sets.read.insert(fd);
        Ok(())
    }

    /// Adds `fd` to the descriptors waited on for writing.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `fd` is negative.
    #[inline]
    pub fn insert_write(&mut self, fd: RawFd) -> io::Result<()> {
        check_raw_fd(fd)?;
        self.sets.write.insert(fd);
        Ok(())
    }

    /// Adds `fd` to the descriptors waited on for an exceptional condition.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `fd` is negative.
    #[inline]
    pub fn insert_except(&mut self, fd: RawFd) -> io::Result<()> {
        check_raw_fd(fd)?;
        self.sets.except.insert(fd);
        Ok(())
    }

    /// One `select(2)` call on the descriptors inserted since the last
    /// [`clear`](Self::clear), without the `EINTR` retry (pair it with
    /// [`Deadline`](crate::Deadline)). `timeout`: `None` blocks, zero polls.
    ///
    /// Returns the kernel's count of ready bits (a descriptor ready in two
    /// sets counts twice); the sets then hold only the ready descriptors
    /// (see [`is_readable`](Self::is_readable)), so call `clear` and insert
    /// again before the next call. On a timeout or an error they are empty.
    ///
    /// # Errors
    ///
    /// * `EBADF` (as an [`io::Error`] with that raw OS error) if a descriptor
    ///   is not open.
    /// * `Interrupted` if a signal arrived.
    /// * `InvalidInput` if a descriptor number is too large for the kernel's
    ///   `nfds` argument.
    /// * Any other error of `select(2)` (`ENOMEM`), unchanged.
    pub fn select_once(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        // SAFETY: `select(2)` only reads the descriptor numbers and answers
        // `EBADF` for one that is not open; nothing is read, written or
        // closed through them, so no borrow of an open file is relied upon
        // (as with `Poll::register_raw`).
        let result = unsafe { self.sets.select_once(timeout) };
        match result {
            Ok(n) if n > 0 => Ok(n),
            other => {
                // Nothing ready (or the sets' contents unspecified): no
                // query may answer true.
                self.clear();
                other
            }
        }
    }

    /// True if `fd` was ready for reading at the last
    /// [`select_once`](Self::select_once) (before it: if it was inserted).
    #[inline]
    pub fn is_readable(&self, fd: RawFd) -> bool {
        fd >= 0 && self.sets.read.contains(fd)
    }

    /// True if `fd` was ready for writing at the last
    /// [`select_once`](Self::select_once) (before it: if it was inserted).
    #[inline]
    pub fn is_writable(&self, fd: RawFd) -> bool {
        fd >= 0 && self.sets.write.contains(fd)
    }

    /// True if `fd` had an exceptional condition at the last
    /// [`select_once`](Self::select_once) (before it: if it was inserted).
    #[inline]
    pub fn is_exceptional(&self, fd: RawFd) -> bool {
        fd >= 0 && self.sets.except.contains(fd)
    }
}

/// The result of [`select`]: which of the caller's own values are ready.
///
/// It borrows the three slices given to `select` and answers with references
/// to their elements (like Python, which returns the objects themselves), or
/// with their positions.
///
/// A value listed twice in one slice is reported twice (at both positions)
/// when its descriptor is ready, exactly as Python's `select.select` does.
pub struct Selected<'a, R, W, E> {
    readers: &'a [R],
    writers: &'a [W],
    exceptional: &'a [E],
    sets: FdSets,
}

impl<'a, R: AsFd, W: AsFd, E: AsFd> Selected<'a, R, W, E> {
    /// The readers that are ready to read (or to accept, or at end of file).
    pub fn readable(&self) -> impl Iterator<Item = &'a R> + '_ {
        ready(self.readers, &self.sets.read).map(|(_, v)| v)
    }

    /// The writers that are ready to write (or whose connect has completed).
    pub fn writable(&self) -> impl Iterator<Item = &'a W> + '_ {
        ready(self.writers, &self.sets.write).map(|(_, v)| v)
    }

    /// The values with an exceptional condition (TCP urgent data, a PTY
    /// state change, ...).
    pub fn exceptional(&self) -> impl Iterator<Item = &'a E> + '_ {
        ready(self.exceptional, &self.sets.except).map(|(_, v)| v)
    }

    /// Positions in `readers` of the ready readers.
    pub fn readable_positions(&self) -> impl Iterator<Item = usize> + '_ {
        ready(self.readers, &self.sets.read).map(|(i, _)| i)
    }

    /// Positions in `writers` of the ready writers.
    pub fn writable_positions(&self) -> impl Iterator<Item = usize> + '_ {
        ready(self.writers, &self.sets.write).map(|(i, _)| i)
    }

    /// Positions in `exceptional` of the values with an exceptional condition.
    pub fn exceptional_positions(&self) -> impl Iterator<Item = usize> + '_ {
        ready(self.exceptional, &self.sets.except).map(|(i, _)| i)
    }

    /// True when nothing is ready: the timeout expired (Python's three empty
    /// lists).
    pub fn is_empty(&self) -> bool {
        self.sets.read.is_clear() && self.sets.write.is_clear() && self.sets.except.is_clear()
    }
}

impl<R, W, E> std::fmt::Debug for Selected<'_, R, W, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selected")
            .field("sets", &self.sets)
            .finish()
    }
}

fn ready<'a, 's, T: AsFd>(
    values: &'a [T],
    set: &'s FdSet,
) -> impl Iterator<Item = (usize, &'a T)> + 's
where
    'a: 's,
{
    values
        .iter()
        .enumerate()
        .filter(move |(_, v)| set.contains(v.as_fd().as_raw_fd()))
}

fn fill<T: AsFd>(set: &mut FdSet, values: &[T]) {
    for v in values {
        set.insert(v.as_fd().as_raw_fd());
    }
}

/// Waits until some of the values are ready, as `select(2)` and Python's
/// `select.select(rlist, wlist, xlist, timeout)` do.
///
/// * `readers`, `writers`, `exceptional`: any values that carry a descriptor
///   ([`AsFd`]): sockets, pipes, files, terminals, `OwnedFd`, `BorrowedFd`.
///   Use `&[] as &[std::fs::File]` (or any `AsFd` type) for a set you do not
///   need.
/// * `timeout`: `None` blocks, `Some(Duration::ZERO)` polls, otherwise waits
///   at most that long and never returns earlier. On expiry the result
///   [`is_empty`](Selected::is_empty).
///
/// There is no `FD_SETSIZE` limit: the sets are sized to the highest
/// descriptor. A signal that interrupts the wait is retried with the time that
/// remains (PEP 475).
///
/// # Errors
///
/// * `EBADF` (as an [`io::Error`] with that raw OS error) if a descriptor was
///   closed before the call (possible with `BorrowedFd::borrow_raw`).
/// * `InvalidInput` if a descriptor number is too large for the kernel's
///   `nfds` argument.
/// * Any other error of `select(2)` (`ENOMEM`), unchanged.
///
/// # Example
///
/// ```
/// use std::io::Write;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
///
/// let (a, mut b) = UnixStream::pair()?;
/// b.write_all(b"ping")?;
/// let readers = [&a];
/// let ready = ioready::select(&readers, &[] as &[&UnixStream], &[] as &[&UnixStream],
///                             Some(Duration::from_secs(1)))?;
/// assert_eq!(ready.readable_positions().collect::<Vec<_>>(), [0]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn select<'a, R: AsFd, W: AsFd, E: AsFd>(
    readers: &'a [R],
    writers: &'a [W],
    exceptional: &'a [E],
    timeout: Option<Duration>,
) -> io::Result<Selected<'a, R, W, E>> {
    let mut selected = Selected {
        readers,
        writers,
        exceptional,
        sets: FdSets::default(),
    };
    let template = {
        let mut t = FdSets::default();
        fill(&mut t.read, readers);
        fill(&mut t.write, writers);
        fill(&mut t.except, exceptional);
        t
    };
    let n = timeout::wait(timeout, |remaining| {
        selected.sets.read.copy_from(&template.read);
        selected.sets.write.copy_from(&template.write);
        selected.sets.except.copy_from(&template.except);
        // SAFETY: every descriptor comes from an `AsFd` value borrowed for
        // `'a`, so it is open for the whole call.
        unsafe { selected.sets.select_once(remaining) }
    })?;
    if n == 0 {
        selected.sets.read.reset(0);
        selected.sets.write.reset(0);
        selected.sets.except.reset(0);
    }
    Ok(selected)
}

/// One `select(2)` attempt, without the `EINTR` retry: a signal gives an
/// error of kind [`io::ErrorKind::Interrupted`].
///
/// For callers who must act between attempts (the Python module runs signal
/// handlers there); pair it with [`Deadline`](crate::Deadline) to keep waiting only for the
/// time that remains.
///
/// # Errors
///
/// As [`select`], plus `Interrupted`.
pub fn select_once<'a, R: AsFd, W: AsFd, E: AsFd>(
    readers: &'a [R],
    writers: &'a [W],
    exceptional: &'a [E],
    timeout: Option<Duration>,
) -> io::Result<Selected<'a, R, W, E>> {
    let mut sets = FdSets::default();
    fill(&mut sets.read, readers);
    fill(&mut sets.write, writers);
    fill(&mut sets.except, exceptional);
    // SAFETY: as in `select`: the descriptors are borrowed for `'a`.
    let n = unsafe { sets.select_once(timeout)? };
    if n == 0 {
        sets = FdSets::default();
    }
    Ok(Selected {
        readers,
        writers,
        exceptional,
        sets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_sets_reject_negative_and_report_ready() {
        use std::io::Write;
        use std::os::unix::net::UnixStream;
        let mut sets = SelectSets::new();
        for r in [
            sets.insert_read(-1),
            sets.insert_write(-1),
            sets.insert_except(-1),
        ] {
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
        let (a, mut b) = UnixStream::pair().unwrap();
        let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
        sets.insert_read(fa).unwrap();
        assert_eq!(sets.select_once(Some(Duration::ZERO)).unwrap(), 0);
        assert!(!sets.is_readable(fa));
        b.write_all(b"x").unwrap();
        sets.insert_read(fa).unwrap();
        sets.insert_read(fb).unwrap();
        sets.insert_write(fb).unwrap();
        assert_eq!(sets.select_once(Some(Duration::from_secs(5))).unwrap(), 2);
        assert!(sets.is_readable(fa) && !sets.is_readable(fb) && sets.is_writable(fb));
        assert!(!sets.is_exceptional(fa) && !sets.is_readable(-1));
    }

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
