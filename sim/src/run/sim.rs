//! The whole training run: from first step to last token, with failures, checkpoints, restarts, hot
//! spares, repairs, stragglers and planned maintenance, on the shared event engine.
//!
//! The job advances at the step simulator's throughput toward its token target; there are no per-step
//! events. Events are component failures (one pending per component, see [`crate::failure`]),
//! checkpoint starts and completions, detection, spare swaps, repairs, straggler onsets and evictions,
//! maintenance windows and the end of training. Every nanosecond of wall clock is attributed to exactly
//! one of: useful training, rework (work since the last durable checkpoint, lost to an interruption),
//! restart (detection, swap, rescheduling, collective init, checkpoint load, warm-up), checkpoint stalls,
//! waiting for spares (no spare: waiting for a repair, or running on fewer DP replicas in elastic mode),
//! straggler slowdown, and planned maintenance — the parts sum exactly to the wall clock.
//!
//! Semantics (Daly's): a failure during a checkpoint loses the checkpoint and the work before it; a
//! failure during a restart starts the restart over; an asynchronous checkpoint protects work only once
//! its background write is durable. Not modelled: partial-job failures that do not stop training,
//! loss spikes and rollbacks, data-loader stalls, diurnal throughput swings.

use rand_distr::{Distribution, Exp1};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::cancel::Cancel;
use crate::checkpoint::{CheckpointCost, CheckpointSpec};
use crate::engine::{EventQueue, Ticks, rng_stream, secs, ticks};
use crate::error::WankaError;
use crate::failure::{Component, FailureProfile, Process};

/// Which edge of a failure profile's published band to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Band {
    Low,
    #[default]
    Mid,
    High,
}

/// Failure section of a scenario's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailureSpec {
    /// Failure profile id from `scenarios/catalog/failures.ron` (default `h100-llama3`).
    pub profile: String,
    pub band: Band,
    /// Scales every rate (what-if: 2.0 = twice the failures). Default 1.
    pub multiplier: f64,
    /// Components that replace the profile's component of the same name, or are added.
    pub overrides: Vec<Component>,
}

impl Default for FailureSpec {
    fn default() -> Self {
        FailureSpec { profile: "h100-llama3".into(), band: Band::Mid, multiplier: 1.0, overrides: Vec::new() }
    }
}

/// Recovery section of a scenario's run. Defaults are documented per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoverySpec {
    /// From failure to the job noticing it (default 120 s: automated health checks and NCCL timeouts
    /// tuned down; MegaScale detects and diagnoses in < 10 min, Llama 3 recovered most automatically).
    pub detection_s: f64,
    /// Tear-down and rescheduling of the job (default 180 s, an assumption).
    pub reschedule_s: f64,
    /// Collective (NCCL) initialisation: `init_base_s + init_s_per_1k_devices · devices/1000`
    /// (defaults 20 s + 2 s per 1,000 devices: MegaScale < 30 s at > 10k GPUs after optimisation).
    pub init_base_s: f64,
    pub init_s_per_1k_devices: f64,
    /// From resumed training to full speed (default 120 s: compilation, caches, first steps).
    pub warmup_s: f64,
    /// Hot-spare nodes; `None` = 1% of the job's nodes, at least 1 (an assumption: OPT-175B ran 4 to
    /// 18 spares for 124 nodes, Llama 3 does not say).
    pub hot_spare_nodes: Option<u32>,
    /// Swapping a spare into the job, on top of the restart (default 60 s: draining the failed node and
    /// adding the powered-on spare to the allocation; an assumption).
    pub spare_swap_s: f64,
    /// Mean time to repair a failed node, exponential (default 24 h: "replacing one machine through the
    /// cloud interface can take hours", OPT-175B logbook).
    pub repair_hours: f64,
    /// Continue on fewer DP replicas when no spare is left, instead of waiting for a repair.
    pub elastic: bool,
}

impl Default for RecoverySpec {
    fn default() -> Self {
        RecoverySpec {
            detection_s: 120.0,
            reschedule_s: 180.0,
            init_base_s: 20.0,
            init_s_per_1k_devices: 2.0,
            warmup_s: 120.0,
            hot_spare_nodes: None,
            spare_swap_s: 60.0,
            repair_hours: 24.0,
            elastic: false,
        }
    }
}

/// Stragglers: nodes that turn slow and slow every synchronous step until evicted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StragglerSpec {
    /// Onsets per node-hour (default 0: off; no published onset rate — MegaScale reports 0.5% of
    /// machines ~10% slow at a time).
    pub rate_per_node_hour: f64,
    /// Step slowdown while a straggler is in the job (default 0.10, MegaScale; BLOOM saw 0.05).
    pub slowdown: f64,
    /// Time to detect and evict a straggler, hours (default 2, an assumption).
    pub detection_hours: f64,
}

impl Default for StragglerSpec {
    fn default() -> Self {
        StragglerSpec { rate_per_node_hour: 0.0, slowdown: 0.10, detection_hours: 2.0 }
    }
}

/// Planned maintenance windows (firmware, kernel upgrades): the job checkpoints, stops, restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceSpec {
    pub interval_hours: f64,
    pub duration_min: f64,
}

