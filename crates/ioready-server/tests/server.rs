//! The serving logic in-process, on every backend of the platform, over TCP
//! on 127.0.0.1 port 0.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ioready::Backend;
use ioready_server::{
    CloseReason, Config, Conn, Echo, Server, ServerEvent, Service, ShutdownHandle, Summary,
    TimeService,
};

type Log = Arc<Mutex<Vec<String>>>;

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

    fn log(&self) -> Vec<String> {
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

fn start<S: Service + Send + 'static>(config: Config, service: S) -> Running {
    let log: Log = Arc::default();
    let l = log.clone();
    let mut server = Server::bind("127.0.0.1:0", config, service)
        .unwrap()
        .with_observer(move |e: &ServerEvent<'_>| l.lock().unwrap().push(e.to_string()));
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

fn config(backend: Backend) -> Config {
    Config {
        backend,
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

fn backends() -> impl Iterator<Item = Backend> {
    Backend::available()
}

#[test]
fn one_message_gives_the_seeds_events_in_order() {
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
        let peer = format!("('127.0.0.1', {})", me.port());
        assert_eq!(
            log,
            [
                format!("new connection from {peer}"),
                format!("received \"This is the message. \" from {peer}"),
                format!("sending \"This is the message. \" to {peer}"),
                format!("output queue for {peer} is empty"),
                format!("closing {peer} after reading no data"),
            ],
            "{backend}"
        );
    }
}

fn without_waits(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| {
            !l.starts_with("waiting")
                && !l.starts_with("starting")
                && !l.starts_with("shutting down")
        })
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
        while !server.log().iter().any(|l| l.starts_with("closing")) {
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
        assert!(server
            .log()
            .iter()
            .any(|l| l.ends_with("after idle timeout")));
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
        c.set_nonblocking(true).unwrap();
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0usize;
        let mut stalled_since = Instant::now();
        while stalled_since.elapsed() < Duration::from_millis(300) {
            match (&c).write(&chunk) {
                Ok(n) => {
                    sent += n;
                    stalled_since = Instant::now();
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("{e}"),
            }
            assert!(sent < 256 << 20, "{backend}: the server never pushed back");
        }
        c.set_nonblocking(false).unwrap();
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
        let now = ioready_server::rfc868_value(std::time::SystemTime::now());
        assert!(now.wrapping_sub(v) <= 2, "{backend}: {v} vs {now}");
        server.finish();
    }
}

/// A service of one's own: upper-cases what it gets, ends on "quit".
struct Shout;

impl Service for Shout {
    fn on_data(&mut self, conn: &mut Conn<'_>, data: &[u8]) {
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
        let log = server.log();
        assert!(log
            .iter()
            .any(|l| l.starts_with("closing") && !l.contains("after")));
        server.finish();
    }
}

#[test]
fn close_reasons_display_like_the_seeds() {
    let peer: SocketAddr = "127.0.0.1:55821".parse().unwrap();
    let line = ServerEvent::Closed(peer, CloseReason::Eof).to_string();
    assert_eq!(line, "closing ('127.0.0.1', 55821) after reading no data");
    let line = ServerEvent::Received(peer, b"a\"b\n\x01").to_string();
    assert_eq!(
        line,
        "received \"a\\\"b\\n\\x01\" from ('127.0.0.1', 55821)"
    );
    assert_eq!(
        ServerEvent::Starting("127.0.0.1:10000".parse().unwrap()).to_string(),
        "starting up on 127.0.0.1 port 10000"
    );
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
