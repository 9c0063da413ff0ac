//! Helpers shared by the test binaries: real descriptors (pipes,
//! socketpairs, TCP on 127.0.0.1), the process-wide set-ups done once
//! (signal handler, `RLIMIT_NOFILE`), and a lock for the tests that need
//! thousands of descriptors or particular descriptor numbers.
//!
//! Every test binary compiles this module and uses a part of it.
//!
//! [`for_each_selector_backend!`] is the one list of `Selector` backends
//! the suites (conformance, selector, zero_alloc) run on: adding a backend
//! to the tests is one line there.
#![allow(dead_code, unused_macros)]

/// Calls the macro `$m` with the one list of `Selector` backends, as
/// `name => Backend::X;` lines, each under the cfg of the platforms that
/// have it. The suites generate a module per backend from it
/// (`selector::poll::...`), so a failure names the backend.
///
/// Declare `common` with `#[macro_use]` to use it.
macro_rules! for_each_selector_backend {
    ($m:ident) => {
        $m! {
            select => ioready::Backend::Select;
            poll => ioready::Backend::Poll;
            #[cfg(ioready_epoll)]
            epoll => ioready::Backend::Epoll;
            #[cfg(ioready_kqueue)]
            kqueue => ioready::Backend::Kqueue;
            #[cfg(all(feature = "uring", target_os = "linux"))]
            uring => ioready::Backend::Uring;
        }
    };
}

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

/// Generous bound for "this should happen at once" on 2 busy cores.
pub const SOON: Duration = Duration::from_secs(5);

/// A pipe `(read end, write end)`, close-on-exec, non-blocking.
pub fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK)
        .expect("pipe2")
}

/// Writes one byte to a descriptor (a pipe's write end, a socket).
pub fn poke(fd: impl AsFd) {
    rustix::io::write(fd, b"x").expect("write one byte");
}

/// Reads whatever is there (non-blocking descriptors).
pub fn drain(fd: impl AsFd) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match rustix::io::read(&fd, &mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(rustix::io::Errno::AGAIN) => return total,
            Err(e) => panic!("drain: {e}"),
        }
    }
}

/// A connected TCP pair on 127.0.0.1 (port 0): `(client, server side)`.
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let client = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    client.set_nonblocking(true).unwrap();
    server.set_nonblocking(true).unwrap();
    (client, server)
}

/// The address of a port on 127.0.0.1 where nothing listens: bound on port
/// 0, then closed.
pub fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// A non-blocking TCP socket whose connect to `addr` is in progress, with
/// the error of `connect` itself if it failed at once (loopback may refuse
/// a closed port at once; the socket is then reported like one whose
/// connect failed later).
pub fn connect_nonblocking(addr: SocketAddr) -> (socket2::Socket, Option<io::Error>) {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
    s.set_nonblocking(true).unwrap();
    match s.connect(&addr.into()) {
        Ok(()) => (s, None),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => (s, None),
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => (s, Some(e)),
        Err(e) => panic!("connect {addr}: {e}"),
    }
}

/// A regular file, already unlinked (the descriptor keeps it alive).
pub fn regular_file() -> std::fs::File {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "ioready-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .expect("create a temporary file");
    std::fs::remove_file(&path).expect("unlink the temporary file");
    f
}

/// Reads and writes on a socket, for tests that need a round trip.
pub fn roundtrip(a: &mut TcpStream, b: &mut TcpStream) {
    a.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    let start = Instant::now();
    let mut got = 0;
    while got < 4 && start.elapsed() < SOON {
        match b.read(&mut buf[got..]) {
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    assert_eq!(&buf, b"ping");
}

// ---------------------------------------------------------------------
// Descriptor limits and numbers.

/// Serialises the tests that use thousands of descriptors or that ask for
/// particular descriptor numbers (1024, 5000, 19999), so that parallel tests
/// of one binary do not exhaust `RLIMIT_NOFILE` together.
pub fn fd_heavy_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, once per process
/// (raising only: parallel tests can only gain), and returns the soft limit
/// now in force.
pub fn raise_nofile() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut lim = getrlimit(Resource::Nofile);
        if lim.maximum.is_some() && lim.current < lim.maximum {
            lim.current = lim.maximum;
            if let Err(e) = setrlimit(Resource::Nofile, lim) {
                println!("could not raise RLIMIT_NOFILE: {e}");
            }
        }
    });
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Duplicates `fd` onto the lowest free number at or above `min`
/// (`F_DUPFD_CLOEXEC`: never clobbers a descriptor another test owns, unlike
/// `dup2`).
pub fn dup_at_least(fd: impl AsFd, min: RawFd) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, min)?)
}

