//! `SIGINT`/`SIGTERM` as a readable descriptor: a self-pipe the handlers
//! (signal-hook's) write one byte to, which is async-signal-safe. The event
//! loop registers [`Signals::reader`] like any socket and calls
//! [`Signals::drain`] when it is readable.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;

#[derive(Debug)]
pub(crate) struct Signals {
    reader: UnixStream,
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    /// Installs the handlers. Dropping the value removes them.
    pub(crate) fn new() -> io::Result<Signals> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let mut ids = Vec::new();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let w = writer.try_clone()?;
            match signal_hook::low_level::pipe::register(sig, w) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    for id in ids {
                        signal_hook::low_level::unregister(id);
                    }
                    return Err(e);
                }
            }
        }
        Ok(Signals { reader, ids })
    }

    /// The end to wait on: readable once a signal arrived.
    pub(crate) fn reader(&self) -> &UnixStream {
        &self.reader
    }

    /// Empties the pipe; returns how many signals arrived.
    pub(crate) fn drain(&mut self) -> usize {
        let mut buf = [0u8; 64];
        let mut n = 0;
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return n,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return n,
            }
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
