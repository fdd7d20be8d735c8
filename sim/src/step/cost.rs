//! Durations of the operations the step simulator schedules: the forward and backward of one model
//! chunk for one micro-batch, gradient reduction, optimizer, pipeline sends.
//!
//! Compute: each GEMM costs `FLOPs / (peak · efficiency(m, n, k))` with the chip's calibration
//! ([`crate::hardware::catalog::Calibration`]); attention's batched GEMMs use the same rule with the head
//! dimension as one side, so they run further below peak. FlashAttention (default) skips the masked
//! half of causal attention and recomputes scores in backward (2.5× forward); without it the scores are
//! materialised and softmax/dropout traffic is paid at HBM bandwidth. Elementwise work (norms, residual
//! adds, activations, dropout, cross-entropy) costs bytes moved ÷ achievable HBM bandwidth; norms and
//! residuals are replicated across TP ranks unless sequence parallelism shards them. Each kernel pays a
//! fixed launch gap.
//!
//! Communication: TP (2 all-reduces, or reduce-scatter + all-gather with SP, per layer per pass) and
//! MoE dispatch/combine block the compute stream, as in Megatron-LM without TP overlap; CP's ring
//! exchange of K/V overlaps attention and only its excess is exposed. MoE dispatch is an NCCL
//! all-to-all by default, or de-duplicated per destination node ([`MoeDispatcher::NodeDedup`], with
//! node-limited routing from the model) and optionally overlapped with computation at a cost in compute
//! units ([`FrameworkSpec::overlap_moe_comm`]); neither is calibrated on a published MoE run. Gradient
//! reduction and ZeRO traffic are charged per chunk for the step simulator to overlap. FLOPs are counted with full attention (the
//! published MFU convention) whatever the kernels execute.

use serde::Serialize;

use crate::hardware::collective::{Algorithm, Collective, time_s};
use crate::hardware::topology::{Cluster, GroupPath};
use crate::workload::model::{ModelSpec, TpSplit};
use crate::workload::parallelism::{Plan, Recompute, RecomputeModule};

/// Bytes per parameter of DeepSpeed's `update_hp_grads` after each micro-batch:
/// `hp_grad.add_(lp.grad.to(fp32))` reads the BF16 gradient (2) and writes an FP32 copy (4), then
/// reads the copy and the accumulator (4 + 4) and writes the accumulator (4).
pub const HP_GRAD_UPDATE_BYTES_PER_PARAM: f64 = 18.0;

pub use crate::step::stack::{AttentionSoftmax, CudaGraphs, FrameworkSpec, GradDtype, MoeDispatcher, Precision};

/// Time of one pass of one chunk for one micro-batch, split for the breakdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PassCost {
    /// Compute (GEMMs, attention, elementwise, launch gaps).
    pub compute_s: f64,
    /// Blocking TP/CP communication (and pipeline-independent small collectives).
    pub mp_comm_s: f64,
    /// MoE dispatch/combine (all-to-all, ETP gathers): blocking unless the schedule overlaps it with
    /// another micro-batch's compute (`FrameworkSpec::overlap_moe_comm`).
    pub ep_comm_s: f64,
    /// ZeRO-3 parameter gathers / gradient reduce-scatters not hidden by prefetching.
    pub zero_exposed_s: f64,
    /// Activation offload transfers (device to host in the forward, back in the backward) not hidden
    /// behind the chunk's compute ([`FrameworkSpec::activation_offload_layers`]).
    pub offload_exposed_s: f64,
}

impl PassCost {
    pub fn total_s(&self) -> f64 {
        self.compute_s + self.mp_comm_s + self.ep_comm_s + self.zero_exposed_s + self.offload_exposed_s
    }
}

/// Costs of one model chunk (a run of consecutive layers on one stage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ChunkCost {
    pub layers: u32,
    pub forward: PassCost,
    /// Backward including any recomputation.
    pub backward: PassCost,
    /// DP gradient reduction of this chunk's parameters once per step (ZeRO-0/1; 0 under ZeRO-3, which
    /// reduces per micro-batch inside `backward`).
    pub grad_reduce_s: f64,
    /// ZeRO-2: reduce-scatter of this chunk's gradients after every backward, on the communication
    /// stream (the gradient buffer is sharded, so it cannot accumulate micro-batches unreduced).
    pub grad_reduce_per_microbatch_s: f64,
    /// FLOPs executed per micro-batch on one device, forward + backward + recompute (convention above).
    pub hardware_flops: f64,
    /// The weight-gradient GEMMs inside `backward` (about the forward GEMM time): what a zero-bubble
    /// schedule (DualPipe) defers to fill idle time.
    pub weight_grad_s: f64,
}

/// Step-level costs that are not per chunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostModel {
    /// Send between chunk `g` and chunk `g + 1` (activation forward, gradient backward), seconds.
    pub p2p_next_s: Vec<f64>,
    pub overlap_grad_reduce: bool,
    /// Optimizer step per stage.
    pub optimizer_s: Vec<f64>,
    /// ZeRO-1/2 all-gather of updated parameters per stage, after the optimizer.
    pub param_gather_s: Vec<f64>,
    pub iteration_overhead_s: f64,
    /// MoE dispatch/combine overlapped with another micro-batch's compute (Megatron-core
    /// `overlap_moe_expert_parallel_comm`, DeepSeek-V3's DualPipe): the share of compute units the
    /// communication kernels take meanwhile; `None`: blocking.
    pub ep_overlap_sm_fraction: Option<f64>,
}

/// HBM traffic of the TP-replicated elementwise work of one layer (norms, bias-dropout-residual), bytes
/// per hidden element per forward pass. Measured, not assumed: Korthikanti et al. 2022 Table 4 —
/// sequence parallelism, which removes 7/8 of this work at TP 8, saves 0.6 of 19.6 ms per GPT-22B layer
/// (A100, b 4, s 2048): 0.69 ms × 1.63 TB/s over three passes of 50M elements ≈ 7.5 bytes.
pub const REPLICATED_BYTES_PER_ELEMENT: f64 = 8.0;

/// Bytes moved per parameter by a fused Adam step: read FP32 master, m, v and gradient, write master,
/// m, v and the BF16 copy, plus the gradient-norm read.
const ADAM_BYTES_PER_PARAM: f64 = 4.0 * 4.0 + 3.0 * 4.0 + 2.0 + 4.0;

/// Per-layer figures for one micro-batch on one device.
#[derive(Debug, Clone, Copy, Default)]
struct LayerCost {
    fwd: PassCost,
    bwd: PassCost,
    recompute: PassCost,
    flops_fwd: f64,
    flops_recompute: f64,
    /// Weight-gradient GEMMs of the backward (= the forward's projection and FFN GEMM time).
    wgrad_s: f64,
    /// Parameters of this layer on one device (dense part, expert part), before ZeRO sharding.
    params_dense: f64,
    params_expert: f64,
}

