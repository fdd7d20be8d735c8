//! The machine: accelerators and fabrics from the [`catalog`], laid out as a [`topology`] (tiers,
//! groups, the paths a collective crosses), and the time of each [`collective`] on those paths.
//!
//! Depends only on `error` and `ron_util`; knows nothing of models, plans or runs.

pub mod catalog;
pub mod collective;
pub mod overlay;
pub mod topology;
