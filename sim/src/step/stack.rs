//! Software stacks: the framework settings a training run really used, as named, documented profiles.
//!
//! A step time depends as much on the software as on the chip: whether attention is fused, whether the
//! data-parallel gradient reduction overlaps the backward, in which dtype gradients are reduced, whether
//! tensor-parallel collectives are overlapped with GEMMs, how FP8 is applied. [`FrameworkSpec`] holds
//! every such choice; a [`StackProfile`] (from `scenarios/catalog/stacks.ron`, compiled in) is a named,
//! sourced bundle of them for one framework and period — Megatron-LM as it ran in 2021, Megatron-core
//! in 2024, NeMo's performance recipes, PyTorch FSDP2/torchtitan, DeepSpeed ZeRO, MindSpeed on Ascend,
//! MaxText on TPU.
//!
//! In a scenario, `framework: (stack: "megatron-lm-2021")` takes the profile; any other field written
//! beside it overrides that one setting. Without `stack` the default profile (`megatron-core`) is the
//! base. Every report names the stack in force.
//!
//! Not modelled here: kernel-level tuning inside a stack (that is the chip calibration's job), compiler
//! fusion beyond what the fields say, per-version bugs.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use crate::error::WankaError;
use crate::hardware::collective::Algorithm;
use crate::ron_util::parse_ron;
use crate::workload::parallelism::{Plan, Recompute, Schedule};

/// Numeric format of the GEMMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Precision {
    #[default]
    Bf16,
    /// FP16 with loss scaling (Megatron-LM 2021, GPT-3 era): the same tensor-core peak as BF16.
    Fp16,
    /// FP8 GEMMs (Transformer Engine); attention, norms and optimizer stay in BF16/FP32. Only on chips
    /// whose catalog entry has an FP8 peak.
    Fp8,
}

impl Precision {
    pub fn label(self) -> &'static str {
        match self {
            Precision::Bf16 => "BF16",
            Precision::Fp16 => "FP16",
            Precision::Fp8 => "FP8",
        }
    }
}

/// How MoE tokens are moved to their experts and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MoeDispatcher {
    /// NCCL all-to-all (Megatron-core's `alltoall` dispatcher): one copy of a token per routed expert,
    /// in the training dtype (BF16).
    #[default]
    AllToAll,
    /// De-duplicated dispatch (DeepEP, DeepSeek-V3 §3.2.2): a token crosses the scale-out network once
    /// per distinct destination node and fans out to its experts over the scale-up links; under FP8
    /// GEMMs the dispatch is sent in FP8 (1 byte per element), the combine in BF16.
    NodeDedup,
}

/// Which parts of a training step run as replayed CUDA graphs instead of eager launches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CudaGraphs {
    /// Every kernel is launched eagerly from the host.
    #[default]
    Eager,
    /// Scoped graphs of the static-shape parts (TransformerEngine graphs with Megatron-core
    /// `--cuda-graph-scope attn moe_router moe_preprocess`): the experts' grouped GEMMs, whose row
    /// counts change every step under dropless routing, stay eager.
    Partial,
    /// Whole layers or the whole iteration, experts included: Megatron-core `--cuda-graph-impl
    /// full_iteration` (static expert buffers sized by a capacity factor), or NeMo's per-layer
    /// `enable_cuda_graph` with token-drop padding to capacity (static shapes).
    Full,
}

/// How an unfused attention (no FlashAttention) runs its softmax over the materialised score matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AttentionSoftmax {
    /// One fused scale-mask-softmax kernel in 16 bits (FP32 inside the kernel), then dropout:
    /// Megatron's `FusedScaleMaskSoftmax`, also under `--attention-softmax-in-fp32`.
    #[default]
    Fused,
    /// Separate PyTorch kernels with the softmax in FP32: mask (mul, sub), cast up, softmax, cast down,
    /// dropout, each a pass over the score matrix (GLM-130B, "FP32 softmax", SwissArmyTransformer's
    /// `standard_attention`: `F.softmax(scores.float())`).
    Fp32Unfused,
}

