//! Human-readable and JSON renderings of library results for the terminal.

use serde_json::{Value, json};
use std::fmt::Write;

use wanka_sim::Catalog;
use wanka_sim::planning::plan_file::Comparison;
use wanka_sim::run::RunReport;
use wanka_sim::scenario::Scenario;
use wanka_sim::step::schedule::StepResult;
use wanka_sim::validate::{CaseRole, ReliabilityReport, StepReport};

pub fn step_json(s: &Scenario, r: &StepResult) -> Value {
    let mut v = json!({ "scenario": s.name, "result": r });
    if let Some(sum) = s.auto.as_ref().and_then(|a| a.searched.0.as_ref()) {
        v["parallelism_search"] = json!(sum);
    }
    v
}

/// How an auto scenario's plan was chosen: one line under `plan`, empty for a written plan.
pub fn searched_text(s: &Scenario) -> String {
    match s.auto.as_ref().and_then(|a| a.searched.0.as_ref()) {
        Some(sum) => format!(
            "searched  parallelism: (auto: true): {}, the best of {} feasible plans ({} enumerated, {} simulated exactly; screen rank {})\n",
            sum.parallelism, sum.search_feasible, sum.search_enumerated, sum.search_simulated, sum.screen_rank
        ),
        None => String::new(),
    }
}

/// The step against another stack's settings, one re-simulated row per differing setting.
pub fn stack_comparison_text(s: &Scenario, c: &wanka_sim::step::ablation::StackComparison) -> String {
    let mut out = String::new();
    let change = |t: f64| format!("{:+.3} s ({:+.1}%)", t - c.step_s, 100.0 * (t / c.step_s - 1.0));
    let _ = writeln!(out, "\nversus stack {} (this scenario: {}, {:.3} s per step)", c.other_stack, s.framework.stack, c.step_s);
    match (c.all_settings_step_s, &c.all_settings_failure) {
        (Some(t), _) => {
            let _ = writeln!(out, "  with all of its settings  {t:.3} s  {}", change(t));
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "  with all of its settings  cannot run: {e}");
        }
        (None, None) => {}
    }
    if c.effects.is_empty() {
        let _ = writeln!(out, "  no setting differs");
        return out;
    }
    let _ = writeln!(out, "  each setting alone (the others as in this scenario; effects overlap, so they need not add up):");
    let _ = writeln!(out, "  {:<26} {:<16} {:<16} {:>10}  change", "setting", "this", c.other_stack, "step");
    for e in &c.effects {
        match (e.step_s, &e.failure) {
            (Some(t), _) => {
                let _ = writeln!(out, "  {:<26} {:<16} {:<16} {:>8.3} s  {}", e.field, e.this_value, e.other_value, t, change(t));
            }
            (None, err) => {
                let _ = writeln!(
                    out,
                    "  {:<26} {:<16} {:<16} {:>10}  {}",
                    e.field,
                    e.this_value,
                    e.other_value,
                    "-",
                    err.as_deref().unwrap_or("cannot run")
                );
            }
        }
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The unit a duration reads best in: minutes under two hours, hours under two days, else days (an
/// 11-minute run is "11.0 min", not "0.0 days"). One unit is chosen per table, from its reference value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DurUnit {
    Min,
    Hours,
    Days,
}

impl DurUnit {
    fn for_days(days: f64) -> DurUnit {
        match days.abs() {
            d if d < 2.0 / 24.0 => DurUnit::Min,
            d if d < 2.0 => DurUnit::Hours,
            _ => DurUnit::Days,
        }
    }
    fn name(self) -> &'static str {
        match self {
            DurUnit::Min => "min",
            DurUnit::Hours => "h",
            DurUnit::Days => "days",
        }
    }
    fn of_days(self, days: f64) -> f64 {
        match self {
            DurUnit::Min => days * 1440.0,
            DurUnit::Hours => days * 24.0,
            DurUnit::Days => days,
        }
    }
}

/// A duration given in days, in the unit that reads best (`11.0 min`, `5.3 h`, `17.4 days`; `never`
/// when infinite, as the MTTI of a run without failures).
fn duration(days: f64) -> String {
    if !days.is_finite() {
        return "never".into();
    }
    let u = DurUnit::for_days(days);
    format!("{:.1} {}", u.of_days(days), u.name())
}

