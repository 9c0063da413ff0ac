//! The `Selector`, `Registry` and `Waker` on every backend: registration
//! errors, trigger modes, always-ready files, descriptors closed without
//! deregistering, registration from another thread during a wait, and
//! wakers. The `selector!` macro generates one module per backend of the
//! one list in `common` (`for_each_selector_backend!`), plus `default` for
//! `Selector::new()` (which `IOREADY_BACKEND` can force).

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;
use ioready::{Backend, Event, Events, Interest, Registry, Selector, Token, Trigger, Waker};

const QUIET: Duration = Duration::from_millis(20);

fn select(s: &mut Selector, t: Duration) -> Vec<Event> {
    let mut ev = Events::with_capacity(256);
    s.select(&mut ev, Some(t)).unwrap();
    ev.iter().copied().collect()
}

fn tokens(ev: &[Event]) -> BTreeSet<usize> {
    ev.iter().map(|e| e.token().0).collect()
}

/// Ten waits with room for two events each, every one of them full: the
/// tokens reported over all of them (the fairness tests).
fn tokens_seen_two_at_a_time(s: &mut Selector) -> BTreeSet<usize> {
    let mut ev = Events::with_capacity(2);
    let mut seen = BTreeSet::new();
    for _ in 0..10 {
        s.select(&mut ev, Some(SOON)).unwrap();
        assert_eq!(ev.len(), 2);
        seen.extend(ev.iter().map(|e| e.token().0));
    }
    seen
}

fn the(ev: &[Event], token: usize) -> Event {
    let v: Vec<_> = ev.iter().filter(|e| e.token() == Token(token)).collect();
    assert_eq!(v.len(), 1, "one event for token {token} in {ev:?}");
    *v[0]
}

#[test]
fn registry_and_waker_are_shareable() {
    fn shareable<T: Send + Sync + Clone>() {}
    fn sendable<T: Send + Sync>() {}
    shareable::<Registry>();
    sendable::<Waker>();
    sendable::<Selector>();
}

/// One list of names, everywhere; and a backend the build lacks is an
/// error that says which build has it.
#[test]
fn one_list_of_backend_names() {
    assert_eq!(Backend::names(), "auto, select, poll, epoll, kqueue, uring");
    let all: Vec<String> = Backend::all().map(|b| b.to_string()).collect();
    assert_eq!(all.join(", "), "select, poll, epoll, kqueue, uring");
    for b in Backend::all() {
        assert_eq!(b.to_string().parse::<Backend>().unwrap(), b);
        match b.check_available() {
            Ok(ok) => assert!(b.is_available() && ok == b),
            Err(e) => {
                assert!(!b.is_available());
                assert_eq!(e.kind(), io::ErrorKind::Unsupported);
                let msg = e.to_string();
                assert!(msg.contains(&format!("the {b} backend")), "{msg}");
                assert!(
                    msg.contains("it needs ") && msg.contains("this build has "),
                    "{msg}"
                );
                assert_eq!(
                    Selector::with_backend(b).unwrap_err().to_string(),
                    msg,
                    "one message for one cause"
                );
            }
        }
    }
    let e = "nope".parse::<Backend>().unwrap_err();
    assert!(e.to_string().contains(&Backend::names()), "{e}");
}

