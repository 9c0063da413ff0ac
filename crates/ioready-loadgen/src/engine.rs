//! The load loop: every connection on one ioready [`Selector`],
//! single-threaded and level-triggered.
//!
//! Each connection keeps `pipeline` messages in flight (closed loop): when an
//! echo has come back whole and matched the expected bytes, the next message
//! is sent. Sends are written at once; only bytes the socket did not take
//! make the connection ask for `WRITABLE`, until they are gone.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ioready::{Backend, Events, Interest, Selector, Token};

use crate::pattern;

/// How long a run lasts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// Warm up, then measure for `duration`; in-flight messages are drained
    /// (and checked) at the end, but not counted.
    Timed {
        warmup: Duration,
        duration: Duration,
    },
    /// Every connection does exactly `round_trips` round trips, then stops.
    Fixed { round_trips: u64 },
}

/// One request in flight at a time, across all connections.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Isolation {
    /// Pause before each request.
    pub gap: Duration,
    /// Send only once this process is asleep (blocked in its wait).
    pub server_pid: Option<u32>,
}

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub addr: SocketAddr,
    pub connections: usize,
    pub size: usize,
    pub pipeline: usize,
    pub mode: Mode,
    pub isolation: Option<Isolation>,
    pub backend: Backend,
    /// Nothing of the run may last past this (connects, load, drain).
    pub deadline: Instant,
    /// Time allowed after the measurement for in-flight echoes to return.
    pub drain: Duration,
    pub progress: bool,
}

/// Error counts of a run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Errors {
    /// Connections that could not be established.
    pub connect: u64,
    /// Read or write errors (connection reset, ...).
    pub io: u64,
    /// Connections the server closed while echoes were owed.
    pub closed: u64,
    /// Echoes whose bytes differed from what was sent.
    pub verify: u64,
    /// Messages still unanswered when the run had to end.
    pub unanswered: u64,
    /// The first error seen, for the report.
    pub first: Option<String>,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.connect + self.io + self.closed + self.verify + self.unanswered
    }

    fn note(&mut self, what: String) {
        if self.first.is_none() {
            self.first = Some(what);
        }
    }
}

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub connected: usize,
    pub connect_time: Duration,
    /// Length of the measured window.
    pub measured: Duration,
    /// Round trips completed (and verified) inside the window.
    pub round_trips: u64,
    /// Round trips completed in the whole run, warm-up included.
    pub all_round_trips: u64,
    /// Latency of the counted round trips, in nanoseconds.
    pub latency: Histogram<u64>,
    pub errors: Errors,
}

struct Conn {
    stream: TcpStream,
    id: u32,
    /// Messages generated (the sequence number of the next one).
    sent: u64,
    /// Messages received whole and verified.
    received: u64,
    out: Vec<u8>,
    out_off: usize,
    /// The message expected next, and how many of its bytes arrived.
    expect: Vec<u8>,
    got: usize,
    /// Send times of the in-flight messages, by `seq % pipeline`.
    sent_at: Vec<Instant>,
    wants_writable: bool,
    alive: bool,
}

impl Conn {
    fn in_flight(&self) -> u64 {
        self.sent - self.received
    }
}

fn connect_all(cfg: &Config, errors: &mut Errors) -> io::Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(cfg.connections);
    for i in 0..cfg.connections {
        let left = cfg.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            errors.connect += (cfg.connections - i) as u64;
            errors.note("the time limit ran out while connecting".into());
            break;
        }
        let stream = match TcpStream::connect_timeout(&cfg.addr, left.min(Duration::from_secs(5))) {
            Ok(s) => s,
            Err(e) => {
                errors.connect += 1;
                errors.note(format!("connect to {}: {e}", cfg.addr));
                // A refused first connection means no server: stop at once.
                if conns.is_empty() {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot connect to {}: {e}", cfg.addr),
                    ));
                }
                continue;
            }
        };
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        // Connects complete in the kernel without the server running; a
        // pause now and then lets a server that shares our core accept, so
        // that its listen backlog never overflows (a dropped SYN costs a
        // 1 s retransmission).
        if i % 256 == 255 {
            std::thread::sleep(Duration::from_millis(1));
        }
        conns.push(Conn {
            stream,
            id: i as u32,
            sent: 0,
            received: 0,
            out: Vec::with_capacity(cfg.size * cfg.pipeline),
            out_off: 0,
            expect: vec![0; cfg.size],
            got: 0,
            sent_at: vec![Instant::now(); cfg.pipeline],
            wants_writable: false,
            alive: true,
        });
    }
    Ok(conns)
}