/// A descriptor number that was open and is now closed, taken from a band
/// of high numbers that no other test allocates from, each call from a new
/// place in the band, so the number stays closed for the rest of the test
/// (descriptors are allocated lowest-first, and parallel tests use low
/// numbers).
pub fn closed_fd_number() -> RawFd {
    let limit = raise_nofile().min(i32::MAX as u64) as RawFd;
    // With the usual 20,000 the band is 15,000 .. 17,000: above the 10,000-fd
    // test, below 19,999.
    let base = (limit / 4) * 3;
    let band = (limit / 10).max(1);
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let offset = (NEXT.fetch_add(1, Ordering::Relaxed) % band as usize) as RawFd;
    let (r, _w) = pipe();
    let high = dup_at_least(&r, base + offset).expect("dup a descriptor into the high band");
    let n = high.as_raw_fd();
    drop(high);
    n
}

/// A descriptor in the high band that stays open: registered, then closed by
/// the test to see how a backend reports a closed registration.
pub fn high_fd(fd: impl AsFd) -> OwnedFd {
    let limit = raise_nofile().min(i32::MAX as u64) as RawFd;
    let base = (limit / 4) * 3;
    let band = (limit / 10).max(1);
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let offset = (NEXT.fetch_add(1, Ordering::Relaxed) % band as usize) as RawFd;
    dup_at_least(fd, base + offset + band).expect("dup a descriptor into the high band")
}

// ---------------------------------------------------------------------
// Signals.

/// The signal the EINTR tests send. Only ever sent with `pthread_kill` to a
/// test's own waiting thread, so parallel tests never see it.
pub const TEST_SIGNAL: libc::c_int = libc::SIGUSR1;

thread_local! {
    /// How often the handler ran on this thread.
    static HITS: Cell<usize> = const { Cell::new(0) };
}

static TOTAL_HITS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_sig: libc::c_int) {
    // Async-signal-safe: a const-initialised thread-local without a
    // destructor and an atomic add.
    HITS.with(|h| h.set(h.get() + 1));
    TOTAL_HITS.fetch_add(1, Ordering::Relaxed);
}

/// Installs the counting handler for [`TEST_SIGNAL`], without `SA_RESTART`,
/// once per process.
pub fn install_signal_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed `sigaction` is a valid empty one; the handler is
        // async-signal-safe (see `count_signal`); `sigemptyset` initialises
        // the mask we pass.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = 0; // no SA_RESTART: the wait must see EINTR
            libc::sigemptyset(&mut sa.sa_mask);
            let r = libc::sigaction(TEST_SIGNAL, &sa, std::ptr::null_mut());
            assert_eq!(r, 0, "sigaction: {}", io::Error::last_os_error());
        }
    });
}

/// How often the handler ran on the calling thread.
pub fn signal_hits() -> usize {
    HITS.with(|h| h.get())
}

/// Sends [`TEST_SIGNAL`] to the calling thread, from another thread, at the
/// given offsets from now; stops early once the returned guard is finished.
pub struct Signaller {
    done: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<usize>>,
}

impl Signaller {
    /// Starts sending to the calling thread: one signal at each offset.
    pub fn start(at: Vec<Duration>) -> Signaller {
        install_signal_handler();
        // SAFETY: pthread_self has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let done = Arc::new(AtomicBool::new(false));
        let done2 = done.clone();
        let start = Instant::now();
        let handle = std::thread::spawn(move || {
            let mut sent = 0;
            for offset in at {
                if let Some(wait) = offset.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
                if done2.load(Ordering::SeqCst) {
                    break;
                }
                // SAFETY: `target` is the thread that created this
                // signaller; it joins us (in `finish` or on drop) before it
                // can exit, so the thread id is valid. The handler is
                // installed.
                let r = unsafe { libc::pthread_kill(target, TEST_SIGNAL) };
                assert_eq!(r, 0, "pthread_kill");
                sent += 1;
            }
            sent
        });
        Signaller {
            done,
            handle: Some(handle),
        }
    }

    /// Evenly spaced signals: `count` of them, `every` apart, the first after
    /// `every`.
    pub fn every(every: Duration, count: u32) -> Signaller {
        Signaller::start((1..=count).map(|i| every * i).collect())
    }

    /// Stops sending and returns how many signals were sent.
    pub fn finish(mut self) -> usize {
        self.stop()
    }

    fn stop(&mut self) -> usize {
        self.done.store(true, Ordering::SeqCst);
        match self.handle.take() {
            Some(h) => h.join().expect("signaller thread"),
            None => 0,
        }
    }
}

impl Drop for Signaller {
    fn drop(&mut self) {
        // Join even when the test panics, so that no signal is sent to a
        // thread that is gone.
        let _ = self.done.swap(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

// ---------------------------------------------------------------------
// Timing.

/// Median and 99th percentile of a sample (sorted in place).
pub fn median_p99(sample: &mut [Duration]) -> (Duration, Duration) {
    assert!(!sample.is_empty());
    sample.sort();
    let median = sample[sample.len() / 2];
    let p99 = sample[(sample.len() * 99 / 100).min(sample.len() - 1)];
    (median, p99)
}
