//! The screen: a closed-form step time over the same operation costs as the event simulation, for
//! ranking many candidate plans cheaply (the first rung of the search's fidelity ladder,
//! `planning::search`).
//!
//! It starts from a [`Prepared`](crate::step::Prepared) plan — every check of
//! [`simulate`](crate::step::simulate) passed and every operation priced by [`crate::step::cost`] —
//! and replaces only the schedule ([`crate::step::schedule`]) by its analytic form:
//!
//! - **Pipeline.** Per micro-batch a stage `s` works `W_s = Σ_chunks (forward + backward)`, sends
//!   included (with overlapped MoE communication, the fused forward/backward pair's time instead). The
//!   slowest stage sets the pace and the others' work is the fill and drain: `T = m·max W +
//!   (Σ W − max W)/v` for `m` micro-batches and `v` chunks per stage. For uniform stages that is
//!   exactly 1F1B's `(m + p − 1)·(t_f + t_b)` and interleaved 1F1B's bubble `(p − 1)/(v·m)`
//!   (Narayanan et al. 2021 §2.2). DualPipe: the slowest stage's work plus the paper's bubble
//!   `(p/2 − 1)·(F&B + B − 3W)`.
//! - **Data parallelism.** A stage's last backward ends the pipeline time less the backwards still to
//!   run on the stages before it; its gradient reductions are then chained on its communication
//!   stream as the schedule chains them (overlapped: from the last backward of each chunk, the last
//!   bucket after it; otherwise after the last backward), ZeRO-2's per-micro-batch reduce-scatters
//!   exposed where they outlast the backwards they follow.
//! - **Optimizer** and ZeRO parameter gathers per stage, the iteration overhead once.
//!
//! Not modelled: stalls between stages of different speed inside a micro-batch's path beyond the
//! bottleneck's pace, the unfused warm-up and cool-down passes of an overlapped schedule, the exact
//! cool-down spacing of interleaved chunks. The screen therefore ranks rather than predicts: the
//! search simulates its best plans exactly, and what a report shows is always the event simulation's
//! figure (the search reports the screen's gap on its shown plans).

use crate::step::cost::{ChunkCost, CostModel};
use crate::workload::parallelism::{Plan, Schedule};

