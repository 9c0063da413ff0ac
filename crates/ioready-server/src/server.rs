//! [`Server`]: a listener, a [`Selector`] and the event loop, and the
//! [`ShutdownHandle`] that stops it from another thread.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ioready::{Backend, Events, Selector, Waker};

use crate::event_loop::{Loop, WAKER};
use crate::net::listen;
use crate::{Config, Observer, Service, Summary};

/// Asks a running [`Server`] to shut down, from any thread.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Starts the shutdown (stop accepting, flush, close, return from
    /// `run`). Calling it again is harmless.
    ///
    /// # Errors
    ///
    /// Those of [`Waker::wake`] (none known in practice).
    pub fn shutdown(&self) -> io::Result<()> {
        self.flag.store(true, Ordering::SeqCst);
        self.waker.wake()
    }
}

/// A single-threaded event-loop TCP server running a [`Service`].
pub struct Server<S> {
    selector: Selector,
    events: Events,
    waker: Arc<Waker>,
    event_loop: Loop<S>,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("backend", &self.selector.backend())
            .field("local_addr", &self.event_loop.local_addr)
            .field("connections", &self.event_loop.live)
            .field("config", &self.event_loop.config)
            .finish()
    }
}

impl<S: Service> Server<S> {
    /// Binds a listener (`SO_REUSEADDR`, non-blocking, backlog
    /// [`Config::backlog`]) on the first address of `addr` that works, and
    /// prepares the selector. Nothing is accepted until [`run`](Self::run).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an address that does not resolve or a config that
    /// [`Config::validate`] refuses; the errors of `socket`, `bind`
    /// (`AddrInUse`, `PermissionDenied`) and `listen`; those of
    /// [`Selector::with_backend`]; those of installing signal handlers.
    pub fn bind(addr: impl ToSocketAddrs, config: Config, service: S) -> io::Result<Server<S>> {
        config.validate()?;
        let mut last_err = None;
        let mut listener = None;
        for a in addr.to_socket_addrs()? {
            match listen(a, config.backlog) {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let listener = match (listener, last_err) {
            (Some(l), _) => l,
            (None, Some(e)) => return Err(e),
            (None, None) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "addr: resolves to no address",
                ))
            }
        };
        Server::from_listener(listener, config, service)
    }

    /// A server on a listener you made (it is set non-blocking).
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind), after the binding.
    pub fn from_listener(
        listener: TcpListener,
        config: Config,
        service: S,
    ) -> io::Result<Server<S>> {
        config.validate()?;
        listener.set_nonblocking(true)?;
        let selector = Selector::with_backend(config.backend)?;
        let registry = selector.registry().clone();
        let waker = Arc::new(Waker::new(&registry, WAKER)?);
        let event_loop = Loop::new(config, registry, listener, service)?;
        Ok(Server {
            selector,
            events: Events::with_capacity(1024),
            waker,
            event_loop,
        })
    }

    /// Sets the observer of [`ServerEvent`](crate::ServerEvent)s (default:
    /// [`Silent`](crate::Silent)).
    pub fn with_observer(mut self, observer: impl Observer + 'static) -> Self {
        self.event_loop.report.set_observer(Box::new(observer));
        self
    }

    /// The address the listener is bound to (with the real port when bound
    /// to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.event_loop.local_addr
    }

    /// The backend the server waits with.
    pub fn backend(&self) -> Backend {
        self.selector.backend()
    }

    /// A handle to stop [`run`](Self::run) from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            flag: self.event_loop.shutdown_requested.clone(),
            waker: self.waker.clone(),
        }
    }

    /// The service, e.g. to read what it gathered after `run`.
    pub fn service(&self) -> &S {
        &self.event_loop.service
    }

    /// Serves until shut down (see the crate docs), then closes every
    /// connection and the listener.
    ///
    /// # Errors
    ///
    /// Only errors of the wait itself (which leave the server unusable);
    /// per-connection and accept errors are handled and reported as events.
    pub fn run(&mut self) -> io::Result<Summary> {
        self.event_loop.start();
        while self.event_loop.prepare_wait() {
            self.selector.select(&mut self.events, None)?;
            self.event_loop.dispatch_all(&self.events);
        }
        self.event_loop.close_all();
        Ok(self.event_loop.report.stats)
    }
}
