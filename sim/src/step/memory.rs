//! Device memory: weights, gradients, optimizer states (by ZeRO stage), activations (by recompute
//! mode, following Korthikanti et al. 2022) and buffers, per pipeline stage.
//!
//! Mixed-precision Adam: BF16 weights (2 bytes/param), FP32 gradient accumulation (4), FP32 master
//! weights and two moments (12; 8 with BF16 moments, the stack's `adam_moments_dtype`): 18 bytes per parameter before sharding
//! (20 under DeepSpeed's BF16 optimizer, which also keeps the backward's BF16 gradients). ZeRO-1 shards the 12, ZeRO-2 also the
//! gradients, ZeRO-3 also the weights, over the DP·CP ranks that hold the same parameters (expert
//! parameters over the expert-data-parallel ranks).
//!
//! Activations per layer and micro-batch (bytes, `s` sequence, `b` micro-batch, `h` hidden, `a` heads,
//! `t` TP): Korthikanti eq. 1–2 generalised to GQA, gated FFNs and FFN sizes other than `4h`; with
//! `h_kv = h`, `f = 4h`, dropout and no flash attention they reduce exactly to the paper's
//! `sbh(34 + 5as/h)` (no parallelism), `sbh(10 + 24/t + 5as/(ht))` (TP), `sbh(34 + 5as/h)/t` (TP+SP),
//! `34sbh/t` (selective + SP) and `2sbh` per layer input with full recompute.
//! FP8 runs whose stack caches FP8 inputs (TransformerEngine, DeepSeek-V3) keep the linear layers'
//! inputs at 1 byte per element; the attention tensors and the FC1 output stay 16-bit.
//! Not modelled: allocator fragmentation beyond the fixed reserve, pipeline send buffers, FP8 weight copies;
//! MLA activations are counted as multi-head attention with `kv_heads = heads` (the latents are smaller,
//! the up-projected keys wider: an approximation).

use serde::Serialize;

use crate::step::stack::FrameworkSpec;
use crate::workload::model::ModelSpec;
use crate::workload::parallelism::{Plan, Recompute, RecomputeModule, RecomputeSet};

/// Fixed reserve per device: CUDA/CANN context, NCCL buffers, GEMM workspaces, allocator slack (GB).
/// An assumption (typical 1–3 GB observed with PyTorch on H100/A100), the same for every chip.
pub const RESERVED_GB: f64 = 2.0;

/// Memory of one device, GB (10^9 bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MemoryBreakdown {
    pub weights_gb: f64,
    pub gradients_gb: f64,
    pub optimizer_gb: f64,
    pub activations_gb: f64,
    pub buffers_gb: f64,
    pub total_gb: f64,
}

/// Activation bytes of one transformer layer for one micro-batch, on one device.
#[derive(Debug, Clone, Copy)]
pub struct ActivationInputs {
    pub seq_len: u32,
    pub micro_batch: u32,
    pub tp: u32,
    pub cp: u32,
    pub sequence_parallel: bool,
    pub recompute: Recompute,
    pub flash_attention: bool,
    /// Bytes per element of the linear layers' inputs kept for the backward: 2 (BF16/FP16), or 1 with
    /// FP8 GEMMs whose stack caches the FP8 cast ([`FrameworkSpec::fp8_activation_cache`]).
    pub gemm_input_bytes: f64,
    /// What a selective recomputation covers: those modules' activations are not kept.
    pub modules: RecomputeSet,
}