pub fn step_text(s: &Scenario, r: &StepResult, catalog: &Catalog) -> String {
    let mut o = String::new();
    let chip = catalog.chip(&s.cluster.chip).map(|c| c.name.clone()).unwrap_or_default();
    let p = &s.parallelism;
    let _ = writeln!(o, "scenario  {}", s.name);
    let _ = writeln!(
        o,
        "cluster   {} x {} ({} per node), {} {} Gbit/s per device, {}",
        s.cluster.gpus,
        chip,
        s.cluster.gpus_per_node,
        s.cluster.network.fabric,
        s.cluster.network.nic_gbit_per_s_per_gpu,
        s.cluster.network.topology
    );
    let _ = writeln!(o, "domains   {}", r.placement.describe());
    let _ = writeln!(
        o,
        "plan      TP{} PP{} DP{} CP{} EP{}  zero {}  recompute {}  SP {}",
        p.tp,
        p.pp,
        p.dp,
        p.cp,
        p.ep,
        p.zero_stage,
        wanka_sim::workload::parallelism::recompute_label(p.recompute, p.recompute_layers),
        p.sequence_parallel
    );
    o.push_str(&searched_text(s));
    let _ = writeln!(o);
    let _ = writeln!(o, "step time        {:>10.3} s", r.step_s);
    let _ = writeln!(o, "throughput       {:>10.0} tokens/s", r.tokens_per_s);
    let _ = writeln!(o, "MFU / HFU        {:>10} / {}", pct(r.mfu), pct(r.hfu));
    let _ = writeln!(o, "accuracy         {}", r.accuracy.text);
    let b = &r.breakdown;
    let _ = writeln!(o, "\nbreakdown (bottleneck stage {}, the busiest):", r.critical_stage);
    for (name, v) in [
        ("compute", b.compute_s),
        ("exposed TP/CP/EP comm", b.tp_comm_s),
        ("pipeline bubble", b.pp_bubble_s),
        ("exposed DP comm", b.dp_comm_s),
        ("optimizer + other", b.optimizer_other_s),
    ] {
        let _ = writeln!(o, "  {name:<24}{v:>10.3} s  {:>6}", pct(v / r.step_s));
    }
    if let Some(note) = imbalance_note(r) {
        let _ = writeln!(o, "  {note}");
    }
    let m = &r.memory;
    let _ = writeln!(o, "\nmemory per device (worst stage), GB:");
    for (name, v) in [
        ("weights", m.weights_gb),
        ("gradients", m.gradients_gb),
        ("optimizer states", m.optimizer_gb),
        ("activations", m.activations_gb),
        ("buffers/reserve", m.buffers_gb),
    ] {
        let _ = writeln!(o, "  {name:<24}{v:>10.1}");
    }
    let _ = writeln!(
        o,
        "  {:<24}{:>10.1}  of {:.1} (an \"{:.0} GB\" device; GB = 1e9 bytes)",
        "total",
        m.total_gb,
        r.memory_capacity_gb,
        r.memory_capacity_gb * 1e9 / 1_073_741_824.0
    );
    // The placement note repeats the `domains` line above.
    for n in r.notes.iter().filter(|n| !n.starts_with("placement: ")) {
        let _ = writeln!(o, "\nnote: {n}");
    }
    o
}

pub fn catalog_json(c: &Catalog) -> Value {
    json!({
        "chips": c.chips.values().collect::<Vec<_>>(),
        "calibrations": c.calibrations.values().collect::<Vec<_>>(),
        "fabrics": c.fabrics.values().collect::<Vec<_>>(),
        "topologies": c.topologies.values().collect::<Vec<_>>(),
    })
}

pub fn catalog_text(c: &Catalog) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "chips ({}):", c.chips.len());
    let _ = writeln!(
        o,
        "  {:<16} {:<34} {:>8} {:>8} {:>6} {:>8} {:>9} {:>5} {:>6}  confidence",
        "id", "name", "BF16 TF", "8bit TF", "HBM GB", "HBM GB/s", "scale-up", "dom", "TDP W"
    );
    for ch in c.chips.values() {
        let fp8 = ch.fp8_dense_tflops.map_or("-".to_string(), |v| format!("{v:.0}"));
        let _ = writeln!(
            o,
            "  {:<16} {:<34} {:>8.0} {:>8} {:>6.0} {:>8.0} {:>9.0} {:>5} {:>6.0}  {}",
            ch.id,
            ch.name,
            ch.bf16_dense_tflops,
            fp8,
            ch.hbm_gb,
            ch.hbm_gb_per_s,
            ch.scale_up_gb_per_s_bidir,
            ch.scale_up_domain,
            ch.tdp_w,
            ch.confidence
        );
    }
    let _ = writeln!(o, "\nfabrics ({}):", c.fabrics.len());
    let _ = writeln!(o, "  {:<22} {:<10} {:>12} {:>10} {:>6} {:>6}  name", "id", "kind", "Gbit/s/dir", "latency us", "eff", "domain");
    for f in c.fabrics.values() {
        let _ = writeln!(
            o,
            "  {:<22} {:<10} {:>12.0} {:>10.1} {:>6.2} {:>6}  {}",
            f.id,
            format!("{:?}", f.kind),
            f.gbit_per_s_per_direction,
            f.latency_us,
            f.collective_efficiency,
            f.domain_devices.map_or("-".to_string(), |d| d.to_string()),
            f.name
        );
    }
    let _ = writeln!(o, "\ntopologies ({}):", c.topologies.len());
    for t in c.topologies.values() {
        let _ = writeln!(
            o,
            "  {:<20} leaf {:>3} nodes, pod {:>5} nodes, oversubscription leaf {:.0}:1 core {:.0}:1{}  {}",
            t.id,
            t.nodes_per_leaf,
            t.nodes_per_pod,
            t.leaf_oversubscription,
            t.core_oversubscription,
            if t.rails { ", rails" } else { "" },
            t.name
        );
    }
    o
}

