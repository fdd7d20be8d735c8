//! Validation against published runs: reads case files in the fixed layout of
//! `scenarios/validation/README` (the same columns as the shared validation data), simulates each case
//! and reports prediction, published figure and signed error.
//!
//! What the step-case layout does not say is filled by rules that are the same for every case:
//! - model family: gated FFN without biases, untied embeddings, rotary positions and no dropout
//!   (Llama-style) when `ffn_hidden ≠ 4·hidden`, else GPT-style (plain GeLU FFN, biases, learned
//!   positions, tied embeddings, dropout);
//! - network: InfiniBand of the stated per-GPU speed (`ib-hdr` 200, `ib-ndr` 400, `ib-xdr` 800 Gbit/s,
//!   else RoCE of that speed), on a non-blocking rail-optimised fat tree (`generic-fat-tree`);
//! - blank schedule, vpp, micro-batch: the defaults of [`crate::workload::parallelism`];
//! - software stack: [`crate::step::cost::FrameworkSpec::default`].
//!
//! Optional columns, for runs whose paper states more than the shared layout holds (absent or blank:
//! the rules above): `fabric` and `topology` (catalog ids), `rank_order` (`tp-cp-dp-pp`,
//! `tp-cp-pp-dp`), `overlap_grad_reduce` (true/false).

use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

use crate::error::WankaError;
use crate::hardware::catalog::Catalog;
use crate::hardware::topology::{ClusterSpec, NetworkSpec};
use crate::scenario::{Scenario, TrainingSpec};
use crate::step::cost::FrameworkSpec;
use crate::step::schedule::Breakdown;
use crate::workload::model::{ModelRef, ModelSpec};
use crate::workload::parallelism::{ParallelismSpec, RankOrder, Recompute, Schedule};

mod reliability;
pub use reliability::{ReliabilityReport, ReliabilityResult, validate_reliability};

/// How far wanka's step times are from published runs, as the bundled case files measure it
/// (`scenarios/validation/step_cases.csv`, the calibration cases, and `holdout_cases.csv`, never
/// calibrated on). Reports print it next to every prediction so that no figure is read as exact. An
/// end-to-end test recomputes these from the case files and fails when they drift (update them with the
/// model).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelAccuracy {
    pub calibration_cases: u32,
    /// Mean |error| on the calibration cases (fraction).
    pub calibration_mape: f64,
    pub calibration_worst: f64,
    pub holdout_cases: u32,
    pub holdout_mape: f64,
    /// Mean signed error on the holdout cases: negative = wanka predicts shorter steps than measured.
    pub holdout_bias: f64,
}

/// The accuracy of the step model on the bundled case files (see [`ModelAccuracy`]).
pub const STEP_ACCURACY: ModelAccuracy = ModelAccuracy {
    calibration_cases: 24,
    calibration_mape: 0.070,
    calibration_worst: 0.180,
    holdout_cases: 10,
    holdout_mape: 0.060,
    holdout_bias: -0.057,
};

impl ModelAccuracy {
    /// One line for reports.
    pub fn summary(&self) -> String {
        format!(
            "step times are within {:.0}% of published runs on average ({:.0}% worst; {} runs); on {} runs never \
             calibrated on: {:.0}% on average, {} by {:.0}% (`wanka validate`)",
            100.0 * self.calibration_mape,
            100.0 * self.calibration_worst,
            self.calibration_cases,
            self.holdout_cases,
            100.0 * self.holdout_mape,
            if self.holdout_bias < 0.0 { "optimistic" } else { "pessimistic" },
            100.0 * self.holdout_bias.abs()
        )
    }
}

/// Topology used for validation cases without a `topology` column.
pub const VALIDATION_TOPOLOGY: &str = "generic-fat-tree";

/// One step case as read from the file.
#[derive(Debug, Clone, Serialize)]
pub struct StepCase {
    pub id: String,
    pub source: String,
    /// 1-based line in the file.
    pub line: usize,
    pub scenario: Scenario,
    pub measured_step_s: f64,
    pub measured_tflops_per_gpu: Option<f64>,
    pub measured_mfu: Option<f64>,
}

