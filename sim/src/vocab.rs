//! The output vocabulary's history: names of schema version 1 that version 2 renamed (the rename
//! table of `docs/OUTPUTS.md`, which documents every name and its unit). Used to answer an old name
//! with its new one, e.g. a sweep expectation on `p90_days`.

/// `(version 1 name, version 2 name)` for names that were renamed without a change of value (`error`
/// is the sweep column; `hbm_gb` the catalog's, whose value was always GiB). The money totals that
/// moved from USD to million USD (`total_usd` → `cost_musd`, …) are not here: their values changed too.
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

/// The version 2 name of a name version 1 used, if it was renamed.
pub fn renamed_in_v2(old: &str) -> Option<&'static str> {
    V1_RENAMES.iter().find(|(o, _)| *o == old).map(|(_, n)| *n)
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
    }
}
