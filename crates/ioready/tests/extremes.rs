//! Every duration, capacity, count, token and descriptor number the library
//! accepts, tried at its extremes (zero, one, the largest the type holds):
//! nothing panics, nothing wraps, a huge timeout waits (and ends on an
//! event), a tiny one never returns early, bad numbers get a clear error.

// Linux's limits and errors (and `Epoll`, where the build has it).
#![cfg(target_os = "linux")]

mod common;

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use common::*;
use ioready::{Backend, Deadline, Events, Interest, Poll, PollFlags, SelectSets, Selector, Token};
#[cfg(ioready_epoll)]
use ioready::{Epoll, EpollEvents, EpollFlags};

/// Timeouts at and around every boundary the library converts at: zero,
/// one nanosecond, just under and at one millisecond, `i32::MAX`
/// milliseconds (the limit of `poll`/`epoll_wait`) and one past it, the
/// largest whole seconds, `Duration::MAX`.
fn timeouts() -> Vec<Duration> {
    vec![
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_nanos(999_999),
        Duration::from_millis(1),
        Duration::from_millis(i32::MAX as u64),
        Duration::from_millis(i32::MAX as u64 + 1),
        Duration::from_secs(i64::MAX as u64),
        Duration::from_secs(u64::MAX),
        Duration::MAX - Duration::from_nanos(1),
        Duration::MAX,
    ]
}

/// Short enough to wait out in a test.
const SHORT: Duration = Duration::from_millis(2);
/// When the other thread makes the descriptor ready, for long timeouts.
const LATER: Duration = Duration::from_millis(60);

/// One way of waiting for a pipe's read end to become readable: returns
/// whether it was reported.
type Way<'a> = Box<dyn FnMut(Option<Duration>) -> io::Result<bool> + 'a>;

