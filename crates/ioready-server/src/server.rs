//! [`Server`]: a listener, a [`Selector`] and the event loop, and the
//! [`ShutdownHandle`] that stops it from another thread.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ioready::{Backend, Events, Selector, Waker};

use crate::event_loop::{Loop, WAKER};
use crate::net::listen;
#[cfg(all(feature = "uring", target_os = "linux"))]
use crate::uring::{self, UringServer, UringStats};
use crate::{Config, Engine, Observer, ServerEvent, Service, Summary};

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

/// A single-threaded event-loop TCP server running a [`Service`], on the
/// [`Engine`] of its [`Config`].
pub struct Server<S> {
    inner: Inner<S>,
    /// Why the engine asked for is not the one running (reported at the
    /// start of `run`).
    fallback: Option<(Engine, io::Error)>,
}

enum Inner<S> {
    // Boxed, as the two differ in size; the loops run inside their own
    // `run`, so the box costs nothing per event.
    Selector(Box<ReadyServer<S>>),
    #[cfg(all(feature = "uring", target_os = "linux"))]
    Uring(Box<UringServer<S>>),
}

/// The readiness engine: a selector and the event loop.
struct ReadyServer<S> {
    selector: Selector,
    events: Events,
    waker: Arc<Waker>,
    event_loop: Loop<S>,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Selector(r) => f
                .debug_struct("Server")
                .field("engine", &Engine::Selector)
                .field("backend", &r.selector.backend())
                .field("local_addr", &r.event_loop.local_addr)
                .field("connections", &r.event_loop.live)
                .field("config", &r.event_loop.config)
                .finish(),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Inner::Uring(u) => f
                .debug_struct("Server")
                .field("engine", &Engine::Uring)
                .field("local_addr", &u.local_addr)
                .field("config", &u.config)
                .finish(),
        }
    }
}

impl<S: Service> Server<S> {
    /// Binds a listener (`SO_REUSEADDR`, non-blocking, backlog
    /// [`Config::backlog`]) on the first address of `addr` that works, and
    /// prepares the engine. Nothing is accepted until [`run`](Self::run).
    ///
    /// With [`Engine::Uring`], io_uring is probed here (a ring is set up
    /// and dropped); where it is refused the server falls back to
    /// [`Engine::Selector`] on [`Config::backend`] (see
    /// [`fallback`](Self::fallback)): that is not an error.
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
        let mut fallback = None;
        if config.engine == Engine::Uring {
            match uring_probe(&config) {
                #[cfg(all(feature = "uring", target_os = "linux"))]
                Ok(()) => {
                    return Ok(Server {
                        inner: Inner::Uring(Box::new(UringServer::new(config, listener, service)?)),
                        fallback: None,
                    })
                }
                #[cfg(not(all(feature = "uring", target_os = "linux")))]
                Ok(()) => {}
                Err(reason) => fallback = Some((Engine::Uring, reason)),
            }
        }
        let selector = Selector::with_backend(config.backend)?;
        let registry = selector.registry().clone();
        let waker = Arc::new(Waker::new(&registry, WAKER)?);
        let event_loop = Loop::new(config, registry, listener, service)?;
        Ok(Server {
            inner: Inner::Selector(Box::new(ReadyServer {
                selector,
                events: Events::with_capacity(1024),
                waker,
                event_loop,
            })),
            fallback,
        })
    }

    /// Sets the observer of [`ServerEvent`]s (default:
    /// [`Silent`](crate::Silent)).
    pub fn with_observer(mut self, observer: impl Observer + 'static) -> Self {
        match &mut self.inner {
            Inner::Selector(r) => r.event_loop.report.set_observer(Box::new(observer)),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Inner::Uring(u) => u.report.set_observer(Box::new(observer)),
        }
        self
    }

    /// The address the listener is bound to (with the real port when bound
    /// to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        match &self.inner {
            Inner::Selector(r) => r.event_loop.local_addr,
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Inner::Uring(u) => u.local_addr,
        }
    }

    /// The engine the server runs: [`Config::engine`], or
    /// [`Engine::Selector`] after a [`fallback`](Self::fallback).
    pub fn engine(&self) -> Engine {
        match &self.inner {
            Inner::Selector(_) => Engine::Selector,
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Inner::Uring(_) => Engine::Uring,
        }
    }

    /// The backend the readiness engine waits with ([`Config::backend`] on
    /// the io_uring engine, where it is only the fallback).
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::Selector(r) => r.selector.backend(),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Inner::Uring(u) => u.config.backend,
        }
    }

    /// Why the [`Config::engine`] asked for is not the one running, if it
    /// is not (io_uring refused here); the server serves on
    /// [`backend`](Self::backend) then.
    pub fn fallback(&self) -> Option<&io::Error> {
        self.fallback.as_ref().map(|(_, e)| e)
    }

    /// What the io_uring engine did in the last [`run`](Self::run) and how
    /// its ring was set up; `None` on the readiness engine or before a run.
    #[cfg(all(feature = "uring", target_os = "linux"))]
    pub fn uring_stats(&self) -> Option<UringStats> {
        match &self.inner {
            Inner::Uring(u) => u.stats,
            Inner::Selector(_) => None,
        }
    }

    /// A handle to stop [`run`](Self::run) from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        match &self.inner {
            Inner::Selector(r) => ShutdownHandle {
                flag: r.event_loop.shutdown_requested.clone(),
                waker: r.waker.clone(),
            },
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Inner::Uring(u) => ShutdownHandle {
                flag: u.shutdown_requested.clone(),
                waker: u.waker.clone(),
            },
        }
    }

    /// The service, e.g. to read what it gathered after `run`.
    pub fn service(&self) -> &S {
        match &self.inner {
            Inner::Selector(r) => &r.event_loop.service,
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Inner::Uring(u) => &u.service,
        }
    }

    /// Serves until shut down (see the crate docs), then closes every
    /// connection and the listener.
    ///
    /// # Errors
    ///
    /// Only errors of the wait itself (which leave the server unusable) and,
    /// on the io_uring engine, of setting the ring up on this thread;
    /// per-connection and accept errors are handled and reported as events.
    pub fn run(&mut self) -> io::Result<Summary> {
        match &mut self.inner {
            Inner::Selector(r) => {
                if let Some((wanted, reason)) = &self.fallback {
                    r.event_loop.report.event(&ServerEvent::EngineFallback {
                        wanted: *wanted,
                        reason,
                        backend: r.selector.backend(),
                    });
                }
                r.run()
            }
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Inner::Uring(u) => u.run(),
        }
    }
}

impl<S: Service> ReadyServer<S> {
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

/// Whether the io_uring engine can run here, or why not.
#[cfg(all(feature = "uring", target_os = "linux"))]
fn uring_probe(config: &Config) -> io::Result<()> {
    uring::probe(config)
}

/// See the Linux version: this build has no io_uring engine.
#[cfg(not(all(feature = "uring", target_os = "linux")))]
fn uring_probe(_: &Config) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        if cfg!(target_os = "linux") {
            "io_uring unavailable: this build has no io_uring engine (cargo feature `uring` of ioready-server)"
        } else {
            "io_uring unavailable: io_uring exists only on Linux"
        },
    ))
}
