//! The io_uring `Selector` backend beside epoll, in one run: what a
//! registration change costs once the kernel has applied it, what a oneshot
//! re-arm after every event costs, and one level-triggered wait with K idle
//! descriptors and one ready.
//!
//! On epoll every register, reregister and deregister is its own
//! `epoll_ctl`; on io_uring they are queued and ride in the next wait's one
//! `io_uring_enter`. So the fair unit is "the changes, then one wait that
//! applies them": a change that no wait ever submits costs nothing and
//! measures nothing.
//!
//! `cargo bench -p ioready-bench --features uring --bench uring`

// `criterion_group!` defines a public function it does not document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ioready::{Backend, Events, Interest, Selector, Token, Trigger};
use rustix::event::{eventfd, EventfdFlags};

/// Long enough never to expire: a ready descriptor ends every wait.
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(5));
const BACKENDS: [Backend; 2] = [Backend::Epoll, Backend::Uring];

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

fn efd(initial: u32) -> OwnedFd {
    eventfd(initial, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).expect("eventfd")
}

/// register + reregister + deregister of an idle descriptor, then a wait
/// with a zero timeout. On io_uring the three changes meet in the queue
/// before any wait submits them and cancel out in user space (the queued
/// request is taken back): the kernel sees nothing, and the row measures
/// that shortcut. `each_change_applied` below is the row where it cannot.
fn changes_then_wait(c: &mut Criterion) {
    let mut g = c.benchmark_group("register_modify_unregister_then_wait");
    let fd = efd(0);
    for backend in BACKENDS {
        let mut sel = Selector::with_backend(backend).expect("selector");
        let reg = sel.registry().clone();
        let mut events = Events::with_capacity(16);
        g.bench_function(format!("Selector({backend})"), |b| {
            b.iter(|| {
                reg.register(&fd, Token(1), Interest::READABLE)
                    .expect("register");
                reg.reregister(&fd, Token(1), Interest::BOTH)
                    .expect("reregister");
                reg.deregister(&fd).expect("deregister");
                sel.select(&mut events, Some(Duration::ZERO))
                    .expect("select");
                black_box(events.len())
            })
        });
    }
    // The peer that re-arms by default (oneshot): add, modify, delete, wait.
    let poller = polling::Poller::new().expect("poller");
    let mut pev = polling::Events::new();
    g.bench_function("polling", |b| {
        b.iter(|| {
            // SAFETY: `fd` outlives the registration, deleted in this iteration.
            unsafe { poller.add(&fd, polling::Event::readable(1)).expect("add") };
            poller.modify(&fd, polling::Event::all(1)).expect("modify");
            poller.delete(&fd).expect("delete");
            pev.clear();
            black_box(poller.wait(&mut pev, Some(Duration::ZERO)).expect("wait"))
        })
    });
    g.finish();
}

/// The same three changes, each applied by a wait of its own (zero
/// timeout): on io_uring, each rides in that wait's enter; nothing cancels
/// out in user space as it can above.
fn each_change_applied(c: &mut Criterion) {
    let mut g = c.benchmark_group("register_wait_modify_wait_unregister_wait");
    let fd = efd(0);
    for backend in BACKENDS {
        let mut sel = Selector::with_backend(backend).expect("selector");
        let reg = sel.registry().clone();
        let mut events = Events::with_capacity(16);
        let zero = Some(Duration::ZERO);
        g.bench_function(format!("Selector({backend})"), |b| {
            b.iter(|| {
                reg.register(&fd, Token(1), Interest::READABLE)
                    .expect("register");
                sel.select(&mut events, zero).expect("select");
                reg.reregister(&fd, Token(1), Interest::BOTH)
                    .expect("reregister");
                sel.select(&mut events, zero).expect("select");
                black_box(events.len());
                reg.deregister(&fd).expect("deregister");
                sel.select(&mut events, zero).expect("select");
            })
        });
    }
    g.finish();
}

/// A descriptor that stays ready (an eventfd holding 1, never read),
/// registered oneshot: each iteration is one wait that reports it and the
/// reregister that re-arms it (Python's `select.epoll` seed pattern).
fn oneshot_rearm(c: &mut Criterion) {
    let mut g = c.benchmark_group("oneshot_wait_then_rearm");
    let fd = efd(1);
    for backend in BACKENDS {
        let mut sel = Selector::with_backend(backend).expect("selector");
        let reg = sel.registry().clone();
        reg.register_with(&fd, Token(1), Interest::READABLE, Trigger::Oneshot)
            .expect("register");
        let mut events = Events::with_capacity(16);
        g.bench_function(format!("Selector({backend})"), |b| {
            b.iter(|| {
                sel.select(&mut events, TIMEOUT).expect("select");
                assert_eq!(events.len(), 1);
                reg.reregister_with(&fd, Token(1), Interest::READABLE, Trigger::Oneshot)
                    .expect("reregister");
            })
        });
        reg.deregister(&fd).expect("deregister");
    }
    let poller = polling::Poller::new().expect("poller");
    // SAFETY: `fd` outlives the registration, deleted below.
    unsafe { poller.add(&fd, polling::Event::readable(1)).expect("add") };
    let mut pev = polling::Events::new();
    g.bench_function("polling(oneshot)", |b| {
        b.iter(|| {
            pev.clear();
            poller.wait(&mut pev, TIMEOUT).expect("wait");
            poller
                .modify(&fd, polling::Event::readable(1))
                .expect("modify");
            black_box(pev.len())
        })
    });
    poller.delete(&fd).expect("delete");
    g.finish();
}

/// One level-triggered wait with K idle descriptors and one ready one (the
/// `wait_one_ready` group of `benches/wait.rs`, for these two backends).
fn wait_one_ready(c: &mut Criterion) {
    let _ = ioready_server::raise_fd_limit();
    let mut g = c.benchmark_group("wait_one_ready_uring");
    for k in [1usize, 100, 1_000, 10_000] {
        let idle: Vec<OwnedFd> = (0..k).map(|_| efd(0)).collect();
        let ready = efd(1);
        for backend in BACKENDS {
            let mut sel = Selector::with_backend(backend).expect("selector");
            for (i, f) in idle.iter().enumerate() {
                sel.registry()
                    .register(f, Token(i), Interest::READABLE)
                    .expect("register");
            }
            sel.registry()
                .register(ready.as_fd(), Token(k), Interest::READABLE)
                .expect("register");
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
        black_box(ready.as_raw_fd());
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = changes_then_wait, each_change_applied, oneshot_rearm, wait_one_ready
}
criterion_main!(benches);
