//! The load generator behind `ioready bench` (being written: see issue 5).

use std::io;

/// Options of `ioready bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Address of the echo server to load.
    #[arg(long, default_value = "127.0.0.1:10000")]
    pub addr: String,
}

/// Runs the load and prints its report; returns the process exit code.
///
/// # Errors
///
/// `Unsupported` until the load generator lands.
pub fn run(_args: &LoadArgs) -> io::Result<i32> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "the load generator is not written yet"))
}