impl AttentionSoftmax {
    /// HBM bytes per score element (forward, backward): fused: scale+mask+softmax r2 w2, dropout r2 w2
    /// + mask w1, ≈10 forward, twice that backward (the model's long-standing figure); FP32 unfused:
    /// mask mul r2 w2 and sub r2 w2, cast r2 w4, softmax r4 w4, cast r4 w2, dropout r2 w2 + mask w1 = 33
    /// forward; backward dropout r3 w2, cast r2 w4, softmax r8 w4, cast r4 w2, mask mul r2 w2 = 33.
    pub fn bytes_per_score(self) -> (f64, f64) {
        match self {
            AttentionSoftmax::Fused => (10.0, 20.0),
            AttentionSoftmax::Fp32Unfused => (33.0, 33.0),
        }
    }
    /// Kernels per pass beyond the fused path (mask mul and sub, the two casts).
    pub fn extra_kernels(self) -> f64 {
        match self {
            AttentionSoftmax::Fused => 0.0,
            AttentionSoftmax::Fp32Unfused => 4.0,
        }
    }
}

/// Dtype in which gradients are accumulated and reduced over data parallelism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum GradDtype {
    /// FP32 `main_grad` (Megatron-LM with BF16 forces it; FSDP `reduce_dtype=float32`).
    #[default]
    Fp32,
    /// Gradients kept and reduced in 16 bits: BF16 (NeMo / Megatron-core `grad_reduce_in_fp32=False`)
    /// or FP16 (DeepSpeed ZeRO with FP16 training).
    #[serde(alias = "Fp16")]
    Bf16,
}

impl GradDtype {
    pub fn bytes(self) -> f64 {
        match self {
            GradDtype::Fp32 => 4.0,
            GradDtype::Bf16 => 2.0,
        }
    }
}

