//! The discrete-event kernel shared by the step simulator and the training-run simulator.
//!
//! Time is an integer count of nanoseconds ([`Ticks`]) so ordering is total and sums are exact; events
//! at the same time fire in the order they were scheduled (a sequence number breaks ties), so a run is
//! a pure function of its inputs and seed. The engine never reads the wall clock. Randomness comes
//! from [`rng_stream`]: one named, seeded generator per entity, derived from the scenario seed, so
//! results do not depend on thread count or on the order other entities draw numbers.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Simulated time in nanoseconds.
pub type Ticks = u64;

pub const TICKS_PER_SEC: f64 = 1e9;

/// Seconds to ticks, rounding to the nearest nanosecond (negative and NaN map to 0, huge values saturate).
pub fn ticks(secs: f64) -> Ticks {
    if secs.is_nan() || secs <= 0.0 { 0 } else { (secs * TICKS_PER_SEC).round().min(u64::MAX as f64) as u64 }
}

pub fn secs(t: Ticks) -> f64 {
    t as f64 / TICKS_PER_SEC
}

/// Time-ordered event queue with deterministic tie-breaking.
#[derive(Debug, Clone)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<(Ticks, u64, usize)>>,
    payloads: Vec<Option<E>>,
    free: Vec<usize>,
    seq: u64,
    now: Ticks,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), payloads: Vec::new(), free: Vec::new(), seq: 0, now: 0 }
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::default()
    }
    /// Current simulated time (the time of the last popped event).
    pub fn now(&self) -> Ticks {
        self.now
    }
    /// Schedule `event` at absolute time `at` (clamped to now: the past cannot be scheduled).
    pub fn schedule_at(&mut self, at: Ticks, event: E) {
        let slot = match self.free.pop() {
            Some(i) => {
                self.payloads[i] = Some(event);
                i
            }
            None => {
                self.payloads.push(Some(event));
                self.payloads.len() - 1
            }
        };
        self.heap.push(Reverse((at.max(self.now), self.seq, slot)));
        self.seq += 1;
    }
    /// Schedule `event` after `delay`.
    pub fn schedule_in(&mut self, delay: Ticks, event: E) {
        self.schedule_at(self.now.saturating_add(delay), event);
    }
    /// Next event in time order, advancing `now`.
    pub fn pop(&mut self) -> Option<(Ticks, E)> {
        let Reverse((t, _, slot)) = self.heap.pop()?;
        self.now = t;
        self.free.push(slot);
        let e = self.payloads[slot].take().expect("each slot is popped once");
        Some((t, e))
    }
    /// Time of the next event without removing it.
    pub fn peek_time(&self) -> Option<Ticks> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }
    /// Time and sequence number of the next event: the order key of [`EventQueue::pop`].
    pub fn peek_key(&self) -> Option<(Ticks, u64)> {
        self.heap.peek().map(|Reverse((t, s, _))| (*t, *s))
    }
    /// Take the next sequence number without scheduling anything: for a caller that keeps some of
    /// its events outside the heap (in time order of its own) and must order them against the heap's
    /// with [`EventQueue::peek_key`], as if they had been scheduled now.
    pub fn reserve_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// A reproducible random stream for entity `stream` of a run seeded with `seed` (SplitMix64 mixing of
/// the pair, then Xoshiro256++).
pub fn rng_stream(seed: u64, stream: u64) -> Xoshiro256PlusPlus {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Xoshiro256PlusPlus::seed_from_u64(z ^ (z >> 31))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn events_pop_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.schedule_at(5, "b");
        q.schedule_at(1, "a");
        q.schedule_at(5, "c");
        q.schedule_at(3, "x");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, vec!["a", "x", "b", "c"]);
        assert_eq!(q.now(), 5);
    }

    #[test]
    fn cannot_schedule_into_the_past() {
        let mut q = EventQueue::new();
        q.schedule_at(10, 1);
        q.pop();
        q.schedule_at(3, 2);
        assert_eq!(q.pop(), Some((10, 2)));
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| 0).scan(rng_stream(7, 1), |r, _: u64| Some(r.random::<u64>())).collect();
        let b: Vec<u64> = (0..4).map(|_| 0).scan(rng_stream(7, 1), |r, _: u64| Some(r.random::<u64>())).collect();
        let c: Vec<u64> = (0..4).map(|_| 0).scan(rng_stream(7, 2), |r, _: u64| Some(r.random::<u64>())).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn tick_conversion() {
        assert_eq!(ticks(1.5), 1_500_000_000);
        assert_eq!(ticks(-1.0), 0);
        assert_eq!(ticks(f64::NAN), 0);
        assert_eq!(secs(ticks(2.25)), 2.25);
    }
}
