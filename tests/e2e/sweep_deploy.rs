//! The Kubernetes recipe without a cluster: the shell commands of deploy/k8s/sweep-indexed-job.yaml,
//! run with the environment an Indexed Job gives each pod (JOB_COMPLETION_INDEX), must produce merged
//! outputs byte-identical to a single run. (The Slurm recipe runs for real in deploy/slurm/ci-test.sh.)

use std::process::Command;

use super::support::{repo_root, temp_dir, wanka, wanka_bin};
use super::sweep::assert_same_outputs;

/// The folded (`>-`) `args` scalars of the manifest, in order, and the `completions` and `SHARDS`
/// values.
fn manifest_commands(yaml: &str) -> (Vec<String>, Vec<u32>, Vec<u32>) {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut cmds = Vec::new();
    let (mut completions, mut shards) = (Vec::new(), Vec::new());
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if let Some(v) = t.strip_prefix("completions:") {
            completions.push(v.split('#').next().unwrap().trim().parse().unwrap());
        }
        if let Some(v) = t.strip_prefix("- {name: SHARDS, value: \"") {
            shards.push(v.trim_end_matches("\"}").parse().unwrap());
        }
        if t == "- >-" {
            let indent = l.len() - l.trim_start().len();
            let body: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|x| x.len() - x.trim_start().len() > indent && !x.trim().is_empty())
                .map(|x| x.trim())
                .collect();
            cmds.push(body.join(" "));
        }
    }
    (cmds, completions, shards)
}

