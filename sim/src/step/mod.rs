//! One training step, from a resolved scenario to its report: resolve the plan ([`resolve_plan`],
//! [`resolve_plan_fitting`]), check memory and size ([`memory`]), price every operation ([`cost`]) and
//! run the pipeline schedule on the event engine ([`schedule`]); [`simulate`] is the entry point and
//! [`Scenario::simulate_step`] its file-level form.
//!
//! Depends on `hardware` and `workload` (and the engine); never on `run`, `planning`, `sweep` or
//! `validate`.

pub mod ablation;
pub mod accuracy;
pub mod cost;
pub mod memory;
pub mod moe;
pub mod schedule;
pub mod screen;
pub mod stack;
pub mod timelines;

use std::borrow::Cow;

use crate::error::{Violation, WankaError};
use crate::hardware::catalog::Catalog;
use crate::hardware::topology::{Cluster, DomainGroup, Placement};
use crate::scenario::Scenario;
use crate::workload::model::ModelSpec;
use crate::workload::parallelism::{self, ParallelismSpec, Plan};
use cost::FrameworkSpec;
use schedule::StepResult;

/// A scenario with its catalog entries and plan resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub model: ModelSpec,
    pub cluster: Cluster,
    pub plan: Plan,
}

impl Scenario {
    /// Resolve model, cluster and plan against a catalog.
    pub fn resolve(&self, catalog: &Catalog, file: &str) -> Result<Resolved, WankaError> {
        if let Some(a) = &self.auto
            && a.searched.0.is_none()
        {
            return Err(WankaError::Invalid {
                file: file.to_string(),
                field: "parallelism.auto".into(),
                msg: "the parallelism is to be searched (auto: true) and has not been: search it first \
                      (`planning::auto::search_scenario`, which `wanka step` and `wanka run` call)"
                    .into(),
            });
        }
        let model = self.model.resolve().map_err(|e| e.in_field(file, "model"))?;
        let cluster = Cluster::resolve(&self.cluster, catalog, file)?;
        let plan =
            resolve_plan_fitting(&model, &self.parallelism, self.training.seq_len, &cluster, &self.framework).map_err(|reasons| {
                WankaError::Invalid { file: file.to_string(), field: "parallelism".into(), msg: crate::error::join(&reasons) }
            })?;
        let cluster = cluster.packed(&placement(&cluster, &plan));
        Ok(Resolved { model, cluster, plan })
    }

    /// Simulate one training step.
    pub fn simulate_step(&self, catalog: &Catalog, file: &str) -> Result<StepResult, WankaError> {
        self.check(file)?;
        let r = self.resolve(catalog, file)?;
        let mut result =
            simulate(&r.model, &r.plan, &r.cluster, self.training.seq_len, &self.framework).map_err(|e| e.in_field(file, "parallelism"))?;
        // A written layout is the split itself: nothing to warn about.
        if let Some(n) = uneven_chunks_note(&r.plan, r.model.layers).filter(|_| self.parallelism.pipeline_layout.is_none()) {
            result.notes.insert(0, n);
        }
        // A knob left open that memory decided is said, never silent.
        if let Ok(open) = resolve_plan(&r.model, &self.parallelism, self.training.seq_len, r.cluster.gpus)
            && open.vpp > r.plan.vpp
        {
            result.notes.insert(
                0,
                format!(
                    "memory forced parallelism.vpp = {} (the default {} does not fit in {:.0} GB per device); pin vpp to choose",
                    r.plan.vpp,
                    open.vpp,
                    r.cluster.chip.hbm_capacity_gb()
                ),
            );
        }
        Ok(result)
    }
}

/// A note when the layers do not split evenly over the pipeline's chunks (`pp × vpp`): the chunks then
/// hold different layer counts (balanced with the output layer, see `parallelism::resolve`), which
/// Megatron-LM accepts only with an explicit uneven split (`--decoder-first-pipeline-num-layers`,
/// `--decoder-last-pipeline-num-layers`); a vpp that does not divide a stage's layers is never silent.
pub fn uneven_chunks_note(plan: &Plan, layers: u32) -> Option<String> {
    let chunks = plan.pp * plan.vpp;
    if chunks <= 1 || layers.is_multiple_of(chunks) {
        return None;
    }
    let lo = plan.layers_per_chunk.iter().min().copied().unwrap_or(0);
    let hi = plan.layers_per_chunk.iter().max().copied().unwrap_or(0);
    let what = if plan.vpp > 1 && layers.is_multiple_of(plan.pp) {
        format!("vpp = {} does not divide the {} layers of a stage", plan.vpp, layers / plan.pp)
    } else {
        format!("{layers} layers do not divide into pp x vpp = {} x {} chunks", plan.pp, plan.vpp)
    };
    Some(format!(
        "uneven pipeline chunks: {what}, so chunks hold {lo} to {hi} layers (balanced with the output layer); Megatron-LM needs \
         an explicit uneven split for this (--decoder-first/last-pipeline-num-layers)"
    ))
}

