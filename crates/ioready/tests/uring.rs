//! `ioready::uring` (feature `uring`): ring setup and probing, a round trip
//! over a socketpair, timeouts in the enter call, the provided buffer ring
//! (recycling, `ENOBUFS` when it runs dry, incremental consumption), the
//! single-issuer binding, and refusal under a real seccomp filter (in a
//! child process).

#![cfg(all(feature = "uring", target_os = "linux"))]

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use ioready::uring::{cqueue, opcode, types, BufRing, Capability, Ring};
use ioready::{Backend, Selector};
// The refusal tests need the path-only dev-dependency `ioready-testkit`,
// which the published package does not carry: the build script sets
// `ioready_testkit` only where it is there (the workspace).
#[cfg(ioready_testkit)]
use ioready_testkit::seccomp;

const SOON: Duration = Duration::from_secs(5);

/// Waits until `n` completions are in hand (bounded by [`SOON`]).
fn reap(ring: &mut Ring, n: usize) -> Vec<cqueue::Entry> {
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < n && start.elapsed() < SOON {
        ring.submit_and_wait((n - got.len()) as u32, Some(SOON))
            .expect("submit_and_wait");
        got.extend(ring.completion());
    }
    assert_eq!(got.len(), n, "completions: {got:?}");
    got
}

#[test]
fn setup_probes_the_kernel() {
    let ring = Ring::new(32).expect("io_uring is enabled on the test machines");
    let f = ring.features();
    assert!(f.sq_entries >= 32 && f.cq_entries >= 64, "{f:?}");
    // Linux 6.18: every probed capability is there.
    assert!(f.single_issuer && f.defer_taskrun && f.submit_all, "{f:?}");
    assert!(f.nodrop && f.fast_poll && f.ring_fd_registration, "{f:?}");
    for cap in [
        Capability::PollMultishot,
        Capability::AcceptMultishot,
        Capability::RecvMultishot,
        Capability::BufRing,
        Capability::CancelByFd,
        Capability::Opcode(opcode::PollAdd::CODE),
        Capability::Opcode(opcode::AsyncCancel::CODE),
    ] {
        assert!(f.has(cap), "{cap:?}");
    }
    assert!(f.supports_opcode(opcode::Send::CODE));
    // An opcode number no kernel has.
    assert!(!f.has(Capability::Opcode(250)));
    let err = Ring::builder()
        .require(Capability::Opcode(250))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    assert!(
        err.to_string().contains("lacks io_uring opcode 250"),
        "{err}"
    );
}

#[test]
fn bad_sizes_are_invalid_input() {
    for entries in [0, 40_000] {
        let e = Ring::new(entries).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{entries}: {e}");
    }
    let e = Ring::builder()
        .entries(64)
        .cq_entries(8)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    let ring = Ring::new(8).unwrap();
    for (n, len) in [(0, 64), (3, 64), (8, 0)] {
        let e = BufRing::new(&ring, 0, n, len).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{n} x {len}: {e}");
    }
}

#[test]
fn round_trip_over_a_socketpair() {
    let mut ring = Ring::new(8).unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let msg = b"ping over io_uring";
    let mut buf = [0u8; 64];
    let send = opcode::Send::new(types::Fd(a.as_raw_fd()), msg.as_ptr(), msg.len() as u32)
        .build()
        .user_data(1);
    let recv = opcode::Recv::new(types::Fd(b.as_raw_fd()), buf.as_mut_ptr(), 64)
        .build()
        .user_data(2);
    // SAFETY: `msg`, `buf`, `a` and `b` outlive both requests, which are
    // reaped below before any of them is dropped.
    unsafe {
        ring.push(&recv).unwrap();
        ring.push(&send).unwrap();
    }
    let mut cqes = reap(&mut ring, 2);
    cqes.sort_by_key(|c| c.user_data());
    assert_eq!(cqes[0].result(), msg.len() as i32);
    assert_eq!(cqes[1].result(), msg.len() as i32);
    assert_eq!(&buf[..msg.len()], msg);
    // The first enter registered the ring descriptor (6.18 has it).
    assert!(ring.ring_fd_registered());
}

