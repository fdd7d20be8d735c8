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
        let f = self.moe_comm_sm_fraction;
        if !(0.0..0.9).contains(&f) {
            return Err(WankaError::Invalid {
                file: file.into(),
                field: format!("{prefix}.moe_comm_sm_fraction"),
                msg: format!("must be in [0, 0.9), got {}", crate::limits::num(f)),
            });
        }
        in_range(file, &format!("{prefix}.moe_routing_imbalance"), self.moe_routing_imbalance, 1.0, 8.0, "x the mean")
    }
    /// One line naming the stack and what was changed from it.
    pub fn describe(&self) -> String {
        let name = profile(&self.stack).map(|p| p.name.as_str()).unwrap_or("?");
        let o = self.overrides();
        if o.is_empty() { format!("{} ({name})", self.stack) } else { format!("{} ({name}), changed: {}", self.stack, o.join(", ")) }
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StackEntry {
    id: String,
    name: String,
    period: String,
    basis: String,
    settings: FrameworkInput,
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
        out.push(StackProfile { id: e.id, name: e.name, period: e.period, basis: e.basis, framework });
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
        let text = "(stacks: [(id: \"x\", name: \"x\", period: \"2024\", basis: \"b\", settings: (flash_attention: true))])";
        let e = parse_stacks(text, "s.ron").unwrap_err().to_string();
        assert!(e.contains("stacks[x].settings.collective_algorithm"), "{e}");
    }
}
