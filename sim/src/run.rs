//! Training-run simulation (failures, checkpoints, restarts). Filled in by the run-simulator work;
//! for now only the scenario section exists so scenarios can carry it.

use serde::{Deserialize, Serialize};

use crate::error::WankaError;

/// Run section of a scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RunSpec {}

impl RunSpec {
    pub fn check(&self, _file: &str) -> Result<(), WankaError> {
        Ok(())
    }
}
