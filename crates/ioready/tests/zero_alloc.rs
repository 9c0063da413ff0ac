//! Steady-state waits allocate nothing: `Selector::select` on every backend
//! (with an event ready, on timeout expiry, with a waker, across `EINTR`
//! retries), `Epoll::wait` and `Poll::poll`.
//!
//! A counting `#[global_allocator]` applies to this whole test binary, which
//! is why these tests live in their own file. It counts per thread, so tests
//! that run in parallel (and the helper threads that send signals) do not
//! disturb each other's counts.

#[macro_use]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use common::*;
use ioready::{Events, Interest, Poll, PollFlags};
use ioready::{Selector, Token, Trigger, Waker};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the allocator may be called while the thread's locals are
    // being torn down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments; the
// counting touches only a const-initialised thread-local without a
// destructor, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded from our caller.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded from our caller.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded from our caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from our caller.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by the calling thread while `f` runs.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(|c| c.get());
    f();
    ALLOCATIONS.with(|c| c.get()) - before
}

/// Steady-state rounds per measurement (bounded: each is one wait that
/// returns at once, or a 100 us timeout).
const N: usize = 1_000;
const N_TIMEOUT: usize = 100;

#[test]
fn the_counter_counts() {
    // A test of the test: an allocation is seen.
    let n = allocations_in(|| {
        let v: Vec<u8> = Vec::with_capacity(10);
        std::hint::black_box(v);
    });
    assert_eq!(n, 1);
}

mod scenarios {
    use super::*;

    pub fn event_ready(mut s: Selector) {
        let (r, w) = pipe();
        s.registry()
            .register(&r, Token(1), Interest::READABLE)
            .unwrap();
        poke(&w);
        let mut events = Events::with_capacity(64);
        for _ in 0..10 {
            s.select(&mut events, Some(SOON)).unwrap();
        }
        let mut ok = 0;
        let n = allocations_in(|| {
            for _ in 0..N {
                s.select(&mut events, Some(SOON)).unwrap();
                ok += (events.len() == 1) as usize;
                s.select(&mut events, None).unwrap();
                ok += (events.len() == 1) as usize;
            }
        });
        assert_eq!(ok, 2 * N, "every wait saw the event");
        assert_eq!(
            n,
            0,
            "{}: {n} allocations in {} waits with an event ready",
            s.backend(),
            2 * N
        );
    }

    pub fn timeout_expiry(mut s: Selector) {
        let (r, _w) = pipe();
        s.registry()
            .register(&r, Token(1), Interest::READABLE)
            .unwrap();
        let mut events = Events::with_capacity(64);
        let t = Duration::from_micros(100);
        for _ in 0..10 {
            s.select(&mut events, Some(t)).unwrap();
            s.select(&mut events, Some(Duration::ZERO)).unwrap();
        }
        let mut empty = 0;
        let n = allocations_in(|| {
            for _ in 0..N_TIMEOUT {
                s.select(&mut events, Some(t)).unwrap();
                empty += events.is_empty() as usize;
            }
            for _ in 0..N {
                s.select(&mut events, Some(Duration::ZERO)).unwrap();
                empty += events.is_empty() as usize;
            }
        });
        assert_eq!(empty, N + N_TIMEOUT);
        assert_eq!(n, 0, "{}: {n} allocations on timeout expiry", s.backend());
    }

    pub fn waker(mut s: Selector) {
        let waker = Waker::new(s.registry(), Token(9)).unwrap();
        let mut events = Events::with_capacity(64);
        for _ in 0..10 {
            waker.wake().unwrap();
            s.select(&mut events, Some(SOON)).unwrap();
        }
        let mut ok = 0;
        let n = allocations_in(|| {
            for _ in 0..N {
                waker.wake().unwrap();
                s.select(&mut events, Some(SOON)).unwrap();
                ok += (events.len() == 1) as usize;
            }
        });
        assert_eq!(ok, N);
        assert_eq!(n, 0, "{}: {n} allocations in wake + wait", s.backend());
    }

