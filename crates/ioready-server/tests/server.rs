//! The serving logic in-process, on every backend of the platform, over TCP
//! on 127.0.0.1 port 0.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ioready::Backend;
use ioready_server::Engine;
use ioready_server::{
    rfc868, CloseReason, Config, Conn, Echo, Server, ServerEvent, Service, ShutdownHandle, Summary,
    TimeService,
};

/// A [`ServerEvent`] kept after the callback (the events borrow).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Accepted(SocketAddr),
    Received(SocketAddr, Vec<u8>),
    Sent(SocketAddr, Vec<u8>),
    QueueEmpty(SocketAddr),
    Closed(SocketAddr, Why),
    /// Starting, Waiting, TimedOut, ShuttingDown and the warnings.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Why {
    Eof,
    Done,
    Error,
    Idle,
    Shutdown(usize),
}

impl Seen {
    fn of(e: &ServerEvent<'_>) -> Seen {
        match e {
            ServerEvent::Accepted(p) => Seen::Accepted(*p),
            ServerEvent::Received(p, d) => Seen::Received(*p, d.to_vec()),
            ServerEvent::Sent(p, d) => Seen::Sent(*p, d.to_vec()),
            ServerEvent::QueueEmpty(p) => Seen::QueueEmpty(*p),
            ServerEvent::Closed(p, r) => Seen::Closed(
                *p,
                match r {
                    CloseReason::Eof => Why::Eof,
                    CloseReason::Done => Why::Done,
                    CloseReason::Error(_) => Why::Error,
                    CloseReason::Idle => Why::Idle,
                    CloseReason::Shutdown(n) => Why::Shutdown(*n),
                },
            ),
            other => Seen::Other(format!("{other:?}")),
        }
    }

    fn is_close(&self, why: &Why) -> bool {
        matches!(self, Seen::Closed(_, w) if w == why)
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

struct Running {
    addr: SocketAddr,
    stop: ShutdownHandle,
    thread: Option<JoinHandle<std::io::Result<Summary>>>,
    log: Log,
}

impl Running {
    fn finish(mut self) -> Summary {
        self.stop.shutdown().unwrap();
        self.thread.take().unwrap().join().unwrap().unwrap()
    }

    fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.stop.shutdown();
            let _ = t.join();
        }
    }
}

fn start<S>(config: Config, service: S) -> Running
where
    S: Service + Send + 'static,
    S::State: Send,
{
    let log: Log = Arc::default();
    let l = log.clone();
    let mut server = Server::bind("127.0.0.1:0", config, service)
        .unwrap()
        .with_observer(move |e: &ServerEvent<'_>| l.lock().unwrap().push(Seen::of(e)));
    let addr = server.local_addr();
    let stop = server.shutdown_handle();
    let thread = Some(std::thread::spawn(move || server.run()));
    Running {
        addr,
        stop,
        thread,
        log,
    }
}

/// What a scenario runs on: the readiness engine on one backend, or the
/// io_uring engine.
#[derive(Debug, Clone, Copy)]
struct Setup(Backend, Engine);

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Engine::Readiness => write!(f, "{}", self.0),
            e => write!(f, "{e} engine"),
        }
    }
}

fn config(setup: Setup) -> Config {
    Config {
        backend: setup.0,
        engine: setup.1,
        trace: true,
        ..Config::default()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Every backend of the platform on the readiness engine, and the io_uring
/// engine where this build has it.
fn backends() -> impl Iterator<Item = Setup> {
    let uring = common::uring_engine().map(|e| Setup(Backend::best(), e));
    Backend::available()
        .map(|b| Setup(b, Engine::Readiness))
        .chain(uring)
}

#[test]
fn one_message_gives_the_events_in_order() {
    for backend in backends() {
        let server = start(config(backend), Echo);
        let mut c = connect(server.addr);
        let me = c.local_addr().unwrap();
        c.write_all(b"This is the message. ").unwrap();
        let mut got = [0u8; 21];
        c.read_exact(&mut got).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        let log = without_waits(&server.log());
        let summary = server.finish();
        assert_eq!(summary.accepted, 1);
        assert_eq!((summary.bytes_in, summary.bytes_out), (21, 21));
        let msg = b"This is the message. ".to_vec();
        assert_eq!(
            log,
            [
                Seen::Accepted(me),
                Seen::Received(me, msg.clone()),
                Seen::Sent(me, msg),
                Seen::QueueEmpty(me),
                Seen::Closed(me, Why::Eof),
            ],
            "{backend}"
        );
    }
}

fn without_waits(log: &[Seen]) -> Vec<Seen> {
    log.iter()
        .filter(|l| !matches!(l, Seen::Other(_)))
        .cloned()
        .collect()
}

#[test]
fn half_close_still_gets_every_byte() {
    const N: usize = 4 << 20;
    for backend in backends() {
        let server = start(
            Config {
                trace: false,
                output_cap: 64 * 1024,
                ..config(backend)
            },
            Echo,
        );
        let c = connect(server.addr);
        let mut w = c.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let data: Vec<u8> = (0..N).map(|i| (i % 253) as u8).collect();
            w.write_all(&data).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        (&c).read_to_end(&mut got).unwrap();
        sender.join().unwrap();
        assert_eq!(got.len(), N, "{backend}");
        assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 253) as u8));
        let s = server.finish();
        assert_eq!((s.bytes_in, s.bytes_out), (N as u64, N as u64));
    }
}

