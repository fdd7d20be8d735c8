//! The `--json` outputs against their schemas (`wanka schema KIND`, `sim/schemas/`): real outputs of
//! step, run, compare, validate and catalog validate; a renamed, retyped or extra field does not.

use serde_json::Value;

use std::collections::{BTreeMap, BTreeSet};

use super::support::{repo_root, temp_dir, wanka, write_file};

/// Validate `v` against the subset of JSON Schema the schemas use: `type` (one or a list),
/// `properties`, `required`, `additionalProperties` (false or a schema), `items`, `anyOf`, `const`.
/// Returns the first violation as `path: reason`.
fn check(schema: &Value, v: &Value, path: &str) -> Result<(), String> {
    if let Some(c) = schema.get("const")
        && c != v
    {
        return Err(format!("{path}: {v} is not {c}"));
    }
    if let Some(alts) = schema.get("anyOf").and_then(Value::as_array) {
        let errs: Vec<String> = alts.iter().filter_map(|s| check(s, v, path).err()).collect();
        if errs.len() == alts.len() {
            return Err(format!("{path}: matches no alternative ({})", errs.join(" | ")));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{path}: bad schema type {t}")),
        };
        let ok = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_u64() || v.is_i64(),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !ok {
            return Err(format!("{path}: {} is not of type {t}", short(v)));
        }
    }
    if let Some(o) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let r = r.as_str().unwrap_or_default();
            if !o.contains_key(r) {
                return Err(format!("{path}: required field `{r}` missing"));
            }
        }
        for (k, x) in o {
            let p = format!("{path}.{k}");
            match props.and_then(|m| m.get(k)) {
                Some(s) => check(s, x, &p)?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => return Err(format!("{path}: field `{k}` is not in the schema")),
                    Some(s @ Value::Object(_)) => check(s, x, &p)?,
                    _ => {}
                },
            }
        }
    }
    if let (Some(a), Some(items)) = (v.as_array(), schema.get("items")) {
        for (i, x) in a.iter().enumerate() {
            check(items, x, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 { format!("{}…", &s[..60]) } else { s }
}

fn schema(kind: &str) -> Value {
    let s = wanka(["schema", kind]).success().json();
    assert_eq!(s["$id"], format!("wanka.{kind}"));
    s
}

fn assert_valid(kind: &str, schema: &Value, v: &Value, what: &str) {
    assert_eq!(v["schema_version"], 2, "{what}");
    assert_eq!(v["schema"], format!("wanka.{kind}"), "{what}");
    if let Err(e) = check(schema, v, "$") {
        panic!("{what}: output does not match `wanka schema {kind}`: {e}");
    }
}

#[test]
fn real_outputs_match_their_schemas() {
    let dir = temp_dir("schemas");
    let min = write_file(
        &dir,
        "min.ron",
        "(model: Preset(\"llama3-70b\"), cluster: (chip: \"a100-sxm-80gb\", gpus: 512), parallelism: (pp: 4), training: (tokens: 1e12))",
    );
    let min = min.display().to_string();
    let step = schema("step");
    for f in [
        "scenarios/default.ron",
        "scenarios/examples/llama3-405b-16k.ron",
        "scenarios/examples/deepseek-v3-2048-h800.ron",
        "scenarios/examples/gb200-nvl72-128.ron",
        "scenarios/examples/cloudmatrix384-1536.ron",
        "scenarios/examples/llama3-70b-auto-512.ron",
        &min,
    ] {
        assert_valid("step", &step, &wanka(["step", f, "--json"]).success().json(), f);
    }
    // A stack comparison: rows that ran and, with the default Megatron-core stack against DeepSeek's,
    // every differing setting priced.
    let versus =
        wanka(["step", "scenarios/examples/deepseek-v3-2048-h800.ron", "--json", "--versus-stack", "megatron-core"]).success().json();
    assert_valid("step", &step, &versus, "step --versus-stack");
    assert!(versus["versus_stack"]["effects"].as_array().is_some_and(|e| e.len() >= 3), "{}", versus["versus_stack"]);
    let run = schema("run");
    for f in ["scenarios/examples/llama3-405b-16k.ron", "scenarios/examples/gb200-nvl72-128.ron", &min] {
        assert_valid("run", &run, &wanka(["-q", "run", f, "--seeds", "3", "--json"]).success().json(), f);
    }
    let compare = schema("compare");
    assert_valid("compare", &compare, &wanka(["-q", "compare", "--seeds", "3", "--json"]).success().json(), "default plan");
    let p2026 = wanka(["-q", "compare", "scenarios/plan_2026_supernodes.ron", "--seeds", "3", "--json"]).success().json();
    assert_valid("compare", &compare, &p2026, "2026 plan");
    let phased = wanka(["-q", "compare", "scenarios/examples/plan_llama3_405b_phases.ron", "--seeds", "3", "--json"]).success().json();
    assert_valid("compare", &compare, &phased, "phased plan");
    assert_eq!(phased["candidates"][0]["phases"].as_array().map(Vec::len), Some(4), "one entry per phase");
    assert!(p2026["candidates"][0].get("phases").is_none(), "a single-phase goal has no phase table");
    let validate = schema("validate");
    for f in ["scenarios/validation/holdout_cases.csv", "scenarios/validation/reliability_cases.csv", "scenarios/validation/whole_runs.csv"]
    {
        let r = wanka(["validate", f, "--json"]);
        assert!(r.code == Some(0) || r.code == Some(1), "{r}");
        assert_valid("validate", &validate, &r.json(), f);
    }
    let catalog = schema("catalog");
    assert_valid("catalog", &catalog, &wanka(["catalog", "--json"]).success().json(), "catalog");
    // Both forms of calibrate: the case-file fits, and one family's fit from measurements.
    let calibrate = schema("calibrate");
    let fits = wanka(["calibrate", "scenarios/validation/public_cases.csv", "--json"]).success().json();
    assert_valid("calibrate", &calibrate, &fits, "calibrate (case files)");
    assert!(fits["fits"].as_array().is_some_and(|f| !f.is_empty()), "one fit per family and constant");
    let ex = "scenarios/validation/calibration_example";
    let measured = wanka([
        "calibrate",
        &format!("{ex}/mlu590_steps.csv"),
        &format!("{ex}/mlu590_gemm.csv"),
        &format!("{ex}/mlu590_allreduce_roce200.txt"),
        "--chip",
        "mlu590",
        "--fabric",
        "roce-200g",
        "--json",
    ])
    .success()
    .json();
    assert_valid("calibrate", &calibrate, &measured, "calibrate (measurements)");
    assert_eq!(measured["schema"], "wanka.calibrate");
}

#[test]
fn schemas_reject_renamed_retyped_and_extra_fields() {
    let step = schema("step");
    let good = wanka(["step", "scenarios/default.ron", "--json"]).success().json();
    assert!(check(&step, &good, "$").is_ok());
    let mut renamed = good.clone();
    let r = renamed["result"].as_object_mut().unwrap();
    let v = r.remove("step_s").unwrap();
    r.insert("step_time_s".into(), v);
    assert!(check(&step, &renamed, "$").unwrap_err().contains("step_s"));
    let mut retyped = good.clone();
    retyped["result"]["step_s"] = Value::String("1.0".into());
    assert!(check(&step, &retyped, "$").unwrap_err().contains("step_s"));
    let mut old = good.clone();
    old["schema_version"] = Value::from(0);
    assert!(check(&step, &old, "$").is_err());
    let mut extra = good;
    extra["result"]["debug"] = Value::from("LatinHypercube { n: 1000, seed: 7 }");
    assert!(check(&step, &extra, "$").unwrap_err().contains("debug"));
    assert_eq!(wanka(["schema", "sweep"]).code, Some(2));
}

#[test]
fn json_outputs_carry_no_rust_debug_text() {
    let outputs = [
        wanka(["-q", "compare", "--seeds", "2", "--json"]).success().stdout,
        wanka(["step", "scenarios/default.ron", "--json"]).success().stdout,
    ];
    for o in outputs {
        for needle in [" None ", "None recompute", "Some(", " { n:"] {
            assert!(!o.contains(needle), "{needle:?} in output:\n{}", &o[..o.len().min(2000)]);
        }
    }
}

/// One row of a vocabulary table in `docs/OUTPUTS.md`: its names, its unit suffix (`None`: no unit),
/// and the outputs it says carry it.
struct VocabRow {
    names: Vec<String>,
    unit: Option<String>,
    carried_by: String,
}

/// The backticked words of a table cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The rows of every table in `text` whose header is `header`, split into trimmed cells (a row with
/// another number of cells fails: a `|` inside a cell would break the table).
fn tables(text: &str, header: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let l = line.trim();
        if l == header {
            inside = true;
            continue;
        }
        if !l.starts_with('|') {
            inside = false;
            continue;
        }
        if inside && !l.starts_with("|---") {
            let cells: Vec<String> = l.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect();
            let want = header.trim_matches('|').split('|').count();
            assert_eq!(cells.len(), want, "docs/OUTPUTS.md: row with {} cells, not {want}: {l}", cells.len());
            rows.push(cells);
        }
    }
    rows
}

/// `docs/OUTPUTS.md`: its vocabulary rows, its unit suffixes and its v1 → v2 rename rows.
fn vocabulary() -> (Vec<VocabRow>, Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(repo_root().join("docs/OUTPUTS.md")).expect("docs/OUTPUTS.md");
    let suffixes: Vec<String> = tables(&text, "| suffix | unit | GUI |").iter().flat_map(|r| backticked(&r[0])).collect();
    let rows: Vec<VocabRow> = tables(&text, "| name | unit | meaning | carried by |")
        .into_iter()
        .map(|r| VocabRow {
            names: backticked(&r[0]),
            unit: if r[1] == "—" { None } else { Some(r[1].trim_matches('`').to_string()) },
            carried_by: r[3].clone(),
        })
        .collect();
    let renames = tables(&text, "| output | version 1 | version 2 |");
    assert!(suffixes.len() >= 10 && rows.len() >= 100 && renames.len() >= 10, "docs/OUTPUTS.md: tables not found");
    (rows, suffixes, renames)
}

const STATS: [&str; 6] = ["mean", "p10", "p50", "p90", "min", "max"];

/// Every property name a schema allows, plus `X_p50`, … for each statistics object `X` (properties
/// among `mean`, `p10`, …), the name of that statistic in a table.
fn schema_names(schema: &Value, out: &mut BTreeSet<String>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            out.insert(k.clone());
            if let Some(inner) = v.get("properties").and_then(Value::as_object)
                && !inner.is_empty()
                && inner.keys().all(|s| STATS.contains(&s.as_str()))
            {
                out.extend(inner.keys().map(|s| format!("{k}_{s}")));
            }
            schema_names(v, out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = schema.get(key).filter(|v| v.is_object()) {
            schema_names(v, out);
        }
    }
    for v in schema.get("anyOf").and_then(Value::as_array).into_iter().flatten() {
        schema_names(v, out);
    }
}

fn keys_of(v: &Value, out: &mut BTreeSet<String>) {
    if let Some(o) = v.as_object() {
        out.extend(o.keys().cloned());
    }
}

/// The names every output carries, by output (`step`, …, `compare.csv`, `sweep`, `manifest`, `events`),
/// from the schemas and from real outputs.
fn output_names() -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut by: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for kind in ["step", "run", "compare", "validate", "catalog", "calibrate"] {
        schema_names(&schema(kind), by.entry(kind).or_default());
    }
    let dir = temp_dir("vocabulary");
    let csv = dir.join("compare.csv");
    wanka(["-q", "compare", "--seeds", "2", "--csv", csv.to_str().unwrap()]).success();
    let header = |f: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(f).unwrap();
        csv::Reader::from_reader(text.as_bytes()).headers().unwrap().iter().map(str::to_string).collect()
    };
    by.insert("compare.csv", header(&csv).into_iter().collect());
    // A sweep with money (the cost columns) and expectations (their fields in the manifest).
    let out = dir.join("guard");
    wanka(["sweep", "scenarios/sweeps/ci_guard.ron", "--out", out.to_str().unwrap(), "--seeds", "2", "--quiet", "--no-gate"]).success();
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let axes: Vec<&str> = manifest["axis_columns"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(!axes.is_empty());
    by.insert("sweep", header(&out.join("results.csv")).into_iter().filter(|c| !axes.contains(&c.as_str())).collect());
    let m = by.entry("manifest").or_default();
    keys_of(&manifest, m);
    for list in ["columns", "expectations"] {
        for x in manifest[list].as_array().unwrap() {
            keys_of(x, m);
        }
    }
    let events = dir.join("events.jsonl");
    wanka(["-q", "run", "scenarios/examples/gb200-nvl72-128.ron", "--seeds", "1", "--events", events.to_str().unwrap()]).success();
    let e = by.entry("events").or_default();
    for line in std::fs::read_to_string(&events).unwrap().lines() {
        keys_of(&serde_json::from_str(line).unwrap(), e);
    }
    by
}

