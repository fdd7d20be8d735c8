//! How far wanka's step times are from published runs, per chip family and software stack, as the
//! bundled case files measure it out of sample — the line every prediction carries.
//!
//! The figures are leave-one-out errors of [`crate::validate::calibrate::fit_all`] on the calibration case files
//! ([`CALIBRATION_FILES`]): each case predicted with its family's ceiling fitted without it. They are
//! computed by `wanka calibrate step_cases.csv public_cases.csv --moe-cases moe_cases.csv --holdout-cases
//! holdout_cases.csv --write-accuracy scenarios/validation/accuracy.csv` from the case files
//! and compiled in; a test re-runs the fit and fails when the file no longer matches the cases or the
//! catalog (regenerate it with that command). Nothing here is typed by hand.
//!
//! A chip whose family has no published runs gets "no published runs for this family: estimate",
//! naming the calibrated parent whose figures it carries.
//!
//! Mixture-of-experts models are quoted from the MoE case file ([`MOE_FILE`]) instead, whose runs no
//! constant is fitted on (so their plain errors are out of sample): rows with stack `moe:<stack>` and
//! `moe:*`, and family `*` for all MoE runs together.
//!
//! A family no constant is fitted for (its profile carries a parent's figures) is quoted from its runs
//! in the holdout file ([`HOLDOUT_FILE`]) when it has at least [`MIN_GROUP_CASES`] there: rows with
//! stack `holdout:<stack>` and `holdout:*`, the plain errors of a profile never fitted on them. Only
//! with none there is a prediction an unmeasured estimate.

use serde::Serialize;
use std::sync::OnceLock;

use crate::hardware::catalog::Calibration;

/// Case files the calibration is fitted on (holdout and MoE files are never fitted).
pub const CALIBRATION_FILES: [&str; 2] = ["scenarios/validation/step_cases.csv", "scenarios/validation/public_cases.csv"];

/// MoE runs the accuracy of MoE predictions is quoted from (never fitted).
pub const MOE_FILE: &str = "scenarios/validation/moe_cases.csv";

/// Runs never fitted on; they give the accuracy of families without fitted runs.
pub const HOLDOUT_FILE: &str = "scenarios/validation/holdout_cases.csv";

/// Stack prefix of the accuracy rows and case errors taken from [`HOLDOUT_FILE`].
pub const HOLDOUT_PREFIX: &str = "holdout:";

const ACCURACY_CSV: &str = include_str!("../../../scenarios/validation/accuracy.csv");
const ERRORS_CSV: &str = include_str!("../../../scenarios/validation/accuracy_errors.csv");

/// One case's leave-one-out step-time error (signed fraction), the rows behind the accuracy table:
/// `scenarios/validation/accuracy_errors.csv`, written by `wanka calibrate … --write-loo-errors FILE`
/// (MoE cases with stack `moe:<stack>`, their plain errors: nothing is fitted on them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseError {
    pub family: String,
    pub stack: String,
    pub case: String,
    pub loo_error: f64,
}

impl CaseError {
    /// (family, stack, error), the form the accuracy rows are built from.
    pub fn as_error(&self) -> (&str, &str, f64) {
        (self.family.as_str(), self.stack.as_str(), self.loo_error)
    }
}

/// The CSV text of per-case errors (what `--write-loo-errors` writes).
pub fn errors_to_csv(rows: &[CaseError]) -> String {
    let mut s = String::from("family,stack,case,loo_error\n");
    for r in rows {
        s.push_str(&format!("{},{},{},{:.4}\n", r.family, r.stack, r.case, r.loo_error));
    }
    s
}

/// The compiled-in per-case errors.
pub fn builtin_case_errors() -> &'static [CaseError] {
    static R: OnceLock<Vec<CaseError>> = OnceLock::new();
    R.get_or_init(|| {
        ERRORS_CSV
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                Some(CaseError {
                    family: f.first()?.to_string(),
                    stack: f.get(1)?.to_string(),
                    case: f.get(2)?.to_string(),
                    loo_error: f.get(3)?.parse().ok()?,
                })
            })
            .collect()
    })
}