#[test]
fn backend_names_and_the_environment() {
    assert_eq!("POLL".parse::<Backend>().unwrap(), Backend::Poll);
    assert_eq!("select".parse::<Backend>().unwrap(), Backend::Select);
    assert_eq!("auto".parse::<Backend>().unwrap(), Backend::best());
    let e = "bogus".parse::<Backend>().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    #[cfg(ioready_epoll)]
    assert_eq!(Backend::best(), Backend::Epoll);
    #[cfg(ioready_kqueue)]
    assert_eq!(Backend::best(), Backend::Kqueue);
    #[cfg(ioready_epoll)]
    let missing = Backend::Kqueue;
    #[cfg(not(ioready_epoll))]
    let missing = Backend::Epoll;
    assert!(!missing.is_available());
    assert_eq!(
        Selector::with_backend(missing).unwrap_err().kind(),
        io::ErrorKind::Unsupported
    );
    assert_eq!("uring".parse::<Backend>().unwrap(), Backend::Uring);
    assert!(Backend::Uring.supports_edge());
    // io_uring: only with the cargo feature, and never the best.
    assert_eq!(Backend::Uring.is_available(), cfg!(feature = "uring"));
    if !cfg!(feature = "uring") {
        let e = Selector::with_backend(Backend::Uring).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        assert!(e.to_string().contains("feature `uring`"), "{e}");
    }
    // Selector::new() follows IOREADY_BACKEND (CI runs this suite with it
    // unset, `poll`, `select` and, with the feature, `uring`).
    let want = match std::env::var("IOREADY_BACKEND").as_deref() {
        Ok("") | Ok("auto") | Err(_) => Backend::best(),
        Ok(name) => name.parse().expect("IOREADY_BACKEND names a backend"),
    };
    if !want.is_available() {
        // A backend this build cannot serve: an error that names the
        // variable and the build that would (kqueue: macOS or a BSD).
        let e = Selector::new().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("IOREADY_BACKEND={want}: ")),
            "{msg}"
        );
        assert!(
            msg.contains("it needs ") && msg.contains("this build has "),
            "{msg}"
        );
        println!("Selector::new() refuses IOREADY_BACKEND={want}: {msg}");
        return;
    }
    assert_eq!(Selector::new().unwrap().backend(), want);
    println!("Selector::new() uses {want}");
}

mod scenarios {
    use super::*;