#[test]
fn k8s_indexed_job_commands_merge_to_the_single_run() {
    let yaml = std::fs::read_to_string(repo_root().join("deploy/k8s/sweep-indexed-job.yaml")).unwrap();
    assert!(yaml.contains("completionMode: Indexed"));
    let (cmds, completions, shards) = manifest_commands(&yaml);
    assert_eq!(cmds.len(), 3, "shard, wait and merge commands: {cmds:?}");
    assert_eq!(completions, vec![8]);
    assert!(shards.iter().all(|s| *s == completions[0]), "SHARDS {shards:?} must equal completions {completions:?}");
    let n = completions[0];
    let dir = temp_dir("sweep-k8s");
    let results = dir.join("results");
    std::fs::create_dir_all(&results).unwrap();
    let sweep = repo_root().join("scenarios/sweeps/planner_study.ron");
    let path = format!("{}:{}", wanka_bin().parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let sh = |cmd: &str, index: Option<u32>, sweep: &std::path::Path| {
        let cmd = cmd.replace("/results/", &format!("{}/", results.display()));
        // Bounded: the wait-for-shards loop would spin forever on a missing shard.
        let mut c = Command::new("timeout");
        c.args(["120", "/bin/sh", "-c", &cmd])
            .env("PATH", &path)
            .env("SHARDS", n.to_string())
            .env("SWEEP", sweep)
            .env("SWEEP_ARGS", "--seeds 2")
            .env("RUN", "run-1")
            .env("RETRIES", "1")
            .current_dir(&dir);
        if let Some(k) = index {
            c.env("JOB_COMPLETION_INDEX", k.to_string());
        }
        let out = c.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    // Pods in any order; one of them runs twice (a retry resumes and changes nothing).
    for k in [3, 0, 7, 1, 2, 6, 5, 4, 3] {
        let (code, out) = sh(&cmds[0], Some(k), &sweep);
        assert_eq!(code, Some(0), "shard {k}: {out}");
    }
    let (code, out) = sh(&cmds[1], None, &sweep);
    assert_eq!(code, Some(0), "wait-for-shards: {out}");
    let (code, out) = sh(&cmds[2], None, &sweep);
    assert_eq!(code, Some(0), "merge: {out}");
    assert!(out.contains("64 points"), "{out}");
    let single = dir.join("single");
    wanka(["sweep", &sweep.display().to_string(), "--out", &single.display().to_string(), "--seeds", "2"]).success();
    assert_same_outputs(&results.join("run-1/merged"), &single);

    // The same RUN with another sweep file: its shards refuse the old directories (each attempt
    // noted in failed-K), the wait stops once a shard used its attempts, the merge refuses the
    // earlier run's shards instead of merging them.
    let other = super::sweep::sweep_file(&dir, "other", "    axes: {\"run.failures.multiplier\": [0.5, 1]},\n    seeds: 2,");
    for _ in 0..2 {
        let (code, out) = sh(&cmds[0], Some(0), &other);
        assert_ne!(code, Some(0), "a shard of another sweep must not reuse run-1/shard-0: {out}");
    }
    assert_eq!(std::fs::read_to_string(results.join("run-1/failed-0")).unwrap().lines().count(), 2);
    let (code, out) = sh(&cmds[2], None, &other);
    assert_eq!(code, Some(2), "merge of an earlier run's shards: {out}");
    assert!(out.contains("another sweep") && out.contains("stale"), "{out}");
    std::fs::remove_file(results.join("run-1/shard-0/results.csv")).unwrap();
    let (code, out) = sh(&cmds[1], None, &other);
    assert_eq!(code, Some(1), "wait-for-shards must give up on a failed shard: {out}");
    assert!(out.contains("shard 0 failed all 2 attempts"), "{out}");
}

/// Run deploy/slurm/submit.sh with a stand-in `sbatch` that records its arguments (one line per
/// call) and answers with a job id; returns (exit code, stdout, stderr, recorded calls).
fn submit(args: &[&str]) -> (Option<i32>, String, String, Vec<String>) {
    let dir = temp_dir("slurm_submit");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("sbatch.log");
    let fake = format!("#!/bin/sh\necho \"$*\" >> '{}'\necho $$\n", log.display());
    let sbatch = bin.join("sbatch");
    std::fs::write(&sbatch, fake).unwrap();
    Command::new("chmod").arg("+x").arg(&sbatch).status().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let sweep = repo_root().join("scenarios/sweeps/planner_study.ron");
    let out = Command::new("bash")
        .arg(repo_root().join("deploy/slurm/submit.sh"))
        .arg(&sweep)
        .arg(dir.join("out"))
        .args(args)
        .env("PATH", path)
        .env("WANKA", wanka_bin())
        .output()
        .unwrap();
    let calls = std::fs::read_to_string(&log).unwrap_or_default().lines().map(str::to_string).collect();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned(), calls)
}

#[test]
fn slurm_submit_parses_parallel_only_and_sbatch_arguments() {
    // `SHARDS -- sbatch args` used to build `--array=0-7%--`.
    let (code, stdout, stderr, calls) = submit(&["8", "--", "--time=1:00:00"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].contains("--array=0-7%8 ") && calls[0].contains("--time=1:00:00"), "{calls:?}");
    assert!(calls[1].contains("--dependency=afterok:") && calls[1].contains("--time=1:00:00"), "{calls:?}");
    assert_eq!(stdout.split_whitespace().count(), 2, "{stdout}");
    let (code, _, stderr, calls) = submit(&["8", "2", "--", "--partition=cpu"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(calls[0].contains("--array=0-7%2 ") && calls[0].contains("--partition=cpu"), "{calls:?}");
    // Resubmitting failed indices only: the shard count stays 8 (the tasks run K/8).
    let (code, _, stderr, calls) = submit(&["8", "--only", "3,5-6"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(calls[0].contains("--array=3,5-6%8 "), "{calls:?}");
    // Bad arguments are refused before anything is queued.
    for args in [&["0"][..], &["8", "x"], &["8", "--only", "9"], &["8", "--only", "a,b"], &["8", "2", "3"]] {
        let (code, _, stderr, calls) = submit(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
        assert!(calls.is_empty(), "{args:?} queued {calls:?}");
    }
}

#[test]
fn slurm_task_of_a_resubmitted_subset_runs_its_shard_of_n() {
    // A task of `--array=5` with SHARDS=8 is shard 5/8 (SLURM_ARRAY_TASK_COUNT is 1 there).
    let dir = temp_dir("slurm_subset");
    let out = Command::new("bash")
        .arg(repo_root().join("deploy/slurm/sweep.sbatch"))
        .env("SWEEP", repo_root().join("scenarios/sweeps/planner_study.ron"))
        .env("OUT", &dir)
        .env("WANKA", wanka_bin())
        .env("WANKA_ARGS", "--seeds 2 --quiet")
        .env("SHARDS", "8")
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SLURM_ARRAY_TASK_COUNT", "1")
        .env("SLURM_ARRAY_TASK_MIN", "5")
        .env("SLURM_ARRAY_TASK_MAX", "5")
        .env("SLURM_CPUS_PER_TASK", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest = std::fs::read_to_string(dir.join("shard-5/manifest.json")).unwrap();
    assert!(manifest.contains("\"5/8\""), "{manifest}");
    let csv = std::fs::read_to_string(dir.join("shard-5/results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8, "64 points / 8 shards:\n{csv}");
}