/// Out-of-sample step-time error of one (family, stack) group; `stack` is `*` for the whole family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyRow {
    pub family: String,
    pub stack: String,
    pub n: usize,
    /// Leave-one-out mean absolute error (fraction).
    pub loo_mape: f64,
    pub loo_worst: f64,
    /// Leave-one-out mean signed error: negative = predictions shorter than measured (optimistic).
    pub loo_bias: f64,
}

/// The accuracy statement attached to a prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyNote {
    pub family: String,
    pub stack: String,
    /// Published runs behind the figures (0: none for this family).
    pub cases: usize,
    pub loo_mape: Option<f64>,
    pub loo_worst: Option<f64>,
    pub loo_bias: Option<f64>,
    /// One line for reports.
    pub text: String,
}

/// Rows for every (family, stack) group and every family (`*`), from leave-one-out errors given as
/// (family, stack, error) ([`crate::validate::calibrate::Fit::loo_errors`]).
pub fn rows_from_errors<'a>(errors: impl IntoIterator<Item = (&'a str, &'a str, f64)>) -> Vec<AccuracyRow> {
    let mut per: std::collections::BTreeMap<(String, String), Vec<f64>> = Default::default();
    for (family, stack, e) in errors {
        per.entry((family.to_string(), stack.to_string())).or_default().push(e);
        per.entry((family.to_string(), "*".into())).or_default().push(e);
    }
    per.into_iter()
        .map(|((family, stack), e)| {
            let n = e.len();
            AccuracyRow {
                family,
                stack,
                n,
                loo_mape: e.iter().map(|x| x.abs()).sum::<f64>() / n as f64,
                loo_worst: e.iter().fold(0.0, |w, x| w.max(x.abs())),
                loo_bias: e.iter().sum::<f64>() / n as f64,
            }
        })
        .collect()
}

/// Rows for MoE runs from their (family, stack, error): stacks as `moe:<stack>` / `moe:*`, plus the
/// all-family row (`*`, `moe:*`).
pub fn moe_rows_from_errors<'a>(errors: impl IntoIterator<Item = (&'a str, &'a str, f64)> + Clone) -> Vec<AccuracyRow> {
    let mut rows = rows_from_errors(errors.clone());
    rows.extend(rows_from_errors(errors.into_iter().map(|(_, _, e)| ("*", "all", e))).into_iter().filter(|r| r.stack == "*"));
    for r in &mut rows {
        r.stack = format!("moe:{}", r.stack);
    }
    rows
}

/// Rows for the holdout runs of families that have no fitted runs (`fitted` lists the families that
/// do): stacks as `holdout:<stack>` / `holdout:*`. Fitted families are quoted from their leave-one-out
/// errors, so their holdout runs add no row.
pub fn holdout_rows_from_errors<'a>(errors: impl IntoIterator<Item = (&'a str, &'a str, f64)>, fitted: &[&str]) -> Vec<AccuracyRow> {
    let mut rows = rows_from_errors(errors.into_iter().filter(|(f, _, _)| !fitted.contains(f)));
    for r in &mut rows {
        r.stack = format!("{HOLDOUT_PREFIX}{}", r.stack);
    }
    rows
}

/// The CSV text of accuracy rows (what `wanka calibrate --write-accuracy` writes).
pub fn to_csv(rows: &[AccuracyRow]) -> String {
    let mut s = String::from("family,stack,n,loo_mape,loo_worst,loo_bias\n");
    for r in rows {
        s.push_str(&format!("{},{},{},{:.4},{:.4},{:.4}\n", r.family, r.stack, r.n, r.loo_mape, r.loo_worst, r.loo_bias));
    }
    s
}

fn parse(text: &str) -> Vec<AccuracyRow> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some(AccuracyRow {
                family: f.first()?.to_string(),
                stack: f.get(1)?.to_string(),
                n: f.get(2)?.parse().ok()?,
                loo_mape: f.get(3)?.parse().ok()?,
                loo_worst: f.get(4)?.parse().ok()?,
                loo_bias: f.get(5)?.parse().ok()?,
            })
        })
        .collect()
}

