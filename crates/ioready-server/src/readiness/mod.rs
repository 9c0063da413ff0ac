//! The readiness engine ([`Engine::Selector`](crate::Engine::Selector)):
//! the library's [`Selector`] on [`Config::backend`] (select, poll, epoll,
//! kqueue), and per message one wait, one `recv` and one `send` system
//! call.
//!
//! * `event_loop.rs`: the state machine, between two waits (token layout,
//!   dispatch, accept, connection events, interest changes, lingering
//!   close, close, the timers' events, shutdown);
//! * `slot.rs`: one connection's state and output queue;
//! * `conn.rs`: its side of [`Conn`](crate::Conn), the output path;
//! * `net.rs`: the data path's `send`/`recv`;
//! * `timers.rs`: every deadline as an [`ioready::Timer`], an event of the
//!   wait.

mod conn;
mod event_loop;
mod net;
mod slot;
mod timers;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use ioready::{Backend, Events, Selector, Waker};

pub(crate) use conn::ReadyConn;
use event_loop::Loop;

use crate::control::{ShutdownHandle, WAKER};
use crate::engine::EngineServer;
use crate::report::Reporter;
use crate::{Config, Engine, Service, Summary};

/// A server on the readiness engine: a selector and the event loop.
pub(crate) struct ReadyServer<S> {
    selector: Selector,
    events: Events,
    waker: Arc<Waker>,
    event_loop: Loop<S>,
}

impl<S: Service> ReadyServer<S> {
    /// A server on `listener` (non-blocking already), waiting with
    /// `config.backend`.
    ///
    /// # Errors
    ///
    /// Those of [`Selector::with_backend`], of registering the listener
    /// and of making the waker, the signals and the timers.
    pub(crate) fn new(
        config: Config,
        listener: TcpListener,
        service: S,
    ) -> io::Result<ReadyServer<S>> {
        let selector = Selector::with_backend(config.backend)?;
        let registry = selector.registry().clone();
        let waker = Arc::new(Waker::new(&registry, WAKER)?);
        let event_loop = Loop::new(config, registry, listener, service)?;
        Ok(ReadyServer {
            selector,
            events: Events::with_capacity(1024),
            waker,
            event_loop,
        })
    }
}

impl<S: Service> EngineServer<S> for ReadyServer<S> {
    fn engine(&self) -> Engine {
        Engine::Selector
    }

    fn backend(&self) -> Backend {
        self.selector.backend()
    }

    fn config(&self) -> &Config {
        &self.event_loop.config
    }

    fn local_addr(&self) -> SocketAddr {
        self.event_loop.local_addr
    }

    fn report(&mut self) -> &mut Reporter {
        &mut self.event_loop.report
    }

    fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle::new(
            self.event_loop.shutdown_requested.clone(),
            self.waker.clone(),
        )
    }

    fn service(&self) -> &S {
        &self.event_loop.service
    }

    fn run(&mut self) -> io::Result<Summary> {
        self.event_loop.start();
        while self.event_loop.prepare_wait() {
            self.selector.select(&mut self.events, None)?;
            self.event_loop.dispatch_all(&self.events);
        }
        self.event_loop.close_all();
        Ok(self.event_loop.report.stats)
    }
}
