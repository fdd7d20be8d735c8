//! From a scenario to the run simulator's inputs: the step simulated at full size (and smaller, for
//! elastic mode), the failure processes of the profile, checkpoint cost and interval, hot spares; and
//! the fixed figures of the run that every seed shares ([`RunContext`]).

use serde::Serialize;

use crate::error::WankaError;
use crate::hardware::catalog::Catalog;
use crate::run::checkpoint::CheckpointCost;
use crate::run::monte_carlo::{MonteCarlo, monte_carlo};
use crate::run::sim::{LogEvent, RunInputs, simulate_run};
use crate::run::spec::RunSpec;
use crate::scenario::Scenario;
use crate::step::schedule::StepResult;
use crate::step::{self, Resolved};

/// Devices of one node as the failure profiles count nodes: their node-level rates are per 8-GPU
/// server (Llama 3, Meta RSC, Azure), so a scale-up domain larger than that (an NVL72 rack, a
/// CloudMatrix supernode) is counted as `domain / 8` servers for failures, spares and repairs, not as one
/// node. A fault of the domain's own switches is not in the profiles (a `Domain` entry models it).
pub const FAILURE_NODE_DEVICES: u32 = 8;

impl Scenario {
    /// Everything the run simulator needs: the step simulated at full size (and at reduced DP sizes for
    /// elastic mode), checkpoint costs and interval, failure processes.
    pub fn run_inputs(&self, catalog: &Catalog, file: &str) -> Result<(RunInputs, RunContext), WankaError> {
        self.check(file)?;
        let r = self.resolve(catalog, file)?;
        let step = step::simulate(&r.model, &r.plan, &r.cluster, self.training.seq_len, &self.framework)?;
        let replica = u64::from(r.plan.tp) * u64::from(r.plan.pp) * u64::from(r.plan.cp);
        let gpn = r.cluster.gpus_per_node.min(FAILURE_NODE_DEVICES);
        let replicas_per_node = if replica >= u64::from(gpn) { 1 } else { (u64::from(gpn) / replica) as u32 };
        let degraded_speed = if self.run.recovery.elastic { self.degraded_speed(&r, &step) } else { vec![1.0] };
        let job = RunJob {
            run: &self.run,
            tokens: self.training.tokens,
            tokens_per_s: step.tokens_per_s,
            step_s: step.step_s,
            devices: r.cluster.gpus,
            gpus_per_node: gpn,
            params: r.model.params(self.training.seq_len).total,
            nic_gb_per_s: r.cluster.nic_peak_bytes_per_s() / 1e9,
            degraded_speed,
            replicas_per_node,
        };
        let (inputs, mut ctx) = build_run_inputs(job, file)?;
        ctx.scenario = self.name.clone();
        ctx.step_s = step.step_s;
        ctx.mfu = step.mfu;
        ctx.placement = Some(step.placement.clone());
        ctx.model_error = crate::run::model_error::errors_for(&r.cluster.calibration, &self.framework.stack, r.model.moe.is_some());
        Ok((inputs, ctx))
    }

    /// Monte Carlo over `seeds` runs of the whole training run.
    pub fn simulate_run(&self, catalog: &Catalog, file: &str, seeds: u64) -> Result<RunReport, WankaError> {
        crate::limits::seeds(file, "seeds", seeds)?;
        let (inputs, context) = self.run_inputs(catalog, file)?;
        check_event_budget(&inputs, seeds, file)?;
        let monte_carlo = monte_carlo(&inputs, self.seed, seeds);
        Ok(RunReport::new(context, monte_carlo))
    }

