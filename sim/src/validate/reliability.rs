//! Reliability cases: Daly's analytic optimum with exponential failures, and published fleet
//! figures (interruptions, ETTR), predicted by the run simulator's Monte Carlo.

use serde::Serialize;
use std::path::Path;

use super::{FLEET_STATE_GB_PER_GPU, RELIABILITY_COLUMNS, Row, read_rows};
use crate::error::WankaError;
use crate::run::checkpoint::{CheckpointCost, CheckpointSpec, daly_s};
use crate::run::failure::{Component, FailureLaw, Process, Unit};
use crate::run::{RecoverySpec, RunInputs, StragglerSpec, monte_carlo};

/// What a case tests: the engine against mathematics or a rate it is given, or a prediction from a
/// failure profile built from other data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CaseRole {
    /// Analytic (Daly), or a fleet row whose own observed failure rate is the input: the run simulator's
    /// arithmetic is checked, nothing is predicted.
    EngineCheck,
    /// A fleet row simulated from a named failure profile whose source is independent of the run: the
    /// interruptions and ETTR are predictions.
    Prediction,
}

impl CaseRole {
    pub fn describe(self) -> &'static str {
        match self {
            CaseRole::EngineCheck => "checks the engine",
            CaseRole::Prediction => "predicts",
        }
    }
}

/// Prediction for one reliability case.
#[derive(Debug, Clone, Serialize)]
pub struct ReliabilityResult {
    pub id: String,
    pub kind: String,
    pub role: CaseRole,
    /// Where the failure rate came from: `rate given (3.79 per 1000 node-days)`, `analytic MTTI
    /// 1440 min`, or the profile and its basis.
    pub rate_basis: String,
    pub predicted_ettr: f64,
    /// Monte Carlo p10–p90 of ETTR.
    pub predicted_ettr_p10: f64,
    pub predicted_ettr_p90: f64,
    /// As published: a number, or a bound such as `>=0.90`.
    pub expected_ettr: String,
    /// Optimal checkpoint interval (Daly), seconds: wanka's and the case's (its
    /// `expected_tau_opt_min` column, converted), in the units of `checkpoint_interval_s`.
    pub predicted_tau_opt_s: Option<f64>,
    pub expected_tau_opt_s: Option<f64>,
    pub predicted_interruptions: Option<f64>,
    pub expected_interruptions: Option<f64>,
    /// Time the job was up (training or checkpointing) per interruption, pooled over the seeds, hours
    /// (as `mtti_hours` everywhere else); the case's figure (`expected_mtti_min` or `mtti_min`) converted.
    pub predicted_mtti_hours: f64,
    pub expected_mtti_hours: Option<f64>,
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

/// One clause of the `tolerance` column. Clauses are separated by `;`; each must be one of the forms
/// in [`TOLERANCE_FORMS`] (anything else is an error naming the row, not a silently failed case).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Check {
    /// `ettr +-X`: |ETTR − expected| ≤ X.
    EttrAbs(f64),
    /// `ettr >= X`.
    EttrMin(f64),
    /// `tau +-X%`: the simulated interval within X% of the expected optimum.
    TauRel(f64),
    /// `mtti within X%`.
    MttiRel(f64),
    /// `interruptions within X%`.
    InterruptionsRel(f64),
    /// `interruptions within a factor F` (F ≥ 1): expected/F ≤ predicted ≤ expected·F.
    InterruptionsFactor(f64),
    /// `interruptions … (A-B)`: predicted in [A, B].
    InterruptionsBand(f64, f64),
}

/// The accepted tolerance forms, as error messages list them.
pub const TOLERANCE_FORMS: &str = "`ettr +-X`, `ettr >= X`, `tau +-X%`, `mtti within X%`, `interruptions within X%`, \
     `interruptions within a factor F`, `interruptions ... (A-B)`; clauses separated by `;`";

/// A number at the start of `text` (after spaces), and what follows it.
fn leading_number(text: &str) -> Option<(f64, &str)> {
    let t = text.trim_start();
    let end = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+')).unwrap_or(t.len());
    let v: f64 = t[..end].parse().ok()?;
    v.is_finite().then_some((v, t[end..].trim()))
}

/// A percentage: `5%` → 0.05; nothing may follow.
fn percent(text: &str) -> Option<f64> {
    let (v, rest) = leading_number(text)?;
    (rest == "%" && v >= 0.0).then_some(v / 100.0)
}