    pub fn oneshot_rearm_cycle(mut s: Selector) {
        let (r, w) = pipe();
        let reg = s.registry().clone();
        reg.register_with(&r, Token(1), Interest::READABLE, Trigger::Oneshot)
            .unwrap();
        poke(&w);
        let mut events = Events::with_capacity(64);
        for _ in 0..10 {
            s.select(&mut events, Some(SOON)).unwrap();
            reg.reregister_with(&r, Token(1), Interest::READABLE, Trigger::Oneshot)
                .unwrap();
        }
        let mut ok = 0;
        let n = allocations_in(|| {
            for _ in 0..N {
                s.select(&mut events, Some(SOON)).unwrap();
                ok += (events.len() == 1) as usize;
                reg.reregister_with(&r, Token(1), Interest::READABLE, Trigger::Oneshot)
                    .unwrap();
            }
        });
        assert_eq!(ok, N);
        assert_eq!(
            n,
            0,
            "{}: {n} allocations in oneshot wait + re-arm",
            s.backend()
        );
    }

    /// A periodic timer, a signal and a running child registered: waits,
    /// `acknowledge`, `receive` and `try_wait` allocate nothing. (Linux: it
    /// sends itself real-time signals.)
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn sources(mut s: Selector) {
        use ioready::{Process, Signal, Signals, Timer};
        let timer = Timer::new(s.registry(), Token(1)).unwrap();
        timer
            .set_periodic(Duration::ZERO, Duration::from_micros(200))
            .unwrap();
        // A real-time signal of this test's own (tests run in parallel and
        // every owner of a signal sees every delivery): queued, so each one
        // sent is counted.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(5);
        let rt = Signal::realtime(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)).unwrap();
        let signals = Signals::new(s.registry(), Token(2), &[rt]).unwrap();
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut process = Process::new(s.registry(), Token(3), child).unwrap();
        let mut events = Events::with_capacity(64);
        let (mut ticks, mut received) = (0u64, 0u32);
        let mut round = |s: &mut Selector, events: &mut Events| {
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(libc::getpid(), rt.raw()) };
            s.select(events, Some(SOON)).unwrap();
            for e in events.iter() {
                match e.token() {
                    Token(1) => ticks += timer.acknowledge().unwrap(),
                    Token(2) => received += signals.receive().count(rt),
                    _ => {}
                }
            }
            assert!(process.try_wait().unwrap().is_none());
        };
        for _ in 0..10 {
            round(&mut s, &mut events);
        }
        let n = allocations_in(|| {
            for _ in 0..N {
                round(&mut s, &mut events);
            }
        });
        assert!(
            ticks > 0 && received > 0,
            "{ticks} ticks, {received} signals"
        );
        assert_eq!(
            n,
            0,
            "{}: {n} allocations in waits with a timer, signals and a child",
            s.backend()
        );
        // Every signal sent was received before the owner goes.
        let start = std::time::Instant::now();
        while received < N as u32 + 10 && start.elapsed() < SOON {
            s.select(&mut events, Some(Duration::from_millis(10)))
                .unwrap();
            received += signals.receive().count(rt);
        }
        assert_eq!(received, N as u32 + 10);
        process.kill(Signal::KILL).unwrap();
        while process.try_wait().unwrap().is_none() {
            s.select(&mut events, Some(SOON)).unwrap();
        }
    }

    pub fn eintr_retries(mut s: Selector) {
        let (r, _w) = pipe();
        s.registry()
            .register(&r, Token(1), Interest::READABLE)
            .unwrap();
        let mut events = Events::with_capacity(64);
        s.select(&mut events, Some(Duration::from_millis(1)))
            .unwrap();
        let hits = signal_hits();
        // Signals every 10 ms into a 300 ms wait; the signaller thread's own
        // allocations are not counted (per-thread counter).
        let signaller = Signaller::every(Duration::from_millis(10), 20);
        let n = allocations_in(|| {
            s.select(&mut events, Some(Duration::from_millis(300)))
                .unwrap();
        });
        signaller.finish();
        assert!(signal_hits() > hits, "the wait was signalled");
        assert!(events.is_empty());
        assert_eq!(
            n,
            0,
            "{}: {n} allocations across EINTR retries",
            s.backend()
        );
    }
}