    /// [`Scenario::simulate_run`] that counts each finished seed on `cancel` (progress) and stops with
    /// [`WankaError::Cancelled`] when it is set.
    pub fn simulate_run_cancellable(
        &self,
        catalog: &Catalog,
        file: &str,
        seeds: u64,
        cancel: &crate::Cancel,
    ) -> Result<RunReport, WankaError> {
        crate::limits::seeds(file, "seeds", seeds)?;
        let (inputs, context) = self.run_inputs(catalog, file)?;
        check_event_budget(&inputs, seeds, file)?;
        let monte_carlo = crate::run::monte_carlo::monte_carlo_cancellable(&inputs, self.seed, seeds, cancel)?;
        Ok(RunReport::new(context, monte_carlo))
    }

    /// The event log of the first seed's run.
    pub fn run_event_log(&self, catalog: &Catalog, file: &str) -> Result<Vec<LogEvent>, WankaError> {
        let (inputs, _) = self.run_inputs(catalog, file)?;
        Ok(simulate_run(&inputs, self.seed, true).1.unwrap_or_default())
    }

    /// Elastic mode: throughput with k DP replicas lost, re-simulated at the smaller size (same
    /// micro-batches per replica, so the global batch shrinks with DP); entry 0 is the full size.
    fn degraded_speed(&self, r: &Resolved, step: &StepResult) -> Vec<f64> {
        let replica = u64::from(r.plan.tp) * u64::from(r.plan.pp) * u64::from(r.plan.cp);
        let mut degraded_speed = vec![1.0];
        let max_lost = (r.plan.dp.saturating_sub(1)).min(16);
        for k in 1..=max_lost {
            let dp = r.plan.dp - k;
            let mut spec = self.parallelism.clone();
            spec.dp = dp;
            spec.global_batch = r.plan.global_batch / r.plan.dp * dp;
            spec.vpp = Some(r.plan.vpp);
            let mut cluster = r.cluster.clone();
            cluster.gpus = replica * u64::from(dp);
            let speed = step::resolve_plan(&r.model, &spec, self.training.seq_len, cluster.gpus)
                .ok()
                .and_then(|plan| step::simulate(&r.model, &plan, &cluster, self.training.seq_len, &self.framework).ok())
                .map_or(0.0, |s| s.tokens_per_s / step.tokens_per_s);
            degraded_speed.push(speed);
        }
        degraded_speed
    }
}

/// The shape of a training job as the run simulator sees it: how much work, at what throughput, on
/// how many devices, with how large a checkpoint.
#[derive(Debug, Clone)]
pub struct RunJob<'a> {
    pub run: &'a RunSpec,
    /// Tokens to train on.
    pub tokens: f64,
    /// Throughput of the job at full size.
    pub tokens_per_s: f64,
    /// Mean duration of one optimizer step, seconds (a checkpoint interval given in steps).
    pub step_s: f64,
    /// Devices doing work (the failure processes' population).
    pub devices: u64,
    pub gpus_per_node: u32,
    /// Parameters checkpointed.
    pub params: f64,
    /// NIC bandwidth per device, GB/s (checkpoint writes and loads).
    pub nic_gb_per_s: f64,
    /// Throughput with k DP replicas lost (elastic mode), relative; `[1.0]` = not elastic.
    pub degraded_speed: Vec<f64>,
    pub replicas_per_node: u32,
}

