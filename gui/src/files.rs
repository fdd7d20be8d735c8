//! Finding the `scenarios/` folder and the scenario files in it.

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
