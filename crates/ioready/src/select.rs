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

use crate::error;
use crate::sys::select::{FdSet, FdSets};
use crate::timeout;

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

/// Checks a number for [`SelectSets`]: non-negative, and open if `set` must
/// grow for it. A set sized for a number that cannot be open would be
/// wasted (256 MiB for the largest `RawFd`), and select(2) would not even
/// say so: it ignores numbers beyond the process's descriptor table.
#[inline]
fn check_insert(set: &FdSet, fd: RawFd) -> io::Result<()> {
    check_raw_fd(fd)?;
    if !set.has_room_for(fd) && !crate::sys::is_open(fd) {
        return Err(not_open());
    }
    Ok(())
}

#[cold]
fn not_open() -> io::Error {
    io::Error::from_raw_os_error(crate::sys::Errno::BADF.raw_os_error())
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
        self.sets.clear();
    }

    /// Adds `fd` to the descriptors waited on for reading.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `fd` is negative; `EBADF` (as an [`io::Error`] with
    /// that raw OS error) if it is not open and the set would have to grow
    /// for it (beyond 256 descriptors, or the largest inserted before):
    /// select(2) would ignore a number beyond the process's descriptor
    /// table. A closed number the set has room for is `EBADF` from
    /// [`select_once`](Self::select_once), as from select(2).
    #[inline]
    pub fn insert_read(&mut self, fd: RawFd) -> io::Result<()> {
        check_insert(&self.sets.read, fd)?;
        self.sets.read.insert(fd);
        Ok(())
    }

    /// Adds `fd` to the descriptors waited on for writing.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `fd` is negative; `EBADF` (as an [`io::Error`] with
    /// that raw OS error) if it is not open and the set would have to grow
    /// for it (beyond 256 descriptors, or the largest inserted before):
    /// select(2) would ignore a number beyond the process's descriptor
    /// table. A closed number the set has room for is `EBADF` from
    /// [`select_once`](Self::select_once), as from select(2).
    #[inline]
    pub fn insert_write(&mut self, fd: RawFd) -> io::Result<()> {
        check_insert(&self.sets.write, fd)?;
        self.sets.write.insert(fd);
        Ok(())
    }

    /// Adds `fd` to the descriptors waited on for an exceptional condition.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `fd` is negative; `EBADF` (as an [`io::Error`] with
    /// that raw OS error) if it is not open and the set would have to grow
    /// for it (beyond 256 descriptors, or the largest inserted before):
    /// select(2) would ignore a number beyond the process's descriptor
    /// table. A closed number the set has room for is `EBADF` from
    /// [`select_once`](Self::select_once), as from select(2).
    #[inline]
    pub fn insert_except(&mut self, fd: RawFd) -> io::Result<()> {
        check_insert(&self.sets.except, fd)?;
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
        let result = self.sets.select_once(timeout);
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
    // Every descriptor comes from an `AsFd` value borrowed for `'a`, so it
    // is open for the whole call.
    let n = timeout::wait(timeout, |remaining| {
        selected.sets.copy_from(&template);
        selected.sets.select_once(remaining)
    })?;
    if n == 0 {
        selected.sets.clear();
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
    // As in `select`: the descriptors are borrowed for `'a`.
    let n = sets.select_once(timeout)?;
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
}