    pub fn registration_errors(mut s: Selector) {
        let (r, _w) = pipe();
        let (other, _o) = pipe();
        let reg = s.registry().clone();
        reg.register(&r, Token(1), Interest::READABLE).unwrap();
        assert_eq!(
            reg.register(&r, Token(2), Interest::READABLE)
                .unwrap_err()
                .kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            reg.reregister(&other, Token(2), Interest::READABLE)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            reg.deregister(&other).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            reg.register(&other, Token(3), Interest::empty())
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            reg.deregister_raw(-1).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let edge = reg.register_with(&other, Token(3), Interest::READABLE, Trigger::Edge);
        if s.backend().supports_edge() {
            edge.unwrap();
            reg.deregister(&other).unwrap();
        } else {
            assert_eq!(edge.unwrap_err().kind(), io::ErrorKind::Unsupported);
            assert_eq!(
                reg.reregister_with(&r, Token(1), Interest::READABLE, Trigger::Edge)
                    .unwrap_err()
                    .kind(),
                io::ErrorKind::Unsupported
            );
        }
        // A refused registration left nothing behind.
        reg.register(&other, Token(3), Interest::READABLE).unwrap();
        reg.deregister(&other).unwrap();
        reg.deregister(&r).unwrap();
        assert_eq!(
            reg.deregister(&r).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(select(&mut s, Duration::ZERO).is_empty());
    }

    pub fn reregister_changes_token_and_interest(mut s: Selector) {
        let (a, _b) = UnixStream::pair().unwrap();
        s.registry()
            .register(&a, Token(1), Interest::READABLE)
            .unwrap();
        assert!(select(&mut s, QUIET).is_empty());
        s.registry()
            .reregister(&a, Token(2), Interest::WRITABLE)
            .unwrap();
        let ev = select(&mut s, SOON);
        assert_eq!(tokens(&ev), BTreeSet::from([2]));
        assert!(the(&ev, 2).is_writable() && !the(&ev, 2).is_readable());
    }

    pub fn oneshot_disarms_and_reregister_rearms(mut s: Selector) {
        let (r, w) = pipe();
        let reg = s.registry();
        reg.register_with(&r, Token(1), Interest::READABLE, Trigger::Oneshot)
            .unwrap();
        poke(&w);
        assert!(the(&select(&mut s, SOON), 1).is_readable());
        assert!(
            select(&mut s, QUIET).is_empty(),
            "disarmed although data is unread"
        );
        poke(&w);
        assert!(
            select(&mut s, QUIET).is_empty(),
            "disarmed although new data came"
        );
        s.registry()
            .reregister_with(&r, Token(5), Interest::READABLE, Trigger::Oneshot)
            .unwrap();
        assert!(the(&select(&mut s, SOON), 5).is_readable(), "re-armed");
        assert!(select(&mut s, QUIET).is_empty());
        // Re-armed as level: reported on every wait.
        s.registry()
            .reregister_with(&r, Token(6), Interest::READABLE, Trigger::Level)
            .unwrap();
        assert!(the(&select(&mut s, SOON), 6).is_readable());
        assert!(the(&select(&mut s, SOON), 6).is_readable());
    }

    /// `reregister` keeps the trigger a descriptor was registered (or last
    /// reregistered) with; only `reregister_with` changes it.
    pub fn reregister_keeps_the_trigger(mut s: Selector) {
        let (r, w) = pipe();
        let reg = s.registry().clone();
        reg.register_with(&r, Token(1), Interest::READABLE, Trigger::Oneshot)
            .unwrap();
        poke(&w); // never read: level-triggered, it would be reported on every wait
        for round in 0..5 {
            reg.reregister(&r, Token(10 + round), Interest::READABLE)
                .unwrap();
            let ev = select(&mut s, SOON);
            assert_eq!(tokens(&ev), BTreeSet::from([10 + round]), "round {round}");
            assert!(
                select(&mut s, QUIET).is_empty(),
                "{}: round {round}: a oneshot registration re-armed by reregister \
                 was reported again, as if reregister had made it level-triggered",
                s.backend()
            );
        }
        // reregister_with changes it, and reregister then keeps the new one.
        reg.reregister_with(&r, Token(2), Interest::READABLE, Trigger::Level)
            .unwrap();
        reg.reregister(&r, Token(3), Interest::READABLE).unwrap();
        for _ in 0..3 {
            assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([3]));
        }
        if s.backend().supports_edge() {
            let (r2, w2) = pipe();
            reg.register_with(&r2, Token(20), Interest::READABLE, Trigger::Edge)
                .unwrap();
            poke(&w2);
            assert!(tokens(&select(&mut s, SOON)).contains(&20));
            reg.reregister(&r2, Token(21), Interest::READABLE).unwrap();
            // A change may report the unread data once; after that an edge
            // registration stays quiet until new data comes.
            let _ = select(&mut s, QUIET);
            assert!(
                !tokens(&select(&mut s, QUIET)).contains(&21),
                "{}: an edge registration reregistered became level-triggered",
                s.backend()
            );
            poke(&w2);
            assert!(
                tokens(&select(&mut s, SOON)).contains(&21),
                "new data, new edge"
            );
            reg.deregister(&r2).unwrap();
        }
        reg.deregister(&r).unwrap();
        drop(w);
    }

    pub fn oneshot_beyond_capacity_loses_nothing(mut s: Selector) {
        let pipes: Vec<_> = (0..5).map(|_| pipe()).collect();
        for (i, (r, w)) in pipes.iter().enumerate() {
            s.registry()
                .register_with(r, Token(i), Interest::READABLE, Trigger::Oneshot)
                .unwrap();
            poke(w);
        }
        let mut ev = Events::with_capacity(2);
        let mut seen = Vec::new();
        for _ in 0..3 {
            s.select(&mut ev, Some(SOON)).unwrap();
            assert!(ev.len() <= 2);
            seen.extend(ev.iter().map(|e| e.token().0));
        }
        seen.sort();
        assert_eq!(seen, [0, 1, 2, 3, 4], "each oneshot reported once");
        s.select(&mut ev, Some(QUIET)).unwrap();
        assert!(ev.is_empty());
    }

    pub fn level_beyond_capacity_is_fair(mut s: Selector) {
        // More ready descriptors than the buffer holds: successive waits
        // must get to all of them, not report the same first ones forever.
        let pipes: Vec<_> = (0..5).map(|_| pipe()).collect();
        for (i, (r, w)) in pipes.iter().enumerate() {
            s.registry()
                .register(r, Token(i), Interest::READABLE)
                .unwrap();
            poke(w);
        }
        assert_eq!(
            tokens_seen_two_at_a_time(&mut s),
            BTreeSet::from([0, 1, 2, 3, 4]),
            "{} starves descriptors",
            s.backend()
        );
    }

    pub fn always_ready_files_beyond_capacity_are_fair(mut s: Selector) {
        // Regular files (always ready) and pipes, more than the buffer
        // holds: the files must not starve the pipes, nor each other.
        let files: Vec<_> = (0..3).map(|_| regular_file()).collect();
        let pipes: Vec<_> = (0..2).map(|_| pipe()).collect();
        for (i, f) in files.iter().enumerate() {
            s.registry()
                .register(f, Token(i), Interest::READABLE)
                .unwrap();
        }
        for (i, (r, w)) in pipes.iter().enumerate() {
            s.registry()
                .register(r, Token(10 + i), Interest::READABLE)
                .unwrap();
            poke(w);
        }
        assert_eq!(
            tokens_seen_two_at_a_time(&mut s),
            BTreeSet::from([0, 1, 2, 10, 11]),
            "{} starves descriptors",
            s.backend()
        );
    }

    pub fn edge_versus_level(mut s: Selector) {
        let (r, w) = pipe();
        let (r2, w2) = pipe();
        let edge = s
            .registry()
            .register_with(&r, Token(1), Interest::READABLE, Trigger::Edge);
        if !s.backend().supports_edge() {
            assert_eq!(edge.unwrap_err().kind(), io::ErrorKind::Unsupported);
            return;
        }
        edge.unwrap();
        s.registry()
            .register(&r2, Token(2), Interest::READABLE)
            .unwrap();
        poke(&w);
        poke(&w2);
        assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([1, 2]));
        // Both bytes unread: level reports again, edge does not.
        assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([2]));
        poke(&w);
        assert_eq!(
            tokens(&select(&mut s, SOON)),
            BTreeSet::from([1, 2]),
            "new data is a new edge"
        );
        drain(&r2);
        assert!(select(&mut s, QUIET).is_empty());
    }

    pub fn regular_files_are_always_ready(mut s: Selector) {
        let f = regular_file();
        let null = std::fs::File::open("/dev/null").unwrap();
        let reg = s.registry().clone();
        reg.register(&f, Token(1), Interest::READABLE | Interest::WRITABLE)
            .unwrap();
        reg.register(&null, Token(2), Interest::READABLE).unwrap();
        for _ in 0..3 {
            let ev = select(&mut s, SOON);
            assert_eq!(tokens(&ev), BTreeSet::from([1, 2]), "{}", s.backend());
            assert!(the(&ev, 1).is_readable() && the(&ev, 1).is_writable());
            assert!(the(&ev, 2).is_readable() && !the(&ev, 2).is_writable());
        }
        assert_eq!(
            reg.register(&f, Token(3), Interest::READABLE)
                .unwrap_err()
                .kind(),
            io::ErrorKind::AlreadyExists
        );
        // Oneshot on an always-ready file: once, then re-armed by reregister.
        reg.reregister_with(&f, Token(3), Interest::WRITABLE, Trigger::Oneshot)
            .unwrap();
        reg.deregister(&null).unwrap();
        let ev = select(&mut s, SOON);
        assert_eq!(tokens(&ev), BTreeSet::from([3]));
        assert!(the(&ev, 3).is_writable() && !the(&ev, 3).is_readable());
        assert!(select(&mut s, QUIET).is_empty(), "oneshot file disarmed");
        reg.reregister_with(&f, Token(4), Interest::READABLE, Trigger::Oneshot)
            .unwrap();
        assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([4]));
        reg.deregister(&f).unwrap();
        assert_eq!(
            reg.deregister(&f).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(select(&mut s, QUIET).is_empty());
        // Mixed with ordinary descriptors, a wait with a ready file does not
        // hide them.
        let (r, w) = pipe();
        reg.register(&r, Token(10), Interest::READABLE).unwrap();
        reg.register(&f, Token(11), Interest::READABLE).unwrap();
        poke(&w);
        assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([10, 11]));
    }

    /// A registration whose descriptor was closed does not hide the other
    /// ready descriptors (select(2) fails the whole call with EBADF; the
    /// backend must single the closed one out and still report the rest).
    pub fn closed_registration_does_not_hide_others(mut s: Selector) {
        let (r, w) = pipe();
        let (r2, w2) = pipe();
        let high = high_fd(&r);
        let n = high.as_raw_fd();
        let reg = s.registry().clone();
        reg.register(&high, Token(1), Interest::READABLE).unwrap();
        reg.register(&r2, Token(2), Interest::READABLE).unwrap();
        drop(high);
        poke(&w2);
        let ev = select(&mut s, SOON);
        assert!(the(&ev, 2).is_readable(), "{ev:?}");
        match s.backend() {
            // io_uring: the request, submitted by this wait, names the
            // closed number (EBADF).
            Backend::Select | Backend::Poll | Backend::Uring => {
                assert!(the(&ev, 1).is_invalid(), "{ev:?}");
                reg.deregister_raw(n).unwrap();
            }
            // epoll: the pipe is still open through `r`, so the kernel keeps
            // the registration; nothing was written to it.
            _ => assert!(!tokens(&ev).contains(&1), "{ev:?}"),
        }
        drop((r, w, w2));
    }

    pub fn closed_without_deregister(mut s: Selector) {
        let (r, w) = pipe();
        let high = high_fd(&r);
        let n = high.as_raw_fd();
        let reg = s.registry().clone();
        reg.register(&high, Token(1), Interest::READABLE).unwrap();
        drop(high);
        match s.backend() {
            // io_uring: the registration's first request is submitted by
            // the next wait, and names the closed number (EBADF).
            Backend::Select | Backend::Poll | Backend::Uring => {
                for _ in 0..2 {
                    let ev = select(&mut s, SOON);
                    let e = the(&ev, 1);
                    assert!(e.is_invalid() && e.is_error(), "{e:?}");
                }
                // The number, reused, is still registered until deregistered.
                let again = dup_at_least(&r, n).unwrap();
                assert_eq!(again.as_raw_fd(), n);
                assert_eq!(
                    reg.register(&again, Token(2), Interest::READABLE)
                        .unwrap_err()
                        .kind(),
                    io::ErrorKind::AlreadyExists
                );
                drop(again);
                reg.deregister_raw(n).unwrap();
                assert!(select(&mut s, QUIET).is_empty());
            }
            _ => {
                // epoll keys a registration on the open file, not on the
                // number: while another descriptor (`r`) keeps the pipe
                // open, the registration stays and keeps reporting under its
                // token (the documented "last descriptor for the file" rule).
                poke(&w);
                assert!(the(&select(&mut s, SOON), 1).is_readable());
                drain(&r);
                // The number itself is closed: epoll_ctl cannot name it.
                assert_eq!(
                    reg.deregister_raw(n).unwrap_err().raw_os_error(),
                    Some(libc::EBADF)
                );
                // With the last descriptor of a file closed, the kernel
                // forgets the registration.
                let (r2, w2) = pipe();
                let high2 = high_fd(&r2);
                drop(r2);
                reg.register(&high2, Token(4), Interest::READABLE).unwrap();
                poke(&w2);
                assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([4]));
                drop(high2);
                assert!(select(&mut s, QUIET).is_empty());
                drop(w2);
            }
        }
        // The selector still works. (On epoll the registration under token
        // 1 is still alive through `r`, see above.)
        reg.register(&r, Token(3), Interest::READABLE).unwrap();
        poke(&w);
        let ev = tokens(&select(&mut s, SOON));
        assert!(ev.contains(&3), "{ev:?}");
    }

    /// Closed without deregistering while a wait already watches it (on
    /// io_uring: while its poll request is in the kernel).
    pub fn closed_while_armed(mut s: Selector) {
        let (r, w) = pipe();
        let high = high_fd(&r);
        let n = high.as_raw_fd();
        let reg = s.registry().clone();
        reg.register(&high, Token(1), Interest::READABLE).unwrap();
        assert!(select(&mut s, Duration::ZERO).is_empty());
        drop(high);
        let backend = s.backend();
        match backend {
            Backend::Select | Backend::Poll => {
                assert!(the(&select(&mut s, SOON), 1).is_invalid());
            }
            Backend::Uring => {
                // The armed request holds the file: the close alone ends
                // nothing, and the old file (open through `r` too) is still
                // reported under its token while the request is armed.
                poke(&w);
                assert!(the(&select(&mut s, SOON), 1).is_readable());
                drain(&r);
                // The level re-arm names the number, now closed: invalid on
                // every wait, as on poll, until deregistered.
                for _ in 0..2 {
                    let ev = select(&mut s, SOON);
                    let e = the(&ev, 1);
                    assert!(e.is_invalid() && e.is_error(), "{e:?}");
                }
                let again = dup_at_least(&r, n).unwrap();
                assert_eq!(again.as_raw_fd(), n);
                assert_eq!(
                    reg.register(&again, Token(2), Interest::READABLE)
                        .unwrap_err()
                        .kind(),
                    io::ErrorKind::AlreadyExists
                );
                drop(again);
            }
            _ => {
                // epoll: the pipe is still open through `r`.
                poke(&w);
                assert!(the(&select(&mut s, SOON), 1).is_readable());
                drain(&r);
                assert!(select(&mut s, QUIET).is_empty());
                assert_eq!(
                    reg.deregister_raw(n).unwrap_err().raw_os_error(),
                    Some(libc::EBADF)
                );
                return;
            }
        }
        reg.deregister_raw(n).unwrap();
        assert!(select(&mut s, QUIET).is_empty(), "{backend}");
        drop(w);
    }

    pub fn closed_regular_file_without_deregister(mut s: Selector) {
        let f = regular_file();
        let g = regular_file();
        let reg = s.registry().clone();
        let h = high_fd(&f);
        let n = h.as_raw_fd();
        reg.register(&h, Token(1), Interest::READABLE).unwrap();
        assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([1]));
        drop(h);
        match s.backend() {
            // io_uring: the level re-arm names the closed number (EBADF).
            Backend::Select | Backend::Poll | Backend::Uring => {
                assert!(the(&select(&mut s, SOON), 1).is_invalid());
                reg.deregister_raw(n).unwrap();
                assert!(select(&mut s, QUIET).is_empty());
            }
            _ => {
                // Forgotten, as epoll forgets closed files: not reported as
                // ready forever.
                assert!(select(&mut s, QUIET).is_empty(), "{}", s.backend());
                // The number, reused by another file, registers afresh.
                let again = dup_at_least(&g, n).unwrap();
                assert_eq!(again.as_raw_fd(), n);
                reg.register(&again, Token(2), Interest::READABLE).unwrap();
                assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([2]));
                reg.deregister(&again).unwrap();
                // Closed and reused before any wait noticed: the new file
                // replaces the stale registration.
                reg.register(&again, Token(3), Interest::READABLE).unwrap();
                drop(again);
                let again = dup_at_least(&f, n).unwrap();
                assert_eq!(again.as_raw_fd(), n);
                reg.register(&again, Token(4), Interest::READABLE).unwrap();
                assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([4]));
            }
        }
    }

    /// Deregistered, closed, the number reused and registered again under
    /// another token, before any wait and with a request in flight: the old
    /// token is never reported for the new file, nor the new token for the
    /// old one (io_uring: a generation in each request's user data).
    pub fn reused_number_is_never_reported_under_the_old_token(mut s: Selector) {
        let reg = s.registry().clone();
        for in_flight in [false, true] {
            let (r, w) = pipe();
            let old = high_fd(&r);
            let n = old.as_raw_fd();
            reg.register(&old, Token(1), Interest::READABLE).unwrap();
            if in_flight {
                // Armed in the kernel, not ready.
                assert!(select(&mut s, Duration::ZERO).is_empty());
            }
            reg.deregister(&old).unwrap();
            drop(old);
            let (r2, w2) = pipe();
            let new = dup_at_least(&r2, n).unwrap();
            assert_eq!(new.as_raw_fd(), n);
            reg.register(&new, Token(2), Interest::READABLE).unwrap();
            // Both files ready: the old one through `r`, the new one.
            poke(&w);
            poke(&w2);
            assert_eq!(
                tokens(&select(&mut s, SOON)),
                BTreeSet::from([2]),
                "{}",
                s.backend()
            );
            drain(&r2);
            assert!(select(&mut s, QUIET).is_empty(), "{}", s.backend());
            reg.deregister(&new).unwrap();
            drop((r, w, r2, w2));
        }
    }

    /// Deregistered, then closed: the file is really closed at once (the
    /// peer sees end of file without the selector waiting again), on every
    /// backend (io_uring: the armed request is cancelled by the deregister).
    pub fn deregister_then_close_closes_at_once(mut s: Selector) {
        let (client, server) = tcp_pair();
        let reg = s.registry().clone();
        reg.register(&server, Token(1), Interest::READABLE).unwrap();
        // Armed in the kernel, not ready.
        assert!(select(&mut s, Duration::ZERO).is_empty());
        reg.deregister(&server).unwrap();
        drop(server);
        client.set_nonblocking(false).unwrap();
        client.set_read_timeout(Some(SOON)).unwrap();
        let mut buf = [0u8; 1];
        let n = (&client).read(&mut buf);
        assert_eq!(n.ok(), Some(0), "{}: end of file at once", s.backend());
    }

    pub fn registration_from_another_thread_ends_the_wait(mut s: Selector) {
        let (r, w) = pipe();
        poke(&w);
        let reg = s.registry().clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            reg.register(&r, Token(42), Interest::READABLE).unwrap();
            r
        });
        let start = Instant::now();
        let ev = select(&mut s, Duration::from_secs(20));
        let el = start.elapsed();
        let r = t.join().unwrap();
        assert_eq!(tokens(&ev), BTreeSet::from([42]), "{}", s.backend());
        assert!(el < Duration::from_secs(10), "{}: took {el:?}", s.backend());
        drop(r);
    }

    pub fn rearm_from_another_thread_ends_the_wait(mut s: Selector) {
        let (r, w) = pipe();
        poke(&w);
        s.registry()
            .register_with(&r, Token(1), Interest::READABLE, Trigger::Oneshot)
            .unwrap();
        assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([1]));
        let reg = s.registry().clone();
        let n = r.as_raw_fd();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: the test thread keeps `r` open until it has joined us.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(n) };
            reg.reregister_with(fd, Token(2), Interest::READABLE, Trigger::Oneshot)
                .unwrap();
        });
        let start = Instant::now();
        let ev = select(&mut s, Duration::from_secs(20));
        let el = start.elapsed();
        t.join().unwrap();
        assert_eq!(tokens(&ev), BTreeSet::from([2]), "{}", s.backend());
        assert!(el < Duration::from_secs(10), "{}: took {el:?}", s.backend());
    }

    pub fn priority_and_read_closed(mut s: Selector) {
        let (client, server) = tcp_pair();
        let interest = Interest::PRIORITY | Interest::READ_CLOSED;
        if !s.backend().supports_read_closed() {
            // READ_CLOSED without READABLE: refused where the backend
            // cannot tell it from data (see tests/regressions.rs).
            let e = s.registry().register(&server, Token(1), interest);
            assert_eq!(e.unwrap_err().kind(), io::ErrorKind::Unsupported);
        }
        let interest = if s.backend().supports_read_closed() {
            interest
        } else {
            Interest::PRIORITY
        };
        s.registry().register(&server, Token(1), interest).unwrap();
        socket2::SockRef::from(&client)
            .send_out_of_band(b"!")
            .unwrap();
        let ev = select(&mut s, SOON);
        assert!(the(&ev, 1).is_priority(), "{}: {ev:?}", s.backend());

        let (client, server) = tcp_pair();
        s.registry()
            .register(
                &server,
                Token(2),
                Interest::READABLE | Interest::READ_CLOSED,
            )
            .unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let ev = select(&mut s, SOON);
        let e = the(&ev, 2);
        assert!(e.is_readable(), "{e:?}");
        if s.backend() != Backend::Select {
            assert!(e.is_read_closed(), "{}: {e:?}", s.backend());
        }
    }

    pub fn waker_from_another_thread(mut s: Selector) {
        let waker = std::sync::Arc::new(Waker::new(s.registry(), Token(99)).unwrap());
        assert!(select(&mut s, QUIET).is_empty(), "no wake yet");
        let w = waker.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            w.wake().unwrap();
        });
        let start = Instant::now();
        let ev = select(&mut s, Duration::from_secs(20));
        let el = start.elapsed();
        t.join().unwrap();
        assert_eq!(tokens(&ev), BTreeSet::from([99]));
        assert!(the(&ev, 99).is_readable());
        assert!(el < Duration::from_secs(10), "{el:?}");
        assert!(select(&mut s, QUIET).is_empty(), "one wake, one event");
    }

    pub fn several_wakers_on_one_selector(mut s: Selector) {
        let wakers: Vec<_> = (0..3)
            .map(|i| Waker::new(s.registry(), Token(100 + i)).unwrap())
            .collect();
        wakers[0].wake().unwrap();
        wakers[2].wake().unwrap();
        assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([100, 102]));
        assert!(select(&mut s, QUIET).is_empty());
        wakers[1].wake().unwrap();
        assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([101]));
        // A dropped waker is gone from the selector; its token can be reused.
        let mut wakers = wakers;
        wakers.remove(1);
        let again = Waker::new(s.registry(), Token(101)).unwrap();
        assert!(select(&mut s, QUIET).is_empty());
        again.wake().unwrap();
        assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([101]));
    }

    pub fn wakes_coalesce(mut s: Selector) {
        let waker = Waker::new(s.registry(), Token(7)).unwrap();
        for _ in 0..1_000 {
            waker.wake().unwrap();
        }
        let ev = select(&mut s, SOON);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!(select(&mut s, QUIET).is_empty(), "1,000 wakes, one event");
        // And it still works afterwards.
        waker.wake().unwrap();
        assert_eq!(tokens(&select(&mut s, SOON)), BTreeSet::from([7]));
    }

    pub fn wake_before_the_wait_is_not_lost(mut s: Selector) {
        let waker = Waker::new(s.registry(), Token(8)).unwrap();
        let (r, w) = pipe();
        s.registry()
            .register(&r, Token(1), Interest::READABLE)
            .unwrap();
        waker.wake().unwrap();
        // From another thread too, joined before the wait begins.
        let w2 = std::sync::Arc::new(Waker::new(s.registry(), Token(9)).unwrap());
        let c = w2.clone();
        std::thread::spawn(move || c.wake().unwrap())
            .join()
            .unwrap();
        poke(&w);
        let ev = select(&mut s, SOON);
        assert_eq!(tokens(&ev), BTreeSet::from([1, 8, 9]));
    }

    pub fn wake_during_eintr_retries_is_not_lost(mut s: Selector) {
        let waker = std::sync::Arc::new(Waker::new(s.registry(), Token(3)).unwrap());
        let hits = signal_hits();
        // Signals every 5 ms for 300 ms; the wake comes in the middle.
        let signaller = Signaller::every(Duration::from_millis(5), 60);
        let w = waker.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            w.wake().unwrap();
        });
        let start = Instant::now();
        let ev = select(&mut s, Duration::from_secs(20));
        let el = start.elapsed();
        signaller.finish();
        t.join().unwrap();
        assert!(signal_hits() > hits, "signals were handled");
        assert_eq!(tokens(&ev), BTreeSet::from([3]), "{}", s.backend());
        assert!(
            el < Duration::from_secs(10),
            "{}: the wake was lost ({el:?})",
            s.backend()
        );
    }

    pub fn many_threads_register_while_waiting(mut s: Selector) {
        // Bounded: 4 threads x 25 registrations, each of a ready pipe.
        let start = Instant::now();
        let mut all = BTreeSet::new();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let reg = s.registry().clone();
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    for i in 0..25 {
                        let (r, w) = pipe();
                        poke(&w);
                        reg.register(&r, Token(t * 100 + i), Interest::READABLE)
                            .unwrap();
                        held.push((r, w));
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    held
                })
            })
            .collect();
        let mut ev = Events::with_capacity(256);
        while all.len() < 100 && start.elapsed() < Duration::from_secs(20) {
            s.select(&mut ev, Some(Duration::from_millis(200))).unwrap();
            all.extend(ev.iter().map(|e| e.token().0));
        }
        let held: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(
            all.len(),
            100,
            "{}: every registration was seen",
            s.backend()
        );
        drop(held);
    }
}

