//! The backend dispatch, written once: the contract every backend module
//! implements ([`Driver`] on its registry, [`Wait`] on its waiter), and the
//! one list of backends from which the run-time enums and their `match`es
//! are generated.
//!
//! The `Selector`, `Registry` and `Waker` of the front hold a [`Shared`], a
//! [`Waiter`] and a [`WakerInner`]: one variant per backend, chosen at run
//! time. Each `match` below is static dispatch to a `Driver` method that is
//! inlined into it, so the choice costs a compare and a jump, nothing more
//! (the wait of a server takes this path on every event).

use std::fmt::Debug;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use super::{unsupported_backend, Backend};
use crate::event::{Events, Interest, Token, Trigger};

/// The shared side of a selector backend, behind an `Arc`: registrations,
/// from any thread, also while another thread waits (the change must take
/// effect in that wait), and wakers. Implemented by the backend's registry
/// type itself.
///
/// The front's `Send`/`Sync` follow from the types (checked in
/// `event.rs` and by the tests), not from bounds here, so that a platform
/// whose kernel struct holds a pointer (kqueue's `udata`) only loses what
/// it must.
///
/// Arguments are checked before they get here: the interest has a known
/// bit and the descriptor number is non-negative. Each method has the
/// errors documented on the public method of the same name.
pub(crate) trait Driver: Debug + Sized {
    /// A waker: ends a wait from another thread with a readable event.
    type Waker: Debug;

    /// Registers `fd`; `AlreadyExists` if it is registered already.
    fn register(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()>;

    /// Changes a registration and re-arms it; `NotFound` if there is none.
    fn reregister(
        &self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        trigger: Trigger,
    ) -> io::Result<()>;

    /// Removes a registration; `NotFound` if there is none.
    fn deregister(&self, fd: RawFd) -> io::Result<()>;

    /// A waker that makes a wait on this registry report `token`, readable.
    fn waker(self: &Arc<Self>, token: Token) -> io::Result<Self::Waker>;

    /// Wakes: the next (or current) wait reports the waker's token. Wakes
    /// coalesce, and one is never lost.
    fn wake(waker: &Self::Waker) -> io::Result<()>;

    /// The one kernel object the registrations live in, for another poller
    /// to wait on (`Selector::try_as_fd`), or `None` (the default) for a
    /// backend without one.
    ///
    /// Return `Some` only if the descriptor is readable whenever a wait on
    /// this registry would report an event without blocking, and stays so
    /// until such a wait has taken it: an epoll or kqueue descriptor is; an
    /// io_uring ring is only if registrations reach the kernel when they
    /// are made (not at the next wait), since the ring is readable when
    /// completions are queued.
    fn as_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

/// The waiting side of a selector backend: the state of the thread that
/// waits (buffers, snapshots, a ring), and the wait. Implemented by the
/// backend's waiter type, which names its registry: the backend is this
/// pair.
pub(crate) trait Wait: Debug + Sized {
    /// The shared side this waiter waits on.
    type Registry: Driver;

    /// A new instance (the kernel object, or the table and its notifier).
    fn open() -> io::Result<(Self::Registry, Self)>;

    /// One wait into `events` (empty on entry, never grown past its
    /// capacity): no `EINTR` retry (`Interrupted` is returned); `timeout`
    /// `None` blocks. Returns the number of events.
    fn select(
        &mut self,
        registry: &Self::Registry,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<usize>;
}

/// Generates, from the list of backends at the bottom of this file, the
/// run-time enums and the one `match` per operation.
macro_rules! backends {
    ($( $(#[$cfg:meta])* $variant:ident => $waiter:ty, )*) => {
        /// The shared side of a selector, per backend.
        #[derive(Clone, Debug)]
        pub(super) enum Shared {
            $( $(#[$cfg])* $variant(Arc<<$waiter as Wait>::Registry>), )*
        }

        /// The waiting side of a selector, per backend.
        #[derive(Debug)]
        pub(super) enum Waiter {
            $( $(#[$cfg])* $variant($waiter), )*
        }

        /// A waker, per backend.
        #[derive(Debug)]
        pub(super) enum WakerInner {
            $( $(#[$cfg])* $variant(<<$waiter as Wait>::Registry as Driver>::Waker), )*
        }

        /// A new selector's two sides on `backend`.
        pub(super) fn open(backend: Backend) -> io::Result<(Shared, Waiter)> {
            match backend {
                $( $(#[$cfg])* Backend::$variant => {
                    let (r, w) = <$waiter as Wait>::open()?;
                    Ok((Shared::$variant(Arc::new(r)), Waiter::$variant(w)))
                } )*
                #[allow(unreachable_patterns)]
                other => Err(unsupported_backend(other)),
            }
        }

        impl Shared {
            pub(super) fn backend(&self) -> Backend {
                match self {
                    $( $(#[$cfg])* Shared::$variant(_) => Backend::$variant, )*
                }
            }

            pub(super) fn register(
                &self,
                fd: RawFd,
                token: Token,
                interest: Interest,
                trigger: Trigger,
            ) -> io::Result<()> {
                match self {
                    $( $(#[$cfg])* Shared::$variant(r) =>
                        r.register(fd, token, interest, trigger), )*
                }
            }

            pub(super) fn reregister(
                &self,
                fd: RawFd,
                token: Token,
                interest: Interest,
                trigger: Trigger,
            ) -> io::Result<()> {
                match self {
                    $( $(#[$cfg])* Shared::$variant(r) =>
                        r.reregister(fd, token, interest, trigger), )*
                }
            }

            pub(super) fn deregister(&self, fd: RawFd) -> io::Result<()> {
                match self {
                    $( $(#[$cfg])* Shared::$variant(r) => r.deregister(fd), )*
                }
            }

            #[inline]
            pub(super) fn select(
                &self,
                waiter: &mut Waiter,
                events: &mut Events,
                timeout: Option<Duration>,
            ) -> io::Result<usize> {
                match (self, waiter) {
                    $( $(#[$cfg])* (Shared::$variant(r), Waiter::$variant(w)) =>
                        w.select(r, events, timeout), )*
                    #[allow(unreachable_patterns)]
                    _ => unreachable!("a selector's registry and waiter always match"),
                }
            }

            pub(super) fn as_fd(&self) -> Option<BorrowedFd<'_>> {
                match self {
                    $( $(#[$cfg])* Shared::$variant(r) => r.as_fd(), )*
                }
            }

            pub(super) fn waker(&self, token: Token) -> io::Result<WakerInner> {
                Ok(match self {
                    $( $(#[$cfg])* Shared::$variant(r) =>
                        WakerInner::$variant(r.waker(token)?), )*
                })
            }
        }

        impl WakerInner {
            pub(super) fn wake(&self) -> io::Result<()> {
                match self {
                    $( $(#[$cfg])* WakerInner::$variant(w) =>
                        <<$waiter as Wait>::Registry as Driver>::wake(w), )*
                }
            }
        }
    };
}

// The one list of backends: `Backend` variant => the backend's waiter (the
// type implementing `Wait`, which names its `Driver`), behind the cfg of the
// platforms that have it.
backends! {
    #[cfg(ioready_epoll)]
    Epoll => super::epoll::Waiter,
    #[cfg(ioready_kqueue)]
    Kqueue => super::kqueue::Waiter,
    Poll => super::poll::Waiter,
    Select => Box<super::select::Waiter>,
    #[cfg(all(feature = "uring", target_os = "linux"))]
    Uring => super::uring::Waiter,
}
