//! Bad scenarios are reported, never crash: every file in `bad_scenarios/` must make `wanka step` exit
//! with code 2, print nothing on stdout, and print the error its first line announces:
//!
//! ```text
//! // expect: <substring of the expected error>
//! ```
//!
//! A second line `// args: <subcommand and flags>` runs that command instead of `wanka step` (the
//! file is the last argument): run-only checks (`run --seeds 2`), plan files (`compare`) and sweep
//! files (`sweep --check`).
//!
//! `{file}` in the expectation stands for the path the binary was given (relative to the repository
//! root), so messages are checked to name the file, and the line and column where there is one.
//! `bad_scenarios/overflow/` holds inputs whose sizes overflowed 32-bit arithmetic (regression tests
//! for a fixed bug: each file's second line says what it once did).
//!
//! The good scenarios (`scenarios/*.ron`) must all run.

use std::path::{Path, PathBuf};

use super::support::{Run, repo_root, wanka};

const BAD_DIR: &str = "tests/bad_scenarios";
const MIN_BAD_FILES: usize = 135;

/// `.ron` files directly in `dir` (relative to the repository root), sorted.
fn ron_files(dir: &str) -> Vec<PathBuf> {
    let abs = repo_root().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&abs)
        .unwrap_or_else(|e| panic!("{}: {e}", abs.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "ron"))
        .map(|p| Path::new(dir).join(p.file_name().expect("file name")))
        .collect();
    files.sort();
    files
}

/// The expected error announced on the first line of a bad scenario, with `{file}` filled in.
fn expectation(rel: &Path) -> String {
    let text = std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
    let first = text.lines().next().unwrap_or("");
    let want = first
        .strip_prefix("// expect:")
        .unwrap_or_else(|| panic!("{}: first line must be `// expect: <error substring>`", rel.display()))
        .trim();
    assert!(!want.is_empty(), "{}: empty expectation", rel.display());
    want.replace("{file}", &rel.display().to_string())
}

/// The command announced on the second line (`// args: …`), default `step`.
fn command_args(rel: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join(rel)).unwrap_or_default();
    let second = text.lines().nth(1).unwrap_or("");
    match second.strip_prefix("// args:") {
        Some(a) => a.split_whitespace().map(str::to_string).collect(),
        None => vec!["step".to_string()],
    }
}

/// Run `wanka step` on each file (in parallel) and return the description of every failure.
fn check_bad_files(files: &[PathBuf]) -> Vec<String> {
    let runs: Vec<(PathBuf, String, Run)> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|f| {
                s.spawn(move || {
                    let want = expectation(f);
                    let mut args: Vec<std::ffi::OsString> = command_args(f).into_iter().map(Into::into).collect();
                    args.push(f.clone().into_os_string());
                    let run = wanka(args.iter().map(|a| a.as_os_str()));
                    (f.clone(), want, run)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("runner thread")).collect()
    });
    let mut failures = Vec::new();
    for (f, want, run) in runs {
        let mut why = Vec::new();
        if run.code != Some(2) {
            why.push(format!("exit code {:?}, want 2", run.code));
        }
        if !run.stdout.is_empty() {
            why.push("stdout is not empty".to_string());
        }
        if run.stderr.contains("panicked") {
            why.push("panicked".to_string());
        }
        if !run.stderr.contains(&want) {
            why.push(format!("stderr lacks {want:?}"));
        }
        if why.is_empty() {
            println!("ok   {}", f.display());
        } else {
            failures.push(format!("{}: {}\n  stderr: {}", f.display(), why.join("; "), run.stderr.trim()));
        }
    }
    failures
}

#[test]
fn bad_scenarios_are_reported() {
    let files = ron_files(BAD_DIR);
    assert!(files.len() >= MIN_BAD_FILES, "{BAD_DIR} holds {} scenarios, want at least {MIN_BAD_FILES}", files.len());
    let failures = check_bad_files(&files);
    assert!(failures.is_empty(), "{} of {} bad scenarios mishandled:\n{}", failures.len(), files.len(), failures.join("\n"));
}

