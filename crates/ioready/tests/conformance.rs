//! One conformance suite, run on every way this crate waits: the `select()`
//! function, `Poll`, `Epoll`, and the `Selector` on each backend plus
//! `Selector::new()` (which `IOREADY_BACKEND` can force).
//!
//! Each way is wrapped in a small [`Harness`] (add a descriptor with a key,
//! wait, get `(key, readable, writable, error, hup)` back) and the
//! `conformance!` macro generates one module per way with one `#[test]` per
//! scenario, so a failure names both: `selector::poll::eintr_retries_until_deadline`.
//! The `Selector` backends come from the one list in `common`
//! (`for_each_selector_backend!`; see "Adding a backend" in the library's
//! `selector` module).
//!
//! All scenarios use real descriptors: pipes, socketpairs and TCP on
//! 127.0.0.1.

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;
use ioready::{Backend, Events, Interest, Poll, PollFlags, Selector, Token};

/// What a wait reported for one key, in the vocabulary common to all APIs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ready {
    key: usize,
    readable: bool,
    writable: bool,
    error: bool,
    hup: bool,
}

/// One way of waiting, as the scenarios drive it.
trait Harness {
    fn name(&self) -> String;
    /// True for the select(2)-based ways: they have no hang-up or error set,
    /// so a hang-up shows as readable and a connect error as writable (and
    /// readable). Everything else reports `POLLHUP`/`POLLERR`.
    fn select_like(&self) -> bool;
    /// Registers a descriptor the test keeps open until it removes it or the
    /// harness is dropped.
    fn add(&mut self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()>;
    fn remove(&mut self, fd: RawFd) -> io::Result<()>;
    /// A wait with the library's `EINTR` retry.
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>>;
    /// One attempt: `Interrupted` comes back.
    fn wait_once(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>>;
}

// ---------------------------------------------------------------------
// The harnesses.

/// `ioready::select` over `BorrowedFd`s rebuilt for each call.
#[derive(Default)]
struct SelectFn {
    fds: Vec<(RawFd, usize, Interest)>,
}

impl SelectFn {
    fn run(&mut self, timeout: Option<Duration>, once: bool) -> io::Result<Vec<Ready>> {
        // SAFETY: every registered number belongs to a descriptor the test
        // keeps open while it is registered (see `Harness::add`).
        let b = |fd: RawFd| unsafe { BorrowedFd::borrow_raw(fd) };
        let pick = |i: Interest| -> Vec<(BorrowedFd<'static>, usize)> {
            self.fds
                .iter()
                .filter(|(_, _, int)| int.intersects(i))
                .map(|&(fd, key, _)| (b(fd), key))
                .collect()
        };
        let (r, w, x) = (
            pick(Interest::READABLE),
            pick(Interest::WRITABLE),
            pick(Interest::PRIORITY),
        );
        let (rf, wf, xf): (Vec<_>, Vec<_>, Vec<_>) = (
            r.iter().map(|p| p.0).collect(),
            w.iter().map(|p| p.0).collect(),
            x.iter().map(|p| p.0).collect(),
        );
        let sel = if once {
            ioready::select_once(&rf, &wf, &xf, timeout)?
        } else {
            ioready::select(&rf, &wf, &xf, timeout)?
        };
        let mut out: BTreeMap<usize, Ready> = BTreeMap::new();
        fn entry(out: &mut BTreeMap<usize, Ready>, key: usize) -> &mut Ready {
            let e = out.entry(key).or_default();
            e.key = key;
            e
        }
        for i in sel.readable_positions() {
            entry(&mut out, r[i].1).readable = true;
        }
        for i in sel.writable_positions() {
            entry(&mut out, w[i].1).writable = true;
        }
        for i in sel.exceptional_positions() {
            // An exceptional condition is not an error; only mark the key.
            entry(&mut out, x[i].1);
        }
        Ok(out.into_values().collect())
    }
}

impl Harness for SelectFn {
    fn name(&self) -> String {
        "select()".into()
    }
    fn select_like(&self) -> bool {
        true
    }
    fn add(&mut self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        self.fds.push((fd, key, interest));
        Ok(())
    }
    fn remove(&mut self, fd: RawFd) -> io::Result<()> {
        self.fds.retain(|e| e.0 != fd);
        Ok(())
    }
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
        self.run(timeout, false)
    }
    fn wait_once(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
        self.run(timeout, true)
    }
}

/// `ioready::Poll`, Python's poll object.
#[derive(Default)]
struct PollObj {
    poll: Poll,
    keys: HashMap<RawFd, usize>,
}

fn poll_flags(i: Interest) -> PollFlags {
    let mut f = PollFlags::empty();
    if i.contains(Interest::READABLE) {
        f |= PollFlags::IN;
    }
    if i.contains(Interest::WRITABLE) {
        f |= PollFlags::OUT;
    }
    if i.contains(Interest::PRIORITY) {
        f |= PollFlags::PRI;
    }
    f
}

impl PollObj {
    fn collect(keys: &HashMap<RawFd, usize>, ready: ioready::PollReady<'_>) -> Vec<Ready> {
        ready
            .map(|(fd, f)| Ready {
                key: keys[&fd],
                readable: f.contains(PollFlags::IN),
                writable: f.contains(PollFlags::OUT),
                error: f.intersects(PollFlags::ERR | PollFlags::NVAL),
                hup: f.contains(PollFlags::HUP),
            })
            .collect()
    }
}

impl Harness for PollObj {
    fn name(&self) -> String {
        "Poll".into()
    }
    fn select_like(&self) -> bool {
        false
    }
    fn add(&mut self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        self.poll.register_raw(fd, poll_flags(interest))?;
        self.keys.insert(fd, key);
        Ok(())
    }
    fn remove(&mut self, fd: RawFd) -> io::Result<()> {
        self.poll.unregister(fd)?;
        self.keys.remove(&fd);
        Ok(())
    }
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
        let ready = self.poll.poll(timeout)?;
        Ok(Self::collect(&self.keys, ready))
    }
    fn wait_once(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
        let ready = self.poll.poll_once(timeout)?;
        Ok(Self::collect(&self.keys, ready))
    }
}

