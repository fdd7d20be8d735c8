//! Errors: every failure names the file, the field (or line/column) and what is allowed.
//! Library code never panics on user input; it returns a [`WankaError`].

use thiserror::Error;

#[derive(Debug, Error)]
pub enum WankaError {
    #[error("{path}: cannot read: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}: cannot write: {reason}")]
    Write { path: String, reason: String },
    #[error("{file}:{line}:{col}: {msg}")]
    Parse { file: String, line: usize, col: usize, msg: String },
    #[error("{file}: field `{field}`: {msg}")]
    Invalid { file: String, field: String, msg: String },
    #[error("unknown {kind} `{id}`; closest catalog ids: {}", closest.join(", "))]
    Unknown { kind: &'static str, id: String, closest: Vec<String> },
    #[error("infeasible plan: {}", join(reasons))]
    Infeasible { reasons: Vec<Violation> },
    /// The caller cancelled the computation ([`crate::cancel::Cancel`]).
    #[error("cancelled")]
    Cancelled,
}

/// Why a plan cannot run: one violated constraint of the parallelism plan, the step simulator or the
/// search's enumeration. `Display` is the message users read; [`Violation::kind`] is the stable name
/// rejections are counted under.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// A size of the plan is zero (`tp`, `pp`, `dp`, `cp`, `ep`, `global_batch`).
    ZeroSize {
        name: &'static str,
    },
    DeviceCount {
        tp: u32,
        pp: u32,
        dp: u32,
        cp: u32,
        product: u64,
        gpus: u64,
    },
    HeadsTp {
        heads: u32,
        tp: u32,
    },
    KvHeadsTp {
        kv_heads: u32,
        tp: u32,
    },
    FfnTp {
        ffn_hidden: u32,
        tp: u32,
    },
    SeqLenCp {
        seq_len: u32,
        cp: u32,
    },
    ZeroStage {
        zero_stage: u8,
    },
    ExpertsEp {
        experts: u32,
        ep: u32,
    },
    EpDpCp {
        ep: u32,
        dp_cp: u64,
    },
    DualPipeShape {
        pp: u32,
        micro_batches: u32,
    },
    EpFold {
        ep: u32,
        etp: u32,
        tp_cp_dp: u64,
    },
    EtpRankOrder {
        etp: u32,
        tp: u32,
    },
    ExpertFfnEtp {
        expert_ffn_hidden: u32,
        etp: u32,
    },
    EpWithoutMoe {
        ep: u32,
    },
    MicroBatchZero,
    GlobalBatchDp {
        global_batch: u32,
        dp: u32,
        micro_batch: u32,
        per_replica: u64,
    },
    VppNeedsInterleaved,
    VppZero,
    InterleavedMicroBatches {
        micro_batches: u32,
        pp: u32,
    },
    TooFewLayers {
        layers: u32,
        chunks: u64,
    },
    /// `recompute_modules` given without `recompute: Selective`.
    RecomputeModulesNeedSelective,
    /// `recompute_layers` given without `recompute: Full`, or zero.
    RecomputeLayers {
        layers: u32,
    },
    /// A Megatron split with the embedding/loss counted as layers needs the units to divide evenly.
    PipelineSplitUneven {
        layers: u32,
        counted: u32,
        chunks: u64,
    },
    /// A Megatron `--pipeline-model-parallel-layout` string that cannot be used as written.
    PipelineLayout {
        layout: String,
        why: String,
    },
    /// The step would need more pipeline operations than the simulator accepts.
    OperationLimit {
        ops: u64,
        micro_batches: u32,
        chunks: u32,
        limit: u64,
    },
    /// The step's operations, one after another, would take longer than a step may
    /// ([`crate::limits::MAX_STEP_S`]): a bandwidth or overhead too small or large to mean anything.
    StepTimeLimit {
        serial_s: f64,
        limit_s: f64,
    },
    /// The worst stage's memory exceeds the device's.
    Memory {
        stage: usize,
        total_gb: f64,
        weights_gb: f64,
        gradients_gb: f64,
        optimizer_gb: f64,
        activations_gb: f64,
        buffers_gb: f64,
        chip: String,
        hbm_gb: f64,
        capacity_gb: f64,
    },
    /// Activation offloading (`framework.activation_offload_layers`) where Megatron-core refuses it
    /// (pp > 1, recompute) or the chip has no host-link figure.
    ActivationOffload {
        layers: u32,
        pp: u32,
        recompute: bool,
        chip: String,
        host_link: bool,
    },
    // Enumeration of the parallelism search.
    GroupLargerThanCluster,
    /// The layout leaves more devices idle than the search space allows.
    IdleDevices {
        idle: u64,
        allowed: u64,
    },
    InterleavingNeedsPp,
    /// The plan uses a parallelism feature its software stack does not implement (an interleaved
    /// schedule under DeepSpeed's pipeline engine, selective recompute before Megatron-LM v3 …).
    StackUnsupported {
        stack: String,
        /// What the plan asks for, e.g. `schedule interleaved`.
        feature: String,
        /// What the stack implements, e.g. `1f1b`.
        supported: String,
    },
    GlobalBatchUnit,
    BatchTooFar,
    UnevenLayers,
    /// Anything else (e.g. a panic caught by the GUI), as text.
    Other(String),
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use Violation::*;
        match self {
            ZeroSize { name } => write!(f, "{name} must be at least 1"),
            DeviceCount { tp, pp, dp, cp, product, gpus } => {
                write!(f, "tp·pp·dp·cp = {tp}·{pp}·{dp}·{cp} = {product} must equal the cluster's {gpus} devices")
            }
            HeadsTp { heads, tp } => write!(f, "heads ({heads}) not divisible by tp ({tp})"),
            KvHeadsTp { kv_heads, tp } => write!(f, "kv_heads ({kv_heads}) and tp ({tp}) must divide one another"),
            FfnTp { ffn_hidden, tp } => write!(f, "ffn_hidden ({ffn_hidden}) not divisible by tp ({tp})"),
            SeqLenCp { seq_len, cp } => write!(f, "seq_len ({seq_len}) not divisible by cp ({cp})"),
            ZeroStage { zero_stage } => write!(f, "zero_stage must be 0, 1, 2 or 3, got {zero_stage}"),
            ExpertsEp { experts, ep } => write!(f, "experts ({experts}) not divisible by ep ({ep})"),
            EpDpCp { ep, dp_cp } => write!(f, "ep ({ep}) must divide dp·cp ({dp_cp})"),
            DualPipeShape { pp, micro_batches } => write!(
                f,
                "DualPipe needs an even pp and an even number of micro-batches per step, at least 2·pp; got pp {pp}, {micro_batches} micro-batches"
            ),
            EpFold { ep, etp, tp_cp_dp } => write!(
                f,
                "etp·ep ({etp}·{ep}) must divide tp·cp·dp ({tp_cp_dp}): the experts fold over the ranks of one pipeline stage (etp defaults to tp)"
            ),
            EtpRankOrder { etp, tp } => {
                write!(f, "etp ({etp}) must equal tp ({tp}) under rank_order TpCpPpDp (MoE parallel folding needs TpCpDpPp)")
            }
            ExpertFfnEtp { expert_ffn_hidden, etp } => {
                write!(f, "moe.expert_ffn_hidden ({expert_ffn_hidden}) not divisible by etp ({etp})")
            }
            EpWithoutMoe { ep } => write!(f, "ep = {ep} needs a mixture-of-experts model"),
            MicroBatchZero => write!(f, "micro_batch must be at least 1"),
            GlobalBatchDp { global_batch, dp, micro_batch, per_replica } => {
                write!(f, "global_batch ({global_batch}) not divisible by dp·micro_batch ({dp}·{micro_batch} = {per_replica})")
            }
            VppNeedsInterleaved => write!(f, "vpp > 1 needs the interleaved schedule"),
            VppZero => write!(f, "vpp must be at least 1"),
            InterleavedMicroBatches { micro_batches, pp } => {
                write!(f, "interleaved schedule needs micro-batches per step ({micro_batches}) divisible by pp ({pp})")
            }
            TooFewLayers { layers, chunks } => write!(f, "{layers} layers cannot fill pp·vpp = {chunks} pipeline chunks"),
            RecomputeModulesNeedSelective => {
                write!(f, "recompute_modules needs recompute Selective (Megatron-core's --recompute-granularity selective)")
            }
            RecomputeLayers { layers } => write!(
                f,
                "recompute_layers {layers} needs recompute Full and at least 1 (the first N layers of every model chunk are recomputed: Megatron-core's --recompute-granularity full --recompute-method block --recompute-num-layers N)"
            ),
            PipelineSplitUneven { layers, counted, chunks } => write!(
                f,
                "pipeline_split counts {counted} of embedding/loss as layers: {layers} + {counted} = {} units do not divide evenly over pp·vpp = {chunks} chunks (Megatron-core requires it); choose pp·vpp dividing {} or pipeline_split Balanced",
                layers + counted,
                layers + counted
            ),
            PipelineLayout { layout, why } => write!(
                f,
                "pipeline_layout \"{layout}\": {why} (Megatron-core layout syntax: `E` embedding, `t` transformer layer, `m` MTP module, `L` loss, `|` between chunks, `x*n` and `(…)*n` repeat)"
            ),
            OperationLimit { ops, micro_batches, chunks, limit } => write!(
                f,
                "{ops} pipeline operations per step ({micro_batches} micro-batches x {chunks} chunks x 2) exceed the simulator's limit of {limit}; check global_batch and micro_batch"
            ),
            StepTimeLimit { serial_s, limit_s } => write!(
                f,
                "one step would take up to {serial_s:.3e} s, above the {limit_s} s a step may take; check the cluster's bandwidths and framework.iteration_overhead_s"
            ),
            Memory { stage, total_gb, weights_gb, gradients_gb, optimizer_gb, activations_gb, buffers_gb, chip, hbm_gb, capacity_gb } => {
                write!(
                    f,
                    "memory: stage {stage} needs {total_gb:.1} GB per device (weights {weights_gb:.1}, gradients {gradients_gb:.1}, optimizer {optimizer_gb:.1}, activations {activations_gb:.1}, buffers {buffers_gb:.1}) but {chip} has {hbm_gb:.0} GB ({capacity_gb:.1}e9 bytes)"
                )
            }
            ActivationOffload { layers, pp, recompute, chip, host_link } => {
                write!(f, "framework.activation_offload_layers = {layers} needs pp 1 and no recompute (Megatron-core's constraint)")?;
                if *pp > 1 {
                    write!(f, "; pp is {pp}")?;
                }
                if *recompute {
                    write!(f, "; recompute is on")?;
                }
                if !host_link {
                    write!(f, "; {chip} has no host_link_gb_per_s in the catalog")?;
                }
                Ok(())
            }
            GroupLargerThanCluster => write!(f, "model-parallel group larger than the cluster"),
            IdleDevices { idle, allowed } => {
                write!(f, "the layout leaves {idle} devices idle, more than the {allowed} allowed (parallelism.idle_devices)")
            }
            InterleavingNeedsPp => write!(f, "interleaving needs pp > 1"),
            StackUnsupported { stack, feature, supported } => write!(
                f,
                "stack `{stack}` does not implement {feature} (it implements: {supported}; see its `supports` in stacks.ron); \
                 choose another value or another stack"
            ),
            GlobalBatchUnit => write!(f, "global batch not divisible by dp·micro_batch(·pp)"),
            BatchTooFar => write!(f, "global batch too far from the target"),
            UnevenLayers => write!(f, "layers not divisible by pp·vpp (even stages required)"),
            Other(text) => write!(f, "{text}"),
        }
    }
}