macro_rules! zero_alloc {
    ($($(#[$cfg:meta])* $module:ident => $make:expr;)*) => {$(
        $(#[$cfg])*
        mod $module {
            use crate::*;

            fn make() -> Selector {
                $make.expect("selector")
            }

            #[test]
            fn event_ready() {
                scenarios::event_ready(make());
            }

            #[test]
            fn timeout_expiry() {
                scenarios::timeout_expiry(make());
            }

            #[test]
            fn waker() {
                scenarios::waker(make());
            }

            #[test]
            fn oneshot_rearm_cycle() {
                scenarios::oneshot_rearm_cycle(make());
            }

            #[cfg(any(target_os = "linux", target_os = "android"))]
            #[test]
            fn sources() {
                scenarios::sources(make());
            }

            #[test]
            fn eintr_retries() {
                scenarios::eintr_retries(make());
            }
        }
    )*};
}

zero_alloc! {
    selector_default => Selector::new();
}

/// The `Selector` on each backend of the one list: `selector::epoll::...`.
mod selector {
    macro_rules! on_each_backend {
        ($($(#[$cfg:meta])* $name:ident => $backend:expr;)*) => {
            zero_alloc! {
                $($(#[$cfg])* $name => crate::Selector::with_backend($backend);)*
            }
        };
    }
    for_each_selector_backend!(on_each_backend);
}

#[cfg(ioready_epoll)]
#[test]
fn epoll_wait() {
    use ioready::{Epoll, EpollEvents, EpollFlags};
    let ep = Epoll::new().unwrap();
    let (r, w) = pipe();
    let (quiet, _q) = pipe();
    ep.add(&r, 1, EpollFlags::IN).unwrap();
    poke(&w);
    let quiet_ep = Epoll::new().unwrap();
    quiet_ep.add(&quiet, 2, EpollFlags::IN).unwrap();
    let mut events = EpollEvents::with_capacity(64);
    for _ in 0..10 {
        ep.wait(&mut events, Some(SOON)).unwrap();
        quiet_ep
            .wait(&mut events, Some(Duration::from_micros(100)))
            .unwrap();
    }
    let mut ok = 0;
    let n = allocations_in(|| {
        for _ in 0..N {
            ok += ep.wait(&mut events, Some(SOON)).unwrap();
            ok += ep.wait(&mut events, None).unwrap();
        }
        for _ in 0..N_TIMEOUT {
            ok += quiet_ep
                .wait(&mut events, Some(Duration::from_micros(100)))
                .unwrap();
            ok += quiet_ep
                .wait(&mut events, Some(Duration::from_micros(1_500)))
                .unwrap();
        }
    });
    assert_eq!(ok, 2 * N);
    assert_eq!(n, 0, "Epoll::wait: {n} allocations");
}

#[test]
fn poll_poll() {
    let mut p = Poll::new();
    let (r, w) = pipe();
    let (quiet, _q) = pipe();
    p.register(&r, PollFlags::IN).unwrap();
    p.register(&quiet, PollFlags::IN).unwrap();
    poke(&w);
    for _ in 0..10 {
        p.poll(Some(SOON)).unwrap().count();
    }
    let mut ok = 0;
    let n = allocations_in(|| {
        for _ in 0..N {
            ok += p.poll(Some(SOON)).unwrap().count();
        }
    });
    assert_eq!(ok, N);
    assert_eq!(n, 0, "Poll::poll: {n} allocations");
}
