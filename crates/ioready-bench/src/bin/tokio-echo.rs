//! Echo server on tokio: a current-thread runtime and a task per
//! connection, written the way tokio's own examples are.
//!
//! Usage: `tokio-echo [ADDR:PORT]` (default 127.0.0.1:0); prints
//! `listening on ADDR` and runs until killed.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn main() {
    if let Err(e) = serve() {
        eprintln!("tokio-echo: {e}");
        std::process::exit(1);
    }
}

fn serve() -> io::Result<()> {
    // Best effort: without it the run fails later with a clear EMFILE.
    let _ = ioready_server::raise_fd_limit();
    let addr = ioready_bench::listen_addr_from_args()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let std_listener = ioready_bench::listen(addr, ioready_bench::BACKLOG)?;
    rt.block_on(async move {
        let listener = TcpListener::from_std(std_listener)?;
        ioready_bench::announce(listener.local_addr()?)?;
        loop {
            let (mut stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("tokio-echo: accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    })
}
