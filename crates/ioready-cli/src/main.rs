//! `ioready`: the programs of the tutorials (PyMOTW's select echo servers and
//! clients, effbot's time server) on the `ioready` library, a non-blocking
//! connect, a self-contained demo, a load generator, and shell completions.

mod args;
mod clients;
mod demo;
mod out;
mod transcript;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use args::{BackendOpt, Command, EchoServerArgs};
use ioready::Backend;
use ioready_server::{Config, Echo, Engine, Server, ServerEvent, TimeService};

/// Resolves `addr` (`HOST:PORT`) to its first address.
fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr:?} resolves to no address"))
}

/// The engine and backend of `--backend`, or a usage error (status 2) if
/// this platform lacks the backend.
fn backend(opt: &BackendOpt, subcommand: &str) -> (Engine, Backend) {
    let b = opt
        .backend
        .backend()
        .unwrap_or_else(|msg| args::usage_error(subcommand, &msg));
    (opt.backend.engine(), b)
}

/// Raises the descriptor limit (servers and the many-socket client need
/// more than the usual 1024); a failure is only a warning.
fn raise_fd_limit() {
    if let Err(e) = ioready_server::raise_fd_limit() {
        out::stderr_line(&format!("warning: cannot raise RLIMIT_NOFILE: {e}"));
    }
}

fn main() -> ExitCode {
    let cli = args::parse();
    let result = match cli.command {
        Command::Demo { backend: b } => demo::run(backend(&b, "demo")),
        Command::EchoServer(a) => {
            let b = backend(&a.backend, "echo-server");
            echo_server(a, b)
        }
        Command::Client { addr, sockets } => resolve(&addr).and_then(|a| {
            raise_fd_limit();
            clients::multiclient(a, sockets as usize, &mut out::stdout_line)
                .map(|ok| i32::from(!ok))
                .map_err(|e| format!("client: {e}"))
        }),
        Command::SlowClient { addr, pause } => resolve(&addr).and_then(|a| {
            clients::slow_client(a, pause, &mut out::stdout_line)
                .map(|ok| i32::from(!ok))
                .map_err(|e| format!("slow-client: {e}"))
        }),
        Command::TimeServer {
            addr,
            timeout,
            backend: b,
        } => time_server(&addr, timeout, backend(&b, "time-server")),
        Command::TimeClient { addr } => resolve(&addr).and_then(|a| {
            clients::time_client(a, &mut out::stdout_line)
                .map(|()| 0)
                .map_err(|e| format!("time-client: {e}"))
        }),
        Command::Connect { target, timeout } => Ok(clients::connect(&target, timeout)),
        Command::Bench(a) => {
            if let Err(msg) = a.check() {
                args::usage_error("bench", &msg);
            }
            ioready_loadgen::run(&a).map_err(|e| format!("bench: {e}"))
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut args::command(),
                "ioready",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(msg) => {
            out::stderr_line(&format!("ioready: error: {msg}"));
            ExitCode::from(1)
        }
    }
}

fn echo_server(args: EchoServerArgs, (engine, backend): (Engine, Backend)) -> Result<i32, String> {
    raise_fd_limit();
    let config = Config {
        backend,
        engine,
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
        // The tutorials print a blank line before each wait.
        ServerEvent::Waiting => out::stdout_line(&format!("\n{}", transcript::echo_line(e))),
        _ => out::stdout_line(&transcript::echo_line(e)),
    });
    let summary = server.run().map_err(|e| format!("echo-server: {e}"))?;
    out::stdout_line(&format!(
        "stopped: {} connections served ({} refused), {} bytes in, {} bytes out",
        summary.accepted, summary.rejected, summary.bytes_in, summary.bytes_out
    ));
    #[cfg(all(feature = "uring", target_os = "linux"))]
    if let Some(u) = server.uring_stats() {
        out::stdout_line(&format!(
            "io_uring: {} waits (one io_uring_enter each), {} completions, {} completion \
             queue overflows, {} receives found no buffer, {} multishot re-arms \
             (single issuer {}, defer taskrun {})",
            u.enters,
            u.completions,
            u.cq_overflows,
            u.buffers_ran_out,
            u.rearmed,
            u.single_issuer,
            u.defer_taskrun
        ));
    }
    Ok(0)
}

fn time_server(
    addr: &str,
    timeout: Duration,
    (engine, backend): (Engine, Backend),
) -> Result<i32, String> {
    raise_fd_limit();
    let config = Config {
        backend,
        engine,
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
