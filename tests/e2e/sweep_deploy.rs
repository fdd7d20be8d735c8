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
    let sh = |cmd: &str, index: Option<u32>| {
        let cmd = cmd.replace("/results/", &format!("{}/", results.display()));
        // Bounded: the wait-for-shards loop would spin forever on a missing shard.
        let mut c = Command::new("timeout");
        c.args(["120", "/bin/sh", "-c", &cmd])
            .env("PATH", &path)
            .env("SHARDS", n.to_string())
            .env("SWEEP", &sweep)
            .env("WANKA_ARGS", "--seeds 2")
            .current_dir(&dir);
        if let Some(k) = index {
            c.env("JOB_COMPLETION_INDEX", k.to_string());
        }
        let out = c.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    // Pods in any order; one of them runs twice (a retry resumes and changes nothing).
    for k in [3, 0, 7, 1, 2, 6, 5, 4, 3] {
        let (code, out) = sh(&cmds[0], Some(k));
        assert_eq!(code, Some(0), "shard {k}: {out}");
    }
    let (code, out) = sh(&cmds[1], None);
    assert_eq!(code, Some(0), "wait-for-shards: {out}");
    let (code, out) = sh(&cmds[2], None);
    assert_eq!(code, Some(0), "merge: {out}");
    assert!(out.contains("64 points"), "{out}");
    let single = dir.join("single");
    wanka(["sweep", &sweep.display().to_string(), "--out", &single.display().to_string(), "--seeds", "2"]).success();
    assert_same_outputs(&results.join("merged"), &single);
}