/// Run section of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSpec {
    pub failures: FailureSpec,
    pub recovery: RecoverySpec,
    pub checkpoint: CheckpointSpec,
    pub stragglers: StragglerSpec,
    pub maintenance: Option<MaintenanceSpec>,
    /// Give up after this much wall clock, days (default 3650); the run is reported incomplete.
    pub max_days: f64,
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            failures: FailureSpec::default(),
            recovery: RecoverySpec::default(),
            checkpoint: CheckpointSpec::default(),
            stragglers: StragglerSpec::default(),
            maintenance: None,
            max_days: 3650.0,
        }
    }
}

impl RunSpec {
    /// Check every field; errors name `run.<section>.<field>`.
    pub fn check(&self, file: &str) -> Result<(), WankaError> {
        let bad = |field: &str, msg: String| Err(WankaError::Invalid { file: file.into(), field: format!("run.{field}"), msg });
        let nonneg = |v: f64| v >= 0.0 && v.is_finite();
        let f = &self.failures;
        if !(f.multiplier >= 0.0 && f.multiplier.is_finite()) {
            return bad("failures.multiplier", format!("must be >= 0, got {}", f.multiplier));
        }
        for (i, c) in f.overrides.iter().enumerate() {
            c.check(file, &format!("run.failures.overrides[{i}]"))?;
        }
        let r = &self.recovery;
        for (name, v) in [
            ("detection_s", r.detection_s),
            ("reschedule_s", r.reschedule_s),
            ("init_base_s", r.init_base_s),
            ("init_s_per_1k_devices", r.init_s_per_1k_devices),
            ("warmup_s", r.warmup_s),
            ("spare_swap_s", r.spare_swap_s),
        ] {
            if !nonneg(v) {
                return bad(&format!("recovery.{name}"), format!("must be >= 0 seconds, got {v}"));
            }
        }
        if !(r.repair_hours > 0.0 && r.repair_hours.is_finite()) {
            return bad("recovery.repair_hours", format!("must be positive, got {}", r.repair_hours));
        }
        self.checkpoint.check(file)?;
        let s = &self.stragglers;
        if !nonneg(s.rate_per_node_hour) {
            return bad("stragglers.rate_per_node_hour", format!("must be >= 0, got {}", s.rate_per_node_hour));
        }
        if !(s.slowdown >= 0.0 && s.slowdown < 1.0) {
            return bad("stragglers.slowdown", format!("must be in [0, 1), got {}", s.slowdown));
        }
        if !(s.detection_hours > 0.0 && s.detection_hours.is_finite()) {
            return bad("stragglers.detection_hours", format!("must be positive, got {}", s.detection_hours));
        }
        if let Some(m) = &self.maintenance
            && (!(m.interval_hours > 0.0 && m.interval_hours.is_finite()) || !nonneg(m.duration_min))
        {
            return bad(
                "maintenance",
                format!("needs interval_hours > 0 and duration_min >= 0, got {} h, {} min", m.interval_hours, m.duration_min),
            );
        }
        if !(self.max_days > 0.0 && self.max_days.is_finite()) {
            return bad("max_days", format!("must be positive, got {}", self.max_days));
        }
        Ok(())
    }

    /// The failure processes of a job: the profile (band and multiplier applied) with overrides.
    pub fn processes(&self, profile: &FailureProfile, devices: u64, per_node: u32) -> Vec<Process> {
        let band = match self.failures.band {
            Band::Low => profile.low_multiplier,
            Band::Mid => 1.0,
            Band::High => profile.high_multiplier,
        };
        let mut comps: Vec<Component> = profile.components.clone();
        for o in &self.failures.overrides {
            match comps.iter_mut().find(|c| c.name == o.name) {
                Some(c) => *c = o.clone(),
                None => comps.push(o.clone()),
            }
        }
        comps.iter().map(|c| Process::new(c, devices, per_node, band * self.failures.multiplier)).collect()
    }
}

/// Everything the run simulator needs, resolved from a scenario (see `Scenario::run_inputs`).
#[derive(Debug, Clone)]
pub struct RunInputs {
    pub devices: u64,
    pub gpus_per_node: u32,
    /// Useful training time needed at full size, seconds (tokens ÷ tokens/s).
    pub work_s: f64,
    /// Throughput relative to full size with `k` DP replicas lost (index k, k = 0 is 1.0), for elastic.
    pub degraded_speed: Vec<f64>,
    /// Nodes that one DP replica occupies (a lost node takes this many replicas' worth: see
    /// `replicas_per_node`).
    pub replicas_per_node: u32,
    pub checkpoint: CheckpointCost,
    /// Work between checkpoints, seconds.
    pub interval_s: f64,
    pub processes: Vec<Process>,
    pub recovery: RecoverySpec,
    pub hot_spare_nodes: u32,
    pub stragglers: StragglerSpec,
    pub maintenance: Option<MaintenanceSpec>,
    pub max_s: f64,
}

impl RunInputs {
    /// Restart time excluding detection and spare swap, seconds.
    pub fn restart_core_s(&self) -> f64 {
        let r = &self.recovery;
        r.reschedule_s + r.init_base_s + r.init_s_per_1k_devices * self.devices as f64 / 1000.0 + self.checkpoint.load_s + r.warmup_s
    }
}

/// Time lost, by cause, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LostTime {
    pub rework_s: f64,
    pub restart_s: f64,
    pub checkpoint_s: f64,
    pub spare_wait_s: f64,
    pub straggler_s: f64,
    pub maintenance_s: f64,
}