/// The harness that drives `Epoll` directly: the only Linux-only part of
/// the suite.
#[cfg(ioready_epoll)]
mod epoll_harness {
    use super::*;
    use ioready::{Epoll, EpollEvents, EpollFlags};

    /// `ioready::Epoll`, level-triggered, `data` = key.
    pub(super) struct EpollObj {
        epoll: Epoll,
        events: EpollEvents,
    }

    impl EpollObj {
        pub(super) fn new() -> Self {
            EpollObj {
                epoll: Epoll::new().expect("epoll_create1"),
                events: EpollEvents::with_capacity(16 * 1024),
            }
        }
        fn collect(&self) -> Vec<Ready> {
            self.events
                .iter()
                .map(|(data, f)| Ready {
                    key: data as usize,
                    readable: f.contains(EpollFlags::IN),
                    writable: f.contains(EpollFlags::OUT),
                    error: f.contains(EpollFlags::ERR),
                    hup: f.contains(EpollFlags::HUP),
                })
                .collect()
        }
    }

    impl Harness for EpollObj {
        fn name(&self) -> String {
            "Epoll".into()
        }
        fn select_like(&self) -> bool {
            false
        }
        fn add(&mut self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
            let mut f = EpollFlags::empty();
            if interest.contains(Interest::READABLE) {
                f |= EpollFlags::IN;
            }
            if interest.contains(Interest::WRITABLE) {
                f |= EpollFlags::OUT;
            }
            if interest.contains(Interest::PRIORITY) {
                f |= EpollFlags::PRI;
            }
            self.epoll.add_raw(fd, key as u64, f)
        }
        fn remove(&mut self, fd: RawFd) -> io::Result<()> {
            self.epoll.delete_raw(fd)
        }
        fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
            self.epoll.wait(&mut self.events, timeout)?;
            Ok(self.collect())
        }
        fn wait_once(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
            self.epoll.wait_once(&mut self.events, timeout)?;
            Ok(self.collect())
        }
    }
}
#[cfg(ioready_epoll)]
use epoll_harness::EpollObj;

/// `ioready::Selector` on a given backend (or `Selector::new()`).
struct SelectorObj {
    selector: Selector,
    events: Events,
}

