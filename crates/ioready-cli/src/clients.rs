//! The tutorials' clients, the RFC 868 time client and the non-blocking
//! connect. Each prints its lines through `out`, so the demo can prefix
//! them.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ioready_server::rfc868;

use crate::transcript::{Bytes, PyAddr};

/// The multi-socket client's messages (PyMOTW).
pub const MESSAGES: [&str; 3] = ["This is the message. ", "It will be sent ", "in parts."];

/// The slow client's messages (PyMOTW).
pub const SLOW_MESSAGES: [&str; 2] = ["Part one of the message.", "Part two of the message."];

/// No client waits longer than this for an echo.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn open(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Reads until `want` bytes came (printing each read as `received`), or end
/// of file. Returns what came.
fn read_echo(
    s: &mut TcpStream,
    want: usize,
    chunk: usize,
    label: &str,
    out: &mut dyn FnMut(&str),
) -> io::Result<Vec<u8>> {
    let mut got = Vec::with_capacity(want);
    let mut buf = vec![0u8; chunk];
    while got.len() < want {
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            out(&format!("{label}closing socket after reading no data"));
            break;
        }
        out(&format!("{label}received {}", Bytes(&buf[..n])));
        got.extend_from_slice(&buf[..n]);
    }
    Ok(got)
}

/// PyMOTW's `select_echo_multiclient.py`: `sockets` connections; each
/// message is sent over every socket, then every echo is read. Returns true
/// if every byte came back in order and the server then closed cleanly.
///
/// Unlike the tutorial (one `recv(1024)`, which may return part of a message),
/// it reads until the whole message is back.
pub fn multiclient(
    addr: SocketAddr,
    sockets: usize,
    out: &mut dyn FnMut(&str),
) -> io::Result<bool> {
    out(&format!("connecting to {} port {}", addr.ip(), addr.port()));
    let mut socks = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let s = open(addr)?;
        let local = s.local_addr()?;
        socks.push((s, format!("{}: ", PyAddr(local))));
    }
    let mut ok = true;
    for message in MESSAGES {
        for (s, label) in &mut socks {
            out(&format!("{label}sending {}", Bytes(message.as_bytes())));
            s.write_all(message.as_bytes())?;
        }
        for (s, label) in &mut socks {
            let got = read_echo(s, message.len(), 1024, label, out)?;
            if got != message.as_bytes() {
                out(&format!(
                    "{label}error: expected {}, got {}",
                    Bytes(message.as_bytes()),
                    Bytes(&got)
                ));
                ok = false;
            }
        }
    }
    // The server must send nothing more and close once we do.
    for (s, label) in &mut socks {
        s.shutdown(Shutdown::Write)?;
        let mut rest = Vec::new();
        s.read_to_end(&mut rest)?;
        if !rest.is_empty() {
            out(&format!(
                "{label}error: unexpected extra bytes {}",
                Bytes(&rest)
            ));
            ok = false;
        }
    }
    Ok(ok)
}

/// PyMOTW's `select_echo_slow_client.py`: wait `pause`, send each message
/// followed by a wait of 1.5 × `pause`, then read the echo 16 bytes at a
/// time. Returns true if the whole text came back in order.
pub fn slow_client(
    addr: SocketAddr,
    pause: Duration,
    out: &mut dyn FnMut(&str),
) -> io::Result<bool> {
    out(&format!("connecting to {} port {}", addr.ip(), addr.port()));
    let mut sock = open(addr)?;
    std::thread::sleep(pause);
    let expected: String = SLOW_MESSAGES.concat();
    let result = (|| {
        for message in SLOW_MESSAGES {
            out(&format!("sending {}", Bytes(message.as_bytes())));
            sock.write_all(message.as_bytes())?;
            std::thread::sleep(one_and_a_half(pause));
        }
        read_echo(&mut sock, expected.len(), 16, "", out)
    })();
    out("closing socket");
    let got = result?;
    if got != expected.as_bytes() {
        out(&format!(
            "error: expected {}, got {}",
            Bytes(expected.as_bytes()),
            Bytes(&got)
        ));
        return Ok(false);
    }
    Ok(true)
}

/// 1.5 × `pause`, saturating at `Duration::MAX` (`mul_f64` panics on
/// overflow, and `--pause` takes values up to `Duration::MAX`).
fn one_and_a_half(pause: Duration) -> Duration {
    pause.saturating_add(pause / 2)
}