/// Prediction for one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub predicted_step_s: f64,
    pub measured_step_s: f64,
    /// (predicted − measured) / measured.
    pub error: f64,
    pub predicted_mfu: f64,
    pub predicted_hfu: f64,
    pub measured_mfu: Option<f64>,
    pub measured_tflops_per_gpu: Option<f64>,
    pub breakdown: Breakdown,
    pub memory_gb: f64,
}

/// All cases with summary statistics (fractions).
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub file: String,
    pub cases: Vec<CaseResult>,
    pub mape: f64,
    pub max_abs_error: f64,
    /// Mean signed error: negative = predictions shorter than measured (optimistic) on average.
    pub mean_error: f64,
}

const STEP_COLUMNS: &[&str] = &[
    "id",
    "source",
    "chip",
    "gpus",
    "gpus_per_node",
    "nic_gbps_per_gpu",
    "layers",
    "hidden",
    "heads",
    "kv_heads",
    "ffn_hidden",
    "vocab",
    "seq_len",
    "tp",
    "pp",
    "dp",
    "cp",
    "schedule",
    "vpp",
    "micro_batch",
    "global_batch",
    "recompute",
    "seq_parallel",
    "zero_stage",
    "measured_step_s",
    "measured_tflops_per_gpu",
    "measured_mfu",
    "notes",
];

/// Which layout a case file has, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseKind {
    Step,
    Reliability,
}

/// Read the header of a case file and tell its kind.
pub fn case_kind(path: &Path) -> Result<CaseKind, WankaError> {
    let text = crate::ron_util::read_file(path)?;
    let header = text.lines().next().unwrap_or("");
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.contains(&"measured_step_s") {
        Ok(CaseKind::Step)
    } else if cols.contains(&"expected_ettr") {
        Ok(CaseKind::Reliability)
    } else {
        Err(WankaError::Parse {
            file: path.display().to_string(),
            line: 1,
            col: 1,
            msg: "header has neither `measured_step_s` (step cases) nor `expected_ettr` (reliability cases)".into(),
        })
    }
}

/// A CSV row with named access and errors that name file, line and column.
pub(crate) struct Row<'a> {
    pub file: &'a str,
    pub line: usize,
    pub cols: &'a HashMap<String, usize>,
    pub rec: &'a csv::StringRecord,
}

impl Row<'_> {
    pub fn raw(&self, col: &str) -> &str {
        self.cols.get(col).and_then(|i| self.rec.get(*i)).map_or("", str::trim)
    }
    fn err(&self, col: &str, msg: String) -> WankaError {
        WankaError::Parse {
            file: self.file.to_string(),
            line: self.line,
            col: self.cols.get(col).map_or(0, |i| i + 1),
            msg: format!("column `{col}`: {msg}"),
        }
    }
    pub fn opt<T: std::str::FromStr>(&self, col: &str, what: &str) -> Result<Option<T>, WankaError> {
        let v = self.raw(col);
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<T>().map(Some).map_err(|_| self.err(col, format!("`{v}` is not {what}")))
    }
    pub fn req<T: std::str::FromStr>(&self, col: &str, what: &str) -> Result<T, WankaError> {
        self.opt(col, what)?.ok_or_else(|| self.err(col, format!("is required ({what})")))
    }
    pub fn positive(&self, col: &str) -> Result<f64, WankaError> {
        let v: f64 = self.req(col, "a number")?;
        if v > 0.0 && v.is_finite() { Ok(v) } else { Err(self.err(col, format!("must be positive, got {v}"))) }
    }
    pub fn choice<T: Copy>(&self, col: &str, options: &[(&str, T)], blank: Option<T>) -> Result<Option<T>, WankaError> {
        let v = self.raw(col).to_lowercase();
        if v.is_empty() {
            return Ok(blank);
        }
        options.iter().find(|(k, _)| *k == v).map(|(_, t)| Some(*t)).ok_or_else(|| {
            let allowed: Vec<&str> = options.iter().map(|(k, _)| *k).collect();
            self.err(col, format!("`{v}` is not one of {}", allowed.join(", ")))
        })
    }
}

