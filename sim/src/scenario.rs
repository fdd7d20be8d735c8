//! Scenario files (RON): a model, a cluster, a parallelism plan, the training goal and the software
//! stack; later sections (failures, checkpointing) drive the training-run simulator.
//!
//! Loading checks everything before anything runs: RON syntax (file, line, column), unknown fields,
//! catalog ids (with the closest ids), sizes and parallelism constraints (each violated one named).

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::catalog::Catalog;
use crate::checkpoint::CheckpointCost;
use crate::cost::{self, FrameworkSpec};
use crate::error::WankaError;
use crate::memory;
use crate::model::{ModelRef, ModelSpec};
use crate::parallelism::{self, ParallelismSpec, Plan};
use crate::ron_util::{parse_ron, read_file};
use crate::run::{self as runsim, LogEvent, MonteCarlo, RunInputs, RunSpec};
use crate::step::{self, StepResult};
use crate::topology::{Cluster, ClusterSpec};

/// What to train.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainingSpec {
    /// Sequence length in tokens.
    pub seq_len: u32,
    /// Tokens to train on (the run simulator's target).
    pub tokens: f64,
}

/// A complete scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub model: ModelRef,
    pub cluster: ClusterSpec,
    pub parallelism: ParallelismSpec,
    pub training: TrainingSpec,
    /// Software stack; omitted = [`FrameworkSpec::default`].
    #[serde(default)]
    pub framework: FrameworkSpec,
    /// Training-run section (failures, recovery, checkpoints); omitted = the documented defaults.
    #[serde(default)]
    pub run: RunSpec,
    /// Seed of every random stream of the run (default 1).
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    1
}

/// A scenario with its catalog entries and plan resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub model: ModelSpec,
    pub cluster: Cluster,
    pub plan: Plan,
}