/// Closed-form step time (seconds) of a plan with operation costs `cost` and `chunks`.
///
/// Each chunk's forward, backward and pair time is computed once (the search calls this for every
/// plan, so nothing here allocates per stage); every sum runs in the same order as the formulas read.
pub fn step_s(plan: &Plan, cost: &CostModel, chunks: &[ChunkCost]) -> f64 {
    let p = plan.pp.max(1) as usize;
    let g_count = chunks.len();
    let m = f64::from(plan.micro_batches);
    let dual = plan.schedule == Schedule::DualPipe;
    let v = if dual { 1 } else { (g_count / p).max(1) };
    let send = |g: usize| cost.p2p_next_s.get(g).copied().unwrap_or(0.0);
    let fwd_of = |g: usize| chunks[g].forward.total_s() + if g + 1 < g_count { send(g) } else { 0.0 };
    let bwd_of = |g: usize| chunks[g].backward.total_s() + if g > 0 { send(g - 1) } else { 0.0 };
    let pair_of = |g: usize| match cost.ep_overlap_sm_fraction {
        Some(frac) => {
            let (f, b) = (&chunks[g].forward, &chunks[g].backward);
            let slow = 1.0 / (1.0 - frac);
            ((f.compute_s + b.compute_s) * slow).max(f.ep_comm_s + b.ep_comm_s)
                + f.mp_comm_s
                + b.mp_comm_s
                + f.zero_exposed_s
                + b.zero_exposed_s
                + f.offload_exposed_s
                + b.offload_exposed_s
                + (fwd_of(g) - f.total_s())
                + (bwd_of(g) - b.total_s())
        }
        None => fwd_of(g) + bwd_of(g),
    };
    // Per chunk: (forward, backward, forward/backward pair), each with its sends.
    let per_chunk: Vec<(f64, f64, f64)> = (0..g_count).map(|g| (fwd_of(g), bwd_of(g), pair_of(g))).collect();
    let fwd = |g: usize| per_chunk[g].0;
    let bwd = |g: usize| per_chunk[g].1;
    let pair = |g: usize| per_chunk[g].2;
    // The global chunks stage `s` runs, as `(count, s, DualPipe)` for `chunk_at` (DualPipe: its own
    // chunk, then the mirrored one).
    let stage_chunks = |s: usize| -> (usize, usize, bool) {
        if dual { (if s == p - 1 - s { 1 } else { 2 }, s, true) } else { ((0..v).take_while(|c| c * p + s < g_count).count(), s, false) }
    };
    let chunk_at = |(_, s, is_dual): (usize, usize, bool), i: usize| if is_dual { if i == 0 { s } else { p - 1 - s } } else { i * p + s };
    // Per micro-batch work of each stage (DualPipe: each direction carries half the micro-batches).
    let mut max_w = 0.0_f64;
    let mut sum_w = 0.0_f64;
    for s in 0..p {
        let local = stage_chunks(s);
        let w: f64 = (0..local.0).map(|i| pair(chunk_at(local, i))).sum();
        let w = if dual { w / 2.0 } else { w };
        max_w = max_w.max(w);
        sum_w += w;
    }
    // Interleaved: each round of `p` micro-batches through chunk `c` is paced by that chunk's slowest
    // stage, so the steady pace is the sum over chunks of the slowest stage (≥ the slowest stage's sum).
    let pace = if dual || v == 1 {
        max_w
    } else {
        (0..v).map(|c| (0..p).map(|s| c * p + s).filter(|g| *g < g_count).map(pair).fold(0.0, f64::max)).sum::<f64>()
    };
    let pipeline = if dual {
        let n = g_count.max(1) as f64;
        let mean = |f: &dyn Fn(usize) -> f64| (0..g_count).map(f).sum::<f64>() / n;
        let (f, b, w) = (mean(&fwd), mean(&bwd), mean(&|g| chunks[g].weight_grad_s.min(bwd(g))));
        m * max_w + ((p / 2) as f64 - 1.0).max(0.0) * (f + 2.0 * b - 3.0 * w).max(0.0)
    } else {
        m * pace + (sum_w - max_w) / v as f64
    };
    // One micro-batch's forward through the whole model: when the first backward can start.
    let fwd_total: f64 = (0..g_count).map(fwd).sum();
    // Backwards of the last micro-batch still to run on the stages before `s` (through chunk 0).
    let mut behind = 0.0;
    let mut end = 0.0_f64;
    for s in 0..p {
        let last_end = if dual { pipeline } else { pipeline - behind };
        if !dual {
            behind += bwd(s);
        }
        let local = stage_chunks(s);
        let n_local = local.0;
        let mut comm_free = 0.0_f64;
        // ZeRO-2: a reduce-scatter after every backward, queued on the communication stream. The queue
        // ends after the last backward's own reduction, or — when reductions outlast the backwards'
        // spacing — after all of them from the first backward on.
        let reduce_all: f64 =
            (0..n_local).map(|i| chunks[chunk_at(local, i)].grad_reduce_per_microbatch_s).sum::<f64>() * if dual { m / 2.0 } else { m };
        if reduce_all > 0.0 {
            let last_red = if n_local > 0 { chunks[chunk_at(local, 0)].grad_reduce_per_microbatch_s } else { 0.0 };
            let first_chunk = if dual { s } else { (v - 1) * p + s };
            let first_bwd_end = fwd_total + (first_chunk..g_count).map(bwd).sum::<f64>();
            comm_free = (first_bwd_end + reduce_all).max(last_end + last_red);
        }
        // Once-per-step reductions, in the order the chunks' last backwards run (chunk 0 last).
        let b_mean = if n_local == 0 { 0.0 } else { (0..n_local).map(|i| bwd(chunk_at(local, i))).sum::<f64>() / n_local as f64 };
        for c in (0..n_local).rev() {
            let g = chunk_at(local, c);
            let red = chunks[g].grad_reduce_s;
            if red <= 0.0 {
                continue;
            }
            if cost.overlap_grad_reduce {
                let en = last_end - c as f64 * p as f64 * b_mean;
                let st = en - bwd(g);
                let buckets = f64::from(chunks[g].layers.max(1));
                let start = st.max(comm_free);
                comm_free = (start + red).max(en + red / buckets);
            } else {
                comm_free = last_end.max(comm_free) + red;
            }
        }
        let opt = cost.optimizer_s.get(s).copied().unwrap_or(0.0) + cost.param_gather_s.get(s).copied().unwrap_or(0.0);
        end = end.max(last_end.max(comm_free) + opt);
    }
    end + cost.iteration_overhead_s
}