/// What every operation's cost depends on (shared with [`crate::step::moe`]).
pub(crate) struct Ctx<'a> {
    pub(crate) model: &'a ModelSpec,
    pub(crate) plan: &'a Plan,
    pub(crate) cluster: &'a Cluster,
    pub(crate) fw: &'a FrameworkSpec,
    pub(crate) seq: u32,
    /// Peak of the GEMMs that run in the stack's precision (projections, FFN, router).
    pub(crate) peak_flops: f64,
    /// 16-bit peak: attention, the output layer and everything the FP8 recipe leaves in BF16.
    pub(crate) bf16_peak_flops: f64,
    pub(crate) hbm_bytes_per_s: f64,
    pub(crate) tp_path: GroupPath,
    pub(crate) cp_path: GroupPath,
    pub(crate) etp_path: GroupPath,
    pub(crate) ep_path: GroupPath,
    pub(crate) dp_path: GroupPath,
    pub(crate) edp_path: GroupPath,
}

impl<'a> Ctx<'a> {
    /// The costing context of one plan on one cluster.
    pub(crate) fn new(model: &'a ModelSpec, plan: &'a Plan, cluster: &'a Cluster, seq_len: u32, fw: &'a FrameworkSpec) -> Ctx<'a> {
        let chip = &cluster.chip;
        // `simulate_step` refuses a precision the chip lacks before costing anything.
        let peak = chip.peak_flops(fw.precision).unwrap_or_else(|_| chip.bf16_peak_flops());
        let (tp, cp, dp, ep) = (u64::from(plan.tp), u64::from(plan.cp), u64::from(plan.dp), u64::from(plan.ep));
        let st = plan.strides();
        Ctx {
            model,
            plan,
            cluster,
            fw,
            seq: seq_len,
            peak_flops: peak,
            bf16_peak_flops: chip.bf16_peak_flops(),
            hbm_bytes_per_s: chip.hbm_gb_per_s * 1e9 * cluster.calibration.hbm_fraction,
            tp_path: cluster.group_path(0, st.tp, tp),
            cp_path: cluster.group_path(0, st.cp, cp),
            etp_path: cluster.group_path(0, st.etp, u64::from(plan.etp)),
            ep_path: cluster.group_path(0, st.ep, ep),
            dp_path: cluster.group_path(0, st.dp, dp),
            edp_path: cluster.group_path(0, st.edp, plan.edp()),
        }
    }

    fn eff(&self, m: f64, n: f64, k: f64, ceiling: f64) -> f64 {
        let c = &self.cluster.calibration;
        let g = |d: f64| d / (d + c.gemm_half_dim);
        ceiling * g(m) * g(n) * g(k)
    }
    /// One GEMM `m×k · k×n`, `batch` times, in the stack's precision (FP8 GEMMs at the calibration's
    /// FP8 ceiling of the FP8 peak).
    pub(crate) fn gemm(&self, m: f64, n: f64, k: f64, batch: f64) -> (f64, f64) {
        let c = &self.cluster.calibration;
        let ceiling = match self.fw.precision {
            Precision::Fp8 => c.fp8_gemm_max_fraction.unwrap_or(c.gemm_max_fraction),
            Precision::Bf16 | Precision::Fp16 => c.gemm_max_fraction,
        };
        let flops = 2.0 * m * n * k * batch;
        (flops / (self.peak_flops * self.eff(m, n, k, ceiling)), flops)
    }
    /// One GEMM kept in 16 bits whatever the stack's precision (attention cores, the output layer).
    pub(crate) fn gemm16(&self, m: f64, n: f64, k: f64, batch: f64) -> (f64, f64) {
        let flops = 2.0 * m * n * k * batch;
        (flops / (self.bf16_peak_flops * self.eff(m, n, k, self.cluster.calibration.gemm_max_fraction)), flops)
    }
    pub(crate) fn mem_s(&self, bytes: f64) -> f64 {
        bytes / self.hbm_bytes_per_s
    }
    fn launch_s(&self, kernels: f64) -> f64 {
        kernels * self.cluster.calibration.kernel_overhead_us * 1e-6
    }
    pub(crate) fn coll(&self, op: Collective, bytes: f64, n: u64, path: &GroupPath) -> f64 {
        coll_time(self.fw, op, bytes, n, path)
    }

    fn layer(&self, moe_layer: bool) -> LayerCost {
        let m = self.model;
        let pl = self.plan;
        let (t, cp) = (f64::from(pl.tp), f64::from(pl.cp));
        let h = f64::from(m.hidden);
        let (q_width, k_width, v_width) = m.qkv_widths();
        let s_local = f64::from(self.seq) / cp;
        let b = f64::from(pl.micro_batch);
        let tokens = b * s_local;
        let sp = if pl.sequence_parallel { t } else { 1.0 };
        let bf16_peak = self.cluster.chip.bf16_dense_tflops * 1e12;

        // Projections and FFN.
        let mut gemm_s = 0.0;
        let mut flops = 0.0;
        let mut add = |(s, f): (f64, f64)| {
            gemm_s += s;
            flops += f;
        };
        // Column-parallel GEMMs (QKV, FFN up): in backward their weight-gradient GEMMs can hide the TP
        // all-reduce of the input gradient. With userbuffer overlap every TP-split GEMM hides the
        // all-gather or reduce-scatter next to it.
        let mut col_parallel_s = 0.0;
        let mut tp_split_s = 0.0;
        // MLA's up-projections (column-split GEMMs out of a latent narrower than the hidden state), for
        // their selective recomputation.
        let mut up_proj = (0.0, 0.0);
        for p in m.attention_projections() {
            let g = match p.split {
                TpSplit::Column => self.gemm(tokens, p.output / t, p.input, 1.0),
                TpSplit::Row => self.gemm(tokens, p.output, p.input / t, 1.0),
                TpSplit::Replicated => self.gemm(tokens, p.output, p.input, 1.0),
            };
            if p.split == TpSplit::Column {
                col_parallel_s += g.0;
            }
            if p.split != TpSplit::Replicated {
                tp_split_s += g.0;
            }
            if m.mla.is_some() && p.split == TpSplit::Column && p.input < h {
                up_proj = (up_proj.0 + g.0, up_proj.1 + g.1);
            }
            add(g);
        }
        let (mut moe_comm, mut params_expert, mut moe_elem_s, mut moe_kernels) = ((0.0, 0.0), 0.0, 0.0, 0.0);
        let mut moe_floor = (0.0, 0.0);
        let mats = if m.gated_ffn { 3.0 } else { 2.0 };
        let ffn_params;
        // The FFN block's forward (GEMMs, FLOPs, dispatch+combine, elementwise) and the routed experts'
        // activation alone: what recomputing `mlp`, `moe` or `moe_act` repeats.
        let ffn_fwd: (f64, f64, f64, f64);
        let mut moe_act_s = 0.0;
        match (&m.moe, moe_layer) {
            (Some(moe), true) => {
                let c = self.moe_ffn(moe, tokens);
                add((c.gemm_s, c.flops));
                col_parallel_s += c.col_parallel_s;
                tp_split_s += c.tp_split_s;
                moe_comm = (c.comm_fwd_s, c.comm_bwd_s);
                params_expert = c.params_expert;
                ffn_params = c.params_dense;
                moe_elem_s = c.elementwise_s;
                moe_kernels = c.kernels;
                moe_floor = (c.dispatch_floor_fwd_s, c.dispatch_floor_bwd_s);
                ffn_fwd = (c.gemm_s + c.dispatch_floor_fwd_s, c.flops, c.comm_fwd_s, c.elementwise_s);
                moe_act_s = c.activation_s;
            }
            _ => {
                let f = f64::from(m.ffn_hidden);
                let up = self.gemm(tokens, (mats - 1.0) * f / t, h, 1.0);
                col_parallel_s += up.0;
                add(up);
                let down = self.gemm(tokens, h, f / t, 1.0);
                tp_split_s += up.0 + down.0;
                add(down);
                ffn_params = mats * h * f / t;
                let act = self.mem_s(tokens * f / t * if m.gated_ffn { 6.0 } else { 4.0 });
                ffn_fwd = (up.0 + down.0, up.1 + down.1, 0.0, act);
            }
        }
        let proj_flops = flops;
        let proj_s = gemm_s;

        // Attention core: QK^T and AV per (micro-batch, local head). FLOPs by convention over the full
        // square; FlashAttention executes the causal half.
        let (d_qk, d_v) = m.attention_head_dims();
        let heads_local = f64::from(m.heads) / t;
        let s_full = f64::from(self.seq);
        let (qk_s, qk_f) = self.gemm16(s_local, s_full, d_qk, b * heads_local);
        let (av_s, av_f) = self.gemm16(s_local, d_v, s_full, b * heads_local);
        let attn_flops = qk_f + av_f;
        // Fused attention runs at the chip's measured attention-kernel efficiency when the calibration
        // has one (the architecture-specific kernel's when the stack uses it); otherwise (and unfused)
        // as batched GEMMs with the head dimension as one side. Attention stays in BF16 under FP8.
        let cal = &self.cluster.calibration;
        let fused_fraction = match (self.fw.native_attention, cal.native_attention_fraction) {
            (true, Some(f)) => Some(f),
            _ => cal.attention_fraction,
        };
        let attn_fwd_s = match (self.fw.flash_attention, fused_fraction) {
            (true, Some(f)) => 0.5 * attn_flops / (bf16_peak * f),
            (true, None) => 0.5 * (qk_s + av_s),
            (false, _) => qk_s + av_s,
        };
        let attn_bwd_factor = if self.fw.flash_attention { 2.5 } else { 2.0 };
        // Unfused attention: scale+mask, softmax and dropout are passes over the score matrix, at the
        // bytes per element of the stack's softmax path (fused kernel, or FP32 PyTorch ops).
        let scores = b * heads_local * s_local * s_full;
        let (softmax_fwd_bytes, softmax_bwd_bytes) = self.fw.attention_softmax.bytes_per_score();
        let unfused = !self.fw.flash_attention;
        let softmax_s = if unfused { self.mem_s(softmax_fwd_bytes * scores) } else { 0.0 };
        // Backward beyond twice the forward's traffic (0 for the fused kernel).
        let softmax_bwd_extra_s = if unfused { self.mem_s(softmax_bwd_bytes * scores) - 2.0 * softmax_s } else { 0.0 };
        let softmax_kernels = if unfused { self.fw.attention_softmax.extra_kernels() } else { 0.0 };

        // Elementwise traffic. Replicated (÷ TP only with SP): the fused norm and bias-dropout-residual
        // kernels, REPLICATED_BYTES_PER_ELEMENT per pass. Sharded: activation function, rotary/bias.
        let replicated = tokens * h * REPLICATED_BYTES_PER_ELEMENT / sp;
        // MoE layers: the routed experts' activation traffic is in `moe_elem_s`; shared experts here.
        let f_local = match (&m.moe, moe_layer) {
            (Some(moe), true) => f64::from(moe.expert_ffn_hidden) * f64::from(moe.shared_experts) / t,
            _ => f64::from(m.ffn_hidden) / t,
        };
        let act_bytes = tokens * f_local * if m.gated_ffn { 6.0 } else { 4.0 };
        let qkv_post = tokens * (q_width + k_width + v_width) / t * 4.0; // rotary or bias add on Q/K/V
        let elem_fwd_s = self.mem_s(replicated + act_bytes + qkv_post) + softmax_s + moe_elem_s;
        let kernels_fwd = 14.0 + moe_kernels + softmax_kernels;

        // TP: two all-reduces (or RS+AG with SP, same cost) per pass of b·s·h BF16 activations.
        let tp_bytes = tokens * h * 2.0;
        let tp_fwd = 2.0 * self.coll(Collective::AllReduce, tp_bytes, u64::from(pl.tp), &self.tp_path);
        // Userbuffer overlap (TE `tp_comm_overlap`): the four all-gather/reduce-scatter halves each run
        // beside one TP-split GEMM group (QKV, projection, FFN up, FFN down); what a GEMM cannot cover
        // stays exposed. Approximated with the GEMM time spread evenly over the four.
        let overlapped = |comm: f64, gemm: f64| 4.0 * (comm / 4.0 - gemm / 4.0).max(0.0);
        // CP: ring attention passes K and V around the CP group, overlapped with the attention core.
        let cp_bytes = (f64::from(pl.cp) - 1.0) * tokens * (k_width + v_width) / t * 2.0;
        let cp_comm = if pl.cp > 1 { self.coll(Collective::SendRecv, cp_bytes, 2, &self.cp_path) } else { 0.0 };
        let cp_exposed_fwd = (cp_comm - attn_fwd_s).max(0.0);
        let cp_exposed_bwd = (2.0 * cp_comm - attn_bwd_factor * attn_fwd_s).max(0.0);

        let fwd_compute = proj_s + attn_fwd_s + elem_fwd_s + self.launch_s(kernels_fwd) + moe_floor.0;
        let bwd_compute = 2.0 * proj_s
            + attn_bwd_factor * attn_fwd_s
            + 2.0 * elem_fwd_s
            + softmax_bwd_extra_s
            + self.launch_s(2.0 * kernels_fwd)
            + moe_floor.1;
        // MoE dispatch/combine, once per pass: blocking here; the schedule overlaps them with another
        // micro-batch's compute when the stack says so (see `schedule`).
        let (tp_exposed_fwd, tp_exposed_bwd) = if self.fw.tp_comm_overlap && pl.tp > 1 {
            (overlapped(tp_fwd, tp_split_s), overlapped(tp_fwd, 2.0 * tp_split_s))
        } else if self.fw.overlap_tp_comm_backward {
            (tp_fwd, (tp_fwd - col_parallel_s).max(0.0))
        } else {
            (tp_fwd, tp_fwd)
        };
        let fwd =
            PassCost { compute_s: fwd_compute, mp_comm_s: tp_exposed_fwd + cp_exposed_fwd, ep_comm_s: moe_comm.0, ..Default::default() };
        let bwd =
            PassCost { compute_s: bwd_compute, mp_comm_s: tp_exposed_bwd + cp_exposed_bwd, ep_comm_s: moe_comm.1, ..Default::default() };
        let (recompute, flops_recompute) = match pl.recompute {
            Recompute::None => (PassCost::default(), 0.0),
            Recompute::Full => (fwd, proj_flops + attn_flops),
            Recompute::Selective => {
                // Each recomputed module's forward runs again before its backward.
                let set = pl.recompute_modules;
                let (mut extra, mut extra_flops, mut extra_ep) = (0.0, 0.0, 0.0);
                // FlashAttention already recomputes scores in its backward: nothing extra to do.
                if set.has(RecomputeModule::CoreAttn) && !self.fw.flash_attention {
                    extra += attn_fwd_s + softmax_s;
                    extra_flops += attn_flops;
                }
                if set.has(RecomputeModule::LayerNorm) {
                    // Both norms: read the input, write the output, 16 bits each.
                    extra += self.mem_s(2.0 * tokens * h * 4.0 / sp);
                }
                if set.has(RecomputeModule::MlaUpProj) {
                    extra += up_proj.0;
                    extra_flops += up_proj.1;
                }
                let whole_ffn = if moe_layer && m.moe.is_some() { set.has(RecomputeModule::Moe) } else { set.has(RecomputeModule::Mlp) };
                if whole_ffn {
                    extra += ffn_fwd.0 + ffn_fwd.3;
                    extra_flops += ffn_fwd.1;
                    extra_ep += ffn_fwd.2;
                } else if moe_layer && m.moe.is_some() && set.has(RecomputeModule::MoeAct) {
                    extra += moe_act_s;
                }
                (PassCost { compute_s: extra, ep_comm_s: extra_ep, ..Default::default() }, extra_flops)
            }
        };
        LayerCost {
            fwd,
            bwd,
            recompute,
            flops_fwd: proj_flops + attn_flops,
            flops_recompute,
            wgrad_s: proj_s,
            params_dense: (m.params(self.seq).attention_per_layer) / t + ffn_params,
            params_expert,
        }
    }
}

