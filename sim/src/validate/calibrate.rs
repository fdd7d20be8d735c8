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
//!
//! # From a planner's own measurements ([`fit_measurements`])
//!
//! `wanka calibrate FILES… --chip ID` fits one family from any mix of step rows, GEMM rows and
//! nccl-tests/HCCL collective output ([`crate::validate::measurements`]) and writes a catalog overlay
//! ([`crate::hardware::overlay`]). Every fit is a bounded least-squares fit of **relative** residuals
//! (each row weighs by its own size, so a 20 µs GEMM counts as much as a 20 ms one):
//!
//! - **GEMM rows** → `gemm_max_fraction` `g` (bounded to [0.05, 1]), `gemm_half_dim` `h` (bounded to
//!   [1, 8192]) and the launch gap `kernel_overhead_us` `c` (bounded to [0, 1000] µs), from
//!   `t = 2mnk / (peak · g · Π d/(d+h)) + c`. For a fixed `h` the model is linear in `(1/g, c)`: a
//!   two-variable box-constrained least squares solved exactly (the unconstrained optimum if inside the
//!   box, else the best optimum on the box's edges); `h` is searched on a log grid refined by golden
//!   section. FP8 rows fit `fp8_gemm_max_fraction` with `h` and `c` held.
//! - **collective rows** (one fabric, `--fabric ID`; nccl-tests or HCCL Test files) →
//!   `collective_efficiency`: `t = α + bytes_bus / B` (bus bytes = size × the collective's bus factor:
//!   busbw/algbw read from an nccl-tests file's rows, or for HCCL Test, which prints algorithm bandwidth
//!   only, `2(n−1)/n` etc. from the collective and rank count) with `α ≥ 0`, `B > 0`, the same solver; efficiency `= B /` the
//!   fabric's line rate. `α` (the small-message time) is reported, not written: wanka's latency is per
//!   hop and the test's rank layout does not say how many hops a row crossed.
//! - **attention rows** (flash-attention benchmark figures) → `attention_fraction` `f` (bounded to
//!   [0.05, 1]), from `t = F / (peak · f) + c` with `F` the pass's executed FLOPs in flash-attention's
//!   convention (what the step model prices: a fused forward is `0.5 · 4·b·h·s²·d / (peak · f)`, the
//!   backward 2.5× it) and the launch gap `c` held (the GEMM rows' fit, else the catalog's): a
//!   one-variable bounded least squares, by the same solver. Warned: a single row (no leave-one-out),
//!   rows where the gap is over half the time, a fit at its bound (not written), and a family whose
//!   `native_attention_fraction` (not fitted) is what stacks with `native_attention` use.
//! - **step rows** of the family's chips → `gemm_max_fraction` by [`fit`] (MAPE on step time, with the
//!   micro-benchmark constants above already in place); it replaces the GEMM rows' ceiling (the step rows
//!   are what a forecast predicts) and its leave-one-out errors go into the overlay as the family's
//!   model error.
//!
//! Uncertainty: each row's leave-one-out error (the fit without the row predicting it) and each
//! constant's jackknife standard error `sqrt((n−1)/n · Σ(θ₍ᵢ₎ − θ̄)²)`. A constant the rows cannot
//! identify is not fitted (the catalog's figure stays) and a warning says why: fewer than two distinct
//! GEMM shapes or a roll-off that varies by under 2% between them (`h`), fewer than three shapes (`c`);
//! a constant whose standard error exceeds half its value is written with a warning.

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
    /// Per case (same order): error at the fitted value.
    pub in_sample_errors: Vec<f64>,
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
        in_sample_errors: in_sample,
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

// ---- fits from a planner's own measurements ----

use crate::hardware::overlay::{CalibrationPatch, FabricPatch, Overlay, Provenance};
use crate::validate::measurements::{AttentionRow, BusRow, GemmDtype, GemmRow, Measurements};

/// Bounds of the fitted micro-benchmark constants.
const G_BOUNDS: (f64, f64) = (0.05, 1.0);
const H_BOUNDS: (f64, f64) = (1.0, 8192.0);
const GAP_BOUNDS_S: (f64, f64) = (0.0, 1e-3);

/// `min Σ (a·uᵢ + c·vᵢ − 1)²` over the box `a ∈ [a0, a1]`, `c ∈ [c0, c1]` (exact: the unconstrained
/// optimum if inside, else the best of the four edges' 1-D optima); `fix_c` holds `c`.
fn box_ls(u: &[f64], v: &[f64], (a0, a1): (f64, f64), (c0, c1): (f64, f64), fix_c: Option<f64>) -> (f64, f64, f64) {
    let (suu, suv, svv) =
        (u.iter().map(|x| x * x).sum::<f64>(), u.iter().zip(v).map(|(x, y)| x * y).sum::<f64>(), v.iter().map(|y| y * y).sum::<f64>());
    let (su, sv) = (u.iter().sum::<f64>(), v.iter().sum::<f64>());
    let sse = |a: f64, c: f64| u.iter().zip(v).map(|(x, y)| (a * x + c * y - 1.0).powi(2)).sum::<f64>();
    let a_given_c = |c: f64| if suu > 0.0 { ((su - c * suv) / suu).clamp(a0, a1) } else { a0 };
    let c_given_a = |a: f64| if svv > 0.0 { ((sv - a * suv) / svv).clamp(c0, c1) } else { c0 };
    let mut cands: Vec<(f64, f64)> = Vec::new();
    if let Some(c) = fix_c {
        cands.push((a_given_c(c), c));
    } else {
        let det = suu * svv - suv * suv;
        if det.abs() > 1e-12 * suu * svv {
            let a = (su * svv - sv * suv) / det;
            let c = (suu * sv - suv * su) / det;
            if (a0..=a1).contains(&a) && (c0..=c1).contains(&c) {
                cands.push((a, c));
            }
        }
        for c in [c0, c1] {
            cands.push((a_given_c(c), c));
        }
        for a in [a0, a1] {
            cands.push((a, c_given_a(a)));
        }
    }
    cands.into_iter().map(|(a, c)| (a, c, sse(a, c))).fold((a0, c0, f64::INFINITY), |b, x| if x.2 < b.2 { x } else { b })
}