impl LostTime {
    pub fn total_s(&self) -> f64 {
        self.rework_s + self.restart_s + self.checkpoint_s + self.spare_wait_s + self.straggler_s + self.maintenance_s
    }
}

/// Mean time lost per cause over Monte Carlo seeds, days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LostDays {
    pub rework_days: f64,
    pub restart_days: f64,
    pub checkpoint_days: f64,
    pub spare_wait_days: f64,
    pub straggler_days: f64,
    pub maintenance_days: f64,
}

impl LostDays {
    pub fn total_days(&self) -> f64 {
        self.rework_days + self.restart_days + self.checkpoint_days + self.spare_wait_days + self.straggler_days + self.maintenance_days
    }
}

/// One simulated run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub seed: u64,
    /// The token target was reached before `max_days`.
    pub completed: bool,
    pub wall_s: f64,
    pub useful_s: f64,
    /// Useful training ÷ elapsed.
    pub ettr: f64,
    pub lost: LostTime,
    /// Unplanned interruptions (failures and straggler evictions).
    pub interruptions: u64,
    pub interruptions_by_cause: BTreeMap<String, u64>,
    pub checkpoints: u64,
    pub spares_used: u64,
    pub stragglers: u64,
    pub maintenance_windows: u64,
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    pub t_s: f64,
    pub kind: String,
    pub detail: String,
    /// Useful work done so far, seconds (at full speed), for progress plots.
    pub work_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Failure(usize),
    /// Running job reaches its next checkpoint or the end.
    Milestone(u64),
    /// Checkpoint stall over.
    StallEnd(u64),
    /// Background checkpoint write durable.
    Durable(u64),
    DetectEnd(u64),
    RestartEnd(u64),
    Repaired,
    StragglerOnset,
    StragglerEvict(u64),
    Maintenance,
    MaintenanceEnd(u64),
    Horizon,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Stalled,
    Detecting,
    Waiting,
    Recovering,
    Maintenance,
    Done,
}

#[derive(Default)]
struct Acct {
    useful: Ticks,
    rework: Ticks,
    restart: Ticks,
    checkpoint: Ticks,
    spare_wait: Ticks,
    straggler: Ticks,
    maintenance: Ticks,
}

struct Sim<'a> {
    inp: &'a RunInputs,
    q: EventQueue<Ev>,
    phase: Phase,
    since: Ticks,
    epoch: u64,
    work: Ticks,
    committed: Ticks,
    target: Ticks,
    interval: Ticks,
    /// Work at which the next checkpoint is due.
    next_ckpt_at: Ticks,
    /// Background writes in flight: (id, work snapshot), oldest first.
    pending: Vec<(u64, Ticks)>,
    ckpt_id: u64,
    snapshot: Ticks,
    acct: Acct,
    spares_free: u32,
    nodes_short: u32,
    /// DP replicas lost in elastic mode.
    degraded: u32,
    stragglers_active: u32,
    straggler_ids: u64,
    swap_needed: bool,
    maint_after_stall: bool,
    out: RunOutcome,
    log: Option<Vec<LogEvent>>,
    rng_repair: rand::rngs::Xoshiro256PlusPlus,
    rng_straggler: rand::rngs::Xoshiro256PlusPlus,
    rng_fail: Vec<rand::rngs::Xoshiro256PlusPlus>,
    next_fail_h: Vec<Option<f64>>,
}

impl<'a> Sim<'a> {
    fn speed(&self) -> f64 {
        let straggle = if self.stragglers_active > 0 { 1.0 - self.inp.stragglers.slowdown } else { 1.0 };
        let degraded = self.inp.degraded_speed.get(self.degraded as usize).copied().unwrap_or(0.0);
        straggle * degraded
    }

    fn log(&mut self, now: Ticks, kind: &str, detail: String) {
        if let Some(l) = self.log.as_mut() {
            l.push(LogEvent { t_s: secs(now), kind: kind.into(), detail, work_s: secs(self.work) });
        }
    }

    /// Attribute the time since the current phase began, up to `now`.
    fn close(&mut self, now: Ticks) {
        let dt = now - self.since;
        self.since = now;
        match self.phase {
            Phase::Running => {
                let full = self.inp.degraded_speed.get(self.degraded as usize).copied().unwrap_or(0.0);
                let sp = self.speed();
                let useful = ((dt as f64 * sp).round() as Ticks).min(dt).min(self.target - self.work);
                let with_stragglers = ((dt as f64 * full).round() as Ticks).min(dt).max(useful);
                self.work += useful;
                self.acct.useful += useful;
                self.acct.straggler += with_stragglers - useful;
                self.acct.spare_wait += dt - with_stragglers;
            }
            Phase::Stalled => self.acct.checkpoint += dt,
            Phase::Detecting | Phase::Recovering => self.acct.restart += dt,
            Phase::Waiting => self.acct.spare_wait += dt,
            Phase::Maintenance => self.acct.maintenance += dt,
            Phase::Done => {}
        }
    }

    fn enter(&mut self, phase: Phase, now: Ticks) {
        self.phase = phase;
        self.since = now;
        self.epoch += 1;
    }

    fn start_running(&mut self, now: Ticks) {
        self.enter(Phase::Running, now);
        self.schedule_milestone(now);
    }