impl Scenario {
    /// Read and check a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, WankaError> {
        let text = read_file(path)?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// Parse and check scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, WankaError> {
        let s: Scenario = parse_ron(text, file)?;
        s.check(file)?;
        Ok(s)
    }

    /// Field-level checks that need no catalog.
    pub fn check(&self, file: &str) -> Result<(), WankaError> {
        let bad = |field: &str, msg: String| Err(WankaError::Invalid { file: file.to_string(), field: field.to_string(), msg });
        if self.training.seq_len == 0 {
            return bad("training.seq_len", "must be at least 1 token".into());
        }
        if !(self.training.tokens > 0.0 && self.training.tokens.is_finite()) {
            return bad("training.tokens", format!("must be a positive number of tokens, got {}", self.training.tokens));
        }
        let o = self.framework.iteration_overhead_s;
        if !(o >= 0.0 && o.is_finite()) {
            return bad("framework.iteration_overhead_s", format!("must be >= 0 seconds, got {o}"));
        }
        let f = self.framework.moe_comm_sm_fraction;
        if !(0.0..0.9).contains(&f) {
            return bad("framework.moe_comm_sm_fraction", format!("must be in [0, 0.9), got {f}"));
        }
        if let ModelRef::Custom(m) = &self.model {
            m.check(file)?;
        }
        self.run.check(file)?;
        Ok(())
    }

    /// Resolve model, cluster and plan against a catalog.
    pub fn resolve(&self, catalog: &Catalog, file: &str) -> Result<Resolved, WankaError> {
        let model = self.model.resolve().map_err(|e| e.in_field(file, "model"))?;
        let cluster = Cluster::resolve(&self.cluster, catalog, file)?;
        let plan = resolve_plan_fitting(&model, &self.parallelism, self.training.seq_len, &cluster, &self.framework)
            .map_err(|reasons| WankaError::Invalid { file: file.to_string(), field: "parallelism".into(), msg: reasons.join("; ") })?;
        Ok(Resolved { model, cluster, plan })
    }

    /// Simulate one training step.
    pub fn simulate_step(&self, catalog: &Catalog, file: &str) -> Result<StepResult, WankaError> {
        self.check(file)?;
        let r = self.resolve(catalog, file)?;
        simulate_step(&r.model, &r.plan, &r.cluster, self.training.seq_len, &self.framework).map_err(|e| e.in_field(file, "parallelism"))
    }

    /// Everything the run simulator needs: the step simulated at full size (and at reduced DP sizes for
    /// elastic mode), checkpoint costs and interval, failure processes.
    pub fn run_inputs(&self, catalog: &Catalog, file: &str) -> Result<(RunInputs, RunContext), WankaError> {
        self.check(file)?;
        let r = self.resolve(catalog, file)?;
        let step = simulate_step(&r.model, &r.plan, &r.cluster, self.training.seq_len, &self.framework)?;
        let replica = u64::from(r.plan.tp) * u64::from(r.plan.pp) * u64::from(r.plan.cp);
        let gpn = r.cluster.gpus_per_node;
        let replicas_per_node = if replica >= u64::from(gpn) { 1 } else { (u64::from(gpn) / replica) as u32 };
        // Elastic mode: throughput with k DP replicas lost, re-simulated at the smaller size (same
        // micro-batches per replica, so the global batch shrinks with DP).
        let mut degraded_speed = vec![1.0];
        if self.run.recovery.elastic {
            let max_lost = (r.plan.dp.saturating_sub(1)).min(16);
            for k in 1..=max_lost {
                let dp = r.plan.dp - k;
                let mut spec = self.parallelism.clone();
                spec.dp = dp;
                spec.global_batch = r.plan.global_batch / r.plan.dp * dp;
                spec.vpp = Some(r.plan.vpp);
                let mut cluster = r.cluster.clone();
                cluster.gpus = replica * u64::from(dp);
                let speed = resolve_plan(&r.model, &spec, self.training.seq_len, cluster.gpus)
                    .ok()
                    .and_then(|plan| simulate_step(&r.model, &plan, &cluster, self.training.seq_len, &self.framework).ok())
                    .map_or(0.0, |s| s.tokens_per_s / step.tokens_per_s);
                degraded_speed.push(speed);
            }
        }
        let (inputs, mut ctx) = build_run_inputs(
            &self.run,
            self.training.tokens,
            step.tokens_per_s,
            r.cluster.gpus,
            gpn,
            r.model.params(self.training.seq_len).total,
            r.cluster.nic_peak_bytes_per_s() / 1e9,
            degraded_speed,
            replicas_per_node,
            file,
        )?;
        ctx.scenario = self.name.clone();
        ctx.step_s = step.step_s;
        ctx.mfu = step.mfu;
        Ok((inputs, ctx))
    }

    /// Monte Carlo over `seeds` runs of the whole training run.
    pub fn simulate_run(&self, catalog: &Catalog, file: &str, seeds: u64) -> Result<RunReport, WankaError> {
        let (inputs, context) = self.run_inputs(catalog, file)?;
        let monte_carlo = runsim::monte_carlo(&inputs, self.seed, seeds);
        Ok(RunReport { context, monte_carlo })
    }

    /// The event log of the first seed's run.
    pub fn run_event_log(&self, catalog: &Catalog, file: &str) -> Result<Vec<LogEvent>, WankaError> {
        let (inputs, _) = self.run_inputs(catalog, file)?;
        Ok(runsim::simulate_run(&inputs, self.seed, true).1.unwrap_or_default())
    }
}

