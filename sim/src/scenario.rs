//! Scenario files (RON): a model, a cluster, a parallelism plan, the training goal and the software
//! stack; later sections (failures, checkpointing) drive the training-run simulator.
//!
//! This module is the file format only: loading checks RON syntax (file, line, column), unknown
//! fields and the field-level constraints that need no catalog. Resolving against the catalog and
//! simulating live downstream: `Scenario::resolve` and `Scenario::simulate_step` in [`crate::step`],
//! `Scenario::run_inputs`, `simulate_run` and `run_event_log` in [`crate::run::inputs`].

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::error::WankaError;
use crate::hardware::topology::ClusterSpec;
use crate::ron_util::{parse_ron, read_file};
use crate::run::RunSpec;
use crate::step::cost::FrameworkSpec;
use crate::workload::model::ModelRef;
use crate::workload::parallelism::ParallelismSpec;

/// What to train.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainingSpec {
    /// Sequence length in tokens.
    pub seq_len: u32,
    /// Tokens to train on (the run simulator's target).
    pub tokens: f64,
}

/// A complete scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub model: ModelRef,
    pub cluster: ClusterSpec,
    pub parallelism: ParallelismSpec,
    pub training: TrainingSpec,
    /// Software stack; omitted = [`FrameworkSpec::default`].
    #[serde(default)]
    pub framework: FrameworkSpec,
    /// Training-run section (failures, recovery, checkpoints); omitted = the documented defaults.
    #[serde(default)]
    pub run: RunSpec,
    /// Seed of every random stream of the run (default 1).
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    1
}

impl Scenario {
    /// Read and check a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, WankaError> {
        let text = read_file(path)?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// Parse and check scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, WankaError> {
        let s: Scenario = parse_ron(text, file)?;
        s.check(file)?;
        Ok(s)
    }

    /// Field-level checks that need no catalog.
    pub fn check(&self, file: &str) -> Result<(), WankaError> {
        let bad = |field: &str, msg: String| Err(WankaError::Invalid { file: file.to_string(), field: field.to_string(), msg });
        if self.training.seq_len == 0 {
            return bad("training.seq_len", "must be at least 1 token".into());
        }
        if !(self.training.tokens > 0.0 && self.training.tokens.is_finite()) {
            return bad("training.tokens", format!("must be a positive number of tokens, got {}", self.training.tokens));
        }
        crate::limits::in_range(file, "training.tokens", self.training.tokens, 1.0, crate::limits::MAX_TOKENS, "tokens")?;
        let o = self.framework.iteration_overhead_s;
        if !(o >= 0.0 && o.is_finite()) {
            return bad("framework.iteration_overhead_s", format!("must be >= 0 seconds, got {o}"));
        }
        // A step must fit in the longest run many times over: an hour of overhead per step at most.
        crate::limits::in_range(file, "framework.iteration_overhead_s", o, 0.0, 3600.0, "seconds")?;
        let f = self.framework.moe_comm_sm_fraction;
        if !(0.0..0.9).contains(&f) {
            return bad("framework.moe_comm_sm_fraction", format!("must be in [0, 0.9), got {f}"));
        }
        if let ModelRef::Custom(m) = &self.model {
            m.check(file)?;
        }
        self.run.check(file)?;
        Ok(())
    }
}
