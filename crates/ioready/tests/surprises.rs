//! Directed tests for the defects of issue 18 ("io_uring without
//! surprises"), one scenario each, on every backend: what a user who moved
//! from epoll to io_uring (or to select, poll) would hit. Each failed before
//! its fix on at least one backend.
//!
//! The flags a wait reports are compared with the kernel's own answer:
//! `poll(2)` on the same descriptor with the registration's interest.

#![cfg(target_os = "linux")]

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::*;
use ioready::{Events, Interest, Process, Selector, Signal, Signals, Timer, Token, Trigger};

const QUIET: Duration = Duration::from_millis(50);

/// The tests of this binary run one at a time: some look at descriptor
/// numbers (a number closed by one must not be taken by another's socket),
/// some count waits over a fixed time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn wait(s: &mut Selector, capacity: usize, t: Duration) -> Vec<(usize, u32)> {
    let mut ev = Events::with_capacity(capacity);
    s.select(&mut ev, Some(t)).unwrap();
    ev.iter().map(|e| (e.token().0, e.raw_flags())).collect()
}

/// The kernel's answer: `poll(2)` on `fd` for `interest` (Linux's bits).
fn kernel(fd: impl AsFd, interest: Interest) -> u32 {
    let mut events = 0i16;
    if interest.contains(Interest::READABLE) {
        events |= libc::POLLIN;
    }
    if interest.contains(Interest::WRITABLE) {
        events |= libc::POLLOUT;
    }
    if interest.contains(Interest::PRIORITY) {
        events |= libc::POLLPRI;
    }
    if interest.contains(Interest::READ_CLOSED) {
        events |= libc::POLLRDHUP;
    }
    let mut p = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    assert!(r >= 0, "poll: {}", std::io::Error::last_os_error());
    p.revents as u16 as u32
}

/// Fills `s`'s send buffer (and the peer's receive buffer, which nobody
/// reads) until a write would block.
fn fill(s: &mut std::net::TcpStream) {
    let chunk = [7u8; 65536];
    let start = Instant::now();
    loop {
        match s.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The stack may still move bytes to the peer: settle, retry.
                std::thread::sleep(Duration::from_millis(20));
                if s.write(&chunk).is_err() {
                    return;
                }
            }
            Err(e) => panic!("fill: {e}"),
        }
        assert!(start.elapsed() < SOON, "fill: the send buffer never filled");
    }
}

/// How many waits return within `span` when each waits for what is left of
/// it: a backend that sleeps returns once or twice; one that spins returns
/// thousands of times.
fn waits_within(s: &mut Selector, span: Duration) -> (usize, BTreeSet<(usize, u32)>) {
    let mut ev = Events::with_capacity(16);
    let start = Instant::now();
    let mut n = 0;
    let mut seen = BTreeSet::new();
    while let Some(left) = span.checked_sub(start.elapsed()) {
        s.select(&mut ev, Some(left)).unwrap();
        n += 1;
        seen.extend(ev.iter().map(|e| (e.token().0, e.raw_flags())));
        if n > 100_000 {
            break;
        }
    }
    (n, seen)
}

mod scenarios {
    use super::*;

