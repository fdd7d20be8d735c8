//! Cooperative cancellation of long computations (plan comparisons, Monte Carlo runs).
//!
//! A caller that no longer wants a result (the GUI after a newer edit) sets the flag; the computation
//! checks it between independent pieces of work (one candidate plan of a search, one seed of a Monte
//! Carlo) and stops with [`WankaError::Cancelled`]. Work already done is thrown away, never returned as
//! if complete. Checking costs one relaxed atomic load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::WankaError;

/// A cancellation flag shared between the caller and the computation (clones share it).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag nobody has set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Ask the computation to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// `Err(Cancelled)` once the flag is set.
    pub fn check(&self) -> Result<(), WankaError> {
        if self.is_cancelled() { Err(WankaError::Cancelled) } else { Ok(()) }
    }
}