/// One collective under the stack's settings (algorithm, in-network reduction, multi-rail striping).
fn coll_time(fw: &FrameworkSpec, op: Collective, bytes: f64, n: u64, path: &GroupPath) -> f64 {
    if fw.multi_rail {
        time_s(op, fw.collective_algorithm, bytes, n, path, fw.in_network_reduction)
    } else {
        let single = GroupPath { ring_bytes_per_s: path.single_rail_ring_bytes_per_s, ..*path };
        time_s(op, fw.collective_algorithm, bytes, n, &single, fw.in_network_reduction)
    }
}

/// Ranks one copy of the dense parameters' ZeRO shards is spread over: the whole data-parallel group
/// (DP·CP ranks), or with `hybrid_shard` only the DP ranks inside one scale-up domain.
pub fn zero_shard_ranks(plan: &Plan, cluster: &Cluster, fw: &FrameworkSpec) -> u64 {
    let full = u64::from(plan.dp) * u64::from(plan.cp);
    if fw.hybrid_shard && plan.zero_stage > 0 {
        cluster.group_path(0, plan.strides().dp, u64::from(plan.dp)).ranks_per_node.clamp(1, full)
    } else {
        full
    }
}

/// Overlapped execution of `layers` layers whose per-layer communication (`comm`) is prefetched one
/// layer ahead of compute: lead-in comm, then the slower of the two per layer, then the tail.
fn prefetched(layers: f64, compute: f64, comm: f64, lead: f64, tail: f64) -> f64 {
    if layers <= 0.0 {
        return 0.0;
    }
    lead + (layers - 1.0) * compute.max(comm) + compute + tail
}

