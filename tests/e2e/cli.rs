//! The command line: catalog listing, the infeasibility report, exit codes of bad invocations.

use super::support::{temp_dir, wanka, write_file};

/// GPT-3 175B with no model parallelism and no ZeRO on one node of A100 80GB: the weights, gradients
/// and Adam states alone need about 3 TB per device.
const GPT3_NO_SHARDING: &str = r#"// GPT-3 175B, TP1 PP1 DP8, ZeRO-0: cannot fit in 80 GB.
(
    name: "gpt3-175b unsharded",
    model: Preset("gpt3-175b"),
    cluster: (
        chip: "a100-sxm-80gb",
        gpus: 8,
        gpus_per_node: 8,
        network: (
            fabric: "ib-hdr",
            nic_gbit_per_s_per_gpu: 200.0,
            topology: "generic-fat-tree",
        ),
    ),
    parallelism: (
        tp: 1,
        pp: 1,
        dp: 8,
        micro_batch: Some(1),
        global_batch: 64,
        recompute: Full,
        sequence_parallel: false,
        zero_stage: 0,
    ),
    training: (
        seq_len: 2048,
        tokens: 300e9,
    ),
)
"#;

#[test]
fn catalog_lists_chips() {
    let run = wanka(["catalog"]).success();
    // Including the 2026 purchase-decision parts and scale-up fabrics (issue 20).
    for id in [
        "a100-sxm-80gb",
        "h100-sxm",
        "ascend-910c",
        "ascend-910a",
        "kunlunxin-p800",
        "enflame-t20",
        "mlu590",
        "gb300",
        "b300",
        "mi325x",
        "mi355x",
        "tpu-v6e",
        "h100-nvl",
        "ub-cloudmatrix",
        "nvlink5-nvl72",
        "infinity-fabric-cdna4",
        "tpu-ici-v6e",
    ] {
        assert!(run.stdout.lines().any(|l| l.split_whitespace().next() == Some(id)), "`wanka catalog` does not list {id}:\n{}", run.stdout);
    }
}

#[test]
fn catalog_json_has_chips_and_fabrics() {
    let v = wanka(["catalog", "--json"]).success().json();
    let ids = |list: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap_or_else(|| panic!("`{list}` is not an array"))
            .iter()
            .map(|e| e["id"].as_str().unwrap_or_else(|| panic!("{list} entry without id: {e}")).to_string())
            .collect()
    };
    let chips = ids("chips");
    let fabrics = ids("fabrics");
    for id in ["a100-sxm-80gb", "h100-sxm"] {
        assert!(chips.iter().any(|c| c == id), "chips lack {id}: {chips:?}");
    }
    for id in ["ib-ndr", "roce-400g", "nvlink4"] {
        assert!(fabrics.iter().any(|f| f == id), "fabrics lack {id}: {fabrics:?}");
    }
    let mut sorted = chips.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), chips.len(), "duplicate chip ids");
}