/// Fitted GEMM constants.
#[derive(Debug, Clone, Copy, PartialEq)]
struct GemmConsts {
    g: f64,
    h: f64,
    gap_s: f64,
}

fn roll(r: &GemmRow, h: f64) -> f64 {
    [r.m, r.n, r.k].iter().map(|d| d / (d + h)).product()
}

fn gemm_pred(r: &GemmRow, peak: f64, k: GemmConsts) -> f64 {
    r.flops() / (peak * k.g * roll(r, k.h)) + k.gap_s
}

/// Best `(g, gap)` at a fixed `h`; `fix_gap` holds the gap.
fn gemm_at_h(rows: &[&GemmRow], peak: f64, h: f64, fix_gap: Option<f64>) -> (GemmConsts, f64) {
    let u: Vec<f64> = rows.iter().map(|r| r.flops() / (peak * roll(r, h)) / r.time_s).collect();
    let v: Vec<f64> = rows.iter().map(|r| 1.0 / r.time_s).collect();
    let (a, c, sse) = box_ls(&u, &v, (1.0 / G_BOUNDS.1, 1.0 / G_BOUNDS.0), GAP_BOUNDS_S, fix_gap);
    (GemmConsts { g: 1.0 / a, h, gap_s: c }, sse)
}

/// Bounded fit of `(g, h, gap)`; `fix_h` / `fix_gap` hold those.
fn gemm_fit(rows: &[&GemmRow], peak: f64, fix_h: Option<f64>, fix_gap: Option<f64>) -> GemmConsts {
    if let Some(h) = fix_h {
        return gemm_at_h(rows, peak, h, fix_gap).0;
    }
    let (l0, l1) = (H_BOUNDS.0.ln(), H_BOUNDS.1.ln());
    let f = |lh: f64| gemm_at_h(rows, peak, lh.exp(), fix_gap).1;
    let n = 240;
    let mut best = (f64::INFINITY, l0);
    for i in 0..=n {
        let lh = l0 + (l1 - l0) * i as f64 / n as f64;
        let e = f(lh);
        if e < best.0 {
            best = (e, lh);
        }
    }
    let step = (l1 - l0) / n as f64;
    let (mut a, mut b) = ((best.1 - step).max(l0), (best.1 + step).min(l1));
    let phi = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..80 {
        let (x1, x2) = (b - phi * (b - a), a + phi * (b - a));
        if f(x1) < f(x2) { b = x2 } else { a = x1 }
    }
    gemm_at_h(rows, peak, (0.5 * (a + b)).exp(), fix_gap).0
}

/// One fitted constant with its uncertainty.
#[derive(Debug, Clone, Serialize)]
pub struct FittedConstant {
    /// Catalog field name (`gemm_max_fraction`, `collective_efficiency`, …).
    pub name: String,
    /// Family or fabric id the constant belongs to.
    pub owner: String,
    pub value: f64,
    pub catalog_value: Option<f64>,
    /// Jackknife standard error (same unit as `value`); `None` with fewer than 3 rows.
    pub std_error: Option<f64>,
    /// Measurement rows that identify the constant (`rows` is the rows themselves).
    #[serde(rename = "rows_fitted")]
    pub rows: usize,
    /// Written into the overlay (`false`: reported only).
    pub written: bool,
}

/// One measurement row's fit errors (signed fractions of the measured value).
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    pub file: String,
    pub line: usize,
    /// What the row is (`gemm 4096x4096x4096 bf16`, `all-reduce 1048576 B`, a step case id).
    pub what: String,
    /// `time_s` for micro-benchmark rows, `step_s` for step rows.
    pub quantity: String,
    pub measured: f64,
    pub in_sample_error: f64,
    pub loo_error: Option<f64>,
}

/// The result of [`fit_measurements`].
#[derive(Debug, Clone, Serialize)]
pub struct MeasuredFit {
    pub family: String,
    pub chip: String,
    pub constants: Vec<FittedConstant>,
    pub rows: Vec<RowError>,
    /// What the data could not identify, rows left out, figures not written.
    pub warnings: Vec<String>,
    /// The step rows' leave-one-out step-time statistics, when step rows were given.
    pub step_leave_one_out: Option<ErrorStats>,
    pub overlay: Overlay,
}

fn jackknife(full: f64, loo: &[f64]) -> Option<f64> {
    let n = loo.len();
    if n < 3 {
        return None;
    }
    let _ = full;
    let mean = loo.iter().sum::<f64>() / n as f64;
    Some(((n - 1) as f64 / n as f64 * loo.iter().map(|x| (x - mean).powi(2)).sum::<f64>()).sqrt())
}

/// What a [`fit_measurements`] call fits.
pub struct MeasureRequest<'a> {
    /// Calibration family to fit.
    pub family: &'a str,
    /// Chip the measurements were taken on (its peaks convert GEMM rows).
    pub chip: &'a str,
    /// Fabric the collective rows were measured on (required when there are collective rows).
    pub fabric: Option<&'a str>,
    /// `YYYY-MM-DD`, written into the overlay's provenance.
    pub date: &'a str,
    /// Writer named in the provenance (`wanka 0.1.0 calibrate`).
    pub tool: &'a str,
    /// Write a chip-only overlay (the measured chip gets its own profile, see
    /// [`crate::hardware::overlay`]) instead of one that moves the whole family.
    pub chip_only: bool,
}