    fn schedule_milestone(&mut self, now: Ticks) {
        let sp = self.speed();
        if sp <= 0.0 {
            return;
        }
        let goal = self.next_ckpt_at.min(self.target);
        let remaining = goal.saturating_sub(self.work);
        let wall = (remaining as f64 / sp).ceil() as Ticks;
        self.q.schedule_at(now + wall, Ev::Milestone(self.epoch));
    }

    fn schedule_failure(&mut self, i: usize) {
        let age_h = self.next_fail_h[i].unwrap_or(0.0);
        let next = self.inp.processes[i].next_after(age_h, &mut self.rng_fail[i]);
        self.next_fail_h[i] = next;
        if let Some(h) = next {
            let t = ticks(h * 3600.0);
            if t <= ticks(self.inp.max_s) {
                self.q.schedule_at(t, Ev::Failure(i));
            }
        }
    }

    fn begin_checkpoint(&mut self, now: Ticks) {
        self.enter(Phase::Stalled, now);
        self.snapshot = self.work;
        self.next_ckpt_at = self.work + self.interval;
        self.q.schedule_at(now + ticks(self.inp.checkpoint.stall_s), Ev::StallEnd(self.epoch));
    }

    /// Start the down sequence after an unplanned interruption at `now`.
    fn interrupt(&mut self, now: Ticks, cause: &str, needs_node: bool) {
        self.close(now);
        // Progress up to the failure, before the rollback (progress plots rise to here, then drop).
        self.log(now, "failure", cause.to_string());
        self.out.interruptions += 1;
        *self.out.interruptions_by_cause.entry(cause.to_string()).or_insert(0) += 1;
        // Work since the last durable checkpoint is lost.
        let lost = self.work - self.committed;
        self.acct.useful -= lost;
        self.acct.rework += lost;
        self.work = self.committed;
        self.next_ckpt_at = self.committed + self.interval;
        self.pending.clear();
        self.maint_after_stall = false;
        if needs_node {
            let mean_s = self.inp.recovery.repair_hours * 3600.0;
            let e: f64 = Exp1.sample(&mut self.rng_repair);
            self.q.schedule_at(now + ticks(e * mean_s), Ev::Repaired);
            if self.spares_free > 0 {
                self.spares_free -= 1;
                self.out.spares_used += 1;
                self.swap_needed = true;
            } else {
                self.nodes_short += 1;
            }
        }
        self.log(now, "interruption", format!("{cause}; lost {:.0} s of work", secs(lost)));
        self.enter(Phase::Detecting, now);
        self.q.schedule_at(now + ticks(self.inp.recovery.detection_s), Ev::DetectEnd(self.epoch));
    }

    fn after_detection(&mut self, now: Ticks) {
        if self.nodes_short > 0 && !self.inp.recovery.elastic {
            self.enter(Phase::Waiting, now);
            self.log(now, "waiting", format!("{} node(s) short, no spare", self.nodes_short));
            return;
        }
        self.degraded = if self.inp.recovery.elastic {
            (self.nodes_short * self.inp.replicas_per_node).min(self.inp.degraded_speed.len().saturating_sub(1) as u32)
        } else {
            0
        };
        self.enter(Phase::Recovering, now);
        let mut d = self.inp.restart_core_s();
        if self.swap_needed {
            d += self.inp.recovery.spare_swap_s;
        }
        self.q.schedule_at(now + ticks(d), Ev::RestartEnd(self.epoch));
    }

