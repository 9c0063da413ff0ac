//! End-to-end: the real `ioready` binary, on every backend, over TCP on
//! 127.0.0.1 (servers bind port 0 and print the port they got).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{backends, quoted, run, Proc};
use rustix::process::Signal;

const LONG: Duration = Duration::from_secs(60);

fn echo_server(backend: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["echo-server", "--backend", backend, "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Proc::spawn(&args)
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

#[test]
fn multiclient_gets_every_message_back() {
    for backend in backends() {
        let server = echo_server(backend, &[]);
        let addr = server.addr.to_string();
        let out = run(&["client", "--addr", &addr, "--sockets", "2"], LONG);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{backend}: client failed:\n{stdout}");
        let received: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains(": received "))
            .filter_map(quoted)
            .collect();
        // Each socket gets each message, whole or in pieces, in order.
        assert_eq!(
            received.concat(),
            "This is the message. This is the message. It will be sent It will be sent \
             in parts.in parts.",
            "{backend}"
        );
        // The server reports the seeds' events.
        for what in [
            "new connection from ('127.0.0.1', ",
            "received \"This is the message. \" from ('127.0.0.1', ",
            "sending \"in parts.\" to ('127.0.0.1', ",
            "is empty",
            "after reading no data",
        ] {
            assert!(
                server
                    .wait_line(Duration::from_secs(20), |l| l.contains(what))
                    .is_some(),
                "{backend}: server never printed {what:?}"
            );
        }
    }
}

#[test]
fn slow_client_gets_the_whole_text_in_order() {
    for backend in backends() {
        let server = echo_server(backend, &["--timeout", "0.1"]);
        let addr = server.addr.to_string();
        let out = run(&["slow-client", "--addr", &addr, "--pause", "0.1"], LONG);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{backend}: slow client failed:\n{stdout}"
        );
        let text: String = stdout
            .lines()
            .filter(|l| l.starts_with("received "))
            .filter_map(quoted)
            .collect();
        assert_eq!(
            text, "Part one of the message.Part two of the message.",
            "{backend}"
        );
        assert!(
            stdout.lines().last() == Some("closing socket"),
            "{backend}: {stdout}"
        );
    }
}

#[test]
fn timeout_prints_timed_out_while_idle() {
    for backend in backends() {
        let server = echo_server(backend, &["--timeout", "0.1"]);
        for i in 0..3 {
            assert!(
                server
                    .wait_line(Duration::from_secs(20), |l| l
                        == "  timed out, do some other work here")
                    .is_some(),
                "{backend}: timed-out line {i} missing"
            );
        }
    }
}

#[test]
fn a_thousand_concurrent_clients_are_echoed_byte_exact() {
    let limit = ioready_server::raise_fd_limit().expect("raise RLIMIT_NOFILE");
    assert!(
        limit >= 2100,
        "need 2100 descriptors for the test, hard limit is {limit}"
    );
    const N: usize = 1000;
    for backend in backends() {
        let server = echo_server(backend, &["--quiet"]);
        let started = Instant::now();
        let mut clients: Vec<TcpStream> = (0..N).map(|_| connect(server.addr)).collect();
        // Every client is connected before any writes: all 1000 are open at
        // once on the server.
        for (i, c) in clients.iter_mut().enumerate() {
            c.write_all(format!("client {i:04} of {backend}: hello\n").as_bytes())
                .unwrap();
        }
        for (i, c) in clients.iter_mut().enumerate() {
            let want = format!("client {i:04} of {backend}: hello\n");
            let mut got = vec![0u8; want.len()];
            c.read_exact(&mut got)
                .unwrap_or_else(|e| panic!("{backend}: client {i}: {e}"));
            assert_eq!(got, want.as_bytes(), "{backend}: client {i}");
        }
        for c in &clients {
            c.shutdown(Shutdown::Write).unwrap();
        }
        for (i, c) in clients.iter_mut().enumerate() {
            let mut rest = Vec::new();
            c.read_to_end(&mut rest).unwrap();
            assert!(rest.is_empty(), "{backend}: client {i} got extra bytes");
        }
        assert!(started.elapsed() < Duration::from_secs(120));
    }
}

/// Byte `i` of the 64 MiB stream: 251 is prime, so a lost or repeated chunk
/// of any power-of-two size shifts the pattern.
fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