pub fn validation_text(r: &StepReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "validation: {}", r.file);
    if let Some(s) = &r.settings_file {
        let _ = writeln!(o, "settings:   {s} (how each run was made: stack, precision, ...)");
    }
    let _ = writeln!(
        o,
        "  {:<36} {:<16} {:<18} {:>10} {:>10} {:>8} {:>7} {:>7}",
        "case", "family", "stack", "predicted", "published", "error", "MFU", "pub MFU"
    );
    for c in &r.cases {
        let pub_mfu = c.measured_mfu.map_or("-".to_string(), pct);
        match (c.predicted_step_s, c.error, &c.failure) {
            (Some(p), Some(e), _) => {
                let _ = writeln!(
                    o,
                    "  {:<36} {:<16} {:<18} {:>9.2}s {:>9.2}s {:>+7.1}% {:>7} {:>7}",
                    c.id,
                    c.family,
                    c.stack,
                    p,
                    c.measured_step_s,
                    100.0 * e,
                    c.predicted_mfu.map_or("-".to_string(), pct),
                    pub_mfu
                );
            }
            (_, _, f) => {
                let _ = writeln!(
                    o,
                    "  {:<36} {:<16} {:<18} {:>10} {:>9.2}s   FAILED: {}",
                    c.id,
                    c.family,
                    c.stack,
                    "-",
                    c.measured_step_s,
                    f.as_deref().unwrap_or("no result")
                );
            }
        }
    }
    let bias = |e: f64| match e {
        e if e < -0.005 => "optimistic",
        e if e > 0.005 => "pessimistic",
        _ => "no bias",
    };
    let stats_line = |o: &mut String, s: &wanka_sim::validate::ErrorStats| {
        let failed = if s.failed > 0 { format!(", {} failed", s.failed) } else { String::new() };
        let _ = writeln!(
            o,
            "    {:<20} n {:>3}{failed}   MAPE {:>5.1}%   worst {:>5.1}%   mean signed {:>+6.1}% ({})",
            s.group,
            s.n,
            100.0 * s.mape,
            100.0 * s.worst,
            100.0 * s.mean_error,
            bias(s.mean_error)
        );
    };
    if r.by_family.len() > 1 || r.by_stack.len() > 1 {
        let _ = writeln!(
            o,
            "
  per chip family:"
        );
        for s in &r.by_family {
            stats_line(&mut o, s);
        }
        let _ = writeln!(o, "  per software stack:");
        for s in &r.by_stack {
            stats_line(&mut o, s);
        }
    }
    let ord = &r.ordering;
    if ord.pairs > 0 {
        let _ = writeln!(
            o,
            "\n  ranking: {} of {} pairs of layouts of one model on one chip ranked as published (throughput per device; pairs within {:.0}% left out)",
            ord.agree,
            ord.pairs,
            100.0 * wanka_sim::validate::ORDERING_MIN_GAP
        );
        for (fast, slow) in &ord.disagree {
            let _ = writeln!(o, "    published {fast} faster than {slow}; predicted the other way");
        }
    }
    let failed = if r.failed > 0 { format!(", {} could not be simulated", r.failed) } else { String::new() };
    let _ = writeln!(
        o,
        "\n  MAPE {:.1}%   worst |error| {:.1}%   mean signed error {:+.1}% ({})   ({} cases{failed})",
        100.0 * r.mape,
        100.0 * r.max_abs_error,
        100.0 * r.mean_error,
        bias(r.mean_error),
        r.cases.len() - r.failed
    );
    o
}

pub fn calibration_text(fits: &[wanka_sim::validate::calibrate::Fit]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "  {:<18} {:<22} {:>7} {:>8} {:>4} {:>10} {:>10} {:>10} {:>10}",
        "family", "parameter", "fitted", "catalog", "n", "MAPE", "LOO MAPE", "LOO worst", "LOO bias"
    );
    for f in fits {
        let _ = writeln!(
            o,
            "  {:<18} {:<22} {:>7.3} {:>8} {:>4} {:>9.1}% {:>9.1}% {:>9.1}% {:>+9.1}%{}",
            f.family,
            f.parameter.name(),
            f.value,
            f.catalog_value.map_or("-".to_string(), |v| format!("{v:.3}")),
            f.in_sample.n,
            100.0 * f.in_sample.mape,
            100.0 * f.leave_one_out.mape,
            100.0 * f.leave_one_out.worst,
            100.0 * f.leave_one_out.mean_error,
            if f.in_sample.failed > 0 { format!("  ({} cases could not be simulated)", f.in_sample.failed) } else { String::new() }
        );
    }
    o
}

