//! The whole training run: from first step to last token, with failures, checkpoints, restarts, hot
//! spares, repairs, stragglers and planned maintenance, on the shared event engine.
//!
//! The job advances at the step simulator's throughput toward its token target; there are no per-step
//! events. Events are component failures (one pending per component, see [`crate::run::failure`]),
//! checkpoint starts and completions, detection, spare swaps, repairs, straggler onsets and evictions,
//! maintenance windows and the end of training. Between two such events the job's checkpoint
//! cycles repeat exactly, so a quiet stretch is advanced in closed form (`Sim::skip_quiet_cycles`)
//! and a run costs in proportion to its interruptions, not its checkpoints; with an event log asked
//! for, every checkpoint is stepped and logged instead, with the same outcome. Every nanosecond of wall clock is attributed to exactly
//! one of: useful training, rework (work since the last durable checkpoint, lost to an interruption),
//! restart (detection, swap, rescheduling, collective init, checkpoint load, warm-up), checkpoint stalls,
//! waiting for spares (no spare: waiting for a repair, or running on fewer DP replicas in elastic mode),
//! straggler slowdown, and planned maintenance — the parts sum exactly to the wall clock.
//!
//! Semantics (Daly's): a failure during a checkpoint loses the checkpoint and the work before it; a
//! failure during a restart starts the restart over; an asynchronous checkpoint protects work only once
//! its background write is durable. Not modelled: partial-job failures that do not stop training,
//! loss spikes and rollbacks, data-loader stalls, diurnal throughput swings.

use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

use crate::engine::{EventQueue, Ticks, rng_stream, secs, ticks};
use crate::run::checkpoint::CheckpointCost;
use crate::run::failure::Process;
use crate::run::spec::{MaintenanceSpec, RecoverySpec, StragglerSpec};

/// Everything the run simulator needs, resolved from a scenario (see `Scenario::run_inputs`).
#[derive(Debug, Clone, PartialEq)]
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

/// Mean time lost per cause over Monte Carlo seeds, days. Serialised as `lost_rework_days`, …: the
/// names of the sweep columns (docs/OUTPUTS.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LostDays {
    #[serde(rename = "lost_rework_days")]
    pub rework_days: f64,
    #[serde(rename = "lost_restart_days")]
    pub restart_days: f64,
    #[serde(rename = "lost_checkpoint_days")]
    pub checkpoint_days: f64,
    #[serde(rename = "lost_spare_wait_days")]
    pub spare_wait_days: f64,
    #[serde(rename = "lost_straggler_days")]
    pub straggler_days: f64,
    #[serde(rename = "lost_maintenance_days")]
    pub maintenance_days: f64,
}

impl LostDays {
    pub fn total_days(&self) -> f64 {
        self.rework_days + self.restart_days + self.checkpoint_days + self.spare_wait_days + self.straggler_days + self.maintenance_days
    }
}

/// One simulated run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub seed: u64,
    /// The token target was reached before `max_days`.
    pub completed: bool,
    pub wall_s: f64,
    pub useful_s: f64,
    /// Useful training ÷ elapsed.
    pub ettr: f64,
    pub lost: LostTime,
    /// Unplanned interruptions of a running job (failures and straggler evictions while it trained or
    /// checkpointed).
    pub interruptions: u64,
    /// Failures that struck while the job was already down (detecting, restarting, waiting for a node,
    /// in maintenance): no interruption, but a node to replace when the component needs a repair, and
    /// a restart in progress starts over.
    pub failures_while_down: u64,
    pub interruptions_by_cause: BTreeMap<String, u64>,
    pub checkpoints: u64,
    pub spares_used: u64,
    pub stragglers: u64,
    pub maintenance_windows: u64,
}

impl RunOutcome {
    /// Events the run's log holds, from its counters: start and end, a save per checkpoint,
    /// failure + interruption + resume (or waiting + repaired) per interruption, straggler onsets and
    /// maintenance windows.
    pub fn log_events(&self) -> u64 {
        2 + self.checkpoints + 4 * self.interruptions + self.stragglers + self.maintenance_windows
    }
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

/// A background checkpoint write: durable at `at` (ordered against heap events by `(at, seq)`),
/// protecting the work up to `snapshot`.
#[derive(Debug, Clone, Copy)]
struct PendingWrite {
    at: Ticks,
    seq: u64,
    snapshot: Ticks,
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
    /// Background checkpoint writes in flight, oldest first. They are kept out of the event heap
    /// (each with the sequence number it would have had there) so that a quiet stretch can be
    /// advanced in closed form past them; see [`Sim::skip_quiet_cycles`].
    pending: VecDeque<PendingWrite>,
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
    /// Per lemon process: the failures of each lemon still in the job (empty for other processes).
    lemon_failures: Vec<Vec<u32>>,
}

impl<'a> Sim<'a> {
    fn speed(&self) -> f64 {
        let straggle = if self.stragglers_active > 0 { 1.0 - self.inp.stragglers.slowdown } else { 1.0 };
        let degraded = self.inp.degraded_speed.get(self.degraded as usize).copied().unwrap_or(0.0);
        straggle * degraded
    }

