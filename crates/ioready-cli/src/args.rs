//! The command line: subcommands, options, the parsers of their values, the
//! environment variables that give them defaults, and the exit statuses
//! (listed in `--help`). Everything refused here is a usage error: clap
//! prints it with the usage and the command exits with status 2.

use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use ioready::Backend;
use ioready_server::Engine;

/// The environment variable that sets the default of every `--backend` that
/// picks the server's mechanism (the library's `Selector::new` reads it too).
pub const BACKEND_ENV: &str = "IOREADY_BACKEND";
/// The default of `--addr` for the echo server and its clients (and bench).
pub const ADDR_ENV: &str = "IOREADY_ADDR";
/// The default of `--addr` for the time server and its client.
pub const TIME_ADDR_ENV: &str = "IOREADY_TIME_ADDR";

const EXIT_STATUS: &str = "Exit status:
  0  success
  1  failure while running (cannot listen, an echo came back wrong, no server, ...)
  2  usage error (unknown option, bad value, backend not available here)
  3  connect: timed out
  4  connect: any other failure";

/// Wait for I/O efficiently: Python's select-module servers and clients,
/// done properly in Rust.
#[derive(Parser, Debug)]
#[command(name = "ioready", version, propagate_version = true)]
#[command(after_help = format!(
    "Start with `ioready demo`: it runs a server and its clients together and needs \
     nothing else.\n\n\
     Environment: {BACKEND_ENV} ({}) sets the default of --backend; {ADDR_ENV} the default --addr of echo-server, client, slow-client and \
     bench; {TIME_ADDR_ENV} that of time-server and time-client. A command-line option \
     wins over its variable.\n\n{EXIT_STATUS}",
    Backend::names()
))]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an echo server and the two clients of PyMOTW's `select` tutorial
    /// (multi-socket and slow) against it, printing everyone's events; exit
    /// 0 when every byte came back.
    #[command(
        after_help = "Exit status: 0 if every byte sent came back in order, 1 otherwise, \
        2 on a usage error."
    )]
    Demo {
        /// Kernel mechanism the server waits with.
        #[command(flatten)]
        backend: BackendOpt,
    },

    /// The echo server of PyMOTW's `select` tutorial: print each event,
    /// echo every byte.
    #[command(
        after_help = "Events printed (one line each, as the Python tutorial's server prints them): \
        starting up on, waiting for the next event, new connection from, received, sending, \
        output queue ... is empty, closing ... after reading no data, and `timed out, do \
        some other work here` when --timeout passes with nothing ready. Warnings go to \
        standard error.\n\n\
        SIGINT or SIGTERM: stop accepting, flush queued output (at most --shutdown-grace), \
        close, exit 0; a second signal exits at once.\n\n\
        Exit status: 0 after a shutdown, 1 on an error (address in use, ...), 2 on a usage \
        error."
    )]
    EchoServer(EchoServerArgs),

    /// PyMOTW's multi-socket echo client: send three messages over each
    /// socket, reading the echoes.
    #[command(
        after_help = "Exit status: 0 if every message came back byte-exact, 1 otherwise, \
        2 on a usage error."
    )]
    Client {
        /// Server address: HOST:PORT, or PORT / :PORT for 127.0.0.1.
        #[arg(long, default_value = "127.0.0.1:10000", env = ADDR_ENV, value_parser = addr_arg)]
        addr: String,
        /// Number of sockets to use at the same time.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        sockets: u32,
    },

    /// PyMOTW's slow echo client: pause before and after each message, then
    /// read the whole echo 16 bytes at a time.
    #[command(
        after_help = "Exit status: 0 if the whole text came back in order, 1 otherwise, \
        2 on a usage error."
    )]
    SlowClient {
        /// Server address: HOST:PORT, or PORT / :PORT for 127.0.0.1.
        #[arg(long, default_value = "127.0.0.1:10000", env = ADDR_ENV, value_parser = addr_arg)]
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
        `still waiting` every --timeout with nothing to do.\n\n\
        Exit status: 0 after SIGINT/SIGTERM, 1 on an error (address in use, ...), 2 on a \
        usage error."
    )]
    TimeServer {
        /// Address to listen on (port 0: any free port, printed at start):
        /// HOST:PORT, or PORT / :PORT for 127.0.0.1.
        #[arg(long, default_value = "127.0.0.1:8037", env = TIME_ADDR_ENV, value_parser = addr_arg)]
        addr: String,
        /// Print `still waiting` after this many seconds with no connection.
        #[arg(long, default_value = "1", value_parser = parse_positive_secs)]
        timeout: Duration,
        /// Kernel mechanism to wait with.
        #[command(flatten)]
        backend: BackendOpt,
    },

    /// RFC 868 client: print the server's time and its offset from the
    /// local clock.
    #[command(after_help = "Exit status: 0 on a valid answer, 1 otherwise, 2 on a usage error.")]
    TimeClient {
        /// Server address: HOST:PORT, or PORT / :PORT for 127.0.0.1.
        #[arg(long, default_value = "127.0.0.1:8037", env = TIME_ADDR_ENV, value_parser = addr_arg)]
        addr: String,
    },

    /// Connect without blocking and settle it with select(): writable means
    /// connected, a pending socket error means failed.
    #[command(
        after_help = "Exit status:\n  0  connected\n  1  refused (nothing listens)\n  \
        2  usage error\n  3  timed out\n  4  other failure (unreachable, cannot resolve, ...)"
    )]
    Connect {
        /// HOST:PORT to connect to (PORT or :PORT: 127.0.0.1).
        #[arg(value_parser = addr_arg)]
        target: String,
        /// Give up after this many seconds.
        #[arg(long, default_value = "5", value_parser = parse_secs)]
        timeout: Duration,
    },

    /// Load an echo server with many connections and report throughput and
    /// latency.
    #[command(
        after_help = "Exit status: 0 if every echo came back intact, 1 if an error was \
        counted or the run failed (no server, ...), 2 on a usage error."
    )]
    Bench(ioready_loadgen::LoadArgs),

    /// Print a completion script for a shell, to be sourced or installed
    /// (e.g. `ioready completions bash > ~/.local/share/bash-completion/completions/ioready`).
    #[command(after_help = "Exit status: 0, or 2 for an unknown shell.")]
    Completions {
        /// The shell to write the script for.
        shell: clap_complete::Shell,
    },
}

