//! One training iteration of one pipeline replica, simulated as discrete events.
//!
//! The events are placed as dataflow rather than popped from a queue: an operation starts at the later
//! of its input's arrival and its stage becoming free, which is exactly when an event loop over
//! operation ends would start it (the tests keep that loop as the reference and compare to the
//! tick), at a fraction of the cost.
//!
//! Every pipeline stage has a compute stream that runs its forward and backward operations in the
//! order the schedule prescribes (1F1B or interleaved 1F1B, exactly as Megatron-LM orders them), and a
//! communication stream for data-parallel gradient reduction. An operation starts when its stage is free
//! and its input has arrived from the neighbouring stage; sends are blocking, as in Megatron-LM, so an
//! operation's duration includes the α–β cost of sending its result on.
//! After the last backward of each model chunk its gradients are reduced over DP (overlapping the
//! remaining backward when `overlap_grad_reduce`), then the optimizer runs; the step ends when the
//! slowest stage is done, plus a fixed per-iteration overhead.
//!
//! Operation durations come from [`crate::step::cost`]: GEMMs at a shape-dependent achievable efficiency,
//! memory-bound work at HBM bandwidth, and blocking TP/CP/EP collectives. ZeRO-3 parameter gathers are
//! prefetched layer by layer and only their excess over compute is exposed.
//!
//! The breakdown is taken on the critical stage, the one whose compute stream is busiest (the pipeline's
//! bottleneck), and sums exactly to the step time: compute + exposed TP/CP/EP comm + pipeline bubble
//! (idle: fill, drain, waiting on slower stages) + exposed DP comm + optimizer/other.

use serde::Serialize;

use crate::engine::{Ticks, secs, ticks};
use crate::step::cost::{ChunkCost, CostModel};
use crate::step::memory::MemoryBreakdown;
use crate::step::timelines::StageTicks;
pub use crate::step::timelines::Timelines;
use crate::workload::parallelism::{Plan, Schedule};

/// What an operation computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Pass {
    Forward,
    /// Full backward (input and weight gradients).
    Backward,
    /// Backward for the input gradient only; its weight gradient runs later as [`Pass::Weight`]
    /// (zero-bubble split, DualPipe).
    BackwardInput,
    /// Deferred weight-gradient GEMMs of an earlier [`Pass::BackwardInput`].
    Weight,
}

/// One operation of a stage's compute stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Op {
    pub pass: Pass,
    pub micro_batch: u32,
    /// Virtual chunk index on this stage (0 for 1F1B); under DualPipe the direction (0: micro-batches
    /// entering at stage 0, 1: entering at the last stage).
    pub chunk: u32,
}

/// An executed operation (for Gantt charts).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OpSpan {
    pub op: Op,
    pub start_s: f64,
    pub end_s: f64,
}

/// One stage's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageTimeline {
    pub stage: u32,
    pub ops: Vec<OpSpan>,
    /// Gradient reduction on the communication stream: (start, end) seconds (`dp_comm_spans_s` in JSON).
    #[serde(rename = "dp_comm_spans_s")]
    pub dp_comm: Vec<(f64, f64)>,
    /// Optimizer step (start, end) seconds, including the ZeRO parameter all-gather after it
    /// (`optimizer_span_s` in JSON).
    #[serde(rename = "optimizer_span_s")]
    pub optimizer: (f64, f64),
    pub end_s: f64,
    /// Time the compute stream is busy (forward and backward operations incl. blocking communication).
    pub busy_s: f64,
}

/// Where the step time goes, on the critical (bottleneck, busiest) stage. Parts sum to `step_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Breakdown {
    pub compute_s: f64,
    /// Exposed model-parallel communication: tensor-parallel collectives, pipeline sends, context- and
    /// expert-parallel exchanges.
    pub tp_comm_s: f64,
    /// Idle time waiting on other stages (warm-up, cool-down, imbalance).
    pub pp_bubble_s: f64,
    /// Data-parallel gradient reduction and ZeRO gathers not hidden behind compute.
    pub dp_comm_s: f64,
    /// Optimizer step and fixed per-iteration overhead.
    pub optimizer_other_s: f64,
}

/// Result of simulating one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    pub step_s: f64,
    pub tokens_per_s: f64,
    /// Model FLOPs utilisation: model FLOPs (3× forward, no recompute) ÷ (time × devices × 16-bit peak),
    /// whatever the GEMM precision (the published convention).
    pub mfu: f64,
    /// FP8 runs: model FLOPs ÷ (time × devices × FP8 peak).
    pub mfu_of_fp8_peak: Option<f64>,
    /// Hardware FLOPs utilisation: FLOPs executed including recomputation.
    pub hfu: f64,
    pub model_flops_per_step: f64,
    pub hardware_flops_per_step: f64,
    pub breakdown: Breakdown,
    /// The pipeline stage whose compute stream is busiest; the breakdown is taken there.
    pub critical_stage: u32,
    /// Memory of the most loaded stage's device.
    pub memory: MemoryBreakdown,
    pub memory_per_stage: Vec<MemoryBreakdown>,
    pub memory_capacity_gb: f64,
    /// Every stage's operations (built in seconds when first read: see [`Timelines`]).
    pub timelines: Timelines,
    /// Caveats that apply to this result (uncalibrated chip, approximations).
    pub notes: Vec<String>,
    /// How far predictions for this chip family and stack are from published runs (out of sample).
    pub accuracy: crate::step::accuracy::AccuracyNote,
    /// How the job sits on its scale-up domains: TP/EP groups inside, domains occupied, idle devices.
    pub placement: crate::hardware::topology::Placement,
}

/// The order in which stage `stage` runs its operations (Megatron-LM's schedules). With
/// `ep_overlap` (MoE communication overlapped with another micro-batch) the non-interleaved schedule
/// warms up with `2·(p − s − 1) + 1` forwards instead of `p − s − 1`, so that each steady-state forward
/// pairs with a backward whose input is already on its way: with the plain warm-up a stage's fused pair
/// would wait for its neighbour's, which waits for the stage's previous pair, and neighbouring stages
/// would run in turn rather than together. The interleaved warm-up already leaves that gap of two.
pub fn stage_order(plan: &Plan, stage: u32, ep_overlap: bool) -> Vec<Op> {
    stage_order_and_warm_up(plan, stage, ep_overlap).0
}

/// [`stage_order`] and the number of warm-up forwards before the steady one-forward-one-backward
/// phase (whose pairs are the only ones an overlapped schedule fuses).
fn stage_order_and_warm_up(plan: &Plan, stage: u32, ep_overlap: bool) -> (Vec<Op>, usize) {
    let (p, m) = (plan.pp, plan.micro_batches);
    if plan.schedule == Schedule::OneFOneB || plan.vpp == 1 {
        let warm = if ep_overlap { 2 * (p - stage - 1) + 1 } else { p - stage - 1 }.min(m);
        let mut ops = Vec::with_capacity(2 * m as usize);
        let f = |mb| Op { pass: Pass::Forward, micro_batch: mb, chunk: 0 };
        let b = |mb| Op { pass: Pass::Backward, micro_batch: mb, chunk: 0 };
        ops.extend((0..warm).map(f));
        for i in 0..m - warm {
            ops.push(f(warm + i));
            ops.push(b(i));
        }
        ops.extend((m - warm..m).map(b));
        return (ops, warm as usize);
    }
    let v = plan.vpp;
    let total = m * v;
    // The k-th forward runs micro-batch `(k / p·v)·p + k mod p` on virtual chunk `(k mod p·v) / p`, the
    // k-th backward the same micro-batch on chunk `v − 1 −` that; both sequences are walked with a
    // cursor instead of dividing for every operation.
    #[derive(Clone, Copy)]
    struct Cursor {
        base: u32,
        chunk: u32,
        at: u32,
    }
    let advance = |c: &mut Cursor| {
        if c.at + 1 < p {
            c.at += 1;
        } else if c.chunk + 1 < v {
            (c.at, c.chunk) = (0, c.chunk + 1);
        } else {
            (c.at, c.chunk, c.base) = (0, 0, c.base + p);
        }
    };
    let mut fc = Cursor { base: 0, chunk: 0, at: 0 };
    let mut bc = fc;
    let mut f = || {
        let op = Op { pass: Pass::Forward, micro_batch: fc.base + fc.at, chunk: fc.chunk };
        advance(&mut fc);
        op
    };
    let mut b = || {
        let op = Op { pass: Pass::Backward, micro_batch: bc.base + bc.at, chunk: v - 1 - bc.chunk };
        advance(&mut bc);
        op
    };
    let warm = ((p - stage - 1) * 2 + (v - 1) * p).min(total);
    let mut ops = Vec::with_capacity(2 * total as usize);
    for _ in 0..warm {
        ops.push(f());
    }
    for _ in 0..total - warm {
        ops.push(f());
        ops.push(b());
    }
    for _ in total - warm..total {
        ops.push(b());
    }
    (ops, warm as usize)
}

