//! What is particular to each of the three Python-shaped APIs: the
//! `select()` function (answers with the caller's own values), the `Poll`
//! registry and the `Epoll` object. The behaviour they share with every
//! backend is in `conformance.rs`.

mod common;

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;

fn none() -> &'static [&'static UnixStream] {
    &[]
}

mod select_fn {
    use super::*;

    #[test]
    fn answers_with_the_callers_own_values_and_positions() {
        let pairs: Vec<_> = (0..3).map(|_| UnixStream::pair().unwrap()).collect();
        poke(&pairs[1].1);
        let readers: Vec<&UnixStream> = pairs.iter().map(|p| &p.0).collect();
        let writers = [&pairs[0].0, &pairs[2].0];
        let sel = ioready::select(&readers, &writers, none(), Some(SOON)).unwrap();
        assert!(!sel.is_empty());
        assert_eq!(sel.readable_positions().collect::<Vec<_>>(), [1]);
        let r: Vec<&&UnixStream> = sel.readable().collect();
        assert_eq!(r.len(), 1);
        // The very element of the caller's slice, not a copy or a number.
        assert!(std::ptr::eq(r[0], &readers[1]));
        assert!(std::ptr::eq(*r[0], &pairs[1].0));
        assert_eq!(sel.writable_positions().collect::<Vec<_>>(), [0, 1]);
        let w: Vec<_> = sel.writable().collect();
        assert!(std::ptr::eq(w[0], &writers[0]) && std::ptr::eq(w[1], &writers[1]));
        assert_eq!(sel.exceptional().count(), 0);
    }

    #[test]
    fn works_with_owned_values_of_any_asfd_type() {
        let (r, w) = pipe();
        poke(&w);
        let readers = vec![r]; // Vec<OwnedFd>
        let sel =
            ioready::select(&readers, &[] as &[OwnedFd], &[] as &[OwnedFd], Some(SOON)).unwrap();
        assert_eq!(sel.readable().count(), 1);
        assert_eq!(
            sel.readable().next().unwrap().as_raw_fd(),
            readers[0].as_raw_fd()
        );
    }