/// True once `pid` is asleep (state `S`: blocked, which for an event loop
/// means in its wait), or after `limit`; errors if the process is gone.
fn wait_until_asleep(pid: u32, limit: Duration) -> io::Result<()> {
    let path = format!("/proc/{pid}/stat");
    let start = Instant::now();
    loop {
        let stat = std::fs::read_to_string(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("server pid {pid}: {e}")))?;
        // The state is the first field after the command name in parentheses.
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next());
        if state == Some("S") || start.elapsed() >= limit {
            return Ok(());
        }
        std::thread::sleep(Duration::from_micros(20));
    }
}

struct Run<'a> {
    cfg: &'a Config,
    selector: Selector,
    conns: Vec<Conn>,
    errors: Errors,
    latency: Histogram<u64>,
    /// The window in which completions are counted.
    window: (Instant, Instant),
    /// False once no new message may be sent.
    sending: bool,
    in_flight: u64,
    counted: u64,
    completed: u64,
}

impl Run<'_> {
    fn may_send(&self, c: &Conn) -> bool {
        if !self.sending || !c.alive || self.cfg.isolation.is_some() {
            return false;
        }
        if let Mode::Fixed { round_trips } = self.cfg.mode {
            if c.sent >= round_trips {
                return false;
            }
        }
        c.in_flight() < self.cfg.pipeline as u64
    }

    /// Appends the next message of connection `i` to its output.
    fn push_message(&mut self, i: usize, now: Instant) {
        let size = self.cfg.size;
        let pipeline = self.cfg.pipeline as u64;
        let c = &mut self.conns[i];
        let start = c.out.len();
        c.out.resize(start + size, 0);
        pattern::fill(&mut c.out[start..], c.id, c.sent);
        c.sent_at[(c.sent % pipeline) as usize] = now;
        c.sent += 1;
        self.in_flight += 1;
    }

    fn fail(&mut self, i: usize, what: String) {
        let c = &mut self.conns[i];
        if !c.alive {
            return;
        }
        c.alive = false;
        self.in_flight -= c.in_flight();
        self.errors.note(what);
        let _ = self.selector.registry().deregister(&c.stream);
    }

    /// Writes what is pending and asks for `WRITABLE` only while something is.
    fn flush(&mut self, i: usize) {
        let c = &mut self.conns[i];
        while c.out_off < c.out.len() {
            match c.stream.write(&c.out[c.out_off..]) {
                Ok(n) => c.out_off += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.errors.io += 1;
                    let what = format!("write on connection {}: {e}", c.id);
                    self.fail(i, what);
                    return;
                }
            }
        }
        if c.out_off == c.out.len() {
            c.out.clear();
            c.out_off = 0;
        }
        let pending = !c.out.is_empty();
        if pending != c.wants_writable {
            let interest = if pending {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if let Err(e) = self
                .selector
                .registry()
                .reregister(&c.stream, Token(i), interest)
            {
                self.errors.io += 1;
                let what = format!("reregister connection {}: {e}", c.id);
                self.fail(i, what);
                return;
            }
            self.conns[i].wants_writable = pending;
        }
    }

    /// One read, then checks every byte against the expected messages.
    fn on_readable(&mut self, i: usize, buf: &mut [u8], now: Instant) {
        let n = match self.conns[i].stream.read(buf) {
            Ok(0) => {
                let c = &self.conns[i];
                if c.in_flight() > 0 || c.got > 0 {
                    self.errors.closed += 1;
                    let what = format!(
                        "the server closed connection {} with {} echoes owed",
                        c.id,
                        c.in_flight()
                    );
                    self.fail(i, what);
                } else {
                    // Nothing owed: leave quietly (no more sends on it).
                    let c = &mut self.conns[i];
                    c.alive = false;
                    let _ = self.selector.registry().deregister(&c.stream);
                }
                return;
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => return,
            Err(e) => {
                self.errors.io += 1;
                let what = format!("read on connection {}: {e}", self.conns[i].id);
                self.fail(i, what);
                return;
            }
        };
        let size = self.cfg.size;
        let pipeline = self.cfg.pipeline as u64;
        let mut data = &buf[..n];
        while !data.is_empty() {
            let c = &mut self.conns[i];
            if c.in_flight() == 0 {
                self.errors.verify += 1;
                let what = format!(
                    "connection {}: {} bytes arrived that were never sent",
                    c.id,
                    data.len()
                );
                self.fail(i, what);
                return;
            }
            if c.got == 0 {
                pattern::fill(&mut c.expect, c.id, c.received);
            }
            let take = data.len().min(size - c.got);
            if data[..take] != c.expect[c.got..c.got + take] {
                self.errors.verify += 1;
                let what = format!(
                    "connection {}: echo of message {} differs from what was sent",
                    c.id, c.received
                );
                self.fail(i, what);
                return;
            }
            c.got += take;
            data = &data[take..];
            if c.got == size {
                c.got = 0;
                let sent_at = c.sent_at[(c.received % pipeline) as usize];
                c.received += 1;
                self.in_flight -= 1;
                self.completed += 1;
                if now >= self.window.0 && now < self.window.1 {
                    self.counted += 1;
                    let ns = now.saturating_duration_since(sent_at).as_nanos() as u64;
                    self.latency.saturating_record(ns.max(1));
                }
            }
        }
        while self.may_send(&self.conns[i]) {
            self.push_message(i, now);
        }
        self.flush(i);
    }

    /// The next connection with work left, round-robin from `from`.
    fn next_isolated(&self, from: usize) -> Option<usize> {
        let n = self.conns.len();
        (0..n).map(|k| (from + k) % n).find(|&i| {
            let c = &self.conns[i];
            c.alive
                && match self.cfg.mode {
                    Mode::Fixed { round_trips } => c.sent < round_trips,
                    Mode::Timed { .. } => true,
                }
        })
    }
}