/// Run inputs for a job (the context's scenario name, step time and MFU are left for the caller).
pub fn build_run_inputs(job: RunJob<'_>, file: &str) -> Result<(RunInputs, RunContext), WankaError> {
    let RunJob { run, tokens, tokens_per_s, step_s, devices, gpus_per_node, params, nic_gb_per_s, degraded_speed, replicas_per_node } = job;
    let profile = crate::run::failure::profile(&run.failures.profile).map_err(|e| e.in_field(file, "run.failures.profile"))?;
    if let Some(name) = run.unknown_includes(profile).first() {
        let optional: Vec<&str> = profile.components.iter().filter(|c| c.optional).map(|c| c.name.as_str()).collect();
        return Err(WankaError::Invalid {
            file: file.into(),
            field: "run.failures.include".into(),
            msg: format!(
                "`{name}` is not an optional entry of profile `{}`; it has: {}",
                profile.id,
                if optional.is_empty() { "none".to_string() } else { optional.join(", ") }
            ),
        });
    }
    let work_s = tokens / tokens_per_s;
    let horizon_h = (work_s / 3600.0).min(run.max_days * 24.0).max(1.0);
    let processes = run.processes(profile, devices, gpus_per_node, horizon_h);
    if run.failures.failures_per_1000_node_days.is_some()
        && run.failures.multiplier > 0.0
        && processes.iter().all(|p| p.mean_rate_per_hour(horizon_h) == 0.0)
    {
        return Err(WankaError::Invalid {
            file: file.into(),
            field: "run.failures.failures_per_1000_node_days".into(),
            msg: format!("profile `{}` has no failing component whose mix the rate could scale", profile.id),
        });
    }
    let rate_h: f64 = processes.iter().map(|p| p.mean_rate_per_hour(horizon_h)).sum();
    let mtti_s = if rate_h > 0.0 { 3600.0 / rate_h } else { f64::INFINITY };
    let ckpt = run.checkpoint.cost(params, devices, nic_gb_per_s);
    let interval_s = run.checkpoint.interval_s(ckpt.stall_s, mtti_s, step_s);
    let in_steps = matches!(run.checkpoint.interval, crate::run::checkpoint::Interval::Steps { .. });
    if in_steps && !(interval_s >= crate::limits::MIN_CHECKPOINT_INTERVAL_S && interval_s.is_finite()) {
        return Err(WankaError::Invalid {
            file: file.into(),
            field: "run.checkpoint.interval".into(),
            msg: format!(
                "{} s of training between checkpoints ({:?} at a {step_s:.3} s step) is below the {} s a checkpoint interval may be",
                crate::limits::num(interval_s),
                run.checkpoint.interval,
                crate::limits::MIN_CHECKPOINT_INTERVAL_S
            ),
        });
    }
    let interval_s = interval_s.min(work_s.max(1.0));
    let hot_spare_nodes = run.recovery.hot_spare_nodes_for(devices.div_ceil(u64::from(gpus_per_node)));
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
    let restart_s = inputs.restart_core_s() + run.recovery.detection_s;
    if mtti_s <= restart_s {
        return Err(WankaError::Invalid {
            file: file.into(),
            field: "run.failures".into(),
            msg: format!(
                "the failure rates give a mean time to interruption of {mtti_s:.0} s, not above the {restart_s:.0} s a restart takes: \
                 the job would never make progress (lower run.failures.multiplier or the overrides' rates)"
            ),
        });
    }
    check_event_budget(&inputs, 1, file)?;
    let ctx = RunContext {
        model_error: crate::run::model_error::ModelError::default(),
        scenario: String::new(),
        tokens,
        step_s: 0.0,
        tokens_per_s,
        mfu: 0.0,
        ideal_days: work_s / 86400.0,
        failure_profile: profile.id.clone(),
        failure_profile_estimate: profile.estimate.then(|| profile.basis.clone()),
        mtti_hours: mtti_s / 3600.0,
        checkpoint: ckpt,
        checkpoint_interval_s: interval_s,
        restart_s,
        hot_spare_nodes,
        devices,
        placement: None,
    };
    Ok((inputs, ctx))
}

