//! The model's own error in a forecast's days and cost bands.
//!
//! The Monte Carlo gives the spread of wall-clock days from failures alone (p10–p90 over seeds). The
//! step time it runs on is itself a prediction, and the leave-one-out errors of the family's published
//! runs say how wrong such predictions were: a case with signed error `e = (predicted − measured) /
//! measured` ran `1/(1+e)` times the predicted time. So the band with model error is the empirical
//! distribution of `dᵢ / (1 + eⱼ)` over every seed's days `dᵢ` and every error `eⱼ` (all pairs, each
//! weighed equally: deterministic, no sampling), read at p10/p50/p90 like the failure band. Days scale
//! with step time (restarts and checkpoint stalls do not, so this slightly overstates the spread).
//! Cost is priced at each quantile's days, as the failure-only cost is at p50.
//!
//! Which errors ([`errors_for`]), first that applies:
//!
//! 1. a calibration overlay's own leave-one-out step errors (`loo_step_errors`, from step rows given to
//!    `wanka calibrate --chip`) — the measured chip's error, usually narrower;
//! 2. MoE models: the MoE runs' errors (the family's when it has at least 3, else all families');
//! 3. the family's published runs on the stack (at least [`MIN_GROUP_CASES`]), else on every stack
//!    (`scenarios/validation/accuracy_errors.csv`, the rows behind `accuracy.csv`);
//! 4. a family without fitted runs but with at least [`MIN_GROUP_CASES`] in the holdout file: those
//!    runs' plain errors (stack `holdout:*` in `accuracy_errors.csv`);
//! 5. a family with no published runs: every dense family's errors pooled and doubled
//!    ([`UNCALIBRATED_WIDENING`]) — an assumption, said in `source`: a profile carried from a parent has
//!    not been measured, so it is taken to be twice as uncertain as a fitted one.
//!
//! Two ranked candidates are **indistinguishable within model error** when their p10–p90 bands with model
//! error overlap by at least half of the narrower band ([`indistinguishable`]).

use serde::Serialize;

use crate::hardware::catalog::Calibration;
use crate::run::monte_carlo::Stats;
use crate::step::accuracy::{CaseError, HOLDOUT_PREFIX, MIN_GROUP_CASES, builtin_case_errors};

/// How much wider an uncalibrated family's errors are taken to be than the pooled fitted ones.
pub const UNCALIBRATED_WIDENING: f64 = 2.0;

/// Share of the narrower band two bands must overlap for their candidates to be indistinguishable.
pub const OVERLAP_SHARE: f64 = 0.5;

/// The step-time error distribution a forecast carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelError {
    /// Where the errors come from, one line for reports.
    pub source: String,
    /// Signed relative errors (predicted − measured) / measured.
    pub errors: Vec<f64>,
}

impl ModelError {
    /// Mean absolute error (a scalar to compare two sources by).
    pub fn mape(&self) -> f64 {
        self.errors.iter().map(|e| e.abs()).sum::<f64>() / self.errors.len().max(1) as f64
    }
}

/// The errors a forecast on `calibration`'s family under `stack` carries (see the module docs).
pub fn errors_for(calibration: &Calibration, stack: &str, moe: bool) -> ModelError {
    if !calibration.loo_step_errors.is_empty() {
        return ModelError {
            source: format!(
                "{} leave-one-out step errors of {}'s calibration overlay {}",
                calibration.loo_step_errors.len(),
                calibration.id,
                calibration.overlay.as_deref().unwrap_or("overlay")
            ),
            errors: calibration.loo_step_errors.clone(),
        };
    }
    let all = builtin_case_errors();
    let pick = |family: Option<&str>, stack: &str| -> Vec<f64> {
        all.iter()
            .filter(|r| family.is_none_or(|f| r.family == f))
            .filter(|r| if stack.ends_with('*') { r.stack.starts_with(&stack[..stack.len() - 1]) } else { r.stack == stack })
            .map(|r| r.loo_error)
            .collect()
    };
    // A chip-only overlay's profile (`family@chip`) carries its family's published errors.
    let fam = crate::hardware::overlay::published_family(&calibration.id);
    if moe {
        let own = pick(Some(fam), "moe:*");
        if own.len() >= MIN_GROUP_CASES {
            return ModelError { source: format!("{} published MoE runs of {fam}", own.len()), errors: own };
        }
        let any = pick(None, "moe:*");
        if !any.is_empty() {
            return ModelError { source: format!("{} published MoE runs of all families", any.len()), errors: any };
        }
    }
    let on_stack = pick(Some(fam), stack);
    if on_stack.len() >= MIN_GROUP_CASES && !stack.starts_with("moe:") {
        return ModelError {
            source: format!("leave-one-out errors of {} published {fam} runs on {stack}", on_stack.len()),
            errors: on_stack,
        };
    }
    let fitted_dense = |r: &&CaseError| !r.stack.starts_with("moe:") && !r.stack.starts_with(HOLDOUT_PREFIX);
    let dense: Vec<f64> = all.iter().filter(|r| r.family == fam).filter(fitted_dense).map(|r| r.loo_error).collect();
    if !dense.is_empty() {
        return ModelError { source: format!("leave-one-out errors of {} published {fam} runs (all stacks)", dense.len()), errors: dense };
    }
    let holdout = pick(Some(fam), &format!("{HOLDOUT_PREFIX}*"));
    if holdout.len() >= MIN_GROUP_CASES {
        return ModelError {
            source: format!("errors of {} published {fam} holdout runs (none fitted on)", holdout.len()),
            errors: holdout,
        };
    }
    let pooled: Vec<f64> = all.iter().filter(fitted_dense).map(|r| UNCALIBRATED_WIDENING * r.loo_error).collect();
    ModelError {
        source: format!("no published runs of {fam}: {} runs of the fitted families pooled, errors doubled (assumption)", pooled.len()),
        errors: pooled,
    }
}

