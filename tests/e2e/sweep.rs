//! `wanka sweep` and `wanka merge`: typed outputs, determinism across threads, chunking and shards,
//! up-front errors, the CI gate with JUnit, and loading the tables in pandas and polars.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::{Run, repo_root, temp_dir, wanka, write_file};

/// A sweep file around the bundled default scenario (absolute base path, so it can live anywhere).
pub fn sweep_file(dir: &Path, name: &str, body: &str) -> PathBuf {
    let base = repo_root().join("scenarios/default.ron");
    let text = format!("(\n    name: \"{name}\",\n    base: Scenario({:?}),\n{body}\n)\n", base.display().to_string());
    write_file(dir, &format!("{name}.ron"), &text)
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// The three final outputs of a directory, for byte-for-byte comparisons.
pub fn outputs(dir: &Path) -> [(String, String); 3] {
    ["results.csv", "results.jsonl", "manifest.json"].map(|f| (f.to_string(), read(&dir.join(f))))
}

pub fn assert_same_outputs(a: &Path, b: &Path) {
    for ((name, x), (_, y)) in outputs(a).into_iter().zip(outputs(b)) {
        assert!(x == y, "{name} differs between {} and {}:\n--- first ---\n{x}\n--- second ---\n{y}", a.display(), b.display());
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// 24 points, two of them infeasible (4096 GPUs with DP 160 do not multiply out).
const MIXED: &str = r#"    axes: {
        "cluster.gpus": [4096, 10240],
        "run.failures.multiplier": Uniform(min: 0.5, max: 2.0, steps: 4),
        "run.checkpoint.interval": [Fixed(minutes: 30), Young, Daly],
    },
    seeds: 3,
    economics: (
        money: Rental(usd_per_device_hour: 2.0),
        power: (pue: 1.2, usd_per_kwh: 0.08),
    ),
    expect: ["mfu > 0.3"],"#;

#[test]
fn sweep_writes_typed_csv_and_jsonl_with_every_point() {
    let dir = temp_dir("sweep-typed");
    let f = sweep_file(&dir, "mixed", MIXED);
    let out = dir.join("out");
    let run = wanka(["sweep", &s(&f), "--out", &s(&out), "--junit", &s(&dir.join("junit.xml"))]);
    // The infeasible points fail the expectation: exit 1, and the table is complete anyway.
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stdout.contains("12 ok, 12 infeasible"), "{run}");
    let csv = read(&out.join("results.csv"));
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    for col in [
        "point",
        "status",
        "failure",
        "base_seed",
        "cluster.gpus",
        "run.failures.multiplier",
        "run.checkpoint.interval",
        "step_s",
        "tokens_per_s",
        "mfu",
        "ideal_days",
        "days_mean",
        "days_p10",
        "days_p50",
        "days_p90",
        "ettr_mean",
        "ettr_p10",
        "ettr_p90",
        "interruptions_mean",
        "lost_rework_days",
        "lost_restart_days",
        "lost_checkpoint_days",
        "checkpoint_interval_s",
        "hot_spare_nodes",
        "cost_musd",
        "usd_per_mtok",
        "days_p10_failures",
        "days_p50_failures",
        "days_p90_failures",
        "days_p10_with_model_error",
        "days_p50_with_model_error",
        "days_p90_with_model_error",
        "model_error_cases",
        "model_error_mape",
        "model_error_source",
        "cost_musd_p10_failures",
        "cost_musd_p90_failures",
        "cost_musd_p10_with_model_error",
        "cost_musd_p90_with_model_error",
    ] {
        assert!(header.contains(&col), "no column {col} in {header:?}");
    }
    // The bands, per row: the failure band is the seeds' percentiles, the band with model error is
    // wider, costs follow days.
    let mut bands = csv::Reader::from_path(out.join("results.csv")).unwrap();
    let cols: Vec<String> = bands.headers().unwrap().iter().map(String::from).collect();
    let at = |n: &str| cols.iter().position(|c| c == n).unwrap();
    let mut checked = 0;
    for r in bands.records().map(Result::unwrap).filter(|r| &r[1] == "ok") {
        let x = |n: &str| r[at(n)].parse::<f64>().unwrap();
        assert_eq!(x("days_p50_failures"), x("days_p50"));
        assert_eq!((x("days_p10_failures"), x("days_p90_failures")), (x("days_p10"), x("days_p90")));
        assert!(
            x("days_p10_with_model_error") < x("days_p10_failures") && x("days_p90_with_model_error") > x("days_p90_failures"),
            "{r:?}"
        );
        assert!(x("model_error_cases") >= 3.0 && x("model_error_mape") > 0.0 && !r[at("model_error_source")].is_empty());
        assert!(x("cost_musd_p10_with_model_error") < x("cost_musd_p10_failures"), "{r:?}");
        assert!(x("cost_musd_p10_failures") <= x("cost_musd") && x("cost_musd") <= x("cost_musd_p90_failures"), "{r:?}");
        assert!(x("cost_musd_p90_with_model_error") > x("cost_musd_p90_failures"), "{r:?}");
        checked += 1;
    }
    assert_eq!(checked, 12);
    let manifest: serde_json::Value = serde_json::from_str(&read(&out.join("manifest.json"))).unwrap();
    let types: Vec<(String, String)> = manifest["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["type"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(types.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), header);
    // CSV rows: sorted by point, numbers parse as their column's type, failed points have empty outputs.
    let mut rdr = csv::Reader::from_path(out.join("results.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 24);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[0].parse::<usize>().unwrap(), i);
        let ok = &r[1] == "ok";
        assert_eq!(ok, r[2].is_empty(), "status and error disagree: {r:?}");
        if !ok {
            assert_eq!(&r[1], "infeasible");
            assert!(r[2].contains("tp·pp·dp·cp"), "{r:?}");
        }
        for ((name, ty), cell) in types.iter().zip(r.iter()) {
            match ty.as_str() {
                "int" if !cell.is_empty() => assert!(cell.parse::<i64>().is_ok(), "{name}: `{cell}`"),
                "float" if !cell.is_empty() => {
                    assert!(cell.parse::<f64>().is_ok() && (cell.contains('.') || cell.contains('e')), "{name}: `{cell}`")
                }
                "float" | "int" => assert!(!ok || name == "mtti_hours", "ok point {i} lacks {name}"),
                _ => {}
            }
        }
    }
    // JSON lines: same keys in the same order, numbers as numbers, a missing number as null, text
    // always a string ("" when empty, never null).
    let jsonl = read(&out.join("results.jsonl"));
    assert_eq!(jsonl.lines().count(), 24);
    for (line, r) in jsonl.lines().zip(&rows) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.keys().map(String::as_str).collect::<Vec<_>>().len(), header.len());
        for ((name, ty), cell) in types.iter().zip(r.iter()) {
            let j = &obj[name];
            match (ty.as_str(), cell.is_empty()) {
                ("str", true) => assert_eq!(j.as_str(), Some(""), "{name}: {j}"),
                (_, true) => assert!(j.is_null(), "{name}: {j}"),
                ("int", false) => assert_eq!(j.as_i64(), cell.parse::<i64>().ok(), "{name}"),
                // serde_json's default float parser may be one ulp off; the text is exact.
                ("float", false) => {
                    let (a, b) = (j.as_f64().unwrap(), cell.parse::<f64>().unwrap());
                    assert!((a - b).abs() <= 1e-15 * b.abs(), "{name}: {a} vs {b}");
                    assert!(line.contains(&format!("\"{name}\":{cell}")), "{name}: `{cell}` not verbatim in {line}")
                }
                _ => assert_eq!(j.as_str(), Some(cell), "{name}"),
            }
        }
    }
    assert_eq!(&rows[0][6], "Fixed(minutes: 30)");
    assert_eq!(&rows[3][5], "1.0");
}

#[test]
fn thread_count_and_chunking_do_not_change_outputs() {
    let dir = temp_dir("sweep-threads");
    let f = sweep_file(&dir, "t", MIXED);
    let (a, b) = (dir.join("one"), dir.join("two"));
    let one = wanka(["sweep", &s(&f), "--out", &s(&a), "--threads", "1", "--chunk-rows", "1"]);
    let two = wanka(["sweep", &s(&f), "--out", &s(&b), "--threads", "2", "--chunk-rows", "7"]);
    assert_eq!(one.code, Some(1), "{one}");
    assert_eq!(two.code, Some(1), "{two}");
    assert_eq!(std::fs::read_dir(a.join("chunks")).unwrap().count(), 24, "one row per chunk");
    assert_same_outputs(&a, &b);
    // Resuming a finished sweep recomputes nothing and rewrites the same bytes.
    let again = wanka(["sweep", &s(&f), "--out", &s(&a), "--resume"]);
    assert!(again.stdout.contains("ran       0 points") && again.stdout.contains("24 already done"), "{again}");
    assert_same_outputs(&a, &b);
}

#[test]
fn shards_merge_into_the_single_run_outputs() {
    let dir = temp_dir("sweep-shards");
    let f = sweep_file(&dir, "sh", MIXED);
    let single = dir.join("single");
    assert_eq!(wanka(["sweep", &s(&f), "--out", &s(&single)]).code, Some(1));
    let shards: Vec<PathBuf> = (0..3).map(|k| dir.join(format!("shard-{k}"))).collect();
    // The file may be named differently on each machine: results must not depend on it.
    let f_other = dir.join(".").join("sh.ron");
    for (k, d) in shards.iter().enumerate() {
        let file = if k == 1 { s(&f_other) } else { s(&f) };
        let r = wanka(["sweep", &file, "--out", &s(d), "--shard", &format!("{k}/3"), "--threads", "1"]);
        assert!(r.stdout.contains(&format!("shard     {k}/3: 8 points")), "{r}");
        assert_eq!(read(&d.join("results.csv")).lines().count(), 1 + 8);
    }
    // A missing shard is named.
    let merged = dir.join("merged");
    let partial = wanka(["merge", &s(&shards[0]), &s(&shards[2]), "--out", &s(&merged)]);
    assert_eq!(partial.code, Some(2), "{partial}");
    assert!(partial.stderr.contains("shards not given: 1/3"), "{partial}");
    // Shard order does not matter; the merged files are the single run's, byte for byte, and the gate
    // runs on the merged table.
    let junit = dir.join("merged.xml");
    let m = wanka(["merge", &s(&shards[2]), &s(&shards[0]), &s(&shards[1]), "--out", &s(&merged), "--junit", &s(&junit)]);
    assert_eq!(m.code, Some(1), "{m}");
    assert_same_outputs(&single, &merged);
    assert!(read(&junit).contains("failures=\"12\""));
    // Outputs of another sweep are refused.
    let other = sweep_file(&dir, "other", "    axes: {\"run.failures.multiplier\": [1, 2]},\n    seeds: 2,");
    let od = dir.join("other-out");
    wanka(["sweep", &s(&other), "--out", &s(&od)]).success();
    let mixed = wanka(["merge", &s(&shards[0]), &s(&od), "--out", &s(&dir.join("m2"))]);
    assert_eq!(mixed.code, Some(2), "{mixed}");
    assert!(mixed.stderr.contains("another sweep"), "{mixed}");
}

#[test]
fn output_directories_are_not_mixed_up() {
    let dir = temp_dir("sweep-dirs");
    let f = sweep_file(&dir, "a", "    axes: {\"run.failures.multiplier\": [1, 2]},\n    seeds: 2,");
    let out = dir.join("out");
    wanka(["sweep", &s(&f), "--out", &s(&out)]).success();
    let again = wanka(["sweep", &s(&f), "--out", &s(&out)]);
    assert_eq!(again.code, Some(2), "{again}");
    assert!(again.stderr.contains("--resume"), "{again}");
    let g = sweep_file(&dir, "b", "    axes: {\"run.failures.multiplier\": [1, 3]},\n    seeds: 2,");
    let other = wanka(["sweep", &s(&g), "--out", &s(&out), "--resume"]);
    assert_eq!(other.code, Some(2), "{other}");
    assert!(other.stderr.contains("another sweep"), "{other}");
    // Seeds are part of what a result means.
    let more = wanka(["sweep", &s(&f), "--out", &s(&out), "--resume", "--seeds", "3"]);
    assert_eq!(more.code, Some(2), "{more}");
    let stray = dir.join("stray");
    std::fs::create_dir_all(&stray).unwrap();
    write_file(&stray, "notes.txt", "mine");
    let r = wanka(["sweep", &s(&f), "--out", &s(&stray)]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("not empty"), "{r}");
}

fn expect_bad(dir: &Path, name: &str, body: &str, needles: &[&str]) {
    let f = sweep_file(dir, name, body);
    let out = dir.join(format!("{name}-out"));
    let r = wanka(["sweep", &s(&f), "--out", &s(&out)]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains(&format!("{name}.ron")), "the error names the file: {r}");
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks `{n}`: {r}");
    }
    assert!(!r.stderr.contains("panicked"), "{r}");
    assert!(!out.exists(), "nothing may run (or be written) for a bad sweep: {r}");
}

