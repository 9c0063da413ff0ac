//! One iteration of the loop (asyncio's `_run_once`), natively: forget
//! cancelled timers, wait once on the selector (not at all when callbacks
//! are ready, and without the GIL when it may block), queue the readers and
//! writers reported ready and the timers due, then run every callback that
//! was queued when the running began (those queued while running wait for
//! the next iteration, after another look at I/O).
//!
//! The turn's writes on the readiness transports go out at its end, one
//! `send` per transport (`stream::write`).
//!
//! Nothing here allocates in steady state: events land in the poller's
//! buffer, handles move between the queue and the heap by reference.

use std::sync::atomic::Ordering;
use std::time::Duration;

use pyo3::prelude::*;

use super::clock;
use super::core::{closed_error, LoopCore, WAKER_TOKEN};
use super::fds::{EVENT_READ, EVENT_WRITE};
use super::glue;
use super::handle::Handle;
use crate::ffi::gil::GilReleased;

/// `EPOLLIN`/`POLLIN` and `EPOLLOUT`/`POLLOUT` (the same bits).
const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;

impl LoopCore {
    /// asyncio's `_run_once` (see the module).
    ///
    /// # Errors
    ///
    /// `SystemExit`/`KeyboardInterrupt` from a callback (the callbacks not
    /// yet run stay queued), a signal handler's exception, the selector's
    /// `OSError`, `RuntimeError` if the loop is closed.
    pub(crate) fn run_once(slf: &Bound<'_, LoopCore>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        // The readiness transports keep the writes of the turn's callbacks
        // (`run_batch`) for its end, and send them then even if a callback
        // raised out of the iteration.
        let result = LoopCore::iterate(slf);
        let flushed = super::stream::flush_turn(this, py);
        result?;
        flushed
    }

    /// [`run_once`](Self::run_once) but for the turn's writes.
    fn iterate(slf: &Bound<'_, LoopCore>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        this.purge_timers(py)?;
        let timeout = this.timeout(py, LoopCore::now(slf)?)?;
        let io = this.wait(py, timeout)?;
        this.queue_due_timers(py, LoopCore::now(slf)?)?;
        run_batch(slf)?;
        // The io_uring engine's completions, reported after the handles
        // queued before the wait (asyncio's order for I/O callbacks).
        let io = io + LoopCore::run_completions(slf)?;
        if io == 0 || this.is_stopping() {
            return Ok(());
        }
        // What the I/O callbacks queued (a task woken by data_received,
        // say) runs now, before another poll, as uvloop does: asyncio would
        // run it first thing in the next iteration anyway, ahead of anything
        // that iteration's poll adds, so the order is the same and a poll
        // (a system call) is saved per message.
        run_batch(slf)?;
        if this.is_stopping() {
            // stop() was called by one of them: asyncio would still have run
            // what its next poll reported and the timers then due, in that
            // same iteration, before what this batch queued.
            let later = std::mem::take(&mut *this.ready.get_mut(py)?);
            this.wait(py, Some(Duration::ZERO))?;
            this.queue_due_timers(py, LoopCore::now(slf)?)?;
            let result = run_batch(slf);
            let mut ready = this.ready.get_mut(py)?;
            let added = std::mem::replace(&mut *ready, later);
            ready.extend(added);
            result?;
        }
        Ok(())
    }

    /// Rebuilds the heap without its cancelled timers if they are most of
    /// a large heap (asyncio's rule); also called when a timer is cancelled.
    ///
    /// # Errors
    ///
    /// `RuntimeError` on re-entrance (see `gil_cell`).
    pub(crate) fn purge_if_mostly_cancelled(&self, py: Python<'_>) -> PyResult<()> {
        if self.timers.get(py)?.needs_purge() {
            self.purge_timers(py)?;
        }
        Ok(())
    }

