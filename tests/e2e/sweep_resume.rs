//! Nothing lost: a real `wanka sweep` process is killed mid-run (SIGKILL, twice; SIGINT) after some
//! chunks are on disk, resumed with `--resume`, and its outputs must equal an uninterrupted run's byte
//! for byte — no lost and no duplicated rows.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::support::{temp_dir, wanka, wanka_bin};
use super::sweep::{assert_same_outputs, read, sweep_file};

/// 90 points x 60 seeds: a few seconds on one thread, so there is time to kill it mid-run.
const SLOW: &str = r#"    axes: {
        "run.failures.multiplier": Uniform(min: 0.5, max: 2.5, steps: 30),
        "run.failures.band": [Low, Mid, High],
    },
    seeds: 60,
    seed: 42,"#;
const POINTS: usize = 90;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The sweep file and the outputs of one uninterrupted run (shared by the tests).
fn reference() -> &'static (PathBuf, PathBuf) {
    static REF: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    REF.get_or_init(|| {
        let dir = temp_dir("sweep-resume-ref");
        let f = sweep_file(&dir, "slow", SLOW);
        let out = dir.join("out");
        wanka(["sweep", &s(&f), "--out", &s(&out), "--threads", "2"]).success();
        let csv = read(&out.join("results.csv"));
        assert_eq!(csv.lines().count(), 1 + POINTS);
        (f, out)
    })
}

fn spawn(f: &Path, out: &Path, log: &str) -> Child {
    let log_file = std::fs::File::create(out.with_extension(log)).unwrap();
    Command::new(wanka_bin())
        .args(["sweep", &s(f), "--out", &s(out), "--resume", "--threads", "1", "--chunk-rows", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("spawn wanka sweep")
}

fn chunks(out: &Path) -> usize {
    std::fs::read_dir(out.join("chunks"))
        .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("part-")).count())
        .unwrap_or(0)
}

/// Wait until at least `n` chunks exist, then send `signal` to the process with `kill`.
fn kill_after_chunks(child: &mut Child, out: &Path, n: usize, signal: &str) {
    let t0 = Instant::now();
    while chunks(out) < n {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the sweep ended ({status}) before {n} chunks existed: make the test sweep slower");
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no {n} chunks after 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    let k = Command::new("kill").args([&format!("-{signal}"), &pid]).status().expect("run kill");
    assert!(k.success(), "kill -{signal} {pid} failed");
    let status = child.wait().unwrap();
    let want = if signal == "KILL" { 9 } else { 2 };
    assert_eq!(status.signal(), Some(want), "the sweep was not killed by SIG{signal}: {status} (it finished too early?)");
    assert!(!out.join("results.csv").exists(), "killed mid-run, yet results.csv exists");
}

fn resume_and_compare(f: &Path, out: &Path, ref_out: &Path) {
    let r = wanka(["sweep", &s(f), "--out", &s(out), "--resume", "--threads", "2"]).success();
    let done: usize = r
        .stdout
        .lines()
        .find_map(|l| l.strip_suffix(" already done")?.rsplit("; ").next()?.parse().ok())
        .unwrap_or_else(|| panic!("no `already done` count: {r}"));
    assert!((3..POINTS).contains(&done), "resumed with {done} points done: {r}");
    assert_same_outputs(ref_out, out);
}

#[test]
fn sigkill_twice_then_resume_gives_the_uninterrupted_outputs() {
    let (f, ref_out) = reference();
    let dir = temp_dir("sweep-sigkill");
    let out = dir.join("out");
    let mut first = spawn(f, &out, "log1");
    kill_after_chunks(&mut first, &out, 2, "KILL");
    let after_first = chunks(&out);
    let mut second = spawn(f, &out, "log2");
    kill_after_chunks(&mut second, &out, after_first + 3, "KILL");
    resume_and_compare(f, &out, ref_out);
}

#[test]
fn sigint_then_resume_gives_the_uninterrupted_outputs() {
    let (f, ref_out) = reference();
    let dir = temp_dir("sweep-sigint");
    let out = dir.join("out");
    let mut child = spawn(f, &out, "log");
    kill_after_chunks(&mut child, &out, 4, "INT");
    resume_and_compare(f, &out, ref_out);
}
