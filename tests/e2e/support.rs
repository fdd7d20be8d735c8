//! Building, locating and running the `wanka` binary.
//!
//! `tests/` is its own package, so Cargo does not provide `CARGO_BIN_EXE_wanka`. Instead the binary is
//! built once per test process with `$CARGO build -p wanka_sim --bin wanka --message-format=json` in the
//! profile of the test run (`--release` when debug assertions are off) and located through the
//! `executable` field of the compiler-artifact message, as the `escargot` crate does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root (the workspace directory holding `scenarios/`).
pub fn repo_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = here.parent().expect("tests/ has a parent directory");
        root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
    })
}

/// Path of the `wanka` binary, built on first use (same profile as this test run).
pub fn wanka_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build_wanka)
}

fn build_wanka() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(repo_root()).args(["build", "-p", "wanka_sim", "--bin", "wanka", "--message-format=json"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {cargo:?} build: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "building wanka failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        compiler_messages(&stdout)
    );
    let mut exe = None;
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_wanka_bin = msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == "wanka"
            && msg["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin"));
        if let (true, Some(path)) = (is_wanka_bin, msg["executable"].as_str()) {
            exe = Some(PathBuf::from(path));
        }
    }
    let exe = exe.unwrap_or_else(|| panic!("cargo build reported no executable for the `wanka` binary:\n{stdout}"));
    assert!(exe.is_file(), "{} does not exist", exe.display());
    exe
}

/// The rendered compiler diagnostics of a `--message-format=json` stream (for failure messages).
fn compiler_messages(stdout: &str) -> String {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-message")
        .filter_map(|m| m["message"]["rendered"].as_str().map(str::to_string))
        .collect()
}

/// Outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Parse stdout as JSON, failing the test with the run's output if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout of {self} is not JSON: {e}"))
    }
    /// Assert exit code 0 and no panic.
    pub fn success(self) -> Run {
        assert_eq!(self.code, Some(0), "{self}");
        assert!(!self.stderr.contains("panicked"), "{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`wanka {}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

/// Run `wanka ARGS…` from the repository root.
pub fn wanka<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out: Output = Command::new(wanka_bin())
        .args(&args)
        .current_dir(repo_root())
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", wanka_bin().display()));
    Run {
        args: args.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// A fresh directory for one test's temporary files (under Cargo's per-target temp dir).
pub fn temp_dir(test: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wanka_e2e").join(format!("{test}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Write `text` to `dir/name` and return the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    p
}