/// A plain non-negative number; nothing may follow.
fn plain(text: &str) -> Option<f64> {
    let (v, rest) = leading_number(text)?;
    (rest.is_empty() && v >= 0.0).then_some(v)
}

fn parse_clause(c: &str) -> Option<Check> {
    if let Some(r) = c.strip_prefix("ettr +-") {
        return plain(r).map(Check::EttrAbs);
    }
    if let Some(r) = c.strip_prefix("ettr >=") {
        return plain(r).map(Check::EttrMin);
    }
    if let Some(r) = c.strip_prefix("tau +-") {
        return percent(r).map(Check::TauRel);
    }
    if let Some(r) = c.strip_prefix("mtti within") {
        return percent(r).map(Check::MttiRel);
    }
    if let Some(r) = c.strip_prefix("interruptions") {
        // A band in parentheses, whatever words describe it ("within the Poisson 95% band (379-460)").
        if let (Some(a), Some(b)) = (r.find('('), r.rfind(')')) {
            let (lo, hi) = r[a + 1..b].split_once('-')?;
            let (lo, hi) = (plain(lo)?, plain(hi)?);
            return (lo <= hi && r[b + 1..].trim().is_empty()).then_some(Check::InterruptionsBand(lo, hi));
        }
        let r = r.trim_start().strip_prefix("within")?.trim_start();
        if let Some(f) = r.strip_prefix("a factor").or_else(|| r.strip_prefix("factor")) {
            return plain(f).filter(|f| *f >= 1.0).map(Check::InterruptionsFactor);
        }
        return percent(r).map(Check::InterruptionsRel);
    }
    None
}

/// Parse the `tolerance` column strictly: every clause must be a known form.
fn parse_tolerance(r: &Row) -> Result<Vec<Check>, WankaError> {
    let text = r.raw("tolerance").to_lowercase().replace('±', "+-");
    let mut checks = Vec::new();
    for clause in text.split(';').map(str::trim).filter(|c| !c.is_empty()) {
        let clause = clause.split_whitespace().collect::<Vec<_>>().join(" ");
        match parse_clause(&clause) {
            Some(c) => checks.push(c),
            None => return Err(r.err("tolerance", format!("`{clause}` is not a tolerance; allowed: {TOLERANCE_FORMS}"))),
        }
    }
    if checks.is_empty() {
        return Err(r.err("tolerance", format!("is required; allowed: {TOLERANCE_FORMS}")));
    }
    Ok(checks)
}