/// Declares [`FrameworkSpec`] (every field concrete) and its input form `FrameworkInput` (every field
/// optional, plus `stack`), so that the field list is written once.
macro_rules! framework_fields {
    ($( $(#[doc = $doc:expr])* $name:ident : $ty:ty ),* $(,)?) => {
        /// Software-stack choices in force for a scenario. Written in a scenario as
        /// `framework: (stack: "...", field: value, …)`: the named profile's settings, with any field
        /// written beside `stack` overriding that setting.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(try_from = "FrameworkInput")]
        pub struct FrameworkSpec {
            /// Id of the [`StackProfile`] the settings start from (named in every report).
            pub stack: String,
            $( $(#[doc = $doc])* pub $name: $ty, )*
        }

        /// The form a scenario or a stack profile writes: any subset of the fields.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FrameworkInput {
            pub stack: Option<String>,
            $( pub $name: Option<$ty>, )*
        }

        impl FrameworkInput {
            /// Fields this input sets, over `base`.
            fn apply(self, mut base: FrameworkSpec) -> FrameworkSpec {
                $( if let Some(v) = self.$name { base.$name = v; } )*
                base
            }
            /// Every field set (a stack profile must state all of them); else the first missing one.
            fn complete(self, stack: &str) -> Result<FrameworkSpec, &'static str> {
                Ok(FrameworkSpec {
                    stack: stack.to_string(),
                    $( $name: self.$name.ok_or(stringify!($name))?, )*
                })
            }
        }

        impl FrameworkSpec {
            /// Every setting in which `other` differs from `self`: (field, this value, other value),
            /// in declaration order.
            pub fn differences(&self, other: &FrameworkSpec) -> Vec<(&'static str, String, String)> {
                let mut out = Vec::new();
                $( if self.$name != other.$name {
                    out.push((stringify!($name), format!("{:?}", self.$name), format!("{:?}", other.$name)));
                } )*
                out
            }
            /// These settings with the one named `field` taken from `other`; `None` for an unknown name.
            pub fn with_setting_of(&self, other: &FrameworkSpec, field: &str) -> Option<FrameworkSpec> {
                let mut out = self.clone();
                $( if field == stringify!($name) { out.$name = other.$name.clone(); return Some(out); } )*
                None
            }
            /// Fields that differ from the named stack's own settings (for reports: "megatron-core,
            /// changed: precision").
            pub fn overrides(&self) -> Vec<&'static str> {
                let Ok(p) = profile(&self.stack) else { return vec![] };
                let mut out = Vec::new();
                $( if self.$name != p.framework.$name { out.push(stringify!($name)); } )*
                out
            }
        }
    };
}

framework_fields! {
    /// Collective algorithm (`Auto`: ring/tree as NCCL picks for large messages).
    collective_algorithm: Algorithm,
    /// Overlap DP gradient reduction with backward, bucket by bucket (Megatron-core
    /// `overlap_grad_reduce`, PyTorch DDP/FSDP).
    overlap_grad_reduce: bool,
    /// Overlap the backward TP all-reduce of input gradients with the weight-gradient GEMMs of the
    /// column-parallel layers (Megatron-LM `async_tensor_model_parallel_allreduce`, 2022+).
    overlap_tp_comm_backward: bool,
    /// Overlap TP all-gathers / reduce-scatters with the GEMMs they feed in both passes (Transformer
    /// Engine userbuffers, NeMo `tp_comm_overlap`); only the excess of communication over the
    /// overlapped GEMMs stays exposed.
    tp_comm_overlap: bool,
    /// Overlap the distributed optimizer's (ZeRO-1/2) parameter all-gather with the next forward
    /// (Megatron-core `overlap_param_gather`); only the excess over the first forward stays exposed.
    overlap_param_gather: bool,
    /// Use SHARP/NVLS in-network reduction where the fabric has it.
    in_network_reduction: bool,
    /// Rings of a group with several members per node are striped over all those members' NICs
    /// (NCCL channels, one per rail), so they run at up to that many NICs' worth of bandwidth.
    multi_rail: bool,
    /// ZeRO/FSDP shards within the scale-up domain and replicates across domains (PyTorch HSDP;
    /// MaxText multislice: FSDP over ICI inside a slice, data parallelism over DCN between slices):
    /// per-micro-batch gathers stay on the scale-up links, and each domain's shard is all-reduced
    /// across domains once per step.
    hybrid_shard: bool,
    /// Fused attention that never materialises the score matrix (FlashAttention-2 class).
    flash_attention: bool,
    /// Use the chip's architecture-specific fused attention (FlashAttention-3 / cuDNN fused attention on
    /// Hopper) where the chip's calibration has a figure for it; else the FlashAttention-2 figure.
    native_attention: bool,
    /// GEMM precision.
    precision: Precision,
    /// With FP8 GEMMs, linear layers keep their inputs for the backward in FP8 (1 byte per element)
    /// instead of 16 bits (TransformerEngine: `LayerNormLinear`/`Linear` save the FP8 cast of the input
    /// for the weight-gradient GEMM; DeepSeek-V3 report §3.3.2). Only used when `precision` is FP8.
    fp8_activation_cache: bool,
    /// Transformer layers per device whose activations go to host memory in the forward and come back
    /// for the backward (Megatron-core `cpu_offloading_num_layers`); 0 = none. Megatron-core requires
    /// pp 1 and no recompute (Megatron-Bridge docs/training/cpu-offloading.md); the transfers run over
    /// the chip's host link beside the layers' compute, and only their excess is exposed.
    activation_offload_layers: u32,
    /// Share of the allocator's peak reserved memory lost to fragmentation, charged on the
    /// activations (the allocations that churn every micro-batch). PyTorch's caching allocator without
    /// expandable segments loses 15% on average (up to 33%) on LLM training with recomputation, ZeRO
    /// and offloading (GMLake, ASPLOS'24, eight LLMs on A100-80GB); expandable segments (PyTorch 2.1+,
    /// `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`) and XLA's static buffer plans lose about none.
    allocator_fragmentation: f64,
    /// Dtype of gradient accumulation and reduction.
    grad_reduce_dtype: GradDtype,
    /// Fixed cost per iteration: data loading, logging, synchronisation, seconds.
    iteration_overhead_s: f64,
    /// MoE token dispatch.
    moe_dispatcher: MoeDispatcher,
    /// Overlap MoE dispatch/combine with the computation of another micro-batch (DeepSeek-V3's
    /// DualPipe, Megatron-core's EP-communication overlap). Only steady-state forward/backward pairs are
    /// modelled: the all-to-all of a layer's forward and backward is hidden behind the same layer's
    /// compute of both passes, the excess stays exposed.
    overlap_moe_comm: bool,
    /// Share of the device's compute units given to communication kernels while MoE communication is
    /// overlapped; MoE-layer compute slows by `1 / (1 − share)` (DeepSeek-V3 §3.2.2 dedicates 20 of the
    /// H800's 132 SMs: 0.15).
    moe_comm_sm_fraction: f64,
    /// Routed rows on the busiest device over the mean, in one dispatch (1 = perfectly balanced, as in
    /// benchmarks that force balanced routing). The busiest device's experts and received bytes set
    /// the layer's pace.
    moe_routing_imbalance: f64,
    /// Host/dispatch floor of a grouped expert GEMM, per local expert and per call, microseconds: the
    /// grouped GEMM of `n` local experts takes at least `n ×` this, whatever its FLOPs (TE's
    /// `GroupedLinear` runs one cuBLASLt GEMM per expert over several streams, with per-expert
    /// `torch.split`/`torch.empty`/quantizer calls on the host). A forward has two calls per MoE layer
    /// (FC1, FC2), a backward four (data and weight gradients of each). 0 where one kernel serves all
    /// experts (DeepGEMM, `torch._grouped_mm`, Ascend `npu_gmm`). Removed by [`CudaGraphs::Full`].
    expert_gemm_dispatch_us: f64,
    /// CUDA graphs in force.
    cuda_graphs: CudaGraphs,
    /// Dtype of Adam's two moments (the FP32 master copy stays FP32): `Fp32` (12 bytes of optimizer
    /// state per parameter), or `Bf16` (8 bytes; DeepSeek-V3 report §3.3.3).
    adam_moments_dtype: GradDtype,
    /// ZeRO-3 under full recomputation: the recomputed forward all-gathers a layer's weights again and
    /// frees them, so its backward gathers them a second time (DeepSpeed's ZeRO-3 hooks treat the
    /// recompute as a forward). `false` where the recomputed forward keeps the backward's gather
    /// (PyTorch FSDP1/FSDP2 skip the pre-forward unshard in the backward; Megatron-FSDP releases the
    /// recompute's weights lazily, "delaying avoids an unnecessary all-gather"; XLA rematerialises
    /// the gather once for both).
    zero3_regather_in_recompute: bool,
    /// Softmax of an unfused attention (`flash_attention: false`); unused with FlashAttention.
    attention_softmax: AttentionSoftmax,
    /// BF16 training whose FP32 gradient accumulators are updated in a separate pass after every
    /// micro-batch's backward (DeepSpeed's `BF16_Optimizer.update_hp_grads`, called per micro-batch by
    /// the pipeline engine), instead of inside the weight-gradient GEMMs (Megatron-core's
    /// `gradient_accumulation_fusion`) or by autograd. Unused in FP16 and FP8.
    hp_grad_accumulation_pass: bool,
}

/// Id of the profile used when a scenario names none.
pub const DEFAULT_STACK: &str = "megatron-core";

impl TryFrom<FrameworkInput> for FrameworkSpec {
    type Error = String;
    fn try_from(input: FrameworkInput) -> Result<Self, String> {
        let id = input.stack.clone().unwrap_or_else(|| DEFAULT_STACK.to_string());
        let base = profile(&id).map_err(|e| e.to_string())?.framework.clone();
        Ok(input.apply(base))
    }
}

impl Default for FrameworkSpec {
    /// The default stack's settings.
    fn default() -> Self {
        profile(DEFAULT_STACK).expect("the default stack is in the built-in stacks.ron (tested)").framework.clone()
    }
}

impl FrameworkSpec {
    /// Whether DeepSpeed's BF16 optimizer pass is in force: the stack has it and the run is BF16 (its
    /// FP16 optimizer accumulates in the 16-bit gradients; FP8 runs do not use it).
    pub fn bf16_optimizer_pass(&self) -> bool {
        self.hp_grad_accumulation_pass && self.precision == Precision::Bf16
    }
    /// The settings of a named stack profile.
    pub fn for_stack(id: &str) -> Result<FrameworkSpec, WankaError> {
        Ok(profile(id)?.framework.clone())
    }
    /// The numeric settings within their meaning: the per-step overhead at most an hour (a step must
    /// fit in the longest run many times over), the SM share of overlapped MoE communication in
    /// [0, 0.9), the routing imbalance (busiest device's routed rows over the mean) in [1, 8]. `prefix`
    /// leads every field name (`framework`, `stacks[id].settings`).
    pub fn check_numbers(&self, file: &str, prefix: &str) -> Result<(), WankaError> {
        use crate::limits::in_range;
        in_range(file, &format!("{prefix}.iteration_overhead_s"), self.iteration_overhead_s, 0.0, 3600.0, "seconds")?;
        let a = self.allocator_fragmentation;
        if !(0.0..0.5).contains(&a) {
            return Err(WankaError::Invalid {
                file: file.into(),
                field: format!("{prefix}.allocator_fragmentation"),
                msg: format!("must be in [0, 0.5) (a share of reserved memory), got {}", crate::limits::num(a)),
            });
        }
        let f = self.moe_comm_sm_fraction;
        if !(0.0..0.9).contains(&f) {
            return Err(WankaError::Invalid {
                file: file.into(),
                field: format!("{prefix}.moe_comm_sm_fraction"),
                msg: format!("must be in [0, 0.9), got {}", crate::limits::num(f)),
            });
        }
        in_range(file, &format!("{prefix}.moe_routing_imbalance"), self.moe_routing_imbalance, 1.0, 8.0, "x the mean")?;
        in_range(file, &format!("{prefix}.expert_gemm_dispatch_us"), self.expert_gemm_dispatch_us, 0.0, 10_000.0, "microseconds")
    }
    /// One line naming the stack and what was changed from it.
    pub fn describe(&self) -> String {
        let name = profile(&self.stack).map(|p| p.name.as_str()).unwrap_or("?");
        let o = self.overrides();
        if o.is_empty() { format!("{} ({name})", self.stack) } else { format!("{} ({name}), changed: {}", self.stack, o.join(", ")) }
    }
}

/// What a stack implements: the parallelism choices a plan run under it can make. A plan outside them
/// is refused ([`crate::error::Violation::StackUnsupported`], which names what the stack does
/// implement), and the parallelism search never proposes one: a 2021 stack is not credited with
/// selective recomputation, nor DeepSpeed's pipeline engine with an interleaved schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSupport {
    /// Pipeline schedules implemented.
    pub schedules: Vec<Schedule>,
    /// Activation recomputation modes implemented.
    pub recompute: Vec<Recompute>,
    /// ZeRO stages implemented (0 = plain data parallelism; 1 = sharded optimizer states, Megatron's
    /// distributed optimizer; 2 = + gradients; 3 = + parameters, FSDP full sharding).
    pub zero_stages: Vec<u8>,
    /// Largest ZeRO stage that combines with pipeline parallelism.
    pub max_zero_stage_with_pp: u8,
    pub tensor_parallel: bool,
    pub pipeline_parallel: bool,
    /// Megatron-style sequence parallelism of the norms and dropout over the TP group.
    pub sequence_parallel: bool,
    pub context_parallel: bool,
    pub expert_parallel: bool,
    /// Layers may split unevenly over the pipeline's chunks (`pp × vpp`).
    pub uneven_layers: bool,
    /// Full recomputation of only the first N layers of every model chunk (`recompute_layers`;
    /// Megatron's `--recompute-method block --recompute-num-layers N`).
    pub partial_recompute: bool,
}

