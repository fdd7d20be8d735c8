//! # wanka_sim — the wanka simulator library
//!
//! wanka (万卡, "ten thousand cards") predicts how long training a large model takes on a given
//! accelerator cluster, at what utilisation, with how many restarts, at what cost and energy.
//!
//! Data flows one way: a [`scenario::Scenario`] (RON) names a [`model`], a cluster from the
//! [`catalog`] laid out as a [`topology`], and a [`parallelism`] plan; [`cost`] turns them into
//! operation durations ([`collective`] for communication, [`memory`] for feasibility); [`step`] runs
//! one iteration on the [`engine`]; [`validate`] compares predictions with published runs.
//!
//! Invariants: the library never reads the wall clock or the terminal; all randomness flows from the
//! scenario seed through [`engine::rng_stream`]; user input never panics, it returns
//! [`error::WankaError`] naming the file and field.

// Input checks are written `!(x > 0.0)` on purpose: the negation also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::nonminimal_bool)]

pub mod cancel;
pub mod engine;
pub mod error;
pub mod ron_util;

pub mod scenario;

pub mod hardware;
pub mod workload;

pub mod step;

pub mod run;

pub mod planning;

pub mod sweep;
pub mod validate;

pub use cancel::Cancel;
pub use error::WankaError;
pub use hardware::catalog::Catalog;
pub use scenario::Scenario;