/// One row of a reliability case file, read and checked, with the run it describes.
struct Case {
    id: String,
    kind: String,
    role: CaseRole,
    rate_basis: String,
    inputs: RunInputs,
    /// The checkpoint interval simulated (Daly's optimum when the row leaves it blank), minutes.
    tau_opt_min: Option<f64>,
    checks: Vec<Check>,
    /// `expected_ettr` as written, and its number (without a `>=`).
    expected_ettr: String,
    ettr_bound: Option<f64>,
    expected_interruptions: Option<f64>,
    expected_tau: Option<f64>,
    expected_mtti_min: Option<f64>,
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
    let checks = parse_tolerance(r)?;
    let expected_ettr = r.raw("expected_ettr").to_string();
    let ettr_bound = expected_ettr.trim_start_matches(">=").trim().parse::<f64>().ok();
    let (inputs, tau_opt_min, role, rate_basis) = match kind.as_str() {
        "analytic" => {
            let (inputs, tau) = analytic_inputs(r)?;
            let basis = format!("analytic: MTTI {} min given", r.raw("mtti_min"));
            (inputs, tau, CaseRole::EngineCheck, basis)
        }
        "fleet" => fleet_inputs(r)?,
        other => return Err(r.err("kind", format!("`{other}` is not one of analytic, fleet"))),
    };
    let expected_interruptions: Option<f64> = r.opt("expected_interruptions", "a number")?;
    let expected_tau: Option<f64> = r.opt("expected_tau_opt_min", "a number of minutes")?;
    // An analytic case's expected MTTI is its input; a fleet row may state one (optional column).
    let expected_mtti_min = match r.opt::<f64>("expected_mtti_min", "a number of minutes")? {
        Some(m) => Some(m),
        None if kind == "analytic" => r.opt("mtti_min", "a number of minutes")?,
        None => None,
    };
    for c in &checks {
        let missing = match c {
            Check::EttrAbs(_) if ettr_bound.is_none() => Some("expected_ettr"),
            Check::TauRel(_) if expected_tau.is_none() => Some("expected_tau_opt_min"),
            Check::MttiRel(_) if expected_mtti_min.is_none() => Some("expected_mtti_min"),
            Check::InterruptionsRel(_) | Check::InterruptionsFactor(_) if expected_interruptions.is_none() => {
                Some("expected_interruptions")
            }
            _ => None,
        };
        if let Some(col) = missing {
            return Err(r.err("tolerance", format!("{c:?} needs a number in column `{col}`")));
        }
    }
    Ok(Case {
        id,
        kind,
        role,
        rate_basis,
        inputs,
        tau_opt_min,
        checks,
        expected_ettr,
        ettr_bound,
        expected_interruptions,
        expected_tau,
        expected_mtti_min,
    })
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
        optional: false,
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

/// A fleet case: the row's observed failure rate given to the H100 profile's component mix (an engine
/// check), or a named failure profile (optional column `profile`: a prediction). Optional column
/// `hot_spare_nodes` states the run's spare pool (blank: the default, 1% of the nodes).
fn fleet_inputs(r: &Row) -> Result<(RunInputs, Option<f64>, CaseRole, String), WankaError> {
    let gpus: u64 = r.req("gpus", "a whole number")?;
    let gpn: u32 = r.req("gpus_per_node", "a whole number")?;
    if gpus == 0 || gpn == 0 {
        return Err(r.err("gpus", "gpus and gpus_per_node must be positive".into()));
    }
    let days = r.positive("days")?;
    let nodes = gpus.div_ceil(u64::from(gpn));
    let rate: Option<f64> = r.opt("failures_per_1000_node_days", "a number")?;
    let profile_id = r.raw("profile");
    let (processes, role, basis, per_hour) = match (rate, profile_id.is_empty()) {
        (Some(_), false) => {
            return Err(
                r.err("profile", "give either `failures_per_1000_node_days` (engine check) or `profile` (prediction), not both".into())
            );
        }
        (None, true) => {
            return Err(r.err(
                "failures_per_1000_node_days",
                "a fleet case needs the observed rate (engine check) or a `profile` column (prediction)".into(),
            ));
        }
        (Some(rate), true) => {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(r.err("failures_per_1000_node_days", format!("must be positive, got {rate}")));
            }
            // The H100 profile's component mix (which failures need a repair), scaled to the row's rate.
            let profile = crate::run::failure::profile("h100-llama3")?;
            let scale = rate / profile.per_1000_node_days(gpus, gpn, days * 24.0);
            let processes: Vec<Process> = profile.processes(gpus, gpn, scale);
            let per_hour = rate / 1000.0 * nodes as f64 / 24.0;
            (processes, CaseRole::EngineCheck, format!("rate given: {rate} per 1000 node-days"), per_hour)
        }
        (None, false) => {
            let profile = crate::run::failure::profile(profile_id).map_err(|e| r.err("profile", e.to_string()))?;
            let processes: Vec<Process> = profile.processes(gpus, gpn, 1.0);
            let per_hour: f64 = processes.iter().map(|p| p.mean_rate_per_hour(days * 24.0)).sum();
            let basis =
                format!("profile {} ({:.1} per 1000 node-days): {}", profile.id, per_hour * 24.0 / nodes as f64 * 1000.0, profile.basis);
            (processes, CaseRole::Prediction, basis, per_hour)
        }
    };
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
    recovery.hot_spare_nodes = r.opt("hot_spare_nodes", "a whole number of nodes")?;
    let mtti_s = 3600.0 / per_hour;
    let tau_s = match r.opt::<f64>("checkpoint_interval_min", "a number of minutes")? {
        Some(t) => t * 60.0,
        None => daly_s(delta_s, mtti_s),
    };
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
    Ok((inputs, None, role, basis))
}

