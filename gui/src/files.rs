//! Finding the `scenarios/` folder and the scenario and plan files in it, and telling them apart.

use std::path::{Path, PathBuf};

/// Sub-folders of `scenarios/` that hold data, not scenarios.
const SKIPPED: &[&str] = &["catalog", "validation"];

/// The `scenarios/` folder: the given one, else the first found walking up from the working
/// directory, else from the executable (e.g. `target/release/wanka-gui`), else the source tree's.
pub fn find_scenarios_dir(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(d) = given {
        return Some(d.to_path_buf());
    }
    let mut starts: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        starts.push(dir.to_path_buf());
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for start in starts {
        for dir in start.ancestors() {
            let candidate = dir.join("scenarios");
            if candidate.join("default.ron").is_file() || candidate.join("catalog").is_dir() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Every `.ron` file under `dir`, recursively, skipping `catalog/` and `validation/` at any depth;
/// sorted, `default.ron` first.
pub fn list_scenarios(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out, 0);
    out.sort_by_key(|p| {
        let rel = p.strip_prefix(dir).unwrap_or(p).to_path_buf();
        (rel != Path::new("default.ron"), rel)
    });
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 16 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if !SKIPPED.contains(&name.as_str()) {
                walk(&path, out, depth + 1);
            }
        } else if path.extension().is_some_and(|e| e == "ron") {
            out.push(path);
        }
    }
}

/// What a `.ron` file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Scenario,
    /// A plan (`goal` and `candidates` at the top level): compared with `wanka_sim::planning::plan_file`.
    Plan,
}

/// Names of the top-level fields of a RON struct (`(name: …, goal: …)` → `name`, `goal`), skipping
/// comments, strings and nested values. Works on text that does not parse, so a broken plan is still
/// reported as a plan.
pub fn top_level_fields(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
            continue;
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
        } else if matches!(c, b'(' | b'[' | b'{') {
            depth += 1;
        } else if matches!(c, b')' | b']' | b'}') {
            depth -= 1;
        } else if depth == 1
            && (c.is_ascii_alphabetic() || c == b'_')
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &text[start..i];
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if b.get(j) == Some(&b':') {
                out.push(word.to_string());
            }
            continue;
        }
        i += 1;
    }
    out
}

/// A plan when the top level names `goal` or `candidates`, else a scenario.
pub fn file_kind(text: &str) -> FileKind {
    if top_level_fields(text).iter().any(|f| f == "goal" || f == "candidates") { FileKind::Plan } else { FileKind::Scenario }
}

/// How a scenario file is named in the list: its path relative to the scenarios folder.
pub fn display_name(dir: Option<&Path>, path: &Path) -> String {
    dir.and_then(|d| path.strip_prefix(d).ok()).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_repo_scenarios_without_catalog_or_validation() {
        let dir = find_scenarios_dir(None).expect("scenarios/ found from the source tree");
        let files = list_scenarios(&dir);
        assert!(!files.is_empty());
        assert!(files[0].ends_with("default.ron"), "{files:?}");
        for f in &files {
            let rel = f.strip_prefix(&dir).unwrap();
            let first = rel.components().next().unwrap().as_os_str();
            assert!(first != "catalog" && first != "validation", "{f:?}");
        }
    }

    #[test]
    fn tells_plans_from_scenarios() {
        let dir = find_scenarios_dir(None).unwrap();
        let plan = std::fs::read_to_string(dir.join("default_plan.ron")).unwrap();
        assert_eq!(file_kind(&plan), FileKind::Plan);
        let scenario = std::fs::read_to_string(dir.join("default.ron")).unwrap();
        assert_eq!(file_kind(&scenario), FileKind::Scenario);
        let fields = top_level_fields("// goal: no\n(name: \"a: (goal: x)\", /* candidates: */ cluster: (goal: 1), seed: 3)");
        assert_eq!(fields, ["name", "cluster", "seed"]);
        assert_eq!(file_kind("(name: \"x\", goal: (model: Preset(\"a\")), candidates: [])"), FileKind::Plan);
        // Broken text is still recognised (and then reported by the plan parser).
        assert_eq!(file_kind("(goal: (tokens: oops"), FileKind::Plan);
        assert_eq!(file_kind(""), FileKind::Scenario);
    }

    #[test]
    fn recursive_and_skips_nested_data_dirs() {
        let tmp = std::env::temp_dir().join(format!("wanka-gui-list-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("a/b")).unwrap();
        std::fs::create_dir_all(tmp.join("catalog")).unwrap();
        std::fs::create_dir_all(tmp.join("x/validation")).unwrap();
        for f in ["default.ron", "a/one.ron", "a/b/two.ron", "catalog/chips.ron", "x/validation/v.ron", "notes.txt"] {
            std::fs::write(tmp.join(f), "").unwrap();
        }
        let names: Vec<String> = list_scenarios(&tmp).iter().map(|p| display_name(Some(&tmp), p)).collect();
        assert_eq!(names, ["default.ron", "a/b/two.ron", "a/one.ron"]);
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