#[test]
fn a_client_that_does_not_read_cannot_grow_the_server_then_gets_everything() {
    const TOTAL: u64 = 64 << 20;
    const LIMIT: u64 = 64 << 20;
    for backend in backends() {
        let server = echo_server(backend, &["--quiet"]);
        let client = connect(server.addr);
        let mut writer = client.try_clone().unwrap();
        let written = Arc::new(AtomicU64::new(0));
        let w = written.clone();
        let sender = std::thread::spawn(move || -> std::io::Result<()> {
            let mut chunk = vec![0u8; 64 * 1024];
            let mut off = 0u64;
            while off < TOTAL {
                for (j, b) in chunk.iter_mut().enumerate() {
                    *b = pattern(off + j as u64);
                }
                writer.write_all(&chunk)?;
                off += chunk.len() as u64;
                w.store(off, Ordering::SeqCst);
            }
            // Half-close: the server must still send everything back.
            writer.shutdown(Shutdown::Write)
        });
        // Wait until the sender is stuck (the server stopped reading), at
        // most 60 s.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = u64::MAX;
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let now = written.load(Ordering::SeqCst);
            if now == last || Instant::now() > deadline {
                break;
            }
            last = now;
        }
        let stuck_at = written.load(Ordering::SeqCst);
        assert!(
            stuck_at < TOTAL,
            "{backend}: all 64 MiB went in without reading: the server buffers without bound"
        );
        let hwm = server.vm_hwm();
        assert!(
            hwm < LIMIT,
            "{backend}: server VmHWM {hwm} bytes while the client does not read"
        );
        // Now read: every byte, in order.
        let mut reader = client;
        let mut buf = vec![0u8; 256 * 1024];
        let mut got = 0u64;
        loop {
            let n = reader.read(&mut buf).expect("read echo");
            if n == 0 {
                break;
            }
            for (j, &b) in buf[..n].iter().enumerate() {
                let at = got + j as u64;
                assert_eq!(b, pattern(at), "{backend}: byte {at} wrong");
            }
            got += n as u64;
            assert!(got <= TOTAL, "{backend}: more bytes than sent");
        }
        sender.join().unwrap().expect("sender");
        assert_eq!(got, TOTAL, "{backend}: bytes lost");
        let hwm = server.vm_hwm();
        assert!(
            hwm < LIMIT,
            "{backend}: server VmHWM {hwm} bytes after the transfer"
        );
    }
}

#[test]
fn time_server_is_within_two_seconds_of_the_clock() {
    let server = Proc::spawn(&["time-server", "--addr", "127.0.0.1:0", "--timeout", "0.2"]);
    let mut s = connect(server.addr);
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert_eq!(answer.len(), 4, "RFC 868 answers four bytes");
    let value = u32::from_be_bytes(answer[..4].try_into().unwrap()) as i64;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expected = (now + 2_208_988_800) % (1 << 32);
    assert!(
        (value - expected).abs() <= 2,
        "server {value}, clock {expected}"
    );
    assert!(server
        .wait_line(Duration::from_secs(20), |l| l
            .starts_with("connection from ('127.0.0.1', "))
        .is_some());
    assert!(server
        .wait_line(Duration::from_secs(20), |l| l == "still waiting")
        .is_some());

    let out = run(&["time-client", "--addr", &server.addr.to_string()], LONG);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let offset_line = stdout
        .lines()
        .find(|l| l.starts_with("offset from the local clock: "))
        .unwrap_or_else(|| panic!("no offset line in {stdout}"));
    let offset: f64 = offset_line["offset from the local clock: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(offset.abs() <= 2.0, "{offset_line}");
}

#[test]
fn connect_reports_refused_and_connected() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().to_string();
    let out = run(&["connect", &open, "--timeout", "5"], LONG);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("connected to "));

    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let out = run(&["connect", &closed, "--timeout", "5"], LONG);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with("refused: "), "{stdout}");
}

