//! `ioready demo`: the tutorials' transcripts, live. An echo server on
//! 127.0.0.1 (any free port) in a thread, the multi-socket client and then
//! the slow client against it; every line prefixed by who printed it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ioready::Backend;
use ioready_server::{Config, Echo, Engine, Server, ServerEvent};

use crate::{clients, out, transcript};

/// The server's timeout: short, so "timed out" lines show during the slow
/// client's pauses.
const TICK: Duration = Duration::from_millis(300);
/// The slow client's pause (the tutorial's is 1 s).
const PAUSE: Duration = Duration::from_millis(400);

pub fn run((engine, backend): (Engine, Backend)) -> Result<i32, String> {
    let started = Instant::now();
    let config = Config {
        backend,
        engine,
        tick: Some(TICK),
        trace: true,
        ..Config::default()
    };
    let echoed = Arc::new(AtomicU64::new(0));
    let echoed_in_server = echoed.clone();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let server = Server::bind("127.0.0.1:0", config, Echo)
        .map_err(|e| format!("demo: cannot start the echo server: {e}"))?
        .with_observer(move |e: &ServerEvent<'_>| {
            if let ServerEvent::Sent(_, data) = e {
                echoed_in_server.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            out::stdout_line(&format!("[server] {}", transcript::echo_line(e)));
            if let ServerEvent::Starting(_) = e {
                let _ = started_tx.send(());
            }
        });
    let addr = server.local_addr();
    let serving_on = match server.engine() {
        Engine::Readiness => format!("{} backend", server.backend()),
        e => format!("{e} engine"),
    };
    let stop = server.shutdown_handle();
    let mut server = server;
    let thread = std::thread::Builder::new()
        .name("echo-server".into())
        .spawn(move || server.run())
        .map_err(|e| format!("demo: cannot start the server thread: {e}"))?;

    // Let the server print its first line before the clients print theirs.
    let _ = started_rx.recv_timeout(Duration::from_secs(5));
    out::stdout_line(&format!(
        "demo: echo server on {addr} ({serving_on}); first the multi-socket client, \
         then the slow client"
    ));
    let multi = clients::multiclient(addr, 2, &mut |l| out::stdout_line(&format!("[client] {l}")));
    let slow = clients::slow_client(addr, PAUSE, &mut |l| {
        out::stdout_line(&format!("[slow-client] {l}"))
    });

    let _ = stop.shutdown();
    let summary = match thread.join() {
        Ok(r) => r.map_err(|e| format!("demo: the server failed: {e}"))?,
        Err(_) => return Err("demo: the server thread panicked".into()),
    };
    let expected_bytes =
        2 * clients::MESSAGES.concat().len() + clients::SLOW_MESSAGES.concat().len();
    let multi_ok = report("multi-socket client", multi);
    let slow_ok = report("slow client", slow);
    let all = multi_ok
        && slow_ok
        && summary.bytes_in == expected_bytes as u64
        && summary.bytes_out == expected_bytes as u64
        && echoed.load(Ordering::Relaxed) == expected_bytes as u64;
    out::stdout_line(&format!(
        "demo: {} connections, {} bytes sent, {} bytes echoed back, in {:.1} s: {}",
        summary.accepted,
        summary.bytes_in,
        summary.bytes_out,
        started.elapsed().as_secs_f64(),
        if all {
            "every byte came back"
        } else {
            "BYTES WERE LOST"
        }
    ));
    Ok(if all { 0 } else { 1 })
}

fn report(who: &str, result: std::io::Result<bool>) -> bool {
    match result {
        Ok(true) => true,
        Ok(false) => {
            out::stdout_line(&format!(
                "demo: the {who} got back something else than it sent"
            ));
            false
        }
        Err(e) => {
            out::stdout_line(&format!("demo: the {who} failed: {e}"));
            false
        }
    }
}