    /// Append to the event log when one was asked for. The detail is built only then: formatting
    /// numbers for a log nobody reads was 40% of a run's time.
    fn log(&mut self, now: Ticks, kind: &str, detail: impl FnOnce() -> String) {
        if let Some(l) = self.log.as_mut() {
            l.push(LogEvent { t_s: secs(now), kind: kind.into(), detail: detail(), work_s: secs(self.work) });
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
        self.q.schedule_at(now.saturating_add(wall), Ev::Milestone(self.epoch));
    }

    /// A lemon process failed: one of its active lemons (drawn uniformly) counts the failure and is
    /// replaced by a healthy node at its `retire_after`-th.
    fn retire_lemon(&mut self, i: usize) {
        let Some((_, retire_after)) = self.inp.processes[i].lemons() else { return };
        let counts = &mut self.lemon_failures[i];
        if counts.is_empty() {
            return;
        }
        let k = self.rng_fail[i].random_range(0..counts.len());
        counts[k] += 1;
        if counts[k] >= retire_after {
            counts.swap_remove(k);
        }
    }

    fn schedule_failure(&mut self, i: usize) {
        let age_h = self.next_fail_h[i].unwrap_or(0.0);
        let p = &self.inp.processes[i];
        let next = match p.lemons() {
            Some(_) => p.next_after_active(age_h, self.lemon_failures[i].len() as f64, &mut self.rng_fail[i]),
            None => p.next_after(age_h, &mut self.rng_fail[i]),
        };
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
        self.next_ckpt_at = self.work.saturating_add(self.interval);
        self.q.schedule_at(now.saturating_add(ticks(self.inp.checkpoint.stall_s)), Ev::StallEnd(self.epoch));
    }

    /// Start the down sequence after an unplanned interruption at `now`.
    fn interrupt(&mut self, now: Ticks, cause: &str, nodes_lost: u32) {
        self.close(now);
        // Progress up to the failure, before the rollback (progress plots rise to here, then drop).
        self.log(now, "failure", || cause.to_string());
        self.out.interruptions += 1;
        match self.out.interruptions_by_cause.get_mut(cause) {
            Some(n) => *n += 1,
            None => {
                self.out.interruptions_by_cause.insert(cause.to_string(), 1);
            }
        }
        // Work since the last durable checkpoint is lost.
        let lost = self.work - self.committed;
        self.acct.useful -= lost;
        self.acct.rework += lost;
        self.work = self.committed;
        self.next_ckpt_at = self.committed.saturating_add(self.interval);
        self.pending.clear();
        self.maint_after_stall = false;
        for _ in 0..nodes_lost {
            self.lose_node(now);
        }
        self.log(now, "interruption", || format!("{cause}; lost {:.0} s of work", secs(lost)));
        self.enter(Phase::Detecting, now);
        self.q.schedule_at(now.saturating_add(ticks(self.inp.recovery.detection_s)), Ev::DetectEnd(self.epoch));
    }

    /// A node leaves the job for repair: a hot spare replaces it, or the job is a node short.
    fn lose_node(&mut self, now: Ticks) {
        let mean_s = self.inp.recovery.repair_hours * 3600.0;
        let e: f64 = Exp1.sample(&mut self.rng_repair);
        self.q.schedule_at(now.saturating_add(ticks(e * mean_s)), Ev::Repaired);
        if self.spares_free > 0 {
            self.spares_free -= 1;
            self.out.spares_used += 1;
            self.swap_needed = true;
        } else {
            self.nodes_short += 1;
        }
    }

    /// A failure while the job is already down is not an interruption: nothing is running to lose.
    /// A failed node still has to be replaced, and a restart in progress starts over (Daly's
    /// semantics: a failure during a restart repeats it); detection, waiting for a node and
    /// maintenance go on.
    fn fail_while_down(&mut self, now: Ticks, cause: &str, nodes_lost: u32) {
        self.out.failures_while_down += 1;
        self.log(now, "failure while down", || cause.to_string());
        for _ in 0..nodes_lost {
            self.lose_node(now);
        }
        if self.phase == Phase::Recovering {
            self.close(now);
            self.enter(Phase::Detecting, now);
            self.q.schedule_at(now.saturating_add(ticks(self.inp.recovery.detection_s)), Ev::DetectEnd(self.epoch));
        }
    }

    fn after_detection(&mut self, now: Ticks) {
        if self.nodes_short > 0 && !self.inp.recovery.elastic {
            self.enter(Phase::Waiting, now);
            let short = self.nodes_short;
            self.log(now, "waiting", || format!("{short} node(s) short, no spare"));
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
        self.q.schedule_at(now.saturating_add(ticks(d)), Ev::RestartEnd(self.epoch));
    }

    fn run(mut self) -> (RunOutcome, Option<Vec<LogEvent>>) {
        let max = ticks(self.inp.max_s);
        self.q.schedule_at(max, Ev::Horizon);
        for i in 0..self.inp.processes.len() {
            self.schedule_failure(i);
        }
        let straggler_rate_h = self.straggler_rate_per_hour();
        if straggler_rate_h > 0.0 {
            let e: f64 = Exp1.sample(&mut self.rng_straggler);
            self.q.schedule_at(ticks(e / straggler_rate_h * 3600.0), Ev::StragglerOnset);
        }
        if let Some(m) = &self.inp.maintenance {
            self.q.schedule_at(ticks(m.interval_hours * 3600.0), Ev::Maintenance);
        }
        let (target, interval) = (secs(self.target), secs(self.interval));
        self.log(0, "start", || format!("target {target:.0} s of work, checkpoint every {interval:.0} s"));
        self.start_running(0);
        loop {
            self.settle_writes();
            let Some((now, ev)) = self.q.pop() else { break };
            match ev {
                Ev::Horizon => {
                    self.close(now);
                    self.phase = Phase::Done;
                    self.log(now, "horizon", || "max_days reached before the token target".into());
                    break;
                }
                Ev::Failure(i) => {
                    let inp = self.inp; // borrowed for 'a, not from self: no clone of the name
                    let p = &inp.processes[i];
                    let lost = if p.needs_repair { p.nodes_per_event } else { 0 };
                    self.retire_lemon(i);
                    if matches!(self.phase, Phase::Running | Phase::Stalled) {
                        self.interrupt(now, &p.name, lost);
                    } else {
                        self.fail_while_down(now, &p.name, lost);
                    }
                    self.schedule_failure(i);
                }
                Ev::Milestone(g) if g == self.epoch && self.phase == Phase::Running => {
                    let done = self.on_milestone(now);
                    if done {
                        break;
                    }
                }
                Ev::StallEnd(g) if g == self.epoch && self.phase == Phase::Stalled => self.on_stall_end(now),
                Ev::DetectEnd(g) if g == self.epoch && self.phase == Phase::Detecting => {
                    self.close(now);
                    self.after_detection(now);
                }
                Ev::RestartEnd(g) if g == self.epoch && self.phase == Phase::Recovering => {
                    self.close(now);
                    self.swap_needed = false;
                    let work = secs(self.work);
                    self.log(now, "resumed", || format!("from work {work:.0} s"));
                    self.start_running(now);
                }
                Ev::Repaired => self.on_repaired(now),
                Ev::StragglerOnset => self.on_straggler_onset(now),
                Ev::StragglerEvict(_) => self.on_straggler_evict(now),
                Ev::Maintenance => self.on_maintenance(now),
                Ev::MaintenanceEnd(g) if g == self.epoch && self.phase == Phase::Maintenance => {
                    self.close(now);
                    if self.nodes_short > 0 {
                        // A node failed during the window and no spare was left: wait for it.
                        let short = self.nodes_short;
                        self.log(now, "down after maintenance", || format!("{short} node(s) short"));
                        self.after_detection(now);
                    } else {
                        self.swap_needed = false;
                        self.start_running(now);
                    }
                }
                _ => {} // superseded by a later state change
            }
        }
        self.finish()
    }

    /// Straggler onsets per hour over the job's nodes.
    fn straggler_rate_per_hour(&self) -> f64 {
        let nodes = (self.inp.devices as f64 / f64::from(self.inp.gpus_per_node)).ceil();
        self.inp.stragglers.rate_per_node_hour * nodes
    }

    /// The job reached its next checkpoint or its token target; true when training is done.
    fn on_milestone(&mut self, now: Ticks) -> bool {
        self.close(now);
        if self.work.saturating_add(2) >= self.target.min(self.next_ckpt_at) {
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
            self.log(now, "done", || "token target reached".into());
            return true;
        }
        if self.work >= self.next_ckpt_at {
            let now = self.skip_quiet_cycles(now);
            self.begin_checkpoint(now);
        } else {
            self.schedule_milestone(now);
        }
        false
    }

    /// Advance whole checkpoint cycles (stall, then `interval` of work) in closed form while nothing
    /// else can happen: the job runs at full speed, no maintenance stop is waiting for this
    /// checkpoint, and every event of the skipped cycles falls strictly before the heap's next event
    /// (a failure, repair, straggler, maintenance window or the horizon). Called where the event
    /// loop would begin a checkpoint at `now`; returns the time at which it begins the checkpoint
    /// that follows the skipped cycles, in the same state the event-by-event loop reaches there —
    /// same counts and accounts to the tick, the same writes in flight — so outcomes are
    /// bit-identical (a test compares runs with the event log on, where nothing is skipped). The
    /// cost of a run then grows with its interruptions, not with its checkpoints.
    fn skip_quiet_cycles(&mut self, now: Ticks) -> Ticks {
        let full = self.inp.degraded_speed.get(self.degraded as usize).copied().unwrap_or(0.0);
        if self.log.is_some() || self.maint_after_stall || self.speed() != 1.0 || full != 1.0 || self.work != self.next_ckpt_at {
            return now;
        }
        let (stall, interval) = (ticks(self.inp.checkpoint.stall_s), self.interval);
        let cycle = stall.saturating_add(interval);
        let Some(next) = self.q.peek_time() else { return now };
        // Cycles whose last event (the milestone that begins the next checkpoint) is before `next`,
        // and whose work stays short of the target (the run's end is not a checkpoint).
        let by_time = next.saturating_sub(now).saturating_sub(1) / cycle.max(1);
        let by_work = (self.target - self.work).saturating_sub(1) / interval;
        let n = by_time.min(by_work);
        if n == 0 {
            return now;
        }
        let end = now + n * cycle;
        // Writes of the skipped checkpoints: checkpoint k (k < n) snapshots work + k·interval and
        // ends its stall at now + k·cycle + stall.
        let durable_in = self.durable_in();
        let first_snapshot = self.work;
        if durable_in == 0 {
            self.committed = first_snapshot + (n - 1) * interval;
        } else {
            // Writes durable by `end` (before the milestone there: scheduled earlier) settle now,
            // in order, after any still in flight from before; the rest stay in flight.
            while self.pending.front().is_some_and(|w| w.at <= end) {
                let w = self.pending.pop_front().expect("checked");
                self.committed = self.committed.max(w.snapshot);
            }
            let at = |k: u64| (now + k * cycle + stall).saturating_add(durable_in);
            // The first skipped checkpoint whose write is still in flight at `end` (at(k) grows with k).
            let in_flight = (0..n).rev().take_while(|&k| at(k) > end).last().unwrap_or(n);
            if in_flight > 0 {
                self.committed = self.committed.max(first_snapshot + (in_flight - 1) * interval);
            }
            for k in in_flight..n {
                let seq = self.q.reserve_seq();
                self.pending.push_back(PendingWrite { at: at(k), seq, snapshot: first_snapshot + k * interval });
            }
        }
        self.work += n * interval;
        self.next_ckpt_at = self.work;
        self.snapshot = self.work - interval;
        self.acct.useful += n * interval;
        self.acct.checkpoint += n * stall;
        self.out.checkpoints += n;
        self.epoch += 2 * n;
        self.since = end;
        end
    }

    /// A checkpoint's stall ended: the write continues in the background (asynchronous) or is durable;
    /// then run on, or stop for a maintenance window.
    fn on_stall_end(&mut self, now: Ticks) {
        self.close(now);
        self.out.checkpoints += 1;
        let saved = secs(self.snapshot);
        self.log(now, "checkpoint", || format!("work {saved:.0} s saved"));
        let durable_in = self.durable_in();
        if durable_in == 0 {
            self.committed = self.snapshot;
        } else {
            let seq = self.q.reserve_seq();
            self.pending.push_back(PendingWrite { at: now.saturating_add(durable_in), seq, snapshot: self.snapshot });
        }
        if self.maint_after_stall {
            self.maint_after_stall = false;
            self.committed = self.snapshot; // the job waits for the write before stopping
            let m = self.inp.maintenance.clone().expect("maintenance scheduled");
            self.enter(Phase::Maintenance, now);
            let d = m.duration_min * 60.0 + self.inp.restart_core_s();
            self.q.schedule_at(now.saturating_add(ticks(d)), Ev::MaintenanceEnd(self.epoch));
            self.log(now, "maintenance", || format!("{:.0} min window", m.duration_min));
        } else {
            self.start_running(now);
        }
    }

    /// Time from a checkpoint's stall end until its write is durable (0: durable at the stall's end).
    fn durable_in(&self) -> Ticks {
        ticks(self.inp.checkpoint.durable_after_s - self.inp.checkpoint.stall_s)
    }

    /// Background writes that became durable before the heap's next event (`(at, seq)` before its
    /// key, as the heap would have ordered them). Writes finish in order; an interruption cleared
    /// the ones it lost.
    fn settle_writes(&mut self) {
        let next = self.q.peek_key();
        while let Some(w) = self.pending.front() {
            if next.is_some_and(|k| (w.at, w.seq) > k) {
                break;
            }
            self.committed = self.committed.max(w.snapshot);
            self.pending.pop_front();
        }
    }

    /// A node came back from repair: it fills a missing node, or becomes a spare.
    fn on_repaired(&mut self, now: Ticks) {
        if self.nodes_short > 0 {
            self.nodes_short -= 1;
            self.swap_needed = true;
            if self.phase == Phase::Waiting && self.nodes_short == 0 {
                self.close(now);
                self.log(now, "repaired", || "node back; restarting".into());
                self.after_detection(now);
            }
        } else {
            self.spares_free += 1;
        }
    }

    /// A node turned slow: the job runs slower until it is evicted; the next onset is drawn.
    fn on_straggler_onset(&mut self, now: Ticks) {
        if self.phase == Phase::Running {
            self.close(now);
        }
        self.stragglers_active += 1;
        self.out.stragglers += 1;
        self.straggler_ids += 1;
        let id = self.straggler_ids;
        self.q.schedule_at(now.saturating_add(ticks(self.inp.stragglers.detection_hours * 3600.0)), Ev::StragglerEvict(id));
        if self.phase == Phase::Running {
            self.epoch += 1;
            self.schedule_milestone(now);
        }
        let slow = self.stragglers_active;
        self.log(now, "straggler", || format!("{slow} slow node(s)"));
        let rate_h = self.straggler_rate_per_hour();
        let e: f64 = Exp1.sample(&mut self.rng_straggler);
        self.q.schedule_at(now.saturating_add(ticks(e / rate_h * 3600.0)), Ev::StragglerOnset);
    }

    /// A straggler is evicted (if one is still in the job).
    fn on_straggler_evict(&mut self, now: Ticks) {
        if self.stragglers_active == 0 {
            return;
        }
        // The slow node is evicted: an interruption that needs a replacement node; if the
        // job was already down, the eviction happens with that restart.
        self.stragglers_active -= 1;
        if matches!(self.phase, Phase::Running | Phase::Stalled) {
            self.interrupt(now, "straggler eviction", 1);
        }
    }

    /// A maintenance window is due: checkpoint, then stop (the next window is scheduled).
    fn on_maintenance(&mut self, now: Ticks) {
        if let Some(m) = &self.inp.maintenance {
            self.q.schedule_at(now.saturating_add(ticks(m.interval_hours * 3600.0)), Ev::Maintenance);
        }
        if self.phase == Phase::Running {
            self.close(now);
            self.out.maintenance_windows += 1;
            self.begin_checkpoint(now);
            self.maint_after_stall = true;
        }
    }

    /// The outcome: wall clock as the sum of the accounted parts, ETTR, time lost by cause.
    fn finish(self) -> (RunOutcome, Option<Vec<LogEvent>>) {
        let mut out = self.out;
        let a = &self.acct;
        let wall = a.useful + a.rework + a.restart + a.checkpoint + a.spare_wait + a.straggler + a.maintenance;
        out.wall_s = secs(wall);
        out.useful_s = secs(a.useful);
        out.ettr = if wall > 0 { a.useful as f64 / wall as f64 } else { 1.0 };
        out.lost = LostTime {
            rework_s: secs(a.rework),
            restart_s: secs(a.restart),
            checkpoint_s: secs(a.checkpoint),
            spare_wait_s: secs(a.spare_wait),
            straggler_s: secs(a.straggler),
            maintenance_s: secs(a.maintenance),
        };
        (out, self.log)
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
        pending: VecDeque::new(),
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
            failures_while_down: 0,
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
        lemon_failures: inp.processes.iter().map(|p| p.lemons().map_or(Vec::new(), |(n, _)| vec![0; n as usize])).collect(),
    };
    sim.run()
}

#[cfg(test)]
mod tests;
