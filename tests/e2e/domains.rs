//! Scale-up domains of any size (issue 20): NVL72 racks, CloudMatrix 384 supernodes. A job is written
//! as it is (no fake node sizes), TP/EP groups stay inside a domain and the devices left over in the
//! domains it occupies are reported as idle, in text and JSON. Expected counts are worked out by hand
//! in each test from the domain size and the plan.

use serde_json::Value;

use super::support::{temp_dir, wanka, write_file};

fn placement(v: &Value) -> (u64, u64, u64, u64, u64) {
    let p = &v["result"]["placement"];
    let n = |k: &str| p[k].as_u64().unwrap_or_else(|| panic!("placement.{k} missing in {p}"));
    (n("domain_devices"), n("domains"), n("used_per_domain"), n("idle_devices"), n("unusable_devices"))
}

fn inside(v: &Value) -> Vec<String> {
    v["result"]["placement"]["inside_domain"].as_array().expect("inside_domain").iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

/// A GB200 job on NVL72 racks: `gpus`, `usable` per rack, and the parallelism fields.
fn nvl72_scenario(name: &str, gpus: u32, usable: Option<u32>, model: &str, parallelism: &str) -> String {
    let usable = usable.map_or(String::new(), |u| format!("usable_per_domain: Some({u}),"));
    format!(
        r#"(
    name: "{name}",
    model: Preset("{model}"),
    cluster: (chip: "gb200", gpus: {gpus}, gpus_per_node: 72, {usable}
              network: (fabric: "ib-ndr", nic_gbit_per_s_per_gpu: 400.0, topology: "generic-fat-tree")),
    parallelism: ({parallelism}),
    training: (seq_len: 8192, tokens: 1e12),
)"#
    )
}

#[test]
fn gb200_job_of_128_uses_two_racks_and_leaves_16_idle() {
    // 128 = 72 + 56: two racks, 2 x 72 - 128 = 16 idle; TP8 tiles 72 (9 groups per rack).
    let rel = "scenarios/examples/gb200-nvl72-128.ron";
    let v = wanka(["step", rel, "--json"]).success().json();
    assert_eq!(placement(&v), (72, 2, 72, 16, 0));
    assert_eq!(v["result"]["placement"]["last_domain_devices"], 56);
    assert_eq!(inside(&v), ["TP8"]);
    let text = wanka(["step", rel]).success().stdout;
    assert!(text.contains("domains   2 domains of 72 (72 used in 1 and 56 in the last), 16 idle devices; inside a domain: TP8"), "{text}");
}

#[test]
fn gb200_job_of_576_fills_eight_racks_with_tp8_and_nine_with_ep64() {
    let dir = temp_dir("nvl72_576");
    // Dense, TP8: 576 / 72 = 8 racks exactly, nothing idle.
    let dense =
        write_file(&dir, "dense.ron", &nvl72_scenario("576 dense", 576, None, "llama3-70b", "tp: 8, pp: 1, dp: 72, global_batch: 576"));
    let v = wanka(["step", dense.to_str().unwrap(), "--json"]).success().json();
    assert_eq!(placement(&v), (72, 8, 72, 0, 0));
    assert_eq!(inside(&v), ["TP8"]);
    // MoE, EP64 (TP1): one EP group per rack (two would need 128 > 72), so 64 GPUs per rack and
    // 576 / 64 = 9 racks; 9 x 72 - 576 = 72 idle, usable as hot spares.
    let v = wanka(["step", "scenarios/examples/gb200-nvl72-576-moe.ron", "--json"]).success().json();
    assert_eq!(placement(&v), (72, 9, 64, 72, 0));
    assert_eq!(inside(&v), ["EP64"]);
}

#[test]
fn cloudmatrix_job_of_1536_fills_four_supernodes_with_ep_inside() {
    // 1,536 / 384 = 4 supernodes; EP32 tiles 384 (12 groups each): nothing idle.
    let v = wanka(["step", "scenarios/examples/cloudmatrix384-1536.ron", "--json"]).success().json();
    assert_eq!(placement(&v), (384, 4, 384, 0, 0));
    assert_eq!(inside(&v), ["EP32"]);
    let text = wanka(["step", "scenarios/examples/cloudmatrix384-1536.ron"]).success().stdout;
    assert!(text.contains("domains   4 domains of 384 (384 used in each), 0 idle devices; inside a domain: EP32"), "{text}");
}