/// DualPipe's order of operations on `rank`, ported from the reference implementation
/// (github deepseek-ai/DualPipe `dualpipe/dualpipe.py`, `DualPipe.step`, eight phases). Returns the
/// operations and, per operation, whether it runs fused (overlapped) with the next one. `chunk` is the
/// direction; direction `d`'s micro-batches are numbered `d·m/2 …`.
pub fn dualpipe_order(p: u32, m: u32, rank: u32) -> (Vec<Op>, Vec<bool>) {
    let half_ranks = p / 2;
    let half_rank = rank.min(p - 1 - rank);
    let half_chunks = m / 2;
    let is_middle = rank == half_ranks - 1 || rank == half_ranks;
    // Phase 0 is the forward direction on the first half of the ranks, the reverse one on the second.
    let dir = |phase: u32| if rank < half_ranks { phase } else { 1 - phase };
    let mut ops: Vec<Op> = Vec::with_capacity(3 * m as usize);
    let mut fused: Vec<bool> = Vec::with_capacity(3 * m as usize);
    let mut next_f = [0u32; 2];
    let mut next_b = [0u32; 2];
    let mut weights: std::collections::VecDeque<Op> = std::collections::VecDeque::new();
    let mut fwd = |phase: u32, ops: &mut Vec<Op>, fused: &mut Vec<bool>, fuse: bool| {
        let d = dir(phase);
        ops.push(Op { pass: Pass::Forward, micro_batch: d * half_chunks + next_f[d as usize], chunk: d });
        fused.push(fuse);
        next_f[d as usize] += 1;
    };
    let mut bwd = |phase: u32, zb: bool, ops: &mut Vec<Op>, fused: &mut Vec<bool>, weights: &mut std::collections::VecDeque<Op>| {
        let d = dir(phase);
        let mb = d * half_chunks + next_b[d as usize];
        ops.push(Op { pass: if zb { Pass::BackwardInput } else { Pass::Backward }, micro_batch: mb, chunk: d });
        fused.push(false);
        if zb {
            weights.push_back(Op { pass: Pass::Weight, micro_batch: mb, chunk: d });
        }
        next_b[d as usize] += 1;
    };
    let weight = |ops: &mut Vec<Op>, fused: &mut Vec<bool>, weights: &mut std::collections::VecDeque<Op>| {
        if let Some(w) = weights.pop_front() {
            ops.push(w);
            fused.push(false);
        }
    };
    // Step 1: nF0.
    for _ in 0..(half_ranks - half_rank - 1) * 2 {
        fwd(0, &mut ops, &mut fused, false);
    }
    // Step 2: nF0F1.
    for _ in 0..half_rank + 1 {
        fwd(0, &mut ops, &mut fused, false);
        fwd(1, &mut ops, &mut fused, false);
    }
    // Step 3: nB1W1F1 (zero bubble).
    for _ in 0..half_ranks - half_rank - 1 {
        bwd(1, true, &mut ops, &mut fused, &mut weights);
        weight(&mut ops, &mut fused, &mut weights);
        fwd(1, &mut ops, &mut fused, false);
    }
    // Step 4 (main): nF0B1F1B0, forward/backward pairs overlapped.
    let step4 = (half_chunks + half_rank + 1).saturating_sub(p);
    for i in 0..step4 {
        if i == 0 && is_middle {
            fwd(0, &mut ops, &mut fused, false);
            bwd(1, false, &mut ops, &mut fused, &mut weights);
        } else {
            fwd(0, &mut ops, &mut fused, true);
            bwd(1, false, &mut ops, &mut fused, &mut weights);
        }
        fwd(1, &mut ops, &mut fused, true);
        bwd(0, false, &mut ops, &mut fused, &mut weights);
    }
    // Step 5: nB1F1B0.
    for _ in 0..half_ranks - half_rank - 1 {
        bwd(1, false, &mut ops, &mut fused, &mut weights);
        fwd(1, &mut ops, &mut fused, true);
        bwd(0, false, &mut ops, &mut fused, &mut weights);
    }
    // Step 6: nB1B0, the second half with zero bubble.
    let step6 = half_rank + 1;
    let mut zb = false;
    for i in 0..step6 {
        if i == step6 / 2 && half_rank % 2 == 1 {
            zb = true;
        }
        bwd(1, zb, &mut ops, &mut fused, &mut weights);
        if i == step6 / 2 && half_rank % 2 == 0 {
            zb = true;
        }
        bwd(0, zb, &mut ops, &mut fused, &mut weights);
    }
    // Step 7: nWB0 (zero bubble).
    for _ in 0..half_ranks - half_rank - 1 {
        weight(&mut ops, &mut fused, &mut weights);
        bwd(0, true, &mut ops, &mut fused, &mut weights);
    }
    // Step 8: nW.
    while !weights.is_empty() {
        weight(&mut ops, &mut fused, &mut weights);
    }
    (ops, fused)
}

/// Global chunk (index into the plan's chunks and their costs) that `op` runs on `stage`.
pub fn global_chunk(plan: &Plan, op: &Op, stage: u32) -> usize {
    if plan.schedule == Schedule::DualPipe {
        (if op.chunk == 0 { stage } else { plan.pp - 1 - stage }) as usize
    } else {
        (op.chunk * plan.pp + stage) as usize
    }
}

/// Each stage's operations and which of them run fused with the next (see [`stage_order`],
/// [`dualpipe_order`]).
pub fn stage_programs(plan: &Plan, ep_overlap: bool) -> Vec<(Vec<Op>, Vec<bool>)> {
    (0..plan.pp)
        .map(|s| {
            if plan.schedule == Schedule::DualPipe {
                return dualpipe_order(plan.pp, plan.micro_batches, s);
            }
            let (ops, warm) = stage_order_and_warm_up(plan, s, ep_overlap);
            // Only the steady phase's pairs (a warm-up forward fused with the first cool-down backward
            // would wait on the next stage, which waits on it: a deadlock), and only pairs whose
            // backward does not wait on the forward beside it (on the last stage a micro-batch's
            // backward follows its own forward directly: those run one after the other).
            let steady_end = ops.len() - warm;
            if !ep_overlap {
                let fused = vec![false; ops.len()];
                return (ops, fused);
            }
            let fused = (0..ops.len())
                .map(|i| {
                    ep_overlap
                        && i >= warm
                        && i < steady_end
                        && (i - warm) % 2 == 0
                        && ops[i].pass == Pass::Forward
                        && ops
                            .get(i + 1)
                            .is_some_and(|n| n.pass == Pass::Backward && (n.micro_batch, n.chunk) != (ops[i].micro_batch, ops[i].chunk))
                })
                .collect();
            (ops, fused)
        })
        .collect()
}

