//! Timers, signals and child processes as events, on every backend, with
//! real signals (from another thread, from another process) and real
//! children.
//!
//! Signals and descriptor counts are process-wide, so every test of this
//! binary holds [`serial`]: a signal sent by one test is never seen by
//! another, and `/proc/self/fd` changes only under the test that looks.

// pidfd, real-time signals and /proc/self/fd: Linux.
#![cfg(target_os = "linux")]

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::*;
use ioready::{Backend, Events, Process, Selector, Signal, Signals, Timer, Token};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The tokens of one wait.
fn wait_tokens(s: &mut Selector, events: &mut Events, timeout: Duration) -> BTreeSet<usize> {
    s.select(events, Some(timeout)).expect("select");
    events.iter().map(|e| e.token().0).collect()
}

/// Waits until `token` is reported (bounded by [`SOON`]); returns the
/// tokens of that wait.
fn wait_for(s: &mut Selector, events: &mut Events, token: usize) -> BTreeSet<usize> {
    let start = Instant::now();
    loop {
        let got = wait_tokens(s, events, SOON);
        if got.contains(&token) {
            return got;
        }
        assert!(
            start.elapsed() < SOON,
            "{}: token {token} not reported within {SOON:?}",
            s.backend()
        );
    }
}

/// Sends `signal` to this process (process-directed: any thread may take it).
fn kill_self(signal: Signal) {
    // SAFETY: kill has no memory preconditions.
    let r = unsafe { libc::kill(libc::getpid(), signal.raw()) };
    assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Waits until no instance of `signal` is pending for the process, so that
/// none arrives after its owner is gone (a standard signal's default action
/// would end the test binary).
fn settle(signal: Signal) {
    let start = Instant::now();
    loop {
        // SAFETY: sigpending fills the zeroed set we pass.
        let pending = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigpending(&mut set);
            libc::sigismember(&set, signal.raw()) == 1
        };
        if !pending || start.elapsed() > SOON {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The handler address of `signal`'s current disposition.
fn disposition(signal: Signal) -> libc::sighandler_t {
    // SAFETY: a null new action only queries; `old` is written by the call.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signal.raw(), std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

/// The open descriptor numbers of this process.
fn open_fds() -> BTreeSet<i32> {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn sh(script: &str) -> std::process::Child {
    Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sh")
}

mod scenarios {
    use super::*;

    const TIMER: usize = 1;
    const SIGNALS: usize = 2;
    const CHILD: usize = 3;
    const SOCKET: usize = 4;

    pub fn timer_never_early(mut s: Selector) {
        let timer = Timer::new(s.registry(), Token(TIMER)).unwrap();
        let mut events = Events::with_capacity(8);
        let mut worst = Duration::ZERO;
        for i in 0..1_000u32 {
            // 50 µs .. 950 µs.
            let d = Duration::from_micros(50 + u64::from(i % 10) * 100);
            let start = Instant::now();
            timer.set_once(d).unwrap();
            wait_for(&mut s, &mut events, TIMER);
            let elapsed = start.elapsed();
            assert!(
                elapsed >= d,
                "{}: wait {i} early: {elapsed:?} < {d:?}",
                s.backend()
            );
            worst = worst.max(elapsed - d);
            assert_eq!(timer.acknowledge().unwrap(), 1);
        }
        println!(
            "{}: 1,000 timers, 0 early, worst overshoot {worst:?}",
            s.backend()
        );
    }

    pub fn timer_level_rearm_cancel(mut s: Selector) {
        let timer = Timer::new(s.registry(), Token(TIMER)).unwrap();
        let mut ev = Events::with_capacity(8);
        let zero = Duration::ZERO;
        // A disarmed timer reports nothing.
        assert!(wait_tokens(&mut s, &mut ev, Duration::from_millis(20)).is_empty());
        // Level-triggered until acknowledged.
        timer.set_once(Duration::ZERO).unwrap();
        wait_for(&mut s, &mut ev, TIMER);
        assert!(wait_tokens(&mut s, &mut ev, zero).contains(&TIMER));
        assert!(wait_tokens(&mut s, &mut ev, zero).contains(&TIMER));
        assert_eq!(timer.acknowledge().unwrap(), 1);
        assert!(wait_tokens(&mut s, &mut ev, zero).is_empty());
        assert_eq!(timer.acknowledge().unwrap(), 0, "nothing new");
        // Cancelled before expiry: never reported.
        timer.set_once(Duration::from_millis(20)).unwrap();
        timer.cancel().unwrap();
        assert!(wait_tokens(&mut s, &mut ev, Duration::from_millis(60)).is_empty());
        // Expired but unacknowledged, then re-armed: the old expiry is gone
        // and the new one comes no sooner than asked.
        timer.set_once(Duration::ZERO).unwrap();
        wait_for(&mut s, &mut ev, TIMER);
        let start = Instant::now();
        timer.set_once(Duration::from_millis(30)).unwrap();
        assert!(!wait_tokens(&mut s, &mut ev, zero).contains(&TIMER));
        wait_for(&mut s, &mut ev, TIMER);
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!(timer.acknowledge().unwrap(), 1);
        // Cancel also forgets an unacknowledged expiry.
        timer.set_once(Duration::ZERO).unwrap();
        wait_for(&mut s, &mut ev, TIMER);
        timer.cancel().unwrap();
        assert!(wait_tokens(&mut s, &mut ev, zero).is_empty());
        // A zero period is refused.
        let e = timer.set_periodic(zero, zero).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }

    pub fn periodic_through_a_stall(mut s: Selector) {
        let period = Duration::from_millis(10);
        let timer = Timer::new(s.registry(), Token(TIMER)).unwrap();
        let mut ev = Events::with_capacity(8);
        let start = Instant::now();
        timer.set_periodic(period, period).unwrap();
        // Periods elapsed by a time measured from `start` (which is a hair
        // before the timer was armed, hence the small allowance below).
        let periods = |t: Duration| (t.as_nanos() / period.as_nanos()) as u64;
        let allowance = Duration::from_millis(1);
        let mut total = 0;
        let backend = s.backend();
        let check = |total: u64, before: Duration, after: Duration| {
            assert!(
                periods(before.saturating_sub(allowance)) <= total && total <= periods(after),
                "{backend}: {total} expirations between {before:?} and {after:?} (period {period:?})"
            );
        };
        // A normal tick.
        wait_for(&mut s, &mut ev, TIMER);
        let before = start.elapsed();
        total += timer.acknowledge().unwrap();
        check(total, before, start.elapsed());
        assert!(total >= 1);
        // A stall of five and a half periods: one event, the count of every
        // period that elapsed (no drift: the total is the elapsed periods).
        std::thread::sleep(period * 11 / 2);
        let got = wait_tokens(&mut s, &mut ev, Duration::ZERO);
        assert!(got.contains(&TIMER));
        let before = start.elapsed();
        let n = timer.acknowledge().unwrap();
        let after = start.elapsed();
        total += n;
        check(total, before, after);
        assert!(
            n >= 5,
            "{}: only {n} periods after a 55 ms stall",
            s.backend()
        );
        // No burst: right after acknowledging, no event unless the next
        // period has really begun.
        let got = wait_tokens(&mut s, &mut ev, Duration::ZERO);
        if got.contains(&TIMER) {
            assert!(start.elapsed() >= period * (total as u32 + 1));
        }
        // And the schedule continues: a few more ticks, still no drift.
        for _ in 0..3 {
            wait_for(&mut s, &mut ev, TIMER);
            let before = start.elapsed();
            total += timer.acknowledge().unwrap();
            check(total, before, start.elapsed());
        }
    }

    pub fn signal_from_another_thread(mut s: Selector) {
        let signals = Signals::new(s.registry(), Token(SIGNALS), &[Signal::USR1]).unwrap();
        let mut ev = Events::with_capacity(8);
        assert!(wait_tokens(&mut s, &mut ev, Duration::ZERO).is_empty());
        let t = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            kill_self(Signal::USR1);
        });
        let start = Instant::now();
        wait_for(&mut s, &mut ev, SIGNALS);
        assert!(start.elapsed() >= Duration::from_millis(15));
        t.join().unwrap();
        // Level-triggered until received.
        assert!(wait_tokens(&mut s, &mut ev, Duration::ZERO).contains(&SIGNALS));
        let got = signals.receive();
        assert_eq!(got.count(Signal::USR1), 1, "{got:?}");
        assert_eq!(got.iter().collect::<Vec<_>>(), vec![(Signal::USR1, 1)]);
        assert!(wait_tokens(&mut s, &mut ev, Duration::ZERO).is_empty());
        assert!(signals.receive().is_empty());
        // A burst of real-time signals from a thread: queued, each counted.
        let rt = Signal::realtime(1).unwrap();
        let signals_rt = Signals::new(s.registry(), Token(SIGNALS + 10), &[rt]).unwrap();
        let t = std::thread::spawn(move || {
            for _ in 0..50 {
                kill_self(rt);
            }
        });
        t.join().unwrap();
        settle(rt);
        let mut count = 0;
        let start = Instant::now();
        while count < 50 && start.elapsed() < SOON {
            wait_for(&mut s, &mut ev, SIGNALS + 10);
            count += signals_rt.receive().count(rt);
        }
        assert_eq!(count, 50, "{}: real-time signals are counted", s.backend());
    }

    pub fn signals_from_another_process(mut s: Selector) {
        let rt = Signal::realtime(2).unwrap();
        let signals = Signals::new(
            s.registry(),
            Token(SIGNALS),
            &[Signal::USR2, Signal::HUP, rt],
        )
        .unwrap();
        let mut ev = Events::with_capacity(8);
        let pid = std::process::id();
        let (usr2, rtn) = (Signal::USR2.raw(), rt.raw());
        // One process sends a burst: 5 SIGUSR2, 3 of a real-time signal.
        let script = format!(
            "for i in 1 2 3 4 5; do kill -{usr2} {pid}; done; \
             for i in 1 2 3; do kill -{rtn} {pid}; done"
        );
        let status = sh(&script).wait().unwrap();
        assert!(status.success(), "{status}");
        settle(Signal::USR2);
        settle(rt);
        let (mut n_usr2, mut n_rt) = (0, 0);
        let start = Instant::now();
        while (n_usr2 == 0 || n_rt < 3) && start.elapsed() < SOON {
            wait_for(&mut s, &mut ev, SIGNALS);
            let got = signals.receive();
            assert_eq!(got.count(Signal::HUP), 0);
            n_usr2 += got.count(Signal::USR2);
            n_rt += got.count(rt);
        }
        // Standard signals coalesce while pending; real-time ones queue.
        assert!((1..=5).contains(&n_usr2), "SIGUSR2 counted {n_usr2} times");
        assert_eq!(n_rt, 3);
        settle(Signal::USR2);
        let _ = signals.receive();
    }

    pub fn several_owners_of_one_signal(mut s: Selector) {
        let before = disposition(Signal::USR2);
        // Whatever the caller left it at: `nohup` ignores SIGHUP.
        let hup_before = disposition(Signal::HUP);
        let mut other = Selector::with_backend(Backend::Poll).unwrap();
        let a = Signals::new(s.registry(), Token(10), &[Signal::USR2]).unwrap();
        let b = Signals::new(s.registry(), Token(11), &[Signal::USR2, Signal::HUP]).unwrap();
        let c = Signals::new(other.registry(), Token(12), &[Signal::USR2]).unwrap();
        let mut ev = Events::with_capacity(8);
        kill_self(Signal::USR2);
        settle(Signal::USR2);
        // Every owner gets every delivery.
        let start = Instant::now();
        let mut seen = BTreeSet::new();
        while seen.len() < 2 && start.elapsed() < SOON {
            seen.extend(wait_tokens(&mut s, &mut ev, Duration::from_millis(50)));
        }
        assert_eq!(seen, BTreeSet::from([10, 11]));
        wait_for(&mut other, &mut ev, 12);
        for owner in [&a, &b, &c] {
            assert_eq!(owner.receive().count(Signal::USR2), 1);
        }
        // One owner gone: the others still receive, the handler stays.
        drop(a);
        assert_ne!(disposition(Signal::USR2), before);
        kill_self(Signal::USR2);
        settle(Signal::USR2);
        wait_for(&mut s, &mut ev, 11);
        wait_for(&mut other, &mut ev, 12);
        assert_eq!(b.receive().count(Signal::USR2), 1);
        assert_eq!(c.receive().count(Signal::USR2), 1);
        assert!(!wait_tokens(&mut s, &mut ev, Duration::ZERO).contains(&10));
        // The last owner of SIGUSR2 gone: the previous disposition is back
        // (SIGHUP, still owned by nobody else, too).
        drop(b);
        assert_ne!(disposition(Signal::USR2), before);
        drop(c);
        assert_eq!(disposition(Signal::USR2), before);
        assert_eq!(disposition(Signal::HUP), hup_before);
    }

    pub fn child_exits_while_busy_with_sockets(mut s: Selector) {
        let (mut client, mut server) = tcp_pair();
        s.registry()
            .register(&server, Token(SOCKET), ioready::Interest::READABLE)
            .unwrap();
        // A child not handed over: never reaped by us.
        let mut bystander = sh("exit 5");
        let child = sh("sleep 0.2; exit 7");
        let mut process = Process::new(s.registry(), Token(CHILD), child).unwrap();
        assert!(process.id() > 0);
        let mut ev = Events::with_capacity(8);
        let mut round_trips = 0;
        let start = Instant::now();
        let status = loop {
            assert!(start.elapsed() < SOON, "{}: no exit event", s.backend());
            client.write_all(b"ping").unwrap();
            let got = wait_tokens(&mut s, &mut ev, SOON);
            if got.contains(&SOCKET) {
                let mut buf = [0u8; 64];
                let n = server.read(&mut buf).unwrap();
                assert!(n > 0);
                round_trips += 1;
            }
            if got.contains(&CHILD) {
                break process.try_wait().unwrap().expect("exited");
            }
        };
        assert_eq!(status.code(), Some(7));
        assert!(
            round_trips > 10,
            "the loop was busy: {round_trips} round trips"
        );
        // Collected once: the token is no longer reported, the status stays.
        assert!(!wait_tokens(&mut s, &mut ev, Duration::ZERO).contains(&CHILD));
        assert_eq!(process.try_wait().unwrap(), Some(status));
        // The bystander is still ours to reap.
        assert_eq!(bystander.wait().unwrap().code(), Some(5));
        // A child killed through its handle.
        let mut sleeper =
            Process::new(s.registry(), Token(CHILD + 1), sh("exec sleep 30")).unwrap();
        sleeper.kill(Signal::KILL).unwrap();
        wait_for(&mut s, &mut ev, CHILD + 1);
        let status = sleeper.try_wait().unwrap().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(
            sleeper.kill(Signal::KILL).unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
        s.registry().deregister(&server).unwrap();
    }

    pub fn all_three_and_a_socket_in_one_wait(mut s: Selector) {
        let (mut client, server) = tcp_pair();
        s.registry()
            .register(&server, Token(SOCKET), ioready::Interest::READABLE)
            .unwrap();
        let timer = Timer::new(s.registry(), Token(TIMER)).unwrap();
        let signals = Signals::new(s.registry(), Token(SIGNALS), &[Signal::USR1]).unwrap();
        let mut process = Process::new(s.registry(), Token(CHILD), sh("exit 0")).unwrap();
        timer.set_once(Duration::from_millis(1)).unwrap();
        kill_self(Signal::USR1);
        client.write_all(b"x").unwrap();
        // Each is level-triggered and nothing is acknowledged: once all four
        // have happened, one wait reports all four.
        let mut ev = Events::with_capacity(8);
        let all = BTreeSet::from([TIMER, SIGNALS, CHILD, SOCKET]);
        let start = Instant::now();
        loop {
            let got = wait_tokens(&mut s, &mut ev, Duration::from_millis(10));
            if got == all {
                break;
            }
            assert!(got.is_subset(&all));
            assert!(start.elapsed() < SOON, "{}: got only {got:?}", s.backend());
        }
        assert_eq!(timer.acknowledge().unwrap(), 1);
        assert_eq!(signals.receive().count(Signal::USR1), 1);
        assert!(process.try_wait().unwrap().unwrap().success());
        let mut buf = [0u8; 8];
        assert_eq!((&server).read(&mut buf).unwrap(), 1);
        assert!(wait_tokens(&mut s, &mut ev, Duration::ZERO).is_empty());
        s.registry().deregister(&server).unwrap();
    }

    pub fn dropping_leaves_no_descriptor_and_no_handler(mut s: Selector) {
        let mut ev = Events::with_capacity(8);
        // A handler of the program's own for SIGUSR1: put back exactly.
        extern "C" fn own(_: libc::c_int) {}
        // SAFETY: a zeroed sigaction is valid storage for the kernel to
        // fill with the disposition the test found (restored at the end).
        let found = unsafe {
            let mut found: libc::sigaction = std::mem::zeroed();
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, std::ptr::null(), &mut found),
                0
            );
            found
        };
        // SAFETY: a zeroed sigaction with an empty mask and a handler that
        // does nothing is valid.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = own as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
        }
        let usr1_before = disposition(Signal::USR1);
        let hup_before = disposition(Signal::HUP);
        let fds_before = open_fds();
        {
            let timer = Timer::new(s.registry(), Token(TIMER)).unwrap();
            timer
                .set_periodic(Duration::ZERO, Duration::from_millis(1))
                .unwrap();
            let signals =
                Signals::new(s.registry(), Token(SIGNALS), &[Signal::USR1, Signal::HUP]).unwrap();
            let process = Process::new(s.registry(), Token(CHILD), sh("exit 0")).unwrap();
            // One descriptor each (two for the signals' pipe where there is
            // no eventfd).
            assert!(open_fds().len() >= fds_before.len() + 3);
            assert_ne!(disposition(Signal::USR1), usr1_before);
            kill_self(Signal::USR1);
            wait_for(&mut s, &mut ev, SIGNALS);
            wait_for(&mut s, &mut ev, CHILD);
            wait_for(&mut s, &mut ev, TIMER);
            // Dropped with everything pending and unacknowledged (the child
            // is reaped below by pid, to leave no zombie).
            let pid = process.id();
            drop((timer, signals, process));
            // SAFETY: waitpid on our own child's pid; the status is ours.
            let r = unsafe { libc::waitpid(pid as i32, std::ptr::null_mut(), 0) };
            assert_eq!(r, pid as i32);
        }
        assert_eq!(open_fds(), fds_before, "{}: descriptors left", s.backend());
        assert_eq!(
            disposition(Signal::USR1),
            usr1_before,
            "own handler restored"
        );
        assert_eq!(disposition(Signal::HUP), hup_before);
        // Nothing registered is left: no event (select and poll would report
        // a closed registration as invalid).
        assert!(wait_tokens(&mut s, &mut ev, Duration::from_millis(5)).is_empty());
        // SAFETY: `found` is the disposition the kernel gave us above:
        // back to it, whatever the caller had set.
        unsafe {
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, &found, std::ptr::null_mut()),
                0
            );
        }
    }

    pub fn bad_input_is_an_error(s: Selector) {
        use std::io::ErrorKind::InvalidInput;
        let r = s.registry();
        assert_eq!(
            Signals::new(r, Token(1), &[]).unwrap_err().kind(),
            InvalidInput
        );
        for raw in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGFPE] {
            let sig = Signal::from_raw(raw).unwrap();
            let e = Signals::new(r, Token(1), &[sig]).unwrap_err();
            assert_eq!(e.kind(), InvalidInput, "{sig}");
        }
        assert_eq!(Signal::from_raw(0).unwrap_err().kind(), InvalidInput);
        assert_eq!(Signal::from_raw(65).unwrap_err().kind(), InvalidInput);
        assert!(Signal::realtime(1000).is_err());
        // Not our child, ourselves, no process, pid 0: refused.
        for pid in [1, std::process::id(), 0, u32::MAX] {
            let e = Process::from_pid(r, Token(1), pid).unwrap_err();
            assert_eq!(e.kind(), InvalidInput, "pid {pid}");
        }
        // A child already reaped.
        let mut child = sh("exit 0");
        child.wait().unwrap();
        let e = Process::new(r, Token(1), child).unwrap_err();
        assert_eq!(e.kind(), InvalidInput);
        // A child by pid works (and is reaped by `try_wait`, not by `Child`).
        #[allow(clippy::zombie_processes)]
        let child = sh("exit 4");
        let mut p = Process::from_pid(r, Token(1), child.id()).unwrap();
        let mut s = s;
        let mut ev = Events::with_capacity(4);
        wait_for(&mut s, &mut ev, 1);
        assert_eq!(p.try_wait().unwrap().unwrap().code(), Some(4));
        assert!(p.child_mut().is_none());
    }
}

