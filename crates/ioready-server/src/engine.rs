//! The two engines behind one front: the contracts each engine implements
//! ([`EngineServer`] for the [`Server`](crate::Server), [`EngineConn`] for
//! a [`Conn`](crate::Conn)), and the one list of engines from which the
//! enums the front holds and their `match`es are generated, as the
//! library's `selector/dispatch.rs` does for its backends.
//!
//! Each `match` is static dispatch to the engine's impl, inlined: on the
//! data path ([`Conn::send`](crate::Conn::send)) the choice costs a compare
//! and a jump, and nothing in a build with one engine. The engines
//! themselves (`readiness/`, `uring/`) never import each other; what both
//! use lives beside this file (`config.rs`, `conn.rs`, `control.rs`,
//! `net.rs`, `report.rs`, `service.rs`, `time.rs`).

use std::io;
use std::net::SocketAddr;

use ioready::Backend;

use crate::control::ShutdownHandle;
use crate::report::Reporter;
use crate::{Config, Engine, Summary};

/// What an engine provides to the [`Server`](crate::Server) that runs it:
/// the methods of the same names there.
pub(crate) trait EngineServer<S> {
    fn engine(&self) -> Engine;
    fn backend(&self) -> Backend;
    fn config(&self) -> &Config;
    fn local_addr(&self) -> SocketAddr;
    fn report(&mut self) -> &mut Reporter;
    fn shutdown_handle(&self) -> ShutdownHandle;
    fn service(&self) -> &S;
    fn run(&mut self) -> io::Result<Summary>;
}

/// What an engine's connection handle provides: the methods of
/// [`Conn`](crate::Conn), with their documented behaviour.
pub(crate) trait EngineConn {
    fn peer(&self) -> SocketAddr;
    fn pending(&self) -> usize;
    fn send(&mut self, data: &[u8]);
    fn close(&mut self);
}

/// Generates, from the list of engines at the bottom of this file, the
/// enums of the front ([`ServerInner`], [`ConnInner`]), the conversions
/// into them and the one `match` per method.
macro_rules! engines {
    ($( $(#[$cfg:meta])* $variant:ident => $server:ty, $conn:ty; )*) => {
        /// The engine a [`Server`](crate::Server) runs. Boxed, as the
        /// engines differ in size; their loops run inside their own
        /// `run`, so the box costs nothing per event.
        pub(crate) enum ServerInner<S> {
            $( $(#[$cfg])* $variant(Box<$server>), )*
        }

        /// The connection handle of the engine that serves the connection.
        pub(crate) enum ConnInner<'a> {
            $( $(#[$cfg])* $variant($conn), )*
        }

        $(
            $(#[$cfg])*
            impl<S> From<$server> for ServerInner<S> {
                fn from(s: $server) -> ServerInner<S> {
                    ServerInner::$variant(Box::new(s))
                }
            }

            $(#[$cfg])*
            impl<'a> From<$conn> for ConnInner<'a> {
                #[inline]
                fn from(c: $conn) -> ConnInner<'a> {
                    ConnInner::$variant(c)
                }
            }
        )*

        impl<S: crate::Service> EngineServer<S> for ServerInner<S> {
            fn engine(&self) -> Engine {
                match self { $( $(#[$cfg])* ServerInner::$variant(e) => e.engine(), )* }
            }

            fn backend(&self) -> Backend {
                match self { $( $(#[$cfg])* ServerInner::$variant(e) => e.backend(), )* }
            }

            fn config(&self) -> &Config {
                match self { $( $(#[$cfg])* ServerInner::$variant(e) => e.config(), )* }
            }

            fn local_addr(&self) -> SocketAddr {
                match self { $( $(#[$cfg])* ServerInner::$variant(e) => e.local_addr(), )* }
            }

            fn report(&mut self) -> &mut Reporter {
                match self { $( $(#[$cfg])* ServerInner::$variant(e) => e.report(), )* }
            }

            fn shutdown_handle(&self) -> ShutdownHandle {
                match self { $( $(#[$cfg])* ServerInner::$variant(e) => e.shutdown_handle(), )* }
            }

            fn service(&self) -> &S {
                match self { $( $(#[$cfg])* ServerInner::$variant(e) => e.service(), )* }
            }

            fn run(&mut self) -> io::Result<Summary> {
                match self { $( $(#[$cfg])* ServerInner::$variant(e) => e.run(), )* }
            }
        }

        impl EngineConn for ConnInner<'_> {
            #[inline]
            fn peer(&self) -> SocketAddr {
                match self { $( $(#[$cfg])* ConnInner::$variant(c) => c.peer(), )* }
            }

            #[inline]
            fn pending(&self) -> usize {
                match self { $( $(#[$cfg])* ConnInner::$variant(c) => c.pending(), )* }
            }

            #[inline]
            fn send(&mut self, data: &[u8]) {
                match self { $( $(#[$cfg])* ConnInner::$variant(c) => c.send(data), )* }
            }

            #[inline]
            fn close(&mut self) {
                match self { $( $(#[$cfg])* ConnInner::$variant(c) => c.close(), )* }
            }
        }
    };
}

// The one list of engines: variant => the engine's server; its connection
// handle.
engines! {
    Ready => crate::readiness::ReadyServer<S>, crate::readiness::ReadyConn<'a>;
    #[cfg(all(feature = "uring", target_os = "linux"))]
    Uring => crate::uring::UringServer<S>, crate::uring::UringConn<'a>;
}