fn ways(r: BorrowedFd<'_>) -> Vec<(String, Way<'_>)> {
    let n = r.as_raw_fd();
    let mut v: Vec<(String, Way<'_>)> = Vec::new();
    v.push((
        "select()".into(),
        Box::new(move |t| {
            let (readers, none): ([BorrowedFd<'_>; 1], &[BorrowedFd<'_>]) = ([r], &[]);
            let s = ioready::select(&readers, none, none, t)?;
            Ok(!s.is_empty())
        }),
    ));
    v.push((
        "select_once()".into(),
        Box::new(move |t| {
            let (readers, none): ([BorrowedFd<'_>; 1], &[BorrowedFd<'_>]) = ([r], &[]);
            let s = ioready::select_once(&readers, none, none, t)?;
            Ok(!s.is_empty())
        }),
    ));
    let mut sets = SelectSets::new();
    v.push((
        "SelectSets::select_once".into(),
        Box::new(move |t| {
            sets.clear();
            sets.insert_read(n)?;
            Ok(sets.select_once(t)? > 0)
        }),
    ));
    let mut poll = Poll::new();
    poll.register(r, PollFlags::IN).unwrap();
    let mut poll2 = Poll::new();
    poll2.register(r, PollFlags::IN).unwrap();
    v.push((
        "Poll::poll".into(),
        Box::new(move |t| Ok(poll.poll(t)?.len() > 0)),
    ));
    v.push((
        "Poll::poll_once".into(),
        Box::new(move |t| Ok(poll2.poll_once(t)?.len() > 0)),
    ));
    #[cfg(ioready_epoll)]
    for once in [false, true] {
        let epoll = Epoll::new().unwrap();
        epoll.add(r, u64::MAX, EpollFlags::IN).unwrap();
        let mut events = EpollEvents::with_capacity(4);
        v.push((
            format!("Epoll::wait{}", if once { "_once" } else { "" }),
            Box::new(move |t| {
                let n = if once {
                    epoll.wait_once(&mut events, t)?
                } else {
                    epoll.wait(&mut events, t)?
                };
                if n > 0 {
                    assert_eq!(events.iter().next().unwrap().0, u64::MAX, "data kept");
                }
                Ok(n > 0)
            }),
        ));
    }
    for backend in Backend::available() {
        for once in [false, true] {
            let mut s = Selector::with_backend(backend).unwrap();
            s.registry()
                .register(r, Token(usize::MAX), Interest::READABLE)
                .unwrap();
            let mut events = Events::with_capacity(4);
            v.push((
                format!(
                    "Selector::select{} ({backend})",
                    if once { "_once" } else { "" }
                ),
                Box::new(move |t| {
                    if once {
                        s.select_once(&mut events, t)?;
                    } else {
                        s.select(&mut events, t)?;
                    }
                    for e in events.iter() {
                        assert_eq!(e.token(), Token(usize::MAX), "token kept");
                    }
                    Ok(!events.is_empty())
                }),
            ));
        }
    }
    v
}

#[test]
fn every_wait_takes_every_timeout() {
    let (r, w) = pipe();
    for (name, mut wait) in ways(r.as_fd()) {
        for t in timeouts() {
            // Ready already: reported at once, whatever the timeout.
            poke(&w);
            let start = Instant::now();
            let got = wait(Some(t));
            assert!(
                matches!(got, Ok(true)),
                "{name} with {t:?} and data ready: {got:?}"
            );
            assert!(start.elapsed() < SOON, "{name} with {t:?}: slow");
            drain(&r);
            if t <= SHORT {
                // Nothing ready: times out, never before the timeout.
                let start = Instant::now();
                let got = wait(Some(t));
                let el = start.elapsed();
                assert!(matches!(got, Ok(false)), "{name} with {t:?}: {got:?}");
                assert!(el >= t, "{name} with {t:?}: returned after {el:?}");
            } else {
                // Nothing ready for a while: the wait blocks (no error, no
                // wrap to zero) and ends on the event.
                let w2 = w.try_clone().unwrap();
                let poker = std::thread::spawn(move || {
                    std::thread::sleep(LATER);
                    poke(&w2);
                });
                let start = Instant::now();
                let got = wait(Some(t));
                let el = start.elapsed();
                poker.join().unwrap();
                assert!(matches!(got, Ok(true)), "{name} with {t:?}: {got:?}");
                assert!(
                    el >= LATER / 2,
                    "{name} with {t:?}: returned after {el:?}, before the event"
                );
                drain(&r);
            }
        }
        println!("{name}: every timeout ok");
    }
}

#[test]
fn deadlines_at_the_extremes() {
    for t in timeouts() {
        let d = Deadline::after(Some(t));
        match d.remaining() {
            // "No deadline": only for a timeout the clock cannot reach.
            None => assert!(t > Duration::from_secs(1 << 40), "{t:?}"),
            Some(left) => assert!(left <= t, "{t:?}: {left:?} left"),
        }
        if t.is_zero() || t >= Duration::from_secs(1) {
            assert_eq!(d.expired(), t.is_zero(), "{t:?}");
        }
    }
    assert!(Deadline::after(None).remaining().is_none());
    assert!(!Deadline::after(None).expired());
    let d = Deadline::after(Some(Duration::from_nanos(1)));
    std::thread::sleep(Duration::from_millis(1));
    assert!(d.expired());
    assert_eq!(d.remaining(), Some(Duration::ZERO));
}

#[test]
fn events_capacities_at_the_extremes() {
    // Zero is raised to one; one is one.
    assert_eq!(Events::with_capacity(0).capacity(), 1);
    assert_eq!(Events::with_capacity(1).capacity(), 1);
    #[cfg(ioready_epoll)]
    {
        assert_eq!(EpollEvents::with_capacity(0).capacity(), 1);
        assert_eq!(EpollEvents::with_capacity(1).capacity(), 1);
    }
    // A capacity of one still reports everything, one wait at a time.
    let (r, w) = pipe();
    let (r2, w2) = pipe();
    poke(&w);
    poke(&w2);
    for backend in Backend::available() {
        let mut s = Selector::with_backend(backend).unwrap();
        s.registry()
            .register(&r, Token(0), Interest::READABLE)
            .unwrap();
        s.registry()
            .register(&r2, Token(1), Interest::READABLE)
            .unwrap();
        let mut ev = Events::with_capacity(0);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2 {
            s.select(&mut ev, Some(SOON)).unwrap();
            assert_eq!(ev.len(), 1, "{backend}");
            seen.extend(ev.iter().map(|e| e.token().0));
        }
        assert_eq!(seen.len(), 2, "{backend}: {seen:?}");
    }
}

/// Huge capacities (issue 10, defect 4): clamped or refused, never a panic
/// and never an allocation the machine cannot make (which aborts).
#[test]
fn huge_events_capacities_do_not_panic() {
    for cap in [
        usize::MAX,
        usize::MAX / 2,
        1 << 40,
        isize::MAX as usize,
        Events::MAX_CAPACITY + 1,
    ] {
        let ev = Events::with_capacity(cap);
        assert_eq!(ev.capacity(), Events::MAX_CAPACITY, "{cap}");
        let (r, w) = pipe();
        poke(&w);
        #[cfg(ioready_epoll)]
        {
            let mut ev = EpollEvents::with_capacity(cap);
            assert_eq!(ev.capacity(), EpollEvents::MAX_CAPACITY, "{cap}");
            ev.reserve(cap);
            assert_eq!(ev.capacity(), EpollEvents::MAX_CAPACITY, "{cap}");
            // Still usable.
            let epoll = Epoll::new().unwrap();
            epoll.add(&r, 1, EpollFlags::IN).unwrap();
            assert_eq!(epoll.wait(&mut ev, Some(SOON)).unwrap(), 1);
        }
        let mut s = Selector::new().unwrap();
        s.registry()
            .register(&r, Token(1), Interest::READABLE)
            .unwrap();
        let mut ev = Events::with_capacity(cap);
        s.select(&mut ev, Some(SOON)).unwrap();
        assert_eq!(ev.len(), 1);
    }
}

#[test]
fn tokens_at_the_extremes() {
    let (r, w) = pipe();
    let (r2, _w2) = pipe();
    poke(&w);
    for backend in Backend::available() {
        let mut s = Selector::with_backend(backend).unwrap();
        s.registry()
            .register(&r, Token(usize::MAX), Interest::READABLE)
            .unwrap();
        s.registry()
            .register(&r2, Token(0), Interest::WRITABLE | Interest::READABLE)
            .unwrap();
        let mut ev = Events::with_capacity(4);
        s.select(&mut ev, Some(SOON)).unwrap();
        let tokens: Vec<_> = ev.iter().map(|e| e.token()).collect();
        assert_eq!(tokens, [Token(usize::MAX)], "{backend}");
    }
}

/// Descriptor numbers at the extremes: negative ones are `InvalidInput`,
/// the largest `RawFd` (never open) is not found, or `EBADF` where the
/// kernel is asked.
#[test]
fn descriptor_numbers_at_the_extremes() {
    let kind = |r: io::Result<()>| r.unwrap_err().kind();
    for backend in Backend::available() {
        let s = Selector::with_backend(backend).unwrap();
        for n in [-1, RawFd::MIN] {
            assert_eq!(
                kind(s.registry().deregister_raw(n)),
                io::ErrorKind::InvalidInput
            );
        }
        let e = s.registry().deregister_raw(RawFd::MAX).unwrap_err();
        match backend {
            Backend::Epoll => assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}"),
            _ => assert_eq!(e.kind(), io::ErrorKind::NotFound, "{backend}: {e}"),
        }
    }
    let mut p = Poll::new();
    for n in [-1, RawFd::MIN] {
        assert_eq!(
            kind(p.register_raw(n, PollFlags::IN)),
            io::ErrorKind::InvalidInput
        );
    }
    assert_eq!(
        kind(p.modify(RawFd::MAX, PollFlags::IN)),
        io::ErrorKind::NotFound
    );
    assert_eq!(kind(p.unregister(RawFd::MAX)), io::ErrorKind::NotFound);
    // poll(2) answers POLLNVAL for a number that is not open.
    p.register_raw(RawFd::MAX, PollFlags::IN).unwrap();
    let ready: Vec<_> = p.poll(Some(SOON)).unwrap().collect();
    assert_eq!(ready.len(), 1);
    assert!(ready[0].1.contains(PollFlags::NVAL), "{ready:?}");
    #[cfg(ioready_epoll)]
    {
        let ep = Epoll::new().unwrap();
        for n in [-1, RawFd::MIN] {
            let e = ep.add_raw(n, 0, EpollFlags::IN);
            assert_eq!(kind(e), io::ErrorKind::InvalidInput);
            assert_eq!(kind(ep.delete_raw(n)), io::ErrorKind::InvalidInput);
        }
        let e = ep.add_raw(RawFd::MAX, 0, EpollFlags::IN).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
    }
    let mut sets = SelectSets::new();
    for n in [-1, RawFd::MIN] {
        assert_eq!(kind(sets.insert_read(n)), io::ErrorKind::InvalidInput);
        assert_eq!(kind(sets.insert_write(n)), io::ErrorKind::InvalidInput);
        assert_eq!(kind(sets.insert_except(n)), io::ErrorKind::InvalidInput);
    }
}

