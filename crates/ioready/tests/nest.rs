//! Nesting: a `Selector` on a backend with a kernel object (epoll, kqueue)
//! waited on by another poller, through `Selector::try_as_fd`.
//!
//! Both ways: the inner selector inside an outer `Selector` on every
//! backend of the one list (select, poll, epoll, kqueue), and inside
//! tokio's `AsyncFd`. The backends without a kernel object (select, poll)
//! must refuse with `Unsupported`.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use common::*;
use ioready::{Backend, Events, Interest, Selector, Token, Trigger, Waker};

/// The backends of this platform whose selector gives a descriptor to
/// nest: asked of the library, so that a backend added later (io_uring)
/// that overrides `Driver::as_fd` is tested here without a change. Which
/// backends must and must not be among them is checked below.
///
/// Epoll and kqueue must be among them (asserted here, so that no test
/// passes with nothing to nest where a kernel object exists).
fn nestable() -> Vec<Backend> {
    let nestable: Vec<Backend> = Backend::available()
        .filter(|&b| {
            Selector::with_backend(b)
                .and_then(|s| s.try_as_fd().map(|_| ()))
                .is_ok()
        })
        .collect();
    for backend in Backend::available() {
        if matches!(backend, Backend::Epoll | Backend::Kqueue) {
            assert!(nestable.contains(&backend), "{backend} must be nestable");
        }
    }
    nestable
}

fn tokens(s: &mut Selector, timeout: Duration) -> BTreeSet<usize> {
    let mut events = Events::with_capacity(64);
    s.select(&mut events, Some(timeout)).expect("select");
    events.iter().map(|e| e.token().0).collect()
}

const OUTER: Token = Token(1);
const SOURCE: usize = 7;
const WAKER: usize = 9;

#[test]
fn select_and_poll_have_no_kernel_object() {
    for backend in [Backend::Select, Backend::Poll] {
        let s = Selector::with_backend(backend).unwrap();
        let err = s
            .try_as_fd()
            .expect_err("select and poll have no descriptor");
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{backend}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(backend.name()), "{msg}");
        assert!(msg.contains("no kernel object"), "{msg}");
    }
}

#[test]
fn epoll_and_kqueue_give_their_descriptor() {
    let nestable = nestable();
    assert!(!nestable.contains(&Backend::Select) && !nestable.contains(&Backend::Poll));
    if cfg!(ioready_epoll) {
        assert!(nestable.contains(&Backend::Epoll));
    }
    for backend in nestable {
        let s = Selector::with_backend(backend).unwrap();
        let fd = s.try_as_fd().unwrap();
        // The selector's own descriptor: stable across calls, and open.
        assert_eq!(fd.as_raw_fd(), s.try_as_fd().unwrap().as_raw_fd());
        rustix::io::fcntl_getfd(fd).expect("an open descriptor");
    }
}

/// The inner selector in an outer one: the outer wait ends when an inner
/// source becomes ready (from another thread, during the wait), and the
/// readiness is level-triggered: it lasts while the inner selector has
/// something to report, and ends once an inner wait has taken it.
fn inner_in_outer(outer_backend: Backend) {
    for inner_backend in nestable() {
        inner_in_outer_on(inner_backend, outer_backend);
    }
}

fn inner_in_outer_on(inner_backend: Backend, outer_backend: Backend) {
    let mut inner = Selector::with_backend(inner_backend).unwrap();
    let mut outer = Selector::with_backend(outer_backend).unwrap();
    let (r, w) = pipe();
    inner
        .registry()
        .register(&r, Token(SOURCE), Interest::READABLE)
        .unwrap();
    outer
        .registry()
        .register(inner.try_as_fd().unwrap(), OUTER, Interest::READABLE)
        .unwrap();

    // Nothing ready inside: the outer wait times out.
    assert!(tokens(&mut outer, Duration::from_millis(20)).is_empty());

    // A write during the outer wait ends it.
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        poke(&w);
        w
    });
    assert_eq!(tokens(&mut outer, SOON), BTreeSet::from([OUTER.0]));
    assert!(start.elapsed() < SOON);
    let w = writer.join().unwrap();

    // Level-triggered: still readable outside until the inner side has
    // nothing to report; a level registration inside has something while
    // its data is unread, also after an inner wait reported it.
    assert_eq!(
        tokens(&mut outer, Duration::ZERO),
        BTreeSet::from([OUTER.0])
    );
    assert_eq!(tokens(&mut inner, Duration::ZERO), BTreeSet::from([SOURCE]));
    assert_eq!(
        tokens(&mut outer, Duration::ZERO),
        BTreeSet::from([OUTER.0])
    );
    assert_eq!(drain(&r), 1);
    assert!(tokens(&mut inner, Duration::ZERO).is_empty());
    assert!(tokens(&mut outer, Duration::ZERO).is_empty());

    // An edge registration inside: reported once by the inner wait, after
    // which the outer poller no longer sees the inner one as readable, though
    // the byte is unread.
    inner
        .registry()
        .reregister_with(&r, Token(SOURCE), Interest::READABLE, Trigger::Edge)
        .unwrap();
    poke(&w);
    assert_eq!(tokens(&mut outer, SOON), BTreeSet::from([OUTER.0]));
    assert_eq!(tokens(&mut inner, Duration::ZERO), BTreeSet::from([SOURCE]));
    assert!(tokens(&mut outer, Duration::ZERO).is_empty());
    assert!(tokens(&mut inner, Duration::ZERO).is_empty());

    // A waker of the inner selector wakes the outer wait too.
    let waker = Waker::new(inner.registry(), Token(WAKER)).unwrap();
    let waking = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        waker.wake().unwrap();
        waker
    });
    assert_eq!(tokens(&mut outer, SOON), BTreeSet::from([OUTER.0]));
    let waker = waking.join().unwrap();
    assert_eq!(tokens(&mut inner, Duration::ZERO), BTreeSet::from([WAKER]));
    assert!(tokens(&mut outer, Duration::ZERO).is_empty());

    // Deregistered from the outer poller before the inner one is dropped.
    outer
        .registry()
        .deregister(inner.try_as_fd().unwrap())
        .unwrap();
    drop(waker);
    drop(inner);
}