/// One `#[test]` per scenario, each on a fresh selector from `$make`.
macro_rules! selector_tests {
    ($make:ident; $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            super::scenarios::$name($make());
        }
    )*};
}

macro_rules! selector {
    ($($(#[$cfg:meta])* $module:ident => $make:expr;)*) => {$(
        $(#[$cfg])*
        mod $module {
            use super::*;

            fn make() -> Selector {
                $make.expect("selector")
            }

            selector_tests!(make;
                registration_errors,
                reregister_changes_token_and_interest,
                oneshot_disarms_and_reregister_rearms,
                reregister_keeps_the_trigger,
                oneshot_beyond_capacity_loses_nothing,
                level_beyond_capacity_is_fair,
                always_ready_files_beyond_capacity_are_fair,
                edge_versus_level,
                regular_files_are_always_ready,
                closed_without_deregister,
                closed_registration_does_not_hide_others,
                closed_regular_file_without_deregister,
                closed_while_armed,
                reused_number_is_never_reported_under_the_old_token,
                deregister_then_close_closes_at_once,
                registration_from_another_thread_ends_the_wait,
                rearm_from_another_thread_ends_the_wait,
                priority_and_read_closed,
                waker_from_another_thread,
                several_wakers_on_one_selector,
                wakes_coalesce,
                wake_before_the_wait_is_not_lost,
                wake_during_eintr_retries_is_not_lost,
                many_threads_register_while_waiting,
            );
        }
    )*};
}

/// The backends of the one list, each by name.
macro_rules! on_each_backend {
    ($($(#[$cfg:meta])* $name:ident => $backend:expr;)*) => {
        selector! {
            $($(#[$cfg])* $name => Selector::with_backend($backend);)*
        }
    };
}
for_each_selector_backend!(on_each_backend);

selector! {
    default => Selector::new();
}