/// Where the plan's TP/EP groups sit on the cluster's scale-up domains ([`Cluster::place`]).
pub fn placement(cluster: &Cluster, plan: &Plan) -> Placement {
    cluster.place(&domain_groups(plan))
}

/// The plan's groups kept inside a scale-up domain ([`Plan::domain_groups`]).
fn domain_groups(plan: &Plan) -> Vec<DomainGroup> {
    plan.domain_groups().into_iter().map(|(name, size, span)| DomainGroup { name, size, span }).collect()
}

/// Resolve a parallelism spec for a model (balancing the output layer's cost across stages).
pub fn resolve_plan(model: &ModelSpec, spec: &ParallelismSpec, seq_len: u32, gpus: u64) -> Result<Plan, Vec<Violation>> {
    let layer = model.layer_forward_flops_per_token(seq_len, model.moe_layers() == model.layers && model.layers > 0);
    // The last chunk's extra work in layer-equivalents: the output layer, and the MTP modules there.
    let logits_equiv = (model.logits_flops_per_token() + model.mtp_forward_flops_per_token(seq_len)) / layer.max(1.0);
    parallelism::resolve(spec, model, seq_len, gpus, logits_equiv)
}

/// Like [`resolve_plan`], but when the interleaved schedule's `vpp` is left open, take the largest
/// default `v` (see [`parallelism::default_vpp`]) whose activations fit in device memory, down to 1:
/// interleaving holds `1 + (p−1)/(p·v)` times more micro-batches in flight on the first stages.
pub fn resolve_plan_fitting(
    model: &ModelSpec,
    spec: &ParallelismSpec,
    seq_len: u32,
    cluster: &Cluster,
    fw: &FrameworkSpec,
) -> Result<Plan, Vec<Violation>> {
    let plan = resolve_plan(model, spec, seq_len, cluster.gpus)?;
    // Past the operation limit the schedule is not built here either ([`simulate`] refuses the plan
    // with the limit): building it to measure its memory would take minutes and gigabytes.
    // A pinned vpp, or a layout (it fixes the chunks), is never changed.
    if spec.vpp.is_some() || spec.pipeline_layout.is_some() || plan.vpp <= 1 || operations(&plan) > MAX_STEP_OPERATIONS {
        return Ok(plan);
    }
    for v in (1..=plan.vpp).rev() {
        let mut s = spec.clone();
        s.vpp = Some(v);
        let candidate = resolve_plan(model, &s, seq_len, cluster.gpus)?;
        let mem = memory::stage_memory(
            model,
            &candidate,
            seq_len,
            fw,
            cost::zero_shard_ranks(&candidate, &cluster.packed(&placement(cluster, &candidate)), fw),
            &schedule::inflight_layer_microbatches(&candidate, cost::ep_overlapped(model, &candidate, fw)),
        );
        if mem.iter().all(|m| m.total_gb <= cluster.chip.hbm_capacity_gb()) {
            return Ok(candidate);
        }
    }
    Ok(plan)
}

/// Largest number of pipeline operations (forward and backward per micro-batch and chunk, over all
/// stages) one step simulation accepts: beyond it a plan is almost surely a typo (an extra zero in the
/// global batch), and simulating it would take seconds and gigabytes.
pub const MAX_STEP_OPERATIONS: u64 = 4_000_000;

/// Pipeline operations of one step of `plan` (forward and backward per micro-batch and chunk, over all
/// stages), checked against [`MAX_STEP_OPERATIONS`] before a schedule is built.
pub fn operations(plan: &Plan) -> u64 {
    2 * u64::from(plan.micro_batches) * u64::from(plan.vpp) * u64::from(plan.pp)
}

/// The plan's first choice its software stack does not implement ([`stack::StackSupport`]), as a
/// violation naming what the stack does implement.
pub fn stack_violation(plan: &Plan, layers: u32, fw: &FrameworkSpec) -> Option<Violation> {
    let p = stack::profile(&fw.stack).ok()?;
    p.supports.unsupported(plan, layers).map(|(feature, supported)| Violation::StackUnsupported { stack: p.id.clone(), feature, supported })
}