/// Whether `name`'s words (split at `_`) hold the suffix's words in a row: `hbm_gb_per_s` holds `_gb_per_s`.
fn holds(name: &str, suffix: &str) -> bool {
    let w: Vec<&str> = name.split('_').collect();
    let s: Vec<&str> = suffix.trim_start_matches('_').split('_').collect();
    w.windows(s.len()).any(|x| x == s.as_slice())
}

#[test]
fn vocabulary_document_covers_every_output() {
    let (rows, suffixes, renames) = vocabulary();
    let mut documented: BTreeMap<&str, &VocabRow> = BTreeMap::new();
    for r in &rows {
        assert!(!r.names.is_empty(), "docs/OUTPUTS.md: a row without a name (carried by {})", r.carried_by);
        for n in &r.names {
            assert!(documented.insert(n, r).is_none(), "docs/OUTPUTS.md lists `{n}` twice");
        }
    }
    let outputs = output_names();
    // Every name an output carries is documented, and the row says which outputs carry it.
    let mut missing = Vec::new();
    for (out, names) in &outputs {
        for n in names {
            match documented.get(n.as_str()) {
                None => missing.push(format!("{out}: `{n}`")),
                Some(r) => {
                    let says = r.carried_by.split(',').map(|s| s.trim()).any(|s| s == *out);
                    if !says {
                        missing.push(format!("{out}: `{n}` is documented, but its row does not name `{out}` ({})", r.carried_by));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "names not in docs/OUTPUTS.md:\n  {}", missing.join("\n  "));
    // No documented name is dead, and no row claims an output that does not carry its names.
    for (n, r) in &documented {
        for out in r.carried_by.split(',').map(str::trim).filter(|s| !s.starts_with("GUI")) {
            let names = outputs.get(out).unwrap_or_else(|| panic!("docs/OUTPUTS.md: `{n}` is carried by `{out}`: no such output"));
            assert!(
                names.contains(*n) || r.names.iter().any(|m| names.contains(m)),
                "docs/OUTPUTS.md: `{n}` is said to be in `{out}`, which carries no name of its row"
            );
        }
        assert!(outputs.values().any(|s| s.contains(*n)), "docs/OUTPUTS.md: `{n}` is carried by no output");
    }
    // Units: a row's unit is one of the suffixes and in each of its names; a name ending in a suffix has
    // that (the longest) unit.
    for r in &rows {
        if let Some(u) = &r.unit {
            assert!(suffixes.contains(u), "docs/OUTPUTS.md: unit `{u}` of {:?} is not in the Units table", r.names);
        }
        for n in &r.names {
            if let Some(u) = &r.unit {
                assert!(holds(n, u), "docs/OUTPUTS.md: `{n}` is in `{u}` but its name does not say so");
            }
            // `days_min` is the minimum of `days`, not minutes.
            let stat = STATS.iter().any(|s| n.strip_suffix(&format!("_{s}")).is_some_and(|b| r.names.iter().any(|m| m == b)));
            let ends = suffixes.iter().filter(|s| n.ends_with(s.as_str())).max_by_key(|s| s.len());
            if let Some(s) = ends.filter(|_| !stat) {
                assert_eq!(r.unit.as_ref(), Some(s), "docs/OUTPUTS.md: `{n}` ends in `{s}` but its unit is {:?}", r.unit);
            }
        }
    }
    // The rename table: version 2 names are in the vocabulary, version 1 names are gone from their output.
    let ident = |s: &str| s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c));
    let last = |s: &str| s.rsplit('.').next().unwrap_or(s).trim_end_matches("[]").to_string();
    for r in &renames {
        let out = outputs.get(r[0].as_str());
        for old in backticked(&r[1]).iter().filter(|s| ident(s)) {
            if let Some(names) = out {
                assert!(!names.contains(&last(old)), "docs/OUTPUTS.md: `{old}` (version 1) is still in `{}`", r[0]);
            }
        }
        for new in backticked(&r[2]).iter().filter(|s| ident(s)) {
            assert!(documented.contains_key(last(new).as_str()), "docs/OUTPUTS.md: version 2 name `{new}` is not in its tables");
        }
    }
}