/// `--backend`, with its default from the environment.
#[derive(clap::Args, Debug)]
pub struct BackendOpt {
    /// Kernel mechanism to wait with (auto: epoll on Linux, kqueue on the
    /// BSDs and macOS). uring: the io_uring completion engine (Linux); where
    /// io_uring is refused (seccomp, kernel.io_uring_disabled, an old
    /// kernel) the server says so in one line and serves on epoll.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto, env = BACKEND_ENV, ignore_case = true)]
    pub backend: BackendArg,
}

/// The options of `echo-server`.
#[derive(clap::Args, Debug)]
pub struct EchoServerArgs {
    /// Kernel mechanism to wait with.
    #[command(flatten)]
    pub backend: BackendOpt,
    /// Address to listen on (port 0: any free port; the real one is printed
    /// in the "starting up on" line): HOST:PORT, or PORT / :PORT for
    /// 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1:10000", env = ADDR_ENV, value_parser = addr_arg)]
    pub addr: String,
    /// Wait at most this many seconds; print "timed out" when nothing was
    /// ready (the tutorial server's select timeout). Default: wait forever.
    #[arg(long, value_parser = parse_positive_secs)]
    pub timeout: Option<Duration>,
    /// Print no per-event lines (for benchmarks); the start line and
    /// warnings are still printed.
    #[arg(long, short)]
    pub quiet: bool,
    /// Connections served at most; past it new ones are closed at once.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_conns: u64,
    /// Bytes of unsent output per connection at which the server stops
    /// reading from that client, until the output drains to half.
    #[arg(long, default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub output_cap: u64,
    /// Close connections silent for this many seconds. Default: never.
    #[arg(long, value_parser = parse_positive_secs)]
    pub idle_timeout: Option<Duration>,
    /// On SIGINT/SIGTERM, give queued output this many seconds to drain.
    #[arg(long, default_value = "2", value_parser = parse_secs)]
    pub shutdown_grace: Duration,
}

/// The names `--backend` takes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendArg {
    /// The best of this platform.
    Auto,
    /// select(2).
    Select,
    /// poll(2).
    Poll,
    /// epoll (Linux).
    Epoll,
    /// kqueue (the BSDs, macOS).
    Kqueue,
    /// The io_uring completion engine (Linux), falling back to epoll where
    /// io_uring is refused.
    Uring,
}

impl BackendArg {
    /// The server engine it names (`uring` only in a build with the
    /// feature: [`backend`](Self::backend) refuses it otherwise).
    pub fn engine(self) -> Engine {
        match self {
            #[cfg(feature = "uring")]
            BackendArg::Uring => Engine::Uring,
            _ => Engine::Readiness,
        }
    }

