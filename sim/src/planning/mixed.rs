//! Mixed hardware: one training job on two or more chip types.
//!
//! Three ways to use pools of different chips (e.g. 4k H100 + 6k A800), all simulated, the best kept:
//! - **Heterogeneous pipeline** (1F1B or interleaved): every DP replica spans both pools; its pipeline stages run on
//!   different chips, with layers split in proportion to each chip's per-layer speed (and capped by
//!   its memory), so stage times balance. Stage counts follow the pool sizes
//!   (`dp·tp·stages_A = devices_A`).
//! - **Heterogeneous data parallelism**: replicas of the same TP×PP shape (1F1B or interleaved) on each
//!   pool; the global batch is split in proportion to replica throughput so all replicas finish together.
//! - **Best single pool**: the other pools idle (or run another job): wins when the slow pool adds
//!   more communication or imbalance than throughput.
//!
//! Limits (documented, deliberate): pools must share the node size and the scale-out network (the
//! slower link sets cross-pool sends); the cross-pool DP
//! all-reduce is costed within each pool (ring cost grows only with `(n−1)/n`); numerics of mixing
//! chips (different kernels, FP formats) are ignored.

use serde::Serialize;

use crate::engine::secs;
use crate::hardware::topology::Cluster;
use crate::planning::search::BatchTarget;
use crate::step::cost::{self, FrameworkSpec};
use crate::step::memory;
use crate::step::schedule::{self as step, inflight_layer_microbatches};
use crate::workload::model::ModelSpec;
use crate::workload::parallelism::{self, ParallelismSpec, Plan, RankOrder, Recompute, Schedule};

/// A mixed-hardware option and how it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixedOption {
    /// `hetero-pipeline`, `hetero-data` or `single-pool:<chip>`.
    pub strategy: String,
    /// The layout in words.
    pub layout: String,
    pub step_s: f64,
    pub tokens_per_s: f64,
    /// Seconds per million tokens.
    pub s_per_mtok: f64,
    /// Model FLOPs utilisation against the peak of every device in the candidate.
    pub mfu: f64,
    /// Devices doing work.
    pub devices_used: u64,
    /// Per-stage busy time (forward+backward of one step) for hetero pipelines, seconds.
    pub stage_busy_s: Vec<f64>,
    pub layers_per_stage: Vec<u32>,
}

/// Split `layers` over stages whose chips take `per_layer_s[s]` per layer, the last stage also carrying
/// `logits_s` of output-layer work, each stage holding at most `max_layers[s]` (memory); minimise the
/// slowest stage. Returns `None` when the layers do not fit.
pub fn split_layers(layers: u32, per_layer_s: &[f64], logits_s: f64, max_layers: &[u32]) -> Option<Vec<u32>> {
    let n = per_layer_s.len();
    let extra = |s: usize| if s + 1 == n { logits_s } else { 0.0 };
    let count = |t: f64, s: usize| -> u32 { (((t - extra(s)) / per_layer_s[s] + 1e-9).floor().max(1.0) as u32).min(max_layers[s]) };
    if (0..n).map(|s| max_layers[s]).sum::<u32>() < layers || max_layers.contains(&0) {
        return None;
    }
    let total = |t: f64| (0..n).map(|s| u64::from(count(t, s))).sum::<u64>();
    let (mut lo, mut hi) = (0.0, per_layer_s.iter().cloned().fold(0.0, f64::max) * f64::from(layers) + logits_s + 1.0);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if total(mid) >= u64::from(layers) { hi = mid } else { lo = mid }
    }
    let mut out: Vec<u32> = (0..n).map(|s| count(hi, s)).collect();
    let mut sum: u32 = out.iter().sum();
    while sum > layers {
        // Take from the slowest stage that can give.
        let (idx, _) = out
            .iter()
            .enumerate()
            .filter(|(_, l)| **l > 1)
            .map(|(s, l)| (s, f64::from(*l) * per_layer_s[s] + extra(s)))
            .fold((usize::MAX, f64::MIN), |b, c| if c.1 > b.1 { c } else { b });
        if idx == usize::MAX {
            return None;
        }
        out[idx] -= 1;
        sum -= 1;
    }
    Some(out)
}

/// The shape of a mixed layout's parallelism (CP = EP = 1, ZeRO-1, sequence parallel with TP,
/// one sequence per micro-batch).
#[derive(Debug, Clone, Copy)]
struct Shape {
    tp: u32,
    pp: u32,
    vpp: u32,
    dp: u32,
    global_batch: u32,
    rc: Recompute,
}