#[test]
fn the_timeout_rides_in_the_enter_and_is_never_early() {
    let mut ring = Ring::new(8).unwrap();
    for want in [Duration::from_micros(300), Duration::from_millis(30)] {
        let start = Instant::now();
        assert_eq!(ring.submit_and_wait(1, Some(want)).unwrap(), 0);
        let took = start.elapsed();
        assert!(took >= want, "returned after {took:?}, asked {want:?}");
        assert!(ring.completion().next().is_none());
    }
    // Zero: a poll.
    let start = Instant::now();
    ring.submit_and_wait(1, Some(Duration::ZERO)).unwrap();
    assert!(start.elapsed() < SOON);
}

#[test]
fn a_huge_timeout_does_not_wrap() {
    let mut ring = Ring::new(8).unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut buf = [0u8; 8];
    let recv = opcode::Recv::new(types::Fd(a.as_raw_fd()), buf.as_mut_ptr(), 8)
        .build()
        .user_data(9);
    // SAFETY: `buf` and `a` outlive the request, reaped below.
    unsafe { ring.push(&recv).unwrap() };
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        b.write_all(b"late").unwrap();
        b
    });
    ring.submit_and_wait(1, Some(Duration::MAX)).unwrap();
    let cqes: Vec<_> = ring.completion().collect();
    let _b = writer.join().unwrap();
    assert_eq!(cqes.len(), 1, "{cqes:?}");
    assert_eq!(cqes[0].result(), 4);
}