/// Simulate a case over `seeds` and apply its tolerances.
fn judge(case: Case, seeds: u64) -> ReliabilityResult {
    let Case {
        id,
        kind,
        role,
        rate_basis,
        inputs,
        tau_opt_min: tau_opt,
        checks: tolerance,
        expected_ettr: ettr_raw,
        ettr_bound: ettr_val,
        expected_interruptions: exp_int,
        expected_tau: exp_tau,
        expected_mtti_min: exp_mtti,
    } = case;
    let mc = monte_carlo(&inputs, 1, seeds);
    let ettr = mc.ettr.mean;
    let interruptions = mc.interruptions.mean;
    // Time up (training or checkpointing) per interruption, pooled over the seeds.
    let up_s: f64 = mc.seed_runs.iter().map(|r| r.wall_s - r.lost.restart_s - r.lost.spare_wait_s - r.lost.maintenance_s).sum();
    let count: u64 = mc.seed_runs.iter().map(|r| r.interruptions).sum();
    let mtti_min = if count > 0 { up_s / count as f64 / 60.0 } else { f64::INFINITY };
    let verdict = |ok: bool| if ok { "ok" } else { "FAIL" };
    let mut checks = Vec::new();
    let mut pass = true;
    // `read_case` made sure every check has the expected figure it needs.
    for c in tolerance {
        let (ok, text) = match c {
            Check::EttrAbs(a) => {
                let e = ettr_val.unwrap_or(f64::NAN);
                let ok = (ettr - e).abs() <= a;
                (ok, format!("|ettr {ettr:.4} - {e}| <= {a}"))
            }
            Check::EttrMin(m) => (ettr >= m, format!("ettr {ettr:.4} >= {m}")),
            Check::TauRel(rel) => {
                let (e, t) = (exp_tau.unwrap_or(f64::NAN), tau_opt.unwrap_or(f64::NAN));
                ((t - e).abs() / e <= rel, format!("tau {t:.2} min within {:.0}% of {e}", 100.0 * rel))
            }
            Check::MttiRel(rel) => {
                let e = exp_mtti.unwrap_or(f64::NAN);
                ((mtti_min - e).abs() / e <= rel, format!("mtti {mtti_min:.1} min within {:.0}% of {e}", 100.0 * rel))
            }
            Check::InterruptionsRel(rel) => {
                let e = exp_int.unwrap_or(f64::NAN);
                ((interruptions - e).abs() / e <= rel, format!("interruptions {interruptions:.1} within {:.0}% of {e}", 100.0 * rel))
            }
            Check::InterruptionsFactor(f) => {
                let e = exp_int.unwrap_or(f64::NAN);
                let ok = interruptions >= e / f && interruptions <= e * f;
                (ok, format!("interruptions {interruptions:.1} within a factor {f} of {e} ({:.2}x)", interruptions / e))
            }
            Check::InterruptionsBand(lo, hi) => {
                (interruptions >= lo && interruptions <= hi, format!("interruptions {interruptions:.1} in [{lo}, {hi}]"))
            }
        };
        checks.push(format!("{text}: {}", verdict(ok)));
        pass &= ok;
    }
    ReliabilityResult {
        id,
        role,
        rate_basis,
        predicted_ettr: ettr,
        predicted_ettr_p10: mc.ettr.p10,
        predicted_ettr_p90: mc.ettr.p90,
        expected_ettr: ettr_raw,
        predicted_tau_opt_s: tau_opt.map(|m| m * 60.0),
        expected_tau_opt_s: exp_tau.map(|m| m * 60.0),
        predicted_interruptions: (kind == "fleet").then_some(interruptions),
        expected_interruptions: exp_int,
        predicted_mtti_hours: mtti_min / 60.0,
        expected_mtti_hours: exp_mtti.map(|m| m / 60.0),
        kind,
        checks,
        pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_clauses_parse_to_numbers() {
        assert_eq!(parse_clause("ettr +-0.005"), Some(Check::EttrAbs(0.005)));
        assert_eq!(parse_clause("ettr >= 0.90"), Some(Check::EttrMin(0.90)));
        assert_eq!(parse_clause("tau +-2%"), Some(Check::TauRel(0.02)));
        assert_eq!(parse_clause("mtti within 5%"), Some(Check::MttiRel(0.05)));
        assert_eq!(parse_clause("interruptions within 10%"), Some(Check::InterruptionsRel(0.10)));
        assert_eq!(parse_clause("interruptions within a factor 1.5"), Some(Check::InterruptionsFactor(1.5)));
        assert_eq!(parse_clause("interruptions within factor 2"), Some(Check::InterruptionsFactor(2.0)));
        assert_eq!(parse_clause("interruptions within the poisson 95% band (379-460)"), Some(Check::InterruptionsBand(379.0, 460.0)));
    }

    #[test]
    fn tolerance_clauses_that_mean_nothing_are_refused() {
        for bad in [
            "mtti within 5",                     // no percent sign
            "mtti within five percent",          // words
            "ettr +-0.005 or so",                // trailing words
            "interruptions within a factor 0.5", // a factor below 1 is no tolerance
            "interruptions (460-379)",           // reversed band
            "roughly right",
            "ettr +-nan",
        ] {
            assert_eq!(parse_clause(bad), None, "{bad}");
        }
    }
}