/// The plan of a mixed layout, through [`parallelism::resolve`]'s checks; `layers_per_chunk`
/// replaces its balanced split (mixed layouts split layers by each chip's speed and memory).
fn mixed_plan(model: &ModelSpec, seq_len: u32, s: Shape, layers_per_chunk: Vec<u32>) -> Option<Plan> {
    let spec = ParallelismSpec {
        tp: s.tp,
        pp: s.pp,
        dp: s.dp,
        cp: 1,
        ep: 1,
        etp: None,
        schedule: Some(if s.vpp > 1 { Schedule::Interleaved } else { Schedule::OneFOneB }),
        vpp: Some(s.vpp),
        micro_batch: Some(1),
        global_batch: s.global_batch,
        recompute: s.rc,
        sequence_parallel: s.tp > 1,
        zero_stage: 1,
        rank_order: RankOrder::default(),
        pipeline_split: Default::default(),
        recompute_modules: None,
        recompute_layers: None,
        pipeline_layout: None,
    };
    let devices = u64::from(s.tp) * u64::from(s.pp) * u64::from(s.dp);
    let mut plan = parallelism::resolve(&spec, model, seq_len, devices, 0.0).ok()?;
    plan.layers_per_chunk = layers_per_chunk;
    Some(plan)
}

/// A heterogeneous-pipeline layout: every DP replica runs `sa` stages on pool `a`, then `sb` on `b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeteroPipeline {
    pub tp: u32,
    pub dp: u32,
    pub sa: u32,
    pub sb: u32,
    pub vpp: u32,
    pub global_batch: u32,
    pub rc: Recompute,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Best heterogeneous pipeline over a small grid (TP, DP, recompute) for two pools.
pub fn hetero_pipeline(
    model: &ModelSpec,
    a: &Cluster,
    b: &Cluster,
    seq_len: u32,
    fw: &FrameworkSpec,
    batch: BatchTarget,
) -> Option<MixedOption> {
    if a.gpus_per_node != b.gpus_per_node {
        return None;
    }
    let mut best: Option<MixedOption> = None;
    for tp in [8u32, 4, 2, 1] {
        if !a.gpus_per_node.is_multiple_of(tp) || !model.heads.is_multiple_of(tp) || !model.ffn_hidden.is_multiple_of(tp) {
            continue;
        }
        let g = gcd(a.gpus, b.gpus) / u64::from(tp);
        for dp in (1..=g).filter(|d| g.is_multiple_of(*d)) {
            let sa = a.gpus / (u64::from(tp) * dp);
            let sb = b.gpus / (u64::from(tp) * dp);
            if sa + sb > u64::from(model.layers).min(64) || sa * u64::from(tp) * dp != a.gpus || sb * u64::from(tp) * dp != b.gpus {
                continue;
            }
            let pp = (sa + sb) as u32;
            for vpp in [1u32, 2, 4] {
                if pp * vpp > model.layers {
                    continue;
                }
                let unit = dp as u32 * if vpp > 1 { pp } else { 1 };
                let Ok(gb) = batch.global_batch(seq_len, u64::from(unit)) else { continue };
                let gb = gb as u32;
                for rc in [Recompute::Selective, Recompute::Full] {
                    let layout = HeteroPipeline { tp, dp: dp as u32, sa: sa as u32, sb: sb as u32, vpp, global_batch: gb, rc };
                    if let Some(o) = simulate_hetero_pipeline(model, a, b, layout, seq_len, fw)
                        && best.as_ref().is_none_or(|x| o.s_per_mtok < x.s_per_mtok)
                    {
                        best = Some(o);
                    }
                }
            }
        }
    }
    best
}

