//! `manifest.json`: what an output directory's table holds and how to read it.

use serde::{Deserialize, Serialize};
use std::path::Path;

use super::expect::{ExpectSpec, Expectation};
use super::table::Column;
use super::{Shard, invalid};
use crate::error::WankaError;
use crate::ron_util::read_file;

/// `manifest.json` of an output directory: what the table holds and how to read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub wanka_version: String,
    pub name: String,
    pub description: String,
    pub base: String,
    /// Digest of every point's scenario, the seeds, the columns, the catalog and the wanka version:
    /// outputs with the same fingerprint hold the same rows.
    pub fingerprint: String,
    /// Points of the whole sweep (all shards).
    pub points: u64,
    pub seeds: u64,
    pub sampling: String,
    /// `K/N` for a shard's directory; absent for a whole sweep (and the output of `wanka merge`).
    pub shard: Option<String>,
    pub columns: Vec<Column>,
    pub axis_columns: Vec<String>,
    pub expectations: Vec<ExpectSpec>,
}

impl Manifest {
    pub fn to_json(&self) -> String {
        format!("{}\n", serde_json::to_string_pretty(self).expect("manifest serialises"))
    }

    pub fn load(path: &Path) -> Result<Manifest, WankaError> {
        let text = read_file(path)?;
        serde_json::from_str(&text).map_err(|e| WankaError::Parse {
            file: path.display().to_string(),
            line: e.line(),
            col: e.column(),
            msg: e.to_string(),
        })
    }

    pub fn shard(&self) -> Shard {
        self.shard.as_deref().and_then(|s| s.parse().ok()).unwrap_or(Shard::ALL)
    }

    /// The checked expectations and the indices of the axis columns.
    pub fn expectations(&self, file: &str) -> Result<(Vec<Expectation>, Vec<usize>), WankaError> {
        let exps = self
            .expectations
            .iter()
            .enumerate()
            .map(|(i, s)| Expectation::new(s.clone(), &self.columns).map_err(|e| invalid(file, format!("expectations[{i}]"), e)))
            .collect::<Result<Vec<_>, _>>()?;
        let axes = self.axis_columns.iter().filter_map(|n| self.columns.iter().position(|c| c.name == *n)).collect();
        Ok((exps, axes))
    }
}