/// Run inputs for a job of `devices` training at `tokens_per_s` (the context's scenario name, step time
/// and MFU are left for the caller).
#[allow(clippy::too_many_arguments)]
pub fn build_run_inputs(
    run: &RunSpec,
    tokens: f64,
    tokens_per_s: f64,
    devices: u64,
    gpus_per_node: u32,
    params: f64,
    nic_gb_per_s: f64,
    degraded_speed: Vec<f64>,
    replicas_per_node: u32,
    file: &str,
) -> Result<(RunInputs, RunContext), WankaError> {
    let profile = crate::failure::profile(&run.failures.profile).map_err(|e| e.in_field(file, "run.failures.profile"))?;
    let nodes = devices.div_ceil(u64::from(gpus_per_node));
    let processes = run.processes(profile, devices, gpus_per_node);
    let work_s = tokens / tokens_per_s;
    let horizon_h = (work_s / 3600.0).min(run.max_days * 24.0).max(1.0);
    let rate_h: f64 = processes.iter().map(|p| p.mean_rate_per_hour(horizon_h)).sum();
    let mtti_s = if rate_h > 0.0 { 3600.0 / rate_h } else { f64::INFINITY };
    let ckpt = run.checkpoint.cost(params, devices, nic_gb_per_s);
    let interval_s = run.checkpoint.interval_s(ckpt.stall_s, mtti_s).min(work_s.max(1.0));
    let hot_spare_nodes = run.recovery.hot_spare_nodes.unwrap_or_else(|| (nodes as f64 * 0.01).ceil().max(1.0) as u32);
    let inputs = RunInputs {
        devices,
        gpus_per_node,
        work_s,
        degraded_speed,
        replicas_per_node,
        checkpoint: ckpt,
        interval_s,
        processes,
        recovery: run.recovery.clone(),
        hot_spare_nodes,
        stragglers: run.stragglers.clone(),
        maintenance: run.maintenance.clone(),
        max_s: run.max_days * 86400.0,
    };
    let ctx = RunContext {
        scenario: String::new(),
        tokens,
        step_s: 0.0,
        tokens_per_s,
        mfu: 0.0,
        ideal_days: work_s / 86400.0,
        failure_profile: profile.id.clone(),
        mtti_hours: mtti_s / 3600.0,
        checkpoint: ckpt,
        checkpoint_interval_s: interval_s,
        restart_s: inputs.restart_core_s() + run.recovery.detection_s,
        hot_spare_nodes,
        devices,
    };
    Ok((inputs, ctx))
}

/// The fixed figures of a training run (same for every seed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunContext {
    pub scenario: String,
    pub tokens: f64,
    pub step_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    /// Training time without any interruption or checkpoint, days.
    pub ideal_days: f64,
    pub failure_profile: String,
    /// Mean time to interruption of the job, hours.
    pub mtti_hours: f64,
    pub checkpoint: CheckpointCost,
    pub checkpoint_interval_s: f64,
    /// Restart after a failure without a spare swap: detection + reschedule + init + load + warm-up.
    pub restart_s: f64,
    pub hot_spare_nodes: u32,
    pub devices: u64,
}

/// Result of `wanka run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub context: RunContext,
    pub monte_carlo: MonteCarlo,
}

/// Resolve a parallelism spec for a model (balancing the output layer's cost across stages).
pub fn resolve_plan(model: &ModelSpec, spec: &ParallelismSpec, seq_len: u32, gpus: u64) -> Result<Plan, Vec<String>> {
    let layer = model.layer_forward_flops_per_token(seq_len, model.moe_layers() == model.layers && model.layers > 0);
    let logits_equiv = model.logits_flops_per_token() / layer.max(1.0);
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
) -> Result<Plan, Vec<String>> {
    let plan = resolve_plan(model, spec, seq_len, cluster.gpus)?;
    if spec.vpp.is_some() || plan.vpp <= 1 {
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
            cost::zero_shard_ranks(&candidate, cluster, fw),
            &step::inflight_layer_microbatches(&candidate),
        );
        if mem.iter().all(|m| m.total_gb <= cluster.chip.hbm_capacity_gb()) {
            return Ok(candidate);
        }
    }
    Ok(plan)
}