/// Events one run may simulate, estimated before it starts: failures, straggler onsets and maintenance
/// windows over the whole horizon (`max_days`) at their mean rates, plus the checkpoints of the work
/// (one per interval, twice over for rework). Refused past [`crate::limits::MAX_EVENTS_PER_RUN`] per run
/// and [`crate::limits::MAX_EVENTS_PER_MONTE_CARLO`] over `seeds` runs, naming the estimate.
pub fn estimated_events(inp: &RunInputs) -> f64 {
    let horizon_h = inp.max_s / 3600.0;
    let failures: f64 = inp.processes.iter().map(|p| p.mean_rate_per_hour(horizon_h)).sum::<f64>() * horizon_h;
    // A failure domain takes many nodes per event, each with its own repair.
    let nodes_lost: f64 = inp.processes.iter().map(|p| p.node_loss_rate_per_hour(horizon_h)).sum::<f64>() * horizon_h;
    let nodes = (inp.devices as f64 / f64::from(inp.gpus_per_node.max(1))).ceil();
    let stragglers = 2.0 * inp.stragglers.rate_per_node_hour * nodes * horizon_h;
    let maintenance = inp.maintenance.as_ref().map_or(0.0, |m| 2.0 * horizon_h / m.interval_hours);
    let checkpoints = 3.0 * inp.work_s / inp.interval_s.max(1e-9);
    // Each failure is followed by detection, a restart and possibly a repair; a domain event by one
    // repair per node it takes.
    4.0 * failures + (nodes_lost - failures).max(0.0) + stragglers + maintenance + checkpoints
}

/// Refuse a Monte Carlo of `seeds` runs whose estimated events exceed the budget.
pub fn check_event_budget(inp: &RunInputs, seeds: u64, file: &str) -> Result<(), WankaError> {
    use crate::limits::{MAX_EVENTS_PER_MONTE_CARLO, MAX_EVENTS_PER_RUN};
    let per_run = estimated_events(inp);
    let total = per_run * seeds as f64;
    if !(per_run <= MAX_EVENTS_PER_RUN && total <= MAX_EVENTS_PER_MONTE_CARLO) {
        return Err(WankaError::Invalid {
            file: file.into(),
            field: "run".into(),
            msg: format!(
                "about {per_run:.3e} events per run x {seeds} seeds = {total:.3e}; the budget is {MAX_EVENTS_PER_RUN:.0e} per run and \
                 {MAX_EVENTS_PER_MONTE_CARLO:.0e} in all (lower the failure rates, max_days or the seeds, or checkpoint less often)"
            ),
        });
    }
    Ok(())
}

/// The fixed figures of a training run (same for every seed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunContext {
    /// The step-time error distribution the run's bands carry (reported in [`RunReport::bands`]).
    #[serde(skip)]
    pub model_error: crate::run::model_error::ModelError,
    pub scenario: String,
    pub tokens: f64,
    pub step_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    /// Training time without any interruption or checkpoint, days.
    pub ideal_days: f64,
    pub failure_profile: String,
    /// The profile's basis when it is an estimate without published fleet data (reports flag it).
    pub failure_profile_estimate: Option<String>,
    /// Mean time to interruption of the job, hours.
    pub mtti_hours: f64,
    #[serde(flatten)]
    pub checkpoint: CheckpointCost,
    pub checkpoint_interval_s: f64,
    /// Restart after a failure without a spare swap: detection + reschedule + init + load + warm-up.
    pub restart_s: f64,
    pub hot_spare_nodes: u32,
    pub devices: u64,
    /// How the job sits on its scale-up domains (scenario runs; `None` for plan candidates, whose
    /// placement is the candidate's). Failures count nodes of at most [`FAILURE_NODE_DEVICES`].
    pub placement: Option<crate::hardware::topology::Placement>,
}

/// Result of `wanka run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub context: RunContext,
    pub monte_carlo: MonteCarlo,
    /// Wall-clock days p10–p90 from failures alone and with the model's own step-time error
    /// ([`crate::run::model_error`]).
    pub bands: crate::run::model_error::Bands,
}

impl RunReport {
    pub fn new(context: RunContext, monte_carlo: MonteCarlo) -> RunReport {
        let days: Vec<f64> = monte_carlo.seed_runs.iter().map(|r| r.wall_s / 86_400.0).collect();
        let bands = crate::run::model_error::Bands::new(&days, &context.model_error, None);
        RunReport { context, monte_carlo, bands }
    }
}
