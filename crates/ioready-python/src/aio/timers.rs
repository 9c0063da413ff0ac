//! The timer heap: every `call_later`/`call_at` in one binary heap ordered
//! by due time (ties in scheduling order), on the loop's monotonic clock.
//!
//! Cancelled timers stay in the heap until they reach its top, as in
//! asyncio, unless they become more than half of a heap of over 100: then
//! the heap is rebuilt without them (asyncio's `_MIN_SCHEDULED_TIMER_HANDLES`
//! and `_MIN_CANCELLED_TIMER_HANDLES_FRACTION`), so a program that
//! schedules and cancels does not grow the heap.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use pyo3::prelude::*;

use super::handle::TimerHandle;

/// asyncio's `_MIN_SCHEDULED_TIMER_HANDLES`.
const MIN_SCHEDULED: usize = 100;

/// One scheduled timer.
pub(crate) struct Entry {
    when: f64,
    seq: u64,
    pub(crate) handle: Py<TimerHandle>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .when
            .total_cmp(&self.when)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// The heap and the count of cancelled timers in it.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Entry>,
    next_seq: u64,
    cancelled: usize,
}

impl Timers {
    /// Adds a timer (already marked scheduled by the caller).
    pub(crate) fn push(&mut self, when: f64, handle: Py<TimerHandle>) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.heap.push(Entry { when, seq, handle });
    }

    /// A scheduled timer was cancelled.
    pub(crate) fn note_cancelled(&mut self) {
        self.cancelled += 1;
    }

    /// How many timers are in the heap, cancelled ones included.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// When the earliest timer is due.
    pub(crate) fn next_when(&self) -> Option<f64> {
        self.heap.peek().map(|e| e.when)
    }

    /// Whether the heap is large and mostly cancelled: time to rebuild.
    pub(crate) fn needs_purge(&self) -> bool {
        self.heap.len() > MIN_SCHEDULED && self.cancelled * 2 > self.heap.len()
    }

    /// Takes every entry out (to rebuild, or on close).
    pub(crate) fn take_all(&mut self) -> Vec<Entry> {
        self.cancelled = 0;
        std::mem::take(&mut self.heap).into_vec()
    }

    /// Puts back the entries kept by a rebuild.
    pub(crate) fn restore(&mut self, kept: Vec<Entry>) {
        self.heap = BinaryHeap::from(kept);
    }

    /// The earliest entry if it is due before `end`.
    pub(crate) fn pop_due(&mut self, end: f64) -> Option<Entry> {
        if self.heap.peek()?.when < end {
            self.heap.pop()
        } else {
            None
        }
    }

    /// The earliest entry, if any.
    pub(crate) fn peek(&self) -> Option<&Entry> {
        self.heap.peek()
    }

    /// Removes the earliest entry, which the caller found cancelled.
    pub(crate) fn pop_cancelled(&mut self) -> Option<Entry> {
        self.cancelled = self.cancelled.saturating_sub(1);
        self.heap.pop()
    }

    /// Every handle, for the garbage collector.
    pub(crate) fn handles(&self) -> impl Iterator<Item = &Py<TimerHandle>> {
        self.heap.iter().map(|e| &e.handle)
    }
}
