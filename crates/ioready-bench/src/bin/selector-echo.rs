//! The `ioready-server` echo server on a named `Selector` backend, for the
//! benchmark scripts: io_uring (`Backend::Uring`) side by side with epoll,
//! until the `ioready` command has its own way to choose it.
//!
//! Usage: `selector-echo BACKEND [ADDR:PORT]` (default 127.0.0.1:0); prints
//! `listening on ADDR` and serves until SIGINT/SIGTERM.

use std::io::{self, Write};

use ioready::Backend;
use ioready_server::{Config, Echo, Server};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let backend: Backend = args
        .next()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "usage: selector-echo BACKEND [ADDR:PORT]",
            )
        })?
        .parse()?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_string());
    let config = Config {
        backend,
        handle_signals: true,
        ..Config::default()
    };
    let mut server = Server::bind(addr.as_str(), config, Echo)?;
    println!("listening on {}", server.local_addr());
    io::stdout().flush()?;
    server.run()?;
    Ok(())
}
