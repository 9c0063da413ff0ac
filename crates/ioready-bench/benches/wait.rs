//! Micro-benchmarks: the cost of one wait with K idle registered
//! descriptors and one ready descriptor (K = 1, 100, 1,000, 10,000), for
//! select, poll, epoll and the Selector on each backend, beside mio and
//! polling doing the same; and the cost of register, modify and unregister.
//!
//! The descriptors are eventfds: an idle one holds 0, the ready one holds 1
//! and is never read, so it stays readable (level-triggered) on every wait.
//! mio has only edge-triggered registrations, so its wait is measured with a
//! `reregister` of the ready descriptor before each wait to re-arm it (one
//! `epoll_ctl` more than the others: the row says so).
//!
//! `cargo bench -p ioready-bench` (measurement times are kept short so the
//! suite takes a few minutes on two cores).

// `criterion_group!` defines a public function it does not document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ioready::{Backend, Epoll, EpollEvents, EpollFlags, Events, Interest, Poll, PollFlags};
use ioready::{Selector, Token};
use rustix::event::{eventfd, EventfdFlags};

const KS: [usize; 4] = [1, 100, 1_000, 10_000];
/// Long enough never to expire: the ready descriptor ends every wait.
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(5));

fn fds(k: usize) -> (Vec<OwnedFd>, OwnedFd) {
    let idle = (0..k)
        .map(|_| eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).expect("eventfd"))
        .collect();
    let ready = eventfd(1, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).expect("eventfd");
    (idle, ready)
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

