//! Monte Carlo over seeds: independent runs in parallel, summary statistics, progress bands.
//!
//! A run's whole [`RunOutcome`] lives only until it is folded, in seed order, into the summary: the
//! Monte Carlo keeps a fixed-size [`SeedRun`] per seed (what the quantiles and per-seed readers need)
//! and the first seed's whole outcome, so memory per seed does not grow with what a run records.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cancel::Cancel;
use crate::error::WankaError;
use crate::run::sim::{LogEvent, LostDays, LostTime, RunInputs, RunOutcome, simulate_run};
use std::collections::BTreeMap;

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

/// One seed's run reduced to the numbers the Monte Carlo's readers take per seed: the wall clock
/// (the model-error bands, the reliability checks' pooled up time), the quantiles' columns, and the
/// losses by cause (the app's per-seed loss bars). Fixed size, no heap: the full [`RunOutcome`]
/// (its per-cause map) is kept only for the first seed ([`MonteCarlo::first`]). The seed is
/// `base_seed + index` ([`MonteCarlo::per_seed`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SeedRun {
    pub wall_s: f64,
    pub ettr: f64,
    pub lost: LostTime,
    pub interruptions: u64,
    pub failures_while_down: u64,
    pub spares_used: u64,
}

impl SeedRun {
    fn of(r: &RunOutcome) -> SeedRun {
        SeedRun {
            wall_s: r.wall_s,
            ettr: r.ettr,
            lost: r.lost,
            interruptions: r.interruptions,
            failures_while_down: r.failures_while_down,
            spares_used: r.spares_used,
        }
    }
}

/// Monte Carlo over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonteCarlo {
    pub seeds: u64,
    pub base_seed: u64,
    /// Wall clock of the whole run, days (`days` in JSON, as in `compare`; the sweep's `days_p50`, …).
    #[serde(rename = "days")]
    pub wall_days: Stats,
    pub ettr: Stats,
    pub interruptions: Stats,
    /// Failures while the job was already down (not interruptions; see [`RunOutcome::failures_while_down`]).
    pub failures_while_down: Stats,
    pub spares_used: Stats,
    /// Mean lost time per cause, days.
    pub lost_days_mean: LostDays,
    /// Mean interruptions per cause.
    pub interruptions_by_cause_mean: BTreeMap<String, f64>,
    /// Fraction of runs that reached the token target before `max_days`.
    pub completed_fraction: f64,
    /// Every seed's run, compact, in seed order (not in JSON).
    #[serde(skip)]
    pub seed_runs: Vec<SeedRun>,
    /// The first seed's (`base_seed`'s) whole run (not in JSON).
    #[serde(skip)]
    pub first: RunOutcome,
    /// Events the runs' logs would hold, summed over the seeds ([`RunOutcome::log_events`]; not in JSON).
    #[serde(skip)]
    pub log_events_total: u64,
}

impl MonteCarlo {
    /// Every seed with its compact run, in seed order.
    pub fn per_seed(&self) -> impl Iterator<Item = (u64, &SeedRun)> {
        self.seed_runs.iter().enumerate().map(|(i, r)| (self.base_seed.wrapping_add(i as u64), r))
    }
}

/// Seeds simulated at once: their whole outcomes are held until folded, in seed order, into the
/// summary; memory stays bounded for any number of seeds.
const CHUNK_SEEDS: u64 = 4096;

/// Run `seeds` independent runs (seeds `base_seed`, `base_seed + 1`, …) in parallel. Results do not
/// depend on the number of threads: every run owns its random streams and runs are folded into the
/// summary in seed order.
pub fn monte_carlo(inp: &RunInputs, base_seed: u64, seeds: u64) -> MonteCarlo {
    match monte_carlo_cancellable(inp, base_seed, seeds, &Cancel::new()) {
        Ok(m) => m,
        Err(_) => unreachable!("a fresh flag is never cancelled"),
    }
}

/// [`monte_carlo`] that stops with [`WankaError::Cancelled`] when `cancel` is set (checked per seed).
pub fn monte_carlo_cancellable(inp: &RunInputs, base_seed: u64, seeds: u64, cancel: &Cancel) -> Result<MonteCarlo, WankaError> {
    let total = seeds.max(1);
    let mut acc = Summary::new(total);
    let mut start = 0;
    while start < total {
        let end = total.min(start + CHUNK_SEEDS);
        let runs: Vec<Option<RunOutcome>> = (start..end)
            .into_par_iter()
            .map(|i| {
                (!cancel.is_cancelled()).then(|| {
                    let run = simulate_run(inp, base_seed.wrapping_add(i), false).0;
                    cancel.advance();
                    run
                })
            })
            .collect();
        cancel.check()?;
        for r in runs.into_iter().flatten() {
            acc.push(r);
        }
        start = end;
    }
    Ok(acc.finish(base_seed))
}

/// Aggregate finished runs (in seed order, the first `base_seed`'s).
pub fn summarize(runs: Vec<RunOutcome>, base_seed: u64) -> MonteCarlo {
    let mut acc = Summary::new(runs.len() as u64);
    for r in runs {
        acc.push(r);
    }
    acc.finish(base_seed)
}

/// The summary folded one run at a time, in seed order (the sums' order is fixed, so results are
/// bit-identical for any thread count).
struct Summary {
    /// Runs to come, for the means.
    n: f64,
    lost: LostDays,
    causes: BTreeMap<String, f64>,
    completed: u64,
    log_events: u64,
    seed_runs: Vec<SeedRun>,
    first: Option<RunOutcome>,
}