/// Simulate one heterogeneous-pipeline layout: `sa` stages on pool `a` then `sb` on pool `b`.
pub fn simulate_hetero_pipeline(
    model: &ModelSpec,
    a: &Cluster,
    b: &Cluster,
    layout: HeteroPipeline,
    seq_len: u32,
    fw: &FrameworkSpec,
) -> Option<MixedOption> {
    let HeteroPipeline { tp, dp, sa, sb, vpp, global_batch, rc } = layout;
    let pp = sa + sb;
    let shape = |pp: u32, vpp: u32| Shape { tp, pp, vpp, dp, global_batch, rc };
    let chunks = pp * vpp;
    let owner = |s: u32| if s < sa { a } else { b };
    // Per-layer times on each chip: a probe plan with one layer per stage; chunk 1 has no embedding/logits.
    let probe = mixed_plan(model, seq_len, shape(pp.max(3), 1), vec![1; pp.max(3) as usize])?;
    let (_, ca) = cost::build(model, &probe, a, seq_len, fw);
    let (_, cb) = cost::build(model, &probe, b, seq_len, fw);
    let per_layer = |c: &[cost::ChunkCost]| c[1].forward.total_s() + c[1].backward.total_s();
    let last = probe.layers_per_chunk.len() - 1;
    let logits_b = cb[last].forward.total_s() + cb[last].backward.total_s() - per_layer(&cb);
    // Memory cap per stage: largest layer count whose memory fits (first stage holds the most in flight).
    let mut per_stage_s = Vec::with_capacity(pp as usize);
    let mut caps = Vec::with_capacity(pp as usize);
    for s in 0..pp {
        let c = owner(s);
        per_stage_s.push(per_layer(if s < sa { &ca } else { &cb }));
        // Memory grows with the layer count: binary search the largest count that fits.
        let fits = |n: u32| {
            let mut lps = vec![1u32; pp as usize];
            lps[s as usize] = n;
            let Some(pl) = mixed_plan(model, seq_len, shape(pp, 1), lps) else { return false };
            if crate::step::operations(&pl) > crate::step::MAX_STEP_OPERATIONS {
                return false;
            }
            let mem = memory::stage_memory(
                model,
                &pl,
                seq_len,
                fw,
                u64::from(pl.dp) * u64::from(pl.cp),
                &inflight_layer_microbatches(&pl, false),
            );
            mem[s as usize].total_gb <= c.chip.hbm_capacity_gb()
        };
        let (mut lo, mut hi) = (0u32, model.layers);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if fits(mid) { lo = mid } else { hi = mid - 1 }
        }
        caps.push(lo);
    }
    // Chunk c runs on stage c % pp; each stage's memory cap is shared by its virtual chunks.
    let chunk_s: Vec<f64> = (0..chunks).map(|c| per_stage_s[(c % pp) as usize]).collect();
    let chunk_caps: Vec<u32> = (0..chunks).map(|c| (caps[(c % pp) as usize] / vpp).max(u32::from(caps[(c % pp) as usize] > 0))).collect();
    let layers = split_layers(model.layers, &chunk_s, logits_b.max(0.0), &chunk_caps)?;
    let plan = mixed_plan(model, seq_len, shape(pp, vpp), layers.clone())?;
    if plan.micro_batches == 0 || (vpp > 1 && !plan.micro_batches.is_multiple_of(pp)) {
        return None;
    }
    // Past the operation limit the schedule is never built (the step simulator refuses it).
    if crate::step::operations(&plan) > crate::step::MAX_STEP_OPERATIONS {
        return None;
    }
    let mem = memory::stage_memory(
        model,
        &plan,
        seq_len,
        fw,
        u64::from(plan.dp) * u64::from(plan.cp),
        &inflight_layer_microbatches(&plan, false),
    );
    if (0..pp).any(|s| mem[s as usize].total_gb > owner(s).chip.hbm_capacity_gb()) {
        return None;
    }
    let (cm_a, ch_a) = cost::build(model, &plan, a, seq_len, fw);
    let (cm_b, ch_b) = cost::build(model, &plan, b, seq_len, fw);
    let chunks: Vec<cost::ChunkCost> = (0..chunks as usize).map(|c| if (c as u32 % pp) < sa { ch_a[c] } else { ch_b[c] }).collect();
    let mut cm = cm_a.clone();
    for s in sa as usize..pp as usize {
        cm.optimizer_s[s] = cm_b.optimizer_s[s];
        cm.param_gather_s[s] = cm_b.param_gather_s[s];
    }
    cm.p2p_next_s = cm_a.p2p_next_s.iter().zip(&cm_b.p2p_next_s).map(|(x, y)| x.max(*y)).collect();
    let (_, _, _, step_s) = step::simulate(&plan, &cm, &chunks);
    let stage_busy: Vec<f64> = (0..pp as usize)
        .map(|s| {
            let per_mb: f64 = chunks.iter().skip(s).step_by(pp as usize).map(|c| c.forward.total_s() + c.backward.total_s()).sum();
            secs(crate::engine::ticks(per_mb * f64::from(plan.micro_batches)))
        })
        .collect();
    let layers_per_stage: Vec<u32> = (0..pp as usize).map(|s| layers.iter().skip(s).step_by(pp as usize).sum()).collect();
    let tokens = f64::from(global_batch) * f64::from(seq_len);
    let peak = (a.gpus as f64 * a.chip.bf16_dense_tflops + b.gpus as f64 * b.chip.bf16_dense_tflops) * 1e12;
    Some(MixedOption {
        strategy: "hetero-pipeline".into(),
        layout: format!(
            "TP{tp} x PP{pp} ({sa} stages on {}, {sb} on {}) x DP{dp}, {}, gb{global_batch}, {} recompute, layers per stage {:?}",
            a.chip.id,
            b.chip.id,
            if vpp > 1 { format!("interleaved v{vpp}") } else { "1F1B".to_string() },
            rc.label(),
            layers_per_stage
        ),
        step_s,
        tokens_per_s: tokens / step_s,
        s_per_mtok: step_s / tokens * 1e6,
        mfu: tokens * model.model_flops_per_token(seq_len) / (step_s * peak),
        devices_used: a.gpus + b.gpus,
        stage_busy_s: stage_busy,
        layers_per_stage,
    })
}