/// Fit a family's constants to measurement files (see the module docs) and build the overlay.
pub fn fit_measurements(
    files: &[(String, Measurements)],
    catalog: &Catalog,
    q: &MeasureRequest,
) -> Result<MeasuredFit, crate::error::WankaError> {
    use crate::error::WankaError;
    let invalid = |field: &str, msg: String| WankaError::Invalid { file: "command line".into(), field: field.into(), msg };
    let Some(cal) = catalog.calibrations.get(q.family) else {
        return Err(invalid("--chip", crate::hardware::catalog::unknown_msg("calibration family", q.family, catalog.calibrations.keys())));
    };
    let chip = catalog
        .chips
        .get(q.chip)
        .ok_or_else(|| invalid("--chip", crate::hardware::catalog::unknown_msg("chip", q.chip, catalog.chips.keys())))?;
    let mut warnings = Vec::new();
    let mut rows_out = Vec::new();
    let mut constants = Vec::new();
    let mut patch = CalibrationPatch::default();
    let mut fabrics = std::collections::BTreeMap::new();
    let mut skipped = 0;
    let mut used = 0;

    // GEMM rows.
    let gemm: Vec<&GemmRow> =
        files.iter().filter_map(|(_, m)| if let Measurements::Gemm(r) = m { Some(r) } else { None }).flatten().collect();
    let g16: Vec<&GemmRow> = gemm.iter().copied().filter(|r| r.dtype != GemmDtype::Fp8).collect();
    let g8: Vec<&GemmRow> = gemm.iter().copied().filter(|r| r.dtype == GemmDtype::Fp8).collect();
    let mut held = GemmConsts { g: cal.gemm_max_fraction, h: cal.gemm_half_dim, gap_s: cal.kernel_overhead_us * 1e-6 };
    if !g16.is_empty() {
        let peak = chip.bf16_peak_flops();
        let mut shapes: Vec<(u64, u64, u64)> = g16.iter().map(|r| (r.m as u64, r.n as u64, r.k as u64)).collect();
        shapes.sort();
        shapes.dedup();
        let rolls: Vec<f64> = g16.iter().map(|r| roll(r, cal.gemm_half_dim)).collect();
        let spread = rolls.iter().fold(0.0f64, |a, b| a.max(*b)) / rolls.iter().fold(f64::INFINITY, |a, b| a.min(*b));
        let fit_h = shapes.len() >= 2 && spread >= 1.02;
        let fit_gap = shapes.len() >= 3;
        if !fit_h {
            warnings.push(format!(
                "gemm_half_dim not fitted: the GEMM rows have {} distinct shape(s) whose roll-off differs by {:.1}% (need 2 shapes and 2%); keeping the catalog's {}",
                shapes.len(),
                100.0 * (spread - 1.0),
                cal.gemm_half_dim
            ));
        }
        if !fit_gap {
            warnings.push(format!(
                "kernel_overhead_us not fitted: {} distinct GEMM shape(s) (need 3 to separate the launch gap from the ceiling and the roll-off); keeping the catalog's {} us",
                shapes.len(),
                cal.kernel_overhead_us
            ));
        }
        let (fh, fg) = ((!fit_h).then_some(cal.gemm_half_dim), (!fit_gap).then_some(cal.kernel_overhead_us * 1e-6));
        let full = gemm_fit(&g16, peak, fh, fg);
        let loo: Vec<GemmConsts> = (0..g16.len())
            .map(|i| {
                let rest: Vec<&GemmRow> = g16.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, r)| *r).collect();
                if rest.is_empty() { full } else { gemm_fit(&rest, peak, fh, fg) }
            })
            .collect();
        for (i, r) in g16.iter().enumerate() {
            rows_out.push(RowError {
                file: r.file.clone(),
                line: r.line,
                what: format!("gemm {}x{}x{} {:?}", r.m, r.n, r.k, r.dtype).to_lowercase(),
                quantity: "time_s".into(),
                measured: r.time_s,
                in_sample_error: (gemm_pred(r, peak, full) - r.time_s) / r.time_s,
                loo_error: (g16.len() > 1).then(|| (gemm_pred(r, peak, loo[i]) - r.time_s) / r.time_s),
            });
        }
        let mut push = |name: &str, v: f64, cat: f64, lv: Vec<f64>, write: bool| {
            let se = jackknife(v, &lv);
            if write && se.is_some_and(|s| s > 0.5 * v.abs()) {
                warnings.push(format!("{name} = {v:.4} is weakly identified by these rows (standard error {:.4})", se.unwrap_or(0.0)));
            }
            constants.push(FittedConstant {
                name: name.into(),
                owner: q.family.into(),
                value: v,
                catalog_value: Some(cat),
                std_error: se,
                rows: g16.len(),
                written: write,
            });
        };
        push("gemm_max_fraction", full.g, cal.gemm_max_fraction, loo.iter().map(|k| k.g).collect(), true);
        if fit_h {
            push("gemm_half_dim", full.h, cal.gemm_half_dim, loo.iter().map(|k| k.h).collect(), true);
            patch.gemm_half_dim = Some(full.h);
        }
        if fit_gap {
            push("kernel_overhead_us", full.gap_s * 1e6, cal.kernel_overhead_us, loo.iter().map(|k| k.gap_s * 1e6).collect(), true);
            patch.kernel_overhead_us = Some(full.gap_s * 1e6);
        }
        patch.gemm_max_fraction = Some(full.g);
        held = full;
        used += g16.len();
    }
    if !g8.is_empty() {
        match chip.fp8_dense_tflops {
            None => {
                warnings.push(format!("{} FP8 GEMM rows left out: {} has no FP8 peak in the catalog", g8.len(), chip.id));
                skipped += g8.len();
            }
            Some(tf) => {
                let peak = tf * 1e12;
                let fit = |rs: &[&GemmRow]| gemm_at_h(rs, peak, held.h, Some(held.gap_s)).0;
                let full = fit(&g8);
                let loo: Vec<GemmConsts> = (0..g8.len())
                    .map(|i| {
                        let rest: Vec<&GemmRow> = g8.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, r)| *r).collect();
                        if rest.is_empty() { full } else { fit(&rest) }
                    })
                    .collect();
                for (i, r) in g8.iter().enumerate() {
                    rows_out.push(RowError {
                        file: r.file.clone(),
                        line: r.line,
                        what: format!("gemm {}x{}x{} fp8", r.m, r.n, r.k),
                        quantity: "time_s".into(),
                        measured: r.time_s,
                        in_sample_error: (gemm_pred(r, peak, full) - r.time_s) / r.time_s,
                        loo_error: (g8.len() > 1).then(|| (gemm_pred(r, peak, loo[i]) - r.time_s) / r.time_s),
                    });
                }
                let lv: Vec<f64> = loo.iter().map(|k| k.g).collect();
                constants.push(FittedConstant {
                    name: "fp8_gemm_max_fraction".into(),
                    owner: q.family.into(),
                    value: full.g,
                    catalog_value: cal.fp8_gemm_max_fraction,
                    std_error: jackknife(full.g, &lv),
                    rows: g8.len(),
                    written: true,
                });
                patch.fp8_gemm_max_fraction = Some(full.g);
                used += g8.len();
            }
        }
    }

    // Attention-kernel rows: `t = F / (peak · f) + gap`, the gap held (the GEMM rows' when fitted, else
    // the catalog's), one launch gap per timed call.
    let attn: Vec<&AttentionRow> =
        files.iter().filter_map(|(_, m)| if let Measurements::Attention(r) = m { Some(r) } else { None }).flatten().collect();
    if !attn.is_empty() {
        let peak = chip.bf16_peak_flops();
        let fit = |rs: &[&AttentionRow]| -> f64 {
            let u: Vec<f64> = rs.iter().map(|r| r.flops() / peak / r.time_s).collect();
            let v: Vec<f64> = rs.iter().map(|r| 1.0 / r.time_s).collect();
            1.0 / box_ls(&u, &v, (1.0 / G_BOUNDS.1, 1.0 / G_BOUNDS.0), GAP_BOUNDS_S, Some(held.gap_s)).0
        };
        let pred = |r: &AttentionRow, f: f64| r.flops() / (peak * f) + held.gap_s;
        let full = fit(&attn);
        let loo: Vec<f64> = (0..attn.len())
            .map(|i| {
                let rest: Vec<&AttentionRow> = attn.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, r)| *r).collect();
                if rest.is_empty() { full } else { fit(&rest) }
            })
            .collect();
        for (i, r) in attn.iter().enumerate() {
            rows_out.push(RowError {
                file: r.file.clone(),
                line: r.line,
                what: format!(
                    "attention {} b{} s{} h{} d{}{}",
                    r.pass.name(),
                    r.batch,
                    r.seq_len,
                    r.heads,
                    r.head_dim,
                    if r.causal { " causal" } else { "" }
                ),
                quantity: "time_s".into(),
                measured: r.time_s,
                in_sample_error: (pred(r, full) - r.time_s) / r.time_s,
                loo_error: (attn.len() > 1).then(|| (pred(r, loo[i]) - r.time_s) / r.time_s),
            });
        }
        let se = jackknife(full, &loo);
        if attn.len() < 2 {
            warnings.push("one attention row: attention_fraction has no leave-one-out error".into());
        }
        let gap_bound = attn.iter().filter(|r| held.gap_s > 0.5 * r.time_s).count();
        if gap_bound * 2 > attn.len() {
            warnings.push(format!(
                "attention_fraction weakly identified: in {gap_bound} of {} attention rows the launch gap ({:.1} us) is over half the time (want longer sequences or larger batches)",
                attn.len(),
                held.gap_s * 1e6
            ));
        }
        let at_bound = full <= G_BOUNDS.0 * 1.0001 || full >= G_BOUNDS.1 * 0.9999;
        if at_bound {
            warnings.push(format!(
                "attention_fraction = {full:.4} sits at its bound [{}, {}]: the rows do not fit the model (check the FLOP convention: flash-attention's, causal halved)",
                G_BOUNDS.0, G_BOUNDS.1
            ));
        }
        if let Some(nat) = cal.native_attention_fraction {
            warnings.push(format!(
                "{} also has native_attention_fraction {nat} (the architecture's own fused kernel, used by stacks with `native_attention`): not fitted, it stays",
                q.family
            ));
        }
        constants.push(FittedConstant {
            name: "attention_fraction".into(),
            owner: q.family.into(),
            value: full,
            catalog_value: cal.attention_fraction,
            std_error: se,
            rows: attn.len(),
            written: !at_bound,
        });
        if !at_bound {
            patch.attention_fraction = Some(full);
        }
        used += attn.len();
    }

    // Collective rows.
    let bus: Vec<&BusRow> =
        files.iter().filter_map(|(_, m)| if let Measurements::Collective { rows, .. } = m { Some(rows) } else { None }).flatten().collect();
    if !bus.is_empty() {
        let Some(fid) = q.fabric else {
            return Err(invalid(
                "--fabric",
                "collective measurements need the fabric they were taken on (`--fabric ID`, see `wanka catalog`)".into(),
            ));
        };
        let fabric = catalog.fabric(fid)?;
        let mut factors = Vec::new();
        for (name, m) in files {
            if let Measurements::Collective { rows, bus_factor, unverified_rows, .. } = m {
                if *unverified_rows > 0 {
                    warnings.push(format!(
                        "{name}: {unverified_rows} of {} rows were not checked by the tool (check_result NULL: run with -c 1 to verify them)",
                        rows.len()
                    ));
                }
                let f = bus_factor.or_else(|| crate::validate::measurements::bus_factor(rows)).ok_or_else(|| WankaError::Invalid {
                    file: name.clone(),
                    field: "algbw".into(),
                    msg: "no row reaches 1 GB/s of algorithm bandwidth: the bus factor (busbw / algbw) cannot be read".into(),
                })?;
                factors.extend(rows.iter().map(|_| f));
            }
        }
        let line_bytes_per_s = fabric.gbit_per_s_per_direction / 8.0 * 1e9;
        let solve = |idx: &[usize]| -> (f64, f64) {
            let u: Vec<f64> = idx.iter().map(|&i| bus[i].bus_bytes(factors[i]) / bus[i].time_s).collect();
            let v: Vec<f64> = idx.iter().map(|&i| 1.0 / bus[i].time_s).collect();
            let (beta, alpha, _) = box_ls(&u, &v, (1e-15, 1e3), (0.0, 1.0), None);
            (1.0 / beta, alpha)
        };
        let all: Vec<usize> = (0..bus.len()).collect();
        let (bw, alpha) = solve(&all);
        let loo: Vec<(f64, f64)> = (0..bus.len()).map(|i| solve(&all.iter().copied().filter(|j| *j != i).collect::<Vec<_>>())).collect();
        let pred = |i: usize, (b, a): (f64, f64)| a + bus[i].bus_bytes(factors[i]) / b;
        for i in 0..bus.len() {
            let r = bus[i];
            rows_out.push(RowError {
                file: r.file.clone(),
                line: r.line,
                what: format!("collective {} B on {fid}", r.size_bytes),
                quantity: "time_s".into(),
                measured: r.time_s,
                in_sample_error: (pred(i, (bw, alpha)) - r.time_s) / r.time_s,
                loo_error: (bus.len() > 1).then(|| (pred(i, loo[i]) - r.time_s) / r.time_s),
            });
        }
        let eff = bw / line_bytes_per_s;
        let write = eff <= 1.0;
        if !write {
            warnings.push(format!(
                "collective_efficiency not written: the rows' asymptotic bus bandwidth {:.1} GB/s exceeds {fid}'s line rate {:.1} GB/s ({:.2}x): the test did not run over this fabric alone (NVLink inside a node, several NICs per rank?)",
                bw / 1e9,
                line_bytes_per_s / 1e9,
                eff
            ));
        }
        let mut sizes: Vec<u64> = bus.iter().map(|r| r.size_bytes as u64).collect();
        sizes.sort();
        sizes.dedup();
        if sizes.len() < 3 || sizes.last().copied().unwrap_or(0) < 16 << 20 {
            warnings.push(format!(
                "collective_efficiency weakly identified: {} message size(s), largest {} B (want 3 or more sizes reaching 16 MiB, where bandwidth dominates)",
                sizes.len(),
                sizes.last().copied().unwrap_or(0)
            ));
        }
        constants.push(FittedConstant {
            name: "collective_efficiency".into(),
            owner: fid.into(),
            value: eff,
            catalog_value: Some(fabric.collective_efficiency),
            std_error: jackknife(eff, &loo.iter().map(|(b, _)| b / line_bytes_per_s).collect::<Vec<_>>()),
            rows: bus.len(),
            written: write,
        });
        constants.push(FittedConstant {
            name: "small_message_time_us".into(),
            owner: fid.into(),
            value: alpha * 1e6,
            catalog_value: None,
            std_error: jackknife(alpha, &loo.iter().map(|(_, a)| a * 1e6).collect::<Vec<_>>()),
            rows: bus.len(),
            written: false,
        });
        if write {
            fabrics.insert(fid.to_string(), FabricPatch { collective_efficiency: Some(eff), latency_us: None });
        }
        used += bus.len();
    }

    // Step rows.
    let steps: Vec<StepCase> =
        files.iter().filter_map(|(_, m)| if let Measurements::Steps(c) = m { Some(c) } else { None }).flatten().cloned().collect();
    let mut step_loo = None;
    if !steps.is_empty() {
        let (mine, other): (Vec<StepCase>, Vec<StepCase>) =
            steps.into_iter().partition(|c| catalog.chips.get(&c.scenario.cluster.chip).is_some_and(|ch| ch.calibration == q.family));
        if !other.is_empty() {
            warnings.push(format!(
                "{} step row(s) left out: their chips are not of family {} ({})",
                other.len(),
                q.family,
                other.iter().map(|c| c.id.as_str()).take(5).collect::<Vec<_>>().join(", ")
            ));
            skipped += other.len();
        }
        let mut cat = catalog.clone();
        if let Some(c) = cat.calibrations.get_mut(q.family) {
            c.gemm_half_dim = held.h;
            c.kernel_overhead_us = held.gap_s * 1e6;
            if patch.attention_fraction.is_some() {
                c.attention_fraction = patch.attention_fraction;
            }
        }
        for (id, f) in &fabrics {
            if let (Some(fab), Some(e)) = (cat.fabrics.get_mut(id), f.collective_efficiency) {
                fab.collective_efficiency = e;
            }
        }
        if let Some(f) = fit(&mine, &cat, q.family, Parameter::GemmMaxFraction) {
            if f.cases.len() < 2 {
                warnings.push("one step row: no leave-one-out error, so no measured model error for the forecast bands".into());
            }
            skipped += f.in_sample.failed;
            if f.in_sample.failed > 0 {
                warnings.push(format!("{} step row(s) could not be simulated and were left out", f.in_sample.failed));
            }
            let by_id: std::collections::HashMap<&str, &StepCase> = mine.iter().map(|c| (c.id.as_str(), c)).collect();
            for (i, (id, _, loo)) in f.cases.iter().enumerate() {
                let c = by_id[id.as_str()];
                rows_out.push(RowError {
                    file: String::new(),
                    line: c.line,
                    what: id.clone(),
                    quantity: "step_s".into(),
                    measured: c.measured_step_s,
                    in_sample_error: f.in_sample_errors[i],
                    loo_error: (f.cases.len() > 1).then_some(*loo),
                });
            }
            if let Some(g) = patch.gemm_max_fraction {
                warnings.push(format!(
                    "gemm_max_fraction from the step rows ({:.4}) replaces the GEMM rows' {g:.4}: step rows are what a forecast predicts",
                    f.value
                ));
            }
            let lv: Vec<f64> = (0..f.cases.len()).map(|i| best_without(&mine, &cat, q.family, i)).collect();
            constants.retain(|c| c.name != "gemm_max_fraction");
            constants.insert(
                0,
                FittedConstant {
                    name: "gemm_max_fraction".into(),
                    owner: q.family.into(),
                    value: f.value,
                    catalog_value: Some(cal.gemm_max_fraction),
                    std_error: if lv.iter().all(|x| x.is_finite()) { jackknife(f.value, &lv) } else { None },
                    rows: f.cases.len(),
                    written: true,
                },
            );
            patch.gemm_max_fraction = Some(f.value);
            if f.cases.len() > 1 {
                patch.loo_step_errors = f.cases.iter().map(|(_, _, e)| *e).collect();
            }
            used += f.cases.len();
            step_loo = Some(f.leave_one_out.clone());
        } else if !mine.is_empty() {
            warnings.push(format!("none of the {} step row(s) of {} could be simulated", mine.len(), q.family));
            skipped += mine.len();
        }
    }
    if used == 0 {
        return Err(invalid("MEASUREMENTS", format!("no row could be used for family {}", q.family)));
    }
    let mut calibrations = std::collections::BTreeMap::new();
    calibrations.insert(q.family.to_string(), patch);
    let overlay = Overlay {
        provenance: Provenance {
            tool: q.tool.into(),
            date: q.date.into(),
            chip: q.chip.into(),
            family: q.family.into(),
            files: files.iter().map(|(n, _)| n.clone()).collect(),
            rows_used: used,
            rows_skipped: skipped,
        },
        chip_only: q.chip_only,
        calibrations,
        fabrics,
    };
    Ok(MeasuredFit {
        family: q.family.into(),
        chip: q.chip.into(),
        constants,
        rows: rows_out,
        warnings,
        step_leave_one_out: step_loo,
        overlay,
    })
}