impl Violation {
    /// The stable name a rejection of this kind is counted under (the parallelism search's
    /// `rejected` map): a short phrase for the divisibility and memory kinds, else the message.
    pub fn kind(&self) -> String {
        use Violation::*;
        match self {
            HeadsTp { .. } => "heads not divisible by tp".into(),
            KvHeadsTp { .. } => "kv_heads and tp incompatible".into(),
            FfnTp { .. } => "ffn_hidden not divisible by tp".into(),
            SeqLenCp { .. } => "seq_len not divisible by cp".into(),
            ExpertsEp { .. } => "experts not divisible by ep".into(),
            EpDpCp { .. } => "ep does not divide dp·cp".into(),
            EpFold { .. } => "etp·ep does not divide tp·cp·dp".into(),
            EtpRankOrder { .. } => "etp differs from tp under TpCpPpDp".into(),
            ExpertFfnEtp { .. } => "expert FFN not divisible by etp".into(),
            InterleavedMicroBatches { .. } => "micro-batches not divisible by pp".into(),
            TooFewLayers { .. } => "too few layers for pp·vpp".into(),
            PipelineSplitUneven { .. } => "embedding/loss-counted split uneven".into(),
            PipelineLayout { .. } => "pipeline layout unusable".into(),
            RecomputeModulesNeedSelective => "recompute_modules without selective recompute".into(),
            RecomputeLayers { .. } => "recompute_layers without full recompute".into(),
            GlobalBatchDp { .. } => "global batch not divisible".into(),
            Memory { .. } => "does not fit in device memory".into(),
            ActivationOffload { .. } => "activation offload needs pp 1 and no recompute".into(),
            IdleDevices { .. } => "leaves devices idle".into(),
            StackUnsupported { .. } => "not implemented by the software stack".into(),
            OperationLimit { .. } => "exceeds the step simulator's operation limit".into(),
            StepTimeLimit { .. } => "exceeds the step time limit".into(),
            other => other.to_string(),
        }
    }
}