    fn run(mut self) -> (RunOutcome, Option<Vec<LogEvent>>) {
        let max = ticks(self.inp.max_s);
        self.q.schedule_at(max, Ev::Horizon);
        for i in 0..self.inp.processes.len() {
            self.schedule_failure(i);
        }
        let nodes = (self.inp.devices as f64 / f64::from(self.inp.gpus_per_node)).ceil();
        let straggler_rate_h = self.inp.stragglers.rate_per_node_hour * nodes;
        if straggler_rate_h > 0.0 {
            let e: f64 = Exp1.sample(&mut self.rng_straggler);
            self.q.schedule_at(ticks(e / straggler_rate_h * 3600.0), Ev::StragglerOnset);
        }
        if let Some(m) = &self.inp.maintenance {
            self.q.schedule_at(ticks(m.interval_hours * 3600.0), Ev::Maintenance);
        }
        self.log(0, "start", format!("target {:.0} s of work, checkpoint every {:.0} s", secs(self.target), secs(self.interval)));
        self.start_running(0);
        while let Some((now, ev)) = self.q.pop() {
            match ev {
                Ev::Horizon => {
                    self.close(now);
                    self.phase = Phase::Done;
                    self.log(now, "horizon", "max_days reached before the token target".into());
                    break;
                }
                Ev::Failure(i) => {
                    let p = &self.inp.processes[i];
                    let (name, repair) = (p.name.clone(), p.needs_repair);
                    self.interrupt(now, &name, repair);
                    self.schedule_failure(i);
                }
                Ev::Milestone(g) if g == self.epoch && self.phase == Phase::Running => {
                    self.close(now);
                    if self.work + 2 >= self.target.min(self.next_ckpt_at) {
                        // Rounding of the speed can leave a tick or two; they were spent working.
                        let goal = self.target.min(self.next_ckpt_at);
                        let fix = goal.saturating_sub(self.work);
                        let from_straggler = fix.min(self.acct.straggler);
                        let from_wait = (fix - from_straggler).min(self.acct.spare_wait);
                        self.acct.straggler -= from_straggler;
                        self.acct.spare_wait -= from_wait;
                        self.work += from_straggler + from_wait;
                        self.acct.useful += from_straggler + from_wait;
                    }
                    if self.work >= self.target {
                        self.phase = Phase::Done;
                        self.out.completed = true;
                        self.log(now, "done", "token target reached".into());
                        break;
                    }
                    if self.work >= self.next_ckpt_at {
                        self.begin_checkpoint(now);
                    } else {
                        self.schedule_milestone(now);
                    }
                }
                Ev::StallEnd(g) if g == self.epoch && self.phase == Phase::Stalled => {
                    self.close(now);
                    self.out.checkpoints += 1;
                    self.log(now, "checkpoint", format!("work {:.0} s saved", secs(self.snapshot)));
                    let durable_in = ticks(self.inp.checkpoint.durable_after_s - self.inp.checkpoint.stall_s);
                    if durable_in == 0 {
                        self.committed = self.snapshot;
                    } else {
                        self.ckpt_id += 1;
                        self.pending.push((self.ckpt_id, self.snapshot));
                        self.q.schedule_at(now + durable_in, Ev::Durable(self.ckpt_id));
                    }
                    if self.maint_after_stall {
                        self.maint_after_stall = false;
                        self.committed = self.snapshot; // the job waits for the write before stopping
                        let m = self.inp.maintenance.clone().expect("maintenance scheduled");
                        self.enter(Phase::Maintenance, now);
                        let d = m.duration_min * 60.0 + self.inp.restart_core_s();
                        self.q.schedule_at(now + ticks(d), Ev::MaintenanceEnd(self.epoch));
                        self.log(now, "maintenance", format!("{:.0} min window", m.duration_min));
                    } else {
                        self.start_running(now);
                    }
                }
                Ev::Durable(id) => {
                    // Writes finish in order; an interruption cleared the ones it lost.
                    if let Some(pos) = self.pending.iter().position(|(pid, _)| *pid == id) {
                        self.committed = self.committed.max(self.pending[pos].1);
                        self.pending.drain(..=pos);
                    }
                }
                Ev::DetectEnd(g) if g == self.epoch && self.phase == Phase::Detecting => {
                    self.close(now);
                    self.after_detection(now);
                }
                Ev::RestartEnd(g) if g == self.epoch && self.phase == Phase::Recovering => {
                    self.close(now);
                    self.swap_needed = false;
                    self.log(now, "resumed", format!("from work {:.0} s", secs(self.work)));
                    self.start_running(now);
                }
                Ev::Repaired => {
                    if self.nodes_short > 0 {
                        self.nodes_short -= 1;
                        self.swap_needed = true;
                        if self.phase == Phase::Waiting && self.nodes_short == 0 {
                            self.close(now);
                            self.log(now, "repaired", "node back; restarting".into());
                            self.after_detection(now);
                        }
                    } else {
                        self.spares_free += 1;
                    }
                }
                Ev::StragglerOnset => {
                    if self.phase == Phase::Running {
                        self.close(now);
                    }
                    self.stragglers_active += 1;
                    self.out.stragglers += 1;
                    self.straggler_ids += 1;
                    let id = self.straggler_ids;
                    self.q.schedule_at(now + ticks(self.inp.stragglers.detection_hours * 3600.0), Ev::StragglerEvict(id));
                    if self.phase == Phase::Running {
                        self.epoch += 1;
                        self.schedule_milestone(now);
                    }
                    self.log(now, "straggler", format!("{} slow node(s)", self.stragglers_active));
                    let rate_h = self.inp.stragglers.rate_per_node_hour * nodes;
                    let e: f64 = Exp1.sample(&mut self.rng_straggler);
                    self.q.schedule_at(now + ticks(e / rate_h * 3600.0), Ev::StragglerOnset);
                }
                Ev::StragglerEvict(_) => {
                    if self.stragglers_active == 0 {
                        continue;
                    }
                    // The slow node is evicted: an interruption that needs a replacement node; if the
                    // job was already down, the eviction happens with that restart.
                    self.stragglers_active -= 1;
                    if matches!(self.phase, Phase::Running | Phase::Stalled) {
                        self.interrupt(now, "straggler eviction", true);
                    }
                }
                Ev::Maintenance => {
                    if let Some(m) = &self.inp.maintenance {
                        self.q.schedule_at(now + ticks(m.interval_hours * 3600.0), Ev::Maintenance);
                    }
                    if self.phase == Phase::Running {
                        self.close(now);
                        self.out.maintenance_windows += 1;
                        self.begin_checkpoint(now);
                        self.maint_after_stall = true;
                    }
                }
                Ev::MaintenanceEnd(g) if g == self.epoch && self.phase == Phase::Maintenance => {
                    self.close(now);
                    self.start_running(now);
                }
                _ => {} // superseded by a later state change
            }
        }
        let a = &self.acct;
        let wall = a.useful + a.rework + a.restart + a.checkpoint + a.spare_wait + a.straggler + a.maintenance;
        self.out.wall_s = secs(wall);
        self.out.useful_s = secs(a.useful);
        self.out.ettr = if wall > 0 { a.useful as f64 / wall as f64 } else { 1.0 };
        self.out.lost = LostTime {
            rework_s: secs(a.rework),
            restart_s: secs(a.restart),
            checkpoint_s: secs(a.checkpoint),
            spare_wait_s: secs(a.spare_wait),
            straggler_s: secs(a.straggler),
            maintenance_s: secs(a.maintenance),
        };
        (self.out, self.log)
    }
}

