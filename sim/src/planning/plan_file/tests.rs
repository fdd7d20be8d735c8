//! Tests of plan files: errors, ranking, Pareto front, mixed candidates, determinism.

use super::*;

const PLAN: &str = r#"(
        name: "t",
        goal: (model: Preset("llama3-8b"), tokens: 1e11, seq_len: 4096, batch_tokens: 2e6),
        candidates: [
            (
                name: "a",
                pools: [(chip: "h100-sxm", count: 64, gpus_per_node: 8)],
                network: (fabric: "ib-ndr", nic_gbit_per_s_per_gpu: 400.0, topology: "generic-fat-tree"),
                money: Rental(usd_per_device_hour: 2.0),
                power: (pue: 1.2, usd_per_kwh: 0.08),
            ),
        ],
        settings: (top_k: 3, seeds: 8, seed: 1),
    )"#;

fn err(text: &str) -> String {
    PlanFile::parse(text, "p.ron").unwrap_err().to_string()
}

#[test]
fn invalid_plans_get_clear_errors() {
    let e = err(&PLAN.replace("settings:", "setings:"));
    assert!(e.contains("p.ron:") && e.contains("setings"), "{e}");
    let no_cands = PLAN[..PLAN.find("candidates:").unwrap()].to_string() + "candidates: [],\n)";
    let e = err(&no_cands);
    assert!(e.contains("candidates") && e.contains("at least one candidate"), "{e}");
    let e = err(&PLAN.replace("usd_per_device_hour: 2.0", "usd_per_device_hour: -2.0"));
    assert!(e.contains("candidates[0].money.usd_per_device_hour") && e.contains("must be in [0, 100000] USD, got -2"), "{e}");
    let e = err(&PLAN.replace("count: 64", "count: 0"));
    assert!(e.contains("candidates[0].pools[0].count") && e.contains("zero devices"), "{e}");
    let e = err(&PLAN.replace("pue: 1.2", "pue: 0.9"));
    assert!(e.contains("power.pue"), "{e}");
    let p = PlanFile::parse(&PLAN.replace("h100-sxm", "h100-sxm5"), "p.ron").unwrap();
    let e = p.compare(Catalog::builtin(), "p.ron").unwrap_err().to_string();
    assert!(e.contains("candidates[0].pools[0].chip") && e.contains("h100-sxm"), "{e}");
}

#[test]
fn compare_ranks_and_prices() {
    let mut text = PLAN.to_string();
    // A second, slower candidate: A100s at the same rental price.
    let second = r#"(
                name: "b",
                pools: [(chip: "a100-sxm-80gb", count: 64, gpus_per_node: 8)],
                network: (fabric: "ib-hdr", nic_gbit_per_s_per_gpu: 200.0, topology: "generic-fat-tree"),
                money: Rental(usd_per_device_hour: 2.0),
                power: (pue: 1.2, usd_per_kwh: 0.08),
            ),
        ],"#;
    text = text.replacen("        ],", &format!("            {second}"), 1);
    let p = PlanFile::parse(&text, "p.ron").unwrap();
    let c = p.compare(Catalog::builtin(), "p.ron").unwrap();
    assert_eq!(c.candidates.len(), 2);
    assert_eq!(c.candidates[0].name, "a");
    assert_eq!(c.candidates[0].rank, 1);
    assert!(c.candidates[0].days.p50 < c.candidates[1].days.p50);
    // Same price per device-hour, faster finish: cheaper, so the slow one is dominated.
    assert!(c.candidates[0].economics.total_usd < c.candidates[1].economics.total_usd);
    assert_eq!(c.pareto_front, vec!["a".to_string()]);
    let e = &c.candidates[0].economics;
    let hours = c.candidates[0].days.p50 * 24.0;
    let spares = 8.0; // 1% of 8 nodes rounds up to one spare node of 8 devices
    assert!((e.total_usd - 2.0 * (64.0 + spares) * hours).abs() < 1e-6 * e.total_usd, "{}", e.total_usd);
    assert!(c.candidates[0].search_feasible > 0 && c.candidates[0].search_enumerated >= c.candidates[0].search_feasible);
}

#[test]
fn cancelled_comparisons_stop_with_cancelled() {
    let plan = PlanFile::parse(PLAN, "p.ron").unwrap();
    let cancel = Cancel::new();
    cancel.cancel();
    assert!(matches!(plan.compare_cancellable(Catalog::builtin(), "p.ron", &cancel), Err(WankaError::Cancelled)));
    // Cancelled from another thread while it runs (the default plan takes seconds): it stops, and
    // returns no partial comparison.
    let big = PlanFile::parse(include_str!("../../../../scenarios/default_plan.ron"), "default_plan.ron").unwrap();
    let cancel = Cancel::new();
    let c2 = cancel.clone();
    let worker = std::thread::spawn(move || big.compare_cancellable(Catalog::builtin(), "default_plan.ron", &c2));
    std::thread::sleep(std::time::Duration::from_millis(200));
    cancel.cancel();
    assert!(matches!(worker.join().unwrap(), Err(WankaError::Cancelled)));
    // An uncancelled flag changes nothing.
    let a = plan.compare(Catalog::builtin(), "p.ron").unwrap();
    let b = plan.compare_cancellable(Catalog::builtin(), "p.ron", &Cancel::new()).unwrap();
    let json = |c: &Comparison| {
        let mut v = serde_json::to_value(c).unwrap();
        v["candidates"][0]["search_ms"] = serde_json::Value::Null; // wall-clock time of the search
        v
    };
    assert_eq!(json(&a), json(&b));
}