impl SelectorObj {
    fn new(backend: Option<Backend>) -> Self {
        let selector = match backend {
            Some(b) => Selector::with_backend(b),
            None => Selector::new(),
        }
        .expect("selector");
        SelectorObj {
            selector,
            events: Events::with_capacity(16 * 1024),
        }
    }
    fn collect(&self) -> Vec<Ready> {
        self.events
            .iter()
            .map(|e| Ready {
                key: e.token().0,
                readable: e.is_readable(),
                writable: e.is_writable(),
                error: e.is_error(),
                hup: e.raw_flags() & (libc::POLLHUP as u32) != 0,
            })
            .collect()
    }
}

impl Harness for SelectorObj {
    fn name(&self) -> String {
        format!("Selector({})", self.selector.backend())
    }
    fn select_like(&self) -> bool {
        self.selector.backend() == Backend::Select
    }
    fn add(&mut self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        // SAFETY: the test keeps `fd` open for the duration of the call.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        self.selector.registry().register(fd, Token(key), interest)
    }
    fn remove(&mut self, fd: RawFd) -> io::Result<()> {
        self.selector.registry().deregister_raw(fd)
    }
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
        self.selector.select(&mut self.events, timeout)?;
        Ok(self.collect())
    }
    fn wait_once(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
        self.selector.select_once(&mut self.events, timeout)?;
        Ok(self.collect())
    }
}

// ---------------------------------------------------------------------
// The scenarios.

fn keys(ready: &[Ready]) -> BTreeSet<usize> {
    ready.iter().map(|r| r.key).collect()
}

fn one(ready: &[Ready], key: usize) -> Ready {
    let found: Vec<_> = ready.iter().filter(|r| r.key == key).collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one report for key {key} in {ready:?}"
    );
    *found[0]
}

fn raw(fd: &impl AsFd) -> RawFd {
    fd.as_fd().as_raw_fd()
}

mod scenarios {
    use super::*;

    pub fn readable_after_write_pipe(h: &mut dyn Harness) {
        let (r, w) = pipe();
        h.add(raw(&r), 1, Interest::READABLE).unwrap();
        assert!(
            h.wait(Some(Duration::ZERO)).unwrap().is_empty(),
            "{}: nothing written yet",
            h.name()
        );
        poke(&w);
        let ev = h.wait(Some(SOON)).unwrap();
        assert_eq!(keys(&ev), BTreeSet::from([1]), "{}", h.name());
        assert!(one(&ev, 1).readable);
        assert!(!one(&ev, 1).writable);
        // Level-triggered: reported again while the byte stays unread.
        let again = h.wait(Some(SOON)).unwrap();
        assert!(one(&again, 1).readable, "{}: level report", h.name());
        assert_eq!(drain(&r), 1);
        assert!(
            h.wait(Some(Duration::ZERO)).unwrap().is_empty(),
            "{}: drained",
            h.name()
        );
    }