/// The report of `wanka calibrate … --chip ID`: constants, per-row errors, warnings, the overlay written.
pub fn measured_fit_text(f: &wanka_sim::validate::calibrate::MeasuredFit, out: Option<&std::path::Path>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "calibration of family {} from measurements on {}", f.family, f.chip);
    let _ = writeln!(o, "\n  {:<24} {:<18} {:>12} {:>12} {:>12} {:>5}  {}", "constant", "of", "fitted", "std error", "catalog", "rows", "");
    for c in &f.constants {
        let _ = writeln!(
            o,
            "  {:<24} {:<18} {:>12.4} {:>12} {:>12} {:>5}  {}",
            c.name,
            c.owner,
            c.value,
            c.std_error.map_or("-".into(), |s| format!("{s:.4}")),
            c.catalog_value.map_or("-".into(), |v| format!("{v:.4}")),
            c.rows,
            if c.written { "written" } else { "reported only" }
        );
    }
    let _ = writeln!(o, "\n  per row: error of the fit (in sample) and of the fit without the row (leave-one-out)");
    let _ = writeln!(o, "  {:<44} {:>6} {:>12} {:>10} {:>10}", "row", "line", "measured", "in sample", "LOO");
    for r in &f.rows {
        let _ = writeln!(
            o,
            // Every measured quantity is a time (`time_s` or `step_s`).
            "  {:<44} {:>6} {:>10.4e} s  {:>+9.2}% {:>10}",
            r.what,
            r.line,
            r.measured,
            100.0 * r.in_sample_error,
            r.loo_error.map_or("-".into(), |e| format!("{:+.2}%", 100.0 * e))
        );
    }
    let n = f.rows.iter().filter(|r| r.loo_error.is_some()).count();
    if n > 0 {
        let mape = f.rows.iter().filter_map(|r| r.loo_error).map(f64::abs).sum::<f64>() / n as f64;
        let _ = writeln!(o, "  leave-one-out mean |error| over {n} rows: {:.2}%", 100.0 * mape);
    }
    if let Some(s) = &f.step_leave_one_out {
        let _ = writeln!(
            o,
            "  step rows, leave-one-out: MAPE {:.1}%, worst {:.1}%, bias {:+.1}% over {} runs (the overlay's model error)",
            100.0 * s.mape,
            100.0 * s.worst,
            100.0 * s.mean_error,
            s.n
        );
    }
    for w in &f.warnings {
        let _ = writeln!(o, "  warning: {w}");
    }
    match out {
        Some(p) => {
            let _ = writeln!(o, "\noverlay written to {} (use it with `--calibration {}`)", p.display(), p.display());
        }
        None => {
            let _ = writeln!(o, "\nno overlay written (add --out FILE)");
        }
    }
    o
}

pub fn run_json(r: &RunReport) -> Value {
    // The per-seed runs are summarised (`MonteCarlo` keeps them out of its serialisation).
    let mc = serde_json::to_value(&r.monte_carlo).unwrap_or(Value::Null);
    json!({ "context": r.context, "monte_carlo": mc, "bands": r.bands })
}

pub fn run_text(r: &RunReport) -> String {
    let mut o = String::new();
    let c = &r.context;
    let mc = &r.monte_carlo;
    let _ = writeln!(o, "scenario  {}", c.scenario);
    let _ = writeln!(o, "step      {:.3} s, {:.0} tokens/s, MFU {}", c.step_s, c.tokens_per_s, pct(c.mfu));
    let _ =
        writeln!(o, "target    {:.3e} tokens = {} of uninterrupted training on {} devices", c.tokens, duration(c.ideal_days), c.devices);
    if let Some(p) = &c.placement {
        let _ = writeln!(o, "domains   {}", p.describe());
        if p.domain_devices > wanka_sim::run::inputs::FAILURE_NODE_DEVICES {
            let _ = writeln!(
                o,
                "          failures count {}-device servers inside the {}-device domains (the profiles' node rates are per server); a fault of the domain's own switches is not in the profile",
                wanka_sim::run::inputs::FAILURE_NODE_DEVICES,
                p.domain_devices
            );
        }
    }
    let _ = writeln!(o, "failures  profile {}, job MTTI {}", c.failure_profile, duration(c.mtti_hours / 24.0));
    if let Some(basis) = &c.failure_profile_estimate {
        let _ = writeln!(o, "          failure rates are an estimate: {basis}");
    }
    let _ = writeln!(
        o,
        "recovery  checkpoint {:.2} TB, stall {:.1} s, every {:.1} min; restart {:.1} min; {} hot-spare nodes",
        c.checkpoint.bytes / 1e12,
        c.checkpoint.stall_s,
        c.checkpoint_interval_s / 60.0,
        c.restart_s / 60.0,
        c.hot_spare_nodes
    );
    let _ = writeln!(o, "\nMonte Carlo over {} seeds (base seed {}):", mc.seeds, mc.base_seed);
    let _ = writeln!(o, "  {:<22}{:>10}{:>10}{:>10}{:>10}", "", "mean", "p10", "p50", "p90");
    // Wall clock and lost time in one unit, the one the median run reads best in.
    let unit = DurUnit::for_days(mc.wall_days.p50);
    let w = &mc.wall_days;
    let wall = wanka_sim::run::Stats {
        mean: unit.of_days(w.mean),
        p10: unit.of_days(w.p10),
        p50: unit.of_days(w.p50),
        p90: unit.of_days(w.p90),
        ..*w
    };
    let wall_name = format!("wall clock, {}", unit.name());
    for (name, s, f) in [
        (wall_name.as_str(), &wall, 2usize),
        ("ETTR", &mc.ettr, 3),
        ("interruptions", &mc.interruptions, 1),
        ("failures while down", &mc.failures_while_down, 1),
        ("spares used", &mc.spares_used, 1),
    ] {
        let _ = writeln!(o, "  {:<22}{:>10.*}{:>10.*}{:>10.*}{:>10.*}", name, f, s.mean, f, s.p10, f, s.p50, f, s.p90);
    }
    let b = &r.bands;
    let _ = writeln!(
        o,
        "  {:<22}{:>10}{:>10.2}{:>10.2}{:>10.2}   (failures and the model's step-time error: {})",
        format!("+ model error, {}", unit.name()),
        "",
        unit.of_days(b.days_p10_with_model_error),
        unit.of_days(b.days_p50_with_model_error),
        unit.of_days(b.days_p90_with_model_error),
        b.model_error_source
    );
    if mc.completed_fraction < 1.0 {
        let _ = writeln!(o, "  WARNING: only {} of runs reached the token target within max_days", pct(mc.completed_fraction));
    }
    let l = &mc.lost_days_mean;
    let _ = writeln!(o, "\nwhere the time goes (mean, {}):", unit.name());
    let useful = mc.wall_days.mean - l.total_days();
    for (name, v) in [
        ("useful training", useful),
        ("rework since checkpoint", l.rework_days),
        ("restarts", l.restart_days),
        ("checkpoint stalls", l.checkpoint_days),
        ("waiting for spares", l.spare_wait_days),
        ("straggler slowdown", l.straggler_days),
        ("planned maintenance", l.maintenance_days),
    ] {
        let _ = writeln!(o, "  {name:<26}{:>9.2}  {:>6}", unit.of_days(v), pct(v / mc.wall_days.mean));
    }
    let _ = writeln!(o, "\ninterruptions by cause (mean per run):");
    let mut causes: Vec<(&String, &f64)> = mc.interruptions_by_cause_mean.iter().collect();
    causes.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
    for (k, v) in causes {
        let _ = writeln!(o, "  {k:<30}{v:>8.1}");
    }
    o
}