impl Summary {
    fn new(runs: u64) -> Summary {
        Summary {
            n: runs as f64,
            lost: LostDays::default(),
            causes: BTreeMap::new(),
            completed: 0,
            log_events: 0,
            seed_runs: Vec::with_capacity(runs as usize),
            first: None,
        }
    }

    fn push(&mut self, r: RunOutcome) {
        let (n, day) = (self.n, 86400.0);
        let lost = &mut self.lost;
        lost.rework_days += r.lost.rework_s / day / n;
        lost.restart_days += r.lost.restart_s / day / n;
        lost.checkpoint_days += r.lost.checkpoint_s / day / n;
        lost.spare_wait_days += r.lost.spare_wait_s / day / n;
        lost.straggler_days += r.lost.straggler_s / day / n;
        lost.maintenance_days += r.lost.maintenance_s / day / n;
        for (k, v) in &r.interruptions_by_cause {
            *self.causes.entry(k.clone()).or_insert(0.0) += *v as f64 / n;
        }
        self.completed += u64::from(r.completed);
        self.log_events += r.log_events();
        self.seed_runs.push(SeedRun::of(&r));
        if self.first.is_none() {
            self.first = Some(r);
        }
    }

    fn finish(self, base_seed: u64) -> MonteCarlo {
        let runs = &self.seed_runs;
        let col = |f: &dyn Fn(&SeedRun) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
        MonteCarlo {
            seeds: runs.len() as u64,
            base_seed,
            wall_days: Stats::of(&col(&|r| r.wall_s / 86400.0)),
            ettr: Stats::of(&col(&|r| r.ettr)),
            interruptions: Stats::of(&col(&|r| r.interruptions as f64)),
            failures_while_down: Stats::of(&col(&|r| r.failures_while_down as f64)),
            spares_used: Stats::of(&col(&|r| r.spares_used as f64)),
            lost_days_mean: self.lost,
            interruptions_by_cause_mean: self.causes,
            completed_fraction: self.completed as f64 / self.n,
            log_events_total: self.log_events,
            first: self.first.unwrap_or_default(),
            seed_runs: self.seed_runs,
        }
    }
}

#[cfg(test)]
mod band_tests {
    use super::*;
    use crate::run::failure::{Component, Process};
    use crate::run::failure::{FailureLaw, Unit};
    use crate::run::spec::{RecoverySpec, StragglerSpec};

    fn small_job() -> RunInputs {
        let comp = Component {
            name: "c".into(),
            unit: Unit::Device,
            rate_per_unit_hour: 2e-4,
            distribution: FailureLaw::Exponential,
            needs_repair: false,
            optional: false,
        };
        RunInputs {
            devices: 1000,
            gpus_per_node: 8,
            work_s: 5.0 * 86400.0,
            degraded_speed: vec![1.0],
            replicas_per_node: 1,
            checkpoint: crate::run::checkpoint::CheckpointCost { bytes: 1e12, stall_s: 30.0, durable_after_s: 30.0, load_s: 20.0 },
            interval_s: 1800.0,
            processes: vec![Process::new(&comp, 1000, 8, 1.0)],
            recovery: RecoverySpec::default(),
            hot_spare_nodes: 0,
            stragglers: StragglerSpec::default(),
            maintenance: None,
            max_s: 1e9,
        }
    }

    /// Per-seed memory: a fixed-size record without heap (`Copy` cannot own an allocation), at most
    /// 11 words; the whole outcome (with its per-cause map) only for the first seed.
    #[test]
    fn per_seed_memory_is_a_small_fixed_record() {
        fn no_heap<T: Copy>() {}
        no_heap::<SeedRun>();
        assert!(std::mem::size_of::<SeedRun>() <= 88, "{} bytes per seed", std::mem::size_of::<SeedRun>());
        let seeds = 2000;
        let mc = monte_carlo(&small_job(), 5, seeds);
        assert_eq!(mc.seeds, seeds);
        assert_eq!(mc.seed_runs.len() as u64, seeds);
        assert!(mc.seed_runs.capacity() as u64 <= seeds, "{}", mc.seed_runs.capacity());
        assert_eq!(mc.first.seed, 5);
        assert!(mc.first.interruptions_by_cause.values().sum::<u64>() == mc.first.interruptions);
        assert_eq!(mc.per_seed().last().map(|(s, _)| s), Some(5 + seeds - 1));
    }

    /// Folding chunk by chunk gives bit for bit the summary of every whole outcome at once (across a
    /// chunk boundary), and the same per-seed records.
    #[test]
    fn streamed_summary_equals_the_summary_of_all_outcomes() {
        let inp = small_job();
        let seeds = CHUNK_SEEDS + 37;
        let mc = monte_carlo(&inp, 9, seeds);
        let all: Vec<RunOutcome> = (0..seeds).map(|i| simulate_run(&inp, 9 + i, false).0).collect();
        for (i, (seed, r)) in mc.per_seed().enumerate() {
            assert_eq!((seed, *r), (all[i].seed, SeedRun::of(&all[i])));
        }
        let events: u64 = all.iter().map(RunOutcome::log_events).sum();
        let whole = summarize(all, 9);
        assert_eq!(mc, whole);
        assert_eq!(mc.log_events_total, events);
        assert_eq!(serde_json::to_string(&mc).unwrap(), serde_json::to_string(&whole).unwrap());
    }

    #[test]
    fn progress_band_is_monotone_in_quantiles_and_ends_done() {
        let inp = small_job();
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
