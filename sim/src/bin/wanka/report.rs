//! Human-readable and JSON renderings of library results for the terminal.

use serde_json::{Value, json};
use std::fmt::Write;

use wanka_sim::Catalog;
use wanka_sim::scenario::Scenario;
use wanka_sim::step::StepResult;
use wanka_sim::validate::StepReport;

pub fn step_json(s: &Scenario, r: &StepResult) -> Value {
    json!({ "scenario": s.name, "result": r })
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

pub fn step_text(s: &Scenario, r: &StepResult, catalog: &Catalog) -> String {
    let mut o = String::new();
    let chip = catalog
        .chip(&s.cluster.chip)
        .map(|c| c.name.clone())
        .unwrap_or_default();
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
    let _ = writeln!(
        o,
        "plan      TP{} PP{} DP{} CP{} EP{}  zero {}  recompute {:?}  SP {}",
        p.tp, p.pp, p.dp, p.cp, p.ep, p.zero_stage, p.recompute, p.sequence_parallel
    );
    let _ = writeln!(o);
    let _ = writeln!(o, "step time        {:>10.3} s", r.step_s);
    let _ = writeln!(o, "throughput       {:>10.0} tokens/s", r.tokens_per_s);
    let _ = writeln!(o, "MFU / HFU        {:>10} / {}", pct(r.mfu), pct(r.hfu));
    let b = &r.breakdown;
    let _ = writeln!(o, "\nbreakdown (critical stage {}):", r.critical_stage);
    for (name, v) in [
        ("compute", b.compute_s),
        ("exposed TP/CP/EP comm", b.tp_comm_s),
        ("pipeline bubble", b.pp_bubble_s),
        ("exposed DP comm", b.dp_comm_s),
        ("optimizer + other", b.optimizer_other_s),
    ] {
        let _ = writeln!(o, "  {name:<24}{v:>10.3} s  {:>6}", pct(v / r.step_s));
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
        "  {:<24}{:>10.1}  of {:.0} GB",
        "total", m.total_gb, r.memory_capacity_gb
    );
    for n in &r.notes {
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
        "  {:<16} {:<34} {:>8} {:>8} {:>6} {:>8} {:>9} {:>5} {:>6}  {}",
        "id",
        "name",
        "BF16 TF",
        "8bit TF",
        "HBM GB",
        "HBM GB/s",
        "scale-up",
        "dom",
        "TDP W",
        "confidence"
    );
    for ch in c.chips.values() {
        let fp8 = ch
            .fp8_dense_tflops
            .map_or("-".to_string(), |v| format!("{v:.0}"));
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
    let _ = writeln!(
        o,
        "  {:<20} {:<10} {:>12} {:>10} {:>6}  {}",
        "id", "kind", "Gbit/s/dir", "latency us", "eff", "name"
    );
    for f in c.fabrics.values() {
        let _ = writeln!(
            o,
            "  {:<20} {:<10} {:>12.0} {:>10.1} {:>6.2}  {}",
            f.id,
            format!("{:?}", f.kind),
            f.gbit_per_s_per_direction,
            f.latency_us,
            f.collective_efficiency,
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
    let _ = writeln!(
        o,
        "  {:<32} {:>10} {:>10} {:>8} {:>7} {:>7}",
        "case", "predicted", "published", "error", "MFU", "pub MFU"
    );
    for c in &r.cases {
        let pub_mfu = c.measured_mfu.map_or("-".to_string(), pct);
        let _ = writeln!(
            o,
            "  {:<32} {:>9.2}s {:>9.2}s {:>+7.1}% {:>7} {:>7}",
            c.id,
            c.predicted_step_s,
            c.measured_step_s,
            100.0 * c.error,
            pct(c.predicted_mfu),
            pub_mfu
        );
    }
    let _ = writeln!(
        o,
        "\n  MAPE {:.1}%   worst |error| {:.1}%   ({} cases)",
        100.0 * r.mape,
        100.0 * r.max_abs_error,
        r.cases.len()
    );
    o
}