/// Simulate one step of a resolved plan; fails with the memory breakdown when the plan does not fit.
pub fn simulate(model: &ModelSpec, plan: &Plan, cluster: &Cluster, seq_len: u32, fw: &FrameworkSpec) -> Result<StepResult, WankaError> {
    let prepared = prepare(model, plan, cluster, seq_len, fw)?;
    Ok(finish(model, plan, seq_len, fw, prepared))
}

/// A plan that passed every check of [`simulate`] with its operations priced: what the event
/// simulation ([`finish`]) and the closed-form screen ([`screen`]) both start from.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    /// The cluster with ranks packed as [`placement`] places the plan's groups (borrowed when that
    /// changes nothing: the screen copies no cluster).
    pub cluster: Cow<'a, Cluster>,
    /// Memory of every stage and of the worst one.
    pub memory_per_stage: Vec<memory::MemoryBreakdown>,
    pub memory: memory::MemoryBreakdown,
    pub memory_capacity_gb: f64,
    pub cost: cost::CostModel,
    pub chunks: Vec<cost::ChunkCost>,
    fp8_peak: f64,
}

/// Memory of every stage of `plan` on the (packed) `cluster`, the worst stage's index and breakdown, and
/// the device's usable capacity (GB).
fn stage_memory_on(
    model: &ModelSpec,
    plan: &Plan,
    cluster: &Cluster,
    seq_len: u32,
    fw: &FrameworkSpec,
) -> (Vec<memory::MemoryBreakdown>, usize, memory::MemoryBreakdown, f64) {
    let inflight = schedule::inflight_layer_microbatches(plan, cost::ep_overlapped(model, plan, fw));
    let mem = memory::stage_memory(model, plan, seq_len, fw, cost::zero_shard_ranks(plan, cluster, fw), &inflight);
    let capacity = cluster.chip.hbm_capacity_gb();
    let (worst_stage, worst) =
        mem.iter().enumerate().fold((0, mem[0]), |best, (i, m)| if m.total_gb > best.1.total_gb { (i, *m) } else { best });
    (mem, worst_stage, worst, capacity)
}

/// Whether every stage of `plan` fits in device memory: [`prepare`]'s memory check alone (what the
/// search asks while it sizes a partial recomputation).
pub fn fits_memory(model: &ModelSpec, plan: &Plan, cluster: &Cluster, seq_len: u32, fw: &FrameworkSpec) -> bool {
    let packed = cluster.packed_for(&domain_groups(plan));
    let (_, _, worst, capacity) = stage_memory_on(model, plan, &packed, seq_len, fw);
    worst.total_gb <= capacity
}

/// Every check [`simulate`] makes before scheduling (operation limit, stack, precision, offloading,
/// memory, serial step-time limit), and the operation costs; a plan refused here is refused with the
/// same violation by [`simulate`].
pub fn prepare<'a>(
    model: &ModelSpec,
    plan: &Plan,
    cluster: &'a Cluster,
    seq_len: u32,
    fw: &FrameworkSpec,
) -> Result<Prepared<'a>, WankaError> {
    // Ranks laid out on the scale-up domains with TP/EP groups kept whole (a no-op when they divide it).
    let packed = cluster.packed_for(&domain_groups(plan));
    let cluster = &*packed;
    let ops = operations(plan);
    if ops > MAX_STEP_OPERATIONS {
        return Err(WankaError::Infeasible {
            reasons: vec![Violation::OperationLimit {
                ops,
                micro_batches: plan.micro_batches,
                chunks: plan.pp * plan.vpp,
                limit: MAX_STEP_OPERATIONS,
            }],
        });
    }
    if let Some(v) = stack_violation(plan, model.layers, fw) {
        return Err(WankaError::Infeasible { reasons: vec![v] });
    }
    let fp8_peak = cluster.chip.peak_flops(fw.precision)?;
    let recompute = plan.recompute != parallelism::Recompute::None;
    let host_link = cluster.chip.host_link_gb_per_s.is_some();
    if fw.activation_offload_layers > 0 && (plan.pp > 1 || recompute || !host_link) {
        return Err(WankaError::Infeasible {
            reasons: vec![Violation::ActivationOffload {
                layers: fw.activation_offload_layers,
                pp: plan.pp,
                recompute,
                chip: cluster.chip.id.clone(),
                host_link,
            }],
        });
    }
    let (mem, worst_stage, worst, capacity) = stage_memory_on(model, plan, cluster, seq_len, fw);
    if worst.total_gb > capacity {
        return Err(WankaError::Infeasible {
            reasons: vec![Violation::Memory {
                stage: worst_stage,
                total_gb: worst.total_gb,
                weights_gb: worst.weights_gb,
                gradients_gb: worst.gradients_gb,
                optimizer_gb: worst.optimizer_gb,
                activations_gb: worst.activations_gb,
                buffers_gb: worst.buffers_gb,
                chip: cluster.chip.id.clone(),
                hbm_gb: cluster.chip.hbm_gb,
                capacity_gb: capacity,
            }],
        });
    }
    let (cost_model, chunks) = cost::build(model, plan, cluster, seq_len, fw);
    // Every operation of the step one after another bounds its makespan: refused past the limit, so the
    // schedule's nanosecond sums cannot wrap and no step time is printed that means nothing.
    let per_microbatch: f64 = chunks
        .iter()
        .map(|c| c.forward.total_s() + c.backward.total_s() + c.grad_reduce_per_microbatch_s)
        .chain(cost_model.p2p_next_s.iter().map(|s| 2.0 * s))
        .sum();
    let serial_s = per_microbatch * f64::from(plan.micro_batches)
        + chunks.iter().map(|c| c.grad_reduce_s).sum::<f64>()
        + cost_model.optimizer_s.iter().chain(&cost_model.param_gather_s).sum::<f64>()
        + cost_model.iteration_overhead_s;
    if !(serial_s <= crate::limits::MAX_STEP_S) {
        return Err(WankaError::Infeasible { reasons: vec![Violation::StepTimeLimit { serial_s, limit_s: crate::limits::MAX_STEP_S }] });
    }
    Ok(Prepared { cluster: packed, memory_per_stage: mem, memory: worst, memory_capacity_gb: capacity, cost: cost_model, chunks, fp8_peak })
}

