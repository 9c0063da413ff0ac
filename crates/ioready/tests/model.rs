//! A randomized, model-based test of the `Selector` on every backend.
//!
//! Each case is a random sequence of operations on real pipes, unix
//! socketpairs and regular files (which epoll refuses and the epoll
//! backend reports as always ready, from a list of its own): create,
//! `dup`, close (also while registered), register, reregister, deregister,
//! deregister by number, write, read, shutdown, wakers (new, wake, drop),
//! event sources (timers set, re-armed, cancelled and acknowledged; signals
//! raised and received; exited children collected), and bursts of waits
//! with `Events` buffers of 1 to 64 events, level-triggered, oneshot and
//! edge-triggered, on every backend (io_uring included). Beside the real selector runs a model: what each descriptor
//! number names, what each file would tell `poll(2)`, and what each backend
//! keeps registered. Every operation's result and every wait is compared with
//! the model:
//!
//! * the events of a wait are exactly the ready registrations (with the exact
//!   `raw_flags` the backend must give), or `capacity` of them when more are
//!   ready, without duplicates;
//! * fairness: within a burst of waits (nothing changes between them), no
//!   ready registration waits more than ⌈ready / capacity⌉ waits to be
//!   reported, live and invalid alike;
//! * the predicates agree with the flags (`is_read_closed` is true exactly
//!   when the read side is closed, also for a `READ_CLOSED`-only
//!   registration);
//! * oneshot registrations report once, then nothing until reregistered.
//!
//! What the model knows per backend (the `Registry` docs): select and poll
//! keep a registration by descriptor *number*, so after a close it reports
//! `is_invalid()`, and once the number is reused it reports the new file's
//! readiness under the old token and interest; epoll keeps it by (open
//! file, number) and drops it when the last descriptor of the file is closed
//! (its list of always-ready regular files, on (file, number) alike, drops
//! one at the first wait that finds its number closed or naming another
//! file).
//! io_uring keeps registrations by number, as select and poll; its armed
//! poll request holds the file, so this model deregisters a registered
//! number there before closing it (what a close alone does is pinned by
//! `tests/selector.rs`).
//!
//! Edge triggering (epoll, io_uring; select and poll must refuse it): when
//! the kernel wakes a file up is partly beyond the model, so an edge is
//! *required* where one must come (registered or reregistered while ready;
//! data written to it while READABLE is asked), *allowed* after anything
//! else on its channel (a read frees room for a writer, a shutdown, a
//! close), once per such change, and wrong anywhere else: every reported
//! edge has the exact flags of the state, and none is reported twice for
//! one change.
//!
//! Before each wait the model's state of every registered descriptor is
//! held against the kernel's own answer, `poll(2)` on the same number for
//! the registration's interest (`check_kernel`): so the flags compared are
//! the kernel's, masked by interest.
//!
//! Every case uses its own band of high descriptor numbers, so the numbers it
//! closes are reused only by its own `dup`s (other tests of this binary
//! allocate low numbers, or other bands).
//!
//! Knobs (environment):
//! * `IOREADY_MODEL_CASES`: cases per backend (default 300);
//! * `IOREADY_MODEL_SECONDS`: at most this long per backend (default 3;
//!   whichever bound comes first);
//! * `IOREADY_MODEL_BASE`: the first case's seed (default 0; cases use
//!   consecutive seeds, so a run is reproducible);
//! * `IOREADY_MODEL_CHILDREN=0`: no child processes among the sources (a
//!   timer in their place; for valgrind, which lacks `pidfd_open`);
//! * `IOREADY_MODEL_SEED`: run only this seed (printed on failure, with the
//!   operations that led to it).
//!
//! For minutes: `IOREADY_MODEL_CASES=1000000 IOREADY_MODEL_SECONDS=300
//! IOREADY_MODEL_BASE=$RANDOM cargo test --release -p ioready --test model`.

// The model is of Linux's `pipe_poll` and `unix_poll`.
#![cfg(target_os = "linux")]

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use ioready::{Backend, Events, Interest, Selector, Token, Trigger};

// Event bits in Linux's numbering, as `Event::raw_flags` gives them.
const IN: u32 = 0x001;
const PRI: u32 = 0x002;
const OUT: u32 = 0x004;
const ERR: u32 = 0x008;
const HUP: u32 = 0x010;
const NVAL: u32 = 0x020;
const RDHUP: u32 = 0x2000;

/// Writes not yet read, per direction: few enough that no pipe or socket
/// ever becomes full (a unix socket's writability depends on the memory its
/// unread buffers take, ~1 KiB each: 8 stay far below the limit).
const MAX_PENDING_WRITES: usize = 8;
/// Descriptors open at once in a case.
const MAX_FDS: usize = 14;

// ---------------------------------------------------------------------
// Random numbers: splitmix64, so a seed replays a case exactly.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

// ---------------------------------------------------------------------
// The world: channels (a pipe or a socketpair), open file descriptions (one
// per end) and the descriptors that name them.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    PipeRead,
    PipeWrite,
    Sock,
    /// A regular file: always ready for `poll(2)` and `select(2)`; epoll
    /// refuses it (`EPERM`) and the epoll backend reports it as always
    /// ready from a list of its own (the file's identity is its `chan`).
    File,
}

/// An open file description: one end of a channel.
#[derive(Debug)]
struct Desc {
    kind: Kind,
    chan: usize,
    /// Pipe: 0 read end, 1 write end. Socketpair: 0 or 1.
    side: usize,
    /// Descriptors naming it; 0: released (the kernel closed the end).
    open: usize,
}