/// The family's step-fitted ceiling without case `skip` (for the jackknife); NaN when it fails.
fn best_without(cases: &[StepCase], catalog: &Catalog, family: &str, skip: usize) -> f64 {
    let rest: Vec<StepCase> = cases.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, c)| c.clone()).collect();
    fit(&rest, catalog, family, Parameter::GemmMaxFraction).map_or(f64::NAN, |f| f.value)
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

    /// GEMM rows made from known constants on `chip` (times multiplied by `1 + noise·zᵢ`, `zᵢ` a fixed
    /// pseudo-random sequence in [−1, 1]).
    fn synth_gemm(chip: &str, k: GemmConsts, noise: f64) -> Vec<GemmRow> {
        let peak = Catalog::builtin().chips[chip].bf16_peak_flops();
        let dims = [128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0];
        let mut rows = Vec::new();
        let mut z = 0.37f64;
        for (i, &m) in dims.iter().enumerate() {
            for &n in &[dims[(i + 2) % dims.len()], 4096.0] {
                z = (z * 7.13 + 0.29).fract();
                let r = GemmRow {
                    file: "synth.csv".into(),
                    line: rows.len() + 2,
                    m,
                    n,
                    k: dims[(i + 4) % dims.len()],
                    dtype: GemmDtype::Bf16,
                    time_s: 0.0,
                };
                let t = gemm_pred(&r, peak, k) * (1.0 + noise * (2.0 * z - 1.0));
                rows.push(GemmRow { time_s: t, ..r });
            }
        }
        rows
    }

    fn synth_bus(fabric: &str, eff: f64, alpha_s: f64, ranks: f64) -> Vec<BusRow> {
        let line = Catalog::builtin().fabrics[fabric].gbit_per_s_per_direction / 8.0 * 1e9;
        let factor = 2.0 * (ranks - 1.0) / ranks;
        (10..=33)
            .step_by(1)
            .map(|p| {
                let size = 2f64.powi(p);
                let t = alpha_s + size * factor / (eff * line);
                // Printed as nccl-tests does: time in us with 1 decimal, bandwidths with 2.
                let t = (t * 1e7).round() / 1e7;
                let algbw = ((size / t / 1e9) * 100.0).round() / 100.0;
                let busbw = ((size * factor / t / 1e9) * 100.0).round() / 100.0;
                BusRow {
                    file: "synth.txt".into(),
                    line: p as usize,
                    size_bytes: size,
                    time_s: t,
                    busbw_gb_per_s: busbw,
                    algbw_gb_per_s: algbw,
                }
            })
            .collect()
    }

    fn request<'a>(fabric: Option<&'a str>) -> MeasureRequest<'a> {
        MeasureRequest { family: "cambricon", chip: "mlu590", fabric, date: "2026-12-01", tool: "test", chip_only: false }
    }

    fn constant(f: &MeasuredFit, name: &str) -> FittedConstant {
        f.constants.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name} not fitted: {:?}", f.warnings)).clone()
    }

    /// Measurements made from known constants give the constants back within 2%.
    #[test]
    fn synthetic_measurements_recover_their_constants() {
        let truth = GemmConsts { g: 0.62, h: 96.0, gap_s: 12e-6 };
        let files = vec![
            ("gemm.csv".to_string(), Measurements::Gemm(synth_gemm("mlu590", truth, 0.0))),
            (
                "ar.txt".to_string(),
                Measurements::Collective {
                    rows: synth_bus("roce-200g", 0.72, 30e-6, 16.0),
                    ranks: Some(16),
                    bus_factor: None,
                    unverified_rows: 0,
                },
            ),
        ];
        let f = fit_measurements(&files, Catalog::builtin(), &request(Some("roce-200g"))).unwrap();
        for (name, want) in
            [("gemm_max_fraction", 0.62), ("gemm_half_dim", 96.0), ("kernel_overhead_us", 12.0), ("collective_efficiency", 0.72)]
        {
            let c = constant(&f, name);
            println!("{name}: fitted {:.5} (truth {want}), std error {:?}", c.value, c.std_error);
            assert!((c.value - want).abs() <= 0.02 * want, "{name}: {} vs {want}", c.value);
        }
        assert!(f.rows.iter().all(|r| r.in_sample_error.abs() < 0.01), "{:?}", f.rows);
        // The overlay carries the fitted figures and loads over the catalog.
        let mut cat = Catalog::builtin().clone();
        let o = crate::hardware::overlay::Overlay::parse(&f.overlay.to_ron(), "o.ron").unwrap();
        cat.apply_overlay(&o, "o.ron").unwrap();
        assert!((cat.calibrations["cambricon"].gemm_half_dim - 96.0).abs() < 2.0);
        assert!((cat.fabrics["roce-200g"].collective_efficiency - 0.72).abs() < 0.015);
    }

    /// HCCL Test output printed from known constants (the tool's layout, its rounding: time to 0.01 µs,
    /// algorithm bandwidth to 1e-5 GB/s) gives the fabric's collective efficiency back within 2%, for
    /// an all-reduce (bus factor 2(n−1)/n) and an all-gather (n−1)/n on 16 ranks.
    #[test]
    fn hccl_test_output_recovers_the_collective_efficiency() {
        use crate::validate::measurements::{CollectiveHint, CollectiveKind, parse_hccl};
        let line_bytes_per_s = Catalog::builtin().fabrics["roce-200g"].gbit_per_s_per_direction / 8.0 * 1e9;
        let (eff, alpha_s, ranks) = (0.66, 38e-6, 16usize);
        for (bin, kind) in [("all_reduce_test", CollectiveKind::AllReduce), ("all_gather_test", CollectiveKind::AllGather)] {
            let factor = kind.bus_factor(ranks);
            let mut text = format!(
                "$ mpirun -n {ranks} ./bin/{bin} -b 8K -e 1G -f 2 -p 8\n{:<15} | {:<12} | {:<18} | {}\n",
                "data_size(Bytes):", "aveg_time(us):", "alg_bandwidth(GB/s):", "check_result:"
            );
            for p in 13..=30 {
                let size = 2f64.powi(p);
                let t_us = (alpha_s + size * factor / (eff * line_bytes_per_s)) * 1e6;
                text.push_str(&format!("{:<17} | {:<14.2} | {:<20.5} | success\n", size as u64, t_us, size / t_us / 1e3));
            }
            let m = parse_hccl(&text, "hccl.txt", CollectiveHint::default()).unwrap();
            let f = fit_measurements(&[("hccl.txt".into(), m)], Catalog::builtin(), &request(Some("roce-200g"))).unwrap();
            let c = constant(&f, "collective_efficiency");
            let a = constant(&f, "small_message_time_us");
            println!(
                "HCCL {bin}: collective_efficiency fitted {:.5} (truth {eff}), small-message time {:.2} us (truth 38)",
                c.value, a.value
            );
            assert!((c.value - eff).abs() <= 0.02 * eff, "{bin}: {} vs {eff}", c.value);
            assert!((a.value - 38.0).abs() <= 0.02 * 38.0, "{bin}: {} us", a.value);
            assert!(c.written && f.overlay.fabrics["roce-200g"].collective_efficiency == Some(c.value));
            assert!(!f.warnings.iter().any(|w| w.contains("not checked")), "{:?}", f.warnings);
            // Unchecked results (`-c 0`) are fitted and said.
            let m = parse_hccl(&text.replace("success", "NULL"), "hccl.txt", CollectiveHint::default()).unwrap();
            let u = fit_measurements(&[("hccl.txt".into(), m)], Catalog::builtin(), &request(Some("roce-200g"))).unwrap();
            assert!(u.warnings.iter().any(|w| w.starts_with("hccl.txt: 18 of 18 rows were not checked")), "{:?}", u.warnings);
            // Read with the wrong collective, the efficiency is off by the ratio of bus factors: the
            // conversion is not a no-op.
            if kind == CollectiveKind::AllGather {
                let wrong = text.replace("all_gather_test", "all_reduce_test");
                let m = parse_hccl(&wrong, "hccl.txt", CollectiveHint::default()).unwrap();
                let w = fit_measurements(&[("hccl.txt".into(), m)], Catalog::builtin(), &request(Some("roce-200g"))).unwrap();
                assert!((constant(&w, "collective_efficiency").value / c.value - 2.0).abs() < 0.01);
            }
        }
    }

    /// Attention rows of several shapes and passes printed from a known kernel efficiency (times ×
    /// `1 + noise·zᵢ`), as `tflops` in flash-attention's convention.
    fn synth_attention(chip: &str, f: f64, gap_s: f64, noise: f64) -> Vec<AttentionRow> {
        use crate::validate::measurements::AttentionPass;
        let peak = Catalog::builtin().chips[chip].bf16_peak_flops();
        let mut rows = Vec::new();
        let mut z = 0.53f64;
        for &(b, s, h, d) in &[
            (16.0, 512.0, 16.0, 64.0),
            (8.0, 1024.0, 16.0, 128.0),
            (4.0, 2048.0, 32.0, 128.0),
            (2.0, 4096.0, 32.0, 128.0),
            (1.0, 8192.0, 16.0, 128.0),
            (1.0, 16384.0, 8.0, 64.0),
        ] {
            for (causal, pass) in
                [(true, AttentionPass::Fwd), (false, AttentionPass::Fwd), (true, AttentionPass::Bwd), (true, AttentionPass::FwdBwd)]
            {
                z = (z * 7.13 + 0.29).fract();
                let mut r = AttentionRow {
                    file: "attn.csv".into(),
                    line: rows.len() + 2,
                    batch: b,
                    seq_len: s,
                    heads: h,
                    head_dim: d,
                    causal,
                    pass,
                    time_s: 0.0,
                };
                r.time_s = (r.flops() / (peak * f) + gap_s) * (1.0 + noise * (2.0 * z - 1.0));
                rows.push(r);
            }
        }
        rows
    }

    /// Attention rows made from a known efficiency give it back within 2%; noise widens its standard
    /// error and the rows' leave-one-out errors; one row is said to have no leave-one-out error.
    #[test]
    fn attention_rows_recover_the_attention_fraction() {
        let gap_s = Catalog::builtin().calibrations["cambricon"].kernel_overhead_us * 1e-6;
        let fit_with = |rows: Vec<AttentionRow>| {
            fit_measurements(&[("attn.csv".into(), Measurements::Attention(rows))], Catalog::builtin(), &request(None)).unwrap()
        };
        let clean = fit_with(synth_attention("mlu590", 0.48, gap_s, 0.0));
        let c = constant(&clean, "attention_fraction");
        println!("attention_fraction fitted {:.5} (truth 0.48), std error {:?}", c.value, c.std_error);
        assert!((c.value - 0.48).abs() <= 0.02 * 0.48 && c.written, "{c:?}");
        assert_eq!(clean.overlay.calibrations["cambricon"].attention_fraction, Some(c.value));
        let noisy = fit_with(synth_attention("mlu590", 0.48, gap_s, 0.06));
        let n = constant(&noisy, "attention_fraction");
        let loo = |f: &MeasuredFit| f.rows.iter().filter_map(|r| r.loo_error).map(f64::abs).sum::<f64>() / f.rows.len() as f64;
        println!("  6% noise: fitted {:.5}, std error {:?}; LOO MAPE {:.2e} -> {:.2e}", n.value, n.std_error, loo(&clean), loo(&noisy));
        assert!((n.value - 0.48).abs() <= 0.05 * 0.48);
        assert!(n.std_error.unwrap() > 10.0 * c.std_error.unwrap().max(1e-9));
        assert!(loo(&noisy) > 0.01 && loo(&clean) < 1e-6);
        let one = fit_with(synth_attention("mlu590", 0.48, gap_s, 0.0).into_iter().take(1).collect());
        assert!(one.warnings.iter().any(|w| w.starts_with("one attention row")), "{:?}", one.warnings);
        // A fit at its bound (rows twice as fast as the chip's peak allows) is said and not written.
        let fast: Vec<AttentionRow> =
            synth_attention("mlu590", 0.48, 0.0, 0.0).into_iter().map(|r| AttentionRow { time_s: r.time_s / 4.0, ..r }).collect();
        let f = fit_with(fast);
        assert!(
            f.warnings.iter().any(|w| w.contains("sits at its bound")) && f.overlay.calibrations["cambricon"].attention_fraction.is_none()
        );
    }

    /// Noise in the measurements widens the reported uncertainty (standard errors, leave-one-out errors).
    #[test]
    fn noise_widens_the_reported_uncertainty() {
        let truth = GemmConsts { g: 0.62, h: 96.0, gap_s: 12e-6 };
        let fit_with = |noise: f64| {
            let files = vec![("gemm.csv".to_string(), Measurements::Gemm(synth_gemm("mlu590", truth, noise)))];
            fit_measurements(&files, Catalog::builtin(), &request(None)).unwrap()
        };
        let (clean, noisy) = (fit_with(0.0), fit_with(0.08));
        let se = |f: &MeasuredFit| constant(f, "gemm_max_fraction").std_error.unwrap();
        let loo = |f: &MeasuredFit| f.rows.iter().filter_map(|r| r.loo_error).map(f64::abs).sum::<f64>() / f.rows.len() as f64;
        println!(
            "gemm_max_fraction std error: clean {:.2e}, 8% noise {:.2e}; LOO MAPE {:.2e} vs {:.2e}",
            se(&clean),
            se(&noisy),
            loo(&clean),
            loo(&noisy)
        );
        assert!(se(&noisy) > 10.0 * se(&clean).max(1e-9), "{} vs {}", se(&noisy), se(&clean));
        assert!(loo(&noisy) > 0.02 && loo(&clean) < 0.005);
    }

    /// Rows of one shape cannot tell the roll-off or the launch gap from the ceiling: said, not fitted.
    #[test]
    fn one_shape_is_said_to_leave_the_roll_off_unidentified() {
        let truth = GemmConsts { g: 0.62, h: 96.0, gap_s: 12e-6 };
        let one: Vec<GemmRow> =
            synth_gemm("mlu590", truth, 0.0).into_iter().map(|r| GemmRow { m: 4096.0, n: 4096.0, k: 4096.0, ..r }).collect();
        let f = fit_measurements(&[("g.csv".into(), Measurements::Gemm(one))], Catalog::builtin(), &request(None)).unwrap();
        assert!(f.warnings.iter().any(|w| w.starts_with("gemm_half_dim not fitted")), "{:?}", f.warnings);
        assert!(f.warnings.iter().any(|w| w.starts_with("kernel_overhead_us not fitted")), "{:?}", f.warnings);
        assert!(f.overlay.calibrations["cambricon"].gemm_half_dim.is_none());
        // Collective rows without a fabric are refused, naming the flag.
        let bus = vec![(
            "a.txt".to_string(),
            Measurements::Collective { rows: synth_bus("roce-200g", 0.7, 3e-5, 8.0), ranks: None, bus_factor: None, unverified_rows: 0 },
        )];
        let e = fit_measurements(&bus, Catalog::builtin(), &request(None)).unwrap_err().to_string();
        assert!(e.contains("--fabric"), "{e}");
    }

    /// On the published Ascend 910B runs, calibrating on half lowers the error on the other half compared
    /// with the uncalibrated profile (the 2025 one, 0.77 from a single GEMM benchmark, per the catalog's
    /// `basis`), both splits; printed.
    #[test]
    fn ascend_calibrated_on_half_predicts_the_other_half_better() {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/validation/public_cases.csv"));
        let cases: Vec<StepCase> = crate::validate::read_step_cases(path)
            .unwrap()
            .into_iter()
            .filter(|c| Catalog::builtin().chips[&c.scenario.cluster.chip].calibration == "huawei-ascend")
            .collect();
        assert!(cases.len() >= 10, "{} Ascend cases", cases.len());
        let mut uncal = Catalog::builtin().clone();
        uncal.calibrations.get_mut("huawei-ascend").unwrap().gemm_max_fraction = 0.77;
        let mape = |cat: &Catalog, cs: &[StepCase]| {
            let e: Vec<f64> = cs.iter().filter_map(|c| simulate_case(c, cat, "t").error).collect();
            assert_eq!(e.len(), cs.len());
            e.iter().map(|x| x.abs()).sum::<f64>() / e.len() as f64
        };
        for parity in [0, 1] {
            let (train, test): (Vec<StepCase>, Vec<StepCase>) =
                cases.iter().cloned().enumerate().partition_map_by(|(i, _)| i % 2 == parity);
            let files = vec![("half.csv".to_string(), Measurements::Steps(train.clone()))];
            let q = MeasureRequest {
                family: "huawei-ascend",
                chip: "ascend-910b",
                fabric: None,
                date: "2026-12-01",
                tool: "test",
                chip_only: false,
            };
            let f = fit_measurements(&files, &uncal, &q).unwrap();
            let mut cal = uncal.clone();
            cal.apply_overlay(&f.overlay, "half.ron").unwrap();
            let (before, after) = (mape(&uncal, &test), mape(&cal, &test));
            println!(
                "Ascend 910B, fitted on {} rows ({} half), tested on the other {}: MAPE uncalibrated (0.77) {:.1}% -> calibrated ({:.3}) {:.1}%",
                train.len(),
                if parity == 0 { "even" } else { "odd" },
                test.len(),
                100.0 * before,
                cal.calibrations["huawei-ascend"].gemm_max_fraction,
                100.0 * after
            );
            assert!(after < before, "{after} !< {before}");
            assert_eq!(cal.calibrations["huawei-ascend"].loo_step_errors.len(), train.len());
        }
    }

    trait PartitionBy<T> {
        fn partition_map_by(self, f: impl Fn(&(usize, T)) -> bool) -> (Vec<T>, Vec<T>);
    }
    impl<T, I: Iterator<Item = (usize, T)>> PartitionBy<T> for I {
        fn partition_map_by(self, f: impl Fn(&(usize, T)) -> bool) -> (Vec<T>, Vec<T>) {
            let (a, b): (Vec<(usize, T)>, Vec<(usize, T)>) = self.partition(|x| f(x));
            (a.into_iter().map(|x| x.1).collect(), b.into_iter().map(|x| x.1).collect())
        }
    }
}