    /// Drops cancelled timers: all of them when they are most of a large
    /// heap, else those at its top.
    fn purge_timers(&self, py: Python<'_>) -> PyResult<()> {
        if self.timers.get(py)?.needs_purge() {
            let all = self.timers.get_mut(py)?.take_all();
            let mut kept = Vec::with_capacity(all.len());
            let mut dropped = Vec::new();
            for entry in all {
                let handle = entry.handle.bind(py).as_super().get();
                if handle.is_cancelled(py)? {
                    handle.set_scheduled(py, false)?;
                    dropped.push(entry);
                } else {
                    kept.push(entry);
                }
            }
            self.timers.get_mut(py)?.restore(kept);
            drop(dropped);
            return Ok(());
        }
        loop {
            let entry = {
                let mut timers = self.timers.get_mut(py)?;
                let Some(top) = timers.peek() else { break };
                if !top.handle.bind(py).as_super().get().is_cancelled(py)? {
                    break;
                }
                timers.pop_cancelled()
            };
            if let Some(entry) = entry {
                entry
                    .handle
                    .bind(py)
                    .as_super()
                    .get()
                    .set_scheduled(py, false)?;
                drop(entry);
            }
        }
        Ok(())
    }

    /// How long the wait may block: not at all with callbacks ready or a
    /// stop requested, until the first timer, or indefinitely.
    fn timeout(&self, py: Python<'_>, now: f64) -> PyResult<Option<Duration>> {
        if !self.ready.get(py)?.is_empty() || self.is_stopping() {
            return Ok(Some(Duration::ZERO));
        }
        Ok(self.timers.get(py)?.next_when().map(|when| {
            let secs = (when - now).clamp(0.0, clock::MAXIMUM_SELECT_TIMEOUT);
            Duration::from_secs_f64(secs)
        }))
    }

    /// The one wait: on the io_uring engine if the loop has it, else on
    /// the selector; how many readers and writers it queued.
    fn wait(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<usize> {
        if self.uring.get(py)?.is_some() {
            return self.wait_uring(py, timeout);
        }
        self.wait_selector(py, timeout)
    }

    /// The one wait on the selector, then the ready readers and writers
    /// queued: how many.
    pub(crate) fn wait_selector(
        &self,
        py: Python<'_>,
        timeout: Option<Duration>,
    ) -> PyResult<usize> {
        let mut guard = self.poller.get_mut(py)?;
        let poller = guard.as_mut().ok_or_else(closed_error)?;
        // Announce the sleep first, then look at the queue again: a callback
        // queued from another thread after the timeout was computed (while
        // dropping an object ran Python code, say) is seen here, and one
        // queued from now on finds `sleeping` set and wakes the wait.
        let mut timeout = timeout;
        if timeout != Some(Duration::ZERO) {
            self.sleeping.store(true, Ordering::Release);
            if !self.ready.get(py)?.is_empty() {
                timeout = Some(Duration::ZERO);
            }
        }
        let result = if timeout == Some(Duration::ZERO) {
            self.sleeping.store(false, Ordering::Release);
            poller.selector.select_once(&mut poller.events, timeout)
        } else {
            let result = {
                // SAFETY: only the selector's wait runs while the GIL is
                // released; no Python object is touched until the drop.
                let _released = unsafe { GilReleased::new(py) };
                poller.selector.select_once(&mut poller.events, timeout)
            };
            self.sleeping.store(false, Ordering::Release);
            result
        };
        match result {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                // A signal: its Python handler runs now (its exception
                // propagates, as from asyncio's select); the iteration goes
                // on with no I/O reported.
                poller.events.clear();
                drop(guard);
                py.check_signals()?;
                return Ok(0);
            }
            Err(e) => return Err(e.into()),
        }
        let mut fds = self.fds.get_mut(py)?;
        let mut ready = self.ready.get_mut(py)?;
        let before = ready.len();
        let mut stale: [Option<(i32, u8)>; 2] = [None, None];
        let mut stale_more = Vec::new();
        for event in poller.events.iter() {
            let token = event.token();
            if token == WAKER_TOKEN {
                continue;
            }
            let fd = token.0 as i32;
            let Some(entry) = fds.get_mut(fd) else {
                continue;
            };
            if entry.parked() {
                // Nothing waits on it: the registration goes (`sockwatch`).
                match stale.iter_mut().find(|s| s.is_none()) {
                    Some(s) => *s = Some((fd, 0)),
                    None => stale_more.push((fd, 0)),
                }
                continue;
            }
            // selectors.EpollSelector: errors and hang-ups count as both.
            let bits = event.raw_flags();
            let mut mask = 0;
            if bits & !IN != 0 {
                mask |= EVENT_WRITE;
            }
            if bits & !OUT != 0 {
                mask |= EVENT_READ;
            }
            mask &= entry.mask;
            for (flag, slot) in [(EVENT_READ, &entry.reader), (EVENT_WRITE, &entry.writer)] {
                let Some(handle) = slot.as_ref().filter(|_| mask & flag != 0) else {
                    continue;
                };
                if handle.get().is_cancelled(py)? {
                    match stale.iter_mut().find(|s| s.is_none()) {
                        Some(s) => *s = Some((fd, flag)),
                        None => stale_more.push((fd, flag)),
                    }
                } else {
                    ready.push_back(handle.clone_ref(py).into_any());
                }
            }
        }
        let queued = ready.len() - before;
        drop(ready);
        drop(fds);
        drop(guard);
        for (fd, flag) in stale.into_iter().flatten().chain(stale_more) {
            if flag == 0 {
                self.drop_parked(py, fd)?;
            } else {
                self.remove_fd_event(py, fd, flag)?;
            }
        }
        Ok(queued)
    }

