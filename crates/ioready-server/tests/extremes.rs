//! Every duration, count and capacity of [`Config`] at its extremes (0, 1,
//! the maximum): the server either refuses the value with `InvalidInput` or
//! serves, and then shuts down, without a panic. (`accept_backoff` needs an
//! exhausted descriptor table: `tests/accept_backoff.rs`.)

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use ioready::Backend;
use ioready_server::{Config, Echo, Engine, Server};

const NS: Duration = Duration::from_nanos(1);

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Every backend on the readiness engine, and the io_uring engine where
/// this build has it.
fn setups() -> Vec<(Backend, Engine)> {
    let mut v: Vec<_> = Backend::available()
        .map(|b| (b, Engine::Readiness))
        .collect();
    if let Some(uring) = common::uring_engine() {
        v.push((Backend::best(), uring));
    }
    v
}

/// What a client should see from a server with some config.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Echoes, then closes after our end of file.
    Echo,
    /// Closes the connection by itself (an idle timeout of 1 ns).
    ClosedByServer,
}

/// Serves one client with `config` on every backend, then shuts down
/// through the handle; `run` must return `Ok` within 30 s.
fn serves(name: &str, config: Config, expect: Expect) {
    for (backend, engine) in setups() {
        let config = Config {
            backend,
            engine,
            ..config.clone()
        };
        // What the messages name.
        let backend = format!("{backend} ({engine} engine)");
        let mut server = Server::bind("127.0.0.1:0", config, Echo)
            .unwrap_or_else(|e| panic!("{name} on {backend}: refused: {e}"));
        let addr = server.local_addr();
        let stop = server.shutdown_handle();
        let thread = std::thread::spawn(move || server.run());
        let mut c = connect(addr);
        match expect {
            Expect::Echo => {
                c.write_all(b"ping").unwrap();
                let mut got = [0u8; 4];
                c.read_exact(&mut got).unwrap();
                assert_eq!(&got, b"ping", "{name} on {backend}");
                c.shutdown(Shutdown::Write).unwrap();
                let mut rest = Vec::new();
                c.read_to_end(&mut rest).unwrap();
                assert!(rest.is_empty(), "{name} on {backend}");
            }
            Expect::ClosedByServer => {
                let mut rest = Vec::new();
                // Closed (end of file) or reset: either way, not left open.
                let _ = c.read_to_end(&mut rest);
            }
        }
        let t0 = Instant::now();
        stop.shutdown().unwrap();
        let summary = thread
            .join()
            .unwrap_or_else(|_| panic!("{name} on {backend}: the server panicked"))
            .unwrap_or_else(|e| panic!("{name} on {backend}: run failed: {e}"));
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{name} on {backend}"
        );
        assert_eq!(summary.accepted, 1, "{name} on {backend}");
    }
}

fn refused(name: &str, config: Config) {
    let e = Server::bind("127.0.0.1:0", config, Echo).expect_err(name);
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{name}: {e}");
    assert!(e.to_string().starts_with("config: "), "{name}: {e}");
}

#[test]
fn durations_at_their_extremes() {
    let d = Config::default;
    for (v, what) in [(Duration::ZERO, "0"), (NS, "1 ns"), (Duration::MAX, "MAX")] {
        serves(
            &format!("shutdown_grace {what}"),
            Config {
                shutdown_grace: v,
                ..d()
            },
            Expect::Echo,
        );
        serves(
            &format!("accept_backoff {what}"),
            Config {
                accept_backoff: v,
                ..d()
            },
            Expect::Echo,
        );
        // A zero tick polls: a busy loop, but a correct one.
        serves(
            &format!("tick {what}"),
            Config {
                tick: Some(v),
                ..d()
            },
            Expect::Echo,
        );
    }
    refused(
        "idle_timeout 0",
        Config {
            idle_timeout: Some(Duration::ZERO),
            ..d()
        },
    );
    serves(
        "idle_timeout 1 ns",
        Config {
            idle_timeout: Some(NS),
            ..d()
        },
        Expect::ClosedByServer,
    );
    serves(
        "idle_timeout MAX",
        Config {
            idle_timeout: Some(Duration::MAX),
            ..d()
        },
        Expect::Echo,
    );
    // Everything at once, with tracing (the trace path formats nothing
    // here, but reports every event).
    serves(
        "all durations MAX, traced",
        Config {
            shutdown_grace: Duration::MAX,
            accept_backoff: Duration::MAX,
            tick: Some(Duration::MAX),
            idle_timeout: Some(Duration::MAX),
            trace: true,
            ..d()
        },
        Expect::Echo,
    );
}

#[test]
fn counts_and_capacities_at_their_extremes() {
    let d = Config::default;
    refused(
        "max_conns 0",
        Config {
            max_conns: 0,
            ..d()
        },
    );
    refused(
        "output_cap 0",
        Config {
            output_cap: 0,
            ..d()
        },
    );
    refused(
        "read_buffer 0",
        Config {
            read_buffer: 0,
            ..d()
        },
    );
    refused(
        "read_buffer MAX",
        Config {
            read_buffer: usize::MAX,
            ..d()
        },
    );
    refused(
        "read_buffer MAX_READ_BUFFER + 1",
        Config {
            read_buffer: Config::MAX_READ_BUFFER + 1,
            ..d()
        },
    );
    for v in [1, usize::MAX] {
        serves(
            &format!("max_conns {v}"),
            Config {
                max_conns: v,
                ..d()
            },
            Expect::Echo,
        );
        serves(
            &format!("output_cap {v}"),
            Config {
                output_cap: v,
                ..d()
            },
            Expect::Echo,
        );
    }
    serves(
        "read_buffer 1",
        Config {
            read_buffer: 1,
            ..d()
        },
        Expect::Echo,
    );
    for v in [i32::MIN, -1, 0, 1, i32::MAX] {
        serves(
            &format!("backlog {v}"),
            Config { backlog: v, ..d() },
            Expect::Echo,
        );
    }
}

#[test]
fn a_shutdown_grace_of_duration_max_waits_for_every_byte() {
    // The deadline that used to overflow: shutdown with bytes queued for a
    // client that is not reading yet. The server must wait (no deadline),
    // then finish once the client reads everything.
    for (backend, engine) in setups() {
        let config = Config {
            backend,
            engine,
            shutdown_grace: Duration::MAX,
            output_cap: 64 * 1024,
            ..Config::default()
        };
        // What the messages name.
        let backend = format!("{backend} ({engine} engine)");
        let mut server = Server::bind("127.0.0.1:0", config, Echo).unwrap();
        let addr = server.local_addr();
        let stop = server.shutdown_handle();
        let thread = std::thread::spawn(move || server.run());
        let c = connect(addr);
        common::send_until_pushback(&c, 5, &backend.to_string());
        stop.shutdown().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !thread.is_finished(),
            "{backend}: gave up with bytes queued"
        );
        let mut got = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match (&c).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got += n as u64,
                Err(e) => panic!("{backend}: {e}"),
            }
        }
        // A lingering close waits for the peer's end of file (with no
        // deadline here): close as a client does after reading to the end.
        drop(c);
        let summary = thread.join().unwrap().unwrap();
        assert_eq!(summary.unsent_at_shutdown, 0, "{backend}");
        assert_eq!(got, summary.bytes_in, "{backend}");
    }
}