/// Simulate one run with `seed`; with `log`, also return its event log.
pub fn simulate_run(inp: &RunInputs, seed: u64, log: bool) -> (RunOutcome, Option<Vec<LogEvent>>) {
    let n = inp.processes.len();
    let sim = Sim {
        inp,
        q: EventQueue::new(),
        phase: Phase::Running,
        since: 0,
        epoch: 0,
        work: 0,
        committed: 0,
        target: ticks(inp.work_s).max(1),
        interval: ticks(inp.interval_s).max(1),
        next_ckpt_at: ticks(inp.interval_s).max(1),
        pending: Vec::new(),
        ckpt_id: 0,
        snapshot: 0,
        acct: Acct::default(),
        spares_free: inp.hot_spare_nodes,
        nodes_short: 0,
        degraded: 0,
        stragglers_active: 0,
        straggler_ids: 0,
        swap_needed: false,
        maint_after_stall: false,
        out: RunOutcome {
            seed,
            completed: false,
            wall_s: 0.0,
            useful_s: 0.0,
            ettr: 0.0,
            lost: LostTime::default(),
            interruptions: 0,
            interruptions_by_cause: BTreeMap::new(),
            checkpoints: 0,
            spares_used: 0,
            stragglers: 0,
            maintenance_windows: 0,
        },
        log: log.then(Vec::new),
        rng_repair: rng_stream(seed, 1),
        rng_straggler: rng_stream(seed, 2),
        rng_fail: (0..n).map(|i| rng_stream(seed, 100 + i as u64)).collect(),
        next_fail_h: vec![None; n],
    };
    sim.run()
}

/// Training progress over wall-clock time across Monte Carlo seeds: for each sample time, the
/// p10/p50/p90 of the fraction of the work done (for progress plots with an uncertainty band).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressBand {
    pub t_days: Vec<f64>,
    pub p10: Vec<f64>,
    pub p50: Vec<f64>,
    pub p90: Vec<f64>,
}

/// Progress fraction of a run at time `t_s` from its event log (work is piecewise linear between
/// logged events while running, flat or falling back at interruptions).
fn progress_at(log: &[LogEvent], work_s: f64, t_s: f64) -> f64 {
    let i = log.partition_point(|e| e.t_s <= t_s);
    if i == 0 {
        return 0.0;
    }
    let a = &log[i - 1];
    let w = match log.get(i) {
        // Between two events the job either ran (work grows toward the next event's value) or was down.
        Some(b) if b.work_s > a.work_s && b.t_s > a.t_s => a.work_s + (b.work_s - a.work_s) * (t_s - a.t_s) / (b.t_s - a.t_s),
        _ => a.work_s,
    };
    (w / work_s).clamp(0.0, 1.0)
}

/// Progress band over `seeds` runs, sampled at `samples` times up to the slowest run's end.
pub fn progress_band(inp: &RunInputs, base_seed: u64, seeds: u64, samples: usize) -> ProgressBand {
    let logs: Vec<Vec<LogEvent>> =
        (0..seeds.max(1)).into_par_iter().map(|i| simulate_run(inp, base_seed.wrapping_add(i), true).1.unwrap_or_default()).collect();
    let end = logs.iter().filter_map(|l| l.last().map(|e| e.t_s)).fold(0.0, f64::max);
    let n = samples.max(2);
    let mut band =
        ProgressBand { t_days: Vec::with_capacity(n), p10: Vec::with_capacity(n), p50: Vec::with_capacity(n), p90: Vec::with_capacity(n) };
    for k in 0..n {
        let t = end * k as f64 / (n - 1) as f64;
        let xs: Vec<f64> = logs.iter().map(|l| progress_at(l, inp.work_s, t)).collect();
        let s = Stats::of(&xs);
        band.t_days.push(t / 86400.0);
        band.p10.push(s.p10);
        band.p50.push(s.p50);
        band.p90.push(s.p90);
    }
    band
}

/// Summary statistics over Monte Carlo seeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub mean: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// Statistics of `xs` (percentiles by linear interpolation between order statistics).
    pub fn of(xs: &[f64]) -> Stats {
        if xs.is_empty() {
            return Stats::default();
        }
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let x = p * (v.len() - 1) as f64;
            let (i, f) = (x.floor() as usize, x - x.floor());
            if i + 1 < v.len() { v[i] * (1.0 - f) + v[i + 1] * f } else { v[i] }
        };
        Stats { mean: v.iter().sum::<f64>() / v.len() as f64, p10: q(0.1), p50: q(0.5), p90: q(0.9), min: v[0], max: v[v.len() - 1] }
    }
}

/// Monte Carlo over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonteCarlo {
    pub seeds: u64,
    pub base_seed: u64,
    pub wall_days: Stats,
    pub ettr: Stats,
    pub interruptions: Stats,
    pub spares_used: Stats,
    /// Mean lost time per cause, days.
    pub lost_days_mean: LostDays,
    /// Mean interruptions per cause.
    pub interruptions_by_cause_mean: BTreeMap<String, f64>,
    /// Fraction of runs that reached the token target before `max_days`.
    pub completed_fraction: f64,
    pub runs: Vec<RunOutcome>,
}