/// RFC 868 client: read the four bytes, print the time and its offset from
/// the local clock.
pub fn time_client(addr: SocketAddr, out: &mut dyn FnMut(&str)) -> io::Result<()> {
    let mut s = open(addr)?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    let local = SystemTime::now();
    let bytes: [u8; 4] = answer.as_slice().try_into().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("expected 4 bytes (RFC 868), got {}", answer.len()),
        )
    })?;
    let value = u32::from_be_bytes(bytes);
    let unix = rfc868::decode(value)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let local_secs = local
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    out(&format!(
        "time: {} UTC (RFC 868 value {value})",
        format_utc(unix)
    ));
    out(&format!(
        "offset from the local clock: {:+.1} s (the server sends whole seconds)",
        unix as f64 - local_secs
    ));
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` of Unix seconds (proleptic Gregorian, UTC).
pub fn format_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// How a non-blocking connect ended.
#[derive(Debug)]
pub enum ConnectOutcome {
    /// Writable with no pending error.
    Connected(SocketAddr),
    /// `ECONNREFUSED`.
    Refused(io::Error),
    /// Nothing within the timeout.
    TimedOut,
    /// Any other error.
    Failed(io::Error),
}

/// Starts a non-blocking connect to `addr` and settles it with `select()`:
/// writable (or exceptional) means the attempt is over, and `SO_ERROR` tells
/// how.
pub fn connect_nonblocking(addr: SocketAddr, timeout: Duration) -> ConnectOutcome {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = match Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)) {
        Ok(s) => s,
        Err(e) => return ConnectOutcome::Failed(e),
    };
    if let Err(e) = sock.set_nonblocking(true) {
        return ConnectOutcome::Failed(e);
    }
    match sock.connect(&addr.into()) {
        Ok(()) => return ConnectOutcome::Connected(addr),
        Err(e) if e.raw_os_error() == Some(rustix_einprogress()) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return classify(e),
    }
    let socks = [&sock];
    let ready = match ioready::select(&[] as &[&Socket], &socks, &socks, Some(timeout)) {
        Ok(r) => r,
        Err(e) => return ConnectOutcome::Failed(e),
    };
    if ready.is_empty() {
        return ConnectOutcome::TimedOut;
    }
    match sock.take_error() {
        Ok(None) => ConnectOutcome::Connected(addr),
        Ok(Some(e)) | Err(e) => classify(e),
    }
}

fn rustix_einprogress() -> i32 {
    rustix::io::Errno::INPROGRESS.raw_os_error()
}

fn classify(e: io::Error) -> ConnectOutcome {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        ConnectOutcome::Refused(e)
    } else {
        ConnectOutcome::Failed(e)
    }
}

/// `ioready connect`: tries each address of `target` in turn; prints the
/// outcome and returns the exit code (0 connected, 1 refused, 3 timed out,
/// 4 other failure).
pub fn connect(target: &str, timeout: Duration) -> i32 {
    let addrs: Vec<SocketAddr> = match target.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            crate::out::stdout_line(&format!("failed: cannot resolve {target:?}: {e}"));
            return 4;
        }
    };
    if addrs.is_empty() {
        crate::out::stdout_line(&format!("failed: {target:?} resolves to no address"));
        return 4;
    }
    let mut code = 4;
    for addr in addrs {
        let (line, c) = match connect_nonblocking(addr, timeout) {
            ConnectOutcome::Connected(a) => (format!("connected to {a}"), 0),
            ConnectOutcome::Refused(e) => (format!("refused: {addr}: {e}"), 1),
            ConnectOutcome::TimedOut => (
                format!("timed out: {addr}: no answer within {:?}", timeout),
                3,
            ),
            ConnectOutcome::Failed(e) => (format!("failed: {addr}: {e}"), 4),
        };
        crate::out::stdout_line(&line);
        code = c;
        if c == 0 {
            break;
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slow_clients_pause_saturates() {
        assert_eq!(one_and_a_half(Duration::ZERO), Duration::ZERO);
        assert_eq!(
            one_and_a_half(Duration::from_secs(1)),
            Duration::from_millis(1500)
        );
        assert_eq!(one_and_a_half(Duration::MAX), Duration::MAX);
        // The largest --pause the command accepts.
        let max = crate::args::parse_secs("18446744073709549568").unwrap();
        assert_eq!(one_and_a_half(max), Duration::MAX);
    }
}
