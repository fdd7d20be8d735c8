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
