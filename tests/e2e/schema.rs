//! The `--json` outputs against their schemas (`wanka schema KIND`, `sim/schemas/`): real outputs of
//! step, run, compare, validate and catalog validate; a renamed, retyped or extra field does not.

use serde_json::Value;

use super::support::{temp_dir, wanka, write_file};

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
        &min,
    ] {
        assert_valid("step", &step, &wanka(["step", f, "--json"]).success().json(), f);
    }
    let run = schema("run");
    for f in ["scenarios/examples/llama3-405b-16k.ron", "scenarios/examples/gb200-nvl72-128.ron", &min] {
        assert_valid("run", &run, &wanka(["-q", "run", f, "--seeds", "3", "--json"]).success().json(), f);
    }
    let compare = schema("compare");
    assert_valid("compare", &compare, &wanka(["-q", "compare", "--seeds", "3", "--json"]).success().json(), "default plan");
    let p2026 = wanka(["-q", "compare", "scenarios/plan_2026_supernodes.ron", "--seeds", "3", "--json"]).success().json();
    assert_valid("compare", &compare, &p2026, "2026 plan");
    let validate = schema("validate");
    for f in ["scenarios/validation/holdout_cases.csv", "scenarios/validation/reliability_cases.csv", "scenarios/validation/whole_runs.csv"]
    {
        let r = wanka(["validate", f, "--json"]);
        assert!(r.code == Some(0) || r.code == Some(1), "{r}");
        assert_valid("validate", &validate, &r.json(), f);
    }
    let catalog = schema("catalog");
    assert_valid("catalog", &catalog, &wanka(["catalog", "--json"]).success().json(), "catalog");
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