pub fn reliability_text(r: &ReliabilityReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "reliability validation: {} ({} seeds per case)", r.file, r.seeds);
    for c in &r.cases {
        let _ = writeln!(
            o,
            "  {:<22} {:<9} {:<17} ETTR {:.4} (p10 {:.4}, p90 {:.4}) expected {}  {}",
            c.id,
            c.kind,
            c.role.describe(),
            c.predicted_ettr,
            c.predicted_ettr_p10,
            c.predicted_ettr_p90,
            c.expected_ettr,
            if c.pass { "PASS" } else { "FAIL" }
        );
        let _ = writeln!(o, "      failure rate: {}", c.rate_basis);
        for ch in &c.checks {
            let _ = writeln!(o, "      {ch}");
        }
    }
    let _ = writeln!(o);
    for role in [CaseRole::EngineCheck, CaseRole::Prediction] {
        let of: Vec<_> = r.cases.iter().filter(|c| c.role == role).collect();
        if !of.is_empty() {
            let passed = of.iter().filter(|c| c.pass).count();
            let what = match role {
                CaseRole::EngineCheck => "engine checks (analytic, or the run's own rate given)",
                CaseRole::Prediction => "predictions (failure profile from other data)",
            };
            let _ = writeln!(o, "  {what}: {passed} of {} passed", of.len());
        }
    }
    let _ = writeln!(o, "  {} passed, {} failed", r.passed, r.failed);
    o
}

/// A published figure or prediction in the unit the case compares (days or GPU-hours).
fn measure_text(measure: &str, v: f64) -> String {
    if measure == "days" { format!("{v:.1} d") } else { format!("{:.2}M GPU-h", v / 1e6) }
}

/// One plan against another, term by term (seconds per million tokens), and the knobs that differ.
pub fn explain_text(e: &wanka_sim::planning::explain::Explanation, first: &str, second: &str, indent: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{indent}why {first} ({}) beats {second} ({}), seconds per million tokens:", e.first, e.second);
    let _ = writeln!(o, "{indent}  {:<32} {:>10} {:>10} {:>10}", "term", first, second, "gain");
    for t in &e.terms {
        let _ = writeln!(
            o,
            "{indent}  {:<32} {:>10.3} {:>10.3} {:>+10.3}",
            t.term,
            t.first_s_per_mtok,
            t.second_s_per_mtok,
            t.second_s_per_mtok - t.first_s_per_mtok
        );
    }
    let _ = writeln!(
        o,
        "{indent}  {:<32} {:>10.3} {:>10.3} {:>+10.3}",
        "step",
        e.first_s_per_mtok,
        e.second_s_per_mtok,
        e.second_s_per_mtok - e.first_s_per_mtok
    );
    if !e.knobs.is_empty() {
        let _ = writeln!(o, "{indent}  differs in: {}", e.knobs.join("; "));
    }
    o
}

