//! `ioready`: the programs of the seeds (PyMOTW's select echo servers and
//! clients, effbot's time server) on the `ioready` library, a non-blocking
//! connect, a self-contained demo, and a load generator.

mod clients;
mod demo;
mod out;
mod transcript;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ioready::Backend;
use ioready_server::{Config, Echo, Server, ServerEvent, TimeService};

/// Wait for I/O efficiently: Python's select-module servers and clients,
/// done properly in Rust.
#[derive(Parser, Debug)]
#[command(name = "ioready", version, propagate_version = true)]
#[command(
    after_help = "Start with `ioready demo`: it runs a server and its clients \
    together and needs nothing else."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an echo server and the seeds' two clients against it, printing
    /// everyone's events; exit 0 when every byte came back.
    #[command(after_help = "Exit status: 0 if every byte sent came back in order, 1 otherwise.")]
    Demo,

    /// The seeds' echo server: print each event, echo every byte.
    #[command(
        after_help = "Events printed (one line each, as the Python seeds print them): \
        starting up on, waiting for the next event, new connection from, received, sending, \
        output queue ... is empty, closing ... after reading no data, and `timed out, do \
        some other work here` when --timeout passes with nothing ready. Warnings go to \
        standard error.\n\n\
        SIGINT or SIGTERM: stop accepting, flush queued output (at most --shutdown-grace), \
        close, exit 0; a second signal exits at once.\n\n\
        Exit status: 0 after a shutdown, 1 on an error (address in use, ...)."
    )]
    EchoServer(EchoServerArgs),

    /// The seeds' multi-socket client: send three messages over each socket,
    /// reading the echoes.
    #[command(after_help = "Exit status: 0 if every message came back byte-exact, 1 otherwise.")]
    Client {
        /// Server address.
        #[arg(long, default_value = "127.0.0.1:10000")]
        addr: String,
        /// Number of sockets to use at the same time.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        sockets: u32,
    },

    /// The seeds' slow client: pause before and after each message, then
    /// read the whole echo 16 bytes at a time.
    #[command(after_help = "Exit status: 0 if the whole text came back in order, 1 otherwise.")]
    SlowClient {
        /// Server address.
        #[arg(long, default_value = "127.0.0.1:10000")]
        addr: String,
        /// Pause after connecting, in seconds; after each message the client
        /// waits 1.5 times this.
        #[arg(long, default_value = "1", value_parser = parse_secs)]
        pause: Duration,
    },

    /// effbot's RFC 868 time server: to each connection, four bytes (seconds
    /// since 1900-01-01, big-endian), then close.
    #[command(
        after_help = "Prints `listening on ADDR port N`, `connection from ...` and \
        `still waiting` every --timeout with nothing to do. SIGINT/SIGTERM exit 0."
    )]
    TimeServer {
        /// Address to listen on (port 0: any free port, printed at start).
        #[arg(long, default_value = "127.0.0.1:8037")]
        addr: String,
        /// Print `still waiting` after this many seconds with no connection.
        #[arg(long, default_value = "1", value_parser = parse_positive_secs)]
        timeout: Duration,
    },

    /// RFC 868 client: print the server's time and its offset from the
    /// local clock.
    #[command(after_help = "Exit status: 0 on a valid answer, 1 otherwise.")]
    TimeClient {
        /// Server address.
        #[arg(long, default_value = "127.0.0.1:8037")]
        addr: String,
    },

    /// Connect without blocking and settle it with select(): writable means
    /// connected, a pending socket error means failed.
    #[command(
        after_help = "Exit status:\n  0  connected\n  1  refused (nothing listens)\n  \
        3  timed out\n  4  other failure (unreachable, cannot resolve, ...)\n  \
        2  bad arguments"
    )]
    Connect {
        /// HOST:PORT to connect to.
        target: String,
        /// Give up after this many seconds.
        #[arg(long, default_value = "5", value_parser = parse_secs)]
        timeout: Duration,
    },

    /// Load an echo server with many connections and report throughput and
    /// latency.
    Bench(ioready_loadgen::LoadArgs),
}