/// Messages of violations, `; `-separated.
pub fn join(reasons: &[Violation]) -> String {
    reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl WankaError {
    /// Prefix an `Unknown` or `Infeasible` error with the file and field it came from.
    pub fn in_field(self, file: &str, field: &str) -> WankaError {
        match self {
            WankaError::Unknown { .. } | WankaError::Infeasible { .. } => {
                WankaError::Invalid { file: file.to_string(), field: field.to_string(), msg: self.to_string() }
            }
            other => other,
        }
    }
}

/// The (up to) three ids closest to `id`, nearest first; ties broken alphabetically.
pub fn closest_ids<'a>(id: &str, ids: impl Iterator<Item = &'a String>) -> Vec<String> {
    let lower = id.to_lowercase();
    let mut scored: Vec<(usize, &String)> = ids
        .map(|c| {
            let d = strsim::levenshtein(&lower, &c.to_lowercase());
            // An id that contains the query (or vice versa) is a strong hint.
            let bonus = if c.contains(&lower) || lower.contains(c.as_str()) { 0 } else { 2 };
            (d + bonus, c)
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn distance() {
        let ids = ["h100-sxm".to_string(), "h800-sxm".to_string(), "a100-sxm-80gb".to_string()];
        assert_eq!(closest_ids("h100", ids.iter())[0], "h100-sxm");
    }
}