    /// Defect 1: a socket whose peer shut down writing is reported with
    /// `POLLRDHUP` only when `READ_CLOSED` was asked, exactly as `poll(2)`
    /// answers for the interest.
    pub fn read_closed_only_when_asked(mut s: Selector) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.shutdown(Shutdown::Write).unwrap();
        let (c, d) = UnixStream::pair().unwrap();
        c.set_nonblocking(true).unwrap();
        d.shutdown(Shutdown::Write).unwrap();
        let r = s.registry();
        r.register(&a, Token(1), Interest::READABLE).unwrap();
        let both = Interest::READABLE | Interest::WRITABLE;
        r.register(&c, Token(2), both).unwrap();
        for _ in 0..3 {
            let mut got = wait(&mut s, 8, SOON);
            got.sort();
            let want = vec![(1, kernel(&a, Interest::READABLE)), (2, kernel(&c, both))];
            assert_eq!(got, want, "{}", s.backend());
            assert_eq!(want[0].1 & 0x2000, 0);
        }
    }

    /// Defect 1: a level-triggered WRITABLE-only registration of a socket
    /// whose peer shut down writing and whose send buffer is full sleeps:
    /// nothing it asked for is ready (epoll makes one wait and sleeps).
    pub fn half_closed_full_send_buffer_sleeps(mut s: Selector) {
        let (client, mut server) = tcp_pair();
        client.shutdown(Shutdown::Write).unwrap();
        fill(&mut server);
        for (token, interest) in [(1, Interest::WRITABLE), (2, Interest::PRIORITY)] {
            s.registry()
                .register(&server, Token(token), interest)
                .unwrap();
            let (n, seen) = waits_within(&mut s, Duration::from_millis(200));
            assert!(
                n <= 3 && seen.is_empty(),
                "{}: {interest:?}: {n} waits returned in 200 ms, events {seen:?}",
                s.backend()
            );
            s.registry().deregister(&server).unwrap();
        }
        drop(client);
    }

    /// The busy-loop guard: where nothing asked for can happen, a wait
    /// sleeps, in every mode: a full send buffer (peer open, not reading),
    /// the same with the peer half-closed, a regular file asked for what it
    /// never has.
    pub fn nothing_to_do_sleeps(mut s: Selector) {
        let (open_peer, mut full) = tcp_pair();
        fill(&mut full);
        let (half_peer, mut half_full) = tcp_pair();
        half_peer.shutdown(Shutdown::Write).unwrap();
        fill(&mut half_full);
        let file = regular_file();
        let w = Interest::WRITABLE;
        let p = Interest::PRIORITY;
        let cases: [(&str, &dyn AsFd, Interest); 6] = [
            ("full send buffer", &full, w),
            ("half-closed, full", &half_full, w),
            ("half-closed, full", &half_full, p),
            ("half-closed, full", &half_full, w | p),
            ("regular file", &file, p),
            ("regular file", &file, Interest::READ_CLOSED),
        ];
        for trigger in [Trigger::Level, Trigger::Oneshot, Trigger::Edge] {
            for (what, fd, interest) in cases {
                match s.registry().register_with(fd, Token(1), interest, trigger) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Unsupported => continue,
                    Err(e) => panic!("register: {e}"),
                }
                let (n, seen) = waits_within(&mut s, Duration::from_millis(150));
                assert!(
                    n <= 3 && seen.is_empty(),
                    "{}: {what}, {interest:?} {trigger:?}: {n} waits returned in 150 ms, \
                     events {seen:?}",
                    s.backend()
                );
                s.registry().deregister(fd).unwrap();
            }
        }
        drop((open_peer, half_peer));
    }

    /// Defect 2: ordinary data arriving while a READABLE|PRIORITY
    /// registration waits is reported as readable, not as priority.
    pub fn data_is_not_priority(mut s: Selector) {
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let interest = Interest::READABLE | Interest::PRIORITY;
        s.registry().register(&a, Token(1), interest).unwrap();
        assert_eq!(wait(&mut s, 8, Duration::ZERO), vec![]);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            b.write_all(b"data").unwrap();
            b
        });
        let got = wait(&mut s, 8, SOON);
        let _b = writer.join().unwrap();
        assert_eq!(got, vec![(1, kernel(&a, interest))], "{}", s.backend());
        assert_eq!(got[0].1, 0x1);
    }

    /// Defect 3: a regular file registered for PRIORITY or READ_CLOSED
    /// alone is never ready (poll(2) says nothing): no event, no spin.
    pub fn file_for_priority_alone_sleeps(mut s: Selector) {
        let f = regular_file();
        for interest in [Interest::PRIORITY, Interest::READ_CLOSED] {
            match s.registry().register(&f, Token(1), interest) {
                Ok(()) => {}
                // select cannot wait for READ_CLOSED alone (documented).
                Err(e) if e.kind() == std::io::ErrorKind::Unsupported => continue,
                Err(e) => panic!("register: {e}"),
            }
            assert_eq!(kernel(&f, interest), 0);
            let (n, seen) = waits_within(&mut s, Duration::from_millis(200));
            assert!(
                n <= 3 && seen.is_empty(),
                "{}: {interest:?}: {n} waits returned in 200 ms, events {seen:?}",
                s.backend()
            );
            s.registry().deregister(&f).unwrap();
        }
    }

    /// Defect 4: readiness left over by a small `Events` is not reported
    /// once it is gone: pipes drained after a wait that reported some of
    /// them are not reported by the next.
    pub fn drained_pipes_are_not_reported(mut s: Selector) {
        let mut pipes = Vec::new();
        for t in 0..200 {
            let (r, w) = pipe();
            poke(&w);
            s.registry()
                .register(&r, Token(t), Interest::READABLE)
                .unwrap();
            pipes.push((r, w));
        }
        assert_eq!(wait(&mut s, 4, SOON).len(), 4);
        for (r, _) in &pipes {
            drain(r);
        }
        let got = wait(&mut s, 256, QUIET);
        assert_eq!(got, vec![], "{}", s.backend());
        // Still live: a new byte is reported.
        poke(&pipes[7].1);
        assert_eq!(wait(&mut s, 256, SOON), vec![(7, 1)]);
    }

    /// Defect 4: two wakes before a wait are one report, even when that
    /// wait's `Events` had room for the waker only.
    pub fn two_wakes_one_report(mut s: Selector) {
        let w = ioready::Waker::new(s.registry(), Token(9)).unwrap();
        assert_eq!(wait(&mut s, 8, Duration::ZERO), vec![]);
        w.wake().unwrap();
        w.wake().unwrap();
        let (r, wr) = pipe();
        poke(&wr);
        s.registry()
            .register(&r, Token(1), Interest::READABLE)
            .unwrap();
        let first = wait(&mut s, 1, SOON);
        let mut all: Vec<usize> = first.iter().map(|e| e.0).collect();
        let second = wait(&mut s, 8, SOON);
        all.extend(second.iter().map(|e| e.0));
        let wakes = all.iter().filter(|&&t| t == 9).count();
        assert_eq!(wakes, 1, "{}: {first:?} then {second:?}", s.backend());
        // And a wake after the report is reported.
        w.wake().unwrap();
        drain(&r);
        assert_eq!(wait(&mut s, 8, SOON), vec![(9, 1)]);
    }

    /// Defect 4: a timer cancelled, or re-armed for later, after it expired
    /// but before the next wait is not reported (its docs promise it).
    pub fn cancelled_timer_is_not_reported(mut s: Selector) {
        let t = Timer::new(s.registry(), Token(5)).unwrap();
        for rearm in [false, true] {
            assert_eq!(wait(&mut s, 8, Duration::ZERO), vec![]);
            t.set_once(Duration::from_millis(1)).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            if rearm {
                t.set_once(Duration::from_secs(60)).unwrap();
            } else {
                t.cancel().unwrap();
            }
            let got = wait(&mut s, 8, QUIET);
            assert_eq!(got, vec![], "{} (re-armed: {rearm})", s.backend());
        }
    }

    /// Defect 4: signals taken by `receive` are not reported again.
    pub fn received_signals_are_not_reported_again(mut s: Selector) {
        let sig = Signal::realtime(3).unwrap();
        let signals = Signals::new(s.registry(), Token(6), &[sig]).unwrap();
        assert_eq!(wait(&mut s, 8, Duration::ZERO), vec![]);
        // To this thread: the handler has run when raise returns (a signal
        // sent to the process may be handled on another thread while
        // `receive` runs, which can leave a wake-up for the next wait).
        // SAFETY: raise(3) with a signal this process owns a handler for
        // (the Signals above).
        assert_eq!(unsafe { libc::raise(sig.raw()) }, 0);
        let start = Instant::now();
        while signals.receive().is_empty() {
            assert!(start.elapsed() < SOON, "the signal never came");
            std::thread::sleep(Duration::from_millis(5));
        }
        let got = wait(&mut s, 8, QUIET);
        assert_eq!(got, vec![], "{}", s.backend());
    }

    /// Defect 5: `Process::kill` takes every `Signal`, real-time ones too.
    pub fn kill_with_a_realtime_signal(mut s: Selector) {
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut p = Process::new(s.registry(), Token(3), child).unwrap();
        let sig = Signal::realtime(1).unwrap();
        p.kill(sig).unwrap();
        let start = Instant::now();
        let status = loop {
            wait(&mut s, 8, SOON);
            if let Some(status) = p.try_wait().unwrap() {
                break status;
            }
            assert!(start.elapsed() < SOON, "the child did not die");
        };
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(sig.raw()));
    }

    /// The numbers of the descriptors the selector opened for itself since
    /// `before` (wakers, stand-ins, notifiers, rings).
    fn opened_since(before: &BTreeSet<RawFd>) -> Vec<RawFd> {
        open_fds()
            .into_iter()
            .filter(|n| !before.contains(n))
            .collect()
    }

    fn open_fds() -> BTreeSet<RawFd> {
        let listed: BTreeSet<RawFd> = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        // Without the listing's own descriptor, closed by now.
        listed
            .into_iter()
            .filter(|n| std::fs::read_link(format!("/proc/self/fd/{n}")).is_ok())
            .collect()
    }

    /// Defect 6: a user's stale number that now names the library's own
    /// descriptor (a waker's) neither removes it nor stops `Waker::new`,
    /// nor reports the waker's wakes under the user's token.
    pub fn stale_number_of_a_waker(mut s: Selector) {
        let (a, _b) = UnixStream::pair().unwrap();
        let n = a.as_raw_fd();
        s.registry()
            .register(&a, Token(1), Interest::READABLE)
            .unwrap();
        drop(a); // closed without deregistering
        let w = ioready::Waker::new(s.registry(), Token(9))
            .unwrap_or_else(|e| panic!("{}: Waker::new: {e}", s.backend()));
        // An eventfd, or a pipe's end where the notifier is a pipe (the
        // non-epoll builds).
        let taken = std::fs::read_link(format!("/proc/self/fd/{n}"))
            .map(|p| {
                let p = p.to_string_lossy();
                p.contains("eventfd") || p.starts_with("pipe:")
            })
            .unwrap_or(false);
        assert!(taken, "the waker did not get number {n}: test set-up");
        w.wake().unwrap();
        let got = wait(&mut s, 8, SOON);
        assert!(got.contains(&(9, 1)), "{}: {got:?}", s.backend());
        for &(t, f) in &got {
            // The user's registration names a closed file: reported as
            // invalid at most, never with the waker's readiness.
            assert!(
                t == 9 || (t == 1 && f & 0x20 != 0),
                "{}: {got:?}",
                s.backend()
            );
        }
        // The documented clean-up: removes the user's registration where
        // there is one (select, poll, io_uring), and never the waker's.
        let _ = s.registry().deregister_raw(n);
        assert!(
            s.registry().deregister_raw(n).is_err(),
            "{}: a second deregister_raw({n}) succeeded",
            s.backend()
        );
        w.wake().unwrap();
        assert_eq!(wait(&mut s, 8, SOON), vec![(9, 1)], "{}", s.backend());
        w.wake().unwrap();
        assert_eq!(wait(&mut s, 8, SOON), vec![(9, 1)], "{}", s.backend());
    }

    /// Defect 6: no descriptor the selector opened for itself can be
    /// registered, changed or removed through its number; the waker and a
    /// registered regular file (epoll's stand-in) keep working.
    pub fn own_descriptors_are_out_of_reach(s: Selector) {
        let backend = s.backend();
        drop(s);
        let before = open_fds();
        let mut s = Selector::with_backend(backend).unwrap();
        let f = regular_file();
        let before_file = {
            let mut b = before.clone();
            b.insert(f.as_raw_fd());
            b
        };
        s.registry()
            .register(&f, Token(1), Interest::READABLE)
            .unwrap();
        let w = ioready::Waker::new(s.registry(), Token(9)).unwrap();
        let own = opened_since(&before_file);
        assert!(!own.is_empty());
        for &n in &own {
            // SAFETY: `n` is open (the selector's); the registry only reads
            // the number.
            let fd = unsafe { BorrowedFd::borrow_raw(n) };
            let r = s.registry();
            assert!(
                r.deregister_raw(n).is_err(),
                "{}: deregister_raw({n})",
                s.backend()
            );
            assert!(
                r.reregister(fd, Token(7), Interest::WRITABLE).is_err(),
                "{}: reregister({n})",
                s.backend()
            );
            assert!(
                r.register(fd, Token(7), Interest::READABLE).is_err(),
                "{}: register({n}) ({:?})",
                s.backend(),
                std::fs::read_link(format!("/proc/self/fd/{n}"))
            );
        }
        w.wake().unwrap();
        let mut got = wait(&mut s, 8, SOON);
        got.sort();
        assert_eq!(got, vec![(1, 1), (9, 1)], "{}", s.backend());
        s.registry().deregister(&f).unwrap();
    }

    /// Defect 7: the error of `try_as_fd` says what the backend does.
    pub fn try_as_fd_says_why(s: Selector) {
        if let Err(e) = s.try_as_fd() {
            let msg = e.to_string();
            assert!(
                !(s.backend().name() == "uring" && msg.contains("user space")),
                "{msg}"
            );
            assert!(msg.contains(s.backend().name()), "{msg}");
        }
    }

    /// Edge triggering reports the flags asked for, like level.
    pub fn edge_masks_like_level(mut s: Selector) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.shutdown(Shutdown::Write).unwrap();
        match s
            .registry()
            .register_with(&a, Token(1), Interest::READABLE, Trigger::Edge)
        {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Unsupported => return,
            Err(e) => panic!("{e}"),
        }
        let got = wait(&mut s, 8, SOON);
        assert_eq!(
            got,
            vec![(1, kernel(&a, Interest::READABLE))],
            "{}",
            s.backend()
        );
        assert_eq!(wait(&mut s, 8, QUIET), vec![], "{}", s.backend());
    }
}

/// One module per backend of the one list in `common`.
macro_rules! backends {
    ($($(#[$cfg:meta])* $module:ident => $backend:expr;)*) => {$(
        $(#[$cfg])*
        mod $module {
            use super::*;
            backends!(@tests $backend;
                read_closed_only_when_asked,
                half_closed_full_send_buffer_sleeps,
                nothing_to_do_sleeps,
                data_is_not_priority,
                file_for_priority_alone_sleeps,
                drained_pipes_are_not_reported,
                two_wakes_one_report,
                cancelled_timer_is_not_reported,
                received_signals_are_not_reported_again,
                kill_with_a_realtime_signal,
                stale_number_of_a_waker,
                own_descriptors_are_out_of_reach,
                try_as_fd_says_why,
                edge_masks_like_level,
            );
        }
    )*};
    (@tests $backend:expr; $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let _serial = serial();
            scenarios::$name(Selector::with_backend($backend).expect("selector"));
        }
    )*};
}

for_each_selector_backend!(backends);
