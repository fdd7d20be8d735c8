//! Calibration overlays: a small RON file of fitted constants (written by `wanka calibrate … --chip ID
//! --out FILE`) layered over the catalog, never written into it.
//!
//! An overlay names calibration families and fabrics and, for each, only the constants that were fitted
//! (`None` = keep the catalog's figure). Applying it ([`Catalog::apply_overlay`]) replaces those
//! figures, marks the family as calibrated from measurements (`basis` names the overlay file, its date
//! and rows), attaches the fit's leave-one-out step-time errors (which then give the family's model-error
//! band, see [`crate::run::model_error`]), and re-checks the whole catalog: a figure outside its band is
//! an error naming the overlay file and field, an unknown family or fabric names the closest ids.
//!
//! With `chip_only: true` the overlay is the measured chip's alone (`provenance.chip`): the chip gets
//! a profile of its own, `<family>@<chip>` (the family's figures with the overlay's in place), and the
//! family's other chips keep theirs — a documented choice for families that group different chips
//! (`cambricon`: MLU590 and MLU370); without it (the default) the whole family moves.
//!
//! Format (every field but `provenance` and one of the maps may be left out):
//!
//! ```ron
//! (
//!     provenance: (tool: "wanka 0.1.0 calibrate", date: "2026-12-01", chip: "mlu590", family: "cambricon",
//!                  files: ["gemm.csv", "allreduce.txt"], rows_used: 27, rows_skipped: 0),
//!     calibrations: {
//!         "cambricon": (gemm_max_fraction: Some(0.61), gemm_half_dim: Some(80.0), kernel_overhead_us: None,
//!                       attention_fraction: None, fp8_gemm_max_fraction: None, loo_step_errors: []),
//!     },
//!     fabrics: { "roce-200g": (collective_efficiency: Some(0.74), latency_us: None) },
//! )
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::error::WankaError;
use crate::hardware::catalog::Catalog;

/// Where an overlay's figures come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The program that wrote it (`wanka <version> calibrate`).
    pub tool: String,
    /// UTC date of the fit, `YYYY-MM-DD` (given by the caller: the library reads no clock).
    pub date: String,
    /// The chip the measurements were taken on (empty when a family was named instead).
    #[serde(default)]
    pub chip: String,
    pub family: String,
    /// Measurement files, as given on the command line.
    pub files: Vec<String>,
    /// Rows that entered a fit.
    pub rows_used: usize,
    /// Rows read but left out (another family, a failed simulation), each said on stderr when fitted.
    #[serde(default)]
    pub rows_skipped: usize,
}

/// Fitted constants of one calibration family (`None`: not fitted, the catalog's figure stays).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationPatch {
    #[serde(default)]
    pub gemm_max_fraction: Option<f64>,
    #[serde(default)]
    pub gemm_half_dim: Option<f64>,
    #[serde(default)]
    pub kernel_overhead_us: Option<f64>,
    #[serde(default)]
    pub attention_fraction: Option<f64>,
    #[serde(default)]
    pub fp8_gemm_max_fraction: Option<f64>,
    /// Leave-one-out signed relative step-time errors of the step rows the ceiling was fitted on
    /// ((predicted − measured) / measured); empty when no step rows were given.
    #[serde(default)]
    pub loo_step_errors: Vec<f64>,
}

/// Fitted constants of one fabric.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FabricPatch {
    #[serde(default)]
    pub collective_efficiency: Option<f64>,
    #[serde(default)]
    pub latency_us: Option<f64>,
}

/// A calibration overlay file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    pub provenance: Provenance,
    /// `true`: the figures are the measured chip's (`provenance.chip`) alone — applying the overlay
    /// gives that chip a profile of its own, `<family>@<chip>` (a copy of the family's with the
    /// overlay's figures), and leaves the family's other chips on the family's profile. `false`
    /// (default): the whole family moves. Forecast bands of a chip-only profile without its own
    /// leave-one-out errors use its family's published runs.
    #[serde(default)]
    pub chip_only: bool,
    #[serde(default)]
    pub calibrations: BTreeMap<String, CalibrationPatch>,
    #[serde(default)]
    pub fabrics: BTreeMap<String, FabricPatch>,
}

