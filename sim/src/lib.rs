//! # wanka_sim — the wanka simulator library
//!
//! wanka (万卡, "ten thousand cards") predicts how long training a large model takes on a given
//! accelerator cluster, at what utilisation, with how many restarts, at what cost and energy.
//!
//! The folders are the data flow, top to bottom; a module only uses the ones above it:
//!
//! - [`scenario`]: the scenario file format (RON) and its field checks — nothing else;
//! - [`hardware`]: the [`hardware::catalog`] of chips and fabrics, the cluster [`hardware::topology`],
//!   [`hardware::collective`] times;
//! - [`workload`]: the [`workload::model`] and the [`workload::parallelism`] plan;
//! - [`step`]: one training step — [`step::cost`], [`step::memory`], the pipeline
//!   [`step::schedule`] on the [`engine`]; [`step::simulate`] is the entry point;
//! - [`run`]: the whole training run — failures, checkpoints, one run on the engine, Monte Carlo;
//! - [`planning`]: parallelism search, mixed hardware, economics, plan files' candidates compared;
//! - [`sweep`] and [`validate`]: many scenarios as one table; predictions against published runs.
//!
//! Shared by all: [`engine`] (event queue, ticks, random streams), [`error`] (errors and typed
//! infeasibility, [`error::Violation`]), [`ron_util`], [`cancel`].
//!
//! The crate root re-exports only the four names almost every caller needs: [`Scenario`],
//! [`Catalog`], [`WankaError`] and [`Cancel`]; everything else is named by its folder.
//!
//! Invariants: the library never reads the terminal, and reads the wall clock in one place only:
//! [`planning::plan_file`] times each candidate's searches for the reported `search_ms`, a
//! report field that no result depends on (the step and run simulators, sweeps and validation never
//! read it). All randomness flows from the scenario seed through [`engine::rng_stream`]; user input
//! never panics, it returns [`error::WankaError`] naming the file and field. The command line
//! (`wanka`, clap/anyhow/indicatif) is the binary's, behind the default feature `cli`.

// Input checks are written `!(x > 0.0)` on purpose: the negation also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::nonminimal_bool)]

pub mod cancel;
pub mod engine;
pub mod error;
pub mod limits;
pub mod ron_util;

pub mod scenario;

pub mod hardware;
pub mod workload;

pub mod step;

pub mod run;

pub mod planning;

pub mod sweep;
pub mod validate;
pub mod vocab;

pub mod interop;

pub use cancel::Cancel;
pub use error::WankaError;
pub use hardware::catalog::Catalog;
pub use scenario::Scenario;