/// Each candidate's best plan against its runner-up (`compare --explain`).
pub fn compare_explain_text(c: &Comparison, seq_len: u32) -> String {
    let mut o = String::new();
    for cand in &c.candidates {
        let [first, second, ..] = cand.top_plans.as_slice() else { continue };
        let _ = writeln!(o, "{}:", cand.name);
        o.push_str(&explain_text(&wanka_sim::planning::explain::explain(first, second, seq_len), "best", "runner-up", "  "));
    }
    o
}

pub fn whole_run_text(r: &wanka_sim::validate::whole_run::WholeRunReport, explain_all: bool) -> String {
    use wanka_sim::validate::whole_run::SEARCH_SPEEDUP_LIMIT;
    let mut o = String::new();
    let _ = writeln!(o, "whole-run validation: {} (Monte Carlo p50 with failures)", r.file);
    let _ = writeln!(
        o,
        "  {:<30} {:>18} {:>14} {:>14} {:>8} {:>4} {:>14} {:>8} {:>9}",
        "case", "devices", "published", "pinned", "error", "tol", "searched", "error", "speed-up"
    );
    for c in &r.cases {
        let shown = |p: &Option<wanka_sim::validate::whole_run::RunPrediction>| {
            p.as_ref().map_or("-".into(), |p| measure_text(&c.measure, if c.measure == "days" { p.days_p50 } else { p.gpu_hours_p50 }))
        };
        let (pin, srch) = (shown(&c.pinned), shown(&c.searched));
        let pct = |e: Option<f64>| e.map_or("-".into(), |e| format!("{:+.1}%", 100.0 * e));
        let ok = match c.within_tolerance {
            Some(true) => "ok",
            Some(false) => "MISS",
            None => "",
        };
        let flag = if c.search_flagged { " (!)" } else { "" };
        let _ = writeln!(
            o,
            "  {:<30} {:>18} {:>14} {:>14} {:>8} {:>4} {:>14} {:>8} {:>9}{flag}",
            c.id,
            format!("{} x {}", c.gpus, c.chip),
            measure_text(&c.measure, c.published),
            pin,
            pct(c.error),
            ok,
            srch,
            pct(c.searched_error),
            pct(c.search_speedup),
        );
        if let Some(p) = &c.pinned {
            let _ = writeln!(
                o,
                "      published layout: {}  step {:.2} s, MFU {:.1}%, MTTI {:.1} h",
                p.parallelism,
                p.step_s,
                100.0 * p.mfu,
                p.mtti_hours
            );
        }
        if let Some(p) = &c.searched {
            let _ = writeln!(o, "      searched layout:  {}  step {:.2} s, MFU {:.1}%", p.parallelism, p.step_s, 100.0 * p.mfu);
        }
        if !c.search_reason.is_empty() {
            let _ = writeln!(o, "      why the search's speed-up (sourced): {}", c.search_reason);
        }
        if let Some(e) = c.explanation.as_ref().filter(|_| explain_all || c.search_flagged) {
            o.push_str(&explain_text(e, "searched", "published", "      "));
        }
        if let Some(f) = &c.failure {
            let _ = writeln!(o, "      FAILED: {f}");
        }
    }
    let _ = writeln!(
        o,
        "\n  pinned: {} of {} within tolerance (MAPE {:.1}%); searched: {} of {} within tolerance; {} searched plans more than {:.0}% faster than the published one without a stated reason{}; {} failed",
        r.pinned_within_tolerance,
        r.pinned_cases,
        100.0 * r.pinned_mape,
        r.searched_within_tolerance,
        r.searched_cases,
        r.search_flagged,
        100.0 * SEARCH_SPEEDUP_LIMIT,
        if r.search_flagged > 0 { " (!)" } else { "" },
        r.failed
    );
    o
}