    pub fn readable_after_write_socketpair(h: &mut dyn Harness) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        h.add(raw(&a), 7, Interest::READABLE).unwrap();
        assert!(h.wait(Some(Duration::ZERO)).unwrap().is_empty());
        poke(&b);
        let ev = h.wait(Some(SOON)).unwrap();
        assert_eq!(keys(&ev), BTreeSet::from([7]));
        assert!(one(&ev, 7).readable);
    }

    pub fn readable_after_write_tcp(h: &mut dyn Harness) {
        let (client, server) = tcp_pair();
        h.add(raw(&server), 3, Interest::READABLE).unwrap();
        assert!(h.wait(Some(Duration::ZERO)).unwrap().is_empty());
        poke(&client);
        let ev = h.wait(Some(SOON)).unwrap();
        assert_eq!(keys(&ev), BTreeSet::from([3]));
        assert!(one(&ev, 3).readable);
        assert_eq!(drain(&server), 1);
    }

    pub fn listener_readable_on_connection(h: &mut dyn Harness) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        h.add(raw(&listener), 4, Interest::READABLE).unwrap();
        assert!(h.wait(Some(Duration::ZERO)).unwrap().is_empty());
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let ev = h.wait(Some(SOON)).unwrap();
        assert!(
            one(&ev, 4).readable,
            "{}: pending accept is readable",
            h.name()
        );
    }

    pub fn writable_once_connected(h: &mut dyn Harness) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (s, immediate) = connect_nonblocking(listener.local_addr().unwrap());
        assert!(immediate.is_none(), "connect to a listener: {immediate:?}");
        h.add(s.as_raw_fd(), 5, Interest::WRITABLE).unwrap();
        let ev = h.wait(Some(SOON)).unwrap();
        let r = one(&ev, 5);
        assert!(r.writable && !r.error && !r.hup, "{}: {r:?}", h.name());
        assert!(s.take_error().unwrap().is_none());
        assert!(s.peer_addr().is_ok(), "connected");
    }

    pub fn pipe_writable_until_full(h: &mut dyn Harness) {
        let (r, w) = pipe();
        h.add(raw(&w), 6, Interest::WRITABLE).unwrap();
        assert!(one(&h.wait(Some(SOON)).unwrap(), 6).writable);
        // Fill it (bounded: a pipe holds at most 1 MiB by default).
        let chunk = [0u8; 4096];
        let mut written = 0usize;
        while written < 64 << 20 {
            match rustix::io::write(&w, &chunk) {
                Ok(n) => written += n,
                Err(rustix::io::Errno::AGAIN) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        assert!(
            h.wait(Some(Duration::from_millis(20))).unwrap().is_empty(),
            "{}: a full pipe is not writable",
            h.name()
        );
        assert_eq!(drain(&r), written);
        assert!(one(&h.wait(Some(SOON)).unwrap(), 6).writable);
    }

    pub fn hup_when_socketpair_peer_closes(h: &mut dyn Harness) {
        let (a, b) = UnixStream::pair().unwrap();
        h.add(raw(&a), 8, Interest::READABLE).unwrap();
        assert!(h.wait(Some(Duration::ZERO)).unwrap().is_empty());
        drop(b);
        let ev = h.wait(Some(SOON)).unwrap();
        let r = one(&ev, 8);
        assert!(
            r.readable,
            "{}: end of file reads as readable: {r:?}",
            h.name()
        );
        if !h.select_like() {
            assert!(r.hup, "{}: peer closed gives HUP: {r:?}", h.name());
        }
    }

    pub fn hup_when_pipe_writer_closes(h: &mut dyn Harness) {
        let (r, w) = pipe();
        h.add(raw(&r), 9, Interest::READABLE).unwrap();
        drop(w);
        let ev = h.wait(Some(SOON)).unwrap();
        let got = one(&ev, 9);
        if h.select_like() {
            assert!(
                got.readable,
                "{}: select shows a hang-up as readable: {got:?}",
                h.name()
            );
        } else {
            // Linux reports POLLHUP alone on an empty pipe without writers.
            assert!(got.hup, "{}: writer closed gives HUP: {got:?}", h.name());
        }
    }

    pub fn tcp_peer_close_reads_eof(h: &mut dyn Harness) {
        let (client, server) = tcp_pair();
        h.add(raw(&server), 10, Interest::READABLE).unwrap();
        drop(client);
        let ev = h.wait(Some(SOON)).unwrap();
        assert!(one(&ev, 10).readable, "{}: FIN is readable", h.name());
        assert_eq!(drain(&server), 0, "end of file");
    }

    pub fn failed_connect_reports_error(h: &mut dyn Harness) {
        let addr = closed_port();
        let (s, immediate) = connect_nonblocking(addr);
        h.add(s.as_raw_fd(), 11, Interest::READABLE | Interest::WRITABLE)
            .unwrap();
        let ev = h.wait(Some(SOON)).unwrap();
        let r = one(&ev, 11);
        if h.select_like() {
            assert!(r.readable || r.writable, "{}: {r:?}", h.name());
        } else {
            assert!(
                r.error || r.hup,
                "{}: a refused connect gives ERR/HUP: {r:?}",
                h.name()
            );
        }
        let err = immediate.or_else(|| s.take_error().unwrap());
        assert_eq!(
            err.and_then(|e| e.raw_os_error()),
            Some(libc::ECONNREFUSED),
            "{}: connect to the closed port {addr} was refused",
            h.name()
        );
    }

    pub fn remove_stops_reports(h: &mut dyn Harness) {
        let (r, w) = pipe();
        let (r2, w2) = pipe();
        h.add(raw(&r), 12, Interest::READABLE).unwrap();
        h.add(raw(&r2), 13, Interest::READABLE).unwrap();
        poke(&w);
        poke(&w2);
        assert_eq!(keys(&h.wait(Some(SOON)).unwrap()), BTreeSet::from([12, 13]));
        h.remove(raw(&r)).unwrap();
        assert_eq!(keys(&h.wait(Some(SOON)).unwrap()), BTreeSet::from([13]));
        h.remove(raw(&r2)).unwrap();
        assert!(h.wait(Some(Duration::from_millis(10))).unwrap().is_empty());
    }

    pub fn timeout_returns_empty_not_early(h: &mut dyn Harness) {
        let (r, _w) = pipe();
        h.add(raw(&r), 14, Interest::READABLE).unwrap();
        for ms in [1u64, 20, 100] {
            let t = Duration::from_millis(ms);
            let start = Instant::now();
            let ev = h.wait(Some(t)).unwrap();
            let el = start.elapsed();
            assert!(ev.is_empty(), "{}: {ev:?}", h.name());
            assert!(
                el >= t,
                "{}: returned after {el:?}, before the {t:?} timeout",
                h.name()
            );
            assert!(el < t + SOON, "{}: {el:?} for a {t:?} timeout", h.name());
        }
    }

    pub fn timeout_with_nothing_registered(h: &mut dyn Harness) {
        let t = Duration::from_millis(15);
        let start = Instant::now();
        assert!(h.wait(Some(t)).unwrap().is_empty());
        let el = start.elapsed();
        assert!(el >= t && el < t + SOON, "{}: {el:?}", h.name());
    }

    pub fn sub_millisecond_timeout_not_early(h: &mut dyn Harness) {
        let (r, _w) = pipe();
        h.add(raw(&r), 15, Interest::READABLE).unwrap();
        for us in [1u64, 100, 999, 1_001, 1_500] {
            let t = Duration::from_micros(us);
            let start = Instant::now();
            assert!(h.wait(Some(t)).unwrap().is_empty());
            let el = start.elapsed();
            assert!(el >= t, "{}: {el:?} < {t:?}", h.name());
        }
    }

    pub fn zero_timeout_polls(h: &mut dyn Harness) {
        let (r, w) = pipe();
        h.add(raw(&r), 16, Interest::READABLE).unwrap();
        // Nothing ready: returns (a blocking wait would hang the test).
        let start = Instant::now();
        for _ in 0..100 {
            assert!(h.wait(Some(Duration::ZERO)).unwrap().is_empty());
        }
        assert!(
            start.elapsed() < SOON,
            "{}: 100 zero waits took {:?}",
            h.name(),
            start.elapsed()
        );
        poke(&w);
        // Readiness that is already there is seen by a zero wait.
        assert!(one(&h.wait(Some(Duration::ZERO)).unwrap(), 16).readable);
    }

    pub fn huge_timeouts_do_not_wrap(h: &mut dyn Harness) {
        let (r, w) = pipe();
        h.add(raw(&r), 21, Interest::READABLE).unwrap();
        let huge = [
            Duration::MAX,
            Duration::from_secs(u64::MAX / 2),
            Duration::from_secs(i32::MAX as u64 / 1000 + 1),
            Duration::new(100 * 365 * 24 * 3600, 999_999_999),
        ];
        // Nothing ready: a zero-wait or negative-wrapped timeout would come
        // back at once; data written later by another thread ends each wait.
        for t in huge {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let w2 = w.try_clone().unwrap();
            // Measured from before the writer exists: it writes 50 ms later.
            let start = Instant::now();
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                poke(&w2);
                let _ = rx.recv_timeout(Duration::from_secs(30));
            });
            let ev = h.wait(Some(t)).unwrap();
            let el = start.elapsed();
            tx.send(()).unwrap();
            writer.join().unwrap();
            assert!(one(&ev, 21).readable, "{}: {t:?}: {ev:?}", h.name());
            assert!(
                el >= Duration::from_millis(50),
                "{}: {t:?} returned at once ({el:?})",
                h.name()
            );
            assert!(el < SOON * 2, "{}: {t:?}: {el:?}", h.name());
            assert_eq!(drain(&r), 1);
        }
    }

    pub fn eintr_retries_until_deadline(h: &mut dyn Harness) {
        let (r, _w) = pipe();
        h.add(raw(&r), 17, Interest::READABLE).unwrap();
        let t = Duration::from_secs(1);
        let hits = signal_hits();
        // Signals at 100..500 ms into a 1 s wait. A wait restarted with the
        // whole timeout after the last one would end at 1.5 s or later.
        let signaller = Signaller::every(Duration::from_millis(100), 5);
        let start = Instant::now();
        let ev = h.wait(Some(t)).unwrap();
        let el = start.elapsed();
        let sent = signaller.finish();
        assert!(ev.is_empty(), "{}: {ev:?}", h.name());
        assert!(sent >= 1, "no signal was sent");
        assert!(signal_hits() > hits, "{}: the handler ran", h.name());
        assert!(
            el >= t,
            "{}: interrupted wait returned early, after {el:?}",
            h.name()
        );
        assert!(
            el < t + Duration::from_millis(450),
            "{}: {el:?}: the wait restarted with the whole timeout after a signal",
            h.name()
        );
    }

    pub fn eintr_retry_still_sees_events(h: &mut dyn Harness) {
        let (r, w) = pipe();
        h.add(raw(&r), 18, Interest::READABLE).unwrap();
        let signaller = Signaller::every(Duration::from_millis(10), 20);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            poke(&w);
            w
        });
        let start = Instant::now();
        let ev = h.wait(Some(Duration::from_secs(20))).unwrap();
        let el = start.elapsed();
        signaller.finish();
        let _w = writer.join().unwrap();
        assert!(one(&ev, 18).readable, "{}: {ev:?}", h.name());
        assert!(el < Duration::from_secs(10), "{}: {el:?}", h.name());
    }

    pub fn once_returns_interrupted(h: &mut dyn Harness) {
        let (r, _w) = pipe();
        h.add(raw(&r), 19, Interest::READABLE).unwrap();
        let hits = signal_hits();
        // Keep signalling (bounded: 200 x 20 ms) until the attempt returns.
        let signaller = Signaller::every(Duration::from_millis(20), 200);
        let start = Instant::now();
        let res = h.wait_once(Some(Duration::from_secs(10)));
        let el = start.elapsed();
        signaller.finish();
        let err = res.expect_err("a signal interrupts the single attempt");
        assert_eq!(err.kind(), io::ErrorKind::Interrupted, "{}", h.name());
        assert!(signal_hits() > hits);
        assert!(el < Duration::from_secs(10));
    }

    pub fn ten_thousand_fds(h: &mut dyn Harness) {
        let _lock = fd_heavy_lock();
        const PIPES: usize = 5_000;
        let limit = raise_nofile();
        if limit < (2 * PIPES + 1_000) as u64 {
            println!(
                "SKIPPED ten_thousand_fds: RLIMIT_NOFILE hard limit {limit} < {}",
                2 * PIPES + 1_000
            );
            return;
        }
        let start = Instant::now();
        let pipes: Vec<_> = (0..PIPES).map(|_| pipe()).collect();
        for (i, (r, w)) in pipes.iter().enumerate() {
            h.add(raw(r), 2 * i, Interest::READABLE).unwrap();
            h.add(raw(w), 2 * i + 1, Interest::WRITABLE).unwrap();
        }
        let written = [0usize, 1, 2_500, PIPES - 1];
        for &i in &written {
            poke(&pipes[i].1);
        }
        let ev = h.wait(Some(SOON)).unwrap();
        let expect: BTreeSet<usize> = (0..PIPES)
            .map(|i| 2 * i + 1)
            .chain(written.iter().map(|i| 2 * i))
            .collect();
        assert_eq!(
            ev.len(),
            expect.len(),
            "{}: one report per ready descriptor",
            h.name()
        );
        assert_eq!(keys(&ev), expect, "{}", h.name());
        for r in &ev {
            if r.key % 2 == 0 {
                assert!(r.readable && !r.writable);
            } else {
                assert!(r.writable && !r.readable);
            }
        }
        // Only the writers once the readers are drained.
        for &i in &written {
            drain(&pipes[i].0);
        }
        let ev = h.wait(Some(SOON)).unwrap();
        assert_eq!(ev.len(), PIPES);
        assert!(ev.iter().all(|r| r.key % 2 == 1));
        println!(
            "{}: 10,000 descriptors: {:?} in all",
            h.name(),
            start.elapsed()
        );
    }

    pub fn descriptors_above_1024(h: &mut dyn Harness) {
        let _lock = fd_heavy_lock();
        let limit = raise_nofile();
        let mut held = Vec::new();
        let mut expect = BTreeSet::new();
        for (i, target) in [1024i32, 5000, 19_999].into_iter().enumerate() {
            if target as u64 >= limit {
                println!("SKIPPED descriptor {target}: RLIMIT_NOFILE is {limit}");
                continue;
            }
            let (r, w) = pipe();
            let high = dup_at_least(&r, target).expect("F_DUPFD_CLOEXEC");
            assert!(high.as_raw_fd() >= target);
            h.add(raw(&high), high.as_raw_fd() as usize, Interest::READABLE)
                .unwrap();
            // The middle one stays quiet.
            if i != 1 {
                poke(&w);
                expect.insert(high.as_raw_fd() as usize);
            }
            held.push((r, w, high));
        }
        if held.is_empty() {
            return;
        }
        let ev = h.wait(Some(SOON)).unwrap();
        assert_eq!(keys(&ev), expect, "{}", h.name());
        assert!(ev.iter().all(|r| r.readable));
    }

    pub fn overshoot_of_100us_waits(h: &mut dyn Harness) {
        let (r, _w) = pipe();
        h.add(raw(&r), 20, Interest::READABLE).unwrap();
        let t = Duration::from_micros(100);
        for _ in 0..10 {
            h.wait(Some(t)).unwrap();
        }
        let budget = Instant::now();
        let mut over = Vec::with_capacity(1_000);
        while over.len() < 1_000 && budget.elapsed() < Duration::from_secs(30) {
            let start = Instant::now();
            let ev = h.wait(Some(t)).unwrap();
            let el = start.elapsed();
            assert!(ev.is_empty());
            assert!(el >= t, "{}: a 100 us wait returned after {el:?}", h.name());
            over.push(el - t);
        }
        let n = over.len();
        let (median, p99) = median_p99(&mut over);
        println!(
            "overshoot {:<18} {n} waits of 100 us: median {median:?}, p99 {p99:?}",
            h.name()
        );
        assert!(n >= 100, "{}: only {n} waits in 30 s", h.name());
        assert!(
            median < Duration::from_millis(50),
            "{}: median overshoot {median:?}",
            h.name()
        );
    }
}