#[test]
fn infeasible_plan_reports_memory() {
    let dir = temp_dir("infeasible");
    let p = write_file(&dir, "gpt3_unsharded.ron", GPT3_NO_SHARDING);
    let run = wanka(["step".as_ref(), p.as_os_str()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(!run.stderr.contains("panicked"), "{run}");
    for want in ["memory", "GB", "a100-sxm-80gb", "weights", "optimizer"] {
        assert!(run.stderr.contains(want), "stderr lacks {want:?}: {run}");
    }
}

/// The infeasibility report states the chip's capacity as marketed ("80 GB"), with the bytes.
#[test]
fn infeasible_plan_names_marketed_capacity() {
    let dir = temp_dir("infeasible_capacity");
    let p = write_file(&dir, "gpt3_unsharded.ron", GPT3_NO_SHARDING);
    let run = wanka(["step".as_ref(), p.as_os_str()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("80 GB"), "{run}");
}

/// An infeasible plan is an error about a file: the message should name it, as every other
/// scenario error does.
#[test]
fn infeasible_plan_names_the_file() {
    let dir = temp_dir("infeasible_file");
    let p = write_file(&dir, "gpt3_unsharded.ron", GPT3_NO_SHARDING);
    let run = wanka(["step".as_ref(), p.as_os_str()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("gpt3_unsharded.ron"), "{run}");
}

/// `wanka` alone runs the bundled default job (whatever it is) and succeeds.
#[test]
fn no_command_runs_the_default_job() {
    let run = wanka(std::iter::empty::<&str>()).success();
    assert!(!run.stdout.trim().is_empty(), "{run}");
}

#[test]
fn version_and_help() {
    let run = wanka(["--version"]).success();
    assert!(run.stdout.starts_with("wanka "), "{run}");
    let run = wanka(["--help"]).success();
    for cmd in ["step", "catalog", "validate"] {
        assert!(run.stdout.contains(cmd), "help lacks {cmd}: {run}");
    }
}

#[test]
fn missing_scenario_file_is_bad_input() {
    let run = wanka(["step", "scenarios/no-such-file.ron"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(run.stderr.contains("scenarios/no-such-file.ron"), "{run}");
    assert!(run.stderr.contains("cannot read"), "{run}");
    assert!(!run.stderr.contains("panicked"), "{run}");
}

/// The I/O error's cause should be printed once.
#[test]
fn missing_scenario_file_error_is_not_repeated() {
    let run = wanka(["step", "scenarios/no-such-file.ron"]);
    assert_eq!(run.stderr.matches("No such file").count(), 1, "{run}");
}

#[test]
fn unknown_subcommand_and_flag_are_usage_errors() {
    for args in [&["frobnicate"][..], &["step", "--bogus-flag", "x.ron"][..]] {
        let run = wanka(args);
        assert_eq!(run.code, Some(2), "{run}");
        assert!(run.stdout.is_empty(), "{run}");
        assert!(run.stderr.contains("Usage"), "{run}");
    }
}

#[test]
fn catalog_dir_flag_reads_the_repository_catalog() {
    // The repository's catalog directory is the built-in catalog: the same listing either way.
    let builtin = wanka(["catalog", "--json"]).success();
    let from_dir = wanka(["--catalog-dir", "scenarios/catalog", "catalog", "--json"]).success();
    assert_eq!(builtin.stdout, from_dir.stdout);
    let run = wanka(["--catalog-dir", "no/such/dir", "catalog"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("chips.ron"), "{run}");
}

#[test]
fn copied_binary_runs_the_default_plan_from_an_empty_directory() {
    // The default plan, scenario and catalog are inside the binary: a copy far from the source tree,
    // run from an empty directory, prints the default comparison.
    let dir = temp_dir("copied_binary");
    let bin = dir.join("wanka");
    std::fs::copy(super::support::wanka_bin(), &bin).expect("copy the binary");
    let work = dir.join("empty");
    std::fs::create_dir_all(&work).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&bin)
            .args(args)
            .current_dir(&work)
            .env_remove("CARGO_MANIFEST_DIR")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run the copied binary");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("10k H800 (RoCE 400G)") && stdout.contains("16k Ascend 910B"), "{stdout}");
    let (code, stdout, stderr) = run(&["run", "--seeds", "2"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("dense-200b on 10,240 H800"), "{stdout}");
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0, "nothing written to the working directory");
}

#[test]
fn catalog_dir_reads_an_edited_failures_ron() {
    // A 100x faulty-GPU rate in a copied failures.ron must change the run (it was silently ignored):
    // the job spends far more time down (interruptions alone can fall, since failures while the job is
    // already down are not new interruptions).
    let dir = temp_dir("catalog_failures");
    let cat = dir.join("catalog");
    std::fs::create_dir_all(&cat).unwrap();
    let src = super::support::repo_root().join("scenarios/catalog");
    for f in ["chips.ron", "fabrics.ron", "failures.ron", "stacks.ron"] {
        std::fs::copy(src.join(f), cat.join(f)).unwrap();
    }
    let interruptions = |extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend(["run", "--seeds", "3", "--json"]);
        let v = wanka(&args).success().json();
        let mc = &v["monte_carlo"];
        (mc["interruptions"]["mean"].as_f64().expect("interruptions.mean"), mc["ettr"]["mean"].as_f64().expect("ettr.mean"))
    };
    let cat_s = cat.display().to_string();
    let same = interruptions(&["--catalog-dir", &cat_s]);
    assert_eq!(same, interruptions(&[]), "an unedited copy gives the built-in results");
    let failures = std::fs::read_to_string(cat.join("failures.ron")).unwrap();
    let edited = failures.replacen("rate_per_unit_hour: 6.9701e-6", "rate_per_unit_hour: 6.9701e-4", 1);
    assert_ne!(edited, failures);
    std::fs::write(cat.join("failures.ron"), edited).unwrap();
    let more = interruptions(&["--catalog-dir", &cat_s]);
    assert!(more.1 < 0.5 * same.1, "edited failures.ron: ETTR {} vs {} (interruptions {} vs {})", more.1, same.1, more.0, same.0);
    // A broken failures.ron is an error naming the file, not a silent fallback.
    std::fs::write(cat.join("failures.ron"), "(profiles: [(id: 3)])").unwrap();
    let run = wanka(["--catalog-dir", &cat_s, "run", "--seeds", "1"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("failures.ron"), "{run}");
}

/// The smallest scenario: model preset, chip, device count and tokens; everything else defaults.
const FIVE_LINES: &str = r#"(
    model: Preset("llama3-8b"),
    cluster: (chip: "h100-sxm", gpus: 64),
    training: (tokens: 1e12),
)
"#;

#[test]
fn five_line_scenario_runs_step_and_run_and_lists_its_defaults() {
    let dir = temp_dir("five_lines");
    let f = write_file(&dir, "min.ron", FIVE_LINES);
    let f = f.display().to_string();
    let step = wanka(["step", &f]).success();
    for field in [
        "name",
        "cluster.gpus_per_node",
        "cluster.network.fabric",
        "cluster.network.nic_gbit_per_s_per_gpu",
        "cluster.network.topology",
        "parallelism.tp",
        "parallelism.pp",
        "parallelism.dp",
        "parallelism.global_batch",
        "parallelism.recompute",
        "parallelism.sequence_parallel",
        "parallelism.zero_stage",
        "training.seq_len",
    ] {
        assert!(step.stdout.contains(&format!("note: {field} = ")), "{field} not listed:\n{step}");
    }
    assert!(step.stdout.contains("note: parallelism.dp = 8 (derived"), "{step}");
    let json = wanka(["step", &f, "--json"]).success().json();
    let notes = json["defaults_filled"].as_array().expect("defaults_filled");
    assert_eq!(notes.len(), 13, "{notes:?}");
    let run = wanka(["run", &f, "--seeds", "3"]).success();
    assert!(run.stdout.contains("note: parallelism.tp = 8"), "{run}");
    let run_json = wanka(["run", &f, "--seeds", "3", "--json"]).success().json();
    assert_eq!(run_json["defaults_filled"].as_array().map(Vec::len), Some(13));
    // A complete scenario fills nothing and says so by listing nothing.
    let full = wanka(["step", "scenarios/default.ron", "--json"]).success().json();
    assert_eq!(full["defaults_filled"], serde_json::json!([]));
    let text = wanka(["step", "scenarios/default.ron"]).success();
    assert!(!text.stdout.contains("defaults filled"), "{text}");
}

#[test]
fn defaults_never_hide_bad_values() {
    let dir = temp_dir("bad_defaults");
    // dp cannot be derived: 100 devices over TP 8.
    let f = write_file(
        &dir,
        "a.ron",
        &FIVE_LINES.replace("gpus: 64", "gpus: 4, gpus_per_node: 4").replace("(tokens", "(seq_len: 2048, tokens"),
    );
    let run = wanka(["step", &f.display().to_string()]).success();
    // 4 devices on one node of 4: tp defaults to 4, dp to 1. An explicit tp 8 over 100 does not divide.
    assert!(run.stdout.contains("note: parallelism.tp = 4") && run.stdout.contains("note: parallelism.dp = 1 "), "{run}");
    let f = write_file(
        &dir,
        "b.ron",
        &FIVE_LINES.replace("training:", "parallelism: (tp: 8),\n    training:").replace("gpus: 64", "gpus: 100"),
    );
    let run = wanka(["step", &f.display().to_string()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("parallelism.dp") && run.stderr.contains("b.ron"), "{run}");
    assert!(!run.stderr.contains("panicked"), "{run}");
    // An explicit bad value stays an error: zero devices, a misspelt field.
    for (name, text, needle) in [
        ("c.ron", FIVE_LINES.replace("gpus: 64", "gpus: 0"), "gpus"),
        ("d.ron", FIVE_LINES.replace("gpus: 64", "gpus: 64, gpuz: 8"), "gpuz"),
        ("e.ron", FIVE_LINES.replace("gpus: 64", "gpus: 64, network: (fabric: \"warp\")"), "warp"),
    ] {
        let f = write_file(&dir, name, &text);
        let run = wanka(["step", &f.display().to_string()]);
        assert_eq!(run.code, Some(2), "{run}");
        assert!(run.stderr.contains(needle) && run.stderr.contains(name), "{run}");
        assert!(!run.stderr.contains("panicked"), "{run}");
    }
}

#[test]
fn long_runs_show_progress_on_stderr_unless_quiet() {
    let with_env = |args: &[&str]| {
        let out = std::process::Command::new(super::support::wanka_bin())
            .args(args)
            .current_dir(super::support::repo_root())
            .env("WANKA_PROGRESS_SECS", "0")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // Enough seeds to outlast the first progress tick (a seed of the default scenario takes well
    // under a millisecond since quiet stretches are advanced in closed form).
    let (stdout, stderr) = with_env(&["run", "--seeds", "2000", "--json"]);
    assert!(stderr.contains("run: ") && stderr.contains("/2000 seeds"), "{stderr}");
    assert!(stdout.trim_start().starts_with('{'), "progress stays off stdout");
    let (_, stderr) = with_env(&["compare", "--seeds", "3"]);
    assert!(stderr.contains("compare: ") && stderr.contains("/15 Monte Carlo runs"), "{stderr}");
    let (_, stderr) = with_env(&["--quiet", "compare", "--seeds", "3"]);
    assert!(stderr.is_empty(), "{stderr}");
}

/// An 11-minute-scale run is reported in minutes, not "0.0 days"; MTTI is in the text and the JSON.
#[test]
fn short_runs_read_in_minutes_and_report_mtti() {
    let text = std::fs::read_to_string(super::support::repo_root().join("scenarios/default.ron")).unwrap();
    assert!(text.contains("tokens: 5e12"), "the default scenario's token target moved");
    // 2e10 tokens at about 3M tokens/s: under two hours of training.
    let dir = temp_dir("short_run");
    let f = write_file(&dir, "short.ron", &text.replace("tokens: 5e12", "tokens: 2e10"));
    let out = wanka(["run".as_ref(), f.as_os_str(), "--seeds".as_ref(), "4".as_ref()]).success();
    assert!(out.stdout.contains("min of uninterrupted training"), "{out}");
    assert!(out.stdout.contains("wall clock, min"), "{out}");
    assert!(!out.stdout.contains("0.0 days"), "{out}");
    assert!(out.stdout.contains("job MTTI "), "{out}");
    let j = wanka(["run".as_ref(), f.as_os_str(), "--seeds".as_ref(), "4".as_ref(), "--json".as_ref()]).success().json();
    let mtti = j["context"]["mtti_hours"].as_f64().expect("mtti_hours in the run JSON");
    assert!(mtti > 0.1 && mtti < 100.0, "{mtti}");
}

/// Every feasible candidate of a comparison carries its MTTI, in the table and in the JSON.
#[test]
fn compare_reports_mtti_per_candidate() {
    let out = wanka(["compare", "scenarios/default_plan.ron", "--seeds", "4"]).success();
    let header = out.stdout.lines().find(|l| l.contains("candidate") && l.contains("ETTR")).expect("table header");
    assert!(header.contains("MTTI"), "{header}");
    let j = wanka(["compare", "scenarios/default_plan.ron", "--seeds", "4", "--json"]).success().json();
    for c in j["candidates"].as_array().unwrap().iter().filter(|c| c["feasible"] == true) {
        let m = c["mtti_hours"].as_f64().unwrap_or_else(|| panic!("no mtti_hours in {c}"));
        assert!(m > 0.1 && m < 1000.0, "{}: {m}", c["name"]);
    }
}

#[test]
fn catalog_dir_figures_out_of_range_name_file_field_and_range() {
    // Each edit of a copied catalog puts one figure out of its band: the error (exit 2, before any
    // simulation) names the file, the entry and field, and the allowed range.
    let dir = temp_dir("catalog_bands");
    let src = super::support::repo_root().join("scenarios/catalog");
    let h100 = "price_usd: Some(27500.0),         // S: Raymond James";
    let cases: &[(&str, &str, &str, &str)] = &[
        ("chips.ron", h100, "price_usd: Some(-1.0), //", "field `chips[h100-sxm].price_usd`: must be in [0, 10000000] USD, got -1"),
        ("chips.ron", h100, "price_usd: Some(1e308), //", "field `chips[h100-sxm].price_usd`: must be in [0, 10000000] USD, got 1e308"),
        (
            "chips.ron",
            "tdp_w: 700.0,                     // V: Llama 3",
            "tdp_w: -700.0, //",
            "field `chips[h100-sxm].tdp_w`: must be in [1, 100000] W",
        ),
        (
            "chips.ron",
            "bf16_dense_tflops: 989.0,         // S: H100 SXM5",
            "bf16_dense_tflops: 1e308, //",
            "field `chips[h100-sxm].bf16_dense_tflops`: must be in [0.001, 1000000] TFLOP/s, got 1e308",
        ),
        (
            "fabrics.ron",
            "latency_us: 5.0,                  // M: as ib-hdr; switch port-to-port",
            "latency_us: NaN, //",
            "field `fabrics[ib-ndr].latency_us`: must be in [0, 1000000] us, got NaN",
        ),
        (
            "fabrics.ron",
            "gbit_per_s_per_direction: 400.0,  // S: P §10, 400 Gb/s per port",
            "gbit_per_s_per_direction: inf, //",
            "field `fabrics[ib-ndr].gbit_per_s_per_direction`: must be in [0.001, 1000000] Gbit/s, got inf",
        ),
    ];
    for (i, (file, from, to, want)) in cases.iter().enumerate() {
        let cat = dir.join(format!("catalog{i}"));
        std::fs::create_dir_all(&cat).unwrap();
        for f in ["chips.ron", "fabrics.ron", "failures.ron", "stacks.ron"] {
            std::fs::copy(src.join(f), cat.join(f)).unwrap();
        }
        let text = std::fs::read_to_string(cat.join(file)).unwrap();
        assert_eq!(text.matches(from).count(), 1, "{file} must hold `{from}` once");
        std::fs::write(cat.join(file), text.replacen(from, to, 1)).unwrap();
        let run = wanka(["--catalog-dir".as_ref(), cat.as_os_str(), "step".as_ref(), "scenarios/default.ron".as_ref()]);
        assert_eq!(run.code, Some(2), "{run}");
        let named = format!("{}: {want}", cat.join(file).display());
        assert!(run.stderr.contains(&named), "want `{named}`\n{run}");
        assert!(run.stdout.is_empty() && !run.stderr.contains("panicked"), "{run}");
    }
}

#[test]
fn two_pools_of_one_chip_run_as_one_pool_with_a_note() {
    let dir = temp_dir("same_chip_pools");
    let plan = std::fs::read_to_string(super::support::repo_root().join("fuzz/seeds/plan_small.ron")).unwrap();
    let two = plan.replace(r#"(chip: "a800-sxm-80gb", count: 4, gpus_per_node: 4)"#, r#"(chip: "h100-sxm", count: 4, gpus_per_node: 4)"#);
    assert_ne!(two, plan);
    let p = super::support::write_file(&dir, "two.ron", &two);
    let v = wanka(["compare".as_ref(), "--seeds".as_ref(), "1".as_ref(), "--json".as_ref(), p.as_os_str()]).success().json();
    let b = v["candidates"].as_array().unwrap().iter().find(|c| c["name"] == "b").expect("candidate b");
    assert_eq!(b["chips"], "8 x h100-sxm", "{b}");
    assert!(b["mixed_options"].as_array().unwrap().iter().all(|o| !o["strategy"].as_str().unwrap().starts_with("hetero")), "{b}");
    let flags: Vec<&str> = b["flags"].as_array().unwrap().iter().filter_map(|f| f.as_str()).collect();
    assert!(flags.iter().any(|f| f.contains("pools of one chip merged: 4 x h100-sxm + 4 x h100-sxm run as 8 x h100-sxm")), "{flags:?}");
}

#[test]
fn uneven_pipeline_chunks_are_noted() {
    // 126 layers over PP16 x vpp 4: the chunks cannot be even; the report says so.
    let run = wanka(["step", "scenarios/examples/llama3-405b-16k.ron"]).success();
    assert!(run.stdout.contains("uneven pipeline chunks: 126 layers do not divide into pp x vpp = 16 x 4 chunks"), "{run}");
    // 32 layers over PP4 with vpp 3 (8 layers a stage): vpp does not divide a stage's layers.
    let dir = temp_dir("uneven_vpp");
    let s = FIVE_LINES.replace("training:", "parallelism: (tp: 8, pp: 4, dp: 2, schedule: Interleaved, vpp: 3),\n    training:");
    let p = super::support::write_file(&dir, "vpp3.ron", &s);
    let run = wanka(["step".as_ref(), p.as_os_str()]).success();
    assert!(run.stdout.contains("vpp = 3 does not divide the 8 layers of a stage"), "{run}");
    // An even split says nothing.
    let s = FIVE_LINES.replace("training:", "parallelism: (tp: 8, pp: 4, dp: 2, schedule: Interleaved, vpp: 2),\n    training:");
    let p = super::support::write_file(&dir, "vpp2.ron", &s);
    let run = wanka(["step".as_ref(), p.as_os_str()]).success();
    assert!(!run.stdout.contains("uneven pipeline chunks"), "{run}");
}

/// `compare --explain`: each candidate's best plan against its runner-up, term by term.
#[test]
fn compare_explains_the_best_plan() {
    let out = wanka(["compare", "scenarios/default_plan.ron", "--seeds", "2", "--explain"]).success().stdout;
    let plain = wanka(["compare", "scenarios/default_plan.ron", "--seeds", "2"]).success().stdout;
    assert!(!plain.contains("beats runner-up"));
    assert!(out.starts_with(&plain) || out.contains(plain.lines().next().unwrap()), "{out}");
    assert!(out.matches("beats runner-up").count() >= 4, "{out}");
    for term in ["compute", "pipeline bubble", "exposed DP communication", "differs in: "] {
        assert!(out.contains(term), "{term}: {out}");
    }
}

/// The release recipe of deploy/README.md: a static musl build of `wanka` that runs a step. Needs the
/// target (`rustup target add x86_64-unknown-linux-musl`); without it the test says so and passes.
#[test]
fn static_musl_build_runs() {
    let root = super::support::repo_root();
    let installed = std::process::Command::new("rustup").args(["target", "list", "--installed"]).output();
    let has = installed.as_ref().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "x86_64-unknown-linux-musl"));
    if !has || !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        eprintln!(
            "static_musl_build_runs: skipped: the x86_64-unknown-linux-musl target is not installed (rustup target add x86_64-unknown-linux-musl)"
        );
        return;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "--locked", "--target", "x86_64-unknown-linux-musl", "-p", "wanka_sim", "--bin", "wanka"])
        .output()
        .expect("run cargo");
    assert!(out.status.success(), "musl build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let bin = root.join("target/x86_64-unknown-linux-musl/release/wanka");
    // Statically linked: no program interpreter (PT_INTERP) in the ELF program headers.
    let elf = std::fs::read(&bin).expect("binary");
    assert_eq!(&elf[..4], b"\x7fELF");
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16::from_le_bytes([elf[0x36], elf[0x37]]) as usize, u16::from_le_bytes([elf[0x38], elf[0x39]]) as usize);
    let interp = (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == 3
    });
    assert!(!interp, "{} has a program interpreter: not a static binary", bin.display());
    let run = std::process::Command::new(&bin).current_dir(root).args(["step", "scenarios/default.ron", "--json"]).output().expect("run");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
    assert_eq!(v["schema"], "wanka.step");
}

/// `parallelism: (auto: true, …)`: `wanka step` searches the plan, says so (text and JSON), and the
/// plan is the one `wanka compare` chooses for a one-candidate plan of the same cluster and pins.
#[test]
fn auto_scenario_step_prints_the_searched_plan() {
    let f = "scenarios/examples/llama3-70b-auto-512.ron";
    let text = wanka(["step", f]).success();
    let line = text.stdout.lines().find(|l| l.starts_with("searched  parallelism: (auto: true): ")).unwrap_or_else(|| panic!("{text}"));
    let json = wanka(["step", f, "--json"]).success().json();
    let search = &json["parallelism_search"];
    let chosen = search["parallelism"].as_str().unwrap_or_else(|| panic!("{json}"));
    assert!(line.contains(chosen) && chosen.starts_with("TP8 "), "the pin tp: 8 holds: {line}");
    assert!(search["search_feasible"].as_u64() > Some(1) && search["search_enumerated"].as_u64() >= search["search_feasible"].as_u64());
    // The planner's answer for the same cluster, pins and batch target.
    let dir = temp_dir("auto");
    let plan = write_file(
        &dir,
        "p.ron",
        r#"(name: "p", goal: (model: Preset("llama3-70b"), tokens: 2e12, seq_len: 4096, batch_tokens: 4194304.0),
         candidates: [(name: "c", pools: [(chip: "a100-sxm-80gb", count: 512, gpus_per_node: 8)],
           network: (fabric: "ib-hdr", nic_gbit_per_s_per_gpu: 200.0, topology: "generic-fat-tree"),
           parallelism: (tp: Some([8])),
           money: Purchase(card_usd: None, node_overhead_usd: 40000.0, network_usd_per_port: 4500.0, storage_usd: 1e6, amortisation_years: 4.0),
           power: (pue: 1.25, usd_per_kwh: 0.09))])"#,
    );
    let c = wanka(["-q", "compare", plan.to_str().unwrap(), "--json", "--seeds", "2"]).success().json();
    let cand = &c["candidates"][0];
    assert_eq!(cand["parallelism"].as_str(), Some(format!("single-pool:a100-sxm-80gb: {chosen}").as_str()), "{cand}");
    assert_eq!(json["result"]["step_s"], cand["top_plans"][0]["step_s"]);
    // A written plan says nothing of a search.
    let pinned = wanka(["step", "scenarios/default.ron", "--json"]).success().json();
    assert!(pinned.get("parallelism_search").is_none(), "{pinned}");
}