/// The bands table of `compare`: days and cost p10-p90 from failures alone and with model error, and
/// which candidates cannot be told apart within model error.
fn bands_text(c: &Comparison, unit: DurUnit, short: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "\nbands p10-p90: from failures alone | with the model's own step-time error (`wanka_sim::run::model_error`)");
    let _ = writeln!(
        o,
        "{:>2}  {:<40} {:>15} {:>15} {:>13} {:>13}  {}",
        "#",
        "candidate",
        format!("{short} failures"),
        format!("{short} +model"),
        "M$ failures",
        "M$ +model",
        "model error"
    );
    let range = |a: f64, b: f64, p: usize| format!("{a:.p$}-{b:.p$}");
    let opt_range = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => range(a, b, 1),
        _ => "-".into(),
    };
    for r in c.candidates.iter().filter(|r| r.feasible) {
        let Some(b) = &r.bands else { continue };
        let _ = writeln!(
            o,
            "{:>2}  {:<40} {:>15} {:>15} {:>13} {:>13}  {:.1}% mean |error| over {} runs{}",
            r.rank,
            r.name,
            range(unit.of_days(b.days_p10_failures), unit.of_days(b.days_p90_failures), 1),
            range(unit.of_days(b.days_p10_with_model_error), unit.of_days(b.days_p90_with_model_error), 1),
            opt_range(b.cost_musd_p10_failures, b.cost_musd_p90_failures),
            opt_range(b.cost_musd_p10_with_model_error, b.cost_musd_p90_with_model_error),
            100.0 * b.model_error_mape,
            b.model_error_cases,
            if r.indistinguishable_from.is_empty() {
                String::new()
            } else {
                let ranks: Vec<String> = r
                    .indistinguishable_from
                    .iter()
                    .filter_map(|n| c.candidates.iter().find(|x| &x.name == n).map(|x| format!("#{}", x.rank)))
                    .collect();
                format!("  ~ {}", ranks.join(" "))
            }
        );
    }
    let mut sources: Vec<&str> = c.candidates.iter().filter_map(|r| r.bands.as_ref().map(|b| b.model_error_source.as_str())).collect();
    sources.dedup();
    let mut shown = Vec::new();
    for src in sources {
        if !shown.contains(&src) {
            shown.push(src);
            let _ = writeln!(o, "  model error from: {src}");
        }
    }
    let pairs: Vec<String> = c
        .candidates
        .iter()
        .filter(|r| r.feasible)
        .flat_map(|r| {
            r.indistinguishable_from.iter().filter_map(move |n| {
                let other = c.candidates.iter().find(|x| &x.name == n)?;
                (other.rank > r.rank).then(|| format!("#{} {} and #{} {}", r.rank, r.name, other.rank, other.name))
            })
        })
        .collect();
    if pairs.is_empty() {
        let _ = writeln!(o, "  ~ none: every ranked pair is told apart within model error");
    } else {
        for p in pairs {
            let _ = writeln!(
                o,
                "  ~ {p}: cannot be told apart within model error (bands with model error overlap by at least half of the narrower one)"
            );
        }
    }
    o
}

/// A multi-phase candidate's phases: each phase's plan and its share of the run.
fn phases_text(phases: &[wanka_sim::planning::plan_file::PhaseResult]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "      {:<24} {:>9} {:>7} {:>10} {:>8} {:>6} {:>9} {:>10} {:>8} {:>8}  plan",
        "phase", "tokens", "seq", "batch tok", "step s", "MFU", "p50", "GPU-h", "M$", "MWh"
    );
    for p in phases {
        let _ = writeln!(
            o,
            "      {:<24} {:>9.3e} {:>7} {:>10.3e} {:>8.2} {:>5.1}% {:>9} {:>10.3e} {:>8.2} {:>8.0}  {}",
            p.name,
            p.tokens,
            p.seq_len,
            p.batch_tokens,
            p.step_s,
            100.0 * p.mfu,
            duration(p.days_p50),
            p.gpu_hours_p50,
            p.cost_musd,
            p.energy_mwh,
            p.parallelism
        );
    }
    let _ = writeln!(o, "      (days, GPU-hours, cost and energy shared out by each phase's useful time)");
    o
}

pub fn compare_text(c: &Comparison, elapsed_s: f64) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "plan      {}", c.plan);
    let _ = writeln!(o, "goal      {} on {:.2e} tokens; {} Monte Carlo seeds per candidate\n", c.model, c.tokens, c.seeds);
    // Days, hours or minutes for the whole table, from the fastest candidate's median.
    let fastest = c.candidates.iter().filter(|r| r.feasible).map(|r| r.days.p50).fold(f64::INFINITY, f64::min);
    let unit = DurUnit::for_days(if fastest.is_finite() { fastest } else { 1e9 });
    let short = match unit {
        DurUnit::Days => "d",
        u => u.name(),
    };
    let _ = writeln!(
        o,
        "{:>2}  {:<40} {:>7} {:>7} {:>6} {:>6} {:>9} {:>9} {:>9} {:>8} {:>7}",
        "#",
        "candidate",
        format!("p50 {short}"),
        format!("p90 {short}"),
        "MFU",
        "ETTR",
        "MTTI",
        "cost M$",
        "$/1M tok",
        "MWh",
        "peak MW"
    );
    for r in &c.candidates {
        if !r.feasible {
            let _ = writeln!(o, " -  {:<40} infeasible: {}", r.name, r.infeasible_reason.clone().unwrap_or_default());
            continue;
        }
        let e = &r.economics;
        let _ = writeln!(
            o,
            "{:>2}  {:<40} {:>7.1} {:>7.1} {:>6} {:>6.3} {:>9} {:>9.1} {:>9.2} {:>8.0} {:>7.1}{}",
            r.rank,
            r.name,
            unit.of_days(r.days.p50),
            unit.of_days(r.days.p90),
            pct(r.mfu),
            r.ettr.mean,
            duration(r.mtti_hours / 24.0),
            e.total_usd / 1e6,
            e.usd_per_million_tokens,
            e.energy_mwh,
            e.peak_mw,
            if r.pareto { "  *" } else { "" }
        );
    }
    let _ = writeln!(o, "\n* = on the time-versus-cost Pareto front: {}", c.pareto_front.join(" -> "));
    o.push_str(&bands_text(c, unit, short));
    let _ = writeln!(o, "p10-p90 in the first table covers failure randomness only; the model's own error, per family:");
    let mut seen = Vec::new();
    for n in c.candidates.iter().flat_map(|r| &r.accuracy) {
        if !seen.contains(&&n.family) {
            seen.push(&n.family);
            let _ = writeln!(o, "  {}: {}", n.family, n.text);
        }
    }
    let _ = writeln!(o, "\nchosen parallelism and flags:");
    for r in c.candidates.iter().filter(|r| r.feasible) {
        let _ = writeln!(o, "  {}: {}", r.name, r.parallelism);
        let _ = writeln!(
            o,
            "      step {:.2} s, {:.0} tokens/s, ideal {}, {:.0} interruptions (mean), MTTI {}",
            r.step_s,
            r.tokens_per_s,
            duration(r.ideal_days),
            r.interruptions.mean,
            duration(r.mtti_hours / 24.0)
        );
        if let Some(v) = &r.mixed_verdict {
            let _ = writeln!(o, "      mixed hardware: {v}");
        }
        if !r.phases.is_empty() {
            o.push_str(&phases_text(&r.phases));
        }
        for f in &r.flags {
            let _ = writeln!(o, "      ! {f}");
        }
    }
    let _ = writeln!(o, "\nsearch:");
    for r in &c.candidates {
        let mut rej: Vec<(&String, &u64)> = r.search_rejected.iter().collect();
        rej.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = rej.iter().take(3).map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            o,
            "  {:<40} {:>6} plans, {:>5} feasible, {:>7.0} ms; rejected: {}",
            r.name,
            r.search_enumerated,
            r.search_feasible,
            r.search_ms,
            top.join(", ")
        );
        // The fidelity ladder: what the event simulation ran and how far the screen was on the plans shown.
        if let Some(best) = r.top_plans.first() {
            let worst = r.top_plans.iter().map(|p| p.screen_gap()).fold(0.0_f64, |a, g| if g.abs() > a.abs() { g } else { a });
            let _ = writeln!(
                o,
                "  {:<40} {} simulated exactly (the screen's best {} per pool); best plan screen rank {}, screen {:+.1}% of the event simulation (shown plans within {:+.1}%)",
                "",
                r.search_simulated,
                wanka_sim::planning::search::EXACT_TOP_K,
                best.screen_rank,
                100.0 * best.screen_gap(),
                100.0 * worst
            );
        }
    }
    let _ = writeln!(o, "  {} plans evaluated in {:.1} s in total", c.search_candidates_total, elapsed_s);
    o
}