/// The compiled-in accuracy table.
pub fn builtin_rows() -> &'static [AccuracyRow] {
    static R: OnceLock<Vec<AccuracyRow>> = OnceLock::new();
    R.get_or_init(|| parse(ACCURACY_CSV))
}

/// Fewest cases for a (family, stack) figure to be quoted on its own; below it the family's is used.
pub const MIN_GROUP_CASES: usize = 3;

/// The accuracy statement for a prediction on a chip of `calibration`'s family under `stack`; `moe`:
/// the model is a mixture of experts, quoted from the MoE runs.
pub fn note(calibration: &Calibration, stack: &str, moe: bool) -> AccuracyNote {
    if moe {
        return moe_note(calibration, stack);
    }
    if !calibration.loo_step_errors.is_empty() {
        let e: Vec<(&str, &str, f64)> = calibration.loo_step_errors.iter().map(|e| (calibration.id.as_str(), "*", *e)).collect();
        if let Some(r) = rows_from_errors(e).into_iter().find(|r| r.stack == "*") {
            let scope = format!("measured runs ({})", calibration.overlay.as_deref().unwrap_or("calibration overlay"));
            return AccuracyNote::quoted(calibration, stack, &r, "step time", &scope, "leave-one-out");
        }
    }
    let rows = builtin_rows();
    // A chip-only overlay's profile (`family@chip`) is judged by its family's published runs.
    let fam = crate::hardware::overlay::published_family(&calibration.id);
    let find = |s: &str| rows.iter().find(|r| r.family == fam && r.stack == s);
    let pick = find(stack).filter(|r| r.n >= MIN_GROUP_CASES).map(|r| (r, true)).or_else(|| find("*").map(|r| (r, false)));
    match pick {
        Some((r, own_stack)) => {
            let scope = if own_stack {
                format!("published {} runs on {stack}", calibration.id)
            } else {
                format!("published {} runs (all stacks; too few on {stack})", calibration.id)
            };
            AccuracyNote::quoted(calibration, stack, r, "step time", &scope, "leave-one-out; `wanka validate`")
        }
        None => holdout_note(calibration, stack, fam).unwrap_or_else(|| {
            AccuracyNote::estimate(
                calibration,
                stack,
                format!(
                    "no published runs for this family ({}): estimate{}",
                    calibration.id,
                    calibration.parent.as_ref().map_or(String::new(), |p| format!(", carrying {p}'s calibrated figures"))
                ),
            )
        }),
    }
}

/// A family without fitted runs, quoted from its holdout runs (the stack's when it has enough, else
/// all of them); `None` when it has fewer than [`MIN_GROUP_CASES`] there.
fn holdout_note(calibration: &Calibration, stack: &str, fam: &str) -> Option<AccuracyNote> {
    let rows = builtin_rows();
    let find = |s: &str| rows.iter().find(|r| r.family == fam && r.stack == s && r.n >= MIN_GROUP_CASES);
    let (r, scope) = match (find(&format!("{HOLDOUT_PREFIX}{stack}")), find(&format!("{HOLDOUT_PREFIX}*"))) {
        (Some(r), _) => (r, format!("published {fam} runs on {stack} in the holdout set")),
        (None, Some(r)) => (r, format!("published {fam} runs in the holdout set (all stacks)")),
        (None, None) => return None,
    };
    let carried = calibration.parent.as_ref().map_or(String::new(), |p| format!(", the profile carries {p}'s figures"));
    Some(AccuracyNote::quoted(
        calibration,
        stack,
        r,
        "step time",
        &scope,
        &format!("none fitted on{carried}; `wanka validate {HOLDOUT_FILE}`"),
    ))
}

