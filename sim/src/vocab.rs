//! The output vocabulary's history: names of schema version 1 that version 2 renamed (the rename
//! table of `docs/OUTPUTS.md`, which documents every name and its unit). Used to answer an old name
//! with its new one, e.g. a sweep expectation on `p90_days`.

/// `(version 1 name, version 2 name)` for names that were renamed without a change of value (`error`
/// is the sweep column; `hbm_gb` the catalog's, whose value was always GiB). Names whose unit changed
/// too (USD → million USD, minutes → hours or seconds) are in [`V1_UNIT_CHANGES`].
pub const V1_RENAMES: &[(&str, &str)] = &[
    ("mean_days", "days_mean"),
    ("p10_days", "days_p10"),
    ("p50_days", "days_p50"),
    ("p90_days", "days_p90"),
    ("wall_days", "days"),
    ("usd_per_million_tokens", "usd_per_mtok"),
    ("rework_days", "lost_rework_days"),
    ("restart_days", "lost_restart_days"),
    ("checkpoint_days", "lost_checkpoint_days"),
    ("spare_wait_days", "lost_spare_wait_days"),
    ("straggler_days", "lost_straggler_days"),
    ("maintenance_days", "lost_maintenance_days"),
    ("stall_s", "checkpoint_stall_s"),
    ("load_s", "checkpoint_load_s"),
    ("durable_after_s", "checkpoint_durable_after_s"),
    ("bytes", "checkpoint_bytes"),
    ("candidate", "name"),
    ("seq_parallel", "sequence_parallel"),
    ("error", "failure"),
    ("hbm_gb", "hbm_gib"),
    ("dp_comm", "dp_comm_spans_s"),
    ("optimizer", "optimizer_span_s"),
];

/// Names of schema version 1 whose values changed unit in version 2: `(old, new, factor)`, new = old ×
/// factor.
pub const V1_UNIT_CHANGES: &[(&str, &str, f64)] = &[
    ("total_usd", "cost_musd", 1e-6),
    ("total_cost_usd", "cost_musd", 1e-6),
    ("capex_usd", "capex_musd", 1e-6),
    ("hardware_usd", "hardware_cost_musd", 1e-6),
    ("energy_usd", "energy_cost_musd", 1e-6),
    ("predicted_mtti_min", "predicted_mtti_hours", 1.0 / 60.0),
    ("expected_mtti_min", "expected_mtti_hours", 1.0 / 60.0),
    ("predicted_tau_opt_min", "predicted_tau_opt_s", 60.0),
    ("expected_tau_opt_min", "expected_tau_opt_s", 60.0),
];

/// The version 2 name of a name version 1 used, if it was renamed (with or without a change of unit).
pub fn renamed_in_v2(old: &str) -> Option<&'static str> {
    V1_RENAMES
        .iter()
        .find(|(o, _)| *o == old)
        .map(|(_, n)| *n)
        .or_else(|| V1_UNIT_CHANGES.iter().find(|(o, ..)| *o == old).map(|(_, n, _)| *n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_names_map_to_new_ones_once() {
        assert_eq!(renamed_in_v2("p90_days"), Some("days_p90"));
        assert_eq!(renamed_in_v2("days_p90"), None);
        for (i, (old, new)) in V1_RENAMES.iter().enumerate() {
            assert_ne!(old, new);
            assert!(V1_RENAMES[..i].iter().all(|(o, _)| o != old), "{old} twice");
            assert!(renamed_in_v2(new).is_none(), "{new} is itself renamed");
        }
        for (old, new, factor) in V1_UNIT_CHANGES {
            assert!(V1_RENAMES.iter().all(|(o, _)| o != old), "{old} in both lists");
            assert_eq!(renamed_in_v2(old), Some(*new));
            assert!(*factor > 0.0 && *factor != 1.0, "{old}: a unit change changes the value");
        }
        assert_eq!(renamed_in_v2("total_cost_usd"), Some("cost_musd"));
    }
}