/// Run `seeds` independent runs (seeds `base_seed`, `base_seed + 1`, …) in parallel. Results do not
/// depend on the number of threads: every run owns its random streams and results are kept in seed
/// order.
pub fn monte_carlo(inp: &RunInputs, base_seed: u64, seeds: u64) -> MonteCarlo {
    match monte_carlo_cancellable(inp, base_seed, seeds, &Cancel::new()) {
        Ok(m) => m,
        Err(_) => unreachable!("a fresh flag is never cancelled"),
    }
}

/// [`monte_carlo`] that stops with [`WankaError::Cancelled`] when `cancel` is set (checked per seed).
pub fn monte_carlo_cancellable(inp: &RunInputs, base_seed: u64, seeds: u64, cancel: &Cancel) -> Result<MonteCarlo, WankaError> {
    let runs: Vec<Option<RunOutcome>> = (0..seeds.max(1))
        .into_par_iter()
        .map(|i| (!cancel.is_cancelled()).then(|| simulate_run(inp, base_seed.wrapping_add(i), false).0))
        .collect();
    cancel.check()?;
    let runs: Vec<RunOutcome> = runs.into_iter().flatten().collect();
    Ok(summarize(runs, base_seed))
}

/// Aggregate finished runs.
pub fn summarize(runs: Vec<RunOutcome>, base_seed: u64) -> MonteCarlo {
    let n = runs.len() as f64;
    let col = |f: &dyn Fn(&RunOutcome) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    let day = 86400.0;
    let mut lost = LostDays::default();
    let mut causes: BTreeMap<String, f64> = BTreeMap::new();
    for r in &runs {
        lost.rework_days += r.lost.rework_s / day / n;
        lost.restart_days += r.lost.restart_s / day / n;
        lost.checkpoint_days += r.lost.checkpoint_s / day / n;
        lost.spare_wait_days += r.lost.spare_wait_s / day / n;
        lost.straggler_days += r.lost.straggler_s / day / n;
        lost.maintenance_days += r.lost.maintenance_s / day / n;
        for (k, v) in &r.interruptions_by_cause {
            *causes.entry(k.clone()).or_insert(0.0) += *v as f64 / n;
        }
    }
    MonteCarlo {
        seeds: runs.len() as u64,
        base_seed,
        wall_days: Stats::of(&col(&|r| r.wall_s / day)),
        ettr: Stats::of(&col(&|r| r.ettr)),
        interruptions: Stats::of(&col(&|r| r.interruptions as f64)),
        spares_used: Stats::of(&col(&|r| r.spares_used as f64)),
        lost_days_mean: lost,
        interruptions_by_cause_mean: causes,
        completed_fraction: runs.iter().filter(|r| r.completed).count() as f64 / n,
        runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::CheckpointCost;
    use crate::failure::{FailureLaw, Unit};
    use proptest::prelude::*;

    fn inputs(rate_per_hour: f64, repair: bool, spares: u32) -> RunInputs {
        let comp = Component {
            name: "c".into(),
            unit: Unit::Device,
            rate_per_unit_hour: rate_per_hour / 1000.0,
            distribution: FailureLaw::Exponential,
            needs_repair: repair,
        };
        RunInputs {
            devices: 1000,
            gpus_per_node: 8,
            work_s: 10.0 * 86400.0,
            degraded_speed: vec![1.0, 0.9, 0.8],
            replicas_per_node: 1,
            checkpoint: CheckpointCost { bytes: 1e12, stall_s: 30.0, durable_after_s: 90.0, load_s: 20.0 },
            interval_s: 1800.0,
            processes: vec![Process::new(&comp, 1000, 8, 1.0)],
            recovery: RecoverySpec::default(),
            hot_spare_nodes: spares,
            stragglers: StragglerSpec { rate_per_node_hour: 1e-4, ..Default::default() },
            maintenance: Some(MaintenanceSpec { interval_hours: 48.0, duration_min: 20.0 }),
            max_s: 3650.0 * 86400.0,
        }
    }

    fn sums_exactly(o: &RunOutcome) -> bool {
        (o.useful_s + o.lost.total_s() - o.wall_s).abs() <= 1e-6 * o.wall_s.max(1.0)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

        /// Useful time plus every loss equals the wall clock; ETTR in (0, 1].
        #[test]
        fn accounting_is_exact(rate in 0.0f64..2.0, repair in any::<bool>(), spares in 0u32..4, elastic in any::<bool>(), seed in 0u64..1000) {
            let mut inp = inputs(rate, repair, spares);
            inp.recovery.elastic = elastic;
            inp.recovery.repair_hours = 6.0;
            let (o, _) = simulate_run(&inp, seed, false);
            prop_assert!(sums_exactly(&o), "{o:?}");
            prop_assert!(o.ettr >= 0.0 && o.ettr <= 1.0);
            prop_assert!(!o.completed || o.ettr > 0.0);
            // Without enough spares a fast-failing job may never run long enough to finish; when it
            // does finish it has done exactly the work asked.
            if o.completed {
                prop_assert!((o.useful_s - inp.work_s).abs() < 1e-6);
            } else {
                prop_assert!(o.useful_s < inp.work_s && (o.wall_s - inp.max_s).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn zero_failures_cost_only_checkpoints() {
        let mut inp = inputs(0.0, false, 0);
        inp.stragglers.rate_per_node_hour = 0.0;
        inp.maintenance = None;
        let (o, _) = simulate_run(&inp, 7, false);
        let ckpts = (inp.work_s / inp.interval_s).ceil() - 1.0;
        assert_eq!(o.interruptions, 0);
        assert_eq!(o.checkpoints as f64, ckpts);
        let expect = inp.work_s / (inp.work_s + ckpts * inp.checkpoint.stall_s);
        assert!((o.ettr - expect).abs() < 1e-12, "{} vs {expect}", o.ettr);
        assert_eq!(o.lost.checkpoint_s, ckpts * 30.0);
    }

    #[test]
    fn doubling_failure_rates_never_shortens_the_expected_run() {
        let mut prev = 0.0;
        for rate in [0.05, 0.1, 0.2, 0.4, 0.8] {
            let mc = monte_carlo(&inputs(rate, true, 2), 11, 64);
            assert!(mc.wall_days.mean >= prev, "rate {rate}: {} < {prev}", mc.wall_days.mean);
            prev = mc.wall_days.mean;
        }
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        let inp = inputs(0.5, true, 1);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| monte_carlo(&inp, 3, 40));
        let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| monte_carlo(&inp, 3, 40));
        assert_eq!(serde_json::to_string(&one).unwrap(), serde_json::to_string(&two).unwrap());
    }

    #[test]
    fn no_spares_means_waiting_for_repairs() {
        let mut inp = inputs(1.0, true, 0);
        inp.recovery.repair_hours = 12.0;
        let (o, _) = simulate_run(&inp, 5, false);
        assert!(o.lost.spare_wait_s > 0.0);
        let mut with_spares = inp.clone();
        with_spares.hot_spare_nodes = 50;
        let (o2, _) = simulate_run(&with_spares, 5, false);
        assert_eq!(o2.lost.spare_wait_s, 0.0);
        assert!(o2.wall_s < o.wall_s);
        // Elastic: keep going on fewer replicas instead of waiting.
        let mut el = inp.clone();
        el.recovery.elastic = true;
        let (o3, _) = simulate_run(&el, 5, false);
        assert!(o3.wall_s < o.wall_s, "{} vs {}", o3.wall_s, o.wall_s);
    }

    #[test]
    fn async_checkpoint_exposes_work_until_durable() {
        // Same stall; a longer background write can only lose more work.
        let mut a = inputs(1.0, false, 0);
        a.checkpoint.durable_after_s = a.checkpoint.stall_s;
        let mut b = a.clone();
        b.checkpoint.durable_after_s = 900.0;
        let ma = monte_carlo(&a, 1, 64);
        let mb = monte_carlo(&b, 1, 64);
        assert!(mb.lost_days_mean.rework_days > ma.lost_days_mean.rework_days);
    }

    #[test]
    fn event_log_is_deterministic_and_ordered() {
        let inp = inputs(0.5, true, 20);
        let (_, l1) = simulate_run(&inp, 9, true);
        let (_, l2) = simulate_run(&inp, 9, true);
        let l1 = l1.unwrap();
        assert_eq!(Some(l1.clone()), l2);
        assert!(l1.windows(2).all(|w| w[0].t_s <= w[1].t_s));
        assert!(l1.iter().any(|e| e.kind == "interruption"));
        assert_eq!(l1.last().unwrap().kind, "done");
    }

    #[test]
    fn bad_run_specs_are_rejected() {
        let mut r = RunSpec::default();
        r.failures.multiplier = -1.0;
        assert!(r.check("x.ron").unwrap_err().to_string().contains("run.failures.multiplier"));
        let mut r = RunSpec::default();
        r.checkpoint.storage_write_gb_per_s_per_device = 0.0;
        assert!(r.check("x.ron").unwrap_err().to_string().contains("storage_write_gb_per_s_per_device"));
        let mut r = RunSpec::default();
        r.stragglers.slowdown = 1.5;
        assert!(r.check("x.ron").is_err());
    }
}

#[cfg(test)]
mod band_tests {
    use super::*;
    use crate::failure::{FailureLaw, Unit};

    #[test]
    fn progress_band_is_monotone_in_quantiles_and_ends_done() {
        let comp = Component {
            name: "c".into(),
            unit: Unit::Device,
            rate_per_unit_hour: 2e-4,
            distribution: FailureLaw::Exponential,
            needs_repair: false,
        };
        let inp = RunInputs {
            devices: 1000,
            gpus_per_node: 8,
            work_s: 5.0 * 86400.0,
            degraded_speed: vec![1.0],
            replicas_per_node: 1,
            checkpoint: crate::checkpoint::CheckpointCost { bytes: 1e12, stall_s: 30.0, durable_after_s: 30.0, load_s: 20.0 },
            interval_s: 1800.0,
            processes: vec![Process::new(&comp, 1000, 8, 1.0)],
            recovery: RecoverySpec::default(),
            hot_spare_nodes: 0,
            stragglers: StragglerSpec::default(),
            maintenance: None,
            max_s: 1e9,
        };
        let b = progress_band(&inp, 1, 20, 50);
        assert_eq!(b.t_days.len(), 50);
        for k in 0..50 {
            assert!(b.p10[k] <= b.p50[k] + 1e-12 && b.p50[k] <= b.p90[k] + 1e-12);
        }
        assert!((b.p10[49] - 1.0).abs() < 1e-9, "all runs finish by the last sample");
        assert_eq!(b.p50[0], 0.0);
        assert!(b.p50[25] > 0.3 && b.p50[25] < 0.9, "{}", b.p50[25]);
    }
}