#[derive(clap::Args, Debug)]
struct EchoServerArgs {
    /// Kernel mechanism to wait with (auto: epoll on Linux, kqueue on the
    /// BSDs and macOS).
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    backend: BackendArg,
    /// Address to listen on (port 0: any free port; the real one is printed
    /// in the "starting up on" line).
    #[arg(long, default_value = "127.0.0.1:10000")]
    addr: String,
    /// Wait at most this many seconds; print "timed out" when nothing was
    /// ready (the seeds' select timeout). Default: wait forever.
    #[arg(long, value_parser = parse_positive_secs)]
    timeout: Option<Duration>,
    /// Print no per-event lines (for benchmarks); the start line and
    /// warnings are still printed.
    #[arg(long, short)]
    quiet: bool,
    /// Connections served at most; past it new ones are closed at once.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_conns: u64,
    /// Bytes of unsent output per connection at which the server stops
    /// reading from that client, until the output drains to half.
    #[arg(long, default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    output_cap: u64,
    /// Close connections silent for this many seconds. Default: never.
    #[arg(long, value_parser = parse_positive_secs)]
    idle_timeout: Option<Duration>,
    /// On SIGINT/SIGTERM, give queued output this many seconds to drain.
    #[arg(long, default_value = "2", value_parser = parse_secs)]
    shutdown_grace: Duration,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum BackendArg {
    Auto,
    Select,
    Poll,
    Epoll,
}

impl BackendArg {
    fn backend(self) -> Result<Backend, String> {
        let b = match self {
            BackendArg::Auto => return Ok(Backend::best()),
            BackendArg::Select => Backend::Select,
            BackendArg::Poll => Backend::Poll,
            BackendArg::Epoll => Backend::Epoll,
        };
        if b.is_available() {
            Ok(b)
        } else {
            Err(format!("the {b} backend is not available on this platform"))
        }
    }
}

/// Seconds as a decimal number (`1`, `0.25`), positive and finite.
fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("{s:?}: seconds must be a finite number >= 0"));
    }
    Duration::try_from_secs_f64(v).map_err(|e| format!("{s:?}: {e}"))
}

/// Seconds, strictly positive (a zero timeout would turn a server's wait
/// into a busy loop).
fn parse_positive_secs(s: &str) -> Result<Duration, String> {
    let d = parse_secs(s)?;
    if d.is_zero() {
        return Err(format!("{s:?}: must be more than 0 seconds"));
    }
    Ok(d)
}

/// Resolves `addr` (`HOST:PORT`) to its first address.
fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr:?} resolves to no address"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(),
        Command::EchoServer(args) => echo_server(args),
        Command::Client { addr, sockets } => resolve(&addr).and_then(|a| {
            clients::multiclient(a, sockets as usize, &mut out::stdout_line)
                .map(|ok| i32::from(!ok))
                .map_err(|e| format!("client: {e}"))
        }),
        Command::SlowClient { addr, pause } => resolve(&addr).and_then(|a| {
            clients::slow_client(a, pause, &mut out::stdout_line)
                .map(|ok| i32::from(!ok))
                .map_err(|e| format!("slow-client: {e}"))
        }),
        Command::TimeServer { addr, timeout } => time_server(&addr, timeout),
        Command::TimeClient { addr } => resolve(&addr).and_then(|a| {
            clients::time_client(a, &mut out::stdout_line)
                .map(|()| 0)
                .map_err(|e| format!("time-client: {e}"))
        }),
        Command::Connect { target, timeout } => Ok(clients::connect(&target, timeout)),
        Command::Bench(args) => ioready_loadgen::run(&args).map_err(|e| format!("bench: {e}")),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(msg) => {
            out::stderr_line(&format!("ioready: error: {msg}"));
            ExitCode::from(1)
        }
    }
}

fn echo_server(args: EchoServerArgs) -> Result<i32, String> {
    let backend = args.backend.backend()?;
    if let Err(e) = ioready_server::raise_fd_limit() {
        out::stderr_line(&format!("warning: cannot raise RLIMIT_NOFILE: {e}"));
    }
    let config = Config {
        backend,
        max_conns: usize::try_from(args.max_conns).unwrap_or(usize::MAX),
        output_cap: usize::try_from(args.output_cap).unwrap_or(usize::MAX),
        tick: args.timeout,
        idle_timeout: args.idle_timeout,
        shutdown_grace: args.shutdown_grace,
        trace: !args.quiet,
        handle_signals: true,
        ..Config::default()
    };
    let server = Server::bind(args.addr.as_str(), config, Echo)
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let mut server = server.with_observer(|e: &ServerEvent<'_>| match e {
        _ if e.is_warning() => out::stderr_line(&transcript::echo_line(e)),
        // The seeds print a blank line before each wait.
        ServerEvent::Waiting => out::stdout_line(&format!("\n{}", transcript::echo_line(e))),
        _ => out::stdout_line(&transcript::echo_line(e)),
    });
    let summary = server.run().map_err(|e| format!("echo-server: {e}"))?;
    out::stdout_line(&format!(
        "stopped: {} connections served ({} refused), {} bytes in, {} bytes out",
        summary.accepted, summary.rejected, summary.bytes_in, summary.bytes_out
    ));
    Ok(0)
}

fn time_server(addr: &str, timeout: Duration) -> Result<i32, String> {
    if let Err(e) = ioready_server::raise_fd_limit() {
        out::stderr_line(&format!("warning: cannot raise RLIMIT_NOFILE: {e}"));
    }
    let config = Config {
        tick: Some(timeout),
        trace: true,
        handle_signals: true,
        ..Config::default()
    };
    let server = Server::bind(addr, config, TimeService)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    // effbot's lines, not the echo server's.
    let mut server = server.with_observer(|e: &ServerEvent<'_>| {
        if let Some(line) = transcript::time_line(e) {
            if e.is_warning() {
                out::stderr_line(&line);
            } else {
                out::stdout_line(&line);
            }
        }
    });
    server.run().map_err(|e| format!("time-server: {e}"))?;
    Ok(0)
}
