//! `wanka calibrate MEASUREMENTS… --chip ID`, the overlay it writes (`--calibration FILE`) and the
//! forecast bands with model error in `compare --json`.

use super::support::{repo_root, temp_dir, wanka, write_file};

const EXAMPLE_PLAN: &str = "scenarios/validation/calibration_example/plan_mlu590.ron";
const MEASUREMENTS: [&str; 3] = [
    "scenarios/validation/calibration_example/mlu590_gemm.csv",
    "scenarios/validation/calibration_example/mlu590_allreduce_roce200.txt",
    "scenarios/validation/calibration_example/mlu590_steps.csv",
];

fn candidate<'a>(v: &'a serde_json::Value, prefix: &str) -> &'a serde_json::Value {
    v["candidates"].as_array().unwrap().iter().find(|c| c["name"].as_str().unwrap().starts_with(prefix)).unwrap()
}

fn width(b: &serde_json::Value, with: &str) -> f64 {
    b[format!("days_p90_{with}")].as_f64().unwrap() - b[format!("days_p10_{with}")].as_f64().unwrap()
}

/// The worked example of the README: an overlay fitted from the measurement files changes the MLU590
/// candidate's forecast and narrows its band with model error to what its leave-one-out error justifies.
#[test]
fn an_overlay_from_measurements_changes_and_narrows_the_forecast() {
    let dir = temp_dir("calibration-overlay");
    let overlay = dir.join("mlu590.ron");
    let mut args: Vec<String> = vec!["calibrate".into()];
    args.extend(MEASUREMENTS.iter().map(|s| s.to_string()));
    args.extend(["--chip", "mlu590", "--fabric", "roce-200g", "--date", "2026-12-01", "--out"].map(String::from));
    args.push(overlay.display().to_string());
    let run = wanka(&args).success();
    println!("{}", run.stdout);
    for c in ["gemm_max_fraction", "gemm_half_dim", "kernel_overhead_us", "collective_efficiency"] {
        assert!(run.stdout.contains(c), "{c} missing:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("leave-one-out"), "{}", run.stdout);
    let text = std::fs::read_to_string(&overlay).unwrap();
    assert!(text.contains("date: \"2026-12-01\"") && text.contains("mlu590_gemm.csv") && text.contains("rows_used: 31"), "{text}");
    // The built-in catalog is not touched.
    let chips = std::fs::read_to_string(repo_root().join("scenarios/catalog/chips.ron")).unwrap();
    assert!(!chips.contains("loo_step_errors"));

    let before = wanka(["-q", "compare", EXAMPLE_PLAN, "--seeds", "6", "--json"]).success().json();
    let after =
        wanka(["-q", "--calibration", overlay.to_str().unwrap(), "compare", EXAMPLE_PLAN, "--seeds", "6", "--json"]).success().json();
    let (b, a) = (&candidate(&before, "16k MLU590")["bands"], &candidate(&after, "16k MLU590")["bands"]);
    println!(
        "MLU590 days p10-p90 with model error: before {:.1}-{:.1} ({}), after {:.1}-{:.1} ({})",
        b["days_p10_with_model_error"],
        b["days_p90_with_model_error"],
        b["model_error_source"],
        a["days_p10_with_model_error"],
        a["days_p90_with_model_error"],
        a["model_error_source"]
    );
    assert!(b["model_error_source"].as_str().unwrap().contains("assumption"), "{b}");
    assert_eq!(a["model_error_cases"], 5, "{a}");
    assert!(width(a, "with_model_error") < 0.5 * width(b, "with_model_error"), "{a} vs {b}");
    // Each band with model error contains the failure-only one's median; costs carried with it.
    for x in [a, b] {
        assert!(x["days_p10_with_model_error"].as_f64() < x["days_p50_failures"].as_f64(), "{x}");
        assert!(x["days_p90_with_model_error"].as_f64() > x["days_p50_failures"].as_f64(), "{x}");
        assert!(x["cost_musd_p90_with_model_error"].as_f64() > x["cost_musd_p10_with_model_error"].as_f64(), "{x}");
    }
    // The fitted ceiling is lower than the carried one: the chip's forecast gets longer.
    let days = |v: &serde_json::Value| candidate(v, "16k MLU590")["days"]["p50"].as_f64().unwrap();
    assert!(days(&after) > days(&before) * 1.1, "{} vs {}", days(&after), days(&before));
}

/// `compare --json` carries both bands and the indistinguishability list for every feasible candidate.
#[test]
fn compare_json_gives_failure_only_and_model_error_bands() {
    let v = wanka(["-q", "compare", EXAMPLE_PLAN, "--seeds", "4", "--json"]).success().json();
    let names: Vec<&str> = v["candidates"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for c in v["candidates"].as_array().unwrap() {
        let b = &c["bands"];
        assert!(width(b, "with_model_error") > width(b, "failures"), "{b}");
        assert_eq!(b["days_p50_failures"], c["days"]["p50"]);
        for other in c["indistinguishable_from"].as_array().unwrap() {
            let o = other.as_str().unwrap();
            assert!(names.contains(&o) && o != c["name"], "{o}");
            // Symmetric.
            assert!(candidate(&v, o)["indistinguishable_from"].as_array().unwrap().contains(&c["name"]));
        }
    }
}

/// A malformed nccl-tests file is refused with its line; so is an unreadable layout, naming all three.
#[test]
fn malformed_measurement_files_are_errors_with_their_line() {
    let dir = temp_dir("calibration-bad");
    let good = std::fs::read_to_string(repo_root().join("sim/tests/data/nccl_all_reduce_h100_16.txt")).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with("4194304 ")).unwrap();
    let mut bad = lines.clone();
    let broken = lines[at].replace("21.57", "21,57");
    bad[at] = &broken;
    let f = write_file(&dir, "bad_allreduce.txt", &bad.join("\n"));
    let run = wanka(["calibrate", f.to_str().unwrap(), "--chip", "h100-sxm", "--fabric", "nvlink4"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains(&format!("bad_allreduce.txt:{}:", at + 1)) && run.stderr.contains("busbw"), "{run}");
    let f = write_file(&dir, "what.csv", "a,b\n1,2\n");
    let run = wanka(["calibrate", f.to_str().unwrap(), "--chip", "h100-sxm"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("what.csv:1:1") && run.stderr.contains("measured_step_s") && run.stderr.contains("nccl-tests"), "{run}");
    // An overlay with a figure out of band names the file and the field.
    let o = write_file(
        &dir,
        "bad.ron",
        r#"(provenance: (tool: "t", date: "2026-12-01", family: "cambricon", files: [], rows_used: 1), calibrations: {"cambricon": (gemm_max_fraction: Some(1.4))})"#,
    );
    let run = wanka(["--calibration", o.to_str().unwrap(), "catalog"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("bad.ron") && run.stderr.contains("gemm_max_fraction"), "{run}");
}

/// HCCL Test output through the CLI: the log's `mpirun -n N ./bin/all_reduce_test` line fixes the bus
/// factor; without it `--ranks` and `--collective` are required (a clear error naming the flag); a
/// `failed` row is refused with its line and field.
#[test]
fn hccl_test_output_is_read_and_its_missing_facts_are_asked_for() {
    let dir = temp_dir("calibration-hccl");
    let good_path = repo_root().join("sim/tests/data/hccl_all_reduce_910b_16.txt");
    let good = std::fs::read_to_string(&good_path).unwrap();
    let run = wanka(["calibrate", good_path.to_str().unwrap(), "--chip", "ascend-910b", "--fabric", "roce-200g", "--json"]).success();
    let v = run.json();
    let eff = v["constants"].as_array().unwrap().iter().find(|c| c["name"] == "collective_efficiency").unwrap()["value"].as_f64().unwrap();
    // The sample was printed from an efficiency of 0.68 (its header says so) with ±1% noise.
    assert!((eff - 0.68).abs() < 0.02 * 0.68, "{eff}");
    let bare: String = good.lines().filter(|l| !l.contains("mpirun")).map(|l| format!("{l}\n")).collect();
    let f = write_file(&dir, "bare.txt", &bare);
    let run = wanka(["calibrate", f.to_str().unwrap(), "--chip", "ascend-910b", "--fabric", "roce-200g"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("bare.txt") && run.stderr.contains("--ranks"), "{run}");
    let run = wanka(["calibrate", f.to_str().unwrap(), "--chip", "ascend-910b", "--fabric", "roce-200g", "--ranks", "16"]);
    assert!(run.code == Some(2) && run.stderr.contains("--collective"), "{run}");
    let v = wanka([
        "calibrate",
        f.to_str().unwrap(),
        "--chip",
        "ascend-910b",
        "--fabric",
        "roce-200g",
        "--ranks",
        "16",
        "--collective",
        "all-reduce",
        "--json",
    ])
    .success()
    .json();
    let again =
        v["constants"].as_array().unwrap().iter().find(|c| c["name"] == "collective_efficiency").unwrap()["value"].as_f64().unwrap();
    assert_eq!(again, eff);
    let run = wanka(["calibrate", f.to_str().unwrap(), "--chip", "ascend-910b", "--fabric", "roce-200g", "--collective", "allgatherx"]);
    assert!(run.code == Some(2) && run.stderr.contains("allowed"), "{run}");
    // A failed result check.
    let lines: Vec<&str> = good.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("65536 ")).unwrap();
    let mut bad: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    bad[at] = bad[at].replace("success", "failed");
    let f = write_file(&dir, "failed.txt", &bad.join("\n"));
    let run = wanka(["calibrate", f.to_str().unwrap(), "--chip", "ascend-910b", "--fabric", "roce-200g"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains(&format!("failed.txt:{}:", at + 1)) && run.stderr.contains("check_result"), "{run}");
}

/// A plan's `calibration:` field (relative to the plan file) is `--calibration`'s equivalent for
/// `compare`; the flag wins when both are given and says so; a missing overlay names the plan file and
/// the field; a sweep around such a plan asks for the overlay as `--calibration`.
#[test]
fn a_plan_file_names_its_calibration_overlay() {
    let dir = temp_dir("calibration-plan-field");
    let overlay = |n: usize| {
        let errs: Vec<String> = (0..n).map(|i| format!("{:.3}", 0.01 * (i as f64 - 1.0))).collect();
        format!(
            r#"(provenance: (tool: "t", date: "2026-12-01", chip: "mlu590", family: "cambricon", files: [], rows_used: {n}),
               calibrations: {{"cambricon": (gemm_max_fraction: Some(0.45), loo_step_errors: [{}])}})"#,
            errs.join(", ")
        )
    };
    std::fs::create_dir_all(dir.join("cal")).unwrap();
    write_file(&dir, "cal/four.ron", &overlay(4));
    let three = write_file(&dir, "three.ron", &overlay(3));
    let plan_text = std::fs::read_to_string(repo_root().join(EXAMPLE_PLAN)).unwrap();
    let at = plan_text.rfind("settings:").unwrap();
    let with = |p: &str| format!("{}calibration: Some(\"{p}\"),\n    {}", &plan_text[..at], &plan_text[at..]);
    let plan = write_file(&dir, "plan.ron", &with("cal/four.ron"));
    let cases = |v: &serde_json::Value| candidate(v, "16k MLU590")["bands"]["model_error_cases"].as_u64().unwrap();
    let run = wanka(["compare", plan.to_str().unwrap(), "--seeds", "2", "--json"]).success();
    assert!(run.stderr.contains("four.ron") && run.stderr.contains("`calibration` field"), "{run}");
    assert_eq!(cases(&run.json()), 4);
    let run = wanka(["--calibration", three.to_str().unwrap(), "compare", plan.to_str().unwrap(), "--seeds", "2", "--json"]).success();
    assert!(run.stderr.contains("the flag wins"), "{run}");
    assert_eq!(cases(&run.json()), 3);
    let missing = write_file(&dir, "missing_plan.ron", &with("nowhere.ron"));
    let run = wanka(["compare", missing.to_str().unwrap(), "--seeds", "2"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("missing_plan.ron: field `calibration`") && run.stderr.contains("nowhere.ron"), "{run}");
    let sweep = write_file(
        &dir,
        "s.ron",
        r#"(name: "s", base: Plan(file: "plan.ron", candidate: "16k MLU590 (RoCE 200GE, west hub)"), seeds: 1, axes: {"run.failures.multiplier": [1.0, 2.0]})"#,
    );
    let run = wanka(["sweep", sweep.to_str().unwrap(), "--out", dir.join("out").to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("plan.ron: field `calibration`") && run.stderr.contains("--calibration"), "{run}");
}

/// Attention-kernel rows (flash-attention's benchmark figures) fit the family's `attention_fraction`,
/// the overlay carries it, and a step on that chip is priced with it.
#[test]
fn attention_rows_fit_the_attention_fraction_and_move_the_step() {
    let dir = temp_dir("calibration-attention");
    let rows = repo_root().join("sim/tests/data/flash_attention_mlu590.csv");
    let overlay = dir.join("attn.ron");
    let run = wanka(["calibrate", rows.to_str().unwrap(), "--chip", "mlu590", "--json", "--out", overlay.to_str().unwrap()]).success();
    let v = run.json();
    let c = v["constants"].as_array().unwrap().iter().find(|c| c["name"] == "attention_fraction").unwrap();
    // The sample was printed from 0.42 (its header says so) with ±1.5% noise.
    let f = c["value"].as_f64().unwrap();
    assert!((f - 0.42).abs() < 0.02 * 0.42 && c["std_error"].as_f64().unwrap() > 0.0, "{c}");
    assert!(v["rows"].as_array().unwrap().iter().all(|r| r["loo_error"].as_f64().unwrap().abs() < 0.03), "{v}");
    assert!(std::fs::read_to_string(&overlay).unwrap().contains("attention_fraction: Some("));
    let s = write_file(&dir, "s.ron", r#"(model: Preset("llama3-8b"), cluster: (chip: "mlu590", gpus: 64), training: (tokens: 1e12))"#);
    let step = |extra: &[&str]| {
        let mut a: Vec<&str> = extra.to_vec();
        a.extend(["-q", "step", s.to_str().unwrap(), "--json"]);
        wanka(a).success().json()["result"]["step_s"].as_f64().unwrap()
    };
    let (before, after) = (step(&[]), step(&["--calibration", overlay.to_str().unwrap()]));
    println!("llama3-8b on 64 MLU590: step {before:.4} s, with the fitted attention_fraction {f:.3}: {after:.4} s");
    assert!((after - before).abs() > 1e-3 * before, "{before} vs {after}");
}

/// `--chip-only`: the overlay moves the measured chip alone (a profile `cambricon@mlu590`), not the
/// family's other chip (MLU370).
#[test]
fn a_chip_only_overlay_leaves_the_familys_other_chips() {
    let dir = temp_dir("calibration-chip-only");
    let out = dir.join("only.ron");
    let mut args: Vec<String> = vec!["calibrate".into(), MEASUREMENTS[0].into()];
    args.extend(["--chip", "mlu590", "--chip-only", "--date", "2026-12-01", "--json", "--out"].map(String::from));
    args.push(out.display().to_string());
    let run = wanka(&args).success();
    assert!(run.stderr.contains("cambricon@mlu590"), "{run}");
    assert_eq!(run.json()["overlay"]["chip_only"], true);
    assert!(std::fs::read_to_string(&out).unwrap().contains("chip_only: true"));
    let cat = |extra: &[&str]| {
        let mut a: Vec<&str> = extra.to_vec();
        a.extend(["catalog", "--json"]);
        wanka(a).success().json()
    };
    let (before, after) = (cat(&[]), cat(&["--calibration", out.to_str().unwrap()]));
    let chip_profile = |v: &serde_json::Value, chip: &str| {
        v["chips"].as_array().unwrap().iter().find(|c| c["id"] == chip).unwrap()["calibration"].as_str().unwrap().to_string()
    };
    assert_eq!(chip_profile(&after, "mlu590"), "cambricon@mlu590");
    assert_eq!(chip_profile(&after, "mlu370-x8"), "cambricon");
    let profile = |v: &serde_json::Value, id: &str| v["calibrations"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned();
    assert_eq!(profile(&before, "cambricon"), profile(&after, "cambricon"), "the family's own profile is untouched");
    let own = profile(&after, "cambricon@mlu590").unwrap();
    assert_ne!(own["gemm_half_dim"], profile(&before, "cambricon").unwrap()["gemm_half_dim"]);
    // Without --chip (a family named instead) the flag is refused.
    let run = wanka(["calibrate", MEASUREMENTS[0], "--family", "cambricon", "--chip-only"]);
    assert_eq!(run.code, Some(2), "{run}");
}
