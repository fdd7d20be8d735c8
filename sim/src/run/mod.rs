//! The whole training run, downstream of the step: a scenario's run section ([`spec`]), failure
//! processes ([`failure`]), checkpoint cost and interval ([`checkpoint`]), the inputs a scenario
//! resolves to ([`inputs`]), one run on the event engine ([`sim`]) and Monte Carlo over seeds
//! ([`monte_carlo`]).
//!
//! Depends on `step` (for the throughput of the job), `hardware` and `workload`; never on `planning`,
//! `sweep` or `validate`. All randomness comes from the seed through [`crate::engine::rng_stream`].
//!
//! The items most callers need are re-exported here, so `run::RunSpec`, `run::monte_carlo` etc. name
//! the folder's API without the file.

pub mod checkpoint;
pub mod failure;
pub mod inputs;
pub mod model_error;
pub mod monte_carlo;
pub mod sim;
pub mod spec;

pub use inputs::{RunContext, RunJob, RunReport, build_run_inputs};
pub use monte_carlo::{MonteCarlo, ProgressBand, SeedRun, Stats, monte_carlo, monte_carlo_cancellable, progress_band, summarize};
pub use sim::{LogEvent, LostDays, LostTime, RunInputs, RunOutcome, simulate_run};
pub use spec::{Band, FailureSpec, MaintenanceSpec, RecoverySpec, RunSpec, StragglerSpec};
