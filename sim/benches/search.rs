//! Benchmarks of planning (`cargo bench -p wanka_sim --bench search`).
//!
//! - `llama3-405b/16384xh100`: the parallelism search for Llama 3 405B on 16,384 H100s with the
//!   default space widened to ≥ 10,000 candidate plans (the count is printed).
//! - `gpt3-175b/1024xa100`: the default search space for GPT-3 175B on 1,024 A100 80 GB (HDR
//!   InfiniBand, 2,048-token sequences, 3M-token batches).
//! - `bloom-176b/384xa100/compare`: the BLOOM whole-run validation case as a plan end to end (its
//!   published TP4 PP12 pinned and a searched candidate, 1,024-sequence batches over 8 replicas;
//!   search + Monte Carlo + economics), the slow `compare`.
//! - `default-plan/compare`: the bundled default plan end to end (five candidates incl. a mixed one,
//!   search + Monte Carlo + economics), with 100 seeds per candidate as shipped.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wanka_sim::Catalog;
use wanka_sim::hardware::topology::{Cluster, ClusterSpec, NetworkSpec};
use wanka_sim::planning::plan_file::PlanFile;
use wanka_sim::planning::search::{self, BatchTarget};
use wanka_sim::step::cost::FrameworkSpec;
use wanka_sim::workload::model;

fn bench_search(c: &mut Criterion) {
    let m = model::preset("llama3-405b").unwrap();
    let spec = ClusterSpec {
        chip: "h100-sxm".into(),
        gpus: 16384,
        gpus_per_node: 8,
        usable_per_domain: None,
        network: NetworkSpec { fabric: "roce-400g".into(), nic_gbit_per_s_per_gpu: 400.0, topology: "meta-roce-clos".into() },
    };
    let cluster = Cluster::resolve(&spec, Catalog::builtin(), "bench").unwrap();
    let space = search::default_space(&m, &cluster, 8192);
    let fw = FrameworkSpec::default();
    let r = search::search(&m, &cluster, 8192, &fw, &space, BatchTarget::Tokens(16e6), 5);
    eprintln!(
        "llama3-405b search: {} candidates enumerated, {} feasible; best {:?}",
        r.enumerated,
        r.feasible,
        r.top.first().map(|t| wanka_sim::planning::plan_file::describe(&t.spec))
    );
    assert!(r.enumerated >= 10_000);
    let mut g = c.benchmark_group("search");
    g.sample_size(10);
    g.bench_function("llama3-405b/16384xh100", |b| {
        b.iter(|| search::search(black_box(&m), &cluster, 8192, &fw, &space, BatchTarget::Tokens(16e6), 5).feasible)
    });
    let gpt3 = model::preset("gpt3-175b").unwrap();
    let a100 = ClusterSpec {
        chip: "a100-sxm-80gb".into(),
        gpus: 1024,
        gpus_per_node: 8,
        usable_per_domain: None,
        network: NetworkSpec { fabric: "ib-hdr".into(), nic_gbit_per_s_per_gpu: 200.0, topology: "generic-fat-tree".into() },
    };
    let a100 = Cluster::resolve(&a100, Catalog::builtin(), "bench").unwrap();
    let gpt3_space = search::default_space(&gpt3, &a100, 2048);
    g.bench_function("gpt3-175b/1024xa100", |b| {
        b.iter(|| search::search(black_box(&gpt3), &a100, 2048, &fw, &gpt3_space, BatchTarget::Tokens(3_145_728.0), 5).feasible)
    });
    let runs = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/validation/whole_runs.csv");
    let bloom = wanka_sim::validate::whole_run::read_whole_runs(std::path::Path::new(runs))
        .unwrap()
        .into_iter()
        .find(|c| c.id == "bloom-176b-a100-384")
        .expect("the BLOOM whole-run case");
    g.bench_function("bloom-176b/384xa100/compare", |b| {
        b.iter(|| bloom.plan.compare(Catalog::builtin(), "whole_runs.csv").unwrap().candidates.len())
    });
    let plan_text = include_str!("../../scenarios/default_plan.ron");
    let plan = PlanFile::parse(plan_text, "default_plan.ron").unwrap();
    g.bench_function("default-plan/compare", |b| b.iter(|| plan.compare(Catalog::builtin(), "default_plan.ron").unwrap().candidates.len()));
    g.finish();
}

criterion_group!(benches, bench_search);
criterion_main!(benches);