    /// Moves the timers due by `now` (plus the clock's resolution) to the
    /// ready queue.
    fn queue_due_timers(&self, py: Python<'_>, now: f64) -> PyResult<()> {
        let mut timers = self.timers.get_mut(py)?;
        if timers.len() == 0 {
            return Ok(());
        }
        let end = now + clock::RESOLUTION;
        let mut ready = self.ready.get_mut(py)?;
        while let Some(entry) = timers.pop_due(end) {
            let handle = entry.handle.bind(py);
            handle.as_super().get().set_scheduled(py, false)?;
            ready.push_back(entry.handle.into_any());
        }
        Ok(())
    }
}

/// Runs the handles queued now (not those they queue), in order, their
/// writes on the readiness transports kept for the end of the turn (a
/// write from elsewhere, another thread while the loop waits say, is tried
/// at once, as in asyncio).
fn run_batch(slf: &Bound<'_, LoopCore>) -> PyResult<()> {
    let this = slf.get();
    let outer = this.in_turn.swap(true, Ordering::Relaxed);
    let result = run_handles(slf);
    this.in_turn.store(outer, Ordering::Relaxed);
    result
}

/// [`run_batch`] but for the turn's writes.
fn run_handles(slf: &Bound<'_, LoopCore>) -> PyResult<()> {
    let py = slf.py();
    let this = slf.get();
    let ntodo = this.ready.get(py)?.len();
    let debug = this.debug();
    for _ in 0..ntodo {
        let Some(handle) = this.ready.get_mut(py)?.pop_front() else {
            break;
        };
        let handle = handle.into_bound(py);
        if debug {
            run_timed(slf, &handle)?;
        } else {
            run_handle(&handle)?;
        }
    }
    Ok(())
}

/// Runs one queued handle: a native one directly, any other (asyncio's
/// own, from signal handlers) through its `_run`, unless cancelled.
fn run_handle(handle: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(native) = handle.downcast::<Handle>() {
        return Handle::run(native);
    }
    if handle
        .getattr(pyo3::intern!(handle.py(), "_cancelled"))?
        .is_truthy()?
    {
        return Ok(());
    }
    handle.call_method0(pyo3::intern!(handle.py(), "_run"))?;
    Ok(())
}

/// [`run_handle`] in debug mode: `_current_handle` set while it runs, and
/// asyncio's warning when it takes `slow_callback_duration` or longer.
fn run_timed(slf: &Bound<'_, LoopCore>, handle: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = slf.py();
    let cancelled = match handle.downcast::<Handle>() {
        Ok(native) => native.get().is_cancelled(py)?,
        Err(_) => handle.getattr("_cancelled")?.is_truthy()?,
    };
    if cancelled {
        return Ok(());
    }
    slf.setattr("_current_handle", handle)?;
    let t0 = clock::monotonic();
    let result = run_handle(handle);
    let dt = clock::monotonic() - t0;
    let cleared = slf.setattr("_current_handle", py.None());
    result?;
    cleared?;
    let slow: f64 = slf.getattr("slow_callback_duration")?.extract()?;
    if dt >= slow {
        glue::WARN_SLOW.get(py)?.call1((handle, dt))?;
    }
    Ok(())
}