/// One test per outer backend, from the one list of backends.
macro_rules! outer_backends {
    ($($(#[$cfg:meta])* $name:ident => $backend:expr;)*) => {
        mod inner_in_outer {
            use super::*;
            $(
                $(#[$cfg])*
                #[test]
                fn $name() {
                    inner_in_outer($backend);
                }
            )*
        }
    };
}
for_each_selector_backend!(outer_backends);

/// A selector with a kernel object, owned by what registers it (tokio's
/// `AsyncFd` here), the way mio's `Poll` (`AsRawFd`) can be handed over
/// whole: the descriptor lives exactly as long as the value.
struct Nested {
    selector: Selector,
    fd: RawFd,
}

impl Nested {
    fn new(selector: Selector) -> io::Result<Nested> {
        let fd = selector.try_as_fd()?.as_raw_fd();
        Ok(Nested { selector, fd })
    }
}

impl AsRawFd for Nested {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

/// The inner selector in a single-threaded tokio runtime, through
/// `AsyncFd`: awaiting its readability ends when an inner source becomes
/// ready (written from another thread while the runtime waits), after
/// which the inner wait takes the event; with nothing to report it is not
/// readable.
#[test]
fn inner_in_tokio_async_fd() {
    for backend in nestable() {
        inner_in_tokio_async_fd_on(backend);
    }
}

fn inner_in_tokio_async_fd_on(backend: Backend) {
    use std::sync::mpsc;
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest as TokioInterest;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let inner = Selector::with_backend(backend).unwrap();
    let (r, w) = pipe();
    inner
        .registry()
        .register(&r, Token(SOURCE), Interest::READABLE)
        .unwrap();

    // Bounds every await without tokio's timers: a pipe that a thread
    // makes readable after the duration it is sent, unless sent another
    // message first.
    let (alarm_r, alarm_w) = pipe();
    let (alarm_set, alarm_rx) = mpsc::channel::<Duration>();
    let alarm = std::thread::spawn(move || {
        while let Ok(after) = alarm_rx.recv() {
            if alarm_rx.recv_timeout(after) == Err(mpsc::RecvTimeoutError::Timeout) {
                poke(&alarm_w);
            }
        }
    });

    rt.block_on(async {
        let nested = Nested::new(inner).unwrap();
        // SAFETY: `Nested` owns the selector, whose descriptor stays open
        // and names the same epoll/kqueue instance until the selector is
        // dropped with it, and `as_raw_fd` always returns that number.
        let mut afd =
            unsafe { AsyncFd::register_with_interest(nested, TokioInterest::READABLE) }.unwrap();
        // SAFETY: the AsyncFd owns the pipe's read end (an `OwnedFd`).
        let alarm_fd =
            unsafe { AsyncFd::register_with_interest(alarm_r, TokioInterest::READABLE) }.unwrap();

        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            poke(&w);
            w
        });
        alarm_set.send(SOON).unwrap();
        assert!(
            selector_first(&afd, &alarm_fd).await,
            "no readiness from the selector"
        );
        let w = writer.join().unwrap();
        let inner = &mut afd.get_mut().selector;
        assert_eq!(tokens(inner, Duration::ZERO), BTreeSet::from([SOURCE]));

        // Drained inside: nothing to report, so the alarm (100 ms) comes
        // first.
        assert_eq!(drain(&r), 1);
        assert!(tokens(inner, Duration::ZERO).is_empty());
        alarm_set.send(Duration::ZERO).unwrap(); // cancels the SOON alarm
        alarm_set.send(Duration::from_millis(100)).unwrap();
        assert!(
            !selector_first(&afd, &alarm_fd).await,
            "readable with nothing to report"
        );
        assert_eq!(drain(alarm_fd.get_ref()), 1);

        // New data: readable again.
        alarm_set.send(SOON).unwrap();
        poke(&w);
        assert!(
            selector_first(&afd, &alarm_fd).await,
            "no readiness for the second write"
        );
        let inner = &mut afd.get_mut().selector;
        assert_eq!(tokens(inner, Duration::ZERO), BTreeSet::from([SOURCE]));
    });
    drop(alarm_set);
    alarm.join().unwrap();
}

/// Waits for `afd` (the selector) to be readable, or for `alarm`: true if
/// the selector came first.
async fn selector_first<A: AsRawFd, B: AsRawFd>(
    afd: &tokio::io::unix::AsyncFd<A>,
    alarm: &tokio::io::unix::AsyncFd<B>,
) -> bool {
    use std::task::Poll;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(guard) = afd.poll_read_ready(cx) {
            // tokio's readiness is edge-like: forget it, so the next await
            // waits for the kernel to report it again.
            guard.expect("AsyncFd readiness").clear_ready();
            return Poll::Ready(true);
        }
        if let Poll::Ready(guard) = alarm.poll_read_ready(cx) {
            guard.expect("AsyncFd readiness").clear_ready();
            return Poll::Ready(false);
        }
        Poll::Pending
    })
    .await
}