#[test]
fn a_reset_closes_only_that_connection() {
    for backend in backends() {
        let server = start(config(backend), Echo);
        let mut good = connect(server.addr);
        let bad = connect(server.addr);
        (&bad).write_all(b"about to reset").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        // SO_LINGER 0: close sends RST, so the server's next I/O on it fails
        // with ECONNRESET (or sees the end).
        socket2::SockRef::from(&bad)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(bad);
        for i in 0..20 {
            let msg = format!("still here {i}");
            good.write_all(msg.as_bytes()).unwrap();
            let mut got = vec![0u8; msg.len()];
            good.read_exact(&mut got).unwrap();
            assert_eq!(got, msg.as_bytes(), "{backend}");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while !server.log().iter().any(|l| matches!(l, Seen::Closed(..))) {
            assert!(
                Instant::now() < deadline,
                "{backend}: reset connection never closed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let s = server.finish();
        assert_eq!(s.accepted, 2);
    }
}

#[test]
fn idle_connections_are_closed() {
    for backend in backends() {
        let server = start(
            Config {
                idle_timeout: Some(Duration::from_millis(200)),
                ..config(backend)
            },
            Echo,
        );
        let mut c = connect(server.addr);
        let t0 = Instant::now();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_millis(200),
            "{backend}: {waited:?}"
        );
        assert!(server.log().iter().any(|l| l.is_close(&Why::Idle)));
        server.finish();
    }
}

#[test]
fn shutdown_flushes_what_was_read() {
    for backend in backends() {
        let server = start(
            Config {
                trace: false,
                output_cap: 256 * 1024,
                shutdown_grace: Duration::from_secs(20),
                ..config(backend)
            },
            Echo,
        );
        let c = connect(server.addr);
        // Send without reading until the server stops reading.
        let sent = common::send_until_pushback(&c, 7, &backend.to_string());
        let stop = server.stop.clone();
        let reader = std::thread::spawn(move || {
            let mut got = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match (&c).read(&mut buf) {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got += n as u64,
                }
            }
        });
        stop.shutdown().unwrap();
        let summary = server.finish();
        let got = reader.join().unwrap();
        assert_eq!(summary.unsent_at_shutdown, 0, "{backend}");
        assert_eq!(
            got, summary.bytes_in,
            "{backend}: all that was read came back"
        );
        assert!(summary.bytes_in < sent as u64, "{backend}: reading stopped");
    }
}

#[test]
fn time_service_sends_four_bytes_and_closes() {
    for backend in backends() {
        let server = start(config(backend), TimeService);
        let mut c = connect(server.addr);
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), 4);
        let v = u32::from_be_bytes(got.try_into().unwrap());
        let now = rfc868::encode(std::time::SystemTime::now());
        assert!(now.wrapping_sub(v) <= 2, "{backend}: {v} vs {now}");
        server.finish();
    }
}

/// A service of one's own: upper-cases what it gets, ends on "quit".
struct Shout;

impl Service for Shout {
    type State = ();