#[test]
fn bad_sweeps_fail_before_anything_runs() {
    let dir = temp_dir("sweep-bad");
    expect_bad(&dir, "unknown_path", "    axes: {\"cluster.gpuz\": [8192]},", &["axes.cluster.gpuz", "unknown field `gpuz`", "gpus"]);
    expect_bad(&dir, "wrong_type", "    axes: {\"cluster.gpus\": [8192, 4096.5]},", &["axes.cluster.gpus", "4096.5", "u32"]);
    expect_bad(
        &dir,
        "bad_variant",
        "    axes: {\"run.checkpoint.interval\": [Daly, Hourly]},",
        &["axes.run.checkpoint.interval", "Hourly"],
    );
    expect_bad(
        &dir,
        "enum_path",
        "    axes: {\"run.checkpoint.interval.minutes\": [30]},",
        &["run.checkpoint.interval", "Daly", "as a whole"],
    );
    expect_bad(
        &dir,
        "bad_value",
        "    axes: {\"run.failures.multiplier\": [1, -2]},",
        &["point 1 (run.failures.multiplier=-2)", "run.failures.multiplier", ">= 0"],
    );
    expect_bad(&dir, "bad_chip", "    axes: {\"cluster.chip\": [\"h800-sxm\", \"h900-sxm\"]},", &["cluster.chip", "h900-sxm"]);
    expect_bad(
        &dir,
        "zip_len",
        "    axes: {\"cluster.gpus\": [4096, 8192], \"parallelism.dp\": [64]},\n    zip: [[\"cluster.gpus\", \"parallelism.dp\"]],",
        &["zip", "same number of values"],
    );
    expect_bad(
        &dir,
        "zip_unknown",
        "    axes: {\"cluster.gpus\": [4096]},\n    zip: [[\"cluster.gpus\", \"parallelism.tp\"]],",
        &["parallelism.tp", "not one of the axes"],
    );
    expect_bad(&dir, "grid_steps", "    axes: {\"run.failures.multiplier\": Uniform(min: 1, max: 2)},", &["steps"]);
    expect_bad(
        &dir,
        "bad_expect",
        "    axes: {\"run.failures.multiplier\": [1]},\n    expect: [\"dayz_p90 < 3\"],",
        &["expect[0]", "days_p90"],
    );
    expect_bad(
        &dir,
        "cost_without_money",
        "    axes: {\"run.failures.multiplier\": [1]},\n    expect: [\"cost_musd < 3\"],",
        &["cost_musd"],
    );
    expect_bad(&dir, "bad_set", "    set: {\"run.failures.multiplierr\": 2},", &["set.run.failures.multiplierr"]);
    expect_bad(&dir, "syntax", "    axes: {\"cluster.gpus\": [8192,,]},", &["syntax.ron:4:", "Unexpected char"]);
    // --set on the command line is checked the same way.
    let f = sweep_file(&dir, "cli_set", "    axes: {\"run.failures.multiplier\": [1]},");
    let r = wanka(["sweep", &s(&f), "--out", &s(&dir.join("x")), "--set", "run.failures.band=Extreme"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("--set run.failures.band") && r.stderr.contains("Extreme"), "{r}");
}

/// Run Python (`$WANKA_PYTHON`, else `python3`) with a script; `None` if it or the modules it imports
/// are missing (allowed only outside CI: .ci/run installs them in a venv and sets WANKA_PYTHON).
fn python(script: &str, args: &[&str], needs: &str) -> Option<std::process::Output> {
    let py = std::env::var("WANKA_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&py).args(["-c", &format!("import {needs}")]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(std::env::var_os("CI").is_none(), "{py} with {needs} is required in CI (.ci/run installs it): {probe:?}");
        eprintln!("skipped: {py} with {needs} not available");
        return None;
    }
    let out = Command::new(&py).arg("-c").arg(script).args(args).output().expect("run python");
    assert!(out.status.success(), "python failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some(out)
}

fn junit_cases(path: &Path) -> Option<String> {
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
assert len(suites) == 1
cases = suites[0].findall("testcase")
fails = [c for c in cases if c.find("failure") is not None]
assert int(suites[0].get("tests")) == len(cases)
assert int(suites[0].get("failures")) == len(fails)
for c in fails:
    assert c.find("failure").get("message"), c.get("name")
print(len(cases), len(fails))
for c in fails[:3]:
    print(c.get("name"), "|", c.find("failure").get("message"))
"#;
    python(script, &[&s(path)], "xml.etree.ElementTree").map(|o| String::from_utf8(o.stdout).unwrap())
}

#[test]
fn ci_guard_passes_on_the_default_and_fails_when_broken() {
    let dir = temp_dir("sweep-guard");
    let (ok_out, ok_junit) = (dir.join("ok"), dir.join("ok.xml"));
    let ok = wanka(["sweep", "scenarios/sweeps/ci_guard.ron", "--out", &s(&ok_out), "--junit", &s(&ok_junit)]).success();
    assert!(ok.stdout.contains("15 passed, 0 failed"), "{ok}");
    if let Some(cases) = junit_cases(&ok_junit) {
        assert!(cases.starts_with("15 0"), "{cases}");
    }
    let (bad_out, bad_junit) = (dir.join("x4"), dir.join("x4.xml"));
    let bad = wanka([
        "sweep",
        "scenarios/sweeps/ci_guard.ron",
        "--out",
        &s(&bad_out),
        "--junit",
        &s(&bad_junit),
        "--set",
        "run.failures.multiplier=4",
    ]);
    assert_eq!(bad.code, Some(1), "{bad}");
    assert!(bad.stdout.contains("FAIL") && bad.stdout.contains("expected days_p90 < 21"), "{bad}");
    let x = read(&bad_junit);
    assert!(x.contains("<failure") && x.contains("days_p90 = "), "{x}");
    if let Some(cases) = junit_cases(&bad_junit) {
        let (n, f) = cases.split_once(' ').unwrap();
        assert_eq!(n, "15", "{cases}");
        assert!(f.split_whitespace().next().unwrap().parse::<u32>().unwrap() > 0, "{cases}");
    }
}

#[test]
fn tables_load_in_pandas_and_polars_without_type_fixes() {
    let dir = temp_dir("sweep-pandas");
    let f = sweep_file(&dir, "frames", MIXED);
    let out = dir.join("out");
    assert_eq!(wanka(["sweep", &s(&f), "--out", &s(&out)]).code, Some(1));
    let script = r#"
import json, sys
import pandas as pd, polars as pl
out = sys.argv[1]
cols = json.load(open(out + "/manifest.json"))["columns"]
want = {c["name"]: c["type"] for c in cols}
frames = {
    "pandas csv": pd.read_csv(out + "/results.csv"),
    "pandas jsonl": pd.read_json(out + "/results.jsonl", lines=True),
}
for name, df in frames.items():
    assert list(df.columns) == list(want), (name, list(df.columns))
    for c, t in want.items():
        k = df[c].dtype.kind
        if t == "float":
            assert k == "f", (name, c, df[c].dtype)
        elif t == "int":
            # pandas has no missing integers: a column with failed points becomes float, still numeric.
            assert k in "iu" or (k == "f" and df[c].isna().any()), (name, c, df[c].dtype)
        else:
            assert k in "OT" or str(df[c].dtype).startswith(("str", "string")), (name, c, df[c].dtype)
    assert len(df) == 24 and (df["status"] == "ok").sum() == 12
    assert df.loc[df["status"] == "ok", "days_p90"].notna().all()
    assert df.loc[df["status"] != "ok", "days_p90"].isna().all()
for name, df in {"polars csv": pl.read_csv(out + "/results.csv"), "polars jsonl": pl.read_ndjson(out + "/results.jsonl")}.items():
    # polars' ndjson reader does not keep the key order of the lines; the CSV reader does.
    assert (df.columns if "csv" in name else sorted(df.columns)) == (list(want) if "csv" in name else sorted(want)), (name, df.columns)
    for c, t in want.items():
        dt = df.schema[c]
        ok = {"float": dt.is_float(), "int": dt.is_integer(), "str": dt == pl.String or dt == pl.Null}[t]
        assert ok, (name, c, dt)
    assert df.height == 24 and df.filter(pl.col("status") == "ok").height == 12
    assert df.filter(pl.col("status") != "ok")["days_p90"].null_count() == 12
print("frames ok")
"#;
    if let Some(o) = python(script, &[&s(&out)], "pandas, polars") {
        assert!(String::from_utf8_lossy(&o.stdout).contains("frames ok"));
    }
}

/// The check mode lists points without running.
#[test]
fn check_lists_points() {
    let r: Run = wanka(["sweep", "scenarios/sweeps/planner_study.ron", "--check"]).success();
    assert!(r.stdout.contains("64 points") && r.stdout.contains("ok: 64 points checked"), "{r}");
    assert!(r.stdout.contains("cluster.gpus=4096, parallelism.dp=64, parallelism.global_batch=2048, run.failures.multiplier=0.5"), "{r}");
}

#[test]
fn closed_stdout_and_stderr_do_not_abort_a_sweep() {
    // `wanka sweep … 2>&1 | head -1`: the reader goes away after one line; the sweep must still
    // finish, write every output and exit 0 (a failed write to stderr used to panic, exit 101).
    use std::io::BufRead;
    let dir = temp_dir("closed_pipes");
    let f = sweep_file(&dir, "pipes", "    axes: {\"run.failures.multiplier\": [0.5, 1, 2, 4]},\n    seeds: 2,");
    let out = dir.join("out");
    let mut child = Command::new(super::support::wanka_bin())
        .args(["sweep", &s(&f), "--out", &s(&out), "--flush-secs", "0.01", "--chunk-rows", "1"])
        .current_dir(repo_root())
        .env_remove("CI")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wanka");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut first = String::new();
    std::io::BufReader::new(stdout).read_line(&mut first).unwrap();
    drop(stderr);
    let status = child.wait().unwrap();
    assert!(first.starts_with("sweep"), "{first}");
    assert_eq!(status.code(), Some(0), "exit status with closed pipes");
    let csv = read(&out.join("results.csv"));
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(out.join("results.jsonl").is_file() && out.join("manifest.json").is_file());
}

#[test]
fn zero_seeds_are_refused_and_quiet_is_quiet() {
    let dir = temp_dir("zero_seeds");
    let f = sweep_file(&dir, "zero", "    axes: {\"run.failures.multiplier\": [0.5, 1]},\n    seeds: 2,");
    for args in [
        vec!["sweep".to_string(), s(&f), "--out".into(), s(&dir.join("o")), "--seeds".into(), "0".into()],
        vec!["run".into(), "--seeds".into(), "0".into()],
        vec!["compare".into(), "--seeds".into(), "0".into()],
    ] {
        let run = wanka(&args);
        assert_eq!(run.code, Some(2), "{run}");
        assert!(run.stderr.contains("--seeds") && run.stderr.contains("at least 1"), "{run}");
        assert!(!dir.join("o").exists(), "{run}");
    }
    let run = wanka(["--quiet", "sweep", &s(&f), "--out", &s(&dir.join("q"))]).success();
    assert!(run.stderr.is_empty(), "{run}");
    let run = wanka(["sweep", &s(&f), "--out", &s(&dir.join("loud"))]).success();
    assert!(run.stderr.contains("points"), "{run}");
    let run = wanka(["run", "--seeds", "2", "--quiet"]).success();
    assert!(run.stderr.is_empty(), "{run}");
}

/// An all-ok sweep (no failed point, so `failure` is empty in every row) and the mixed one, read with
/// `notebooks/wanka_frames.py`: every column has the manifest's type, in pandas and polars, from CSV
/// and JSON lines; `failure` is text even when empty everywhere, integer columns are integers.
#[test]
fn typed_readers_keep_the_manifest_types_on_all_ok_sweeps() {
    let dir = temp_dir("sweep-typed");
    let ok = sweep_file(&dir, "allok", "    axes: {\"run.failures.multiplier\": [0.5, 1, 2]},\n    seeds: 2,");
    let mixed = sweep_file(&dir, "mixed", MIXED);
    let (ok_out, mixed_out) = (dir.join("ok"), dir.join("mixed"));
    wanka(["sweep", &s(&ok), "--out", &s(&ok_out)]).success();
    assert_eq!(wanka(["sweep", &s(&mixed), "--out", &s(&mixed_out)]).code, Some(1));
    let jsonl = read(&ok_out.join("results.jsonl"));
    assert!(jsonl.contains("\"failure\":\"\"") && !jsonl.contains("\"failure\":null"), "{jsonl}");
    let script = r#"
import sys
sys.path.insert(0, sys.argv[1])
import pandas as pd, polars as pl
from wanka_frames import columns, read_sweep, read_sweep_polars
for out, n_ok in [(sys.argv[2], 3), (sys.argv[3], 12)]:
    want = columns(out)
    for f in ["results.csv", "results.jsonl"]:
        df = read_sweep(out, f)
        assert list(df.columns) == list(want), (f, list(df.columns))
        for c, t in want.items():
            assert str(df[c].dtype) == {"int": "Int64", "float": "float64", "str": "string"}[t], (out, f, c, df[c].dtype)
        assert (df["status"] == "ok").sum() == n_ok
        assert df.loc[df["status"] == "ok", "failure"].eq("").all(), df["failure"]
        pf = read_sweep_polars(out, f)
        for c, t in want.items():
            assert pf.schema[c] == {"int": pl.Int64, "float": pl.Float64, "str": pl.String}[t], (out, f, c, pf.schema[c])
        assert pf.filter(pl.col("status") == "ok").height == n_ok
    # Plain readers on JSON lines: text stays text without any hint.
    plain = pd.read_json(out + "/results.jsonl", lines=True)
    assert plain["failure"].dtype.kind in "OT" or str(plain["failure"].dtype).startswith(("str", "string")), plain["failure"].dtype
    assert pl.read_ndjson(out + "/results.jsonl").schema["failure"] == pl.String
print("typed ok")
"#;
    let nb = repo_root().join("notebooks");
    if let Some(o) = python(script, &[&s(&nb), &s(&ok_out), &s(&mixed_out)], "pandas, polars") {
        assert!(String::from_utf8_lossy(&o.stdout).contains("typed ok"));
    }
}