/// One `#[test]` per scenario and backend, on the shared backend list.
macro_rules! sources {
    ($($(#[$cfg:meta])* $module:ident => $backend:expr;)*) => {$(
        $(#[$cfg])*
        mod $module {
            use super::*;
            fn make() -> Selector {
                Selector::with_backend($backend).expect("selector")
            }
            sources!(@tests
                timer_never_early,
                timer_level_rearm_cancel,
                periodic_through_a_stall,
                signal_from_another_thread,
                signals_from_another_process,
                several_owners_of_one_signal,
                child_exits_while_busy_with_sockets,
                all_three_and_a_socket_in_one_wait,
                dropping_leaves_no_descriptor_and_no_handler,
                bad_input_is_an_error,
            );
        }
    )*};
    (@tests $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            // Taken before the selector is made: its descriptors count too.
            let _serial = serial();
            super::scenarios::$name(make());
        }
    )*};
}

for_each_selector_backend!(sources);

/// Owners made and dropped by several threads while another thread sends
/// the signal without pause: no delivery reaches a closed descriptor (the
/// process would see a byte written into another file, or crash), every
/// owner alive at a send sees it, and when all are gone no descriptor is
/// left and the disposition is the one found at the start again.
#[test]
fn owners_come_and_go_under_a_signal_storm() {
    let _serial = serial();
    let rt = Signal::realtime(3).unwrap();
    let fds_before = open_fds();
    let before = disposition(rt);
    let winch_before = disposition(Signal::WINCH);
    // A guard owner keeps the handler installed while the storm runs, so a
    // signal never meets the default action (which ends the process).
    let mut guard_selector = Selector::with_backend(Backend::Poll).unwrap();
    let guard = Signals::new(guard_selector.registry(), Token(0), &[rt]).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut sent = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 1_000_000 {
                // SAFETY: kill has no memory preconditions. EAGAIN (the
                // queue of real-time signals is full) only skips one.
                if unsafe { libc::kill(libc::getpid(), rt.raw()) } == 0 {
                    sent += 1;
                }
            }
            sent
        })
    };
    let workers: Vec<_> = (0..4)
        .map(|w| {
            std::thread::spawn(move || {
                let all: Vec<Backend> = Backend::available().collect();
                let backend = all[w % all.len()];
                let mut s = Selector::with_backend(backend).unwrap();
                let mut ev = Events::with_capacity(4);
                let mut seen = 0;
                for i in 0..1_000 {
                    let owner = Signals::new(s.registry(), Token(i), &[rt, Signal::WINCH]).unwrap();
                    if i % 50 == 0 {
                        // Now and then wait for a delivery to this owner.
                        wait_for(&mut s, &mut ev, i);
                        seen += owner.receive().count(rt).min(1);
                    }
                    drop(owner);
                }
                seen
            })
        })
        .collect();
    for w in workers {
        assert_eq!(w.join().unwrap(), 20, "every waiting owner got the signal");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = sender.join().unwrap();
    settle(rt);
    // Take the guard's last deliveries before it goes.
    let mut ev = Events::with_capacity(4);
    let _ = wait_tokens(&mut guard_selector, &mut ev, Duration::from_millis(10));
    let got = guard.receive().count(rt);
    println!("{sent} signals sent, the guard owner counted {got} in its last wait");
    assert!(got > 0);
    drop(guard);
    drop(guard_selector);
    assert_eq!(disposition(rt), before);
    assert_eq!(disposition(Signal::WINCH), winch_before);
    assert_eq!(open_fds(), fds_before);
}

#[test]
fn sources_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Timer>();
    send_sync::<Signals>();
    send_sync::<Process>();
    send_sync::<ioready::ReceivedSignals>();
}