/// A pipe or socketpair. Indexed by side; for a pipe only index 0 of the
/// data fields is used (the bytes in the pipe).
#[derive(Debug, Default)]
struct Chan {
    /// Bytes waiting to be read by this side.
    queued: [usize; 2],
    /// Writes waiting to be read by this side.
    writes: [usize; 2],
    /// `shutdown(SHUT_RD)` / `shutdown(SHUT_WR)` called on this side.
    shut_rd: [bool; 2],
    shut_wr: [bool; 2],
    /// A pending socket error (`ECONNRESET`: the peer was closed with data
    /// it had not read), cleared by the read that returns it.
    err: [bool; 2],
    /// The end was closed (its last descriptor).
    released: [bool; 2],
}

impl Chan {
    /// A socket side will receive nothing more (its own SHUT_RD, the peer's
    /// SHUT_WR, or the peer closed).
    fn rcv_shut(&self, i: usize) -> bool {
        let j = 1 - i;
        self.shut_rd[i] || self.shut_wr[j] || self.released[j]
    }

    /// A socket side can send nothing more.
    fn snd_shut(&self, i: usize) -> bool {
        let j = 1 - i;
        self.shut_wr[i] || self.shut_rd[j] || self.released[j]
    }
}

struct Fd {
    fd: OwnedFd,
    desc: usize,
}

impl Fd {
    fn number(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[derive(Default)]
struct World {
    descs: Vec<Desc>,
    chans: Vec<Chan>,
    fds: Vec<Fd>,
    /// Every number a descriptor of this case has had.
    numbers: BTreeSet<RawFd>,
}

impl World {
    /// What `poll(2)` says of a description (all bits, before any mask),
    /// from what the kernel does for pipes (`pipe_poll`) and unix stream
    /// sockets (`unix_poll`).
    fn mask(&self, d: usize) -> u32 {
        let desc = &self.descs[d];
        let c = &self.chans[desc.chan];
        match desc.kind {
            Kind::PipeRead => {
                let mut m = 0;
                if c.queued[0] > 0 {
                    m |= IN;
                }
                if c.released[1] {
                    m |= HUP;
                }
                m
            }
            Kind::PipeWrite => {
                // Never full (MAX_PENDING_WRITES).
                let mut m = OUT;
                if c.released[0] {
                    m |= ERR;
                }
                m
            }
            Kind::File => IN | OUT,
            Kind::Sock => {
                let i = desc.side;
                // Writable even after shutdowns ("this prevents stuck
                // sockets", unix_poll), and never full.
                let mut m = OUT;
                if c.err[i] {
                    m |= ERR;
                }
                if c.rcv_shut(i) && c.snd_shut(i) {
                    m |= HUP;
                }
                if c.rcv_shut(i) {
                    m |= RDHUP | IN;
                }
                if c.queued[i] > 0 {
                    m |= IN;
                }
                m
            }
        }
    }

    fn fd_at(&self, number: RawFd) -> Option<&Fd> {
        self.fds.iter().find(|f| f.number() == number)
    }

    fn add_fd(&mut self, fd: OwnedFd, desc: usize) {
        self.numbers.insert(fd.as_raw_fd());
        self.descs[desc].open += 1;
        self.fds.push(Fd { fd, desc });
    }
}

// ---------------------------------------------------------------------
// What the backend keeps registered.

#[derive(Clone, Debug)]
struct Reg {
    number: RawFd,
    /// The description the number named at registration (epoll's key).
    desc: usize,
    token: usize,
    interest: Interest,
    trigger: Trigger,
    armed: bool,
    /// On epoll: a regular file, in the backend's always-ready list (keyed
    /// by number; dropped by a wait that finds the number closed or naming
    /// another file).
    always_ready: bool,
    /// Edge: an edge the backend must report (registered or reregistered
    /// while ready; data written to it while READABLE was asked), if the
    /// descriptor is still ready at the wait.
    must: bool,
    /// Edge: something happened on its channel that may have woken it (a
    /// read frees room for a writer, a shutdown, a close): a report is
    /// allowed, with the exact flags of the state, once.
    may: bool,
}

fn interest_bits(i: Interest) -> u32 {
    let mut b = 0;
    if i.contains(Interest::READABLE) {
        b |= IN;
    }
    if i.contains(Interest::WRITABLE) {
        b |= OUT;
    }
    if i.contains(Interest::PRIORITY) {
        b |= PRI;
    }
    if i.contains(Interest::READ_CLOSED) {
        b |= RDHUP;
    }
    b
}

fn interests() -> [Interest; 8] {
    [
        Interest::READABLE,
        Interest::WRITABLE,
        Interest::READABLE | Interest::WRITABLE,
        Interest::READ_CLOSED,
        Interest::READABLE | Interest::READ_CLOSED,
        Interest::PRIORITY,
        Interest::READABLE | Interest::PRIORITY,
        Interest::WRITABLE | Interest::READ_CLOSED,
    ]
}

/// The result an operation must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Ok,
    Kind(io::ErrorKind),
    Errno(i32),
}

fn matches(want: Want, got: &io::Result<()>) -> bool {
    match (want, got) {
        (Want::Ok, Ok(())) => true,
        (Want::Kind(k), Err(e)) => e.kind() == k,
        (Want::Errno(n), Err(e)) => e.raw_os_error() == Some(n),
        _ => false,
    }
}

/// How a drain of a readable descriptor ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// `EAGAIN`: open, nothing more for now.
    Again,
    /// Read returned 0.
    Eof,
    Errno(i32),
}

/// Reads until `EAGAIN`, end of file or an error.
fn drain(fd: &OwnedFd) -> (usize, End) {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match rustix::io::read(fd, &mut buf) {
            Ok(0) => return (total, End::Eof),
            Ok(n) => total += n,
            Err(rustix::io::Errno::AGAIN) => return (total, End::Again),
            Err(e) => return (total, End::Errno(e.raw_os_error())),
        }
    }
}

/// Held (shared) by every step of every case, and alone by a case that
/// starts a child: between fork and exec the child holds a copy of every
/// descriptor, so a pipe end closed by another case would not yet be
/// released. The child has exited (it is a zombie) before this is let go.
static FORK: std::sync::RwLock<()> = std::sync::RwLock::new(());