#[test]
fn partial_racks_use_only_their_usable_devices() {
    let dir = temp_dir("nvl72_partial");
    // Two spare trays per rack (64 of 72 usable): 576 GPUs need 576 / 64 = 9 racks; 9 x 8 = 72 unusable.
    let f = write_file(&dir, "p.ron", &nvl72_scenario("partial", 576, Some(64), "llama3-70b", "tp: 8, pp: 1, dp: 72, global_batch: 576"));
    let v = wanka(["step", f.to_str().unwrap(), "--json"]).success().json();
    assert_eq!(placement(&v), (72, 9, 64, 0, 72));
    // The same job on full racks is faster or equal per step only through the network: same devices,
    // same plan, so the step time differs at most by the placement of DP rings.
    let full = write_file(&dir, "f.ron", &nvl72_scenario("full", 576, None, "llama3-70b", "tp: 8, pp: 1, dp: 72, global_batch: 576"));
    let w = wanka(["step", full.to_str().unwrap(), "--json"]).success().json();
    let (a, b) = (v["result"]["step_s"].as_f64().unwrap(), w["result"]["step_s"].as_f64().unwrap());
    assert!((a / b - 1.0).abs() < 0.05, "partial {a} s vs full {b} s");
}

#[test]
fn tp_that_does_not_tile_a_rack_is_packed_in_whole_groups() {
    let dir = temp_dir("nvl72_tp16");
    // TP16 tiles 64 of 72: 4 groups per rack, 144 GPUs = 9 groups need 3 racks (64 + 64 + 16), 72 idle.
    let f = write_file(&dir, "tp16.ron", &nvl72_scenario("tp16", 144, None, "llama3-70b", "tp: 16, pp: 1, dp: 9, global_batch: 144"));
    let v = wanka(["step", f.to_str().unwrap(), "--json"]).success().json();
    assert_eq!(placement(&v), (72, 3, 64, 3 * 72 - 144, 0));
    assert_eq!(inside(&v), ["TP16"]);
}

#[test]
fn run_reports_the_placement_and_what_a_failing_node_means() {
    let rel = "scenarios/examples/gb200-nvl72-128.ron";
    let v = wanka(["run", rel, "--seeds", "2", "--json"]).success().json();
    let p = &v["context"]["placement"];
    assert_eq!((p["domains"].as_u64(), p["idle_devices"].as_u64()), (Some(2), Some(16)), "{p}");
    let text = wanka(["run", rel, "--seeds", "2"]).success().stdout;
    assert!(
        text.contains("domains   2 domains of 72") && text.contains("failures count 8-device servers inside the 72-device domains"),
        "{text}"
    );
}

#[test]
fn usable_devices_above_the_rack_size_name_the_field() {
    let dir = temp_dir("nvl72_bad");
    let f = write_file(&dir, "bad.ron", &nvl72_scenario("bad", 128, Some(80), "llama3-8b", "tp: 8, pp: 1, dp: 16, global_batch: 128"));
    let run = wanka(["step", f.to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("cluster.usable_per_domain") && run.stderr.contains("between 1 and gpus_per_node (72), got 80"), "{run}");
}

#[test]
fn the_2026_plan_compares_supernodes_and_names_its_estimates() {
    let plan = "scenarios/plan_2026_supernodes.ron";
    let t0 = std::time::Instant::now();
    let v = wanka(["-q", "compare", plan, "--json"]).success().json();
    // The default plan's budget on this machine class: the bundled plans must stay interactive.
    assert!(t0.elapsed().as_secs() < 120, "took {:?}", t0.elapsed());
    let cands = v["candidates"].as_array().expect("candidates");
    assert_eq!(cands.len(), 4);
    let by_name =
        |prefix: &str| cands.iter().find(|c| c["name"].as_str().unwrap().starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}"));
    // 4,096 GB200 on racks of 72: ceil(4096 / 72) = 57 racks, 57 x 72 - 4096 = 8 idle.
    let gb = by_name("57 GB200");
    let p = &gb["placement"];
    assert_eq!((p["domain_devices"].as_u64(), p["domains"].as_u64(), p["idle_devices"].as_u64()), (Some(72), Some(57), Some(8)), "{p}");
    // 6,144 910C on supernodes of 384: 16 exactly, nothing idle; TP inside a supernode.
    let cm = by_name("16 CloudMatrix");
    let p = &cm["placement"];
    assert_eq!((p["domain_devices"].as_u64(), p["domains"].as_u64(), p["idle_devices"].as_u64()), (Some(384), Some(16), Some(0)), "{p}");
    assert!(p["inside_domain"][0].as_str().unwrap().starts_with("TP"), "{p}");
    // Every candidate resting on figures without a published run says so in its flags.
    let flags = |c: &Value| c["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect::<Vec<_>>();
    let cm_flags = flags(cm);
    for needle in [
        "no published Ascend 910C training run",
        "not priced",
        "ascend-910c: catalog figures include estimates",
        "failure rates are an estimate",
    ] {
        assert!(cm_flags.iter().any(|f| f.contains(needle)), "CloudMatrix flags lack {needle:?}: {cm_flags:?}");
    }
    let gb_flags = flags(gb);
    assert!(gb_flags.iter().any(|f| f.contains("no published GB200 fleet failure data")), "{gb_flags:?}");
    assert!(gb_flags.iter().any(|f| f.starts_with("placement: 57 domains of 72")), "{gb_flags:?}");
    let h20 = by_name("10k H20");
    assert!(h20["placement"]["idle_devices"].as_u64() == Some(0), "{}", h20["placement"]);
}
