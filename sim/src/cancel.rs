//! Cooperative cancellation of long computations (plan comparisons, Monte Carlo runs).
//!
//! A caller that no longer wants a result (the GUI after a newer edit) sets the flag; the computation
//! checks it between independent pieces of work (one candidate plan of a search, one seed of a Monte
//! Carlo) and stops with [`WankaError::Cancelled`]. Work already done is thrown away, never returned as
//! if complete. Checking costs one relaxed atomic load.
//!
//! The same handle counts finished pieces of work ([`Cancel::progress`]: Monte Carlo runs), so a
//! caller on another thread can show progress without the library touching the terminal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::WankaError;

/// A cancellation flag shared between the caller and the computation (clones share it), with the
/// count of finished pieces of work.
/// An optional budget of pieces sets the flag itself once that many are done.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>, Arc<AtomicU64>, Option<u64>);

impl Cancel {
    /// A flag nobody has set.
    pub fn new() -> Self {
        Self::default()
    }
    /// A flag that sets itself once `pieces` pieces of work are done: a work budget, and the way to
    /// cancel a computation at a known point (tests) rather than after a wall-clock delay.
    pub fn after(pieces: u64) -> Self {
        Self(Arc::default(), Arc::default(), Some(pieces))
    }
    /// Ask the computation to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// Pieces of work finished so far (one per simulated Monte Carlo run).
    pub fn progress(&self) -> u64 {
        self.1.load(Ordering::Relaxed)
    }
    /// Count one finished piece of work.
    pub fn advance(&self) {
        let done = self.1.fetch_add(1, Ordering::Relaxed) + 1;
        if self.2.is_some_and(|budget| done >= budget) {
            self.cancel();
        }
    }
    /// `Err(Cancelled)` once the flag is set.
    pub fn check(&self) -> Result<(), WankaError> {
        if self.is_cancelled() { Err(WankaError::Cancelled) } else { Ok(()) }
    }
}