pub fn layer_activation_bytes(m: &ModelSpec, a: &ActivationInputs, moe_layer: bool) -> f64 {
    let s = f64::from(a.seq_len) / f64::from(a.cp);
    let b = f64::from(a.micro_batch);
    let h = f64::from(m.hidden);
    let t = f64::from(a.tp);
    let sbh = s * b * h;
    let sp = if a.sequence_parallel { t } else { 1.0 };
    if a.recompute == Recompute::Full {
        return 2.0 * sbh / sp;
    }
    let kv_ratio = f64::from(m.kv_heads) / f64::from(m.heads);
    let mask = if m.dropout { 1.0 } else { 0.0 };
    let gi = a.gemm_input_bytes;
    // Selective recomputation of named modules (Megatron-core `--recompute-modules`) drops what only
    // they need: norm outputs (the QKV and FC1 inputs), MLA's up-projected Q/K/V, the routed experts'
    // activation output, or a whole FFN block.
    let has = |x: RecomputeModule| a.recompute == Recompute::Selective && a.modules.has(x);
    let whole_ffn = if moe_layer { has(RecomputeModule::Moe) } else { has(RecomputeModule::Mlp) };
    let kept = |dropped: bool| if dropped { 0.0 } else { 1.0 };
    // Replicated across TP ranks unless SP: LN inputs (2+2), QKV input (gi), FC1 input (gi), dropout masks.
    let norm_out = has(RecomputeModule::LayerNorm);
    let replicated = sbh * (4.0 + gi * kept(norm_out) + gi * kept(norm_out || whole_ffn) + 2.0 * mask);
    // Projection input: the attention output (2). With FP8 caching the projection keeps its own FP8
    // copy, and fused attention still keeps the 16-bit output for its backward.
    let proj_input = match (gi < 2.0, a.flash_attention) {
        (false, _) => 2.0,
        (true, true) => 2.0 + gi,
        (true, false) => gi,
    };
    // TP-sharded: Q (2), K and V (2 each, scaled for GQA), projection input.
    let up_proj = m.mla.is_some() && has(RecomputeModule::MlaUpProj);
    let mut sharded = sbh * ((2.0 + 4.0 * kv_ratio) * kept(up_proj) + proj_input);
    // FFN activations per element of f: the FC1 output the activation's backward needs (2, or 4 for
    // gate and up) and the activation output that is FC2's input (gi): GeLU 2+2, gated 4+2 in 16 bits.
    let fc1_out = if m.gated_ffn { 4.0 } else { 2.0 };
    match (&m.moe, moe_layer) {
        (Some(moe), true) => {
            let routed = f64::from(moe.expert_ffn_hidden) * f64::from(moe.top_k);
            let shared = f64::from(moe.expert_ffn_hidden) * f64::from(moe.shared_experts);
            let act_out = kept(has(RecomputeModule::MoeAct));
            sharded += s * b * (routed * (fc1_out + gi * act_out) * kept(whole_ffn) + shared * (fc1_out + gi));
        }
        _ => sharded += s * b * f64::from(m.ffn_hidden) * (fc1_out + gi) * kept(whole_ffn),
    }
    // Attention scores: softmax output (2), dropout mask (1), dropout output (2) per score element.
    let core_recomputed = a.recompute == Recompute::Selective && a.modules.has(RecomputeModule::CoreAttn);
    let keeps_scores = !a.flash_attention && a.recompute != Recompute::Full && !core_recomputed;
    if keeps_scores {
        let score_bytes = if m.dropout { 5.0 } else { 2.0 };
        sharded += score_bytes * f64::from(m.heads) * s * f64::from(a.seq_len) * b;
    }
    replicated / sp + sharded / t
}

/// What one layer's activations depend on, for a plan under a stack.
pub fn activation_inputs(plan: &Plan, seq_len: u32, fw: &FrameworkSpec) -> ActivationInputs {
    ActivationInputs {
        seq_len,
        micro_batch: plan.micro_batch,
        tp: plan.tp,
        cp: plan.cp,
        sequence_parallel: plan.sequence_parallel,
        recompute: plan.recompute,
        flash_attention: fw.flash_attention,
        gemm_input_bytes: if fw.precision == crate::step::stack::Precision::Fp8 && fw.fp8_activation_cache { 1.0 } else { 2.0 },
        modules: plan.recompute_modules,
    }
}