impl Overlay {
    pub fn parse(text: &str, file: &str) -> Result<Overlay, WankaError> {
        crate::ron_util::parse_ron(text, file)
    }
    pub fn load(path: &Path) -> Result<Overlay, WankaError> {
        let text = crate::ron_util::read_file(path)?;
        Overlay::parse(&text, &path.display().to_string())
    }
    /// The overlay as RON text (what `wanka calibrate --out` writes).
    pub fn to_ron(&self) -> String {
        let mut s = String::from(
            "// Calibration overlay written by `wanka calibrate` (load with `--calibration FILE`; the built-in catalog is not changed).\n",
        );
        s.push_str(&crate::ron_util::to_ron_pretty(self).unwrap_or_default());
        s.push('\n');
        s
    }
}

impl Catalog {
    /// This catalog with `overlay`'s figures in place (see the module docs); `file` names the overlay in
    /// errors and in the patched families' `basis`.
    pub fn apply_overlay(&mut self, overlay: &Overlay, file: &str) -> Result<(), WankaError> {
        let p = &overlay.provenance;
        let origin = format!("calibration overlay {file} ({}, {} rows of {})", p.date, p.rows_used, p.files.join(", "));
        for (family, patch) in &overlay.calibrations {
            let known: Vec<String> = self.calibrations.keys().cloned().collect();
            if !self.calibrations.contains_key(family) {
                return Err(WankaError::Invalid {
                    file: file.into(),
                    field: format!("calibrations[{family}]"),
                    msg: crate::hardware::catalog::unknown_msg("calibration family", family, known.iter()),
                });
            }
            let id = if overlay.chip_only { &self.chip_profile(family, &p.chip, file)? } else { family };
            let Some(cal) = self.calibrations.get_mut(id) else {
                return Err(WankaError::Invalid {
                    file: file.into(),
                    field: format!("calibrations[{id}]"),
                    msg: crate::hardware::catalog::unknown_msg("calibration family", id, known.iter()),
                });
            };
            let mut fitted = Vec::new();
            let mut set = |name: &str, dst: &mut f64, v: Option<f64>| {
                if let Some(v) = v {
                    *dst = v;
                    fitted.push(name.to_string());
                }
            };
            set("gemm_max_fraction", &mut cal.gemm_max_fraction, patch.gemm_max_fraction);
            set("gemm_half_dim", &mut cal.gemm_half_dim, patch.gemm_half_dim);
            set("kernel_overhead_us", &mut cal.kernel_overhead_us, patch.kernel_overhead_us);
            if let Some(v) = patch.attention_fraction {
                cal.attention_fraction = Some(v);
                fitted.push("attention_fraction".into());
            }
            if let Some(v) = patch.fp8_gemm_max_fraction {
                cal.fp8_gemm_max_fraction = Some(v);
                fitted.push("fp8_gemm_max_fraction".into());
            }
            for (i, e) in patch.loo_step_errors.iter().enumerate() {
                if !(e.is_finite() && *e > -1.0 && *e < 10.0) {
                    return Err(WankaError::Invalid {
                        file: file.into(),
                        field: format!("calibrations[{id}].loo_step_errors[{i}]"),
                        msg: format!("must be a relative error in (-1, 10), got {e}"),
                    });
                }
            }
            cal.loo_step_errors = patch.loo_step_errors.clone();
            if !fitted.is_empty() {
                cal.calibrated = true;
                cal.basis = format!("{} fitted by {origin}; other figures: {}", fitted.join(", "), cal.basis);
                if !p.chip.is_empty() && !cal.fitted_on.contains(&p.chip) {
                    cal.fitted_on.push(p.chip.clone());
                }
            }
            cal.overlay = Some(format!("{file}, {}, {} rows", p.date, p.rows_used));
        }
        for (id, patch) in &overlay.fabrics {
            let known: Vec<String> = self.fabrics.keys().cloned().collect();
            let Some(f) = self.fabrics.get_mut(id) else {
                return Err(WankaError::Invalid {
                    file: file.into(),
                    field: format!("fabrics[{id}]"),
                    msg: crate::hardware::catalog::unknown_msg("fabric", id, known.iter()),
                });
            };
            if let Some(v) = patch.collective_efficiency {
                f.collective_efficiency = v;
            }
            if let Some(v) = patch.latency_us {
                f.latency_us = v;
            }
        }
        // Every figure back in its band, named in the overlay file.
        self.check(file, file)
    }

