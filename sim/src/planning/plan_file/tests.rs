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
    // Cancelled while it runs, on another thread: after the first Monte Carlo run of the first
    // candidate (a known point, not a wall-clock delay the machine's speed could outrun), it stops and
    // returns no partial comparison.
    let big = PlanFile::parse(include_str!("../../../../scenarios/default_plan.ron"), "default_plan.ron").unwrap();
    let cancel = Cancel::after(1);
    let c2 = cancel.clone();
    let worker = std::thread::spawn(move || big.compare_cancellable(Catalog::builtin(), "default_plan.ron", &c2));
    assert!(matches!(worker.join().unwrap(), Err(WankaError::Cancelled)));
    assert!(cancel.is_cancelled() && cancel.progress() >= 1);
    // The default plan runs 100 seeds for each of several candidates: stopping early means far fewer.
    assert!(cancel.progress() < 100, "{} runs finished after the cancel", cancel.progress());
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

/// PLAN with phases in its goal (the goal's 1e11 tokens split 3:1, the second at twice the sequence).
fn phased(phases: &str, extra: &str) -> String {
    PLAN.replace("batch_tokens: 2e6)", &format!("batch_tokens: 2e6, phases: [{phases}]{extra})"))
}

const TWO_PHASES: &str = r#"(name: "main", tokens: 7.5e10), (name: "long", tokens: 2.5e10, seq_len: Some(8192))"#;

