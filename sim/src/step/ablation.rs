//! What each software setting is worth: a step re-simulated with one setting of the scenario's stack
//! replaced by another stack's, for every setting in which the two differ, and once with all of them.
//!
//! This answers "which missing optimisation costs what" for a plan: run a scenario on its period's
//! stack against a better-tuned one (`wanka step FILE --versus-stack deepseek-v3`) and every row is the
//! step time with only that setting changed. The effects are measured one at a time from the
//! scenario's settings, so they need not add up to the all-settings difference (overlaps interact:
//! hiding the all-to-all matters less once it is de-duplicated).
//!
//! The plan is resolved again for every variant (memory can admit or refuse a layout differently,
//! e.g. FP8-cached activations), so a variant that does not fit or is not supported by the settings is
//! reported with its reason, never dropped. Plan-level choices (schedule, recomputation, parallelism)
//! are not settings of the stack and are not varied here.

use serde::Serialize;

use crate::error::WankaError;
use crate::hardware::catalog::Catalog;
use crate::scenario::Scenario;
use crate::step::stack::FrameworkSpec;

/// One setting taken from the other stack.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SettingEffect {
    /// Framework field (`moe_dispatcher`, `overlap_moe_comm`, …).
    pub field: &'static str,
    /// Its value in the scenario.
    pub this_value: String,
    /// Its value in the other stack.
    pub other_value: String,
    /// Step time with only this setting changed; `None` when that variant cannot run (`failure` says why).
    pub step_s: Option<f64>,
    /// `step_s` minus the scenario's step time.
    pub delta_s: Option<f64>,
    /// Why the variant cannot run (`None` when it ran).
    pub failure: Option<String>,
}

/// The scenario's step against another stack's settings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StackComparison {
    /// Id of the other stack.
    pub other_stack: String,
    /// The scenario's own step time.
    pub step_s: f64,
    /// Step time with every setting of the other stack; `None` when that cannot run (`all_settings_failure` says why).
    pub all_settings_step_s: Option<f64>,
    pub all_settings_failure: Option<String>,
    /// One row per differing setting, the largest effect first (rows that cannot run last).
    pub effects: Vec<SettingEffect>,
}

impl Scenario {
    /// The step with each setting of stack `other` in turn, and with all of them (see the module docs).
    pub fn compare_stack(&self, catalog: &Catalog, file: &str, other: &str) -> Result<StackComparison, WankaError> {
        let base = self.simulate_step(catalog, file)?.step_s;
        let theirs = FrameworkSpec::for_stack(other)?;
        let with = |fw: FrameworkSpec| -> Result<f64, String> {
            let s = Scenario { framework: fw, ..self.clone() };
            s.simulate_step(catalog, file).map(|r| r.step_s).map_err(|e| e.to_string())
        };
        let mut effects: Vec<SettingEffect> = self
            .framework
            .differences(&theirs)
            .into_iter()
            .map(|(field, this_value, other_value)| {
                let fw = self.framework.with_setting_of(&theirs, field).expect("a field the differences named");
                let r = with(fw);
                SettingEffect {
                    field,
                    this_value,
                    other_value,
                    step_s: r.as_ref().ok().copied(),
                    delta_s: r.as_ref().ok().map(|t| t - base),
                    failure: r.err(),
                }
            })
            .collect();
        effects.sort_by(|a, b| match (a.delta_s, b.delta_s) {
            (Some(x), Some(y)) => y.abs().total_cmp(&x.abs()).then(a.field.cmp(b.field)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.field.cmp(b.field),
        });
        let all = with(FrameworkSpec { stack: other.to_string(), ..theirs });
        Ok(StackComparison {
            other_stack: other.to_string(),
            step_s: base,
            all_settings_step_s: all.as_ref().ok().copied(),
            all_settings_failure: all.err(),
            effects,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::hardware::catalog::Catalog;
    use crate::scenario::Scenario;

    fn dsv3() -> Scenario {
        let text = include_str!("../../../scenarios/examples/deepseek-v3-2048-h800.ron");
        crate::ron_util::parse_ron::<Scenario>(text, "deepseek-v3-2048-h800.ron").unwrap()
    }

    /// DeepSeek-V3's layout (1F1B) on the default Megatron-core stack against DeepSeek's own: every setting
    /// that differs gets a row, each row is a real re-simulation (changing the dispatcher or the
    /// all-to-all overlap alone moves the step), and DeepSeek's settings together are faster.
    #[test]
    fn each_missing_optimisation_is_priced() {
        let catalog = Catalog::builtin();
        let mut s = dsv3();
        // Megatron-core has no DualPipe: its own 1F1B.
        s.parallelism.schedule = Some(crate::workload::parallelism::Schedule::OneFOneB);
        s.framework = crate::step::stack::FrameworkSpec::for_stack("megatron-core").unwrap();
        let c = s.compare_stack(catalog, "test", "deepseek-v3").unwrap();
        for e in &c.effects {
            println!("{:28} {:>12} -> {:<12} {:?} {:?}", e.field, e.this_value, e.other_value, e.delta_s, e.failure);
        }
        let row = |f: &str| c.effects.iter().find(|e| e.field == f).unwrap_or_else(|| panic!("no row for {f}"));
        for f in ["moe_dispatcher", "precision"] {
            let d = row(f).delta_s.unwrap_or_else(|| panic!("{f}: {:?}", row(f).failure));
            assert!(d < -0.01 * c.step_s, "{f} should save time on DeepSeek-V3: {d:+.3} s of {:.3}", c.step_s);
        }
        // Overlapping the all-to-all under 1F1B keeps more forwards in flight: in BF16 that variant does
        // not fit, and the row says so instead of vanishing.
        let o = row("overlap_moe_comm");
        assert!(o.delta_s.is_some() || o.failure.as_deref().is_some_and(|f| f.contains("memory")), "{o:?}");
        // All of DeepSeek's settings at once keep 1F1B's overlap warm-up too: faster if it fits, else
        // the reason (memory) is given.
        match (c.all_settings_step_s, &c.all_settings_failure) {
            (Some(all), _) => assert!(all < c.step_s, "all of DeepSeek's settings: {all:.2} s vs {:.2} s", c.step_s),
            (None, f) => assert!(f.as_deref().is_some_and(|f| f.contains("memory")), "{f:?}"),
        }
        // The largest effect first.
        let deltas: Vec<f64> = c.effects.iter().filter_map(|e| e.delta_s).map(f64::abs).collect();
        assert!(deltas.windows(2).all(|w| w[0] >= w[1]));
        // Against itself: nothing differs.
        let same = dsv3().compare_stack(catalog, "test", "deepseek-v3").unwrap();
        assert!(same.effects.is_empty());
        assert_eq!(same.all_settings_step_s, Some(same.step_s));
    }
}