// ---------------------------------------------------------------------
// One case.

struct Case {
    backend: Backend,
    /// Select and poll keep registrations by number; epoll by (file, number).
    by_number: bool,
    rng: Rng,
    world: World,
    sel: Selector,
    regs: Vec<Reg>,
    band: RawFd,
    next_token: usize,
    /// Wakers, with their tokens and whether a wake is pending (wakes
    /// coalesce: one event until it is reported).
    wakers: Vec<(ioready::Waker, usize, bool)>,
    /// Event sources (level-triggered, READABLE): timers, signals and
    /// exited children, with their tokens and whether they are ready.
    sources: Vec<(Source, usize, bool)>,
    /// The real-time signal of this backend's cases (each backend runs on
    /// its own thread, and every owner of a signal sees every delivery).
    signal: ioready::Signal,
    /// io_uring: a registered descriptor is deregistered before it is
    /// closed (an armed poll request holds the file: the close alone would
    /// close nothing, which this model of the files does not follow).
    deregister_before_close: bool,
    /// select and poll refuse edge triggering.
    no_edge: bool,
    /// `source_op` starts a child (only outside the shared hold of `FORK`).
    forking: bool,
    log: Vec<String>,
}

/// An event source of the case.
enum Source {
    Timer(ioready::Timer),
    Signals(ioready::Signals),
    Process(ioready::Process),
}

impl Case {
    fn new(backend: Backend, seed: u64, band: RawFd) -> Case {
        Case {
            backend,
            by_number: backend != Backend::Epoll,
            rng: Rng(seed),
            world: World::default(),
            sel: Selector::with_backend(backend).expect("selector"),
            regs: Vec::new(),
            band,
            next_token: 1,
            wakers: Vec::new(),
            sources: Vec::new(),
            signal: ioready::Signal::realtime(8 + ((band - 1000) / 100) as u32)
                .expect("a real-time signal"),
            deregister_before_close: backend == Backend::Uring,
            no_edge: matches!(backend, Backend::Select | Backend::Poll),
            forking: true,
            log: Vec::new(),
        }
    }

    fn fail(&self, what: String) -> ! {
        let start = self.log.len().saturating_sub(80);
        let mut msg = String::new();
        for (i, l) in self.log.iter().enumerate().skip(start) {
            msg.push_str(&format!("  {i:4} {l}\n"));
        }
        panic!(
            "{} backend: {what}\noperations (last {}):\n{msg}registrations: {:?}",
            self.backend,
            self.log.len() - start,
            self.regs
        );
    }

    fn dup(&self, fd: impl AsFd) -> OwnedFd {
        common::dup_at_least(fd, self.band).expect("dup into the band")
    }

    /// The registration a backend finds for a number that names `desc` now
    /// (`None`: the number is closed). select and poll look the number up;
    /// epoll asks the kernel for (open file, number); its always-ready list
    /// of regular files keys on (file identity, number) alike.
    fn find(&self, number: RawFd, desc: Option<usize>) -> Option<usize> {
        let identity = |d: usize| self.world.descs[d].chan;
        let file = desc.filter(|&d| self.world.descs[d].kind == Kind::File);
        self.regs.iter().position(|r| {
            r.number == number
                && (self.by_number
                    || (r.always_ready && file.map(identity) == Some(identity(r.desc)))
                    || (!r.always_ready && Some(r.desc) == desc))
        })
    }

    /// The file a number names now, if it is a regular file: its identity.
    fn file_at(&self, number: RawFd) -> Option<usize> {
        let fd = self.world.fd_at(number)?;
        let d = &self.world.descs[fd.desc];
        (d.kind == Kind::File).then_some(d.chan)
    }

    /// What a wait of the epoll backend does first: forget the always-ready
    /// registrations whose number is closed or names another file.
    fn forget_stale_files(&mut self) {
        if self.by_number {
            return;
        }
        let stale: Vec<usize> = self
            .regs
            .iter()
            .filter(|r| {
                r.always_ready && self.file_at(r.number) != Some(self.world.descs[r.desc].chan)
            })
            .map(|r| r.token)
            .collect();
        if !stale.is_empty() {
            self.log
                .push(format!("(epoll forgets stale file tokens {stale:?})"));
            self.regs.retain(|r| !stale.contains(&r.token));
        }
    }

    /// The flags a registration must be reported with now (0: none).
    fn expected_flags(&self, r: &Reg) -> u32 {
        if !r.armed {
            return 0;
        }
        let interest = interest_bits(r.interest);
        if r.always_ready {
            return (IN | OUT) & interest;
        }
        if !self.by_number {
            return self.world.mask(r.desc) & (interest | ERR | HUP);
        }
        let Some(fd) = self.world.fd_at(r.number) else {
            // Closed: poll's POLLNVAL; select singles it out the same way.
            return NVAL | ERR;
        };
        let m = self.world.mask(fd.desc);
        match self.backend {
            Backend::Select => {
                // Linux's select: POLLIN_SET has IN|HUP|ERR, POLLOUT_SET
                // OUT|ERR, POLLEX_SET PRI.
                let mut f = 0;
                if r.interest.contains(Interest::READABLE) && m & (IN | HUP | ERR) != 0 {
                    f |= IN;
                }
                if r.interest.contains(Interest::WRITABLE) && m & (OUT | ERR) != 0 {
                    f |= OUT;
                }
                if r.interest.contains(Interest::PRIORITY) && m & PRI != 0 {
                    f |= PRI;
                }
                f
            }
            _ => m & (interest | ERR | HUP),
        }
    }

