//! Calibration of a chip family's GEMM ceilings from published step cases, with leave-one-out error.
//!
//! What is fitted: per calibration family, one number per precision class — `gemm_max_fraction`
//! (achievable fraction of the 16-bit peak on large GEMMs) on the family's BF16/FP16 cases, then
//! `fp8_gemm_max_fraction` on its FP8 cases (with the 16-bit value fixed). Everything else in the model
//! (attention-kernel efficiency, HBM fraction, launch gaps, fabric efficiencies, stack settings) comes
//! from sources and is not touched: one scalar per family and precision is identifiable from step times,
//! more would fit noise.
//!
//! How: each case is simulated on a grid of ceilings; between grid points the step time is interpolated
//! linearly in `1/ceiling` (GEMM time is exactly proportional to it, the rest does not depend on it).
//! The fitted value minimises the mean absolute relative error (MAPE) over the family's cases. The
//! leave-one-out error of a case is its error at the value fitted without it — the out-of-sample figure
//! every report quotes. Cases that cannot be simulated are left out of a fit and counted.

use serde::Serialize;

use crate::hardware::catalog::Catalog;
use crate::step::stack::Precision;
use crate::validate::{CaseResult, ErrorStats, StepCase, simulate_case};

/// Ceilings the cases are simulated at; finer values are interpolated.
const GRID: [f64; 15] = [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 1.00];
/// Resolution of the fitted value.
const STEP: f64 = 0.0025;

/// Which ceiling a fit moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Parameter {
    /// `gemm_max_fraction`, fitted on BF16/FP16 cases.
    GemmMaxFraction,
    /// `fp8_gemm_max_fraction`, fitted on FP8 cases.
    Fp8GemmMaxFraction,
}

impl Parameter {
    pub fn name(self) -> &'static str {
        match self {
            Parameter::GemmMaxFraction => "gemm_max_fraction",
            Parameter::Fp8GemmMaxFraction => "fp8_gemm_max_fraction",
        }
    }
    fn applies(self, c: &StepCase) -> bool {
        (c.scenario.framework.precision == Precision::Fp8) == (self == Parameter::Fp8GemmMaxFraction)
    }
    fn set(self, catalog: &mut Catalog, family: &str, v: f64) {
        if let Some(cal) = catalog.calibrations.get_mut(family) {
            match self {
                Parameter::GemmMaxFraction => cal.gemm_max_fraction = v,
                Parameter::Fp8GemmMaxFraction => cal.fp8_gemm_max_fraction = Some(v),
            }
        }
    }
    fn get(self, catalog: &Catalog, family: &str) -> Option<f64> {
        let cal = catalog.calibrations.get(family)?;
        match self {
            Parameter::GemmMaxFraction => Some(cal.gemm_max_fraction),
            Parameter::Fp8GemmMaxFraction => cal.fp8_gemm_max_fraction,
        }
    }
}

/// One fitted ceiling.
#[derive(Debug, Clone, Serialize)]
pub struct Fit {
    pub family: String,
    pub parameter: Parameter,
    /// The value that minimises the family's MAPE.
    pub value: f64,
    /// The value the catalog carries now.
    pub catalog_value: Option<f64>,
    /// Errors at the fitted value (in sample).
    pub in_sample: ErrorStats,
    /// Leave-one-out errors (each case at the value fitted without it).
    pub leave_one_out: ErrorStats,
    /// Per case: id, stack, leave-one-out error.
    pub cases: Vec<(String, String, f64)>,
}

impl Fit {
    /// (family, stack, leave-one-out error) per case, for [`crate::step::accuracy::rows_from_errors`].
    pub fn loo_errors(&self) -> impl Iterator<Item = (&str, &str, f64)> {
        self.cases.iter().map(|(_, stack, e)| (self.family.as_str(), stack.as_str(), *e))
    }
}

/// Step time of one case as a function of the ceiling, from its grid simulations.
struct Curve {
    id: String,
    stack: String,
    measured_s: f64,
    /// (1/ceiling, step seconds), ascending in 1/ceiling; `None` where the case failed.
    points: Vec<(f64, f64)>,
}

impl Curve {
    fn step_s(&self, ceiling: f64) -> f64 {
        let x = 1.0 / ceiling;
        let p = &self.points;
        let i = p.partition_point(|(px, _)| *px < x).clamp(1, p.len() - 1);
        let ((x0, y0), (x1, y1)) = (p[i - 1], p[i]);
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }
    fn error(&self, ceiling: f64) -> f64 {
        (self.step_s(ceiling) - self.measured_s) / self.measured_s
    }
}