/// Connects, runs the load, drains, closes.
pub(crate) fn run(cfg: &Config) -> io::Result<Outcome> {
    let mut errors = Errors::default();
    let t0 = Instant::now();
    let conns = connect_all(cfg, &mut errors)?;
    let connect_time = t0.elapsed();
    let connected = conns.len();

    let selector = Selector::with_backend(cfg.backend)?;
    for (i, c) in conns.iter().enumerate() {
        selector
            .registry()
            .register(&c.stream, Token(i), Interest::READABLE)?;
    }
    let latency = Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
        .map_err(|e| io::Error::other(format!("histogram: {e}")))?;

    if let Some(iso) = cfg.isolation {
        // Let the server take in the connections before the first request.
        std::thread::sleep(Duration::from_millis(50));
        if let Some(pid) = iso.server_pid {
            wait_until_asleep(pid, Duration::from_secs(2))?;
        }
    }

    let start = Instant::now();
    let (window, stop_sending) = match cfg.mode {
        Mode::Timed { warmup, duration } => {
            let w0 = start + warmup;
            ((w0, w0 + duration), Some(w0 + duration))
        }
        Mode::Fixed { .. } => ((start, cfg.deadline), None),
    };
    let mut run = Run {
        cfg,
        selector,
        conns,
        errors,
        latency,
        window,
        sending: true,
        in_flight: 0,
        counted: 0,
        completed: 0,
    };

    let bar = progress_bar(cfg, connected);
    let mut last_tick = start;
    let mut buf = vec![0u8; 64 * 1024];
    let mut events = Events::with_capacity(1024);
    let mut next = 0usize;
    let mut drain_deadline = None::<Instant>;

    // Fill every pipeline.
    if cfg.isolation.is_none() {
        for i in 0..run.conns.len() {
            while run.may_send(&run.conns[i]) {
                run.push_message(i, start);
            }
            run.flush(i);
        }
    }

    let end;
    loop {
        let now = Instant::now();
        if run.sending {
            if let Some(stop) = stop_sending {
                if now >= stop {
                    run.sending = false;
                }
            }
        }
        if run.sending && run.in_flight == 0 {
            if let Some(iso) = cfg.isolation {
                match run.next_isolated(next) {
                    Some(i) => {
                        next = i + 1;
                        std::thread::sleep(iso.gap);
                        if let Some(pid) = iso.server_pid {
                            wait_until_asleep(pid, Duration::from_secs(1))?;
                        }
                        let t = Instant::now();
                        run.push_message(i, t);
                        run.flush(i);
                        continue;
                    }
                    None => run.sending = false,
                }
            } else {
                // Pipelines refill as echoes return, so nothing in flight
                // means every connection did its round trips (or failed).
                run.sending = false;
            }
        }
        if !run.sending && run.in_flight == 0 {
            end = now;
            break;
        }
        if !run.sending && drain_deadline.is_none() {
            drain_deadline = Some((now + cfg.drain).min(cfg.deadline));
        }
        let limit = drain_deadline.unwrap_or(cfg.deadline);
        if now >= limit {
            end = now;
            break;
        }
        if now.duration_since(last_tick) >= Duration::from_millis(100) {
            last_tick = now;
            tick(&bar, cfg, &run, now, start);
        }
        let mut wake = limit.min(now + Duration::from_millis(100));
        if let Some(stop) = stop_sending {
            if run.sending {
                wake = wake.min(stop);
            }
        }
        run.selector
            .select(&mut events, Some(wake.saturating_duration_since(now)))?;
        let now = Instant::now();
        for ev in events.iter() {
            let i = ev.token().0;
            if !run.conns[i].alive {
                continue;
            }
            if ev.is_readable() || ev.is_error() || ev.is_read_closed() {
                run.on_readable(i, &mut buf, now);
            }
            if ev.is_writable() && run.conns[i].alive {
                run.flush(i);
            }
        }
    }
    bar.finish_and_clear();

    let unanswered = run.in_flight;
    if unanswered > 0 {
        run.errors.unanswered = unanswered;
        run.errors.note(format!(
            "{unanswered} messages were still unanswered when the run ended"
        ));
    }
    let measured = match cfg.mode {
        Mode::Timed { .. } => run.window.1 - run.window.0,
        Mode::Fixed { .. } => end - start,
    };
    // Close every connection; the server sees an orderly end of stream.
    for c in &run.conns {
        if c.alive {
            let _ = run.selector.registry().deregister(&c.stream);
        }
    }
    let Run {
        errors,
        latency,
        counted,
        completed,
        ..
    } = run;
    Ok(Outcome {
        connected,
        connect_time,
        measured,
        round_trips: counted,
        all_round_trips: completed,
        latency,
        errors,
    })
}

fn progress_bar(cfg: &Config, connected: usize) -> ProgressBar {
    if !cfg.progress {
        return ProgressBar::hidden();
    }
    let (len, template) = match cfg.mode {
        Mode::Timed { warmup, duration } => (
            (warmup + duration).as_millis() as u64,
            "{spinner} [{elapsed_precise}] {wide_bar} {msg}",
        ),
        Mode::Fixed { round_trips } => (
            round_trips.saturating_mul(connected as u64),
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
        ),
    };
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

fn tick(bar: &ProgressBar, cfg: &Config, run: &Run<'_>, now: Instant, start: Instant) {
    match cfg.mode {
        Mode::Timed { .. } => {
            bar.set_position(now.duration_since(start).as_millis() as u64);
            let phase = if now < run.window.0 {
                "warm-up"
            } else {
                "measuring"
            };
            bar.set_message(format!(
                "{phase}: {} round trips, {} errors",
                run.completed,
                run.errors.total()
            ));
        }
        Mode::Fixed { .. } => {
            bar.set_position(run.completed);
            bar.set_message(format!("{} errors", run.errors.total()));
        }
    }
}