/// `SelectSets` takes raw numbers: the largest `RawFd` (never open) must not
/// make it size its sets for two billion descriptors (256 MiB each) only
/// for select(2) to ignore the number (the kernel caps `nfds` at its
/// descriptor table); a number that is not open is `EBADF`, as select(2)
/// says of one within the table.
#[test]
fn select_sets_refuse_numbers_that_are_not_open() {
    let mut sets = SelectSets::new();
    for n in [RawFd::MAX, RawFd::MAX / 2, closed_fd_number()] {
        let e = sets.insert_read(n).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{n}: {e}");
        let e = sets.insert_write(n).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{n}: {e}");
        let e = sets.insert_except(n).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{n}: {e}");
    }
    // An open one, high, is fine.
    let (r, w) = pipe();
    let high = high_fd(&r);
    poke(&w);
    sets.clear();
    sets.insert_read(high.as_raw_fd()).unwrap();
    assert_eq!(sets.select_once(Some(SOON)).unwrap(), 1);
    assert!(sets.is_readable(high.as_raw_fd()));
}

/// An empty selector (no registration at all) waits out its timeout.
#[test]
fn nothing_registered() {
    for backend in Backend::available() {
        let mut s = Selector::with_backend(backend).unwrap();
        let mut ev = Events::with_capacity(1);
        for t in [Duration::ZERO, Duration::from_nanos(1), SHORT] {
            let start = Instant::now();
            s.select(&mut ev, Some(t)).unwrap();
            assert!(ev.is_empty());
            assert!(start.elapsed() >= t, "{backend} {t:?}");
        }
    }
    let none: &[OwnedFd] = &[];
    let start = Instant::now();
    assert!(ioready::select(none, none, none, Some(SHORT))
        .unwrap()
        .is_empty());
    assert!(start.elapsed() >= SHORT);
}