    /// The backend (for `uring`, the one it falls back to), if this platform
    /// has it.
    pub fn backend(self) -> Result<Backend, String> {
        let b = match self {
            BackendArg::Uring if !cfg!(feature = "uring") => {
                return Err(format!(
                    "--backend uring (or {BACKEND_ENV}=uring): this build of ioready has no \
                     io_uring engine; build it with the cargo feature `uring` (on by default)"
                ))
            }
            BackendArg::Auto | BackendArg::Uring => return Ok(Backend::best()),
            BackendArg::Select => Backend::Select,
            BackendArg::Poll => Backend::Poll,
            BackendArg::Epoll => Backend::Epoll,
            BackendArg::Kqueue => Backend::Kqueue,
        };
        b.check_available()
            .map_err(|e| format!("--backend {b} (or {BACKEND_ENV}={b}): {e}"))
    }
}

/// The whole command line, as parsed and as completions describe it:
/// `bench`'s `--addr` (defined by the load generator) gets the same
/// parser and environment variable as the other subcommands'.
pub fn command() -> clap::Command {
    Cli::command().mut_subcommand("bench", |bench| {
        bench.mut_arg("addr", |a| {
            a.env(ADDR_ENV).value_parser(addr_arg).help(
                "Address of the echo server to load: HOST:PORT, or PORT / :PORT for 127.0.0.1",
            )
        })
    })
}

/// Parses the process's arguments; on a usage error (or `--help`,
/// `--version`) prints and exits (status 2, or 0).
pub fn parse() -> Cli {
    // An empty variable means "not set", as for the library's
    // IOREADY_BACKEND (clap would take it as an option without a value).
    // Done first thing, while the process has one thread.
    for var in [BACKEND_ENV, ADDR_ENV, TIME_ADDR_ENV] {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            std::env::remove_var(var);
        }
    }
    let matches = command().get_matches();
    <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Exits with a usage error (status 2) about `subcommand`.
pub fn usage_error(subcommand: &str, msg: &str) -> ! {
    let mut cmd = command();
    let sub = cmd
        .find_subcommand_mut(subcommand)
        .cloned()
        .unwrap_or_else(command);
    sub.bin_name(format!("ioready {subcommand}"))
        .error(clap::error::ErrorKind::ValueValidation, msg)
        .exit()
}

/// An address option: `HOST:PORT` as it is (resolved when used), or a bare
/// `PORT` or `:PORT`, meaning `127.0.0.1:PORT`.
pub fn addr_arg(s: &str) -> Result<String, String> {
    let port = |p: &str| p.parse::<u16>().ok();
    if let Some(p) = port(s).or_else(|| s.strip_prefix(':').and_then(port)) {
        return Ok(format!("127.0.0.1:{p}"));
    }
    match s.rsplit_once(':') {
        Some((host, p)) if !host.is_empty() && port(p).is_some() => Ok(s.to_string()),
        _ => Err(format!(
            "{s:?}: expected HOST:PORT, or PORT or :PORT for 127.0.0.1 (port 0 to 65535)"
        )),
    }
}

/// Seconds as a decimal number (`1`, `0.25`), finite and >= 0, up to
/// `Duration::MAX` (about 1.8e19).
pub fn parse_secs(s: &str) -> Result<Duration, String> {
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
pub fn parse_positive_secs(s: &str) -> Result<Duration, String> {
    let d = parse_secs(s)?;
    if d.is_zero() {
        return Err(format!("{s:?}: must be more than 0 seconds"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(addr_arg("8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(addr_arg(":0").unwrap(), "127.0.0.1:0");
        assert_eq!(addr_arg(":65535").unwrap(), "127.0.0.1:65535");
        assert_eq!(addr_arg("0.0.0.0:80").unwrap(), "0.0.0.0:80");
        assert_eq!(addr_arg("localhost:80").unwrap(), "localhost:80");
        assert_eq!(addr_arg("[::1]:80").unwrap(), "[::1]:80");
        for bad in [
            "",
            ":",
            "65536",
            ":65536",
            "-1",
            "host",
            "host:",
            ":x",
            "host:99999",
            "1.2.3.4",
        ] {
            assert!(addr_arg(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn seconds_at_their_extremes() {
        assert_eq!(parse_secs("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_secs("1e-9").unwrap(), Duration::from_nanos(1));
        // The largest f64 below 2^64 is the largest accepted.
        let max = parse_secs("18446744073709549568").unwrap();
        assert_eq!(max.as_secs(), 18_446_744_073_709_549_568);
        for bad in [
            "18446744073709551616",
            "1e20",
            "-1",
            "-0.5",
            "nan",
            "inf",
            "x",
            "",
        ] {
            assert!(parse_secs(bad).is_err(), "{bad:?}");
        }
        assert!(parse_positive_secs("0").is_err());
        assert!(parse_positive_secs("1e-9").is_ok());
    }

    #[test]
    fn the_command_is_well_formed() {
        command().debug_assert();
    }
}