/// Largest number of (layer × micro-batch) activations each stage holds at once (`ep_overlap`: see
/// [`stage_order`]). Computed from the order's shape rather than by walking it: 1F1B peaks after its
/// warm-up plus one forward; interleaved 1F1B's count repeats with the period `p·v` of its chunk order
/// in the steady phase (each chunk enters and leaves `p` times per period), so one period of pairs
/// finds the peak; DualPipe walks its program. Equal to walking [`stage_programs`] (tested).
pub fn inflight_layer_microbatches(plan: &Plan, ep_overlap: bool) -> Vec<f64> {
    if plan.schedule == Schedule::DualPipe {
        return inflight_by_walking(plan, ep_overlap);
    }
    let (p, m) = (plan.pp, plan.micro_batches);
    let layers = |g: u32| i64::from(plan.layers_per_chunk.get(g as usize).copied().unwrap_or(0));
    let mut chunk_layers: Vec<i64> = Vec::with_capacity(plan.vpp as usize);
    (0..p)
        .map(|stage| {
            if plan.schedule == Schedule::OneFOneB || plan.vpp == 1 {
                let warm = if ep_overlap { 2 * (p - stage - 1) + 1 } else { p - stage - 1 }.min(m);
                let peak = i64::from(warm + u32::from(m > warm)) * layers(stage);
                return peak as f64;
            }
            let v = plan.vpp;
            let total = m * v;
            let group = p * v;
            // Forward `k` runs virtual chunk `(k mod p·v) / p`, backward `k` chunk `v − 1 −` that: the
            // order is walked run by run (a cursor's chunk changes every `p` operations), not op by op.
            chunk_layers.clear();
            chunk_layers.extend((0..v).map(|c| layers(c * p + stage)));
            // A cursor: (virtual chunk, position among its `p` operations), moved `n` operations that
            // stay inside the chunk's run.
            let advance = |(c, at): (u32, u32), n: u32| if at + n < p { (c, at + n) } else { (if c + 1 == v { 0 } else { c + 1 }, 0) };
            let warm = ((p - stage - 1) * 2 + (v - 1) * p).min(total);
            let mut f = (0u32, 0u32);
            let mut cur: i64 = 0;
            let mut left = warm;
            while left > 0 {
                let n = (p - f.1).min(left);
                cur += i64::from(n) * chunk_layers[f.0 as usize];
                f = advance(f, n);
                left -= n;
            }
            // Steady phase, one period: a forward adds its chunk's layers, the peak is taken, the
            // backward removes its chunk's. Inside a run where neither chunk changes, the count after
            // `j` pairs' forwards is `cur + j·add − (j − 1)·sub`: largest at the run's last pair when
            // `add ≥ sub`, else at its first.
            let mut b = (0u32, 0u32);
            let mut peak = cur;
            let mut left = (total - warm).min(group);
            while left > 0 {
                let n = (p - f.1).min(p - b.1).min(left);
                let (add, sub) = (chunk_layers[f.0 as usize], chunk_layers[(v - 1 - b.0) as usize]);
                let j = i64::from(if add >= sub { n } else { 1 });
                peak = peak.max(cur + j * add - (j - 1) * sub);
                cur += i64::from(n) * (add - sub);
                f = advance(f, n);
                b = advance(b, n);
                left -= n;
            }
            peak as f64
        })
        .collect()
}

/// [`inflight_layer_microbatches`] by walking each stage's program operation by operation.
fn inflight_by_walking(plan: &Plan, ep_overlap: bool) -> Vec<f64> {
    stage_programs(plan, ep_overlap)
        .into_iter()
        .enumerate()
        .map(|(s, (ops, _))| {
            let mut cur = 0i64;
            let mut peak = 0i64;
            for op in ops {
                let layers = i64::from(plan.layers_per_chunk[global_chunk(plan, &op, s as u32)]);
                match op.pass {
                    Pass::Forward => cur += layers,
                    Pass::Backward | Pass::BackwardInput => cur -= layers,
                    Pass::Weight => {}
                }
                peak = peak.max(cur);
            }
            peak as f64
        })
        .collect()
}

/// [`ticks`] remembering its last conversion: chunks alike (most of a model's) repeat the same
/// durations, and rounding (a library call) is a large part of placing a step. The same ticks.
fn ticks_memo() -> impl FnMut(f64) -> Ticks {
    let (mut last, mut out) = (f64::NAN, 0);
    move |x: f64| {
        if x != last {
            (last, out) = (x, ticks(x));
        }
        out
    }
}

