//! [`Server`]: a listener and the engine that serves it (see `engine.rs`).

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use ioready::Backend;

use crate::control::ShutdownHandle;
use crate::engine::{EngineServer, ServerInner};
use crate::net::listen;
use crate::readiness::ReadyServer;
#[cfg(all(feature = "uring", target_os = "linux"))]
use crate::uring::{self, UringServer, UringStats};
use crate::{Config, Engine, Observer, ServerEvent, Service, Summary};

/// A single-threaded event-loop TCP server running a [`Service`], on the
/// [`Engine`] of its [`Config`].
pub struct Server<S> {
    inner: ServerInner<S>,
    /// Why the engine asked for is not the one running (reported at the
    /// start of `run`).
    fallback: Option<(Engine, io::Error)>,
}

impl<S: Service> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("engine", &self.inner.engine())
            .field("backend", &self.inner.backend())
            .field("local_addr", &self.inner.local_addr())
            .field("config", self.inner.config())
            .finish()
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
                        inner: UringServer::new(config, listener, service)?.into(),
                        fallback: None,
                    })
                }
                #[cfg(not(all(feature = "uring", target_os = "linux")))]
                Ok(()) => {}
                Err(reason) => fallback = Some((Engine::Uring, reason)),
            }
        }
        Ok(Server {
            inner: ReadyServer::new(config, listener, service)?.into(),
            fallback,
        })
    }

    /// Sets the observer of [`ServerEvent`]s (default:
    /// [`Silent`](crate::Silent)).
    pub fn with_observer(mut self, observer: impl Observer + 'static) -> Self {
        self.inner.report().set_observer(Box::new(observer));
        self
    }

    /// The address the listener is bound to (with the real port when bound
    /// to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    /// The engine the server runs: [`Config::engine`], or
    /// [`Engine::Selector`] after a [`fallback`](Self::fallback).
    pub fn engine(&self) -> Engine {
        self.inner.engine()
    }

    /// The backend the readiness engine waits with ([`Config::backend`] on
    /// the io_uring engine, where it is only the fallback).
    pub fn backend(&self) -> Backend {
        self.inner.backend()
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
            ServerInner::Uring(u) => u.stats,
            ServerInner::Ready(_) => None,
        }
    }

    /// A handle to stop [`run`](Self::run) from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.inner.shutdown_handle()
    }

    /// The service, e.g. to read what it gathered after `run`.
    pub fn service(&self) -> &S {
        self.inner.service()
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
        if let Some((wanted, reason)) = &self.fallback {
            let backend = self.inner.backend();
            self.inner.report().event(&ServerEvent::EngineFallback {
                wanted: *wanted,
                reason,
                backend,
            });
        }
        self.inner.run()
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