/// Memory of every stage and the worst one. `inflight_layer_mbs[s]` is the largest number of
/// (layer, micro-batch) activations stage `s` holds at once under the schedule.
/// `zero_shard_ranks`: ranks the dense ZeRO shards are spread over ([`crate::step::cost::zero_shard_ranks`]).
pub fn stage_memory(
    m: &ModelSpec,
    plan: &Plan,
    seq_len: u32,
    fw: &FrameworkSpec,
    zero_shard_ranks: u64,
    inflight_layer_mbs: &[f64],
) -> Vec<MemoryBreakdown> {
    let grad_bytes = fw.grad_reduce_dtype.bytes();
    let params = m.params(seq_len);
    let t = f64::from(plan.tp);
    let dense_shard = zero_shard_ranks as f64;
    // Expert ZeRO shards spread over the expert-data-parallel ranks (MoE parallel folding).
    let expert_shard = if dense_shard < (f64::from(plan.dp) * f64::from(plan.cp)) {
        (dense_shard * f64::from(plan.tp) / (f64::from(plan.ep) * f64::from(plan.etp))).max(1.0)
    } else {
        plan.edp() as f64
    };
    let acts = activation_inputs(plan, seq_len, fw);
    let moe_from = m.moe.as_ref().map_or(u32::MAX, |x| x.dense_layers);
    // First layer of every chunk, in model order (plans built for probing may hold more layers than the
    // model); a layer's activations depend only on whether it is an MoE layer.
    let mut chunk_start = Vec::with_capacity(plan.layers_per_chunk.len());
    let mut next = 0u32;
    for n in &plan.layers_per_chunk {
        chunk_start.push(next);
        next += n;
    }
    let act_bytes = [layer_activation_bytes(m, &acts, false), layer_activation_bytes(m, &acts, true)];
    // Layers no recomputation covers (all of them without one, the rest of a chunk after
    // `recompute_layers` under a partial one) keep everything.
    let kept = ActivationInputs { recompute: Recompute::None, ..acts };
    let kept_bytes = [layer_activation_bytes(m, &kept, false), layer_activation_bytes(m, &kept, true)];
    // Per stage: parameters on its device (dense part, expert part), the activation bytes of its layers
    // and their count. Summed chunk by chunk in model order, so each stage sees its layers in the order a
    // walk over every layer keeping the held ones would (the same sums), without testing every chunk
    // against every stage.
    let p = plan.pp as usize;
    let mut sums = vec![(0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64); p];
    let dual = plan.schedule == crate::workload::parallelism::Schedule::DualPipe;
    for (c, (&start, &n)) in chunk_start.iter().zip(&plan.layers_per_chunk).enumerate() {
        let own = c % p;
        // DualPipe: the mirrored stage holds the reverse direction's copy of the chunk.
        let mirrored = if dual { (p - 1).checked_sub(c).filter(|m| *m != own) } else { None };
        for s in std::iter::once(own).chain(mirrored) {
            let (dense, expert, act_per_layer_sum, layers) = &mut sums[s];
            for l in start..start + n {
                let moe = l >= moe_from;
                *dense += params.attention_per_layer / t;
                if moe {
                    *dense += params.moe_shared_per_layer / t;
                    *expert += params.experts_per_moe_layer / (f64::from(plan.ep) * f64::from(plan.etp));
                } else {
                    *dense += params.dense_ffn_per_layer / t;
                }
                *act_per_layer_sum += if plan.recomputes(l - start) { act_bytes[usize::from(moe)] } else { kept_bytes[usize::from(moe)] };
                *layers += 1.0;
            }
        }
    }
    (0..plan.pp)
        .map(|s| {
            let (mut dense, mut expert, act_per_layer_sum, layers) = sums[s as usize];
            // The stages holding the first chunk carry the embedding, those holding the last the output
            // layer (both end stages under DualPipe).
            let last = plan.holds_chunk(s, plan.chunks() - 1);
            if plan.holds_chunk(s, 0) {
                dense += params.embedding / t;
            }
            if last {
                dense += params.last_stage_output(m, plan.pp) / t;
                if m.mtp_layers > 0 {
                    // MTP modules (block, projection, norms) and their copy of the shared embedding.
                    let mtp = f64::from(m.mtp_layers);
                    let h = f64::from(m.hidden);
                    dense += mtp * (params.attention_per_layer + 2.0 * h * h) / t;
                    if m.mtp_block_is_moe() {
                        dense += mtp * params.moe_shared_per_layer / t;
                        expert += mtp * params.experts_per_moe_layer / (f64::from(plan.ep) * f64::from(plan.etp));
                    } else {
                        dense += mtp * params.dense_ffn_per_layer / t;
                    }
                    if !plan.holds_chunk(s, 0) {
                        dense += params.embedding / t;
                    }
                }
            }
            let zero = plan.zero_stage;
            let weights = 2.0 * (dense / if zero >= 3 { dense_shard } else { 1.0 } + expert / if zero >= 3 { expert_shard } else { 1.0 });
            let mut grads =
                grad_bytes * (dense / if zero >= 2 { dense_shard } else { 1.0 } + expert / if zero >= 2 { expert_shard } else { 1.0 });
            // DeepSpeed's BF16 optimizer keeps the backward's BF16 gradients beside the FP32
            // accumulators it adds them into (BigScience: "accumulate gradients in fp32, so it is more
            // memory heavy ... 4bytes x params and it's not sharded across gpus").
            if fw.bf16_optimizer_pass() {
                grads += 2.0 * (dense + expert);
            }
            let optim = (4.0 + 2.0 * fw.adam_moments_dtype.bytes())
                * (dense / if zero >= 1 { dense_shard } else { 1.0 } + expert / if zero >= 1 { expert_shard } else { 1.0 });
            let mean_act = if layers > 0.0 { act_per_layer_sum / layers } else { 0.0 };
            let inflight = inflight_layer_mbs.get(s as usize).copied().unwrap_or(0.0);
            let mut activations = mean_act * inflight;
            if last && m.mtp_layers > 0 && layers > 0.0 {
                // The MTP blocks keep their activations for as many micro-batches as the stage's layers.
                activations += f64::from(m.mtp_layers) * act_bytes[usize::from(m.mtp_block_is_moe())] * inflight / layers;
            }
            let offloaded = f64::from(fw.activation_offload_layers).min(layers);
            if offloaded > 0.0 && plan.pp == 1 {
                // Offloaded layers leave the device, but the one in transit is still on it.
                activations *= (layers - offloaded + 1.0).min(layers) / layers;
            }
            if last {
                // FP32 logits/softmax and BF16 logits of the micro-batch in the loss.
                let tokens = f64::from(seq_len) / f64::from(plan.cp) * f64::from(plan.micro_batch);
                activations += 6.0 * tokens * f64::from(m.vocab) / t * (1.0 + f64::from(m.mtp_layers));
            }
            // Fragmentation: the allocator reserves activations / (1 − f) to hold them.
            let f = fw.allocator_fragmentation;
            let mut buffers = RESERVED_GB * 1e9 + activations * f / (1.0 - f);
            if zero >= 3 {
                // Gathered BF16 weights of the module in use and the prefetched one, plus the gradient
                // of one module before its reduce-scatter: ZeRO-3 gathers per module (linear layer).
                let h = f64::from(m.hidden);
                let f = f64::from(m.ffn_hidden).max(m.moe.as_ref().map_or(0.0, |x| f64::from(x.expert_ffn_hidden)));
                let largest_module = (h * (h + 2.0 * m.kv_dim())).max(h * f * if m.gated_ffn { 2.0 } else { 1.0 }) / t;
                buffers += 3.0 * 2.0 * largest_module;
            }
            let gb = |x: f64| x / 1e9;
            let total = gb(weights + grads + optim + activations + buffers);
            MemoryBreakdown {
                weights_gb: gb(weights),
                gradients_gb: gb(grads),
                optimizer_gb: gb(optim),
                activations_gb: gb(activations),
                buffers_gb: gb(buffers),
                total_gb: total,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::model::preset;

    fn gpt(l: u32, h: u32, a: u32) -> ModelSpec {
        ModelSpec {
            name: "t".into(),
            layers: l,
            hidden: h,
            heads: a,
            kv_heads: a,
            ffn_hidden: 4 * h,
            gated_ffn: false,
            vocab: 51200,
            bias: true,
            learned_positions: true,
            tied_embeddings: true,
            dropout: true,
            moe: None,
            mla: None,
            head_dim: None,
            mtp_layers: 0,
        }
    }

    fn inputs(tp: u32, sp: bool, rc: Recompute) -> ActivationInputs {
        ActivationInputs {
            seq_len: 2048,
            micro_batch: 1,
            tp,
            cp: 1,
            sequence_parallel: sp,
            recompute: rc,
            flash_attention: false,
            gemm_input_bytes: 2.0,
            modules: Default::default(),
        }
    }

    /// Korthikanti et al. 2022, eq. 1–5 and Table 2, for GPT-3 175B (s 2048, b 1, h 12288, a 96, t 8).
    #[test]
    fn korthikanti_formulas() {
        let m = gpt(96, 12288, 96);
        let (s, b, h, a, t) = (2048.0, 1.0, 12288.0, 96.0, 8.0);
        let sbh = s * b * h;
        let close = |x: f64, y: f64| (x - y).abs() / y < 1e-12;
        assert!(close(layer_activation_bytes(&m, &inputs(1, false, Recompute::None), false), sbh * (34.0 + 5.0 * a * s / h)));
        assert!(close(
            layer_activation_bytes(&m, &inputs(8, false, Recompute::None), false),
            sbh * (10.0 + 24.0 / t + 5.0 * a * s / (h * t))
        ));
        assert!(close(layer_activation_bytes(&m, &inputs(8, true, Recompute::None), false), sbh * (34.0 + 5.0 * a * s / h) / t));
        assert!(close(layer_activation_bytes(&m, &inputs(8, true, Recompute::Selective), false), 34.0 * sbh / t));
        assert!(close(layer_activation_bytes(&m, &inputs(8, false, Recompute::Selective), false), sbh * (10.0 + 24.0 / t)));
        assert!(close(layer_activation_bytes(&m, &inputs(8, false, Recompute::Full), false), 2.0 * sbh));
        // Table 2's headline: selective + SP stores ~ 5x less than TP alone without recompute for GPT-3.
        let tp_only = layer_activation_bytes(&m, &inputs(8, false, Recompute::None), false);
        let sel_sp = layer_activation_bytes(&m, &inputs(8, true, Recompute::Selective), false);
        assert!(tp_only / sel_sp > 4.5 && tp_only / sel_sp < 6.5, "{}", tp_only / sel_sp);
    }

    /// Pure data parallelism, micro-batch 1, full recompute: the plan the memory tests vary.
    fn dp_only(dp: u32, global_batch: u32, zero_stage: u8) -> crate::workload::parallelism::ParallelismSpec {
        use crate::workload::parallelism::*;
        ParallelismSpec {
            tp: 1,
            pp: 1,
            dp,
            cp: 1,
            ep: 1,
            etp: None,
            schedule: None,
            vpp: None,
            micro_batch: Some(1),
            global_batch,
            recompute: Recompute::Full,
            sequence_parallel: false,
            zero_stage,
            rank_order: Default::default(),
            pipeline_split: Default::default(),
            recompute_modules: None,
            recompute_layers: None,
            pipeline_layout: None,
        }
    }

    #[test]
    fn gpt3_on_one_device_does_not_fit() {
        use crate::workload::parallelism::*;
        let m = preset("gpt3-175b").unwrap();
        let spec = dp_only(8, 8, 0);
        let plan = resolve(&spec, &m, 2048, 8, 0.0).unwrap();
        let mem = stage_memory(&m, &plan, 2048, &FrameworkSpec::default(), 8, &[96.0]);
        // 18 bytes/param x 175B = 3.1 TB.
        assert!(mem[0].total_gb > 3000.0, "{:?}", mem[0]);
        assert!((mem[0].weights_gb + mem[0].gradients_gb + mem[0].optimizer_gb - 18.0 * m.params(2048).total / 1e9).abs() < 1.0);
    }

    /// DeepSpeed's BF16 optimizer holds the BF16 gradients beside the FP32 accumulators: 20 bytes per
    /// parameter unsharded (BigScience's "4bytes x params ... not sharded" over FP16's accumulation in
    /// the 16-bit gradients); FP16 runs on the same stack and other stacks keep 18.
    #[test]
    fn deepspeed_bf16_optimizer_keeps_both_gradient_copies() {
        use crate::workload::parallelism::*;
        let m = preset("gpt3-175b").unwrap();
        let plan = resolve(&dp_only(8, 8, 0), &m, 2048, 8, 0.0).unwrap();
        let bytes = |fw: &FrameworkSpec| {
            let mem = stage_memory(&m, &plan, 2048, fw, 8, &[96.0]);
            (mem[0].weights_gb + mem[0].gradients_gb + mem[0].optimizer_gb) * 1e9 / m.params(2048).total
        };
        let ds = FrameworkSpec::for_stack("megatron-deepspeed").unwrap();
        assert!((bytes(&ds) - 20.0).abs() < 0.01, "{}", bytes(&ds));
        let fp16 = FrameworkSpec { precision: crate::step::stack::Precision::Fp16, ..ds.clone() };
        assert!((bytes(&fp16) - 18.0).abs() < 0.01, "{}", bytes(&fp16));
        assert!((bytes(&FrameworkSpec::default()) - 18.0).abs() < 0.01);
    }

    #[test]
    fn zero_stages_shard_progressively() {
        use crate::workload::parallelism::*;
        let m = preset("llama3-8b").unwrap();
        let mut spec = dp_only(64, 512, 0);
        let mut totals = Vec::new();
        for z in 0..=3 {
            spec.zero_stage = z;
            let plan = resolve(&spec, &m, 8192, 64, 0.0).unwrap();
            totals.push(stage_memory(&m, &plan, 8192, &FrameworkSpec::default(), 64, &[32.0])[0].total_gb);
        }
        assert!(totals.windows(2).all(|w| w[1] < w[0]), "{totals:?}");
    }

    /// Megatron-LM's distributed-optimizer documentation (docs/source/api-guide/dist_optimizer.md): with
    /// BF16 parameters and FP32 gradients, 6 + 12/d bytes per parameter; with BF16 gradients 4 + 12/d
    /// (the FP32 master copy and both Adam moments are sharded over the d data-parallel ranks).
    #[test]
    fn distributed_optimizer_bytes_per_parameter() {
        use crate::workload::parallelism::*;
        let m = preset("llama3-8b").unwrap();
        let spec = dp_only(64, 64, 1);
        let plan = resolve(&spec, &m, 8192, 64, 0.0).unwrap();
        let p = m.params(8192).total;
        for (grad, want) in [(crate::step::stack::GradDtype::Fp32, 6.0), (crate::step::stack::GradDtype::Bf16, 4.0)] {
            let fw = FrameworkSpec { grad_reduce_dtype: grad, ..FrameworkSpec::default() };
            let mem = stage_memory(&m, &plan, 8192, &fw, 64, &[0.0])[0];
            let per_param = (mem.weights_gb + mem.gradients_gb + mem.optimizer_gb) * 1e9 / p;
            assert!((per_param - (want + 12.0 / 64.0)).abs() < 1e-4, "{grad:?}: {per_param} bytes per parameter");
        }
    }

    /// TransformerEngine under FP8 keeps the linear layers' inputs as their FP8 casts (LayerNormLinear
    /// and Linear save the FP8 input for the weight-gradient GEMM): per layer the QKV and FC1 inputs
    /// (SP-sharded) and the FC2 input (f wide) shrink to 1 byte, while fused attention keeps its 16-bit
    /// output beside the projection's FP8 copy.
    #[test]
    fn fp8_caching_saves_the_linear_inputs() {
        let m = preset("llama3-70b").unwrap();
        let mut a = ActivationInputs {
            seq_len: 8192,
            micro_batch: 1,
            tp: 4,
            cp: 1,
            sequence_parallel: true,
            recompute: Recompute::None,
            flash_attention: true,
            gemm_input_bytes: 2.0,
            modules: Default::default(),
        };
        let bf16 = layer_activation_bytes(&m, &a, false);
        a.gemm_input_bytes = 1.0;
        let fp8 = layer_activation_bytes(&m, &a, false);
        let (sbh, t) = (8192.0 * f64::from(m.hidden), 4.0);
        let saved = 2.0 * sbh / t /* QKV and FC1 inputs */ + 8192.0 * f64::from(m.ffn_hidden) / t /* FC2 input */
            - sbh / t /* the projection's own FP8 copy */;
        assert!((bf16 - fp8 - saved).abs() < 1e-6 * bf16, "saved {} of {bf16}, expected {saved}", bf16 - fp8);
    }

    /// Megatron-Bridge's GB200 recipes ran as published on 186 GB devices, and the settings NVIDIA did
    /// not pick for them would not fit: Llama 3.1 405B on 256 GPUs at TP4 PP16 without recompute fits
    /// at VP4 in FP8 (llama31_405b_pretrain_256gpu_gb200_fp8cs_config) but not in BF16, whose recipe
    /// uses VP8 (..._bf16_config; 128 chunks with the embedding and loss counted as pipeline layers,
    /// which wanka cannot express); Llama 3 70B on 64 GPUs under Megatron-FSDP at micro-batch 2 fits
    /// with 40 layers' activations offloaded to the Grace host (LLAMA3_70B_PRETRAIN_CONFIG_GB200_FP8_CS_V2)
    /// and not without.
    #[test]
    fn gb200_recipes_fit_as_they_ran() {
        use crate::step::stack::Precision;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/validation/public_cases.csv");
        let cases = crate::validate::read_step_cases(&path).unwrap();
        let cat = crate::hardware::catalog::Catalog::builtin();
        let get = |id: &str| cases.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("case {id}")).scenario.clone();
        let fits = |s: &crate::scenario::Scenario| match s.simulate_step(cat, "case") {
            Ok(r) => Ok(r.memory.total_gb),
            Err(e) if e.to_string().contains("memory:") => Err(e.to_string()),
            Err(e) => panic!("{e}"),
        };
        let mut s = get("mbridge2606-llama31-405b-gb200-256-fp8");
        s.parallelism.recompute = Recompute::None;
        assert!(fits(&s).is_ok(), "405B FP8 VP4: {:?}", fits(&s));
        s.framework.precision = Precision::Bf16;
        assert!(fits(&s).is_err(), "405B BF16 VP4 fits: {:?}", fits(&s));

        let mut s = get("mbridge260401-llama3-70b-gb200-64-fp8-fsdp");
        s.parallelism.recompute = Recompute::None;
        assert_eq!(s.framework.activation_offload_layers, 40);
        assert!(fits(&s).is_ok(), "70B offloading 40 layers: {:?}", fits(&s));
        s.framework.activation_offload_layers = 0;
        assert!(fits(&s).is_err(), "70B without offload fits: {:?}", fits(&s));
    }

    /// A partial full recompute (`recompute_layers`, Megatron's `--recompute-method block`) recomputes
    /// the first N layers of every chunk: its compute and activation memory lie between none and full,
    /// move monotonically with N, and N at or beyond a chunk's layers is full recompute (Llama 3 8B, PP2
    /// 1F1B, about 16 layers per chunk, sequence 2,048).
    #[test]
    fn partial_recompute_lies_between_none_and_full() {
        let text = r#"(
            name: "partial", model: Preset("llama3-8b"),
            cluster: (chip: "h100-sxm", gpus: 16, gpus_per_node: 8),
            parallelism: (tp: 1, pp: 2, dp: 8, schedule: Some(OneFOneB), micro_batch: Some(1), global_batch: 128, recompute: Full, sequence_parallel: false, zero_stage: 1),
            training: (seq_len: 2048, tokens: 1e12),
        )"#;
        let base = crate::scenario::Scenario::parse(text, "t.ron").unwrap();
        let cat = crate::hardware::catalog::Catalog::builtin();
        let run = |rc: Recompute, n: Option<u32>| {
            let mut s = base.clone();
            s.parallelism.recompute = rc;
            s.parallelism.recompute_layers = n;
            let r = s.simulate_step(cat, "t.ron").unwrap();
            (r.breakdown.compute_s, r.memory.activations_gb)
        };
        let (none, full) = (run(Recompute::None, None), run(Recompute::Full, None));
        let (four, eight) = (run(Recompute::Full, Some(4)), run(Recompute::Full, Some(8)));
        assert!(none.0 < four.0 && four.0 < eight.0 && eight.0 < full.0, "compute {none:?} {four:?} {eight:?} {full:?}");
        assert!(none.1 > four.1 && four.1 > eight.1 && eight.1 > full.1, "activations {none:?} {four:?} {eight:?} {full:?}");
        // Half the layers recomputed costs half of full recomputation's extra forward.
        let half = (eight.0 - none.0) / (full.0 - none.0);
        assert!((half - 0.5).abs() < 0.02, "{half}");
        // No chunk holds more than the model's 32 layers.
        assert_eq!(run(Recompute::Full, Some(32)), full);
        assert_eq!(run(Recompute::Full, Some(40)), full);
        // Only with full recompute, and at least one layer.
        for (rc, n) in [(Recompute::Selective, 4), (Recompute::None, 4), (Recompute::Full, 0)] {
            let mut s = base.clone();
            s.parallelism.recompute = rc;
            s.parallelism.recompute_layers = Some(n);
            let e = s.simulate_step(cat, "t.ron").unwrap_err().to_string();
            assert!(e.contains("recompute_layers") && e.contains("--recompute-method block"), "{e}");
        }
    }

    /// Selective recomputation of named modules drops exactly those modules' tensors (DeepSeek-V3,
    /// TP1, 4,096 tokens, BF16): the norm outputs are the QKV and FC1 inputs (2 bytes × h each), MLA's
    /// up-projected Q/K/V are `2 + 4` bytes × h (counted as multi-head), `moe_act` the routed experts'
    /// FC2 input (2 bytes × top_k × expert FFN), `moe` the routed experts' whole FFN.
    #[test]
    fn recompute_modules_drop_their_own_activations() {
        use crate::workload::parallelism::RecomputeModule as M;
        let m = preset("deepseek-v3-like").unwrap();
        let at = |rc: Recompute, mods: &[M]| {
            let a = ActivationInputs {
                seq_len: 4096,
                micro_batch: 1,
                tp: 1,
                cp: 1,
                sequence_parallel: false,
                recompute: rc,
                flash_attention: true,
                gemm_input_bytes: 2.0,
                modules: RecomputeSet::of(mods),
            };
            layer_activation_bytes(&m, &a, true)
        };
        let tokens = 4096.0;
        let h = f64::from(m.hidden);
        let routed = f64::from(m.moe.as_ref().unwrap().expert_ffn_hidden) * 8.0;
        let none = at(Recompute::None, &[]);
        // The attention core alone (Megatron's default) is free under fused attention.
        assert_eq!(at(Recompute::Selective, &[M::CoreAttn]), none);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6 * b;
        assert!(close(none - at(Recompute::Selective, &[M::LayerNorm]), tokens * h * 4.0));
        assert!(close(none - at(Recompute::Selective, &[M::MlaUpProj]), tokens * h * 6.0));
        assert!(close(none - at(Recompute::Selective, &[M::MoeAct]), tokens * routed * 2.0));
        // The whole MoE block: its routed FFN (gate and up outputs 4, activation output 2) and its input.
        assert!(close(none - at(Recompute::Selective, &[M::Moe]), tokens * routed * 6.0 + tokens * h * 2.0));
        // Modules are ignored without selective recomputation (resolve refuses that pairing).
        assert_eq!(at(Recompute::None, &[M::LayerNorm, M::Moe]), none);
    }
}