impl StackSupport {
    /// The first choice of `plan` (for a model of `layers` layers) the stack does not implement, as
    /// (what the plan asks for, what the stack implements).
    pub fn unsupported(&self, plan: &Plan, layers: u32) -> Option<(String, String)> {
        let list = |items: Vec<&str>| if items.is_empty() { "none".to_string() } else { items.join(", ") };
        if plan.tp > 1 && !self.tensor_parallel {
            return Some((format!("tensor parallelism (tp {})", plan.tp), "tp 1 only".into()));
        }
        if plan.pp > 1 && !self.pipeline_parallel {
            return Some((format!("pipeline parallelism (pp {})", plan.pp), "pp 1 only".into()));
        }
        if plan.cp > 1 && !self.context_parallel {
            return Some((format!("context parallelism (cp {})", plan.cp), "cp 1 only".into()));
        }
        if plan.ep > 1 && !self.expert_parallel {
            return Some((format!("expert parallelism (ep {})", plan.ep), "ep 1 only".into()));
        }
        if plan.pp > 1 && !self.schedules.contains(&plan.schedule) {
            return Some((
                format!("the {} pipeline schedule", plan.schedule.label()),
                list(self.schedules.iter().map(|s| s.label()).collect()),
            ));
        }
        if !self.recompute.contains(&plan.recompute) {
            return Some((
                format!("{} activation recomputation", plan.recompute.label()),
                list(self.recompute.iter().map(|r| r.label()).collect()),
            ));
        }
        if let (Some(n), false) = (plan.recompute_layers, self.partial_recompute) {
            return Some((format!("partial recomputation (recompute_layers {n})"), "every layer or none of a chunk recomputed".into()));
        }
        if plan.sequence_parallel && plan.tp > 1 && !self.sequence_parallel {
            return Some(("sequence parallelism".into(), "no sequence parallelism".into()));
        }
        if !self.zero_stages.contains(&plan.zero_stage) {
            let stages: Vec<String> = self.zero_stages.iter().map(|z| z.to_string()).collect();
            return Some((
                format!("ZeRO stage {}", plan.zero_stage),
                format!("ZeRO stages {}", list(stages.iter().map(String::as_str).collect())),
            ));
        }
        if plan.pp > 1 && plan.zero_stage > self.max_zero_stage_with_pp {
            return Some((
                format!("ZeRO stage {} with pipeline parallelism", plan.zero_stage),
                format!("ZeRO stage at most {} with pp > 1", self.max_zero_stage_with_pp),
            ));
        }
        let chunks = plan.pp * plan.vpp;
        if !self.uneven_layers && chunks > 1 && !layers.is_multiple_of(chunks) {
            return Some((
                format!("uneven pipeline chunks ({layers} layers over pp x vpp = {} x {})", plan.pp, plan.vpp),
                "layers divisible by pp x vpp only".into(),
            ));
        }
        None
    }
}