/// Simulate one step of a resolved plan; fails with the memory breakdown when the plan does not fit.
/// Largest number of pipeline operations (forward and backward per micro-batch and chunk, over all
/// stages) one step simulation accepts: beyond it a plan is almost surely a typo (an extra zero in the
/// global batch), and simulating it would take seconds and gigabytes.
pub const MAX_STEP_OPERATIONS: u64 = 4_000_000;

pub fn simulate_step(
    model: &ModelSpec,
    plan: &Plan,
    cluster: &Cluster,
    seq_len: u32,
    fw: &FrameworkSpec,
) -> Result<StepResult, WankaError> {
    let ops = 2 * u64::from(plan.micro_batches) * u64::from(plan.vpp) * u64::from(plan.pp);
    if ops > MAX_STEP_OPERATIONS {
        return Err(WankaError::Infeasible {
            reasons: vec![format!(
                "{ops} pipeline operations per step ({} micro-batches x {} chunks x 2) exceed the simulator's limit of {MAX_STEP_OPERATIONS}; check global_batch and micro_batch",
                plan.micro_batches,
                plan.pp * plan.vpp
            )],
        });
    }
    let fp8_peak = cluster.chip.peak_flops(fw.precision)?;
    let inflight = step::inflight_layer_microbatches(plan);
    let mem = memory::stage_memory(model, plan, seq_len, fw, cost::zero_shard_ranks(plan, cluster, fw), &inflight);
    let capacity = cluster.chip.hbm_capacity_gb();
    let (worst_stage, worst) =
        mem.iter().enumerate().fold((0, mem[0]), |best, (i, m)| if m.total_gb > best.1.total_gb { (i, *m) } else { best });
    if worst.total_gb > capacity {
        return Err(WankaError::Infeasible {
            reasons: vec![format!(
                "memory: stage {worst_stage} needs {:.1} GB per device (weights {:.1}, gradients {:.1}, optimizer {:.1}, activations {:.1}, buffers {:.1}) but {} has {:.0} GB ({capacity:.1}e9 bytes)",
                worst.total_gb,
                worst.weights_gb,
                worst.gradients_gb,
                worst.optimizer_gb,
                worst.activations_gb,
                worst.buffers_gb,
                cluster.chip.id,
                cluster.chip.hbm_gb
            )],
        });
    }
    let (cost_model, chunks) = cost::build(model, plan, cluster, seq_len, fw);
    let (timelines, breakdown, crit, step_s) = step::simulate(plan, &cost_model, &chunks);
    let tokens = f64::from(plan.global_batch) * f64::from(seq_len);
    let model_flops = tokens * model.model_flops_per_token(seq_len);
    let per_replica_devices = f64::from(plan.tp) * f64::from(plan.cp);
    let hw_flops: f64 =
        chunks.iter().map(|c| c.hardware_flops).sum::<f64>() * f64::from(plan.micro_batches) * per_replica_devices * f64::from(plan.dp);
    // MFU against the 16-bit peak whatever the GEMM precision (the papers' convention); an FP8 run's
    // utilisation of its FP8 peak is reported beside it.
    let denom = step_s * cluster.gpus as f64 * cluster.chip.bf16_peak_flops();
    let mfu_of_fp8_peak = (fw.precision == cost::Precision::Fp8).then(|| model_flops / (step_s * cluster.gpus as f64 * fp8_peak));
    let mut notes = vec![format!("software stack: {}", fw.describe())];
    notes.extend(cluster.calibration.caveat(&cluster.chip.id));
    if model.moe.is_some() {
        notes.push(
            "MoE: balanced routing assumed (no capacity-factor drops or hot experts); MoE step times are not validated \
             against a published run (DeepSeek-V3: about 1.6x off either way depending on the MoE stack settings, see ARCHITECTURE.md)"
                .into(),
        );
    }
    Ok(StepResult {
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
        accuracy: crate::accuracy::note(&cluster.calibration, &fw.stack),
    })
}
