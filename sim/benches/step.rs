//! Benchmarks of one simulated training step (`cargo bench -p wanka_sim --bench step`).
//!
//! - `llama3-405b/16384xh100`: Llama 3 405B on 16,384 H100s (8 per node, 400 Gbit/s InfiniBand NDR per
//!   GPU, Meta's RoCE Clos topology), TP8 PP16 DP128, interleaved with 4 virtual chunks per stage
//!   (fits in memory: about 77 of 86 GB on the worst stage), micro-batch 1, global batch 2048 of 8192
//!   tokens, no recomputation, sequence parallelism, ZeRO-2, on Meta's stack (`llama3-meta`; the
//!   default Megatron-core stack has no ZeRO-2) — the largest published dense run.
//!   Measured twice: parsing + resolving + simulating from the RON text, and simulating a parsed
//!   scenario.
//! - `llama3-405b/16384xh100/screen`: the same plan through the search's first rung — resolve, every
//!   check and the operation costs (`step::prepare`), then the closed-form screen (`step::screen`):
//!   what the search pays per configuration (target ≤ 5 µs).
//! - `default`: the bundled `scenarios/default.ron`, from text.
//! - `deepseek-v3/2048xh800/simulate`: `scenarios/examples/deepseek-v3-2048-h800.ron` (DualPipe over
//!   PP16 with 120 micro-batches, EP64, de-duplicated FP8 dispatch), a parsed scenario (the MoE issue's
//!   target: under 1 ms).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wanka_sim::{Catalog, Scenario};

const LLAMA3_405B_16K: &str = r#"(
    name: "llama3-405b on 16,384 H100",
    model: Preset("llama3-405b"),
    cluster: (
        chip: "h100-sxm",
        gpus: 16384,
        gpus_per_node: 8,
        network: (
            fabric: "ib-ndr",
            nic_gbit_per_s_per_gpu: 400.0,
            topology: "meta-roce-clos",
        ),
    ),
    parallelism: (
        tp: 8,
        pp: 16,
        dp: 128,
        schedule: Some(Interleaved),
        vpp: Some(4),
        micro_batch: Some(1),
        global_batch: 2048,
        recompute: None,
        sequence_parallel: true,
        zero_stage: 2,
    ),
    training: (
        seq_len: 8192,
        tokens: 15.6e12,
    ),
    framework: (stack: "llama3-meta"),
)"#;

/// Parse, resolve against the built-in catalog and simulate one step; returns the step time.
fn step_from_text(text: &str, name: &str) -> f64 {
    let scenario = Scenario::parse(text, name).expect("scenario parses");
    scenario.simulate_step(Catalog::builtin(), name).expect("step simulates").step_s
}

fn bench_step(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let mut g = c.benchmark_group("step");

    g.bench_function("llama3-405b/16384xh100/from-text", |b| b.iter(|| step_from_text(black_box(LLAMA3_405B_16K), "llama3-405b-16k")));

    let parsed = Scenario::parse(LLAMA3_405B_16K, "llama3-405b-16k").expect("scenario parses");
    g.bench_function("llama3-405b/16384xh100/simulate", |b| {
        b.iter(|| black_box(&parsed).simulate_step(catalog, "llama3-405b-16k").expect("step simulates").step_s)
    });

    let r = parsed.resolve(catalog, "llama3-405b-16k").expect("resolves");
    let (spec, seq, fw) = (parsed.parallelism.clone(), parsed.training.seq_len, parsed.framework.clone());
    g.bench_function("llama3-405b/16384xh100/screen", |b| {
        b.iter(|| {
            let plan = wanka_sim::step::resolve_plan(&r.model, black_box(&spec), seq, r.cluster.gpus).expect("resolves");
            let p = wanka_sim::step::prepare(&r.model, &plan, &r.cluster, seq, &fw).expect("fits");
            wanka_sim::step::screen::step_s(&plan, &p.cost, &p.chunks)
        })
    });

    let default_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/default.ron");
    let default = std::fs::read_to_string(default_path).expect("read scenarios/default.ron");
    g.bench_function("default/from-text", |b| b.iter(|| step_from_text(black_box(&default), "scenarios/default.ron")));

    let ds_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/examples/deepseek-v3-2048-h800.ron");
    let ds_text = std::fs::read_to_string(ds_path).expect("read the DeepSeek-V3 example");
    let ds = Scenario::parse(&ds_text, "deepseek-v3-2048-h800.ron").expect("scenario parses");
    g.bench_function("deepseek-v3/2048xh800/simulate", |b| {
        b.iter(|| black_box(&ds).simulate_step(catalog, "deepseek-v3-2048-h800.ron").expect("step simulates").step_s)
    });

    g.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