/// The event simulation of a prepared plan ([`schedule::simulate`]) and the step's report.
pub fn finish(model: &ModelSpec, plan: &Plan, seq_len: u32, fw: &FrameworkSpec, prepared: Prepared<'_>) -> StepResult {
    let Prepared { cluster, memory_per_stage: mem, memory: worst, memory_capacity_gb: capacity, cost: cost_model, chunks, fp8_peak } =
        prepared;
    let cluster = &*cluster;
    // The packing does not change where the groups sit (`place` reads the domains, not the packing).
    let placement = placement(cluster, plan);
    let (timelines, breakdown, crit, step_s) = schedule::simulate(plan, &cost_model, &chunks);
    let tokens = f64::from(plan.global_batch) * f64::from(seq_len);
    let model_flops = tokens * model.model_flops_per_token(seq_len);
    let per_replica_devices = f64::from(plan.tp) * f64::from(plan.cp);
    let hw_flops: f64 =
        chunks.iter().map(|c| c.hardware_flops).sum::<f64>() * f64::from(plan.micro_batches) * per_replica_devices * f64::from(plan.dp);
    // MFU against the 16-bit peak whatever the GEMM precision (the papers' convention); an FP8 run's
    // utilisation of its FP8 peak is reported beside it. `Chip::peak_flops` is the one definition of
    // peak by precision (cost::build uses it too).
    let denom = step_s * cluster.gpus as f64 * cluster.chip.bf16_peak_flops();
    let mfu_of_fp8_peak = (fw.precision == cost::Precision::Fp8).then(|| model_flops / (step_s * cluster.gpus as f64 * fp8_peak));
    let mut notes = vec![format!("software stack: {}", fw.describe())];
    notes.extend(cluster.calibration.caveat(&cluster.chip.id));
    if placement.idle_devices > 0 || placement.unusable_devices > 0 || !placement.across_domains.is_empty() {
        notes.push(format!("placement: {}", placement.describe()));
    }
    if model.moe.is_some() {
        notes.push(format!(
            "MoE: routed rows on the busiest device {:.2}x the mean (the stack's moe_routing_imbalance), {} dispatch{}; \
             MoE step times are less validated than dense ones (mostly optimistic on small-expert models): \
             `wanka validate scenarios/validation/moe_cases.csv` prints their error",
            fw.moe_routing_imbalance,
            match fw.moe_dispatcher {
                cost::MoeDispatcher::AllToAll => "all-to-all",
                cost::MoeDispatcher::NodeDedup => "node-de-duplicated",
            },
            if cost::ep_overlapped(model, plan, fw) { ", overlapped with another micro-batch" } else { "" },
        ));
    }
    StepResult {
        step_s,
        tokens_per_s: tokens / step_s,
        mfu: model_flops / denom,
        mfu_of_fp8_peak,
        hfu: hw_flops / denom,
        model_flops_per_step: model_flops,
        hardware_flops_per_step: hw_flops,
        breakdown,
        critical_stage: crit,
        memory: worst,
        memory_per_stage: mem,
        memory_capacity_gb: capacity,
        timelines,
        notes,
        accuracy: accuracy::note(&cluster.calibration, &fw.stack, model.moe.is_some()),
        placement,
    }
}