#[test]
fn overflowing_sizes_are_reported() {
    let files = ron_files(&format!("{BAD_DIR}/overflow"));
    assert!(!files.is_empty());
    let failures = check_bad_files(&files);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Syntax errors name file:line:col of the problem.
#[test]
fn syntax_errors_name_line_and_column() {
    for (name, line_col) in [("syntax_missing_comma", ":9:9:"), ("syntax_unclosed_paren", ":29:7:")] {
        let rel = format!("{BAD_DIR}/{name}.ron");
        let run = wanka(["step", &rel]);
        assert_eq!(run.code, Some(2), "{run}");
        assert!(run.stderr.contains(&format!("{rel}{line_col}")), "want `{rel}{line_col}` in {run}");
    }
}

/// The unknown-id messages suggest the closest catalog ids, nearest first.
#[test]
fn unknown_ids_suggest_closest() {
    for (name, nearest) in [("unknown_chip", "h100-sxm"), ("unknown_fabric", "ib-ndr"), ("unknown_model_preset", "llama3-70b")] {
        let run = wanka(["step", &format!("{BAD_DIR}/{name}.ron")]);
        let list = run.stderr.split("closest catalog ids: ").nth(1).unwrap_or_else(|| panic!("no suggestion list: {run}"));
        assert_eq!(list.split(", ").next().map(str::trim), Some(nearest), "{run}");
    }
}

/// Top-level field names of a RON struct file (fields at nesting depth 1, comments and strings
/// skipped): enough to tell a step scenario from other files kept in `scenarios/`.
fn top_level_fields(text: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                word.clear();
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                word.clear();
            }
            '(' | '[' | '{' => {
                depth += 1;
                word.clear();
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                word.clear();
            }
            ':' if depth == 1 && !word.is_empty() => {
                fields.push(std::mem::take(&mut word));
            }
            c if c.is_alphanumeric() || c == '_' => word.push(c),
            c if c.is_whitespace() => {}
            _ => word.clear(),
        }
    }
    fields
}

/// Every bundled step scenario (`scenarios/*.ron`) runs, in text and JSON. Plan files (a top-level
/// `goal`, for the cluster-planning commands) are listed but not run here.
#[test]
fn good_scenarios_run() {
    let all = ron_files("scenarios");
    assert!(all.iter().any(|f| f.ends_with("default.ron")), "scenarios/default.ron missing: {all:?}");
    let mut files = Vec::new();
    for f in all {
        let text = std::fs::read_to_string(repo_root().join(&f)).expect("read scenario");
        let fields = top_level_fields(&text);
        if fields.iter().any(|k| k == "goal") && !fields.iter().any(|k| k == "parallelism") {
            println!("skip {} (plan file, not a step scenario)", f.display());
        } else {
            files.push(f);
        }
    }
    let results: Vec<(PathBuf, Run, Run)> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|f| {
                s.spawn(move || {
                    let text = wanka(["step".as_ref(), f.as_os_str()]);
                    let json = wanka(["step".as_ref(), f.as_os_str(), "--json".as_ref()]);
                    (f.clone(), text, json)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("runner thread")).collect()
    });
    for (f, text, json) in results {
        let text = text.success();
        assert!(text.stdout.contains("step time"), "{}: {text}", f.display());
        let v = json.success().json();
        let step = v["result"]["step_s"].as_f64().unwrap_or(f64::NAN);
        let mfu = v["result"]["mfu"].as_f64().unwrap_or(f64::NAN);
        assert!(step > 0.0 && step.is_finite(), "{}: step_s {step}", f.display());
        assert!(mfu > 0.0 && mfu < 1.0, "{}: mfu {mfu}", f.display());
        println!("ok   {}  step {step:.3} s  MFU {:.1}%", f.display(), 100.0 * mfu);
    }
}

#[test]
fn top_level_fields_of_ron() {
    let text =
        "// c: x\n(\n    name: \"a: (b\",\n    model: Preset(\"x\"),\n    cluster: (chip: \"h\", n: [1, 2]),\n    goal: (tokens: 1),\n)";
    assert_eq!(top_level_fields(text), ["name", "model", "cluster", "goal"]);
}