fn moe_note(calibration: &Calibration, stack: &str) -> AccuracyNote {
    let rows = builtin_rows();
    let find = |family: &str, s: &str| rows.iter().find(|r| r.family == family && r.stack == s);
    let own = format!("moe:{stack}");
    let fam = crate::hardware::overlay::published_family(&calibration.id);
    let (r, scope) = match (find(fam, &own).filter(|r| r.n >= MIN_GROUP_CASES), find(fam, "moe:*"), find("*", "moe:*")) {
        (Some(r), _, _) => (r, format!("published MoE runs of {} on {stack}", calibration.id)),
        (None, Some(r), _) => (r, format!("published MoE runs of {} (all stacks)", calibration.id)),
        (None, None, Some(r)) => (r, format!("published MoE runs of other families (none of {})", calibration.id)),
        (None, None, None) => {
            return AccuracyNote::estimate(calibration, stack, "no published MoE runs in the case files: estimate".into());
        }
    };
    AccuracyNote::quoted(
        calibration,
        stack,
        r,
        "MoE step time",
        &scope,
        &format!("no constant fitted on them; `wanka validate {MOE_FILE}`"),
    )
}

impl AccuracyNote {
    /// The statement of one accuracy row: "`what` within X% on average of n `scope`, … (`how`)".
    fn quoted(calibration: &Calibration, stack: &str, r: &AccuracyRow, what: &str, scope: &str, how: &str) -> AccuracyNote {
        AccuracyNote {
            family: calibration.id.clone(),
            stack: stack.into(),
            cases: r.n,
            loo_mape: Some(r.loo_mape),
            loo_worst: Some(r.loo_worst),
            loo_bias: Some(r.loo_bias),
            text: format!(
                "{what} within {:.0}% on average of {} {scope}, {:.0}% worst, {} by {:.0}% ({how})",
                100.0 * r.loo_mape,
                r.n,
                100.0 * r.loo_worst,
                if r.loo_bias < 0.0 { "optimistic" } else { "pessimistic" },
                100.0 * r.loo_bias.abs()
            ),
        }
    }

    /// No published runs behind the prediction.
    fn estimate(calibration: &Calibration, stack: &str, text: String) -> AccuracyNote {
        AccuracyNote {
            family: calibration.id.clone(),
            stack: stack.into(),
            cases: 0,
            loo_mape: None,
            loo_worst: None,
            loo_bias: None,
            text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::catalog::Catalog;

    /// A MoE prediction quotes the MoE runs, not the dense ones (the dense figures are several times
    /// smaller and would overstate how far a MoE step time can be trusted).
    #[test]
    fn moe_predictions_quote_the_moe_runs() {
        let hopper = &Catalog::builtin().calibrations["nvidia-hopper"];
        let (dense, moe) = (note(hopper, "nemo", false), note(hopper, "nemo", true));
        assert!(moe.text.starts_with("MoE step time"), "{}", moe.text);
        assert!(moe.cases > 0 && moe.loo_mape != dense.loo_mape, "{} / {}", moe.text, dense.text);
        // A family without MoE runs falls back to all MoE runs, said so.
        let tpu = &Catalog::builtin().calibrations["google-tpu"];
        let t = note(tpu, "maxtext", true);
        assert!(t.text.contains("other families"), "{}", t.text);
    }

    /// A family no constant is fitted for is quoted from its holdout runs when it has enough there (the
    /// row's own figures), and is an estimate when it has none.
    #[test]
    fn unfitted_families_quote_their_holdout_runs() {
        let cat = Catalog::builtin();
        let amd = note(&cat.calibrations["amd-cdna3"], "megatron-core", false);
        let row = builtin_rows().iter().find(|r| r.family == "amd-cdna3" && r.stack == "holdout:*").expect("holdout row");
        assert!(row.n >= MIN_GROUP_CASES && amd.cases == row.n && amd.loo_mape == Some(row.loo_mape), "{}", amd.text);
        assert!(amd.text.contains("holdout") && amd.text.contains("none fitted on"), "{}", amd.text);
        // Fitted families never quote holdout rows (they have none: their leave-one-out errors speak).
        assert!(builtin_rows().iter().filter(|r| r.stack.starts_with(HOLDOUT_PREFIX)).all(|r| !cat.calibrations[&r.family].calibrated));
        let cam = note(&cat.calibrations["cambricon"], "mindspeed", false);
        assert!(cam.cases == 0 && cam.text.contains("estimate"), "{}", cam.text);
    }
}