fn wait(c: &mut Criterion) {
    // Best effort: without it the run fails later with a clear EMFILE.
    let _ = ioready_server::raise_fd_limit();
    let mut g = c.benchmark_group("wait_one_ready");
    for k in KS {
        let (idle, ready) = fds(k);
        let all: Vec<_> = idle
            .iter()
            .map(|f| f.as_fd())
            .chain([ready.as_fd()])
            .collect();
        let none: [std::os::fd::BorrowedFd<'_>; 0] = [];

        g.bench_with_input(BenchmarkId::new("select()", k), &k, |b, _| {
            b.iter(|| {
                let r = ioready::select(&all, &none, &none, TIMEOUT).expect("select");
                black_box(r.readable_positions().count())
            })
        });

        let mut poll = Poll::new();
        for f in &all {
            poll.register(f, PollFlags::IN).expect("register");
        }
        g.bench_with_input(BenchmarkId::new("Poll", k), &k, |b, _| {
            b.iter(|| black_box(poll.poll(TIMEOUT).expect("poll").count()))
        });
        drop(poll);

        let ep = Epoll::new().expect("epoll");
        for (i, f) in all.iter().enumerate() {
            ep.add(f, i as u64, EpollFlags::IN).expect("add");
        }
        let mut eev = EpollEvents::with_capacity(64);
        g.bench_with_input(BenchmarkId::new("Epoll", k), &k, |b, _| {
            b.iter(|| black_box(ep.wait(&mut eev, TIMEOUT).expect("wait")))
        });
        drop(ep);

        for backend in [Backend::Select, Backend::Poll, Backend::Epoll] {
            let mut sel = Selector::with_backend(backend).expect("selector");
            for (i, f) in all.iter().enumerate() {
                sel.registry()
                    .register(f, Token(i), Interest::READABLE)
                    .expect("register");
            }
            let mut events = Events::with_capacity(64);
            g.bench_with_input(
                BenchmarkId::new(format!("Selector({backend})"), k),
                &k,
                |b, _| {
                    b.iter(|| {
                        sel.select(&mut events, TIMEOUT).expect("select");
                        black_box(events.iter().count())
                    })
                },
            );
        }

        let poller = polling::Poller::new().expect("poller");
        for (i, f) in all.iter().enumerate() {
            // SAFETY: every descriptor outlives the poller (dropped below,
            // before `idle` and `ready`), and is deleted with it.
            unsafe {
                poller
                    .add_with_mode(
                        f.as_raw_fd(),
                        polling::Event::readable(i),
                        polling::PollMode::Level,
                    )
                    .expect("add");
            }
        }
        let mut pev = polling::Events::new();
        g.bench_with_input(BenchmarkId::new("polling(level)", k), &k, |b, _| {
            b.iter(|| {
                pev.clear();
                black_box(poller.wait(&mut pev, TIMEOUT).expect("wait"))
            })
        });
        for f in &all {
            poller.delete(f).expect("delete");
        }
        drop(poller);

        let mut mpoll = mio::Poll::new().expect("mio");
        for (i, f) in all.iter().enumerate() {
            mpoll
                .registry()
                .register(
                    &mut mio::unix::SourceFd(&f.as_raw_fd()),
                    mio::Token(i),
                    mio::Interest::READABLE,
                )
                .expect("register");
        }
        let ready_raw = ready.as_raw_fd();
        let mut mev = mio::Events::with_capacity(64);
        g.bench_with_input(BenchmarkId::new("mio(edge+rearm)", k), &k, |b, _| {
            b.iter(|| {
                mpoll
                    .registry()
                    .reregister(
                        &mut mio::unix::SourceFd(&ready_raw),
                        mio::Token(k),
                        mio::Interest::READABLE,
                    )
                    .expect("reregister");
                mpoll.poll(&mut mev, TIMEOUT).expect("poll");
                black_box(mev.iter().count())
            })
        });
    }
    g.finish();
}

fn registration(c: &mut Criterion) {
    let mut g = c.benchmark_group("register_modify_unregister");
    let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).expect("eventfd");
    for backend in [Backend::Select, Backend::Poll, Backend::Epoll] {
        let sel = Selector::with_backend(backend).expect("selector");
        let reg = sel.registry().clone();
        g.bench_function(format!("Selector({backend})"), |b| {
            b.iter(|| {
                reg.register(&fd, Token(1), Interest::READABLE)
                    .expect("register");
                reg.reregister(&fd, Token(1), Interest::BOTH)
                    .expect("reregister");
                reg.deregister(&fd).expect("deregister");
            })
        });
    }
    let mut poll = Poll::new();
    g.bench_function("Poll", |b| {
        b.iter(|| {
            poll.register(&fd, PollFlags::IN).expect("register");
            poll.modify(fd.as_raw_fd(), PollFlags::IN | PollFlags::OUT)
                .expect("modify");
            poll.unregister(fd.as_raw_fd()).expect("unregister");
        })
    });
    let ep = Epoll::new().expect("epoll");
    g.bench_function("Epoll", |b| {
        b.iter(|| {
            ep.add(&fd, 1, EpollFlags::IN).expect("add");
            ep.modify(&fd, 1, EpollFlags::IN | EpollFlags::OUT)
                .expect("modify");
            ep.delete(&fd).expect("delete");
        })
    });
    let mpoll = mio::Poll::new().expect("mio");
    let raw = fd.as_raw_fd();
    g.bench_function("mio", |b| {
        b.iter(|| {
            let r = mpoll.registry();
            r.register(
                &mut mio::unix::SourceFd(&raw),
                mio::Token(1),
                mio::Interest::READABLE,
            )
            .expect("register");
            r.reregister(
                &mut mio::unix::SourceFd(&raw),
                mio::Token(1),
                mio::Interest::READABLE | mio::Interest::WRITABLE,
            )
            .expect("reregister");
            r.deregister(&mut mio::unix::SourceFd(&raw))
                .expect("deregister");
        })
    });
    let poller = polling::Poller::new().expect("poller");
    g.bench_function("polling", |b| {
        b.iter(|| {
            // SAFETY: `fd` outlives the registration, deleted in this iteration.
            unsafe { poller.add(&fd, polling::Event::readable(1)).expect("add") };
            poller.modify(&fd, polling::Event::all(1)).expect("modify");
            poller.delete(&fd).expect("delete");
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = wait, registration
}
criterion_main!(benches);