#[test]
fn buffer_ring_recycles_and_runs_dry_with_enobufs() {
    let mut ring = Ring::new(16).unwrap();
    let mut bufs = BufRing::new(&ring, 3, 4, 64).unwrap();
    assert_eq!((bufs.bgid(), bufs.entries(), bufs.buf_len()), (3, 4, 64));
    assert_eq!(bufs.handed_out(), 0);
    // The same group twice on one ring.
    let e = BufRing::new(&ring, 3, 4, 64).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");

    let (a, mut b) = UnixStream::pair().unwrap();
    let arm = |ring: &mut Ring| {
        let recv = opcode::RecvMulti::new(types::Fd(a.as_raw_fd()), 3)
            .build()
            .user_data(5);
        // SAFETY: `a` and `bufs` outlive the request: it ends (ENOBUFS, or
        // the ring's drop at the end of the test, before `bufs` and `a`).
        unsafe { ring.push(&recv).unwrap() };
    };
    arm(&mut ring);
    // Ten messages through four buffers: each is recycled after reading.
    for i in 0..10u8 {
        let msg = [b'a' + i; 10];
        b.write_all(&msg).unwrap();
        let cqe = reap(&mut ring, 1).remove(0);
        assert_eq!(cqe.result(), 10, "message {i}");
        assert!(cqueue::more(cqe.flags()), "message {i}: still armed");
        let bid = bufs.claim(cqe.flags()).unwrap().expect("a buffer");
        assert_eq!(bufs.buf(bid, 10).unwrap(), &msg);
        assert_eq!(bufs.handed_out(), 1);
        bufs.recycle(bid).unwrap();
        // Given back: no longer readable, and not twice.
        assert!(bufs.buf(bid, 10).is_none());
        let e = bufs.recycle(bid).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    }
    // Keep every buffer: after four messages the ring is dry, and the fifth
    // ends the multishot receive with ENOBUFS (no F_MORE), losing nothing.
    let mut held = Vec::new();
    for i in 0..4u8 {
        b.write_all(&[i; 3]).unwrap();
        let cqe = reap(&mut ring, 1).remove(0);
        assert_eq!(cqe.result(), 3);
        held.push(bufs.claim(cqe.flags()).unwrap().unwrap());
    }
    assert_eq!(bufs.handed_out(), 4);
    b.write_all(b"fifth").unwrap();
    let cqe = reap(&mut ring, 1).remove(0);
    assert_eq!(cqe.result(), -libc::ENOBUFS);
    assert!(!cqueue::more(cqe.flags()), "ENOBUFS ends the request");
    assert_eq!(bufs.claim(cqe.flags()).unwrap(), None);
    for bid in held {
        bufs.recycle(bid).unwrap();
    }
    arm(&mut ring);
    let cqe = reap(&mut ring, 1).remove(0);
    assert_eq!(cqe.result(), 5, "the fifth message, still in the socket");
    let bid = bufs.claim(cqe.flags()).unwrap().unwrap();
    assert_eq!(bufs.buf(bid, 5).unwrap(), b"fifth");
    // A completion naming a buffer the program already holds is refused.
    let e = bufs.claim(cqe.flags()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    drop(ring); // cancels the receive before `bufs` and `a` go
}

#[test]
fn a_buffer_given_back_unpublished_reaches_the_kernel_only_when_published() {
    let mut ring = Ring::new(16).unwrap();
    // One buffer, so whether the kernel can pick it shows as data or
    // ENOBUFS.
    let mut bufs = BufRing::new(&ring, 4, 1, 64).unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let arm = |ring: &mut Ring| {
        let recv = opcode::RecvMulti::new(types::Fd(a.as_raw_fd()), 4)
            .build()
            .user_data(6);
        // SAFETY: `a` and `bufs` outlive the request: it ends (ENOBUFS, or
        // the ring's drop at the end of the test, before `bufs` and `a`).
        unsafe { ring.push(&recv).unwrap() };
    };
    arm(&mut ring);
    b.write_all(b"one").unwrap();
    let cqe = reap(&mut ring, 1).remove(0);
    assert_eq!(cqe.result(), 3);
    let bid = bufs.claim(cqe.flags()).unwrap().unwrap();
    // Given back, not published: the program no longer holds it (not
    // readable, not twice), but the kernel does not see it yet.
    bufs.recycle_unpublished(bid).unwrap();
    assert!(bufs.buf(bid, 3).is_none());
    let e = bufs.recycle_unpublished(bid).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    assert_eq!(bufs.handed_out(), 0);
    b.write_all(b"two").unwrap();
    let cqe = reap(&mut ring, 1).remove(0);
    assert_eq!(cqe.result(), -libc::ENOBUFS, "the kernel saw no buffer");
    // Published: the next receive finds it, and the bytes waited in the
    // socket.
    bufs.publish();
    arm(&mut ring);
    let cqe = reap(&mut ring, 1).remove(0);
    assert_eq!(cqe.result(), 3);
    let bid = bufs.claim(cqe.flags()).unwrap().unwrap();
    assert_eq!(bufs.buf(bid, 3).unwrap(), b"two");
    drop(ring); // cancels the receive before `bufs` and `a` go
}

#[test]
fn an_incremental_buffer_ring_fills_a_buffer_with_several_receives() {
    let mut ring = Ring::new(16).unwrap();
    // Linux 6.18 has IOU_PBUF_RING_INC (6.12).
    let mut bufs = BufRing::incremental(&ring, 7, 2, 64).unwrap();
    assert!(bufs.is_incremental());
    let (a, mut b) = UnixStream::pair().unwrap();
    let recv = opcode::RecvMulti::new(types::Fd(a.as_raw_fd()), 7)
        .build()
        .user_data(8);
    // SAFETY: `a` and `bufs` outlive the request: the ring's drop at the
    // end of the test ends it, before `bufs` and `a` go.
    unsafe { ring.push(&recv).unwrap() };

    // Two receives, one buffer: the second piece starts where the first
    // ended, and the kernel keeps the buffer (BUF_MORE).
    b.write_all(b"abc").unwrap();
    let first = reap(&mut ring, 1).remove(0);
    assert_eq!(first.result(), 3);
    assert!(cqueue::buffer_more(first.flags()), "the kernel keeps it");
    // The length is needed to know where the next piece starts.
    let e = bufs.claim(first.flags()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    let (bid, start, data) = bufs.claim_buf(first.flags(), 3).unwrap().unwrap();
    assert_eq!((start, data), (0, &b"abc"[..]));
    b.write_all(b"defgh").unwrap();
    let second = reap(&mut ring, 1).remove(0);
    assert_eq!(second.result(), 5);
    let (bid2, start, data) = bufs.claim_buf(second.flags(), 5).unwrap().unwrap();
    assert_eq!((bid2, start, data), (bid, 3, &b"defgh"[..]));
    assert_eq!(
        bufs.buf(bid, 64).unwrap(),
        b"abcdefgh",
        "only what is filled"
    );
    assert_eq!(bufs.buf_at(bid, 3, 5).unwrap(), b"defgh");
    assert_eq!(bufs.handed_out(), 0, "still the kernel's");
    // Each piece is recycled on its own; the buffer stays the kernel's.
    bufs.recycle_unpublished(bid).unwrap();
    assert!(bufs.buf(bid, 3).is_some(), "one piece is still held");
    bufs.recycle_unpublished(bid).unwrap();
    assert!(bufs.buf(bid, 3).is_none());
    let e = bufs.recycle_unpublished(bid).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");

    // The rest of the buffer: the kernel is done with it (no BUF_MORE), so
    // the program holds it until its last piece is recycled.
    b.write_all(&[b'x'; 56]).unwrap();
    let last = reap(&mut ring, 1).remove(0);
    assert_eq!(last.result(), 56);
    assert!(!cqueue::buffer_more(last.flags()), "the buffer is full");
    let (bid3, start, data) = bufs.claim_buf(last.flags(), 56).unwrap().unwrap();
    assert_eq!((bid3, start, data), (bid, 8, &[b'x'; 56][..]));
    assert_eq!(bufs.handed_out(), 1);
    // The next message goes to the other buffer, from its start.
    b.write_all(b"next").unwrap();
    let next = reap(&mut ring, 1).remove(0);
    let (other, start, data) = bufs.claim_buf(next.flags(), 4).unwrap().unwrap();
    assert_ne!(other, bid);
    assert_eq!((start, data), (0, &b"next"[..]));
    bufs.recycle(bid).unwrap();
    assert_eq!(bufs.handed_out(), 0, "back in the ring");
    drop(ring); // cancels the receive before `bufs` and `a` go
}

#[test]
fn single_issuer_binds_on_first_submit_not_on_setup() {
    // Built here, run on another thread: allowed (bound at its first enter).
    let ring = Ring::new(8).unwrap();
    assert!(ring.features().single_issuer);
    let mut ring = std::thread::spawn(move || {
        let mut ring = ring;
        ring.submit_and_wait(0, None).unwrap();
        ring
    })
    .join()
    .unwrap();
    // Now bound to that (finished) thread: this one may not submit.
    let e = ring.submit_and_wait(0, None).unwrap_err();
    assert!(e.to_string().contains("single-issuer"), "{e}");
    // Without single issuer, any thread may (one at a time).
    let ring = Ring::builder()
        .single_issuer(false)
        .entries(8)
        .build()
        .unwrap();
    assert!(!ring.features().single_issuer && !ring.features().defer_taskrun);
    let mut ring = std::thread::spawn(move || {
        let mut ring = ring;
        ring.submit_and_wait(0, None).unwrap();
        ring
    })
    .join()
    .unwrap();
    ring.submit_and_wait(0, Some(Duration::ZERO)).unwrap();
}

/// The refusal tests' child: runs only under the filter (see below).
#[cfg(ioready_testkit)]
#[test]
#[ignore = "run in a child process under a seccomp filter by refused_under_seccomp_*"]
fn refusal_child() {
    assert!(
        seccomp::in_seccomp_child(),
        "run by refused_under_seccomp_*"
    );
    let e = Ring::new(8).unwrap_err();
    println!("REFUSED kind={:?} msg={e}", e.kind());
    // The Selector backend fails the same way, named and by environment,
    // never falling back to another backend.
    let s = Selector::with_backend(Backend::Uring).unwrap_err();
    assert_eq!(s.kind(), e.kind());
    assert_eq!(s.to_string(), e.to_string());
    std::env::set_var("IOREADY_BACKEND", "uring");
    let s = Selector::new().unwrap_err();
    assert_eq!(s.to_string(), e.to_string());
    println!("SELECTOR REFUSED TOO");
    // The other backends are unaffected.
    for b in [Backend::Epoll, Backend::Poll, Backend::Select] {
        Selector::with_backend(b).unwrap();
    }
}

#[cfg(ioready_testkit)]
fn refusal(errno: i32) -> String {
    let out = seccomp::rerun_test_denying_io_uring("refusal_child", errno).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("SELECTOR REFUSED TOO"), "{stdout}");
    stdout
        .lines()
        .find_map(|l| l.find("REFUSED").map(|i| l[i..].to_string()))
        .unwrap_or_else(|| panic!("no REFUSED line in:\n{stdout}"))
}

#[cfg(ioready_testkit)]
#[test]
fn refused_under_seccomp_eperm_names_the_reason() {
    // As Docker's default profile: EPERM, with kernel.io_uring_disabled 0.
    assert_eq!(ioready::uring::io_uring_disabled(), Some(0));
    let line = refusal(libc::EPERM);
    assert!(line.contains("kind=PermissionDenied"), "{line}");
    assert!(line.contains("seccomp"), "{line}");
    assert!(line.contains("os error 1"), "{line}");
}

#[cfg(ioready_testkit)]
#[test]
fn refused_under_seccomp_enosys_names_the_reason() {
    let line = refusal(libc::ENOSYS);
    assert!(line.contains("kind=Unsupported"), "{line}");
    assert!(line.contains("ENOSYS"), "{line}");
}

/// More completions at once than the selector's completion queue holds
/// (4,096): the kernel keeps the rest in its overflow list (nothing is
/// lost) and ends the multishot polls it could not post to; the backend
/// flushes the list and re-arms them.
#[test]
fn selector_survives_completion_queue_overflow() {
    use ioready::{Events, Interest, Token, Trigger, Waker};
    let mut s = Selector::with_backend(Backend::Uring).unwrap();
    // A waker woken 10,000 times before the wait: one event, and it still
    // works afterwards (its multishot poll was ended by the overflow).
    let waker = Waker::new(s.registry(), Token(1)).unwrap();
    let mut events = Events::with_capacity(8192);
    s.select(&mut events, Some(Duration::ZERO)).unwrap(); // arms it
    for _ in 0..10_000 {
        waker.wake().unwrap();
    }
    s.select(&mut events, Some(SOON)).unwrap();
    assert_eq!(
        events.iter().map(|e| e.token()).collect::<Vec<_>>(),
        [Token(1)]
    );
    s.select(&mut events, Some(Duration::from_millis(50)))
        .unwrap();
    assert!(events.is_empty(), "{events:?}");
    waker.wake().unwrap();
    s.select(&mut events, Some(SOON)).unwrap();
    assert_eq!(
        events.iter().map(|e| e.token()).collect::<Vec<_>>(),
        [Token(1)]
    );

    // 5,000 edge-triggered pipes, all ready at once: every one reported, and
    // each still reports its next arrival.
    let _ = ioready_testkit_raise_nofile();
    let pipes: Vec<_> = (0..5_000)
        .map(|_| {
            rustix::pipe::pipe_with(
                rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
            )
            .unwrap()
        })
        .collect();
    for (i, (r, w)) in pipes.iter().enumerate() {
        rustix::io::write(w, b"x").unwrap();
        s.registry()
            .register_with(r, Token(10 + i), Interest::READABLE, Trigger::Edge)
            .unwrap();
    }
    let mut seen = std::collections::BTreeSet::new();
    let start = Instant::now();
    while seen.len() < pipes.len() && start.elapsed() < SOON {
        s.select(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        seen.extend(events.iter().map(|e| e.token().0));
    }
    assert_eq!(seen.len(), pipes.len(), "every ready pipe reported");
    println!("5,000 edge pipes reported in {:?}", start.elapsed());
    for i in [0, 2_500, 4_999] {
        rustix::io::write(&pipes[i].1, b"y").unwrap();
    }
    let mut again = std::collections::BTreeSet::new();
    let start = Instant::now();
    while again.len() < 3 && start.elapsed() < SOON {
        s.select(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        again.extend(
            events
                .iter()
                .map(|e| e.token().0)
                .filter(|t| [10, 2_510, 5_009].contains(t)),
        );
    }
    assert_eq!(again.len(), 3, "each pipe still reports its next arrival");
}

/// Raises the soft descriptor limit to the hard one (the pipes above).
fn ioready_testkit_raise_nofile() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.maximum.is_some() && lim.current < lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}
