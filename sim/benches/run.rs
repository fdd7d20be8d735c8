//! Benchmarks of the training-run simulator (`cargo bench -p wanka_sim --bench run`).
//!
//! - `llama3-54d/16384xh100/one-run`: one 54-day run of 16,384 H100s with the Llama 3 failure
//!   profile (≈420 interruptions, ≈20k checkpoints), i.e. the published 54-day snapshot.
//! - `llama3-54d/16384xh100/1000-seeds`: 1,000 Monte Carlo seeds of the same, in parallel (rayon).
//! - `…/1000-seeds/1-thread` and `…/2-threads`: the same on pools of one and two threads (scaling).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wanka_sim::{Catalog, Scenario, run};

fn inputs() -> run::RunInputs {
    let text = include_str!("../../scenarios/examples/llama3-405b-16k.ron");
    let s = Scenario::parse(text, "llama3-405b-16k.ron").expect("scenario parses");
    let (mut inp, _) = s.run_inputs(Catalog::builtin(), "llama3-405b-16k.ron").expect("run inputs");
    // The 54-day snapshot: stop at 54 days of wall clock.
    inp.max_s = 54.0 * 86400.0;
    inp
}

fn bench_run(c: &mut Criterion) {
    let inp = inputs();
    let (o, _) = run::simulate_run(&inp, 1, false);
    eprintln!("one run: {} interruptions, {} checkpoints, {:.1} days", o.interruptions, o.checkpoints, o.wall_s / 86400.0);
    let mut g = c.benchmark_group("run");
    g.bench_function("llama3-54d/16384xh100/one-run", |b| b.iter(|| run::simulate_run(black_box(&inp), 7, false).0.interruptions));
    g.sample_size(10);
    g.bench_function("llama3-54d/16384xh100/1000-seeds", |b| b.iter(|| run::monte_carlo(black_box(&inp), 1, 1000).ettr.mean));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        let name = format!("llama3-54d/16384xh100/1000-seeds/{threads}-thread{}", if threads > 1 { "s" } else { "" });
        g.bench_function(&name, |b| b.iter(|| pool.install(|| run::monte_carlo(black_box(&inp), 1, 1000).ettr.mean)));
    }
    g.finish();
}

criterion_group!(benches, bench_run);
criterion_main!(benches);