/// Simulate one step. `costs` gives the per-chunk operation durations.
pub fn simulate(plan: &Plan, cost: &CostModel, chunk_costs: &[ChunkCost]) -> (Timelines, Breakdown, u32, f64) {
    let p = plan.pp;
    let m = plan.micro_batches as usize;
    let g_count = plan.chunks() as usize;
    let programs = stage_programs(plan, cost.ep_overlap_sm_fraction.is_some());
    let (orders, fused): (Vec<Vec<Op>>, Vec<Vec<bool>>) = programs.into_iter().unzip();
    let gc = |op: &Op, stage: u32| global_chunk(plan, op, stage);
    // Pipeline sends are blocking (Megatron-LM's batched send/recv): a forward pays the send of its
    // output to the next chunk, a backward the send of its input gradient to the previous one.
    let send_t: Vec<Ticks> = cost.p2p_next_s.iter().copied().map(ticks_memo()).collect();
    let sends = |g: usize, pass: Pass| -> Ticks {
        match pass {
            Pass::Forward if g + 1 < g_count => send_t[g],
            Pass::Backward | Pass::BackwardInput if g > 0 => send_t[g - 1],
            _ => 0,
        }
    };
    let mut t = ticks_memo();
    let fwd_t: Vec<Ticks> = chunk_costs.iter().enumerate().map(|(g, c)| t(c.forward.total_s()) + sends(g, Pass::Forward)).collect();
    // Overlapped MoE communication: a steady-state forward/backward pair (the forward of one
    // micro-batch followed by the backward of another, as 1F1B orders them) runs as one fused operation
    // whose dispatch/combine hides behind the other's compute (Megatron-core's combined 1F1B, DeepSeek's
    // F&B chunk); warm-up forwards and cool-down backwards stay blocking.
    let fused_t = |gf: usize, gb: usize| -> Ticks {
        let (f, b) = (&chunk_costs[gf].forward, &chunk_costs[gb].backward);
        // Without EP-communication overlap (DualPipe still pairs its F&B chunks) the all-to-alls block.
        let overlapped = match cost.ep_overlap_sm_fraction {
            Some(share) => ((f.compute_s + b.compute_s) / (1.0 - share)).max(f.ep_comm_s + b.ep_comm_s),
            None => f.compute_s + b.compute_s + f.ep_comm_s + b.ep_comm_s,
        };
        ticks(overlapped + f.mp_comm_s + b.mp_comm_s + f.zero_exposed_s + b.zero_exposed_s + f.offload_exposed_s + b.offload_exposed_s)
            + sends(gf, Pass::Forward)
            + sends(gb, Pass::Backward)
    };
    let mut t = ticks_memo();
    let bwd_t: Vec<Ticks> = chunk_costs.iter().enumerate().map(|(g, c)| t(c.backward.total_s()) + sends(g, Pass::Backward)).collect();
    // Zero-bubble split: the weight-gradient GEMMs leave the backward and run later on their own.
    let mut t = ticks_memo();
    let wgrad_t: Vec<Ticks> = chunk_costs.iter().zip(&bwd_t).map(|(c, b)| t(c.weight_grad_s).min(*b)).collect();
    let dur_of = |op: &Op, g: usize| -> Ticks {
        match op.pass {
            Pass::Forward => fwd_t[g],
            Pass::Backward => bwd_t[g],
            Pass::BackwardInput => bwd_t[g] - wgrad_t[g],
            Pass::Weight => wgrad_t[g],
        }
    };
    // Completion time of forward / backward per (global chunk, micro-batch); `NOT_YET` until it ran.
    const NOT_YET: Ticks = Ticks::MAX;
    let mut fwd_done: Vec<Ticks> = vec![NOT_YET; g_count * m];
    let mut bwd_done: Vec<Ticks> = vec![NOT_YET; g_count * m];
    let mut next = vec![0usize; p as usize];
    let mut free_at: Vec<Ticks> = vec![0; p as usize];
    let mut spans: Vec<Vec<(Op, Ticks, Ticks)>> = orders.iter().map(|o| Vec::with_capacity(o.len())).collect();

    // Ready time of the input of `op` on global chunk `g`, if known.
    let ready = |op: &Op, g: usize, fwd_done: &[Ticks], bwd_done: &[Ticks]| -> Option<Ticks> {
        let mb = op.micro_batch as usize;
        let t = match op.pass {
            Pass::Forward if g == 0 => 0,
            Pass::Forward => fwd_done[(g - 1) * m + mb],
            Pass::Backward | Pass::BackwardInput if g + 1 == g_count => fwd_done[g * m + mb],
            Pass::Backward | Pass::BackwardInput => bwd_done[(g + 1) * m + mb],
            // Runs in program order after its own input-gradient pass.
            Pass::Weight => 0,
        };
        (t != NOT_YET).then_some(t)
    };
    let mark_done = |op: &Op, g: usize, at: Ticks, fwd_done: &mut [Ticks], bwd_done: &mut [Ticks]| {
        let idx = g * m + op.micro_batch as usize;
        match op.pass {
            Pass::Forward => fwd_done[idx] = at,
            Pass::Backward | Pass::BackwardInput => bwd_done[idx] = at,
            Pass::Weight => {}
        }
    };

    // The schedule as dataflow: each stage runs its program in order, an operation starting when the
    // stage is free and its input has arrived — `start = max(input ready, stage free)`, exactly the
    // start a discrete-event loop over operation ends computes (the event that makes an operation
    // startable is the later of those two), so no event queue is needed. A stage runs as far as its
    // inputs are known, then its neighbours (the only stages it feeds) are revisited; every operation
    // is placed once, in integer ticks.
    let mut pending: Vec<u32> = (0..p).rev().collect();
    let mut queued = vec![true; p as usize];
    while let Some(s) = pending.pop() {
        let si = s as usize;
        queued[si] = false;
        let (order, fuses, placed) = (&orders[si][..], &fused[si][..], &mut spans[si]);
        // The stage's position in its program and when its compute stream is free, kept local while
        // it runs.
        let (first, mut i, mut free) = (next[si], next[si], free_at[si]);
        while i < order.len() {
            let op = order[i];
            let g = gc(&op, s);
            if fuses[i] {
                let op_b = order[i + 1];
                let gb = gc(&op_b, s);
                let (Some(rf), Some(rb)) = (ready(&op, g, &fwd_done, &bwd_done), ready(&op_b, gb, &fwd_done, &bwd_done)) else { break };
                let start = rf.max(rb).max(free);
                let dur = fused_t(g, gb);
                // For the Gantt chart and the breakdown: the pair's span split in proportion to the two
                // passes' compute (each part then holds at least its own full-speed compute).
                let (tf, tb) = (chunk_costs[g].forward.compute_s, chunk_costs[gb].backward.compute_s);
                let mid = start + if tf + tb > 0.0 { (dur as f64 * tf / (tf + tb)) as Ticks } else { 0 };
                let end = start + dur;
                free = end;
                placed.push((op, start, mid));
                placed.push((op_b, mid, end));
                // A fused pair completes both its operations at its end.
                mark_done(&op, g, end, &mut fwd_done, &mut bwd_done);
                mark_done(&op_b, gb, end, &mut fwd_done, &mut bwd_done);
                i += 2;
            } else {
                let Some(r) = ready(&op, g, &fwd_done, &bwd_done) else { break };
                let start = r.max(free);
                let end = start + dur_of(&op, g);
                free = end;
                placed.push((op, start, end));
                mark_done(&op, g, end, &mut fwd_done, &mut bwd_done);
                i += 1;
            }
        }
        (next[si], free_at[si]) = (i, free);
        let advanced = i > first;
        if advanced {
            for n in [(s + 1) % p, (s + p - 1) % p] {
                if !queued[n as usize] {
                    queued[n as usize] = true;
                    pending.push(n);
                }
            }
        }
    }
    // A schedule that stops early would report a step that never ran: an internal error, never a number.
    assert!(next.iter().zip(&orders).all(|(n, o)| *n == o.len()), "pipeline schedule deadlocked (a bug in wanka)");

    // Per chunk, in ticks: ZeRO-2's reduction after every backward, the once-per-step reduction.
    let red_mb_t: Vec<Ticks> = chunk_costs.iter().map(|c| c.grad_reduce_per_microbatch_s).map(ticks_memo()).collect();
    let red_t: Vec<Ticks> = chunk_costs.iter().map(|c| c.grad_reduce_s).map(ticks_memo()).collect();
    let busy: Vec<Ticks> = spans.iter().map(|sp| sp.iter().map(|(_, a, b)| b - a).sum()).collect();

    // Gradient reduction, optimizer and ZeRO all-gather per stage: (reductions, optimizer) in ticks.
    let mut stage_comm: Vec<(Vec<(Ticks, Ticks)>, (Ticks, Ticks))> = Vec::with_capacity(p as usize);
    let mut stage_ends = Vec::with_capacity(p as usize);
    for s in 0..p {
        let si = s as usize;
        let last_op_end = spans[si].last().map_or(0, |x| x.2);
        // Last backward of each virtual chunk on this stage: (start, end).
        let mut comm_free: Ticks = 0;
        let mut dp_spans = Vec::new();
        // Weight gradients are complete after a full backward or a deferred weight pass.
        let grads_done = |op: &Op| matches!(op.pass, Pass::Backward | Pass::Weight);
        let local_chunks = if plan.schedule == Schedule::DualPipe { 2 } else { plan.vpp };
        let mut chunk_order: Vec<(Ticks, Ticks, usize)> = (0..local_chunks)
            .filter_map(|v| {
                spans[si].iter().rev().find(|(op, _, _)| grads_done(op) && op.chunk == v).map(|(op, st, en)| (*st, *en, gc(op, s)))
            })
            .collect();
        chunk_order.sort();
        // ZeRO-2: every backward's gradients are reduce-scattered right after it, in order.
        for (op, _, en) in spans[si].iter().filter(|(op, _, _)| grads_done(op)) {
            let red = red_mb_t[gc(op, s)];
            if red > 0 {
                let start = (*en).max(comm_free);
                comm_free = start + red;
                dp_spans.push((start, comm_free));
            }
        }
        for (st, en, g) in chunk_order {
            let red = red_t[g];
            if red == 0 {
                continue;
            }
            let (start, end) = if cost.overlap_grad_reduce {
                // Buckets of this chunk's layers become ready during its final backward; the last
                // bucket can only go after the backward ends.
                let buckets = u64::from(chunk_costs[g].layers.max(1));
                let start = st.max(comm_free);
                (start, (start + red).max(en + red / buckets))
            } else {
                let start = last_op_end.max(comm_free);
                (start, start + red)
            };
            comm_free = end;
            dp_spans.push((start, end));
        }
        let opt_start = last_op_end.max(comm_free);
        let opt_end = opt_start + ticks(cost.optimizer_s[si]) + ticks(cost.param_gather_s[si]);
        stage_ends.push(opt_end);
        stage_comm.push((dp_spans, (opt_start, opt_end)));
    }
    let overhead = ticks(cost.iteration_overhead_s);
    let end = stage_ends.iter().copied().max().unwrap_or(0);
    let step = end + overhead;
    // The bottleneck stage: the most busy compute stream (ties: the later-finishing stage). Taking the
    // breakdown there shows what limits the pipeline; on the last-finishing stage an imbalanced
    // pipeline would show up only as "bubble".
    let crit = (0..busy.len()).max_by_key(|&i| (busy[i], stage_ends[i])).unwrap_or(0);

    // Breakdown on the bottleneck stage, in integer ticks so the parts sum exactly.
    let mut compute: Ticks = 0;
    let mut comm: Ticks = 0;
    let mut zero3: Ticks = 0;
    // Per pass kind (forward, backward), as the stage alternates them.
    let (mut zero_t, mut compute_t) = ([ticks_memo(), ticks_memo()], [ticks_memo(), ticks_memo()]);
    for (op, a, b) in &spans[crit] {
        let g = gc(op, crit as u32);
        let part = match op.pass {
            Pass::Forward => &chunk_costs[g].forward,
            Pass::Backward | Pass::BackwardInput | Pass::Weight => &chunk_costs[g].backward,
        };
        let dur = b - a;
        // Compute at full speed is compute; the rest of the span (blocking or unhidden communication,
        // the slowdown of overlapped compute, sends) is model-parallel communication.
        let k = usize::from(op.pass != Pass::Forward);
        let z = zero_t[k](part.zero_exposed_s).min(dur);
        let c = (dur - z).saturating_sub(compute_t[k](part.compute_s));
        comm += c;
        zero3 += z;
        compute += dur - c - z;
    }
    let last_op_end = spans[crit].last().map_or(0, |x| x.2);
    // Idle inside the stage's op stream plus waiting for the last stage to finish: fill, drain, imbalance.
    let bubble = last_op_end - busy[crit] + (end - stage_ends[crit]);
    let opt_ticks = ticks(cost.optimizer_s[crit]);
    let dp_exposed = stage_ends[crit] - last_op_end - opt_ticks + zero3;
    let other = opt_ticks + overhead;
    let breakdown = Breakdown {
        compute_s: secs(compute),
        tp_comm_s: secs(comm),
        pp_bubble_s: secs(bubble),
        dp_comm_s: secs(dp_exposed),
        optimizer_other_s: secs(other),
    };
    debug_assert_eq!(compute + comm + bubble + dp_exposed + other, step);
    let stages = spans
        .into_iter()
        .zip(stage_comm)
        .zip(&busy)
        .map(|((spans, (dp_comm, optimizer)), &busy)| StageTicks { spans, dp_comm, optimizer, busy })
        .collect();
    (Timelines::new(stages), breakdown, crit as u32, secs(step))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::parallelism::Recompute;

    fn plan(pp: u32, vpp: u32, m: u32) -> Plan {
        Plan {
            tp: 1,
            pp,
            dp: 1,
            cp: 1,
            ep: 1,
            etp: 1,
            schedule: if vpp > 1 { Schedule::Interleaved } else { Schedule::OneFOneB },
            vpp,
            micro_batch: 1,
            micro_batches: m,
            global_batch: m,
            recompute: Recompute::None,
            recompute_modules: Default::default(),
            recompute_layers: None,
            sequence_parallel: false,
            zero_stage: 0,
            rank_order: Default::default(),
            layers_per_chunk: vec![1; (pp * vpp) as usize],
        }
    }

    /// The cursor walk of the interleaved order gives Megatron-LM's order as its closed form reads: the
    /// k-th forward runs micro-batch `(k / p·v)·p + k mod p` on virtual chunk `(k mod p·v) / p`.
    #[test]
    fn interleaved_order_matches_its_closed_form() {
        for (pp, v, m) in [(4, 2, 8), (8, 3, 16), (16, 4, 16), (2, 2, 6), (3, 4, 9)] {
            let pl = plan(pp, v, m);
            let (total, group) = (m * v, pp * v);
            let mb_of = |k: u32| (k / group) * pp + k % pp;
            let f = |k: u32| Op { pass: Pass::Forward, micro_batch: mb_of(k), chunk: (k % group) / pp };
            let b = |k: u32| Op { pass: Pass::Backward, micro_batch: mb_of(k), chunk: v - 1 - (k % group) / pp };
            for s in 0..pp {
                let warm = ((pp - s - 1) * 2 + (v - 1) * pp).min(total);
                let mut want: Vec<Op> = (0..warm).map(f).collect();
                for i in 0..total - warm {
                    want.push(f(warm + i));
                    want.push(b(i));
                }
                want.extend((total - warm..total).map(b));
                assert_eq!(stage_order(&pl, s, false), want, "pp {pp} v {v} m {m} stage {s}");
            }
        }
    }

    #[test]
    fn every_op_runs_once() {
        for (pp, v, m) in [(4, 1, 8), (4, 2, 8), (8, 3, 16), (2, 1, 1), (3, 1, 2)] {
            let pl = plan(pp, v, m);
            for s in 0..pp {
                let ops = stage_order(&pl, s, false);
                assert_eq!(ops.len() as u32, 2 * m * v);
                for pass in [Pass::Forward, Pass::Backward] {
                    let mut seen: Vec<(u32, u32)> = ops.iter().filter(|o| o.pass == pass).map(|o| (o.chunk, o.micro_batch)).collect();
                    seen.sort();
                    seen.dedup();
                    assert_eq!(seen.len() as u32, m * v);
                }
            }
        }
    }

    /// With EP communication overlapped, steady-state forward/backward pairs run fused; every
    /// schedule shape the search can produce must still run every operation (no deadlock), whatever
    /// the number of micro-batches relative to the stages.
    #[test]
    fn fused_pairs_never_deadlock() {
        let mut bad = Vec::new();
        for p in [2u32, 3, 4, 8, 16] {
            for v in [1u32, 2, 3, 4] {
                for m in [1u32, 2, 3, 4, 5, 8, 12, 16, 24, 32, 48, 64] {
                    if v > 1 && (m % p != 0) {
                        continue;
                    }
                    let pl = plan(p, v, m);
                    let (mut cost, chunks) = uniform(p, v, 0.01, 0.02, 0.0, 0.0, 0.0);
                    cost.ep_overlap_sm_fraction = Some(0.15);
                    if std::panic::catch_unwind(|| simulate(&pl, &cost, &chunks)).is_err() {
                        bad.push((p, v, m));
                    }
                }
            }
        }
        assert!(bad.is_empty(), "fused schedules that deadlock (pp, vpp, micro-batches): {bad:?}");
    }

    #[test]
    fn one_f_one_b_holds_at_most_p_microbatches() {
        let pl = plan(4, 1, 16);
        assert_eq!(inflight_layer_microbatches(&pl, false), vec![4.0, 3.0, 2.0, 1.0]);
        assert_eq!(inflight_layer_microbatches(&pl, true), vec![8.0, 6.0, 4.0, 2.0]);
    }

    /// A 4-stage 1F1B pipeline whose third stage is three times slower: the breakdown must be taken
    /// there (its busy time is compute + comm), and sum to the step.
    #[test]
    fn breakdown_is_on_the_busiest_stage() {
        let (pp, m) = (4u32, 8u32);
        let plan = plan(pp, 1, m);
        let chunk = |scale: f64| ChunkCost {
            layers: 1,
            forward: crate::step::cost::PassCost {
                compute_s: 0.010 * scale,
                mp_comm_s: 0.002 * scale,
                ep_comm_s: 0.0,
                ..Default::default()
            },
            backward: crate::step::cost::PassCost {
                compute_s: 0.020 * scale,
                mp_comm_s: 0.004 * scale,
                ep_comm_s: 0.0,
                ..Default::default()
            },
            ..Default::default()
        };
        let chunks: Vec<ChunkCost> = (0..pp).map(|s| chunk(if s == 2 { 3.0 } else { 1.0 })).collect();
        let cost = CostModel {
            p2p_next_s: vec![0.0; pp as usize],
            overlap_grad_reduce: true,
            optimizer_s: vec![0.001; pp as usize],
            param_gather_s: vec![0.0; pp as usize],
            iteration_overhead_s: 0.0,
            ep_overlap_sm_fraction: None,
        };
        let (timelines, b, crit, step_s) = simulate(&plan, &cost, &chunks);
        assert_eq!(crit, 2);
        let busy = timelines[2].busy_s;
        assert!((busy - f64::from(m) * 3.0 * 0.036).abs() < 1e-6, "{busy}");
        assert!((b.compute_s + b.tp_comm_s - busy).abs() < 1e-6);
        assert!((b.tp_comm_s - f64::from(m) * 3.0 * 0.006).abs() < 1e-6);
        let sum = b.compute_s + b.tp_comm_s + b.pp_bubble_s + b.dp_comm_s + b.optimizer_other_s;
        assert!((sum - step_s).abs() < 1e-6, "{sum} vs {step_s}");
        // The slow stage sets the pace: the step is at least its busy time, and the others idle.
        assert!(step_s >= busy && timelines[0].busy_s < busy / 2.0);
    }

    /// `p` uniform stages of `v` chunks each: a micro-batch's forward through one stage takes `t_f`
    /// and its backward `t_b` (split evenly over the chunks), sends are free, each stage's optimizer
    /// takes `opt`, and `reduce` is each chunk's gradient reduction, not overlapped with the backward.
    fn uniform(p: u32, v: u32, t_f: f64, t_b: f64, opt: f64, reduce: f64, overhead: f64) -> (CostModel, Vec<ChunkCost>) {
        let pass =
            |t: f64| crate::step::cost::PassCost { compute_s: t / f64::from(v), mp_comm_s: 0.0, ep_comm_s: 0.0, ..Default::default() };
        let chunk = ChunkCost { layers: 1, forward: pass(t_f), backward: pass(t_b), grad_reduce_s: reduce, ..Default::default() };
        let cost = CostModel {
            p2p_next_s: vec![0.0; (p * v) as usize],
            overlap_grad_reduce: false,
            optimizer_s: vec![opt; p as usize],
            param_gather_s: vec![0.0; p as usize],
            iteration_overhead_s: overhead,
            ep_overlap_sm_fraction: None,
        };
        (cost, vec![chunk; (p * v) as usize])
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    /// The breakdown against the closed form of 1F1B, not against its own parts: with uniform stages
    /// and free sends, a step of `m ≥ p` micro-batches takes `(m + p − 1)·(t_f + t_b)` of pipeline
    /// time, of which `(p − 1)·(t_f + t_b)` is bubble on every stage, then the optimizer and the
    /// fixed overhead (Narayanan et al. 2021, §2.2). A gradient reduction after the last backward
    /// (no overlap) adds its duration on the stage that finishes last.
    #[test]
    fn one_f_one_b_matches_the_closed_form() {
        let (t_f, t_b, opt, overhead) = (0.011, 0.023, 0.004, 0.050);
        for (p, m) in [(2u32, 2u32), (2, 5), (4, 4), (4, 8), (4, 16), (3, 7), (8, 8), (8, 32)] {
            for reduce in [0.0, 0.017] {
                let (cost, chunks) = uniform(p, 1, t_f, t_b, opt, reduce, overhead);
                let (timelines, b, _, step_s) = simulate(&plan(p, 1, m), &cost, &chunks);
                let pipeline = f64::from(m + p - 1) * (t_f + t_b);
                let case = format!("p {p}, m {m}, reduce {reduce}: {b:?}, step {step_s}");
                assert!(close(step_s, pipeline + reduce + opt + overhead), "{case}");
                assert!(close(b.pp_bubble_s, f64::from(p - 1) * (t_f + t_b)), "{case}");
                assert!(close(b.compute_s, f64::from(m) * (t_f + t_b)), "{case}");
                assert!(close(b.dp_comm_s, reduce), "{case}");
                assert!(close(b.optimizer_other_s, opt + overhead), "{case}");
                assert_eq!(b.tp_comm_s, 0.0, "{case}");
                // Every stage's compute stream ends within the pipeline time, the first stage last.
                let last_op = |s: usize| timelines[s].ops.last().map_or(0.0, |o| o.end_s);
                assert!(close(last_op(0), pipeline), "{case}");
                assert!((0..p as usize).all(|s| last_op(s) <= last_op(0) + 1e-12), "{case}");
            }
        }
    }

    /// Interleaved 1F1B with `v` chunks per stage against Megatron-LM's bubble: `(p − 1)/(v·m)` of the
    /// ideal time `m·(t_f + t_b)` (Narayanan et al. 2021, §2.2), for `m` a multiple of `p`.
    #[test]
    fn interleaved_bubble_matches_megatron() {
        let (t_f, t_b, opt, overhead) = (0.012, 0.024, 0.002, 0.010);
        for (p, v, m) in [(2u32, 2u32, 2u32), (2, 3, 4), (4, 2, 4), (4, 2, 8), (4, 4, 8), (4, 2, 16), (8, 2, 16), (8, 3, 32)] {
            let (cost, chunks) = uniform(p, v, t_f, t_b, opt, 0.0, overhead);
            let (_, b, _, step_s) = simulate(&plan(p, v, m), &cost, &chunks);
            let ideal = f64::from(m) * (t_f + t_b);
            let fraction = b.pp_bubble_s / ideal;
            let expected = f64::from(p - 1) / f64::from(v * m);
            let case = format!("p {p}, v {v}, m {m}: bubble fraction {fraction} vs {expected}; {b:?}");
            assert!(close(fraction, expected), "{case}");
            assert!(close(b.compute_s, ideal), "{case}");
            assert!(close(step_s, ideal * (1.0 + expected) + opt + overhead), "{case}");
        }
    }

    fn dualpipe_plan(pp: u32, m: u32) -> Plan {
        Plan { schedule: Schedule::DualPipe, vpp: 1, ..plan(pp, 1, m) }
    }

    #[test]
    fn dualpipe_runs_every_operation_once() {
        for (pp, m) in [(2u32, 4u32), (4, 8), (4, 10), (8, 16), (8, 20), (16, 32), (16, 120)] {
            let pl = dualpipe_plan(pp, m);
            for s in 0..pp {
                let (ops, fused) = dualpipe_order(pp, m, s);
                assert_eq!(ops.len(), fused.len());
                let count = |f: &dyn Fn(&Op) -> bool| ops.iter().filter(|o| f(o)).count() as u32;
                assert_eq!(count(&|o| o.pass == Pass::Forward), m, "pp {pp} m {m} stage {s}");
                assert_eq!(count(&|o| matches!(o.pass, Pass::Backward | Pass::BackwardInput)), m, "pp {pp} m {m} stage {s}");
                assert_eq!(count(&|o| o.pass == Pass::Weight), count(&|o| o.pass == Pass::BackwardInput));
                // Fused pairs are a forward followed by a backward of the other direction.
                for i in (0..ops.len()).filter(|i| fused[*i]) {
                    assert!(ops[i].pass == Pass::Forward && ops[i + 1].pass == Pass::Backward && ops[i].chunk != ops[i + 1].chunk);
                }
            }
            let (cost, chunks) = uniform(pp, 1, 0.010, 0.020, 0.0, 0.0, 0.0);
            let (_, b, _, step_s) = simulate(&pl, &cost, &chunks);
            assert!(step_s > 0.0 && b.compute_s > 0.0);
        }
    }

    /// DualPipe's bubble against the paper's formula (DeepSeek-V3 report Table 2, DualPipe README):
    /// `(PP/2 − 1)·(F&B + B − 3W)`, with `F&B` the overlapped forward+backward pair (here without
    /// communication to hide: `F + B`). Against 1F1B's `(PP − 1)·(F + B)` it is much smaller, and it
    /// does not grow with the micro-batches.
    #[test]
    fn dualpipe_bubble_matches_the_paper() {
        let (t_f, t_b, t_w) = (0.010, 0.020, 0.008);
        for (pp, m) in [(4u32, 16u32), (8, 32), (8, 64), (16, 64)] {
            let (cost, mut chunks) = uniform(pp, 1, t_f, t_b, 0.0, 0.0, 0.0);
            for c in &mut chunks {
                c.weight_grad_s = t_w;
            }
            let (_, b, _, _) = simulate(&dualpipe_plan(pp, m), &cost, &chunks);
            let formula = f64::from(pp / 2 - 1) * ((t_f + t_b) + t_b - 3.0 * t_w);
            let case = format!("pp {pp} m {m}: bubble {} vs formula {formula}; {b:?}", b.pp_bubble_s);
            assert!((b.pp_bubble_s - formula).abs() <= 0.1 * formula, "{case}");
            assert!(close(b.compute_s, f64::from(m) * (t_f + t_b)), "{case}");
            let (_, one, _, _) = simulate(&plan(pp, 1, m), &cost, &chunks);
            assert!(b.pp_bubble_s < 0.6 * one.pp_bubble_s, "{case} vs 1F1B {}", one.pp_bubble_s);
        }
    }

    #[derive(Debug, Clone, Copy)]
    enum Event {
        OpEnd { stage: u32 },
    }

    /// The step as the discrete-event loop over operation ends computed it (the implementation
    /// before the dataflow placement), kept as the reference the placement must equal.
    fn simulate_with_event_queue(plan: &Plan, cost: &CostModel, chunk_costs: &[ChunkCost]) -> (Vec<StageTimeline>, Breakdown, u32, f64) {
        let p = plan.pp;
        let m = plan.micro_batches as usize;
        let g_count = plan.chunks() as usize;
        let programs = stage_programs(plan, cost.ep_overlap_sm_fraction.is_some());
        let (orders, fused): (Vec<Vec<Op>>, Vec<Vec<bool>>) = programs.into_iter().unzip();
        let gc = |op: &Op, stage: u32| global_chunk(plan, op, stage);
        // Pipeline sends are blocking (Megatron-LM's batched send/recv): a forward pays the send of its
        // output to the next chunk, a backward the send of its input gradient to the previous one.
        let sends = |g: usize, pass: Pass| -> Ticks {
            match pass {
                Pass::Forward if g + 1 < g_count => ticks(cost.p2p_next_s[g]),
                Pass::Backward | Pass::BackwardInput if g > 0 => ticks(cost.p2p_next_s[g - 1]),
                _ => 0,
            }
        };
        let fwd_t: Vec<Ticks> = chunk_costs.iter().enumerate().map(|(g, c)| ticks(c.forward.total_s()) + sends(g, Pass::Forward)).collect();
        // Overlapped MoE communication: a steady-state forward/backward pair (the forward of one
        // micro-batch followed by the backward of another, as 1F1B orders them) runs as one fused operation
        // whose dispatch/combine hides behind the other's compute (Megatron-core's combined 1F1B, DeepSeek's
        // F&B chunk); warm-up forwards and cool-down backwards stay blocking.
        let fused_t = |gf: usize, gb: usize| -> Ticks {
            let (f, b) = (&chunk_costs[gf].forward, &chunk_costs[gb].backward);
            let overlapped = match cost.ep_overlap_sm_fraction {
                Some(share) => ((f.compute_s + b.compute_s) / (1.0 - share)).max(f.ep_comm_s + b.ep_comm_s),
                None => f.compute_s + b.compute_s + f.ep_comm_s + b.ep_comm_s,
            };
            ticks(overlapped + f.mp_comm_s + b.mp_comm_s + f.zero_exposed_s + b.zero_exposed_s + f.offload_exposed_s + b.offload_exposed_s)
                + sends(gf, Pass::Forward)
                + sends(gb, Pass::Backward)
        };
        let fuses = |si: usize, i: usize| -> bool { fused[si].get(i).copied().unwrap_or(false) };
        let bwd_t: Vec<Ticks> =
            chunk_costs.iter().enumerate().map(|(g, c)| ticks(c.backward.total_s()) + sends(g, Pass::Backward)).collect();
        // Zero-bubble split: the weight-gradient GEMMs leave the backward and run later on their own.
        let wgrad_t: Vec<Ticks> = chunk_costs.iter().zip(&bwd_t).map(|(c, b)| ticks(c.weight_grad_s).min(*b)).collect();
        let dur_of = |op: &Op, g: usize| -> Ticks {
            match op.pass {
                Pass::Forward => fwd_t[g],
                Pass::Backward => bwd_t[g],
                Pass::BackwardInput => bwd_t[g] - wgrad_t[g],
                Pass::Weight => wgrad_t[g],
            }
        };
        // Completion time of forward / backward per (global chunk, micro-batch).
        let mut fwd_done: Vec<Option<Ticks>> = vec![None; g_count * m];
        let mut bwd_done: Vec<Option<Ticks>> = vec![None; g_count * m];
        let mut next = vec![0usize; p as usize];
        let mut busy = vec![false; p as usize];
        let mut free_at: Vec<Ticks> = vec![0; p as usize];
        let mut spans: Vec<Vec<(Op, Ticks, Ticks)>> = orders.iter().map(|o| Vec::with_capacity(o.len())).collect();
        let mut q: crate::engine::EventQueue<Event> = crate::engine::EventQueue::new();

        // Ready time of an op's input, if known.
        let ready = |op: &Op, stage: u32, fwd_done: &[Option<Ticks>], bwd_done: &[Option<Ticks>]| -> Option<Ticks> {
            let g = gc(op, stage);
            let mb = op.micro_batch as usize;
            match op.pass {
                Pass::Forward if g == 0 => Some(0),
                Pass::Forward => fwd_done[(g - 1) * m + mb],
                Pass::Backward | Pass::BackwardInput if g + 1 == g_count => fwd_done[g * m + mb],
                Pass::Backward | Pass::BackwardInput => bwd_done[(g + 1) * m + mb],
                // Runs in program order after its own input-gradient pass.
                Pass::Weight => Some(0),
            }
        };

        let try_start = |s: u32,
                         now: Ticks,
                         q: &mut crate::engine::EventQueue<Event>,
                         next: &mut [usize],
                         busy: &mut [bool],
                         free_at: &mut [Ticks],
                         spans: &mut [Vec<(Op, Ticks, Ticks)>],
                         fwd_done: &[Option<Ticks>],
                         bwd_done: &[Option<Ticks>]| {
            let si = s as usize;
            if busy[si] || next[si] >= orders[si].len() {
                return;
            }
            let op = orders[si][next[si]];
            let g = gc(&op, s);
            if fuses(si, next[si]) {
                let op_b = orders[si][next[si] + 1];
                let gb = gc(&op_b, s);
                if let (Some(rf), Some(rb)) = (ready(&op, s, fwd_done, bwd_done), ready(&op_b, s, fwd_done, bwd_done)) {
                    let start = rf.max(rb).max(free_at[si]).max(now);
                    let dur = fused_t(g, gb);
                    // For the Gantt chart and the breakdown: the pair's span split in proportion to the two
                    // passes' compute (each part then holds at least its own full-speed compute).
                    let (tf, tb) = (chunk_costs[g].forward.compute_s, chunk_costs[gb].backward.compute_s);
                    let mid = start + if tf + tb > 0.0 { (dur as f64 * tf / (tf + tb)) as Ticks } else { 0 };
                    busy[si] = true;
                    free_at[si] = start + dur;
                    spans[si].push((op, start, mid));
                    spans[si].push((op_b, mid, start + dur));
                    q.schedule_at(start + dur, Event::OpEnd { stage: s });
                }
                return;
            }
            if let Some(r) = ready(&op, s, fwd_done, bwd_done) {
                let start = r.max(free_at[si]).max(now);
                let dur = dur_of(&op, g);
                busy[si] = true;
                free_at[si] = start + dur;
                spans[si].push((op, start, start + dur));
                q.schedule_at(start + dur, Event::OpEnd { stage: s });
            }
        };

        for s in 0..p {
            try_start(s, 0, &mut q, &mut next, &mut busy, &mut free_at, &mut spans, &fwd_done, &bwd_done);
        }
        while let Some((now, Event::OpEnd { stage })) = q.pop() {
            let si = stage as usize;
            // A fused pair completes both its operations.
            let n_done = if fuses(si, next[si]) { 2 } else { 1 };
            for _ in 0..n_done {
                let op = orders[si][next[si]];
                let g = gc(&op, stage);
                let idx = g * m + op.micro_batch as usize;
                match op.pass {
                    Pass::Forward => fwd_done[idx] = Some(now),
                    Pass::Backward | Pass::BackwardInput => bwd_done[idx] = Some(now),
                    Pass::Weight => {}
                }
                next[si] += 1;
            }
            busy[si] = false;
            for s in [stage, (stage + 1) % p, (stage + p - 1) % p] {
                try_start(s, now, &mut q, &mut next, &mut busy, &mut free_at, &mut spans, &fwd_done, &bwd_done);
            }
        }
        // A schedule that stops early would report a step that never ran: an internal error, never a number.
        assert!(next.iter().zip(&orders).all(|(n, o)| *n == o.len()), "pipeline schedule deadlocked (a bug in wanka)");

        // Gradient reduction, optimizer and ZeRO all-gather per stage.
        let mut timelines = Vec::with_capacity(p as usize);
        let mut stage_ends = Vec::with_capacity(p as usize);
        for s in 0..p {
            let si = s as usize;
            let last_op_end = spans[si].last().map_or(0, |x| x.2);
            // Last backward of each virtual chunk on this stage: (start, end).
            let mut comm_free: Ticks = 0;
            let mut dp_spans = Vec::new();
            // Weight gradients are complete after a full backward or a deferred weight pass.
            let grads_done = |op: &Op| matches!(op.pass, Pass::Backward | Pass::Weight);
            let local_chunks = if plan.schedule == Schedule::DualPipe { 2 } else { plan.vpp };
            let mut chunk_order: Vec<(Ticks, Ticks, usize)> = (0..local_chunks)
                .filter_map(|v| {
                    spans[si].iter().rev().find(|(op, _, _)| grads_done(op) && op.chunk == v).map(|(op, st, en)| (*st, *en, gc(op, s)))
                })
                .collect();
            chunk_order.sort();
            // ZeRO-2: every backward's gradients are reduce-scattered right after it, in order.
            for (op, _, en) in spans[si].iter().filter(|(op, _, _)| grads_done(op)) {
                let g = gc(op, s);
                let red = ticks(chunk_costs[g].grad_reduce_per_microbatch_s);
                if red > 0 {
                    let start = (*en).max(comm_free);
                    comm_free = start + red;
                    dp_spans.push((secs(start), secs(comm_free)));
                }
            }
            for (st, en, g) in chunk_order {
                let red = ticks(chunk_costs[g].grad_reduce_s);
                if red == 0 {
                    continue;
                }
                let (start, end) = if cost.overlap_grad_reduce {
                    // Buckets of this chunk's layers become ready during its final backward; the last
                    // bucket can only go after the backward ends.
                    let buckets = u64::from(chunk_costs[g].layers.max(1));
                    let start = st.max(comm_free);
                    (start, (start + red).max(en + red / buckets))
                } else {
                    let start = last_op_end.max(comm_free);
                    (start, start + red)
                };
                comm_free = end;
                dp_spans.push((secs(start), secs(end)));
            }
            let opt_start = last_op_end.max(comm_free);
            let opt_end = opt_start + ticks(cost.optimizer_s[si]) + ticks(cost.param_gather_s[si]);
            stage_ends.push(opt_end);
            timelines.push(StageTimeline {
                stage: s,
                ops: spans[si].iter().map(|(op, a, b)| OpSpan { op: *op, start_s: secs(*a), end_s: secs(*b) }).collect(),
                dp_comm: dp_spans,
                optimizer: (secs(opt_start), secs(opt_end)),
                end_s: secs(opt_end),
                busy_s: secs(spans[si].iter().map(|(_, a, b)| b - a).sum()),
            });
        }
        let overhead = ticks(cost.iteration_overhead_s);
        let end = stage_ends.iter().copied().max().unwrap_or(0);
        let step = end + overhead;
        // The bottleneck stage: the most busy compute stream (ties: the later-finishing stage). Taking the
        // breakdown there shows what limits the pipeline; on the last-finishing stage an imbalanced
        // pipeline would show up only as "bubble".
        let busy: Vec<Ticks> = spans.iter().map(|sp| sp.iter().map(|(_, a, b)| b - a).sum()).collect();
        let crit = (0..busy.len()).max_by_key(|&i| (busy[i], stage_ends[i])).unwrap_or(0);

        // Breakdown on the bottleneck stage, in integer ticks so the parts sum exactly.
        let mut compute: Ticks = 0;
        let mut comm: Ticks = 0;
        let mut zero3: Ticks = 0;
        for (op, a, b) in &spans[crit] {
            let g = gc(op, crit as u32);
            let part = match op.pass {
                Pass::Forward => &chunk_costs[g].forward,
                Pass::Backward | Pass::BackwardInput | Pass::Weight => &chunk_costs[g].backward,
            };
            let dur = b - a;
            // Compute at full speed is compute; the rest of the span (blocking or unhidden communication,
            // the slowdown of overlapped compute, sends) is model-parallel communication.
            let z = ticks(part.zero_exposed_s).min(dur);
            let c = (dur - z).saturating_sub(ticks(part.compute_s));
            comm += c;
            zero3 += z;
            compute += dur - c - z;
        }
        let last_op_end = spans[crit].last().map_or(0, |x| x.2);
        // Idle inside the stage's op stream plus waiting for the last stage to finish: fill, drain, imbalance.
        let bubble = last_op_end - busy[crit] + (end - stage_ends[crit]);
        let opt_ticks = ticks(cost.optimizer_s[crit]);
        let dp_exposed = stage_ends[crit] - last_op_end - opt_ticks + zero3;
        let other = opt_ticks + overhead;
        let breakdown = Breakdown {
            compute_s: secs(compute),
            tp_comm_s: secs(comm),
            pp_bubble_s: secs(bubble),
            dp_comm_s: secs(dp_exposed),
            optimizer_other_s: secs(other),
        };
        debug_assert_eq!(compute + comm + bubble + dp_exposed + other, step);
        (timelines, breakdown, crit as u32, secs(step))
    }

    /// Plans of every schedule shape with uneven chunk costs, sends, ZeRO-2 reductions, overlapped
    /// gradient reduction and fused MoE pairs: the dataflow placement gives the same timelines,
    /// breakdown, critical stage and step time as the event loop, to the tick.
    #[test]
    fn dataflow_placement_equals_the_event_loop() {
        let mut checked = 0;
        for p in [1u32, 2, 3, 4, 8] {
            for v in [1u32, 2, 3] {
                for m in [1u32, 2, 3, 4, 6, 8, 12, 16, 24] {
                    for variant in 0..4u32 {
                        if v > 1 && (p == 1 || m % p != 0) {
                            continue;
                        }
                        let mut pl = plan(p, v, m);
                        pl.layers_per_chunk = (0..p * v).map(|g| 1 + (g * 7 + variant) % 3).collect();
                        let dual = variant == 3 && v == 1 && p % 2 == 0 && m % 2 == 0 && m >= 2 * p;
                        if dual {
                            pl.schedule = Schedule::DualPipe;
                        }
                        let chunks: Vec<ChunkCost> = (0..p * v)
                            .map(|g| {
                                let x = f64::from(1 + (g * 5 + variant) % 4);
                                let pass = |t: f64| crate::step::cost::PassCost {
                                    compute_s: t * x,
                                    mp_comm_s: 0.0003 * x,
                                    ep_comm_s: if variant >= 2 { 0.002 * x } else { 0.0 },
                                    zero_exposed_s: if variant == 1 { 0.0001 } else { 0.0 },
                                    ..Default::default()
                                };
                                ChunkCost {
                                    layers: pl.layers_per_chunk[g as usize],
                                    forward: pass(0.0011),
                                    backward: pass(0.0023),
                                    grad_reduce_s: 0.004 * x,
                                    grad_reduce_per_microbatch_s: if variant == 1 { 0.0002 } else { 0.0 },
                                    weight_grad_s: 0.0007 * x,
                                    ..Default::default()
                                }
                            })
                            .collect();
                        let cost = CostModel {
                            p2p_next_s: (0..p * v).map(|g| 0.00001 * f64::from(g % 3)).collect(),
                            overlap_grad_reduce: variant % 2 == 0,
                            optimizer_s: (0..p).map(|s| 0.001 + 0.0001 * f64::from(s)).collect(),
                            param_gather_s: vec![0.0002; p as usize],
                            iteration_overhead_s: 0.003,
                            ep_overlap_sm_fraction: (variant >= 2).then_some(0.2),
                        };
                        let (timelines, b, crit, step_s) = simulate(&pl, &cost, &chunks);
                        let new = (timelines.to_vec(), b, crit, step_s);
                        let reference = simulate_with_event_queue(&pl, &cost, &chunks);
                        assert_eq!(new, reference, "pp {p} vpp {v} m {m} variant {variant}");
                        for overlap in [false, true] {
                            assert_eq!(
                                inflight_layer_microbatches(&pl, overlap),
                                inflight_by_walking(&pl, overlap),
                                "inflight: pp {p} vpp {v} m {m} variant {variant} overlap {overlap}"
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 300, "{checked}");
    }
}