    /// select and poll refuse edges; select cannot tell end of file from
    /// data, so it refuses `READ_CLOSED` without `READABLE`.
    fn refused(&self, interest: Interest, trigger: Trigger) -> bool {
        (self.no_edge && trigger == Trigger::Edge)
            || (!self.backend.supports_read_closed()
                && interest.contains(Interest::READ_CLOSED)
                && !interest.contains(Interest::READABLE))
    }

    fn check_result(&self, what: &str, want: Want, got: io::Result<()>) {
        if !matches(want, &got) {
            self.fail(format!("{what}: want {want:?}, got {got:?}"));
        }
    }

    fn random_fd(&mut self, pred: impl Fn(&Fd, &World) -> bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.world.fds.len())
            .filter(|&i| pred(&self.world.fds[i], &self.world))
            .collect();
        if candidates.is_empty() {
            None
        } else {
            Some(self.rng.pick(&candidates))
        }
    }

    fn trigger(&mut self) -> Trigger {
        match self.rng.below(10) {
            0..=4 => Trigger::Level,
            5..=7 => Trigger::Oneshot,
            _ => Trigger::Edge,
        }
    }

    /// Something happened on channel `chan`: every edge registration of
    /// its descriptions may be woken.
    fn touch(&mut self, chan: usize) {
        let descs = &self.world.descs;
        for r in self.regs.iter_mut() {
            if r.trigger == Trigger::Edge && descs[r.desc].chan == chan {
                r.may = true;
            }
        }
    }

    /// Data was written for description `desc`: its edge registrations
    /// that asked for READABLE must report it.
    fn data_for(&mut self, desc: usize) {
        for r in self.regs.iter_mut() {
            if r.trigger == Trigger::Edge
                && r.desc == desc
                && r.interest.contains(Interest::READABLE)
            {
                r.must = true;
                r.may = true;
            }
        }
    }

    // --- operations ---

    fn new_channel(&mut self) {
        let chan = self.world.chans.len();
        self.world.chans.push(Chan::default());
        if self.rng.chance(20) {
            let desc = self.world.descs.len();
            self.world.descs.push(Desc {
                kind: Kind::File,
                chan,
                side: 0,
                open: 0,
            });
            let fd = self.dup(common::regular_file());
            self.log
                .push(format!("new File {chan}: fd {}", fd.as_raw_fd()));
            self.world.add_fd(fd, desc);
            return;
        }
        let (a, b, kinds) = if self.rng.chance(50) {
            let (r, w) = common::pipe();
            (r, w, [Kind::PipeRead, Kind::PipeWrite])
        } else {
            let (a, b) = UnixStream::pair().expect("socketpair");
            a.set_nonblocking(true).unwrap();
            b.set_nonblocking(true).unwrap();
            (OwnedFd::from(a), OwnedFd::from(b), [Kind::Sock, Kind::Sock])
        };
        let mut numbers = Vec::new();
        for (side, (end, kind)) in [a, b].into_iter().zip(kinds).enumerate() {
            let desc = self.world.descs.len();
            self.world.descs.push(Desc {
                kind,
                chan,
                side,
                open: 0,
            });
            let fd = self.dup(&end);
            numbers.push(fd.as_raw_fd());
            self.world.add_fd(fd, desc);
        }
        self.log
            .push(format!("new {:?} chan {chan}: fds {numbers:?}", kinds[0]));
    }

    fn dup_op(&mut self) {
        let Some(i) = self.random_fd(|_, _| true) else {
            return;
        };
        let desc = self.world.fds[i].desc;
        let fd = self.dup(&self.world.fds[i].fd);
        self.log.push(format!(
            "dup fd {} -> fd {} (desc {desc})",
            self.world.fds[i].number(),
            fd.as_raw_fd()
        ));
        self.world.add_fd(fd, desc);
    }

    fn close_op(&mut self) {
        let Some(i) = self.random_fd(|_, _| true) else {
            return;
        };
        if self.deregister_before_close {
            let (number, desc) = (self.world.fds[i].number(), self.world.fds[i].desc);
            if let Some(r) = self.find(number, Some(desc)) {
                self.log
                    .push(format!("deregister fd {number} before closing it"));
                let got = self.sel.registry().deregister(&self.world.fds[i].fd);
                self.check_result("deregister", Want::Ok, got);
                self.regs.remove(r);
            }
        }
        let Fd { fd, desc } = self.world.fds.swap_remove(i);
        let number = fd.as_raw_fd();
        drop(fd);
        let d = &mut self.world.descs[desc];
        d.open -= 1;
        let released = d.open == 0;
        self.log.push(format!(
            "close fd {number} (desc {desc}{})",
            if released { ", released" } else { "" }
        ));
        if !released {
            return;
        }
        let (kind, chan, side) = (d.kind, d.chan, d.side);
        self.touch(chan);
        let c = &mut self.world.chans[chan];
        c.released[side] = true;
        if kind == Kind::Sock && c.queued[side] > 0 && !c.released[1 - side] {
            // unix_release_sock: the peer gets ECONNRESET when data sent
            // to the closed end was never read.
            c.err[1 - side] = true;
        }
        c.queued[side] = 0;
        c.writes[side] = 0;
        if !self.by_number {
            // epoll forgets a file's registrations when it is released.
            self.regs.retain(|r| r.always_ready || r.desc != desc);
        }
    }

    fn register_op(&mut self) {
        let Some(i) = self.random_fd(|_, _| true) else {
            return;
        };
        let interest = self.rng.pick(&interests());
        let trigger = self.trigger();
        let token = self.next_token;
        self.next_token += 1;
        let (number, desc) = (self.world.fds[i].number(), self.world.fds[i].desc);
        let always_ready = !self.by_number && self.world.descs[desc].kind == Kind::File;
        let want = if self.refused(interest, trigger) {
            Want::Kind(io::ErrorKind::Unsupported)
        } else if self.find(number, Some(desc)).is_some() {
            Want::Kind(io::ErrorKind::AlreadyExists)
        } else {
            Want::Ok
        };
        self.log.push(format!(
            "register fd {number} (desc {desc}) token {token} {interest:?} {trigger:?}: want {want:?}"
        ));
        let got = self.sel.registry().register_with(
            &self.world.fds[i].fd,
            Token(token),
            interest,
            trigger,
        );
        self.check_result("register", want, got);
        if want == Want::Ok {
            if always_ready {
                // It replaces a registration of another file under the same
                // (reused) number.
                self.regs
                    .retain(|r| !(r.always_ready && r.number == number));
            }
            self.regs.push(Reg {
                number,
                desc,
                token,
                interest,
                trigger,
                armed: true,
                always_ready,
                must: trigger == Trigger::Edge,
                may: trigger == Trigger::Edge,
            });
        }
    }

    fn reregister_op(&mut self) {
        let Some(i) = self.random_fd(|_, _| true) else {
            return;
        };
        let interest = self.rng.pick(&interests());
        let trigger = self.trigger();
        let token = self.next_token;
        self.next_token += 1;
        let (number, desc) = (self.world.fds[i].number(), self.world.fds[i].desc);
        let found = self.find(number, Some(desc));
        let want = if self.refused(interest, trigger) {
            Want::Kind(io::ErrorKind::Unsupported)
        } else if found.is_none() {
            Want::Kind(io::ErrorKind::NotFound)
        } else {
            Want::Ok
        };
        self.log.push(format!(
            "reregister fd {number} (desc {desc}) token {token} {interest:?} {trigger:?}: want {want:?}"
        ));
        let got = self.sel.registry().reregister_with(
            &self.world.fds[i].fd,
            Token(token),
            interest,
            trigger,
        );
        self.check_result("reregister", want, got);
        if let (Want::Ok, Some(r)) = (want, found) {
            let r = &mut self.regs[r];
            r.token = token;
            r.interest = interest;
            r.trigger = trigger;
            r.armed = true;
            r.must = trigger == Trigger::Edge;
            r.may = r.must;
        }
    }

    fn deregister_op(&mut self) {
        let Some(i) = self.random_fd(|_, _| true) else {
            return;
        };
        let (number, desc) = (self.world.fds[i].number(), self.world.fds[i].desc);
        let found = self.find(number, Some(desc));
        let want = match found {
            Some(_) => Want::Ok,
            None => Want::Kind(io::ErrorKind::NotFound),
        };
        self.log.push(format!(
            "deregister fd {number} (desc {desc}): want {want:?}"
        ));
        let got = self.sel.registry().deregister(&self.world.fds[i].fd);
        self.check_result("deregister", want, got);
        if let Some(r) = found {
            self.regs.remove(r);
        }
    }

    fn deregister_raw_op(&mut self) {
        let numbers: Vec<RawFd> = self.world.numbers.iter().copied().collect();
        if numbers.is_empty() {
            return;
        }
        let number = self.rng.pick(&numbers);
        let desc = self.world.fd_at(number).map(|f| f.desc);
        let found = self.find(number, desc);
        let want = match (found, desc) {
            (Some(_), _) => Want::Ok,
            // epoll_ctl cannot name a closed number.
            (None, None) if !self.by_number => Want::Errno(libc::EBADF),
            (None, _) => Want::Kind(io::ErrorKind::NotFound),
        };
        self.log.push(format!(
            "deregister_raw {number} (desc {desc:?}): want {want:?}"
        ));
        let got = self.sel.registry().deregister_raw(number);
        self.check_result("deregister_raw", want, got);
        if let Some(r) = found {
            self.regs.remove(r);
        }
    }

    fn write_op(&mut self) {
        let Some(i) = self.random_fd(|f, w| {
            let d = &w.descs[f.desc];
            let c = &w.chans[d.chan];
            match d.kind {
                Kind::PipeWrite => c.writes[0] < MAX_PENDING_WRITES,
                Kind::Sock => c.writes[1 - d.side] < MAX_PENDING_WRITES,
                Kind::PipeRead | Kind::File => false,
            }
        }) else {
            return;
        };
        let n = 1 + self.rng.below(64);
        let fd = &self.world.fds[i];
        let d = &self.world.descs[fd.desc];
        let (kind, chan, side) = (d.kind, d.chan, d.side);
        let c = &self.world.chans[chan];
        let (target, broken) = match kind {
            Kind::PipeWrite => (0, c.released[0]),
            _ => (1 - side, c.snd_shut(side)),
        };
        let got = rustix::io::write(&fd.fd, &[b'x'; 64][..n]);
        self.log.push(format!(
            "write {n} to fd {} (chan {chan} side {side}): {got:?}",
            fd.number()
        ));
        match (broken, got) {
            (false, Ok(m)) if m == n => {
                let c = &mut self.world.chans[chan];
                c.queued[target] += n;
                c.writes[target] += 1;
                self.touch(chan);
                let receiver =
                    self.world.descs.iter().position(|d| {
                        d.chan == chan && d.side == target && d.kind != Kind::PipeWrite
                    });
                if let Some(d) = receiver {
                    self.data_for(d);
                }
            }
            (true, Err(rustix::io::Errno::PIPE)) => {}
            (broken, got) => self.fail(format!(
                "write: want {}, got {got:?}",
                if broken { "EPIPE" } else { "all bytes written" }
            )),
        }
    }

    fn read_op(&mut self) {
        let Some(i) =
            self.random_fd(|f, w| matches!(w.descs[f.desc].kind, Kind::PipeRead | Kind::Sock))
        else {
            return;
        };
        let fd = &self.world.fds[i];
        let d = &self.world.descs[fd.desc];
        let (kind, chan, side) = (d.kind, d.chan, d.side);
        let c = &self.world.chans[chan];
        let want_end = match kind {
            Kind::PipeRead if c.released[1] => End::Eof,
            Kind::PipeRead => End::Again,
            _ if c.err[side] => End::Errno(libc::ECONNRESET),
            _ if c.rcv_shut(side) => End::Eof,
            _ => End::Again,
        };
        let want = (c.queued[side], want_end);
        let got = drain(&fd.fd);
        self.log.push(format!(
            "read fd {} (chan {chan} side {side}): {got:?}",
            fd.number()
        ));
        if got != want {
            self.fail(format!("read: want {want:?}, got {got:?}"));
        }
        let c = &mut self.world.chans[chan];
        c.queued[side] = 0;
        c.writes[side] = 0;
        c.err[side] = false;
        self.touch(chan);
    }

    fn shutdown_op(&mut self) {
        let Some(i) = self.random_fd(|f, w| w.descs[f.desc].kind == Kind::Sock) else {
            return;
        };
        let how = self
            .rng
            .pick(&[libc::SHUT_RD, libc::SHUT_WR, libc::SHUT_RDWR]);
        let fd = &self.world.fds[i];
        let d = &self.world.descs[fd.desc];
        let (chan, side) = (d.chan, d.side);
        // SAFETY: shutdown(2) on a descriptor this case owns.
        let r = unsafe { libc::shutdown(fd.number(), how) };
        self.log.push(format!(
            "shutdown fd {} (chan {chan} side {side}) how {how}: {r}",
            fd.number()
        ));
        if r != 0 {
            self.fail(format!("shutdown: {}", io::Error::last_os_error()));
        }
        self.touch(chan);
        let c = &mut self.world.chans[chan];
        if how != libc::SHUT_WR {
            c.shut_rd[side] = true;
        }
        if how != libc::SHUT_RD {
            c.shut_wr[side] = true;
        }
    }

    /// A burst of waits with nothing changed between them: each wait is
    /// checked against the model, and fairness across the burst.
    ///
    /// Required: the ready level and oneshot registrations, the pending
    /// wakes, the ready sources, and the edges a backend must report
    /// (`Reg::must`) whose descriptor is ready. Allowed besides: the edges
    /// that may have been woken (`Reg::may`), if ready. Every event has the
    /// exact flags of the state (the model's, which `check_kernel` holds
    /// against `poll(2)`), and no edge is reported twice for one wake-up.
    fn wait_burst(&mut self) {
        let capacity = self.rng.pick(&[1, 1, 2, 2, 3, 4, 64]);
        let mut events = Events::with_capacity(capacity);
        let cap = events.capacity();
        let waits = 1 + self.rng.below(6);
        let mut bound = None;
        let mut missed: HashMap<usize, usize> = HashMap::new();
        for w in 0..waits {
            self.forget_stale_files();
            self.check_kernel();
            let mut required = BTreeMap::new();
            let mut allowed = BTreeMap::new();
            for r in &self.regs {
                let f = self.expected_flags(r);
                if f == 0 {
                    continue;
                }
                if r.trigger != Trigger::Edge || r.must {
                    required.insert(r.token, f);
                } else if r.may {
                    allowed.insert(r.token, f);
                }
            }
            for &(_, t, pending) in &self.wakers {
                if pending {
                    required.insert(t, IN);
                }
            }
            for &(_, t, ready) in &self.sources {
                if ready {
                    required.insert(t, IN);
                }
            }
            // No required registration waits more than
            // ceil(ready / capacity) waits of a burst to be reported.
            let ready = required.len() + allowed.len();
            let bound = *bound.get_or_insert(ready.div_ceil(cap).max(1));
            let timeout = if required.is_empty() {
                if self.rng.chance(10) {
                    Duration::from_millis(1)
                } else {
                    Duration::ZERO
                }
            } else if self.rng.chance(25) {
                common::SOON
            } else {
                Duration::ZERO
            };
            let result = self.sel.select(&mut events, Some(timeout));
            let got: Vec<(usize, u32)> = events
                .iter()
                .map(|e| (e.token().0, e.raw_flags()))
                .collect();
            self.log.push(format!(
                "wait {w}/{waits} capacity {cap} timeout {timeout:?}: required {}, allowed {}, got {}",
                hex(required.iter().map(|(&t, &f)| (t, f))),
                hex(allowed.iter().map(|(&t, &f)| (t, f))),
                hex(got.iter().copied())
            ));
            if let Err(e) = result {
                self.fail(format!("wait: {e}"));
            }
            if got.len() < required.len().min(cap) || got.len() > ready.min(cap) {
                self.fail(format!(
                    "wait: {} events reported, want {} to {} ({} required, {} allowed, capacity {cap})",
                    got.len(),
                    required.len().min(cap),
                    ready.min(cap),
                    required.len(),
                    allowed.len(),
                ));
            }
            let mut seen = BTreeSet::new();
            for e in events.iter() {
                let (token, flags) = (e.token().0, e.raw_flags());
                match required.get(&token).or(allowed.get(&token)) {
                    None => self.fail(format!("wait: token {token} ({flags:#x}) is not ready")),
                    Some(&f) if f != flags => self.fail(format!(
                        "wait: token {token} reported with {flags:#x}, want {f:#x}"
                    )),
                    _ => {}
                }
                if !seen.insert(token) {
                    self.fail(format!("wait: token {token} reported twice"));
                }
                let checks = [
                    ("is_readable", e.is_readable(), flags & IN != 0),
                    ("is_writable", e.is_writable(), flags & OUT != 0),
                    ("is_priority", e.is_priority(), flags & PRI != 0),
                    ("is_error", e.is_error(), flags & (ERR | NVAL) != 0),
                    ("is_invalid", e.is_invalid(), flags & NVAL != 0),
                    (
                        "is_read_closed",
                        e.is_read_closed(),
                        flags & (HUP | RDHUP) != 0,
                    ),
                ];
                for (name, got, want) in checks {
                    if got != want {
                        self.fail(format!(
                            "wait: token {token} flags {flags:#x}: {name}() is {got}, want {want}"
                        ));
                    }
                }
            }
            // Oneshot registrations are disarmed by their report, an edge
            // is consumed by it, and a reported wake is consumed.
            for r in self.regs.iter_mut() {
                if seen.contains(&r.token) {
                    match r.trigger {
                        Trigger::Oneshot => r.armed = false,
                        Trigger::Edge => (r.must, r.may) = (false, false),
                        _ => {}
                    }
                }
            }
            for w in self.wakers.iter_mut() {
                w.2 &= !seen.contains(&w.1);
            }
            for &token in required.keys() {
                if seen.contains(&token) {
                    missed.remove(&token);
                    continue;
                }
                let m = missed.entry(token).or_insert(0);
                *m += 1;
                if *m >= bound {
                    self.fail(format!(
                        "fairness: token {token} ready and not reported for {m} waits \
                         (at most {} allowed: ceil(ready / capacity))",
                        bound - 1
                    ));
                }
            }
        }
    }

    /// The model's state of each registered descriptor against the
    /// kernel's own answer: `poll(2)` on the number, for the interest.
    fn check_kernel(&self) {
        for r in &self.regs {
            let Some(fd) = self.world.fd_at(r.number) else {
                continue;
            };
            if fd.desc != r.desc && !self.by_number {
                continue;
            }
            let interest = interest_bits(r.interest);
            let want = self.world.mask(fd.desc) & (interest | ERR | HUP);
            let got = kernel(&fd.fd, interest);
            if got != want {
                self.fail(format!(
                    "model: fd {} (desc {}) for {interest:#x}: poll(2) says {got:#x}, the model {want:#x}",
                    r.number, fd.desc
                ));
            }
        }
    }

    /// `source_op` without starting a child.
    fn source_op_no_fork(&mut self) {
        self.forking = false;
        self.source_op();
        self.forking = true;
    }

    /// A timer, signals or an exited child: made, made ready, or
    /// acknowledged (each is level-triggered and READABLE).
    fn source_op(&mut self) {
        if self.sources.len() < 3 && self.rng.chance(30) {
            let token = self.next_token;
            self.next_token += 1;
            let registry = self.sel.registry();
            let pick = if self.forking { 9 } else { self.rng.below(9) };
            // IOREADY_MODEL_CHILDREN=0 makes a timer where a child would be
            // (valgrind 3.19 lacks pidfd_open: ci/valgrind.sh sets it).
            let pick = if pick == 9 && env("IOREADY_MODEL_CHILDREN") == Some(0) {
                0
            } else {
                pick
            };
            let has_signals = self
                .sources
                .iter()
                .any(|s| matches!(s.0, Source::Signals(_)));
            let source = match pick {
                5..=8 if !has_signals => Source::Signals(
                    ioready::Signals::new(registry, Token(token), &[self.signal]).unwrap(),
                ),
                0..=8 => Source::Timer(ioready::Timer::new(registry, Token(token)).unwrap()),
                _ => {
                    // The child holds a copy of every descriptor of the
                    // process until it execs: no other case may look at
                    // its files meanwhile (see `FORK`).
                    let _alone = FORK.write().unwrap_or_else(|p| p.into_inner());
                    let child = std::process::Command::new("true").spawn().unwrap();
                    let pid = child.id();
                    // Ready once it is a zombie: wait for that here, so the
                    // model knows when.
                    let stat = format!("/proc/{pid}/stat");
                    let start = Instant::now();
                    while !std::fs::read_to_string(&stat).is_ok_and(|s| {
                        s.rsplit(')')
                            .next()
                            .unwrap_or("")
                            .trim_start()
                            .starts_with('Z')
                    }) {
                        assert!(start.elapsed() < common::SOON, "child {pid} did not exit");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Source::Process(ioready::Process::new(registry, Token(token), child).unwrap())
                }
            };
            let ready = matches!(source, Source::Process(_));
            self.log.push(format!(
                "source token {token}: {}",
                match source {
                    Source::Timer(_) => "timer",
                    Source::Signals(_) => "signals",
                    Source::Process(_) => "exited child",
                }
            ));
            self.sources.push((source, token, ready));
            return;
        }
        if self.sources.is_empty() {
            return;
        }
        let i = self.rng.below(self.sources.len());
        let action = self.rng.below(4);
        let signal = self.signal;
        let (source, token, ready) = &mut self.sources[i];
        let what = match (source, action) {
            (Source::Timer(t), 0) => {
                t.set_once(Duration::ZERO).unwrap();
                *ready = true;
                "set_once(0)"
            }
            (Source::Timer(t), 1) => {
                t.set_once(Duration::from_secs(3600)).unwrap();
                *ready = false;
                "set_once(1 h)"
            }
            (Source::Timer(t), 2) => {
                t.cancel().unwrap();
                *ready = false;
                "cancel"
            }
            (Source::Timer(t), _) => {
                let n = t.acknowledge().unwrap();
                if (n > 0) != *ready {
                    let msg = format!("timer {token}: acknowledge {n}, ready {ready}");
                    self.fail(msg);
                }
                *ready = false;
                "acknowledge"
            }
            (Source::Signals(_), 0 | 1) => {
                // Delivered to this thread before raise returns.
                // SAFETY: raise(3) with a signal the Signals owns.
                assert_eq!(unsafe { libc::raise(signal.raw()) }, 0);
                *ready = true;
                "raise"
            }
            (Source::Signals(sig), _) => {
                let n = sig.receive().count(signal);
                if (n > 0) != *ready {
                    let msg = format!("signals {token}: received {n}, ready {ready}");
                    self.fail(msg);
                }
                *ready = false;
                "receive"
            }
            (Source::Process(p), _) => {
                let status = p.try_wait().unwrap();
                if status.is_none() {
                    let msg = format!("process {token}: not exited");
                    self.fail(msg);
                }
                *ready = false;
                "try_wait"
            }
        };
        let token = *token;
        self.log.push(format!("source token {token}: {what}"));
        if what == "try_wait" {
            self.sources.swap_remove(i);
        }
    }

    /// A new waker, a wake (sometimes several: they coalesce), or a waker
    /// dropped.
    fn waker_op(&mut self) {
        match self.rng.below(10) {
            0..=2 if self.wakers.len() < 3 => {
                let token = self.next_token;
                self.next_token += 1;
                let w = ioready::Waker::new(self.sel.registry(), Token(token))
                    .unwrap_or_else(|e| self.fail(format!("Waker::new: {e}")));
                self.log.push(format!("waker token {token}"));
                self.wakers.push((w, token, false));
            }
            0..=7 if !self.wakers.is_empty() => {
                let i = self.rng.below(self.wakers.len());
                let times = 1 + self.rng.below(3);
                for _ in 0..times {
                    if let Err(e) = self.wakers[i].0.wake() {
                        self.fail(format!("wake: {e}"));
                    }
                }
                self.wakers[i].2 = true;
                self.log
                    .push(format!("wake token {} x{times}", self.wakers[i].1));
            }
            _ if !self.wakers.is_empty() => {
                let i = self.rng.below(self.wakers.len());
                let (w, token, _) = self.wakers.swap_remove(i);
                drop(w);
                self.log.push(format!("drop waker token {token}"));
            }
            _ => {}
        }
    }

    fn step(&mut self) {
        if self.rng.chance(1) && self.rng.chance(50) {
            // Rare (a fork each): an exited child among the sources.
            return self.source_op();
        }
        let _shared = FORK.read().unwrap_or_else(|p| p.into_inner());
        let n = self.world.fds.len();
        match self.rng.below(100) {
            _ if n < 2 => self.new_channel(),
            0..=5 if n + 2 <= MAX_FDS => self.new_channel(),
            0..=5 => self.close_op(),
            6..=11 if n < MAX_FDS => self.dup_op(),
            6..=11 => self.close_op(),
            12..=21 => self.close_op(),
            22..=39 => self.register_op(),
            40..=46 => self.reregister_op(),
            47..=51 => self.deregister_op(),
            52..=55 => self.deregister_raw_op(),
            56..=68 => self.write_op(),
            69..=76 => self.read_op(),
            77..=79 => self.shutdown_op(),
            80..=82 => self.waker_op(),
            83..=84 => self.source_op_no_fork(),
            _ => self.wait_burst(),
        }
    }
}

