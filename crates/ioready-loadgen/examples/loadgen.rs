//! `ioready bench` without the rest of the command: the same options.
//!
//! `cargo run --release -p ioready-loadgen --example loadgen -- --addr 127.0.0.1:PORT -c 64`

use clap::Parser;

#[derive(Parser)]
#[command(about = "Closed-loop echo load generator (the engine of `ioready bench`)")]
struct Cli {
    #[command(flatten)]
    load: ioready_loadgen::LoadArgs,
}

fn main() {
    let cli = Cli::parse();
    match ioready_loadgen::run(&cli.load) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    }
}