    fn on_connect(&mut self, _: &mut Conn<'_>) {}

    fn on_data(&mut self, conn: &mut Conn<'_>, _: &mut (), data: &[u8]) {
        if data.starts_with(b"quit") {
            conn.send(b"bye\n");
            conn.close();
        } else {
            conn.send(&data.to_ascii_uppercase());
        }
    }
}

#[test]
fn a_custom_service_answers_and_closes() {
    for backend in backends() {
        let server = start(config(backend), Shout);
        let mut c = connect(server.addr);
        c.write_all(b"hello\n").unwrap();
        let mut got = [0u8; 6];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"HELLO\n");
        c.write_all(b"quit\n").unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"bye\n");
        // The server's close lingers until the peer closes too.
        drop(c);
        let t0 = Instant::now();
        let mut log = server.log();
        while !log.iter().any(|l| l.is_close(&Why::Done)) && t0.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(5));
            log = server.log();
        }
        assert!(log.iter().any(|l| l.is_close(&Why::Done)), "{log:?}");
        server.finish();
    }
}

#[test]
fn rfc868_encode_and_decode_are_inverse() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    // 1970-01-01 is the offset itself; 2036-02-07 06:28:16 wraps to 0.
    assert_eq!(rfc868::encode(UNIX_EPOCH), 2_208_988_800);
    let wrap = UNIX_EPOCH + Duration::from_secs((1 << 32) - rfc868::EPOCH_OFFSET);
    assert_eq!(rfc868::encode(wrap), 0);
    assert_eq!(rfc868::decode(0), wrap);
    assert_eq!(rfc868::decode(2_208_988_800), UNIX_EPOCH);
    // One second before 1970 (and half a second: the second it falls in).
    assert_eq!(
        rfc868::encode(UNIX_EPOCH - Duration::from_secs(1)),
        2_208_988_799
    );
    assert_eq!(
        rfc868::encode(UNIX_EPOCH - Duration::from_millis(500)),
        2_208_988_799
    );
    // Before 1900: nothing to say but 0.
    if let Some(t) = UNIX_EPOCH.checked_sub(Duration::from_secs(3_000_000_000)) {
        assert_eq!(rfc868::encode(t), 0);
    }
    for v in [0, 1, 2_208_988_799, 2_208_988_800, 3_900_000_000, u32::MAX] {
        assert_eq!(rfc868::encode(rfc868::decode(v)), v);
    }
    let now = SystemTime::now();
    let back = rfc868::decode(rfc868::encode(now));
    assert!(now.duration_since(back).unwrap() < Duration::from_secs(1));
}

#[test]
fn bad_config_is_an_error() {
    let e = Server::bind(
        "127.0.0.1:0",
        Config {
            output_cap: 0,
            ..Config::default()
        },
        Echo,
    )
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = Server::bind("definitely not an address", Config::default(), Echo).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

/// Counts its ticks; echoes.
struct Ticks(Arc<std::sync::atomic::AtomicUsize>);

impl Service for Ticks {
    type State = ();

    fn on_connect(&mut self, _: &mut Conn<'_>) {}

    fn on_data(&mut self, conn: &mut Conn<'_>, _: &mut (), data: &[u8]) {
        conn.send(data);
    }
    fn on_tick(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn the_tick_comes_only_after_a_quiet_tick() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let tick = Duration::from_millis(200);
    for backend in backends() {
        let ticks = Arc::new(AtomicUsize::new(0));
        let server = start(
            Config {
                tick: Some(tick),
                trace: false,
                ..config(backend)
            },
            Ticks(ticks.clone()),
        );
        let mut c = connect(server.addr);
        // Traffic every 20 ms for 600 ms: never a quiet tick.
        let start = Instant::now();
        let mut last = Instant::now();
        let mut longest_gap = Duration::ZERO;
        while start.elapsed() < Duration::from_millis(600) {
            c.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
            longest_gap = longest_gap.max(last.elapsed());
            last = Instant::now();
            std::thread::sleep(Duration::from_millis(20));
        }
        let during = ticks.load(Ordering::SeqCst);
        // Quiet now: ticks come, one per tick of quiet (counted from the
        // last echo read, which is before the server re-armed its tick).
        std::thread::sleep(tick * 3 + tick / 2);
        let after_quiet = ticks.load(Ordering::SeqCst) - during;
        let quiet_for = last.elapsed();
        server.finish();
        // A loaded machine may stretch a 20 ms gap past the tick; only a
        // run whose gaps stayed well inside it can judge.
        if longest_gap < tick / 2 {
            assert_eq!(during, 0, "{backend}: ticks during traffic");
        } else {
            println!("{backend}: a gap of {longest_gap:?}: not judging the busy phase");
        }
        let most = (quiet_for.as_nanos() / tick.as_nanos()) as usize;
        assert!(
            (1..=most).contains(&after_quiet),
            "{backend}: {after_quiet} ticks in {quiet_for:?} of quiet (tick {tick:?})"
        );
    }
}