/// Read CSV records with a header check; calls `f` for each row.
pub(crate) fn read_rows<T>(path: &Path, required: &[&str], mut f: impl FnMut(&Row) -> Result<T, WankaError>) -> Result<Vec<T>, WankaError> {
    let file = path.display().to_string();
    let text = crate::ron_util::read_file(path)?;
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| WankaError::Parse { file: file.clone(), line: 1, col: 1, msg: e.to_string() })?.clone();
    let cols: HashMap<String, usize> = headers.iter().enumerate().map(|(i, h)| (h.trim().to_string(), i)).collect();
    let missing: Vec<&str> = required.iter().copied().filter(|c| !cols.contains_key(*c)).collect();
    if !missing.is_empty() {
        return Err(WankaError::Parse { file, line: 1, col: 1, msg: format!("missing columns: {}", missing.join(", ")) });
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            WankaError::Parse { file: file.clone(), line, col: 1, msg: e.to_string() }
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        out.push(f(&Row { file: &file, line, cols: &cols, rec: &rec })?);
    }
    if out.is_empty() {
        return Err(WankaError::Parse { file, line: 1, col: 1, msg: "no cases after the header".into() });
    }
    Ok(out)
}

/// Scale-out fabric implied by a per-GPU NIC speed.
pub fn fabric_for_nic(gbps: f64) -> &'static str {
    match gbps as u32 {
        200 => "ib-hdr",
        400 => "ib-ndr",
        800 => "ib-xdr",
        g if g <= 200 => "roce-200g",
        g if g <= 400 => "roce-400g",
        _ => "roce-800g",
    }
}

/// Read step cases.
pub fn read_step_cases(path: &Path) -> Result<Vec<StepCase>, WankaError> {
    read_rows(path, STEP_COLUMNS, |r| {
        let hidden: u32 = r.req("hidden", "a whole number")?;
        let ffn: u32 = r.req("ffn_hidden", "a whole number")?;
        let heads: u32 = r.req("heads", "a whole number")?;
        let llama = ffn != 4 * hidden;
        let id: String = r.req("id", "text")?;
        let model = ModelSpec {
            name: id.clone(),
            layers: r.req("layers", "a whole number")?,
            hidden,
            heads,
            kv_heads: r.opt("kv_heads", "a whole number")?.unwrap_or(heads),
            ffn_hidden: ffn,
            gated_ffn: llama,
            vocab: r.req("vocab", "a whole number")?,
            bias: !llama,
            learned_positions: !llama,
            tied_embeddings: !llama,
            dropout: !llama,
            moe: None,
            mla: None,
        };
        model.check(r.file).map_err(|e| WankaError::Parse { file: r.file.to_string(), line: r.line, col: 0, msg: e.to_string() })?;
        let nic = r.positive("nic_gbps_per_gpu")?;
        let bools = [("true", true), ("false", false), ("1", true), ("0", false), ("yes", true), ("no", false)];
        let scenario = Scenario {
            name: id.clone(),
            description: r.raw("notes").to_string(),
            model: ModelRef::Custom(model),
            cluster: ClusterSpec {
                chip: r.req("chip", "a catalog chip id")?,
                gpus: r.req("gpus", "a whole number")?,
                gpus_per_node: r.req("gpus_per_node", "a whole number")?,
                network: NetworkSpec {
                    fabric: match r.raw("fabric") {
                        "" => fabric_for_nic(nic).into(),
                        f => f.to_string(),
                    },
                    nic_gbit_per_s_per_gpu: nic,
                    topology: match r.raw("topology") {
                        "" => VALIDATION_TOPOLOGY.into(),
                        t => t.to_string(),
                    },
                },
            },
            parallelism: ParallelismSpec {
                tp: r.req("tp", "a whole number")?,
                pp: r.req("pp", "a whole number")?,
                dp: r.req("dp", "a whole number")?,
                cp: r.opt("cp", "a whole number")?.unwrap_or(1),
                ep: 1,
                schedule: r.choice("schedule", &[("1f1b", Schedule::OneFOneB), ("interleaved", Schedule::Interleaved)], None)?,
                vpp: r.opt("vpp", "a whole number")?,
                micro_batch: r.opt("micro_batch", "a whole number")?,
                global_batch: r.req("global_batch", "a whole number")?,
                recompute: r
                    .choice(
                        "recompute",
                        &[("none", Recompute::None), ("selective", Recompute::Selective), ("full", Recompute::Full)],
                        None,
                    )?
                    .ok_or_else(|| r.err("recompute", "is required (none, selective, full)".into()))?,
                sequence_parallel: r.choice("seq_parallel", &bools, Some(false))?.unwrap_or(false),
                zero_stage: r.opt("zero_stage", "0, 1, 2 or 3")?.unwrap_or(0),
                rank_order: r
                    .choice("rank_order", &[("tp-cp-dp-pp", RankOrder::TpCpDpPp), ("tp-cp-pp-dp", RankOrder::TpCpPpDp)], None)?
                    .unwrap_or_default(),
            },
            training: TrainingSpec { seq_len: r.req("seq_len", "a whole number")?, tokens: 1e12 },
            framework: FrameworkSpec {
                overlap_grad_reduce: r.choice("overlap_grad_reduce", &bools, None)?.unwrap_or(FrameworkSpec::default().overlap_grad_reduce),
                ..FrameworkSpec::default()
            },
            run: Default::default(),
            seed: 1,
        };
        Ok(StepCase {
            id,
            source: r.raw("source").to_string(),
            line: r.line,
            scenario,
            measured_step_s: r.positive("measured_step_s")?,
            measured_tflops_per_gpu: r.opt("measured_tflops_per_gpu", "a number")?,
            measured_mfu: r.opt("measured_mfu", "a number")?,
        })
    })
}