pub fn compare_csv(c: &Comparison) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "rank",
        "name",
        "feasible",
        "devices",
        "chips",
        "parallelism",
        "step_s",
        "tokens_per_s",
        "mfu",
        "ideal_days",
        "days_p10",
        "days_p50",
        "days_p90",
        "ettr_mean",
        "interruptions_mean",
        "mtti_hours",
        "cost_musd",
        "usd_per_mtok",
        "capex_musd",
        "energy_mwh",
        "peak_mw",
        "pareto",
        "flags",
    ])?;
    for r in &c.candidates {
        let e = &r.economics;
        w.write_record([
            r.rank.to_string(),
            r.name.clone(),
            r.feasible.to_string(),
            r.devices.to_string(),
            r.chips.clone(),
            r.parallelism.clone(),
            r.step_s.to_string(),
            r.tokens_per_s.to_string(),
            r.mfu.to_string(),
            r.ideal_days.to_string(),
            r.days.p10.to_string(),
            r.days.p50.to_string(),
            r.days.p90.to_string(),
            r.ettr.mean.to_string(),
            r.interruptions.mean.to_string(),
            r.mtti_hours.to_string(),
            (e.total_usd / 1e6).to_string(),
            e.usd_per_million_tokens.to_string(),
            (e.capex_usd / 1e6).to_string(),
            e.energy_mwh.to_string(),
            e.peak_mw.to_string(),
            r.pareto.to_string(),
            r.flags.join("; "),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// "stage imbalance: …" when the bottleneck stage is busy over 5% longer than the least busy stage.
fn imbalance_note(r: &StepResult) -> Option<String> {
    let hi = r.timelines.iter().find(|t| t.stage == r.critical_stage)?;
    let lo = r.timelines.iter().min_by(|a, b| a.busy_s.total_cmp(&b.busy_s))?;
    (hi.busy_s > 1.05 * lo.busy_s).then(|| {
        format!(
            "stage imbalance: stage {} is busy {:.3} s, stage {} only {:.3} s ({:+.0}%)",
            hi.stage,
            hi.busy_s,
            lo.stage,
            lo.busy_s,
            100.0 * (hi.busy_s / lo.busy_s - 1.0)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(duration(11.0 / 1440.0), "11.0 min");
        assert_eq!(duration(5.25 / 24.0), "5.2 h");
        assert_eq!(duration(17.44), "17.4 days");
        assert_eq!(duration(f64::INFINITY), "never");
        // The boundaries: two hours and two days change the unit.
        assert_eq!(DurUnit::for_days(1.99 / 24.0), DurUnit::Min);
        assert_eq!(DurUnit::for_days(2.0 / 24.0), DurUnit::Hours);
        assert_eq!(DurUnit::for_days(2.0), DurUnit::Days);
    }
}