/// The MAPE-minimising ceiling over `curves` (skipping index `skip`), on a `STEP` grid.
fn best(curves: &[Curve], skip: Option<usize>) -> f64 {
    let n = ((GRID[GRID.len() - 1] - GRID[0]) / STEP).round() as usize;
    (0..=n)
        .map(|k| GRID[0] + k as f64 * STEP)
        .map(|g| {
            let e: f64 = curves.iter().enumerate().filter(|(i, _)| Some(*i) != skip).map(|(_, c)| c.error(g).abs()).sum();
            (e, g)
        })
        .fold((f64::INFINITY, GRID[0]), |a, b| if b.0 < a.0 { b } else { a })
        .1
}

fn stats(group: &str, errors: &[f64]) -> ErrorStats {
    let n = errors.len();
    let d = n.max(1) as f64;
    ErrorStats {
        group: group.into(),
        n,
        failed: 0,
        mape: errors.iter().map(|e| e.abs()).sum::<f64>() / d,
        worst: errors.iter().fold(0.0, |w, e| w.max(e.abs())),
        mean_error: errors.iter().sum::<f64>() / d,
    }
}

/// Fit one family's ceiling on the cases it applies to (chips of that family, right precision).
pub fn fit(cases: &[StepCase], catalog: &Catalog, family: &str, parameter: Parameter) -> Option<Fit> {
    let mine: Vec<&StepCase> = cases
        .iter()
        .filter(|c| catalog.chips.get(&c.scenario.cluster.chip).is_some_and(|ch| ch.calibration == family) && parameter.applies(c))
        .collect();
    let mut curves = Vec::with_capacity(mine.len());
    let mut failed = 0;
    'case: for c in &mine {
        let mut points = Vec::with_capacity(GRID.len());
        for &g in GRID.iter().rev() {
            let mut cat = catalog.clone();
            parameter.set(&mut cat, family, g);
            let r: CaseResult = simulate_case(c, &cat, "calibration");
            match r.predicted_step_s {
                Some(s) => points.push((1.0 / g, s)),
                None => {
                    failed += 1;
                    continue 'case;
                }
            }
        }
        curves.push(Curve { id: c.id.clone(), stack: c.scenario.framework.stack.clone(), measured_s: c.measured_step_s, points });
    }
    if curves.is_empty() {
        return None;
    }
    let value = best(&curves, None);
    let in_sample: Vec<f64> = curves.iter().map(|c| c.error(value)).collect();
    let loo: Vec<f64> =
        (0..curves.len()).map(|i| if curves.len() > 1 { curves[i].error(best(&curves, Some(i))) } else { in_sample[i] }).collect();
    let mut in_stats = stats(family, &in_sample);
    in_stats.failed = failed;
    let mut loo_stats = stats(family, &loo);
    loo_stats.failed = failed;
    Some(Fit {
        family: family.into(),
        parameter,
        value,
        catalog_value: parameter.get(catalog, family),
        in_sample: in_stats,
        leave_one_out: loo_stats,
        cases: curves.iter().zip(&loo).map(|(c, e)| (c.id.clone(), c.stack.clone(), *e)).collect(),
    })
}

/// Fit every family that has cases: the 16-bit ceiling first, then (with it in place) the FP8 one.
pub fn fit_all(cases: &[StepCase], catalog: &Catalog) -> Vec<Fit> {
    let mut families: Vec<String> =
        cases.iter().filter_map(|c| catalog.chips.get(&c.scenario.cluster.chip).map(|ch| ch.calibration.clone())).collect();
    families.sort();
    families.dedup();
    let mut out = Vec::new();
    for f in &families {
        let mut cat = catalog.clone();
        if let Some(bf16) = fit(cases, &cat, f, Parameter::GemmMaxFraction) {
            Parameter::GemmMaxFraction.set(&mut cat, f, bf16.value);
            out.push(bf16);
        }
        if let Some(fp8) = fit(cases, &cat, f, Parameter::Fp8GemmMaxFraction) {
            out.push(fp8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_is_exact_for_time_proportional_to_one_over_ceiling() {
        // t = 1 + 2/g is linear in 1/g: the interpolant reproduces it between grid points.
        let points = GRID.iter().rev().map(|g| (1.0 / g, 1.0 + 2.0 / g)).collect();
        let c = Curve { id: "x".into(), stack: "s".into(), measured_s: 1.0 + 2.0 / 0.62, points };
        assert!((c.step_s(0.62) - (1.0 + 2.0 / 0.62)).abs() < 1e-12);
        assert!(c.error(0.62).abs() < 1e-12);
        // The fit recovers the ceiling that produced the measurement.
        assert!((best(&[c], None) - 0.62).abs() <= STEP);
    }
}
