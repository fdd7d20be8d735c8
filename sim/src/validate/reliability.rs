//! Reliability cases: Daly's analytic optimum with exponential failures, and published fleet
//! figures (interruptions, ETTR), predicted by the run simulator's Monte Carlo.

use serde::Serialize;
use std::path::Path;

use super::{FLEET_STATE_GB_PER_GPU, RELIABILITY_COLUMNS, Row, read_rows};
use crate::error::WankaError;
use crate::run::checkpoint::{CheckpointCost, CheckpointSpec, daly_s};
use crate::run::failure::{Component, FailureLaw, Process, Unit};
use crate::run::{RecoverySpec, RunInputs, StragglerSpec, monte_carlo};

/// Prediction for one reliability case.
#[derive(Debug, Clone, Serialize)]
pub struct ReliabilityResult {
    pub id: String,
    pub kind: String,
    pub predicted_ettr: f64,
    /// Monte Carlo p10–p90 of ETTR.
    pub predicted_ettr_p10: f64,
    pub predicted_ettr_p90: f64,
    /// As published: a number, or a bound such as `>=0.90`.
    pub expected_ettr: String,
    pub predicted_tau_opt_min: Option<f64>,
    pub expected_tau_opt_min: Option<f64>,
    pub predicted_interruptions: Option<f64>,
    pub expected_interruptions: Option<f64>,
    /// The checks applied, e.g. `|ettr - 0.913| <= 0.005`.
    pub checks: Vec<String>,
    pub pass: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReliabilityReport {
    pub file: String,
    pub seeds: u64,
    pub cases: Vec<ReliabilityResult>,
    pub passed: usize,
    pub failed: usize,
}

/// Tolerances parsed from the `tolerance` column: `ettr +-X`, `tau +-Y%`, `ettr >= Z`, `(A-B)` band.
#[derive(Debug, Default, Clone, Copy)]
struct Tolerance {
    ettr_abs: Option<f64>,
    ettr_min: Option<f64>,
    tau_rel: Option<f64>,
    band: Option<(f64, f64)>,
}

fn number_after(text: &str, key: &str) -> Option<f64> {
    let i = text.find(key)? + key.len();
    let rest: String = text[i..].trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    rest.parse().ok()
}

fn parse_tolerance(t: &str) -> Tolerance {
    let t = t.to_lowercase().replace('±', "+-");
    let mut tol = Tolerance { ettr_abs: number_after(&t, "ettr +-"), ettr_min: number_after(&t, "ettr >="), ..Default::default() };
    tol.tau_rel = number_after(&t, "tau +-").map(|p| p / 100.0);
    if let (Some(a), Some(b)) = (t.find('('), t.find(')')) {
        let inner = &t[a + 1..b];
        if let Some((x, y)) = inner.split_once('-')
            && let (Ok(x), Ok(y)) = (x.trim().parse(), y.trim().parse())
        {
            tol.band = Some((x, y));
        }
    }
    tol
}

/// One row of a reliability case file, read and checked, with the run it describes.
struct Case {
    id: String,
    kind: String,
    inputs: RunInputs,
    /// The checkpoint interval simulated (Daly's optimum when the row leaves it blank), minutes.
    tau_opt_min: Option<f64>,
    tol: Tolerance,
    /// `expected_ettr` as written, and its number (without a `>=`).
    expected_ettr: String,
    ettr_bound: Option<f64>,
    expected_interruptions: Option<f64>,
    expected_tau: Option<f64>,
}

/// Validate reliability cases: Daly's analytic cases with exponential failures, and fleet cases.
pub fn validate_reliability(path: &Path, seeds: u64) -> Result<ReliabilityReport, WankaError> {
    let file = path.display().to_string();
    let rows = read_rows(path, RELIABILITY_COLUMNS, read_case)?;
    let cases: Vec<ReliabilityResult> = rows.into_iter().map(|c| judge(c, seeds)).collect();
    let passed = cases.iter().filter(|c| c.pass).count();
    Ok(ReliabilityReport { file, seeds, failed: cases.len() - passed, passed, cases })
}

fn read_case(r: &Row) -> Result<Case, WankaError> {
    let id: String = r.req("id", "text")?;
    let kind = r.raw("kind").to_lowercase();
    let tol = parse_tolerance(r.raw("tolerance"));
    let expected_ettr = r.raw("expected_ettr").to_string();
    let ettr_bound = expected_ettr.trim_start_matches(">=").trim().parse::<f64>().ok();
    let (inputs, tau_opt_min) = match kind.as_str() {
        "analytic" => analytic_inputs(r)?,
        "fleet" => fleet_inputs(r)?,
        other => return Err(r.err("kind", format!("`{other}` is not one of analytic, fleet"))),
    };
    let expected_interruptions: Option<f64> = r.opt("expected_interruptions", "a number")?;
    let expected_tau: Option<f64> = r.opt("expected_tau_opt_min", "a number of minutes")?;
    Ok(Case { id, kind, inputs, tau_opt_min, tol, expected_ettr, ettr_bound, expected_interruptions, expected_tau })
}

/// An analytic case: one device failing exponentially at the row's MTTI, Daly's interval unless given.
fn analytic_inputs(r: &Row) -> Result<(RunInputs, Option<f64>), WankaError> {
    let m_s = r.positive("mtti_min")? * 60.0;
    let delta_s = r.positive("checkpoint_save_min")? * 60.0;
    let restart_s = r.opt::<f64>("restart_min", "a number of minutes")?.unwrap_or(0.0) * 60.0;
    let tau_s = match r.opt::<f64>("checkpoint_interval_min", "a number of minutes")? {
        Some(t) => t * 60.0,
        None => daly_s(delta_s, m_s),
    };
    let comp = Component {
        name: "exponential failure".into(),
        unit: Unit::Device,
        rate_per_unit_hour: 3600.0 / m_s,
        distribution: FailureLaw::Exponential,
        needs_repair: false,
    };
    let recovery = RecoverySpec {
        detection_s: 0.0,
        reschedule_s: restart_s,
        init_base_s: 0.0,
        init_s_per_1k_devices: 0.0,
        warmup_s: 0.0,
        hot_spare_nodes: Some(0),
        ..Default::default()
    };
    let inputs = RunInputs {
        devices: 1,
        gpus_per_node: 1,
        // Long enough for the mean to converge: 2,000 mean times to interruption of work.
        work_s: 2000.0 * m_s,
        degraded_speed: vec![1.0],
        replicas_per_node: 1,
        checkpoint: CheckpointCost { bytes: 0.0, stall_s: delta_s, durable_after_s: delta_s, load_s: 0.0 },
        interval_s: tau_s,
        processes: vec![Process::new(&comp, 1, 1, 1.0)],
        recovery,
        hot_spare_nodes: 0,
        stragglers: StragglerSpec::default(),
        maintenance: None,
        max_s: 1e9 * m_s,
    };
    Ok((inputs, Some(tau_s / 60.0)))
}

/// A fleet case: the H100 profile's component mix scaled to the row's failure rate.
fn fleet_inputs(r: &Row) -> Result<(RunInputs, Option<f64>), WankaError> {
    let gpus: u64 = r.req("gpus", "a whole number")?;
    let gpn: u32 = r.req("gpus_per_node", "a whole number")?;
    let days = r.positive("days")?;
    let rate = r.positive("failures_per_1000_node_days")?;
    // The H100 profile's component mix (which failures need a repair), scaled to the row's rate.
    let profile = crate::run::failure::profile("h100-llama3")?;
    let profile_rate = profile.rate_per_hour(gpus, gpn, days * 24.0) * 24.0 / (gpus as f64 / f64::from(gpn)) * 1000.0;
    let scale = rate / profile_rate;
    let processes: Vec<Process> = profile.components.iter().map(|c| Process::new(c, gpus, gpn, scale)).collect();
    // Blank save time: the default checkpoint policy for FLEET_STATE_GB_PER_GPU of state.
    let spec = CheckpointSpec::default();
    let params_equiv = FLEET_STATE_GB_PER_GPU * 1e9 * gpus as f64 / crate::run::checkpoint::BYTES_PER_PARAM;
    let mut ckpt = spec.cost(params_equiv, gpus, 50.0);
    if let Some(m) = r.opt::<f64>("checkpoint_save_min", "a number of minutes")? {
        ckpt.stall_s = m * 60.0;
        ckpt.durable_after_s = m * 60.0;
    }
    let delta_s = ckpt.stall_s;
    let mut recovery = RecoverySpec::default();
    if let Some(rm) = r.opt::<f64>("restart_min", "a number of minutes")? {
        recovery = RecoverySpec {
            detection_s: 0.0,
            reschedule_s: rm * 60.0,
            init_base_s: 0.0,
            init_s_per_1k_devices: 0.0,
            warmup_s: 0.0,
            ..recovery
        };
    }
    let mtti_s = 86400.0 / (rate / 1000.0 * gpus as f64 / f64::from(gpn));
    let tau_s = match r.opt::<f64>("checkpoint_interval_min", "a number of minutes")? {
        Some(t) => t * 60.0,
        None => daly_s(delta_s, mtti_s),
    };
    let nodes = gpus.div_ceil(u64::from(gpn));
    let inputs = RunInputs {
        devices: gpus,
        gpus_per_node: gpn,
        work_s: 100.0 * days * 86400.0,
        degraded_speed: vec![1.0],
        replicas_per_node: 1,
        checkpoint: ckpt,
        interval_s: tau_s,
        processes,
        hot_spare_nodes: recovery.hot_spare_nodes_for(nodes),
        recovery,
        stragglers: StragglerSpec::default(),
        maintenance: None,
        max_s: days * 86400.0,
    };
    Ok((inputs, None))
}

/// Simulate a case over `seeds` and apply its tolerances.
fn judge(case: Case, seeds: u64) -> ReliabilityResult {
    let Case {
        id,
        kind,
        inputs,
        tau_opt_min: tau_opt,
        tol,
        expected_ettr: ettr_raw,
        ettr_bound: ettr_val,
        expected_interruptions: exp_int,
        expected_tau: exp_tau,
    } = case;
    let mc = monte_carlo(&inputs, 1, seeds);
    let mut checks = Vec::new();
    let mut pass = true;
    let ettr = mc.ettr.mean;
    if let (Some(a), Some(e)) = (tol.ettr_abs, ettr_val) {
        let ok = (ettr - e).abs() <= a;
        checks.push(format!("|ettr {ettr:.4} - {e}| <= {a}: {}", if ok { "ok" } else { "FAIL" }));
        pass &= ok;
    }
    if let Some(m) = tol.ettr_min {
        let ok = ettr >= m;
        checks.push(format!("ettr {ettr:.4} >= {m}: {}", if ok { "ok" } else { "FAIL" }));
        pass &= ok;
    }
    if let (Some(rel), Some(e), Some(t)) = (tol.tau_rel, exp_tau, tau_opt) {
        let ok = (t - e).abs() / e <= rel;
        checks.push(format!("tau {t:.2} min within {:.0}% of {e}: {}", 100.0 * rel, if ok { "ok" } else { "FAIL" }));
        pass &= ok;
    }
    let predicted_interruptions = (kind == "fleet").then_some(mc.interruptions.mean);
    if let (Some((lo, hi)), Some(n)) = (tol.band, predicted_interruptions) {
        let ok = n >= lo && n <= hi;
        checks.push(format!("interruptions {n:.1} in [{lo}, {hi}]: {}", if ok { "ok" } else { "FAIL" }));
        pass &= ok;
    }
    if checks.is_empty() {
        checks.push("no checkable tolerance in the `tolerance` column".into());
        pass = false;
    }
    ReliabilityResult {
        id,
        kind,
        predicted_ettr: ettr,
        predicted_ettr_p10: mc.ettr.p10,
        predicted_ettr_p90: mc.ettr.p90,
        expected_ettr: ettr_raw,
        predicted_tau_opt_min: tau_opt,
        expected_tau_opt_min: exp_tau,
        predicted_interruptions,
        expected_interruptions: exp_int,
        checks,
        pass,
    }
}