/// Days of every seed combined with every model error: `dᵢ / (1 + eⱼ)` over all pairs, summarised.
pub fn days_with_model_error(days: &[f64], errors: &[f64]) -> Stats {
    if errors.is_empty() {
        return Stats::of(days);
    }
    let v: Vec<f64> = days.iter().flat_map(|d| errors.iter().map(move |e| d / (1.0 + e))).collect();
    Stats::of(&v)
}

/// A candidate's (or run's) days and cost: p10–p90 from failures alone and with model error.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Bands {
    /// Where the model errors come from.
    pub model_error_source: String,
    /// Number of errors behind the band.
    pub model_error_cases: usize,
    /// Their mean absolute value (fraction).
    pub model_error_mape: f64,
    pub days_p10_failures: f64,
    pub days_p50_failures: f64,
    pub days_p90_failures: f64,
    pub days_p10_with_model_error: f64,
    pub days_p50_with_model_error: f64,
    pub days_p90_with_model_error: f64,
    /// Total cost priced at the failure band's p10/p90 days, million USD (absent without money).
    pub cost_musd_p10_failures: Option<f64>,
    pub cost_musd_p90_failures: Option<f64>,
    pub cost_musd_p10_with_model_error: Option<f64>,
    pub cost_musd_p90_with_model_error: Option<f64>,
}

impl Bands {
    /// Bands from the seeds' days and a model error; `cost_musd(days)` prices a duration, if money is known.
    pub fn new(days: &[f64], err: &ModelError, cost_musd: Option<&dyn Fn(f64) -> Option<f64>>) -> Bands {
        let f = Stats::of(days);
        let m = days_with_model_error(days, &err.errors);
        let c = |d: f64| cost_musd.and_then(|p| p(d));
        Bands {
            model_error_source: err.source.clone(),
            model_error_cases: err.errors.len(),
            model_error_mape: err.mape(),
            days_p10_failures: f.p10,
            days_p50_failures: f.p50,
            days_p90_failures: f.p90,
            days_p10_with_model_error: m.p10,
            days_p50_with_model_error: m.p50,
            days_p90_with_model_error: m.p90,
            cost_musd_p10_failures: c(f.p10),
            cost_musd_p90_failures: c(f.p90),
            cost_musd_p10_with_model_error: c(m.p10),
            cost_musd_p90_with_model_error: c(m.p90),
        }
    }
}

/// Whether two candidates cannot be told apart: their p10–p90 bands with model error overlap by at
/// least [`OVERLAP_SHARE`] of the narrower band.
pub fn indistinguishable(a: &Bands, b: &Bands) -> bool {
    let (a0, a1, b0, b1) =
        (a.days_p10_with_model_error, a.days_p90_with_model_error, b.days_p10_with_model_error, b.days_p90_with_model_error);
    let overlap = (a1.min(b1) - a0.max(b0)).max(0.0);
    let narrow = (a1 - a0).min(b1 - b0);
    if narrow <= 0.0 {
        return overlap > 0.0 || (a0 == b0);
    }
    overlap >= OVERLAP_SHARE * narrow
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::catalog::Catalog;

    #[test]
    fn model_error_widens_the_band_and_an_overlay_narrows_it() {
        let days: Vec<f64> = (0..50).map(|i| 30.0 + 0.02 * i as f64).collect();
        let cat = Catalog::builtin();
        let ascend = errors_for(&cat.calibrations["huawei-ascend"], "mindspeed", false);
        assert!(ascend.errors.len() >= 10, "{}", ascend.source);
        let b = Bands::new(&days, &ascend, None);
        assert!(b.days_p10_with_model_error < b.days_p10_failures && b.days_p90_with_model_error > b.days_p90_failures, "{b:?}");
        // An uncalibrated family is wider than a fitted one.
        let cam = errors_for(&cat.calibrations["cambricon"], "mindspeed", false);
        assert!(cam.source.contains("assumption") && cam.mape() > ascend.mape(), "{} {}", cam.source, cam.mape());
        // An overlay's own (small) errors replace them and narrow the band.
        let mut cal = cat.calibrations["cambricon"].clone();
        cal.loo_step_errors = vec![-0.02, 0.01, 0.03, -0.01];
        let own = errors_for(&cal, "mindspeed", false);
        let (wide, narrow) = (Bands::new(&days, &cam, None), Bands::new(&days, &own, None));
        assert!(
            narrow.days_p90_with_model_error - narrow.days_p10_with_model_error
                < wide.days_p90_with_model_error - wide.days_p10_with_model_error
        );
        // A family without fitted runs but with holdout runs carries those runs' plain errors, not
        // the pooled ones (its holdout rows in accuracy_errors.csv are the source).
        let amd = errors_for(&cat.calibrations["amd-cdna3"], "megatron-core", false);
        let rows: Vec<f64> = builtin_case_errors()
            .iter()
            .filter(|r| r.family == "amd-cdna3" && r.stack.starts_with(HOLDOUT_PREFIX))
            .map(|r| r.loo_error)
            .collect();
        assert!(rows.len() >= MIN_GROUP_CASES && amd.errors == rows && amd.source.contains("holdout"), "{}", amd.source);
        // Overlap rule.
        let shifted: Vec<f64> = days.iter().map(|d| d * 1.02).collect();
        assert!(indistinguishable(&b, &Bands::new(&shifted, &ascend, None)));
        let far: Vec<f64> = days.iter().map(|d| d * 2.0).collect();
        assert!(!indistinguishable(&b, &Bands::new(&far, &ascend, None)));
    }
}