    /// Give `chip` (of `family`) a profile of its own, `<family>@<chip>`, a copy of the family's; its id.
    fn chip_profile(&mut self, family: &str, chip: &str, file: &str) -> Result<String, WankaError> {
        let bad = |field: &str, msg: String| WankaError::Invalid { file: file.into(), field: field.into(), msg };
        if chip.is_empty() {
            return Err(bad("provenance.chip", "a chip_only overlay must name its chip".into()));
        }
        let known: Vec<String> = self.chips.keys().cloned().collect();
        let Some(ch) = self.chips.get_mut(chip) else {
            return Err(bad("provenance.chip", crate::hardware::catalog::unknown_msg("chip", chip, known.iter())));
        };
        let id = format!("{family}@{chip}");
        if ch.calibration != family && ch.calibration != id {
            return Err(bad(
                "provenance.chip",
                format!(
                    "chip {chip} uses calibration profile {}, not {family}: a chip_only overlay patches the chip's own family",
                    ch.calibration
                ),
            ));
        }
        ch.calibration = id.clone();
        if !self.calibrations.contains_key(&id) {
            let mut c = self.calibrations[family].clone();
            c.id = id.clone();
            c.fitted_on = vec![chip.to_string()];
            self.calibrations.insert(id.clone(), c);
        }
        Ok(id)
    }
}

/// The family whose published runs a profile's forecasts are judged by: `<family>@<chip>` (a chip-only
/// overlay's profile) is judged by its family's.
pub fn published_family(profile_id: &str) -> &str {
    profile_id.split('@').next().unwrap_or(profile_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_replaces_only_fitted_figures_and_refuses_bad_ones() {
        let mut cat = Catalog::builtin().clone();
        let before = cat.calibrations["cambricon"].clone();
        let mut o = Overlay::default();
        o.provenance.date = "2026-12-01".into();
        o.calibrations.insert("cambricon".into(), CalibrationPatch { gemm_max_fraction: Some(0.61), ..Default::default() });
        o.fabrics.insert("roce-200g".into(), FabricPatch { collective_efficiency: Some(0.7), latency_us: None });
        let text = o.to_ron();
        let back = Overlay::parse(&text, "o.ron").unwrap();
        assert_eq!(back, o);
        cat.apply_overlay(&back, "o.ron").unwrap();
        let after = &cat.calibrations["cambricon"];
        assert_eq!(after.gemm_max_fraction, 0.61);
        assert_eq!(after.gemm_half_dim, before.gemm_half_dim);
        assert!(after.calibrated && after.basis.contains("o.ron"), "{}", after.basis);
        assert_eq!(cat.fabrics["roce-200g"].collective_efficiency, 0.7);
        // The built-in catalog is untouched.
        assert_eq!(Catalog::builtin().calibrations["cambricon"], before);

        let mut bad = o.clone();
        bad.calibrations.get_mut("cambricon").unwrap().gemm_max_fraction = Some(1.7);
        let e = Catalog::builtin().clone().apply_overlay(&bad, "bad.ron").unwrap_err().to_string();
        assert!(e.contains("bad.ron") && e.contains("gemm_max_fraction"), "{e}");
        // chip_only: the measured chip gets its own profile, the family's other chip keeps the family's.
        let mut only = o.clone();
        only.chip_only = true;
        only.provenance.chip = "mlu590".into();
        let mut c2 = Catalog::builtin().clone();
        c2.apply_overlay(&Overlay::parse(&only.to_ron(), "only.ron").unwrap(), "only.ron").unwrap();
        assert_eq!(c2.chips["mlu590"].calibration, "cambricon@mlu590");
        assert_eq!(c2.calibration(&c2.chips["mlu590"]).gemm_max_fraction, 0.61);
        assert_eq!(c2.chips["mlu370-x8"].calibration, "cambricon");
        assert_eq!(c2.calibrations["cambricon"], before);
        assert_eq!(published_family(&c2.chips["mlu590"].calibration), "cambricon");
        let mut wrong = only.clone();
        wrong.provenance.chip = "h100-sxm".into();
        let e = Catalog::builtin().clone().apply_overlay(&wrong, "w.ron").unwrap_err().to_string();
        assert!(e.contains("w.ron") && e.contains("provenance.chip") && e.contains("nvidia-hopper"), "{e}");
        let mut unknown = Overlay::default();
        unknown.calibrations.insert("cambricom".into(), CalibrationPatch::default());
        let e = Catalog::builtin().clone().apply_overlay(&unknown, "u.ron").unwrap_err().to_string();
        assert!(e.contains("cambricon"), "{e}");
    }
}