/// Best heterogeneous data-parallel layout: the same TP×PP on both pools, micro-batches split by speed.
pub fn hetero_data(
    model: &ModelSpec,
    a: &Cluster,
    b: &Cluster,
    seq_len: u32,
    fw: &FrameworkSpec,
    batch: BatchTarget,
) -> Option<MixedOption> {
    let target = batch.sequences(seq_len);
    // Two pools' micro-batch splits rarely hit a sequence count exactly: even an exact target keeps the
    // default token tolerance here.
    let tolerance = match batch {
        BatchTarget::Sequences(_) => crate::planning::search::BATCH_TOLERANCE,
        b => b.tolerance(),
    };
    let mut best: Option<MixedOption> = None;
    for tp in [8u32, 4, 2, 1] {
        if !a.gpus_per_node.is_multiple_of(tp)
            || !b.gpus_per_node.is_multiple_of(tp)
            || !model.heads.is_multiple_of(tp)
            || !model.ffn_hidden.is_multiple_of(tp)
        {
            continue;
        }
        for pp in [1u32, 2, 4, 8, 16, 32] {
            let rep = u64::from(tp) * u64::from(pp);
            if pp > model.layers || !a.gpus.is_multiple_of(rep) || !b.gpus.is_multiple_of(rep) {
                continue;
            }
            let (dpa, dpb) = ((a.gpus / rep) as u32, (b.gpus / rep) as u32);
            for vpp in [1u32, 2, 4] {
                if (vpp > 1 && pp == 1) || pp * vpp > model.layers {
                    continue;
                }
                // Micro-batches per replica must be whole multiples of `unit` (interleaving needs pp).
                let unit = if vpp > 1 { pp } else { 1 };
                for rc in [Recompute::Selective, Recompute::Full] {
                    // Step time of one pool's replicas, each running `m` micro-batches of one sequence.
                    let probe = |c: &Cluster, dp: u32, m: u32| -> Option<f64> {
                        let spec = ParallelismSpec {
                            tp,
                            pp,
                            dp,
                            cp: 1,
                            ep: 1,
                            etp: None,
                            schedule: Some(if vpp > 1 { Schedule::Interleaved } else { Schedule::OneFOneB }),
                            vpp: Some(vpp),
                            micro_batch: Some(1),
                            global_batch: dp * m,
                            recompute: rc,
                            sequence_parallel: tp > 1,
                            zero_stage: 1,
                            rank_order: Default::default(),
                            pipeline_split: Default::default(),
                            recompute_modules: None,
                            recompute_layers: None,
                            pipeline_layout: None,
                        };
                        let mut cl = c.clone();
                        cl.gpus = rep * u64::from(dp);
                        let plan = crate::step::resolve_plan(model, &spec, seq_len, cl.gpus).ok()?;
                        crate::step::simulate(model, &plan, &cl, seq_len, fw).ok().map(|r| r.step_s)
                    };
                    let round_up = |x: f64| ((x / f64::from(unit)).round().max(1.0) as u32) * unit;
                    let m_probe = round_up(target / f64::from(dpa + dpb));
                    let (Some(ta), Some(tb)) = (probe(a, dpa, m_probe), probe(b, dpb, m_probe)) else { continue };
                    // Equal finish: m_a/m_b = t_b/t_a with dpa·m_a + dpb·m_b ≈ target.
                    let m_b_real = target / (f64::from(dpa) * tb / ta + f64::from(dpb));
                    let mut best_local: Option<(f64, u32, u32)> = None;
                    let mut splits = Vec::new();
                    for m_b in [round_up(m_b_real), round_up(m_b_real) + unit, round_up(m_b_real).saturating_sub(unit).max(unit)] {
                        // Pool a's share either balances the two pools' step times or fills the batch.
                        splits.push((round_up(f64::from(m_b) * tb / ta), m_b));
                        splits.push((round_up((target - f64::from(dpb * m_b)) / f64::from(dpa)), m_b));
                    }
                    splits.sort_unstable();
                    splits.dedup();
                    for (m_a, m_b) in splits {
                        let gb = f64::from(dpa * m_a + dpb * m_b);
                        if (gb - target).abs() / target > tolerance {
                            continue;
                        }
                        let (Some(sa), Some(sb)) = (probe(a, dpa, m_a), probe(b, dpb, m_b)) else { continue };
                        let tokens = gb * f64::from(seq_len);
                        let per_tok = sa.max(sb) / tokens;
                        if best_local.is_none_or(|x| per_tok < x.0 / (f64::from(dpa * x.1 + dpb * x.2) * f64::from(seq_len))) {
                            best_local = Some((sa.max(sb), m_a, m_b));
                        }
                    }
                    let Some((step_s, m_a, m_b)) = best_local else { continue };
                    let tokens = f64::from(dpa * m_a + dpb * m_b) * f64::from(seq_len);
                    let peak = (a.gpus as f64 * a.chip.bf16_dense_tflops + b.gpus as f64 * b.chip.bf16_dense_tflops) * 1e12;
                    let sched = if vpp > 1 { format!("interleaved v{vpp}") } else { "1F1B".to_string() };
                    let o = MixedOption {
                        strategy: "hetero-data".into(),
                        layout: format!(
                            "TP{tp} x PP{pp} {sched}; DP{dpa} on {} with {m_a} micro-batches each, DP{dpb} on {} with {m_b}; {} recompute",
                            a.chip.id,
                            b.chip.id,
                            rc.label()
                        ),
                        step_s,
                        tokens_per_s: tokens / step_s,
                        s_per_mtok: step_s / tokens * 1e6,
                        mfu: tokens * model.model_flops_per_token(seq_len) / (step_s * peak),
                        devices_used: a.gpus + b.gpus,
                        stage_busy_s: Vec::new(),
                        layers_per_stage: Vec::new(),
                    };
                    if best.as_ref().is_none_or(|x| o.s_per_mtok < x.s_per_mtok) {
                        best = Some(o);
                    }
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::model::preset;

    fn cluster(chip: &str, gpus: u32) -> Cluster {
        crate::hardware::topology::test_cluster(chip, gpus, "ib-ndr", 400.0, "generic-fat-tree")
    }

    #[test]
    fn weighted_split_balances() {
        // Stage 0 twice as fast: twice the layers.
        let l = split_layers(96, &[1.0, 2.0, 2.0], 0.0, &[96, 96, 96]).unwrap();
        assert_eq!(l, vec![48, 24, 24]);
        assert!(split_layers(96, &[1.0, 1.0], 0.0, &[40, 40]).is_none());
    }

    /// A pool twice as fast as the other gets a layer split that balances stage times within 10%.
    #[test]
    fn twice_as_fast_pool_balances_within_ten_percent() {
        let slow = cluster("a100-sxm-80gb", 512);
        let mut fast = cluster("a100-sxm-80gb", 512);
        // The same chip with every rate doubled: compute, memory bandwidth and links.
        fast.chip.id = "a100-2x".into();
        fast.chip.bf16_dense_tflops *= 2.0;
        fast.chip.hbm_gb_per_s *= 2.0;
        fast.chip.scale_up_gb_per_s_bidir *= 2.0;
        fast.nic_gbit_per_s_per_gpu *= 2.0;
        let m = preset("gpt3-175b").unwrap();
        let fw = FrameworkSpec::default();
        let o = simulate_hetero_pipeline(
            &m,
            &fast,
            &slow,
            HeteroPipeline { tp: 8, dp: 16, sa: 4, sb: 4, vpp: 1, global_batch: 512, rc: Recompute::Full },
            2048,
            &fw,
        )
        .unwrap();
        let fast_layers: u32 = o.layers_per_stage[..4].iter().sum();
        let slow_layers: u32 = o.layers_per_stage[4..].iter().sum();
        assert!(fast_layers as f64 / slow_layers as f64 > 1.6, "{:?}", o.layers_per_stage);
        let max = o.stage_busy_s.iter().cloned().fold(0.0, f64::max);
        let min = o.stage_busy_s.iter().cloned().fold(f64::MAX, f64::min);
        assert!(max / min < 1.10, "stage busy times {:?}", o.stage_busy_s);
    }
}