    #[test]
    fn ebadf_for_a_closed_descriptor() {
        let n = closed_fd_number();
        // SAFETY: the number is closed (that is the point of the test);
        // select(2) only looks it up and answers EBADF.
        let closed = unsafe { BorrowedFd::borrow_raw(n) };
        let (r, _w) = pipe();
        let ok = r.as_fd();
        for (readers, writers) in [(vec![ok, closed], vec![]), (vec![ok], vec![closed])] {
            let err = ioready::select(&readers, &writers, &[] as &[BorrowedFd<'_>], Some(SOON))
                .expect_err("a closed descriptor is an error");
            assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
        }
        let err = ioready::select_once(
            &[closed],
            &[] as &[BorrowedFd<'_>],
            &[] as &[BorrowedFd<'_>],
            None,
        )
        .expect_err("select_once too");
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }

    #[test]
    fn a_value_listed_twice_is_reported_at_both_positions() {
        let (a, b) = UnixStream::pair().unwrap();
        let (quiet, _q) = UnixStream::pair().unwrap();
        poke(&b);
        let readers = [&a, &quiet, &a];
        let sel = ioready::select(&readers, none(), none(), Some(SOON)).unwrap();
        assert_eq!(sel.readable_positions().collect::<Vec<_>>(), [0, 2]);
        let vals: Vec<_> = sel.readable().collect();
        assert_eq!(vals.len(), 2);
        assert!(vals.iter().all(|v| std::ptr::eq(**v, &a)));
    }

    #[test]
    fn zero_timeout_polls() {
        let (a, b) = UnixStream::pair().unwrap();
        let readers = [&a];
        let start = Instant::now();
        let sel = ioready::select(&readers, none(), none(), Some(Duration::ZERO)).unwrap();
        assert!(sel.is_empty());
        assert_eq!(sel.readable().count(), 0);
        assert!(start.elapsed() < SOON);
        poke(&b);
        let sel = ioready::select(&readers, none(), none(), Some(Duration::ZERO)).unwrap();
        assert_eq!(sel.readable_positions().collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn timeout_gives_three_empty_lists() {
        let (a, _b) = UnixStream::pair().unwrap();
        let (c, _d) = tcp_pair();
        // A connected socket with a full send buffer is not writable; an
        // idle one is, so use only readers and an exceptional set here.
        let t = Duration::from_millis(30);
        let start = Instant::now();
        let (rs, xs) = ([&a], [&c]);
        let sel = ioready::select(&rs, &[] as &[&UnixStream], &xs, Some(t)).unwrap();
        let el = start.elapsed();
        assert!(sel.is_empty());
        assert_eq!(
            sel.readable().count() + sel.writable().count() + sel.exceptional().count(),
            0
        );
        assert!(el >= t, "{el:?}");
    }

    #[test]
    fn empty_sets_sleep_for_the_timeout() {
        let t = Duration::from_millis(20);
        let start = Instant::now();
        let sel = ioready::select(none(), none(), none(), Some(t)).unwrap();
        assert!(sel.is_empty());
        assert!(start.elapsed() >= t);
    }

    #[test]
    fn urgent_data_is_exceptional() {
        let (client, server) = tcp_pair();
        let sock = socket2::SockRef::from(&client);
        sock.send_out_of_band(b"!").expect("MSG_OOB");
        let xs = [&server];
        let sel = ioready::select(
            &[] as &[&std::net::TcpStream],
            &[] as &[&std::net::TcpStream],
            &xs,
            Some(SOON),
        )
        .unwrap();
        assert_eq!(sel.exceptional_positions().collect::<Vec<_>>(), [0]);
    }
}

mod poll_obj {
    use super::*;
    use ioready::{Poll, PollFlags};

    fn collect(p: &mut Poll, t: Option<Duration>) -> Vec<(i32, PollFlags)> {
        p.poll(t).unwrap().collect()
    }

    #[test]
    fn registering_twice_replaces_the_mask() {
        let (a, b) = UnixStream::pair().unwrap();
        poke(&b);
        let mut p = Poll::new();
        p.register(&a, PollFlags::IN).unwrap();
        let ev = collect(&mut p, Some(SOON));
        assert_eq!(ev.len(), 1);
        assert!(ev[0].1.contains(PollFlags::IN) && !ev[0].1.contains(PollFlags::OUT));
        p.register(&a, PollFlags::OUT).unwrap();
        assert_eq!(p.len(), 1, "still one registration");
        let ev = collect(&mut p, Some(SOON));
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].0, a.as_raw_fd());
        assert!(ev[0].1.contains(PollFlags::OUT));
        assert!(
            !ev[0].1.contains(PollFlags::IN),
            "the old mask is gone: {:?}",
            ev[0].1
        );
    }

    #[test]
    fn modify_changes_the_mask_and_unknown_fds_are_not_found() {
        let (a, b) = UnixStream::pair().unwrap();
        let (other, _o) = UnixStream::pair().unwrap();
        let mut p = Poll::new();
        p.register(&a, PollFlags::IN).unwrap();
        assert!(collect(&mut p, Some(Duration::from_millis(10))).is_empty());
        p.modify(a.as_raw_fd(), PollFlags::IN | PollFlags::OUT)
            .unwrap();
        let ev = collect(&mut p, Some(SOON));
        assert_eq!(ev, [(a.as_raw_fd(), PollFlags::OUT)]);

        let e = p.modify(other.as_raw_fd(), PollFlags::IN).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = p.unregister(other.as_raw_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        p.unregister(a.as_raw_fd()).unwrap();
        let e = p.unregister(a.as_raw_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "unregister twice");
        assert!(p.is_empty());
        poke(&b);
        assert!(collect(&mut p, Some(Duration::ZERO)).is_empty());
    }

    #[test]
    fn results_come_in_registration_order() {
        let pairs: Vec<_> = (0..5).map(|_| UnixStream::pair().unwrap()).collect();
        let mut p = Poll::new();
        for i in [3usize, 0, 4, 1, 2] {
            p.register(&pairs[i].0, PollFlags::IN).unwrap();
            poke(&pairs[i].1);
        }
        p.unregister(pairs[4].0.as_raw_fd()).unwrap();
        let fds: Vec<i32> = collect(&mut p, Some(SOON))
            .into_iter()
            .map(|e| e.0)
            .collect();
        let want: Vec<i32> = [3usize, 0, 1, 2]
            .iter()
            .map(|&i| pairs[i].0.as_raw_fd())
            .collect();
        assert_eq!(fds, want);
    }

    #[test]
    fn a_registered_descriptor_that_is_closed_is_reported_nval() {
        let (r, _w) = pipe();
        let high = high_fd(&r);
        let n = high.as_raw_fd();
        let mut p = Poll::new();
        p.register(&high, PollFlags::IN).unwrap();
        p.register(&r, PollFlags::IN).unwrap();
        drop(high);
        // Reported on every poll until unregistered, not dropped silently.
        for _ in 0..2 {
            let ev = collect(&mut p, Some(SOON));
            assert_eq!(ev, [(n, PollFlags::NVAL)]);
        }
        p.unregister(n).unwrap();
        assert!(collect(&mut p, Some(Duration::ZERO)).is_empty());
    }

    #[test]
    fn negative_descriptors_are_invalid_input() {
        let mut p = Poll::new();
        for e in [
            p.register_raw(-1, PollFlags::IN).unwrap_err(),
            p.modify(-1, PollFlags::IN).unwrap_err(),
            p.unregister(-1).unwrap_err(),
        ] {
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        }
        assert!(p.is_empty());
    }

    #[test]
    fn hangup_and_priority_flags() {
        let (client, server) = tcp_pair();
        socket2::SockRef::from(&client)
            .send_out_of_band(b"!")
            .unwrap();
        let mut p = Poll::new();
        p.register(&server, PollFlags::PRI).unwrap();
        let ev = collect(&mut p, Some(SOON));
        assert!(ev[0].1.contains(PollFlags::PRI), "{ev:?}");

        let (a, b) = UnixStream::pair().unwrap();
        let mut p = Poll::new();
        // Hang-ups are reported even when not asked for.
        p.register(&a, PollFlags::empty()).unwrap();
        assert!(collect(&mut p, Some(Duration::from_millis(10))).is_empty());
        drop(b);
        let ev = collect(&mut p, Some(SOON));
        assert!(ev[0].1.contains(PollFlags::HUP), "{ev:?}");
    }
}

/// `Epoll` exists only where epoll does (Linux).
#[cfg(ioready_epoll)]
mod epoll_obj {
    use super::*;
    use ioready::{Epoll, EpollEvents, EpollFlags};
    use std::os::fd::{FromRawFd, IntoRawFd};

    fn wait(ep: &Epoll, t: Duration) -> Vec<(u64, EpollFlags)> {
        let mut ev = EpollEvents::with_capacity(64);
        ep.wait(&mut ev, Some(t)).unwrap();
        ev.iter().collect()
    }

    #[test]
    fn adding_twice_is_already_exists() {
        let ep = Epoll::new().unwrap();
        let (r, _w) = pipe();
        ep.add(&r, 1, EpollFlags::IN).unwrap();
        let e = ep.add(&r, 2, EpollFlags::IN).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
    }

    #[test]
    fn modify_and_delete_of_unknown_descriptors() {
        let ep = Epoll::new().unwrap();
        let (r, _w) = pipe();
        assert_eq!(
            ep.modify(&r, 1, EpollFlags::IN).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(ep.delete(&r).unwrap_err().kind(), io::ErrorKind::NotFound);
        ep.add(&r, 1, EpollFlags::IN).unwrap();
        ep.delete(&r).unwrap();
        assert_eq!(ep.delete(&r).unwrap_err().kind(), io::ErrorKind::NotFound);
        for e in [
            ep.add_raw(-1, 0, EpollFlags::IN).unwrap_err(),
            ep.modify_raw(-1, 0, EpollFlags::IN).unwrap_err(),
            ep.delete_raw(-1).unwrap_err(),
        ] {
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
        let closed = closed_fd_number();
        assert_eq!(
            ep.add_raw(closed, 0, EpollFlags::IN)
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EBADF)
        );
        assert_eq!(
            ep.delete_raw(closed).unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
    }

    #[test]
    fn regular_files_are_eperm() {
        let ep = Epoll::new().unwrap();
        let f = regular_file();
        let e = ep.add(&f, 1, EpollFlags::IN).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        let null = std::fs::File::open("/dev/null").unwrap();
        let e = ep.add(&null, 1, EpollFlags::IN).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
    }

    #[test]
    fn the_epoll_descriptor_is_close_on_exec() {
        let ep = Epoll::new().unwrap();
        let flags = rustix::io::fcntl_getfd(&ep).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }

    #[test]
    fn raw_descriptor_round_trip() {
        let ep = Epoll::new().unwrap();
        let (r, w) = pipe();
        ep.add(&r, 5, EpollFlags::IN).unwrap();
        let raw = ep.into_raw_fd();
        // SAFETY: `raw` was just released by `into_raw_fd`; we own it.
        let ep = Epoll::from_owned_fd(unsafe { OwnedFd::from_raw_fd(raw) });
        poke(&w);
        assert_eq!(wait(&ep, SOON), [(5, EpollFlags::IN)]);
    }

    #[test]
    fn level_reports_again_edge_does_not_until_new_data() {
        let (r, w) = pipe();
        let level = Epoll::new().unwrap();
        let edge = Epoll::new().unwrap();
        level.add(&r, 1, EpollFlags::IN).unwrap();
        edge.add(&r, 2, EpollFlags::IN | EpollFlags::ET).unwrap();
        poke(&w);
        let quiet = Duration::from_millis(20);
        assert_eq!(wait(&level, SOON), [(1, EpollFlags::IN)]);
        assert_eq!(wait(&edge, SOON), [(2, EpollFlags::IN)]);
        // The byte is still unread.
        assert_eq!(wait(&level, SOON), [(1, EpollFlags::IN)]);
        assert!(wait(&edge, quiet).is_empty(), "edge: no new data, no event");
        poke(&w);
        assert_eq!(wait(&edge, SOON), [(2, EpollFlags::IN)], "edge: new data");
        assert!(wait(&edge, quiet).is_empty());
        drain(&r);
        assert!(wait(&level, quiet).is_empty());
    }

    #[test]
    fn oneshot_disarms_and_modify_rearms() {
        let (r, w) = pipe();
        let ep = Epoll::new().unwrap();
        ep.add(&r, 1, EpollFlags::IN | EpollFlags::ONESHOT).unwrap();
        poke(&w);
        let quiet = Duration::from_millis(20);
        assert_eq!(wait(&ep, SOON), [(1, EpollFlags::IN)]);
        assert!(wait(&ep, quiet).is_empty(), "disarmed");
        poke(&w);
        assert!(wait(&ep, quiet).is_empty(), "still disarmed with new data");
        ep.modify(&r, 9, EpollFlags::IN | EpollFlags::ONESHOT)
            .unwrap();
        assert_eq!(
            wait(&ep, SOON),
            [(9, EpollFlags::IN)],
            "re-armed, new data value"
        );
        assert!(wait(&ep, quiet).is_empty());
    }

    #[test]
    fn exclusive_is_accepted_on_add_only() {
        let (r, w) = pipe();
        let ep = Epoll::new().unwrap();
        ep.add(&r, 3, EpollFlags::IN | EpollFlags::EXCLUSIVE)
            .unwrap();
        poke(&w);
        assert_eq!(wait(&ep, SOON), [(3, EpollFlags::IN)]);
        let e = ep
            .modify(&r, 3, EpollFlags::IN | EpollFlags::EXCLUSIVE)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    }

    #[test]
    fn a_small_buffer_gets_the_rest_on_the_next_wait() {
        let ep = Epoll::new().unwrap();
        let pipes: Vec<_> = (0..5).map(|_| pipe()).collect();
        for (i, (r, w)) in pipes.iter().enumerate() {
            ep.add(r, i as u64, EpollFlags::IN | EpollFlags::ONESHOT)
                .unwrap();
            poke(w);
        }
        let mut ev = EpollEvents::with_capacity(2);
        assert_eq!(ev.capacity(), 2);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let n = ep.wait(&mut ev, Some(SOON)).unwrap();
            assert!(n <= 2 && n == ev.len());
            seen.extend(ev.iter().map(|e| e.0));
        }
        seen.sort();
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        // Zero capacity is raised to one.
        assert_eq!(EpollEvents::with_capacity(0).capacity(), 1);
    }

    #[test]
    fn rdhup_when_the_peer_shuts_down_writing() {
        let (client, server) = tcp_pair();
        let ep = Epoll::new().unwrap();
        ep.add(&server, 1, EpollFlags::IN | EpollFlags::RDHUP)
            .unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let ev = wait(&ep, SOON);
        assert!(ev[0].1.contains(EpollFlags::RDHUP), "{ev:?}");
    }
}
