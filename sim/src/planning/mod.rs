//! Capacity planning over the step and run simulators: the parallelism [`search`] over one pool,
//! [`mixed`] layouts over two pools, the [`economics`] of a candidate (money, power, energy), and
//! [`plan_file`]: a plan file's candidates compared end to end (search, run, cost); [`explain`]: why one
//! plan beats another, term by term; [`auto`]: a scenario's `parallelism: (auto: true, …)` searched.
//!
//! Depends on `step`, `run`, `hardware`, `workload`; never on `sweep` or `validate`.

pub mod auto;
pub mod economics;
pub mod explain;
pub mod mixed;
pub mod plan_file;
pub mod search;