/// A named software stack: what it sets and what that rests on.
#[derive(Debug, Clone, Serialize)]
pub struct StackProfile {
    pub id: String,
    pub name: String,
    /// Years the settings describe, e.g. `2021-2022`.
    pub period: String,
    /// Sources and reasoning behind the settings.
    pub basis: String,
    pub framework: FrameworkSpec,
    /// The parallelism choices the stack implements.
    pub supports: StackSupport,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StackEntry {
    id: String,
    name: String,
    period: String,
    basis: String,
    settings: FrameworkInput,
    supports: StackSupport,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StackFile {
    stacks: Vec<StackEntry>,
}

const STACKS_RON: &str = include_str!("../../../scenarios/catalog/stacks.ron");

/// Parse a stacks file: every profile must set every field (a profile never inherits silently).
pub fn parse_stacks(text: &str, file: &str) -> Result<Vec<StackProfile>, WankaError> {
    let f: StackFile = parse_ron(text, file)?;
    let mut out: Vec<StackProfile> = Vec::with_capacity(f.stacks.len());
    for e in f.stacks {
        if e.settings.stack.is_some() {
            return Err(WankaError::Invalid {
                file: file.into(),
                field: format!("stacks[{}].settings.stack", e.id),
                msg: "a profile states its settings in full; it cannot start from another stack".into(),
            });
        }
        if out.iter().any(|p| p.id == e.id) {
            return Err(WankaError::Invalid { file: file.into(), field: format!("stacks[{}]", e.id), msg: "duplicate stack id".into() });
        }
        let framework = e.settings.complete(&e.id).map_err(|missing| WankaError::Invalid {
            file: file.into(),
            field: format!("stacks[{}].settings.{missing}", e.id),
            msg: "every stack profile must set every framework field".into(),
        })?;
        framework.check_numbers(file, &format!("stacks[{}].settings", e.id))?;
        for (field, empty) in [
            ("schedules", e.supports.schedules.is_empty()),
            ("recompute", e.supports.recompute.is_empty()),
            ("zero_stages", e.supports.zero_stages.is_empty()),
        ] {
            if empty {
                return Err(WankaError::Invalid {
                    file: file.into(),
                    field: format!("stacks[{}].supports.{field}", e.id),
                    msg: "must list at least one value".into(),
                });
            }
        }
        if let Some(z) = e.supports.zero_stages.iter().find(|z| **z > 3) {
            return Err(WankaError::Invalid {
                file: file.into(),
                field: format!("stacks[{}].supports.zero_stages", e.id),
                msg: format!("ZeRO stages are 0 to 3, got {z}"),
            });
        }
        out.push(StackProfile { id: e.id, name: e.name, period: e.period, basis: e.basis, framework, supports: e.supports });
    }
    Ok(out)
}

/// Profiles installed for this process by [`install_profiles`] (the binary's `--catalog-dir`).
static INSTALLED: OnceLock<Vec<StackProfile>> = OnceLock::new();

/// Use these stack profiles instead of the built-in ones for the rest of the process (`wanka
/// --catalog-dir` with a `stacks.ron`). The default stack must be among them; call before anything
/// reads a profile; a second call is refused.
pub fn install_profiles(stacks: Vec<StackProfile>, file: &str) -> Result<(), WankaError> {
    if !stacks.iter().any(|p| p.id == DEFAULT_STACK) {
        return Err(WankaError::Invalid {
            file: file.into(),
            field: "stacks".into(),
            msg: format!("must keep the default stack `{DEFAULT_STACK}`"),
        });
    }
    INSTALLED.set(stacks).map_err(|_| WankaError::Invalid {
        file: file.into(),
        field: "stacks".into(),
        msg: "stack profiles are already installed for this process".into(),
    })
}

/// The stack profiles in use: the installed ones, else the built-in `scenarios/catalog/stacks.ron`.
pub fn profiles() -> &'static [StackProfile] {
    if let Some(p) = INSTALLED.get() {
        return p;
    }
    static P: OnceLock<Vec<StackProfile>> = OnceLock::new();
    P.get_or_init(|| parse_stacks(STACKS_RON, "scenarios/catalog/stacks.ron").expect("built-in stacks.ron parses (tested)"))
}

/// One profile by id; an unknown id lists the known ones.
pub fn profile(id: &str) -> Result<&'static StackProfile, WankaError> {
    profiles().iter().find(|p| p.id == id).ok_or_else(|| WankaError::Invalid {
        file: "scenarios/catalog/stacks.ron".into(),
        field: "stack".into(),
        msg: format!("unknown stack `{id}`; known: {}", profiles().iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse_and_default_exists() {
        assert!(profiles().len() >= 5);
        assert_eq!(FrameworkSpec::default().stack, DEFAULT_STACK);
        for p in profiles() {
            assert!(!p.basis.is_empty() && !p.period.is_empty(), "{}", p.id);
        }
    }

    #[test]
    fn scenario_fields_override_the_named_stack() {
        let fw: FrameworkSpec = parse_ron("(stack: \"megatron-lm-2021\", flash_attention: true)", "t").unwrap();
        let base = FrameworkSpec::for_stack("megatron-lm-2021").unwrap();
        assert!(fw.flash_attention && !base.flash_attention);
        assert_eq!(fw.overlap_grad_reduce, base.overlap_grad_reduce);
        assert_eq!(fw.overrides(), vec!["flash_attention"]);
        // Serialised and read back, the settings are the same (every field is written out).
        let again: FrameworkSpec = parse_ron(&ron::to_string(&fw).unwrap(), "t").unwrap();
        assert_eq!(again, fw);
    }

    #[test]
    fn unknown_stack_and_incomplete_profile_are_errors() {
        let e = parse_ron::<FrameworkSpec>("(stack: \"megatron-9000\")", "t").unwrap_err().to_string();
        assert!(e.contains("unknown stack `megatron-9000`") && e.contains("megatron-core"), "{e}");
        let supports = "supports: (schedules: [OneFOneB], recompute: [Full], zero_stages: [0], max_zero_stage_with_pp: 0, \
            tensor_parallel: true, pipeline_parallel: true, sequence_parallel: false, context_parallel: false, expert_parallel: false, \
            uneven_layers: true, partial_recompute: false)";
        let text =
            format!("(stacks: [(id: \"x\", name: \"x\", period: \"2024\", basis: \"b\", settings: (flash_attention: true), {supports})])");
        let e = parse_stacks(&text, "s.ron").unwrap_err().to_string();
        assert!(e.contains("stacks[x].settings.collective_algorithm"), "{e}");
        // A profile without `supports` is refused, and so is one that supports no schedule.
        let text = "(stacks: [(id: \"x\", name: \"x\", period: \"2024\", basis: \"b\", settings: ())])";
        let e = parse_stacks(text, "s.ron").unwrap_err().to_string();
        assert!(e.contains("supports"), "{e}");
        let full = profile("megatron-lm-2021").unwrap();
        let settings = ron::to_string(&full.framework).unwrap().replace("stack:\"megatron-lm-2021\",", "");
        let text = format!(
            "(stacks: [(id: \"x\", name: \"x\", period: \"2024\", basis: \"b\", settings: {settings}, {})])",
            supports.replace("schedules: [OneFOneB]", "schedules: []")
        );
        let e = parse_stacks(&text, "s.ron").unwrap_err().to_string();
        assert!(e.contains("stacks[x].supports.schedules"), "{e}");
    }

    /// What each period's stack implements, against what its sources say (stacks.ron comments).
    #[test]
    fn stacks_refuse_what_they_did_not_implement() {
        use crate::workload::model::ModelRef;
        use crate::workload::parallelism::{ParallelismSpec, RankOrder};
        let model = ModelRef::Preset("gpt3-175b".into()).resolve().unwrap();
        let spec = |schedule, recompute, sp, zero| ParallelismSpec {
            tp: 8,
            pp: 16,
            dp: 8,
            cp: 1,
            ep: 1,
            etp: None,
            schedule: Some(schedule),
            vpp: if schedule == Schedule::Interleaved { Some(2) } else { None },
            micro_batch: Some(1),
            global_batch: 1536,
            recompute,
            sequence_parallel: sp,
            zero_stage: zero,
            rank_order: RankOrder::default(),
            pipeline_split: Default::default(),
            recompute_modules: None,
            recompute_layers: None,
            pipeline_layout: None,
        };
        let plan = |s: &ParallelismSpec| crate::step::resolve_plan(&model, s, 2048, 1024).unwrap();
        let why = |stack: &str, s: &ParallelismSpec| profile(stack).unwrap().supports.unsupported(&plan(s), model.layers).map(|w| w.0);
        // DeepSpeed's pipeline engine: 1F1B only, ZeRO < 2 with pipelines; no sequence parallelism before Megatron v3.
        let interleaved = spec(Schedule::Interleaved, Recompute::Full, false, 1);
        assert_eq!(why("megatron-deepspeed", &interleaved).as_deref(), Some("the interleaved pipeline schedule"));
        assert_eq!(why("megatron-deepspeed", &spec(Schedule::OneFOneB, Recompute::Full, false, 1)), None);
        assert!(why("megatron-deepspeed", &spec(Schedule::OneFOneB, Recompute::Full, true, 1)).unwrap().contains("sequence parallelism"));
        assert!(why("deepspeed-2021", &spec(Schedule::OneFOneB, Recompute::Full, false, 0)).unwrap().contains("tensor parallelism"));
        // Megatron-LM 2021: interleaving but no selective recompute and no distributed optimizer.
        assert_eq!(why("megatron-lm-2021", &interleaved.clone()).map(|w| w.contains("ZeRO stage 1")), Some(true));
        assert_eq!(why("megatron-lm-2021", &spec(Schedule::Interleaved, Recompute::Full, false, 0)), None);
        assert!(why("megatron-lm-2021", &spec(Schedule::Interleaved, Recompute::Selective, false, 0)).unwrap().contains("selective"));
        assert_eq!(why("megatron-lm-2022", &spec(Schedule::Interleaved, Recompute::Selective, true, 1)), None);
        // Partial recomputation (the first N layers of each chunk) only where Megatron's block method exists.
        let partial = ParallelismSpec { recompute_layers: Some(2), ..spec(Schedule::OneFOneB, Recompute::Full, false, 1) };
        assert_eq!(why("megatron-core", &partial), None);
        assert_eq!(why("nemo", &partial), None);
        assert!(why("megatron-deepspeed", &partial).unwrap().contains("partial recomputation (recompute_layers 2)"));
        assert!(why("torchtitan", &partial).unwrap().contains("partial recomputation"));
        // DualPipe only where DeepSeek's stack runs it.
        let dualpipe = spec(Schedule::DualPipe, Recompute::Selective, true, 1);
        assert!(why("megatron-core", &dualpipe).unwrap().contains("dualpipe"));
        // And the refusal reaches a step simulation as a violation naming the stack.
        let cat = crate::hardware::catalog::Catalog::builtin();
        let cluster = crate::hardware::topology::Cluster::resolve(
            &crate::hardware::topology::ClusterSpec {
                chip: "a100-sxm-80gb".into(),
                gpus: 1024,
                gpus_per_node: 8,
                usable_per_domain: None,
                network: crate::hardware::topology::NetworkSpec {
                    fabric: "ib-hdr".into(),
                    nic_gbit_per_s_per_gpu: 200.0,
                    topology: "generic-fat-tree".into(),
                },
            },
            cat,
            "t",
        )
        .unwrap();
        let fw = FrameworkSpec::for_stack("megatron-deepspeed").unwrap();
        let e = crate::step::simulate(&model, &plan(&interleaved), &cluster, 2048, &fw).unwrap_err().to_string();
        assert!(e.contains("stack `megatron-deepspeed` does not implement the interleaved pipeline schedule") && e.contains("1f1b"), "{e}");
    }
}
