//! The load generator behind `ioready bench`: N connections in closed-loop
//! ping-pong against an echo server, every echo checked byte for byte,
//! throughput and HDR-histogram latency.
//!
//! It runs on ioready's own [`Selector`](ioready::Selector), single-threaded
//! and level-triggered, so it is also a small showcase of the library.
//!
//! Three ways to run:
//!
//! * timed (default): warm up, then measure for `--duration`;
//! * fixed work (`--round-trips N`): every connection does exactly N round
//!   trips, then stops, for deterministic syscall and instruction counts;
//! * isolated (`--isolated`): one request in flight at a time across all
//!   connections, each sent after `--gap-us` and (with `--server-pid`) only
//!   once the server is blocked in its wait, so that every round trip pays a
//!   full wake-up.

mod engine;
mod pattern;

use std::io::{self, IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use engine::{Config, Isolation, Mode, Outcome};

/// Most bytes all connections may keep in buffers together.
const MAX_BUFFERED: usize = 1 << 30;

/// Options of `ioready bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Address of the echo server to load.
    #[arg(long, default_value = "127.0.0.1:10000")]
    pub addr: String,
    /// Number of connections (1 to 1000000).
    #[arg(short = 'c', long, default_value_t = 64, value_parser = count(1, 1_000_000))]
    pub connections: usize,
    /// Message size in bytes (1 to 16777216).
    #[arg(short = 's', long, default_value_t = 64, value_parser = count(1, 16 << 20))]
    pub size: usize,
    /// Messages in flight per connection (1 to 4096).
    #[arg(short = 'p', long, default_value_t = 1, value_parser = count(1, 4096))]
    pub pipeline: usize,
    /// Seconds measured (after the warm-up; 0 to 86400).
    #[arg(short = 'd', long, default_value_t = 3.0, value_parser = seconds_arg)]
    pub duration: f64,
    /// Seconds of load before the measurement starts (0 to 86400).
    #[arg(short = 'w', long, default_value_t = 1.0, value_parser = seconds_arg)]
    pub warmup: f64,
    /// Fixed work: every connection does exactly this many round trips, then
    /// stops (no warm-up, no duration). 0 connects and closes only: the
    /// baseline to subtract.
    #[arg(short = 'n', long)]
    pub round_trips: Option<u64>,
    /// One request in flight at a time, across all connections.
    #[arg(long)]
    pub isolated: bool,
    /// Isolated mode: microseconds to pause before each request (at most
    /// 10000000).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(..=10_000_000))]
    pub gap_us: u64,
    /// Isolated mode: send each request only once this process (the server)
    /// is asleep, i.e. blocked in its wait (read from /proc/PID/stat).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Hard limit on the whole run in seconds, connects and drain included
    /// (more than 0, at most 86400). Default: warm-up + duration + 30
    /// (timed), 120 (fixed work).
    #[arg(long, value_parser = seconds_arg)]
    pub timeout: Option<f64>,
    /// Backend of the load generator's own selector. Not taken from
    /// IOREADY_BACKEND: the client of a benchmark stays the same when the
    /// server's backend changes.
    #[arg(long, default_value = "epoll", value_parser = ["auto", "select", "poll", "epoll", "kqueue", "uring"])]
    pub backend: String,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bar (it is also hidden when stdout is not a terminal).
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// A count option: an integer from `lo` to `hi`.
fn count(lo: u64, hi: u64) -> impl clap::builder::TypedValueParser<Value = usize> {
    use clap::builder::TypedValueParser;
    // `hi` fits in usize on every platform this runs on (at most 2^24).
    clap::value_parser!(u64)
        .range(lo..=hi)
        .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
}

/// A seconds option: a finite number from 0 to 86400.
fn seconds_arg(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !v.is_finite() || !(0.0..=86_400.0).contains(&v) {
        return Err(format!("expected seconds between 0 and 86400, got {s}"));
    }
    Ok(v)
}

impl LoadArgs {
    /// Checks what the options' own parsers cannot: combinations, and
    /// values set directly rather than parsed (each message names the
    /// option). The address is not resolved here (that is [`run`]'s).
    /// `ioready bench` reports these as usage errors (status 2).
    ///
    /// # Errors
    ///
    /// A message naming the option at fault.
    pub fn check(&self) -> Result<(), String> {
        checked(self).map(drop).map_err(|e| e.to_string())
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn seconds(name: &str, v: f64) -> io::Result<Duration> {
    if !v.is_finite() || !(0.0..=86_400.0).contains(&v) {
        return Err(invalid(format!(
            "--{name}: expected seconds between 0 and 86400, got {v}"
        )));
    }
    Ok(Duration::from_secs_f64(v))
}

/// The options once checked, all but the address.
struct Checked {
    mode: Mode,
    timeout: Duration,
    backend: ioready::Backend,
    isolation: Option<Isolation>,
}

fn checked(args: &LoadArgs) -> io::Result<Checked> {
    if args.connections == 0 || args.connections > 1_000_000 {
        return Err(invalid(format!(
            "--connections: expected 1 to 1000000, got {}",
            args.connections
        )));
    }
    if args.size == 0 || args.size > 16 << 20 {
        return Err(invalid(format!(
            "--size: expected 1 to 16777216 bytes, got {}",
            args.size
        )));
    }
    if args.pipeline == 0 || args.pipeline > 4096 {
        return Err(invalid(format!(
            "--pipeline: expected 1 to 4096, got {}",
            args.pipeline
        )));
    }
    let buffered = args
        .connections
        .saturating_mul(args.size)
        .saturating_mul(args.pipeline + 1);
    if buffered > MAX_BUFFERED {
        return Err(invalid(format!(
            "connections x size x (pipeline + 1) = {buffered} bytes of buffers, more than {MAX_BUFFERED}"
        )));
    }
    if args.isolated && args.pipeline != 1 {
        return Err(invalid(
            "--isolated keeps one request in flight: --pipeline must be 1".into(),
        ));
    }
    if args.gap_us > 10_000_000 {
        return Err(invalid(format!(
            "--gap-us: at most 10000000, got {}",
            args.gap_us
        )));
    }
    let warmup = seconds("warmup", args.warmup)?;
    let duration = seconds("duration", args.duration)?;
    let mode = match args.round_trips {
        Some(n) => Mode::Fixed { round_trips: n },
        None if duration.is_zero() => {
            return Err(invalid("--duration must be more than 0".into()));
        }
        None => Mode::Timed { warmup, duration },
    };
    let timeout = match args.timeout {
        Some(t) => seconds("timeout", t)?,
        None => match mode {
            Mode::Timed { .. } => warmup + duration + Duration::from_secs(30),
            Mode::Fixed { .. } => Duration::from_secs(120),
        },
    };
    if timeout.is_zero() {
        return Err(invalid("--timeout must be more than 0".into()));
    }
    let backend: ioready::Backend = args.backend.parse()?;
    let backend = backend
        .check_available()
        .map_err(|e| io::Error::new(e.kind(), format!("--backend {backend}: {e}")))?;
    let isolation = args.isolated.then_some(Isolation {
        gap: Duration::from_micros(args.gap_us),
        server_pid: args.server_pid,
    });
    Ok(Checked {
        mode,
        timeout,
        backend,
        isolation,
    })
}

fn config(args: &LoadArgs) -> io::Result<Config> {
    let c = checked(args)?;
    let addr: SocketAddr = args
        .addr
        .to_socket_addrs()
        .map_err(|e| invalid(format!("--addr {:?}: {e}", args.addr)))?
        .next()
        .ok_or_else(|| invalid(format!("--addr {:?}: no address", args.addr)))?;
    Ok(Config {
        addr,
        connections: args.connections,
        size: args.size,
        pipeline: args.pipeline,
        mode: c.mode,
        isolation: c.isolation,
        backend: c.backend,
        deadline: Instant::now() + c.timeout,
        drain: Duration::from_secs(5),
        progress: !args.quiet && io::stdout().is_terminal(),
    })
}

/// Runs the load and prints its report to stdout; returns the process exit
/// code: 0 if every echo came back intact, 1 if any error was counted.
///
/// # Errors
///
/// * `InvalidInput` for a bad option (the message names it).
/// * `InvalidInput` if the descriptor limit cannot be raised high enough for
///   the connections asked for.
/// * The connect error if not even the first connection succeeds (no
///   server); later connect failures are counted instead.
/// * The error of `setrlimit` if the soft descriptor limit cannot be raised.
/// * Errors of the selector itself and of writing the report.
pub fn run(args: &LoadArgs) -> io::Result<i32> {
    let cfg = config(args)?;
    // The server crate's helper: soft limit raised to the hard one
    // (`u64::MAX`: unlimited).
    let limit = ioready_server::raise_fd_limit()?;
    let need = cfg.connections as u64 + 32;
    if limit < need {
        return Err(invalid(format!(
            "{} connections need about {need} file descriptors, but RLIMIT_NOFILE is {limit} \
             (raise the hard limit, e.g. `ulimit -Hn`)",
            cfg.connections
        )));
    }
    let outcome = engine::run(&cfg)?;
    let report = if args.json {
        json(args, &cfg, &outcome)
    } else {
        human(args, &cfg, &outcome)
    };
    let mut out = io::stdout().lock();
    out.write_all(report.as_bytes())?;
    out.flush()?;
    Ok(if outcome.errors.total() == 0 { 0 } else { 1 })
}

fn rate(outcome: &Outcome) -> f64 {
    let secs = outcome.measured.as_secs_f64();
    if secs > 0.0 {
        outcome.round_trips as f64 / secs
    } else {
        0.0
    }
}

/// Latency quantile in microseconds (0 when nothing was recorded).
fn quantile_us(outcome: &Outcome, q: f64) -> f64 {
    if outcome.latency.is_empty() {
        return 0.0;
    }
    outcome.latency.value_at_quantile(q) as f64 / 1000.0
}

fn mode_name(cfg: &Config) -> &'static str {
    match (cfg.mode, cfg.isolation.is_some()) {
        (Mode::Timed { .. }, false) => "timed",
        (Mode::Timed { .. }, true) => "timed-isolated",
        (Mode::Fixed { .. }, false) => "fixed",
        (Mode::Fixed { .. }, true) => "fixed-isolated",
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json(args: &LoadArgs, cfg: &Config, o: &Outcome) -> String {
    let e = &o.errors;
    let lat = |q| format!("{:.3}", quantile_us(o, q));
    format!(
        concat!(
            "{{\"addr\":{},\"mode\":{},\"connections\":{},\"connected\":{},\"size\":{},",
            "\"pipeline\":{},\"round_trips_per_connection\":{},\"connect_s\":{:.6},",
            "\"measured_s\":{:.6},\"round_trips\":{},\"all_round_trips\":{},",
            "\"round_trips_per_s\":{:.1},\"bytes_per_s\":{:.1},",
            "\"latency_us\":{{\"p50\":{},\"p99\":{},\"p999\":{},\"max\":{},\"mean\":{:.3}}},",
            "\"errors\":{{\"total\":{},\"connect\":{},\"io\":{},\"closed\":{},\"verify\":{},",
            "\"unanswered\":{},\"first\":{}}}}}\n"
        ),
        json_str(&cfg.addr.to_string()),
        json_str(mode_name(cfg)),
        cfg.connections,
        o.connected,
        cfg.size,
        cfg.pipeline,
        args.round_trips
            .map_or_else(|| "null".to_string(), |n| n.to_string()),
        o.connect_time.as_secs_f64(),
        o.measured.as_secs_f64(),
        o.round_trips,
        o.all_round_trips,
        rate(o),
        rate(o) * 2.0 * cfg.size as f64,
        lat(0.5),
        lat(0.99),
        lat(0.999),
        lat(1.0),
        if o.latency.is_empty() {
            0.0
        } else {
            o.latency.mean() / 1000.0
        },
        e.total(),
        e.connect,
        e.io,
        e.closed,
        e.verify,
        e.unanswered,
        e.first
            .as_deref()
            .map_or_else(|| "null".to_string(), json_str),
    )
}

fn human(_args: &LoadArgs, cfg: &Config, o: &Outcome) -> String {
    let e = &o.errors;
    let mut s = String::new();
    s.push_str(&format!(
        "{} mode, {} connections ({} connected in {:.2} s), {}-byte messages, pipeline {}\n",
        mode_name(cfg),
        cfg.connections,
        o.connected,
        o.connect_time.as_secs_f64(),
        cfg.size,
        cfg.pipeline
    ));
    s.push_str(&format!(
        "round trips: {} in {:.3} s = {:.0}/s ({:.2} MB/s each way)\n",
        o.round_trips,
        o.measured.as_secs_f64(),
        rate(o),
        rate(o) * cfg.size as f64 / 1e6
    ));
    s.push_str(&format!(
        "latency (us): p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}\n",
        quantile_us(o, 0.5),
        quantile_us(o, 0.99),
        quantile_us(o, 0.999),
        quantile_us(o, 1.0)
    ));
    s.push_str(&format!(
        "errors: {} (connect {}, io {}, closed {}, verify {}, unanswered {})\n",
        e.total(),
        e.connect,
        e.io,
        e.closed,
        e.verify,
        e.unanswered
    ));
    if let Some(first) = &e.first {
        s.push_str(&format!("first error: {first}\n"));
    }
    s
}
