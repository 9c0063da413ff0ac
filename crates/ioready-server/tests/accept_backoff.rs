//! `Config::accept_backoff` at its extremes (0, 1 ns, `Duration::MAX`),
//! after a real `EMFILE`. The only test of its binary: it lowers this
//! process's descriptor limit and fills the table, which would break any
//! test running beside it.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use ioready::Backend;
use ioready_server::{Config, Echo, Engine, Server, ServerEvent};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Every backend on the readiness engine, and the io_uring engine where
/// this build has it.
fn setups() -> Vec<(Backend, Engine)> {
    let readiness = Backend::available().map(|b| (b, Engine::Readiness));
    #[cfg(all(feature = "uring", target_os = "linux"))]
    return readiness
        .chain([(Backend::best(), Engine::Uring)])
        .collect();
    #[cfg(not(all(feature = "uring", target_os = "linux")))]
    readiness.collect()
}

/// Lowers the soft descriptor limit to 256.
fn lower_limit(saved: &Rlimit) {
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(256),
            maximum: saved.maximum,
        },
    )
    .unwrap();
}

/// Opens files until the descriptor table is full (soft limit lowered to
/// 256 first); returns them and the limit to restore.
fn exhaust_descriptors() -> (Vec<File>, Rlimit) {
    let saved = getrlimit(Resource::Nofile);
    lower_limit(&saved);
    let mut files = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => files.push(f),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) => break,
            Err(e) => panic!("unexpected: {e}"),
        }
        assert!(files.len() < 100_000, "the limit did not take");
    }
    (files, saved)
}

fn connected_socket(addr: SocketAddr) -> TcpStream {
    // Made before the table is full; connecting needs no descriptor.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.connect(&addr.into()).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

#[test]
fn accept_backoff_at_its_extremes() {
    let cases = [
        (Duration::ZERO, true),
        (Duration::from_nanos(1), true),
        (Duration::MAX, false),
    ];
    for (backoff, resumes) in cases {
        for (backend, engine) in setups() {
            let what = format!("accept_backoff {backoff:?} on {backend} ({engine} engine)");
            let (paused_tx, paused_rx) = mpsc::channel();
            let config = Config {
                backend,
                engine,
                accept_backoff: backoff,
                ..Config::default()
            };
            // io_uring's accept reads RLIMIT_NOFILE when it is armed: lower
            // the limit before the server arms it (see exhaust_descriptors).
            let original = getrlimit(Resource::Nofile);
            let on_uring = engine != Engine::Readiness;
            if on_uring {
                lower_limit(&original);
            }
            let mut server = Server::bind("127.0.0.1:0", config, Echo)
                .unwrap()
                .with_observer(move |e: &ServerEvent<'_>| {
                    if let ServerEvent::AcceptPaused(_, d) = e {
                        let _ = paused_tx.send(*d);
                    }
                });
            let addr = server.local_addr();
            let stop = server.shutdown_handle();
            let thread = std::thread::spawn(move || server.run());
            // One echo: the accept is armed (with the lowered limit). Kept
            // open, so its descriptor is not freed while the table fills.
            let probe = on_uring.then(|| {
                let mut probe = connected_socket(addr);
                probe.write_all(b"armed").unwrap();
                let mut got = [0u8; 5];
                probe.read_exact(&mut got).unwrap();
                probe
            });

            let socket =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            let (files, saved) = exhaust_descriptors();
            let connected = socket.connect(&addr.into());
            let paused = paused_rx.recv_timeout(Duration::from_secs(20));
            drop(files);
            setrlimit(Resource::Nofile, saved).unwrap();
            setrlimit(Resource::Nofile, original).unwrap();
            connected.unwrap();
            assert_eq!(
                paused.ok(),
                Some(backoff),
                "{what}: no AcceptPaused warning"
            );

            let mut c: TcpStream = socket.into();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            c.write_all(b"ping").unwrap();
            if resumes {
                let mut got = [0u8; 4];
                c.read_exact(&mut got).unwrap();
                assert_eq!(&got, b"ping", "{what}");
                // And a new connection is served too.
                let mut d = connected_socket(addr);
                d.write_all(b"pong").unwrap();
                d.read_exact(&mut got).unwrap();
                assert_eq!(&got, b"pong", "{what}");
            } else {
                // Set aside for ever: nothing is accepted, so no echo.
                c.set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
                let mut got = [0u8; 4];
                // A read may be interrupted: io_uring rings this thread made
                // (the Uring selector backend's, above) notify it when the
                // kernel tears them down. Interrupted is not the answer.
                let e = loop {
                    match c.read(&mut got) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        r => break r.expect_err(&what),
                    }
                };
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "{what}: {e}"
                );
            }
            stop.shutdown().unwrap();
            let summary = thread
                .join()
                .unwrap_or_else(|_| panic!("{what}: the server panicked"))
                .unwrap();
            let probes = u64::from(probe.is_some());
            assert_eq!(
                summary.accepted,
                probes + if resumes { 2 } else { 0 },
                "{what}"
            );
        }
    }
}