/// Simulate every step case of a file.
pub fn validate_steps(path: &Path, catalog: &Catalog) -> Result<StepReport, WankaError> {
    let file = path.display().to_string();
    let cases = read_step_cases(path)?;
    let mut out = Vec::with_capacity(cases.len());
    for c in &cases {
        let where_ = format!("{file} line {} ({})", c.line, c.id);
        let r = c.scenario.simulate_step(catalog, &where_)?;
        out.push(CaseResult {
            id: c.id.clone(),
            predicted_step_s: r.step_s,
            measured_step_s: c.measured_step_s,
            error: (r.step_s - c.measured_step_s) / c.measured_step_s,
            predicted_mfu: r.mfu,
            predicted_hfu: r.hfu,
            measured_mfu: c.measured_mfu,
            measured_tflops_per_gpu: c.measured_tflops_per_gpu,
            breakdown: r.breakdown,
            memory_gb: r.memory.total_gb,
        });
    }
    let n = out.len() as f64;
    let mape = out.iter().map(|c| c.error.abs()).sum::<f64>() / n;
    let max_abs_error = out.iter().map(|c| c.error.abs()).fold(0.0, f64::max);
    let mean_error = out.iter().map(|c| c.error).sum::<f64>() / out.len().max(1) as f64;
    Ok(StepReport { file, cases: out, mape, max_abs_error, mean_error })
}

// ---------------------------------------------------------------------------------------------
// Reliability cases

const RELIABILITY_COLUMNS: &[&str] = &[
    "id",
    "source",
    "kind",
    "gpus",
    "gpus_per_node",
    "days",
    "failures_per_1000_node_days",
    "mtti_min",
    "checkpoint_interval_min",
    "checkpoint_save_min",
    "restart_min",
    "expected_interruptions",
    "expected_ettr",
    "expected_tau_opt_min",
    "tolerance",
    "notes",
];

/// Seeds per reliability case (Monte Carlo).
pub const RELIABILITY_SEEDS: u64 = 64;

/// Model state per GPU assumed for fleet rows without a checkpoint time: Llama 3 §3.3.1 "1 MB to 4 GB
/// of model state per GPU" (the upper end), written at the default storage bandwidth.
pub const FLEET_STATE_GB_PER_GPU: f64 = 4.0;
