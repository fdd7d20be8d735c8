//! Output files and stdout: a symlink is written through (the link stays a link), a FIFO, a directory
//! or a device is refused with "cannot write" before any work starts (and left as it was), a write that
//! fails half-way (a file size limit, `/dev/full` on stdout) exits non-zero and leaves no file that
//! looks complete, and a stdout closed at start (`>&-`) is said on stderr, never silent.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::support::{Run, repo_root, temp_dir, wanka, wanka_bin};

/// Seeds enough that `wanka run` on the default scenario takes far longer than a refused output: an
/// output refused within [`REFUSED_WITHIN`] was refused before the Monte Carlo started.
const SLOW_SEEDS: &str = "20000";
const REFUSED_WITHIN: Duration = Duration::from_secs(5);

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("run mkfifo");
    assert!(st.success(), "mkfifo {}", p.display());
}

fn assert_refused(run: &Run, path: &Path, took: Duration) {
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("cannot write") && run.stderr.contains(&path.display().to_string()), "{run}");
    assert!(!run.stderr.contains("panicked"), "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(took < REFUSED_WITHIN, "refused after {took:?}: the work ran first\n{run}");
}

/// Lines of an event log, each a JSON object.
fn json_lines(text: &str) -> usize {
    let mut n = 0;
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
        assert!(v.is_object(), "{l}");
        n += 1;
    }
    n
}

#[test]
fn events_and_csv_through_a_symlink_write_the_target() {
    let dir = temp_dir("out-symlink");
    let target = dir.join("events.jsonl");
    std::fs::write(&target, "old contents\n").unwrap();
    let link = dir.join("link.jsonl");
    std::os::unix::fs::symlink("events.jsonl", &link).unwrap();
    wanka(["run".as_ref(), "--seeds".as_ref(), "1".as_ref(), "--events".as_ref(), link.as_os_str(), "scenarios/default.ron".as_ref()])
        .success();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced by a file");
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(!text.contains("old contents"), "the target was not rewritten");
    assert!(json_lines(&text) > 10, "{text}");

    // The same for compare --csv, through a link into another directory.
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let csv_link = dir.join("ranked.csv");
    std::os::unix::fs::symlink(sub.join("real.csv"), &csv_link).unwrap();
    std::fs::write(sub.join("real.csv"), "x\n").unwrap();
    wanka([
        "compare".as_ref(),
        "--seeds".as_ref(),
        "1".as_ref(),
        "--csv".as_ref(),
        csv_link.as_os_str(),
        "fuzz/seeds/plan_small.ron".as_ref(),
    ])
    .success();
    assert!(std::fs::symlink_metadata(&csv_link).unwrap().file_type().is_symlink());
    let csv = std::fs::read_to_string(sub.join("real.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "header and two candidates:\n{csv}");
}

#[test]
fn fifo_directory_and_device_outputs_are_refused_before_work() {
    let dir = temp_dir("out-special");
    let fifo = dir.join("events.fifo");
    mkfifo(&fifo);
    let sub = dir.join("a-directory");
    std::fs::create_dir(&sub).unwrap();
    for out in [fifo.as_path(), sub.as_path(), Path::new("/dev/full"), Path::new("/dev/null")] {
        let t0 = Instant::now();
        let run = wanka(["run".as_ref(), "--seeds".as_ref(), SLOW_SEEDS.as_ref(), "--events".as_ref(), out.as_os_str()]);
        assert_refused(&run, out, t0.elapsed());
    }
    // Left as they were: still a FIFO, a directory, character devices.
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(std::fs::read_dir(&sub).unwrap().next().is_none(), "something was written into the directory");
    assert!(std::fs::metadata("/dev/full").unwrap().file_type().is_char_device());
    // compare --csv and sweep --out are checked before the work too.
    let t0 = Instant::now();
    let run = wanka(["compare".as_ref(), "--csv".as_ref(), fifo.as_os_str()]);
    assert_refused(&run, &fifo, t0.elapsed());
    let t0 = Instant::now();
    let run = wanka(["sweep".as_ref(), "scenarios/sweeps/bench_1000.ron".as_ref(), "--out".as_ref(), fifo.as_os_str()]);
    assert_refused(&run, &fifo, t0.elapsed());
}

#[test]
fn a_write_failing_half_way_exits_non_zero_and_leaves_no_file() {
    // A file size limit of 4 blocks makes the event log's write fail part-way (EFBIG; SIGXFSZ ignored
    // so the write returns the error instead of killing the process).
    let dir = temp_dir("out-partial");
    let out = dir.join("events.jsonl");
    let st = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 4; exec \"$0\" run --seeds 1 --events \"$1\" scenarios/default.ron")
        .arg(wanka_bin())
        .arg(&out)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write") && stderr.contains("events.jsonl"), "{stderr}");
    let left: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn stdout_on_dev_full_is_an_error_and_a_closed_one_is_said() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("open /dev/full");
    let out = Command::new(wanka_bin())
        .args(["step", "scenarios/default.ron"])
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(full)
        .output()
        .expect("run wanka");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write stdout"), "{stderr}");

    let sh = |redirect: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("exec \"$0\" step scenarios/default.ron {redirect}"))
            .arg(wanka_bin())
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .output()
            .expect("run sh")
    };
    // A closed stdout cannot be told apart from Python's subprocess.DEVNULL (both /dev/null read-write):
    // said on stderr, not an error that would break harnesses discarding output that way.
    let closed = sh(">&-");
    let stderr = String::from_utf8_lossy(&closed.stderr);
    assert_eq!(closed.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning: stdout is /dev/null opened read-write") && stderr.contains("closed"), "{stderr}");
    // Discarding the report on purpose still works.
    let discarded = sh(">/dev/null");
    assert_eq!(discarded.status.code(), Some(0), "{}", String::from_utf8_lossy(&discarded.stderr));
}