#[test]
fn sigterm_and_sigint_end_the_server_with_status_zero() {
    for backend in backends() {
        for sig in [Signal::TERM, Signal::INT] {
            let mut server = echo_server(backend, &[]);
            // A live connection with traffic must not hold the exit back.
            let mut c = connect(server.addr);
            c.write_all(b"ping").unwrap();
            let mut got = [0u8; 4];
            c.read_exact(&mut got).unwrap();
            server.signal(sig);
            let status = server
                .wait_exit(Duration::from_secs(30))
                .unwrap_or_else(|| panic!("{backend}: still running after {sig:?}"));
            assert_eq!(status.code(), Some(0), "{backend}: {sig:?}");
            // The connection was closed by the server.
            let mut rest = Vec::new();
            c.read_to_end(&mut rest).unwrap();
            assert!(rest.is_empty());
        }
    }
}

#[test]
fn past_max_conns_new_connections_are_closed_at_once() {
    for backend in backends() {
        let server = echo_server(backend, &["--quiet", "--max-conns", "2"]);
        let mut a = connect(server.addr);
        let mut b = connect(server.addr);
        for c in [&mut a, &mut b] {
            c.write_all(b"kept").unwrap();
            let mut got = [0u8; 4];
            c.read_exact(&mut got).unwrap();
        }
        let mut third = connect(server.addr);
        let mut rest = Vec::new();
        // Closed by the server: end of file (or a reset), never a hang.
        let _ = third.read_to_end(&mut rest);
        assert!(rest.is_empty());
        assert!(
            common::wait_line(&server.stderr, Duration::from_secs(20), |l| l
                .contains("--max-conns"))
            .is_some(),
            "{backend}: no warning"
        );
        // The first two are still served.
        a.write_all(b"still").unwrap();
        let mut got = [0u8; 5];
        a.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"still");
    }
}

#[test]
fn out_of_descriptors_the_server_keeps_serving_and_does_not_spin() {
    use rustix::process::{getrlimit, prlimit, Pid, Resource, Rlimit};
    // io_uring's accept reads RLIMIT_NOFILE when it is armed, so a limit
    // lowered under a running server applies to it only from its next
    // re-arm: tests/uring.rs runs this scenario on that engine with the
    // limit set before the server starts.
    for backend in backends().into_iter().filter(|b| *b != "uring") {
        let server = echo_server(backend, &["--quiet"]);
        let pid = Pid::from_raw(server.pid()).unwrap();
        let open_fds = std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
            .unwrap()
            .count() as u64;
        // Room for two connections, no more. The hard limit is inherited
        // from this process, unchanged.
        prlimit(
            Some(pid),
            Resource::Nofile,
            Rlimit {
                current: Some(open_fds + 2),
                maximum: getrlimit(Resource::Nofile).maximum,
            },
        )
        .expect("prlimit");
        let mut served: Vec<TcpStream> = (0..2).map(|_| connect(server.addr)).collect();
        for c in &mut served {
            c.write_all(b"in").unwrap();
            let mut got = [0u8; 2];
            c.read_exact(&mut got).unwrap();
        }
        // These complete in the kernel's backlog; accepting them fails.
        let mut waiting: Vec<TcpStream> = (0..5).map(|_| connect(server.addr)).collect();
        assert!(
            common::wait_line(&server.stderr, Duration::from_secs(20), |l| l
                .contains("accept failed"))
            .is_some(),
            "{backend}: no warning on EMFILE"
        );
        // The served connections keep working meanwhile, without a spin.
        server.served_keep_working_without_spinning(&mut served, backend);
        // Free the descriptors: the waiting clients are served.
        served.clear();
        let c = &mut waiting[0];
        c.write_all(b"finally").unwrap();
        let mut got = [0u8; 7];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"finally", "{backend}");
    }
}

#[test]
fn demo_exits_zero() {
    let out = run(&["demo"], LONG);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("every byte came back"), "{stdout}");
    assert!(stdout.contains("[server]   timed out, do some other work here"));
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        "demo",
        "echo-server",
        "client",
        "slow-client",
        "time-server",
        "time-client",
        "connect",
        "bench",
    ] {
        let out = run(&[sub, "--help"], LONG);
        assert!(out.status.success(), "{sub} --help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: ioready"));
    }
    let out = run(&["echo-server", "--backend", "nope"], LONG);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["connect", "127.0.0.1:1", "--timeout", "-1"], LONG);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["echo-server", "--timeout", "0"], LONG);
    assert_eq!(out.status.code(), Some(2));
    // A port in use is a clear error, not a panic.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&["echo-server", "--addr", &addr], LONG);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"));
}
