//! Per-connection state, end to end: the line service of
//! `examples/line_server.rs` (each connection's lines numbered, a partial
//! line kept in that connection's state until its end arrives, `on_close`
//! told why) on the readiness engine and on the io_uring engine, with
//! several clients whose lines arrive in pieces, interleaved.

#[path = "../examples/line_server.rs"]
mod line_server;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use ioready_server::{Config, Engine, Server};
use line_server::{NumberedLines, MAX_LINE};

fn engines() -> Vec<Engine> {
    #[allow(unused_mut)]
    let mut engines = vec![Engine::default()];
    #[cfg(all(feature = "uring", target_os = "linux"))]
    engines.push(Engine::Uring);
    engines
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// What the service answers to `text`.
fn numbered(text: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut push = |line: &str| {
        n += 1;
        out.push_str(&format!("{n}: {line}\n"));
    };
    let mut rest = text;
    while let Some(end) = rest.find('\n') {
        let mut line = &rest[..end];
        while line.len() >= MAX_LINE {
            push(&line[..MAX_LINE]);
            line = &line[MAX_LINE..];
        }
        push(line);
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() {
        push(rest);
    }
    out
}

#[test]
fn lines_in_pieces_keep_their_state_per_connection_on_every_engine() {
    let long = format!("{}\n", "a".repeat(2 * MAX_LINE + 100));
    let texts: Vec<String> = vec![
        "alpha\nbeta\ngamma\n".into(),
        "one\ntwo\nthree\nfour\n".into(),
        "x\n\ny\nlast without a newline".into(),
        format!("before\n{long}after\n"),
    ];
    for engine in engines() {
        let service = NumberedLines::default();
        let closed = service.closed.clone();
        let config = Config {
            engine,
            ..Config::default()
        };
        let mut server = Server::bind("127.0.0.1:0", config, service).unwrap();
        assert_eq!(
            server.engine(),
            engine,
            "{engine} refused here: {:?}",
            server.fallback()
        );
        let addr = server.local_addr();
        let stop = server.shutdown_handle();
        let thread = std::thread::spawn(move || server.run());

        let mut clients: Vec<TcpStream> = texts.iter().map(|_| connect(addr)).collect();
        // One more, with half a line and still open when the server stops.
        let mut idle = connect(addr);
        idle.write_all(b"unfinished").unwrap();
        // Interleaved pieces of 1 to 4 bytes (the long line in bigger
        // ones), a pause between rounds, so that lines arrive split.
        let mut sent = vec![0; texts.len()];
        let mut round = 0;
        while sent.iter().zip(&texts).any(|(&s, t)| s < t.len()) {
            for (c, text) in texts.iter().enumerate() {
                let piece = if text.len() > MAX_LINE {
                    1000
                } else {
                    1 + (c + round) % 4
                };
                let end = (sent[c] + piece).min(text.len());
                clients[c]
                    .write_all(&text.as_bytes()[sent[c]..end])
                    .unwrap();
                sent[c] = end;
            }
            round += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        for (c, text) in texts.iter().enumerate() {
            clients[c].shutdown(Shutdown::Write).unwrap();
            let mut got = String::new();
            clients[c].read_to_string(&mut got).unwrap();
            assert_eq!(got, numbered(text), "{engine}: client {c}");
        }
        stop.shutdown().unwrap();
        let summary = thread.join().unwrap().unwrap();
        assert_eq!(summary.accepted, texts.len() as u64 + 1);

        // on_close ran once per connection, with its state and its reason:
        // the idle one closed by the shutdown, with no line answered.
        let closed = closed.lock().unwrap();
        assert_eq!(closed.len(), texts.len() + 1, "{engine}: {closed:?}");
        let me = idle.local_addr().unwrap();
        let (_, lines, reason) = closed.iter().find(|(peer, _, _)| *peer == me).unwrap();
        assert_eq!((*lines, reason.as_str()), (0, "Shutdown(0)"), "{engine}");
        let mut rest = Vec::new();
        idle.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{engine}: {rest:?}");
        for (c, (text, client)) in texts.iter().zip(&clients).enumerate() {
            let me = client.local_addr().unwrap();
            let (_, lines, reason) = closed
                .iter()
                .find(|(peer, _, _)| *peer == me)
                .unwrap_or_else(|| panic!("{engine}: no on_close for client {c}: {closed:?}"));
            assert_eq!(
                *lines,
                numbered(text).lines().count() as u64,
                "{engine}: client {c}"
            );
            assert_eq!(reason, "Eof", "{engine}: client {c}");
        }
    }
}