/// Whether MoE dispatch/combine is overlapped with another micro-batch's compute (the stack asks for it
/// and there is expert-parallel communication to hide).
pub fn ep_overlapped(model: &ModelSpec, plan: &Plan, fw: &FrameworkSpec) -> bool {
    fw.overlap_moe_comm && model.moe.is_some() && plan.ep > 1
}

/// Build the cost model of one step.
pub fn build(model: &ModelSpec, plan: &Plan, cluster: &Cluster, seq_len: u32, fw: &FrameworkSpec) -> (CostModel, Vec<ChunkCost>) {
    let (tp, cp, dp) = (u64::from(plan.tp), u64::from(plan.cp), u64::from(plan.dp));
    let st = plan.strides();
    let ctx = Ctx::new(model, plan, cluster, seq_len, fw);
    let dense_layer = ctx.layer(false);
    let moe_layer = if model.moe.is_some() { ctx.layer(true) } else { dense_layer };
    let moe_from = model.moe.as_ref().map_or(u32::MAX, |m| m.dense_layers);

    let t = f64::from(plan.tp);
    let h = f64::from(model.hidden);
    let v = f64::from(model.vocab);
    let tokens = f64::from(plan.micro_batch) * f64::from(seq_len) / f64::from(plan.cp);
    let dp_ranks = dp * cp;
    let edp_ranks = plan.edp();
    let zero = plan.zero_stage;
    let coll = |op, bytes: f64, n: u64, path: &GroupPath| coll_time(fw, op, bytes, n, path);

    let mut chunks = Vec::with_capacity(plan.layers_per_chunk.len());
    let n_chunks = plan.layers_per_chunk.len();
    // Hybrid sharding: shards live on `shard` DP ranks of one domain; `replicas` domains hold copies.
    let shard = zero_shard_ranks(plan, cluster, fw);
    let replicas = (dp_ranks / shard).max(1);
    let (shard_path, replica_path) = (cluster.group_path(0, st.dp, shard), cluster.group_path(0, st.dp * shard, replicas));
    // One chunk's costs: a function of its layer count, how many of them are dense (they come first:
    // layers are contiguous and MoE layers follow the dense ones) and whether it is the first or last
    // chunk, so chunks alike are priced once (the same sums in the same order: the same figures).
    let chunk_cost = |c: usize, first_layer: u32, n_layers: u32| -> ChunkCost {
        let mut fwd = PassCost::default();
        let mut bwd = PassCost::default();
        let mut flops = 0.0;
        let mut weight_grad_s = 0.0;
        let (mut pd, mut pe) = (0.0, 0.0);
        let mut compute_f = Vec::with_capacity(n_layers as usize);
        let mut compute_b = Vec::with_capacity(n_layers as usize);
        let mut recomputed_layers = 0u32;
        for l in first_layer..first_layer + n_layers {
            let lc = if l >= moe_from { &moe_layer } else { &dense_layer };
            // A partial full recompute (`recompute_layers`) covers the chunk's first layers only.
            let recomputed = plan.recomputes(l - first_layer);
            let (rc, rc_flops) = if recomputed { (lc.recompute, lc.flops_recompute) } else { (PassCost::default(), 0.0) };
            recomputed_layers += u32::from(recomputed);
            fwd.compute_s += lc.fwd.compute_s;
            fwd.mp_comm_s += lc.fwd.mp_comm_s;
            fwd.ep_comm_s += lc.fwd.ep_comm_s;
            bwd.compute_s += lc.bwd.compute_s + rc.compute_s;
            bwd.mp_comm_s += lc.bwd.mp_comm_s + rc.mp_comm_s;
            bwd.ep_comm_s += lc.bwd.ep_comm_s + rc.ep_comm_s;
            flops += 3.0 * lc.flops_fwd + rc_flops;
            weight_grad_s += lc.wgrad_s;
            pd += lc.params_dense;
            pe += lc.params_expert;
            compute_f.push(lc.fwd.total_s());
            compute_b.push(lc.bwd.total_s() + rc.total_s());
        }
        if fw.activation_offload_layers > 0 {
            // Offloaded layers' activations stream to the host during the forward and back during the
            // backward, beside the compute of the chunk's other layers (pp 1: one chunk holds every layer).
            let k = fw.activation_offload_layers.min(n_layers) as usize;
            let acts = crate::step::memory::activation_inputs(plan, seq_len, fw);
            let bytes: f64 = (first_layer..first_layer + k as u32)
                .map(|l| crate::step::memory::layer_activation_bytes(model, &acts, l >= moe_from))
                .sum();
            let link_bytes_per_s = cluster.chip.host_link_gb_per_s.unwrap_or(f64::INFINITY) * 1e9;
            let transfer_s = bytes / link_bytes_per_s;
            let window = |per_layer: &[f64]| per_layer.iter().sum::<f64>() - per_layer.first().copied().unwrap_or(0.0);
            fwd.offload_exposed_s = (transfer_s - window(&compute_f)).max(0.0);
            bwd.offload_exposed_s = (transfer_s - window(&compute_b)).max(0.0);
        }
        if c == 0 {
            // Embedding lookup (gather) forward and scatter-add backward.
            fwd.compute_s += ctx.mem_s(tokens * h * 4.0);
            bwd.compute_s += ctx.mem_s(tokens * h * 8.0);
            pd += model.params(seq_len).embedding / t;
        }
        if c + 1 == n_chunks {
            // Output layer and vocab-parallel cross-entropy (FP32 softmax over V/t logits).
            // The output layer stays in 16 bits under FP8 (Megatron's output layer is not a TE module).
            let (s_logits, f_logits) = ctx.gemm16(tokens, v / t, h, 1.0);
            let ce = ctx.mem_s(tokens * v / t * 12.0);
            fwd.compute_s += s_logits + ce;
            bwd.compute_s += 2.0 * s_logits + ce;
            let small = 3.0 * coll(Collective::AllReduce, tokens * 4.0, tp, &ctx.tp_path);
            fwd.mp_comm_s += small;
            flops += 3.0 * f_logits;
            pd += model.params(seq_len).last_stage_output(model, plan.pp) / t;
            // Multi-token prediction (DeepSeek-V3 §2.2): per module a block of the last layer's kind,
            // the 2h → h projection of [norm(h); norm(embedding)] and the shared output head and loss
            // once more, all on the last stage.
            let lc = if model.mtp_block_is_moe() { &moe_layer } else { &dense_layer };
            for _ in 0..model.mtp_layers {
                let (s_proj, f_proj) = ctx.gemm(tokens, h / t, 2.0 * h, 1.0);
                let norms = ctx.mem_s(tokens * h * 8.0);
                fwd.compute_s += lc.fwd.compute_s + s_proj + norms + s_logits + ce;
                fwd.mp_comm_s += lc.fwd.mp_comm_s + small;
                fwd.ep_comm_s += lc.fwd.ep_comm_s;
                bwd.compute_s += lc.bwd.compute_s + lc.recompute.compute_s + 2.0 * s_proj + 2.0 * norms + 2.0 * s_logits + ce;
                bwd.mp_comm_s += lc.bwd.mp_comm_s + lc.recompute.mp_comm_s;
                bwd.ep_comm_s += lc.bwd.ep_comm_s + lc.recompute.ep_comm_s;
                flops += 3.0 * (lc.flops_fwd + f_proj + f_logits) + lc.flops_recompute;
                weight_grad_s += lc.wgrad_s + s_proj;
                pd += lc.params_dense + 2.0 * h * h / t;
                pe += lc.params_expert;
            }
            if model.mtp_layers > 0 && !plan.holds_chunk(plan.stage_of_chunk(c as u32), 0) {
                // Its own copy of the shared embedding for the shifted tokens.
                pd += model.params(seq_len).embedding / t;
            }
        }
        // BF16 with a separate FP32 accumulation pass (DeepSpeed's BF16_Optimizer, which the pipeline
        // engine calls after every micro-batch's backward): each local gradient is cast to FP32 and
        // added to its accumulator, `HP_GRAD_UPDATE_BYTES_PER_PARAM` of HBM traffic per parameter.
        if fw.bf16_optimizer_pass() {
            bwd.compute_s += ctx.mem_s(HP_GRAD_UPDATE_BYTES_PER_PARAM * (pd + pe));
        }
        let mut grad_reduce_s = 0.0;
        let mut grad_reduce_per_microbatch_s = 0.0;
        if zero >= 3 {
            // Gather BF16 weights before forward and again before backward (twice with full
            // recompute where the stack's recomputed forward frees them again:
            // `zero3_regather_in_recompute`); reduce-scatter gradients in the
            // stack's gradient dtype (DeepSpeed ZeRO-3 FP16: 2 bytes; FSDP2 reduce_dtype FP32: 4) after
            // each layer's backward; all per micro-batch, prefetched one layer ahead.
            let nl = f64::from(n_layers.max(1));
            let (n_dense, dense_path) = if shard < dp_ranks { (shard, &shard_path) } else { (dp_ranks, &ctx.dp_path) };
            let gather = coll(Collective::AllGather, 2.0 * pd / nl, n_dense, dense_path)
                + coll(Collective::AllGather, 2.0 * pe / nl, edp_ranks, &ctx.edp_path);
            let gb = fw.grad_reduce_dtype.bytes();
            let rs = coll(Collective::ReduceScatter, gb * pd / nl, n_dense, dense_path)
                + coll(Collective::ReduceScatter, gb * pe / nl, edp_ranks, &ctx.edp_path);
            if replicas > 1 {
                // HSDP: the domain's reduced shard is all-reduced across domains once per step.
                grad_reduce_s = coll(Collective::AllReduce, gb * pd / shard as f64, replicas, &replica_path);
            }
            let bwd_gathers = if plan.recompute == Recompute::Full && fw.zero3_regather_in_recompute {
                1.0 + f64::from(recomputed_layers) / f64::from(n_layers.max(1))
            } else {
                1.0
            };
            let cf = compute_f.iter().sum::<f64>() / nl;
            let cb = compute_b.iter().sum::<f64>() / nl;
            let f_total = prefetched(nl, cf, gather, gather, 0.0);
            let b_total = prefetched(nl, cb, bwd_gathers * gather + rs, gather, rs);
            fwd.zero_exposed_s = (f_total - nl * cf).max(0.0);
            bwd.zero_exposed_s = (b_total - nl * cb).max(0.0);
        } else {
            let op = if zero == 0 { Collective::AllReduce } else { Collective::ReduceScatter };
            let gb = fw.grad_reduce_dtype.bytes();
            let t = coll(op, gb * pd, dp_ranks, &ctx.dp_path) + coll(op, gb * pe, edp_ranks, &ctx.edp_path);
            if zero == 2 {
                grad_reduce_per_microbatch_s = t;
            } else {
                grad_reduce_s = t;
            }
        }
        ChunkCost {
            layers: n_layers,
            forward: fwd,
            backward: bwd,
            grad_reduce_s,
            grad_reduce_per_microbatch_s,
            hardware_flops: flops,
            weight_grad_s,
        }
    };
    let mut priced: Vec<((u32, u32, bool, bool), ChunkCost)> = Vec::new();
    let mut first_layer = 0u32;
    for (c, &n_layers) in plan.layers_per_chunk.iter().enumerate() {
        let dense = n_layers.min(moe_from.saturating_sub(first_layer));
        let key = (n_layers, dense, c == 0, c + 1 == n_chunks);
        let cost = match priced.iter().find(|(k, _)| *k == key) {
            Some((_, cost)) => *cost,
            None => {
                let cost = chunk_cost(c, first_layer, n_layers);
                priced.push((key, cost));
                cost
            }
        };
        chunks.push(cost);
        first_layer += n_layers;
    }

    // Per-stage optimizer and ZeRO-1/2 parameter all-gather.
    let mut optimizer_s = vec![0.0; plan.pp as usize];
    let mut param_gather_s = vec![0.0; plan.pp as usize];
    let mut first = 0u32;
    let mut stage_params = vec![(0.0, 0.0); plan.pp as usize];
    for (c, &n) in plan.layers_per_chunk.iter().enumerate() {
        // The stages holding chunk `c`: its own, and under DualPipe the mirrored one.
        let own = plan.stage_of_chunk(c as u32);
        let mirrored = (plan.schedule == crate::workload::parallelism::Schedule::DualPipe)
            .then(|| plan.pp.checked_sub(1 + c as u32))
            .flatten()
            .filter(|m| *m != own);
        for s in [Some(own), mirrored].into_iter().flatten().filter(|s| plan.holds_chunk(*s, c as u32)) {
            for l in first..first + n {
                let lc = if l >= moe_from { &moe_layer } else { &dense_layer };
                stage_params[s as usize].0 += lc.params_dense;
                stage_params[s as usize].1 += lc.params_expert;
            }
        }
        first += n;
    }
    // The stages holding the first chunk carry the embedding, those holding the last the output layer
    // (both end stages under DualPipe).
    let pparams = model.params(seq_len);
    for (s, p) in stage_params.iter_mut().enumerate() {
        if plan.holds_chunk(s as u32, 0) {
            p.0 += pparams.embedding / t;
        }
        if plan.holds_chunk(s as u32, plan.chunks() - 1) {
            p.0 += pparams.last_stage_output(model, plan.pp) / t;
        }
    }
    for (s, (pd, pe)) in stage_params.iter().enumerate() {
        let shard = |n: u64| if zero >= 1 { n as f64 } else { 1.0 };
        let updated = pd / shard(dp_ranks) + pe / shard(edp_ranks);
        optimizer_s[s] = ctx.mem_s(updated * ADAM_BYTES_PER_PARAM) + ctx.launch_s(20.0);
        if zero == 1 || zero == 2 {
            let gather = coll(Collective::AllGather, 2.0 * pd, dp_ranks, &ctx.dp_path)
                + coll(Collective::AllGather, 2.0 * pe, edp_ranks, &ctx.edp_path);
            // Overlapped (`overlap_param_gather`): the gather of the next step's parameters runs bucket by
            // bucket under the stage's first forward; only its excess over that forward is exposed.
            let first_forward_s: f64 = (0..plan.vpp).map(|v| chunks[(v * plan.pp) as usize + s].forward.compute_s).sum();
            param_gather_s[s] = if fw.overlap_param_gather { (gather - first_forward_s).max(0.0) } else { gather };
        }
    }

    // Pipeline sends between consecutive chunks, over the link between the two stages' first ranks
    // (inside the node when both stages share it). Megatron's scatter/gather optimisation: each TP rank
    // sends 1/t of the activation.
    let bytes = tokens * h * 2.0 / t;
    let stride = st.pp;
    let send = |from_stage: u32, to_stage: u32| -> f64 {
        let (a, b) = (u64::from(from_stage.min(to_stage)) * stride, u64::from(from_stage.max(to_stage)) * stride);
        let path = cluster.group_path(a, b - a, 2);
        time_s(Collective::SendRecv, Algorithm::Auto, bytes, 2, &path, false)
    };
    let n = plan.layers_per_chunk.len() as u32;
    // Chunk g sends from stage g mod pp to the next: one price per stage.
    let per_stage: Vec<f64> = if plan.pp > 1 { (0..plan.pp).map(|s| send(s, (s + 1) % plan.pp)).collect() } else { Vec::new() };
    let p2p_next_s: Vec<f64> = (0..n).map(|g| if plan.pp > 1 && g + 1 < n { per_stage[(g % plan.pp) as usize] } else { 0.0 }).collect();
    let cost = CostModel {
        p2p_next_s,
        overlap_grad_reduce: fw.overlap_grad_reduce,
        ep_overlap_sm_fraction: ep_overlapped(model, plan, fw).then_some(fw.moe_comm_sm_fraction),
        optimizer_s,
        param_gather_s,
        iteration_overhead_s: fw.iteration_overhead_s,
    };
    (cost, chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::parallelism::RankOrder;

    /// Mixtral 8x7B on 16 H100 (two nodes) with 8-way expert parallelism: TP1 PP2 DP8 EP8.
    fn moe_step(model: &ModelSpec, fw: &FrameworkSpec, rank_order: RankOrder) -> crate::step::schedule::StepResult {
        let spec = crate::workload::parallelism::moe_test_spec(rank_order);
        let cluster = crate::hardware::topology::test_cluster("h100-sxm", 16, "ib-ndr", 400.0, "generic-fat-tree");
        let plan = crate::step::resolve_plan(model, &spec, 2048, 16).unwrap();
        crate::step::simulate(model, &plan, &cluster, 2048, fw).unwrap()
    }

    /// Mixtral with a multi-token-prediction module: the last chunk (and only it) carries one more MoE
    /// block, the 2h → h projection and a second output head; selective recomputation of named
    /// modules costs backward time (`moe` also repeats the dispatch), the attention core under fused
    /// attention costs nothing.
    #[test]
    fn mtp_on_the_last_chunk_and_recompute_modules_cost_their_forward() {
        use crate::workload::parallelism::{Recompute, RecomputeModule as M};
        let cluster = crate::hardware::topology::test_cluster("h100-sxm", 16, "ib-ndr", 400.0, "generic-fat-tree");
        let fw = FrameworkSpec::default();
        let base = crate::workload::model::preset("mixtral-8x7b").unwrap();
        // The same split for every variant (MTP would otherwise move a layer off the last chunk).
        let costs = |m: &ModelSpec, rc: Recompute, mods: Option<Vec<M>>| {
            let spec = crate::workload::parallelism::ParallelismSpec {
                recompute: rc,
                recompute_modules: mods,
                ..crate::workload::parallelism::moe_test_spec(RankOrder::TpCpDpPp)
            };
            let plan = crate::step::resolve_plan(&base, &spec, 2048, 16).unwrap();
            build(m, &plan, &cluster, 2048, &fw).1
        };
        let mtp = ModelSpec { mtp_layers: 1, ..base.clone() };
        let (a, b) = (costs(&base, Recompute::None, None), costs(&mtp, Recompute::None, None));
        let layer_fwd = a[0].forward.compute_s / f64::from(a[0].layers);
        assert_eq!(a[0].forward.compute_s, b[0].forward.compute_s, "the first chunk is untouched");
        let extra = b[1].forward.compute_s - a[1].forward.compute_s;
        assert!(extra > layer_fwd, "MTP adds more than one block's forward: {extra} vs {layer_fwd}");
        assert!(b[1].forward.ep_comm_s > a[1].forward.ep_comm_s, "its MoE block dispatches too");
        assert!(b[1].hardware_flops > a[1].hardware_flops);

        let sel = |mods: Vec<M>| costs(&base, Recompute::Selective, Some(mods));
        let none = costs(&base, Recompute::None, None);
        let bwd = |c: &[ChunkCost]| c[0].backward.compute_s;
        assert_eq!(bwd(&sel(vec![M::CoreAttn])), bwd(&none), "fused attention recomputes its scores anyway");
        let norm = sel(vec![M::LayerNorm]);
        let act = sel(vec![M::MoeAct]);
        let moe = sel(vec![M::Moe]);
        assert!(bwd(&norm) > bwd(&none) && bwd(&act) > bwd(&none));
        assert!(bwd(&moe) > bwd(&act), "the whole block costs more than its activation");
        assert!(moe[0].backward.ep_comm_s > none[0].backward.ep_comm_s, "recomputing the MoE block dispatches again");
    }

    /// GPT-3 175B at TP8 PP2 on 16 devices, 1F1B, micro-batch 1, 8 micro-batches: the dense plan of
    /// the softmax and gradient-pass tests.
    fn gpt3_tp8_pp2(model: &ModelSpec, recompute: crate::workload::parallelism::Recompute) -> Plan {
        let spec = crate::workload::parallelism::ParallelismSpec {
            tp: 8,
            pp: 2,
            dp: 1,
            ep: 1,
            schedule: Some(crate::workload::parallelism::Schedule::OneFOneB),
            micro_batch: Some(1),
            global_batch: 8,
            recompute,
            ..crate::workload::parallelism::moe_test_spec(RankOrder::TpCpDpPp)
        };
        crate::step::resolve_plan(model, &spec, 2048, 16).unwrap()
    }

    /// An unfused attention with FP32 PyTorch softmax ops (GLM-130B) moves 33 bytes per score element
    /// forward and 33 backward, against the fused kernel's 10 and 20, plus four more kernels each way:
    /// the chunk's compute grows by exactly that traffic at the chip's HBM rate, and nothing else moves.
    #[test]
    fn fp32_unfused_softmax_costs_its_extra_passes_over_the_scores() {
        use crate::workload::parallelism::Recompute;
        let cluster = crate::hardware::topology::test_cluster("a100-sxm-40gb", 16, "ib-hdr", 200.0, "generic-fat-tree");
        let model = crate::workload::model::preset("gpt3-175b").unwrap();
        let plan = gpt3_tp8_pp2(&model, Recompute::None);
        let fused = FrameworkSpec { flash_attention: false, attention_softmax: AttentionSoftmax::Fused, ..FrameworkSpec::default() };
        let fp32 = FrameworkSpec { attention_softmax: AttentionSoftmax::Fp32Unfused, ..fused.clone() };
        let (a, b) = (build(&model, &plan, &cluster, 2048, &fused).1, build(&model, &plan, &cluster, 2048, &fp32).1);
        // Per layer: 96 heads / TP8 = 12 local heads over a 2,048 x 2,048 score matrix, micro-batch 1.
        let scores = 12.0 * 2048.0 * 2048.0;
        let hbm = cluster.chip.hbm_gb_per_s * 1e9 * cluster.calibration.hbm_fraction;
        let launch = cluster.calibration.kernel_overhead_us * 1e-6;
        let layers = f64::from(a[0].layers);
        let want_fwd = layers * ((33.0 - 10.0) * scores / hbm + 4.0 * launch);
        let want_bwd = layers * ((33.0 - 20.0) * scores / hbm + 8.0 * launch);
        let got_fwd = b[0].forward.compute_s - a[0].forward.compute_s;
        let got_bwd = b[0].backward.compute_s - a[0].backward.compute_s;
        assert!((got_fwd - want_fwd).abs() < 1e-9 * want_fwd.max(1.0), "forward +{got_fwd} s, want +{want_fwd} s");
        assert!((got_bwd - want_bwd).abs() < 1e-9 * want_bwd.max(1.0), "backward +{got_bwd} s, want +{want_bwd} s");
        assert_eq!(a[0].forward.mp_comm_s, b[0].forward.mp_comm_s, "communication does not change");
        assert_eq!(a[0].hardware_flops, b[0].hardware_flops, "nor do the FLOPs");
        // With FlashAttention the setting is unused.
        let flash = |sm| FrameworkSpec { flash_attention: true, attention_softmax: sm, ..FrameworkSpec::default() };
        let (c, d) = (
            build(&model, &plan, &cluster, 2048, &flash(AttentionSoftmax::Fused)).1,
            build(&model, &plan, &cluster, 2048, &flash(AttentionSoftmax::Fp32Unfused)).1,
        );
        assert_eq!(c[0].forward.compute_s, d[0].forward.compute_s);
        assert_eq!(c[0].backward.compute_s, d[0].backward.compute_s);
    }

    /// DeepSpeed's BF16 optimizer casts and adds every local gradient into its FP32 accumulator after
    /// each micro-batch's backward: 18 bytes per parameter of the chunk at the chip's HBM rate, added
    /// to the backward and nowhere else; FP16 runs (no BF16 optimizer) pay nothing.
    #[test]
    fn bf16_hp_gradient_pass_costs_18_bytes_per_parameter_per_micro_batch() {
        use crate::workload::parallelism::Recompute;
        let cluster = crate::hardware::topology::test_cluster("a100-sxm-80gb", 16, "ib-hdr", 200.0, "generic-fat-tree");
        let model = crate::workload::model::preset("gpt3-175b").unwrap();
        let plan = gpt3_tp8_pp2(&model, Recompute::Full);
        let base = FrameworkSpec::for_stack("megatron-deepspeed").unwrap();
        assert!(base.hp_grad_accumulation_pass, "the BLOOM stack has it");
        let off = FrameworkSpec { hp_grad_accumulation_pass: false, ..base.clone() };
        let (with, without) = (build(&model, &plan, &cluster, 2048, &base).1, build(&model, &plan, &cluster, 2048, &off).1);
        // Chunk 0: its layers' parameters over TP8 plus the embedding (ZeRO-1 shards no gradient).
        let p = model.params(2048);
        let layers = f64::from(with[0].layers);
        let local = layers * (p.attention_per_layer + p.dense_ffn_per_layer) / 8.0 + p.embedding / 8.0;
        let hbm = cluster.chip.hbm_gb_per_s * 1e9 * cluster.calibration.hbm_fraction;
        let got = with[0].backward.compute_s - without[0].backward.compute_s;
        let want = 18.0 * local / hbm;
        assert!((got - want).abs() <= 1e-3 * want, "+{got} s per micro-batch, want +{want} s");
        assert_eq!(with[0].forward.compute_s, without[0].forward.compute_s, "the forward is untouched");
        let fp16 = |fw: &FrameworkSpec| FrameworkSpec { precision: Precision::Fp16, ..fw.clone() };
        let (a, b) = (build(&model, &plan, &cluster, 2048, &fp16(&base)).1, build(&model, &plan, &cluster, 2048, &fp16(&off)).1);
        assert_eq!(a[0].backward.compute_s, b[0].backward.compute_s, "FP16 has no BF16 optimizer pass");
    }

    #[test]
    fn rank_order_decides_whether_experts_share_a_node() {
        let m = crate::workload::model::preset("mixtral-8x7b").unwrap();
        let fw = FrameworkSpec::default();
        // Megatron's order keeps the 8 expert-parallel ranks in one node (all-to-all over NVLink); Llama
        // 3's puts the pipeline inside the node and spreads them over both, so the all-to-all crosses the
        // network and the step is slower.
        let (a, b) = (moe_step(&m, &fw, RankOrder::TpCpDpPp), moe_step(&m, &fw, RankOrder::TpCpPpDp));
        assert!(a.breakdown.tp_comm_s < 0.5 * b.breakdown.tp_comm_s, "{:?} vs {:?}", a.breakdown, b.breakdown);
        assert!(a.step_s < b.step_s);
    }

    #[test]
    fn moe_dispatch_dedup_node_limit_and_overlap() {
        // Llama 3's order: the expert group spans both nodes (4 ranks each).
        let step = |m: &ModelSpec, fw: &FrameworkSpec| moe_step(m, fw, RankOrder::TpCpPpDp);
        let mut m = crate::workload::model::preset("mixtral-8x7b").unwrap();
        let a2a = step(&m, &FrameworkSpec::default());
        let dedup_fw = FrameworkSpec { moe_dispatcher: MoeDispatcher::NodeDedup, ..FrameworkSpec::default() };
        // Top-2 over 2 nodes: 0.75 remote copies per token instead of 1.0 (2 copies × half remote).
        let dedup = step(&m, &dedup_fw);
        assert!(dedup.breakdown.tp_comm_s < 0.9 * a2a.breakdown.tp_comm_s, "{:?} vs {:?}", dedup.breakdown, a2a.breakdown);
        // Node-limited to one node: 0.5 remote copies.
        m.moe.as_mut().unwrap().max_nodes_per_token = Some(1);
        let limited = step(&m, &dedup_fw);
        assert!(limited.breakdown.tp_comm_s < 0.9 * dedup.breakdown.tp_comm_s);
        // Overlap hides communication behind the other micro-batch's compute; the full-speed compute
        // is the same work. Communication kernels taking compute units slow the overlapped compute by
        // 1 / (1 − share), which shows as communication overhead: here (little to hide) more than it saves.
        let free = step(&m, &FrameworkSpec { overlap_moe_comm: true, moe_comm_sm_fraction: 0.0, ..dedup_fw.clone() });
        assert!(free.breakdown.tp_comm_s < limited.breakdown.tp_comm_s, "{:?} vs {:?}", free.breakdown, limited.breakdown);
        assert!((free.breakdown.compute_s / limited.breakdown.compute_s - 1.0).abs() < 0.02);
        let costly = step(&m, &FrameworkSpec { overlap_moe_comm: true, moe_comm_sm_fraction: 0.15, ..dedup_fw.clone() });
        assert!(costly.step_s > free.step_s, "{} vs {}", costly.step_s, free.step_s);
        assert!(
            (costly.breakdown.compute_s / free.breakdown.compute_s - 1.0).abs() < 0.02,
            "{:?} vs {:?}",
            costly.breakdown,
            free.breakdown
        );
        // The routing limit changes nothing when the dispatcher does not de-duplicate.
        assert_eq!(step(&m, &FrameworkSpec::default()).step_s, a2a.step_s);
    }
}