/// `poll(2)` on `fd` for the event bits `interest`: the kernel's answer.
fn kernel(fd: impl AsFd, interest: u32) -> u32 {
    let mut events = 0i16;
    for (bit, p) in [
        (IN, libc::POLLIN),
        (OUT, libc::POLLOUT),
        (PRI, libc::POLLPRI),
        (RDHUP, libc::POLLRDHUP),
    ] {
        if interest & bit != 0 {
            events |= p;
        }
    }
    let mut p = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    assert!(r >= 0, "poll: {}", io::Error::last_os_error());
    p.revents as u16 as u32
}

fn hex(v: impl IntoIterator<Item = (usize, u32)>) -> String {
    let parts: Vec<String> = v.into_iter().map(|(t, f)| format!("{t}:{f:#x}")).collect();
    format!("[{}]", parts.join(" "))
}

fn env(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v}: expected a whole number")),
    )
}

/// Runs one case: `steps` random operations, ended by a wait burst.
fn run_case(backend: Backend, seed: u64, band: RawFd, steps: usize) {
    let mut case = Case::new(backend, seed, band);
    for _ in 0..steps {
        case.step();
    }
    case.wait_burst();
}

/// Runs the cases of one backend within the bounds of the knobs, each in
/// the backend's own band of descriptor numbers; a failing case is
/// reported with its seed.
fn run(backend: Backend) {
    let limit = common::raise_nofile().min(i32::MAX as u64) as RawFd;
    let band = 1000
        + 100
            * match backend {
                Backend::Select => 0,
                Backend::Poll => 1,
                Backend::Epoll => 2,
                _ => 3,
            };
    assert!(
        band + 100 < limit,
        "RLIMIT_NOFILE {limit} is too low for the model's descriptor bands"
    );
    let (first, cases) = match env("IOREADY_MODEL_SEED") {
        Some(seed) => (seed, 1),
        None => (
            env("IOREADY_MODEL_BASE").unwrap_or(0),
            env("IOREADY_MODEL_CASES").unwrap_or(300),
        ),
    };
    let seconds = env("IOREADY_MODEL_SECONDS").unwrap_or(3);
    let start = Instant::now();
    let mut done = 0u64;
    for seed in first..first.saturating_add(cases) {
        if done > 0 && start.elapsed() >= Duration::from_secs(seconds) {
            break;
        }
        let steps = 20 + (seed % 7) as usize * 30;
        if let Err(panic) = std::panic::catch_unwind(|| run_case(backend, seed, band, steps)) {
            eprintln!(
                "model: {backend} failed at seed {seed}; replay with \
                 IOREADY_MODEL_SEED={seed} cargo test -p ioready --test model {}",
                backend.name()
            );
            std::panic::resume_unwind(panic);
        }
        done += 1;
    }
    println!(
        "model: {backend}: {done} cases (seeds {first}..{}) in {:.1?}",
        first + done,
        start.elapsed()
    );
}

/// One test per backend of the one list in `common`.
macro_rules! model_tests {
    ($($(#[$cfg:meta])* $name:ident => $backend:expr;)*) => {$(
        $(#[$cfg])*
        #[test]
        fn $name() {
            run($backend);
        }
    )*};
}

for_each_selector_backend!(model_tests);
