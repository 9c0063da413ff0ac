//! A line-based service with per-connection state: each connection's lines
//! are numbered (`1: first line`, `2: ...`), and a line that arrives in
//! pieces waits, in that connection's own buffer, for its end.
//!
//! Run: `cargo run -p ioready-server --example line_server [ADDR]`, then
//! e.g. `printf 'one\ntw' ; sleep 1; printf 'o\n' | nc 127.0.0.1 10001`.
//! Add `--features uring` and set `IOREADY_ENGINE=uring` to run it on the
//! io_uring engine. `tests/line_service.rs` runs this service on both
//! engines.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ioready_server::{CloseReason, Config, Conn, Server, Service};

/// A line longer than this is answered in pieces of this size (a client
/// cannot make the server buffer without bound).
pub const MAX_LINE: usize = 4096;

/// The service: numbers the lines of each connection.
#[derive(Debug, Default)]
pub struct NumberedLines {
    /// One entry per closed connection: its peer, how many lines it sent
    /// and why it closed (what `on_close` was told).
    pub closed: Arc<Mutex<Vec<(SocketAddr, u64, String)>>>,
}

/// What the service keeps for one connection.
#[derive(Debug, Default)]
pub struct LineState {
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// Lines answered so far.
    lines: u64,
}

impl NumberedLines {
    fn answer(conn: &mut Conn<'_>, state: &mut LineState, line: &[u8]) {
        state.lines += 1;
        conn.send(format!("{}: ", state.lines).as_bytes());
        conn.send(line);
        conn.send(b"\n");
    }

    /// Answers the buffered line and empties the buffer (keeping its
    /// memory for the next one).
    fn flush_partial(conn: &mut Conn<'_>, state: &mut LineState) {
        let line = std::mem::take(&mut state.partial);
        Self::answer(conn, state, &line);
        state.partial = line;
        state.partial.clear();
    }
}

impl Service for NumberedLines {
    type State = LineState;

    fn on_connect(&mut self, _conn: &mut Conn<'_>) -> LineState {
        LineState::default()
    }

    fn on_data(&mut self, conn: &mut Conn<'_>, state: &mut LineState, data: &[u8]) {
        let mut rest = data;
        loop {
            let end = rest.iter().position(|&b| b == b'\n');
            let mut piece = &rest[..end.unwrap_or(rest.len())];
            if end.is_some() && state.partial.is_empty() && piece.len() < MAX_LINE {
                // A whole line in one read: answered from the read itself.
                Self::answer(conn, state, piece);
            } else {
                // The line goes on in the next read (or is too long):
                // into this connection's buffer, answered MAX_LINE at a
                // time.
                while !piece.is_empty() {
                    let n = (MAX_LINE - state.partial.len()).min(piece.len());
                    state.partial.extend_from_slice(&piece[..n]);
                    piece = &piece[n..];
                    if state.partial.len() == MAX_LINE {
                        Self::flush_partial(conn, state);
                    }
                }
                if end.is_some() {
                    Self::flush_partial(conn, state);
                }
            }
            match end {
                Some(e) => rest = &rest[e + 1..],
                None => return,
            }
        }
    }

    fn on_read_closed(&mut self, conn: &mut Conn<'_>, state: &mut LineState) {
        // A last line without its newline is still a line.
        if !state.partial.is_empty() {
            Self::flush_partial(conn, state);
        }
    }

    fn on_close(&mut self, peer: SocketAddr, state: LineState, reason: &CloseReason<'_>) {
        let mut closed = self.closed.lock().unwrap_or_else(|p| p.into_inner());
        closed.push((peer, state.lines, format!("{reason:?}")));
    }
}

#[allow(dead_code)] // the tests include this file for its service only
fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:10001".into());
    let config = Config {
        engine: engine(),
        handle_signals: true, // SIGINT/SIGTERM: drain and stop
        ..Config::default()
    };
    let service = NumberedLines::default();
    let closed = service.closed.clone();
    let mut server = Server::bind(&addr, config, service)?;
    println!(
        "numbering lines on {} ({})",
        server.local_addr(),
        server.engine()
    );
    let summary = server.run()?;
    for (peer, lines, reason) in closed.lock().unwrap().iter() {
        println!("{peer}: {lines} lines, closed: {reason}");
    }
    println!("{} connections", summary.accepted);
    Ok(())
}

/// `IOREADY_ENGINE=uring` picks the io_uring engine (built with the
/// feature `uring`), anything else the readiness engine.
#[allow(dead_code)]
fn engine() -> ioready_server::Engine {
    #[cfg(feature = "uring")]
    if std::env::var("IOREADY_ENGINE").as_deref() == Ok("uring") {
        return ioready_server::Engine::Uring;
    }
    ioready_server::Engine::default()
}