/// One `#[test]` per scenario, each on a fresh harness from `$make`.
macro_rules! scenario_tests {
    ($make:ident; $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let mut h = $make();
            crate::scenarios::$name(&mut *h);
        }
    )*};
}

/// One module per way of waiting, each with the whole scenario set.
macro_rules! conformance {
    ($($(#[$cfg:meta])* $module:ident => $make:expr;)*) => {$(
        $(#[$cfg])*
        mod $module {
            use crate::*;

            fn make() -> Box<dyn Harness> {
                $make
            }

            scenario_tests!(make;
                readable_after_write_pipe,
                readable_after_write_socketpair,
                readable_after_write_tcp,
                listener_readable_on_connection,
                writable_once_connected,
                pipe_writable_until_full,
                hup_when_socketpair_peer_closes,
                hup_when_pipe_writer_closes,
                tcp_peer_close_reads_eof,
                failed_connect_reports_error,
                remove_stops_reports,
                timeout_returns_empty_not_early,
                timeout_with_nothing_registered,
                sub_millisecond_timeout_not_early,
                zero_timeout_polls,
                huge_timeouts_do_not_wrap,
                eintr_retries_until_deadline,
                eintr_retry_still_sees_events,
                once_returns_interrupted,
                ten_thousand_fds,
                descriptors_above_1024,
                overshoot_of_100us_waits,
            );
        }
    )*};
}

conformance! {
    select_fn => Box::new(SelectFn::default());
    poll_obj => Box::new(PollObj::default());
    #[cfg(ioready_epoll)]
    epoll_obj => Box::new(EpollObj::new());
    selector_default => Box::new(SelectorObj::new(None));
}

/// The `Selector` on each backend of the one list: `selector::epoll::...`.
mod selector {
    macro_rules! on_each_backend {
        ($($(#[$cfg:meta])* $name:ident => $backend:expr;)*) => {
            conformance! {
                $($(#[$cfg])* $name => Box::new(crate::SelectorObj::new(Some($backend)));)*
            }
        };
    }
    for_each_selector_backend!(on_each_backend);
}