#[test]
fn phase_errors_name_the_field() {
    let e = err(&phased(r#"(name: "main", tokens: 7.5e10), (name: "long", tokens: 2e10)"#, ""));
    assert!(e.contains("goal.phases") && e.contains("add up to 9.5e10") && e.contains("1e11"), "{e}");
    let e = err(&phased(r#"(name: "a", tokens: 5e10), (name: "a", tokens: 5e10)"#, ""));
    assert!(e.contains("goal.phases[1].name") && e.contains("unique"), "{e}");
    let e = err(&phased(r#"(name: "a", tokens: 1e11, gpus: Some(0))"#, ""));
    assert!(e.contains("goal.phases[0].gpus"), "{e}");
    let e = err(&phased(r#"(name: "a", tokens: 1e11, batch_tokens: Some(100.0))"#, ""));
    assert!(e.contains("goal.phases[0].batch_tokens") && e.contains("at least one sequence"), "{e}");
    let e = err(&phased(TWO_PHASES, ", batch_ramp: Some((from_batch_tokens: 4096, over_tokens: 8e10))"));
    assert!(e.contains("goal.batch_ramp.over_tokens") && e.contains("7.5e10"), "{e}");
    let e = err(&phased(TWO_PHASES, ", batch_ramp: Some((from_batch_tokens: 4e6, over_tokens: 1e9))"));
    assert!(e.contains("goal.batch_ramp.from_batch_tokens"), "{e}");
    // A phase on more devices than the candidate has is refused when compared.
    let p = PlanFile::parse(&phased(r#"(name: "a", tokens: 1e11, gpus: Some(128))"#, ""), "p.ron").unwrap();
    let e = p.compare(Catalog::builtin(), "p.ron").unwrap_err().to_string();
    assert!(e.contains("goal.phases[0].gpus") && e.contains("has 64"), "{e}");
}

#[test]
fn a_ramp_is_steps_of_its_mean_batch_that_keep_the_tokens() {
    let p = PlanFile::parse(&phased(TWO_PHASES, ", batch_ramp: Some((from_batch_tokens: 4096, over_tokens: 2e10))"), "p.ron").unwrap();
    let ph = p.goal.resolved_phases();
    let names: Vec<&str> = ph.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["main ramp 1/4", "main ramp 2/4", "main ramp 3/4", "main ramp 4/4", "main", "long"]);
    let total: f64 = ph.iter().map(|x| x.tokens).sum();
    assert!((total - 1e11).abs() < 1.0, "{total}");
    assert!((ph[4].tokens - 5.5e10).abs() < 1.0, "the ramp's tokens come out of the phase it starts");
    // Mean of each quarter of the linear ramp 4096 -> 2e6: 4096 + (2e6 - 4096)·(k + ½)/4.
    for (k, x) in ph[..4].iter().enumerate() {
        let want = 4096.0 + (2e6 - 4096.0) * (k as f64 + 0.5) / 4.0;
        assert!((x.batch_tokens - want).abs() < 1e-6, "step {k}: {} vs {want}", x.batch_tokens);
    }
    assert_eq!(ph[5].seq_len, 8192);
    assert_eq!(ph[4].batch_tokens, 2e6);
}

#[test]
fn phases_share_out_the_run_and_a_longer_context_costs_more_per_token() {
    let p = PlanFile::parse(&phased(TWO_PHASES, ""), "p.ron").unwrap();
    let c = p.compare(Catalog::builtin(), "p.ron").unwrap();
    let r = &c.candidates[0];
    assert!(r.feasible, "{:?}", r.infeasible_reason);
    assert_eq!(r.phases.len(), 2);
    let days: f64 = r.phases.iter().map(|x| x.days_p50).sum();
    assert!((days - r.days.p50).abs() < 1e-9 * r.days.p50, "{days} vs {}", r.days.p50);
    let cost: f64 = r.phases.iter().map(|x| x.cost_musd * 1e6).sum();
    assert!((cost - r.economics.total_usd).abs() < 1e-6 * r.economics.total_usd);
    let (main, long) = (&r.phases[0], &r.phases[1]);
    assert_eq!((main.seq_len, long.seq_len), (4096, 8192));
    // Attention grows with the context: fewer tokens per second at 8k than at 4k.
    assert!(long.tokens_per_s < main.tokens_per_s, "{} vs {}", long.tokens_per_s, main.tokens_per_s);
    // The run's throughput is the tokens over the phases' useful time.
    let work: f64 = r.phases.iter().map(|x| x.tokens / x.tokens_per_s).sum();
    assert!((r.tokens_per_s - 1e11 / work).abs() < 1e-9 * r.tokens_per_s);
    // One phase is the goal itself: no phase table, the same result as without phases.
    let one =
        PlanFile::parse(&phased(r#"(name: "all", tokens: 1e11)"#, ""), "p.ron").unwrap().compare(Catalog::builtin(), "p.ron").unwrap();
    let plain = PlanFile::parse(PLAN, "p.ron").unwrap().compare(Catalog::builtin(), "p.ron").unwrap();
    assert!(one.candidates[0].phases.is_empty());
    assert_eq!(one.candidates[0].days, plain.candidates[0].days);
    assert_eq!(one.candidates[0].parallelism, plain.candidates[0].parallelism);
}

/// `calibration:` names an overlay relative to the plan file; a missing one is an error naming the
/// plan file and the field; a present one prices the candidates (its leave-one-out errors give the
/// model-error band).
#[test]
fn a_plan_names_its_calibration_overlay_relative_to_itself() {
    let dir = std::env::temp_dir().join(format!("wanka_plan_cal_{}", std::process::id()));
    std::fs::create_dir_all(dir.join("o")).unwrap();
    let with = |path: &str| PLAN.replace("settings:", &format!("calibration: Some(\"{path}\"),\n        settings:"));
    let p = PlanFile::parse(&with("o/h.ron"), "p.ron").unwrap();
    let plan_path = dir.join("p.ron");
    assert_eq!(p.calibration_path(Some(&plan_path)), Some(dir.join("o/h.ron")));
    assert!(PlanFile::parse(PLAN, "p.ron").unwrap().calibrated_catalog(Catalog::builtin(), Some(&plan_path), "p.ron").unwrap().is_none());
    let e = p.calibrated_catalog(Catalog::builtin(), Some(&plan_path), "p.ron").unwrap_err().to_string();
    assert!(e.starts_with("p.ron: field `calibration`") && e.contains("o/h.ron") && e.contains("relative"), "{e}");
    let overlay = r#"(provenance: (tool: "t", date: "2026-12-01", family: "nvidia-hopper", files: [], rows_used: 4),
        calibrations: {"nvidia-hopper": (gemm_max_fraction: Some(0.5), loo_step_errors: [0.01, -0.02, 0.015, 0.0])})"#;
    std::fs::write(dir.join("o/h.ron"), overlay).unwrap();
    let cat = p.calibrated_catalog(Catalog::builtin(), Some(&plan_path), "p.ron").unwrap().unwrap();
    assert_eq!(cat.calibrations["nvidia-hopper"].gemm_max_fraction, 0.5);
    let c = p.compare(&cat, "p.ron").unwrap();
    let b = c.candidates[0].bands.as_ref().unwrap();
    assert_eq!(b.model_error_cases, 4, "{}", b.model_error_source);
    let plain = p.compare(Catalog::builtin(), "p.ron").unwrap();
    assert!(c.candidates[0].step_s > plain.candidates[0].step_s, "a lower ceiling, a slower step");
    // A bad figure in the overlay names the overlay file and its field.
    std::fs::write(dir.join("o/h.ron"), overlay.replace("Some(0.5)", "Some(1.5)")).unwrap();
    let e = p.calibrated_catalog(Catalog::builtin(), Some(&plan_path), "p.ron").unwrap_err().to_string();
    assert!(e.contains("h.ron") && e.contains("gemm_max_fraction"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
