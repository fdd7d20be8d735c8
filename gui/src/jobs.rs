//! What the background threads compute: the jobs (one step, a plan comparison, a plan's losses, a
//! training run, the validation cases), thin calls into `wanka_sim`, and their outputs. What the views
//! draw of an output is reduced in [`crate::view_data`].

use std::path::PathBuf;

use wanka_sim::planning::plan_file::{CandidateResult, Comparison, PlanFile};
use wanka_sim::run::RunContext;
use wanka_sim::run::{self, LogEvent, MonteCarlo, ProgressBand, RunInputs, RunOutcome};
use wanka_sim::step::schedule::StepResult;
use wanka_sim::validate::{self, StepReport};
use wanka_sim::workload::parallelism::Plan;
use wanka_sim::{Cancel, Scenario, WankaError};

use crate::view_data::{Losses, TopologySummary, Trace};

/// A step simulation request.
#[derive(Debug, Clone)]
pub struct StepJob {
    pub scenario: Scenario,
    /// Names the scenario in error messages (file path or `<edited>`).
    pub file: String,
    /// The session's parallelism searches (an auto scenario's search is remembered with the plans').
    pub searches: std::sync::Arc<wanka_sim::planning::search::SearchCache>,
}

/// A valid scenario with everything the views draw.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// The scenario as submitted (under `auto`, with its pins and the stand-in plan).
    pub scenario: Scenario,
    /// The scenario as simulated: under `auto`, with the searched plan and its summary.
    pub simulated: Scenario,
    pub file: String,
    pub result: StepResult,
    pub plan: Plan,
    pub chip_name: String,
    /// `None` when the cluster is too large to build its graph here.
    pub topology: Option<TopologySummary>,
}

/// Largest number of pipeline operations per stage simulated in the app.
pub const MAX_STEP_OPS: u64 = 2_000_000;
/// Largest cluster whose graph the app builds for the topology view.
pub const MAX_GRAPH_DEVICES: u64 = 1_000_000;

/// Run one step simulation (on the worker thread).
pub fn run_step(job: StepJob) -> Result<StepOutput, WankaError> {
    let catalog = crate::catalog();
    // `simulate_step` does not repeat the field checks `Scenario::parse` makes; edits need them.
    job.scenario.check(&job.file)?;
    let simulated = wanka_sim::planning::auto::search_scenario(&job.scenario, catalog, &job.file, &job.searches, &Cancel::new())?;
    let resolved = simulated.resolve(catalog, &job.file)?;
    // The step simulator keeps every operation of the step: refuse sizes that would exhaust memory
    // (a typo such as an extra zero in the global batch) instead of letting the app be killed.
    let ops = u64::from(resolved.plan.micro_batches) * u64::from(resolved.plan.chunks()) * 2;
    if ops > MAX_STEP_OPS {
        return Err(WankaError::Invalid {
            file: job.file,
            field: "parallelism".into(),
            msg: format!(
                "{} micro-batches × {} pipeline chunks = {ops} operations per stage is more than this app simulates interactively ({MAX_STEP_OPS})",
                resolved.plan.micro_batches,
                resolved.plan.chunks()
            ),
        });
    }
    let result = simulated.simulate_step(catalog, &job.file)?;
    let topology = (resolved.cluster.gpus <= MAX_GRAPH_DEVICES).then(|| TopologySummary::of(&resolved.cluster));
    Ok(StepOutput {
        chip_name: resolved.cluster.chip.name.clone(),
        plan: resolved.plan,
        scenario: job.scenario,
        simulated,
        file: job.file,
        result,
        topology,
    })
}

/// A plan comparison request.
#[derive(Debug, Clone)]
pub struct PlanJob {
    pub plan: PlanFile,
    /// Names the plan in error messages (file path or `<edited>`).
    pub file: String,
    /// The session's parallelism searches: an edit that changes only money, power, the deadline or the
    /// run settings compares again without searching again.
    pub searches: std::sync::Arc<wanka_sim::planning::search::SearchCache>,
}

/// A compared plan with everything the views draw.
#[derive(Debug, Clone)]
pub struct PlanOutput {
    /// The plan that was compared (the last valid one while edits are invalid).
    pub plan: PlanFile,
    pub file: String,
    pub comparison: Comparison,
    /// Per result, in ranked order: the index of its candidate in `plan.candidates`.
    pub candidate_of: Vec<usize>,
    /// Candidates left out of the comparison and the error that keeps them out: the others are compared
    /// without them.
    pub rejected: Vec<Refused>,
}

/// A candidate the plan's checks or the comparison refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Index in `plan.candidates`.
    pub index: usize,
    /// The field the error names, and the message (without the file name).
    pub knob: crate::plan_editor::PlanKnob,
    pub msg: String,
}

impl PlanOutput {
    /// The result of candidate `index` (of `plan.candidates`).
    pub fn result_of(&self, index: usize) -> Option<(usize, &CandidateResult)> {
        let k = self.candidate_of.iter().position(|&i| i == index)?;
        Some((k, self.comparison.candidates.get(k)?))
    }

    /// The error that kept candidate `index` out of the comparison, if one did.
    pub fn rejection_of(&self, index: usize) -> Option<&Refused> {
        self.rejected.iter().find(|r| r.index == index)
    }
}

/// The candidate (index) an error of a plan names: `candidates[3].pools[0].count` → 3.
pub fn candidate_of_error(e: &WankaError) -> Option<usize> {
    match e {
        WankaError::Invalid { field, .. } => {
            let rest = field.strip_prefix("candidates[")?;
            rest[..rest.find(']')?].parse().ok()
        }
        _ => None,
    }
}

/// `e` with the candidate index of its field replaced by `index` (errors of a plan without some
/// candidates name them by their index in the whole plan).
fn renumber(e: WankaError, index: usize) -> WankaError {
    match e {
        WankaError::Invalid { file, field, msg } => {
            let field = match field.strip_prefix("candidates[").and_then(|r| r.find(']').map(|c| &r[c..])) {
                Some(tail) => format!("candidates[{index}{tail}"),
                None => field,
            };
            WankaError::Invalid { file, field, msg }
        }
        other => other,
    }
}

/// Which candidate each result belongs to: results carry the candidate's name, not its index, so the
/// first candidate of that name not taken yet.
pub fn match_candidates(plan: &PlanFile, c: &Comparison) -> Vec<usize> {
    let mut taken = vec![false; plan.candidates.len()];
    c.candidates
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let i = (0..plan.candidates.len()).find(|&i| !taken[i] && plan.candidates[i].name == r.name).unwrap_or(k);
            if let Some(t) = taken.get_mut(i) {
                *t = true;
            }
            i
        })
        .collect()
}

/// The run inputs `PlanFile::compare` simulated for a feasible candidate (its chosen layout's
/// throughput and devices): the comparison keeps only day/ETTR/interruption statistics, the loss
/// breakdown needs the Monte Carlo itself, so it reruns it on the inputs the library kept.
pub fn candidate_run_inputs(r: &CandidateResult) -> Result<RunInputs, String> {
    match (&r.run_inputs, r.feasible) {
        (Some(inputs), true) => Ok(inputs.clone()),
        _ => Err(r.infeasible_reason.clone().unwrap_or("infeasible".into())),
    }
}

/// Compare a plan's candidates (on the worker thread). A candidate the plan's checks or the comparison
/// refuse is left out with its error ([`PlanOutput::rejected`]) and the others are compared without
/// it; an error of the plan itself (its goal, its settings) or of every candidate is the job's error.
pub fn run_plan(job: PlanJob, cancel: &Cancel) -> Result<PlanOutput, WankaError> {
    let catalog = crate::catalog();
    // Indices (into the whole plan) of the candidates still compared.
    let mut kept: Vec<usize> = (0..job.plan.candidates.len()).collect();
    let mut rejected: Vec<Refused> = Vec::new();
    let subset = |kept: &[usize]| {
        let mut p = job.plan.clone();
        p.candidates = kept.iter().map(|&i| job.plan.candidates[i].clone()).collect();
        p
    };
    let comparison = loop {
        let plan = subset(&kept);
        // `compare` does not repeat the field checks `PlanFile::parse` makes; edits need them.
        let result = plan.check(&job.file).and_then(|()| plan.compare_cached(catalog, &job.file, cancel, &job.searches));
        match result {
            Ok(c) => break c,
            Err(e) => match candidate_of_error(&e).filter(|&k| k < kept.len()) {
                Some(k) if kept.len() > 1 => {
                    let index = kept.remove(k);
                    let (knob, msg) = crate::plan_editor::place_plan_error(&renumber(e, index));
                    rejected.push(Refused { index, knob, msg });
                }
                Some(k) => return Err(renumber(e, kept[k])),
                None => return Err(e),
            },
        }
    };
    rejected.sort_by_key(|r| r.index);
    let compared = subset(&kept);
    let candidate_of = match_candidates(&compared, &comparison).into_iter().map(|k| kept[k]).collect();
    Ok(PlanOutput { plan: job.plan, file: job.file, comparison, candidate_of, rejected })
}

/// Per result of a compared plan (ranked order): mean time by cause over the plan's seeds, or why
/// there is none (infeasible candidates). Computed when the losses view asks for it.
pub type PlanLosses = Vec<Result<Losses, String>>;

/// The loss breakdown of every candidate of a compared plan (on the worker thread).
pub fn run_plan_losses(out: PlanOutput, cancel: &Cancel) -> PlanLosses {
    let s = &out.plan.settings;
    out.comparison
        .candidates
        .iter()
        .map(|r| {
            let inputs = candidate_run_inputs(r)?;
            let mc = run::monte_carlo_cancellable(&inputs, s.seed, s.seeds, cancel).map_err(|e| e.to_string())?;
            Ok(Losses::of(&mc))
        })
        .collect()
}

/// A training-run request: Monte Carlo summary, one seed's event log and the progress band.
#[derive(Debug, Clone, PartialEq)]
pub struct RunJob {
    pub scenario: Scenario,
    pub file: String,
    /// Monte Carlo seeds for the summary and the losses.
    pub seeds: u64,
    /// Seeds and time samples of the progress band.
    pub band_seeds: u64,
    pub band_samples: usize,
}

/// Seeds of a scenario's Monte Carlo in the app (a plan's candidates use the plan's `settings.seeds`).
pub const RUN_SEEDS: u64 = 100;
/// Seeds and samples of the progress band.
pub const BAND_SEEDS: u64 = 50;
pub const BAND_SAMPLES: usize = 200;
/// A simulated training run with everything the training-run and losses views draw.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub job: RunJob,
    pub context: RunContext,
    pub inputs: RunInputs,
    pub monte_carlo: MonteCarlo,
    /// The run with the scenario's seed, and its event log (empty when too long to keep).
    pub outcome: RunOutcome,
    pub log: Vec<LogEvent>,
    pub trace: Trace,
    /// The progress band, `None` when the runs log too many events to keep enough of them at once.
    pub band: Option<ProgressBand>,
    /// Seeds the band was computed over (fewer than asked for long logs).
    pub band_seeds: u64,
    pub losses: Losses,
    /// What was left out, and why.
    pub notes: Vec<String>,
}

/// Longest event log kept for one seed, and events kept at once for the band (`progress_band` holds
/// every seed's log): a mistyped size (a million devices failing for ten years) must not exhaust memory.
pub const MAX_LOG_EVENTS: u64 = 1_000_000;
pub const MAX_BAND_EVENTS: u64 = 2_000_000;

/// Events the log of a finished run holds, from its counters: start and end, a save per checkpoint,
/// failure + interruption + resume (or waiting + repaired) per interruption, straggler onsets and
/// maintenance windows.
pub fn log_events(o: &RunOutcome) -> u64 {
    o.log_events()
}

/// Simulate a training run (on the worker thread): Monte Carlo first, then, if the logs are of a size
/// to keep, one seed's event log and the progress band.
pub fn run_training(job: RunJob, cancel: &Cancel) -> Result<RunOutput, WankaError> {
    let catalog = crate::catalog();
    let (inputs, context) = job.scenario.run_inputs(catalog, &job.file)?;
    let seed = job.scenario.seed;
    let monte_carlo = run::monte_carlo_cancellable(&inputs, seed, job.seeds, cancel)?;
    let mut notes = Vec::new();
    let first = log_events(&monte_carlo.first);
    let (outcome, log) = if first <= MAX_LOG_EVENTS {
        let (o, log) = run::simulate_run(&inputs, seed, true);
        (o, log.unwrap_or_default())
    } else {
        notes.push(format!("the run logs about {first} events: too many to draw; the summary is the Monte Carlo's"));
        (run::simulate_run(&inputs, seed, false).0, Vec::new())
    };
    let runs = monte_carlo.seed_runs.len().max(1) as u64;
    let mean_events = (monte_carlo.log_events_total / runs).max(1);
    let band_seeds = job.band_seeds.min(MAX_BAND_EVENTS / mean_events);
    let band = if band_seeds >= 5 {
        if band_seeds < job.band_seeds {
            notes.push(format!("band over {band_seeds} seeds (runs log about {mean_events} events each)"));
        }
        Some(run::progress_band(&inputs, seed, band_seeds, job.band_samples))
    } else {
        notes.push(format!("no band: runs log about {mean_events} events each, too many to keep for several seeds"));
        None
    };
    let trace = Trace::of(&log, &inputs);
    let losses = Losses::of(&monte_carlo);
    Ok(RunOutput { job, context, inputs, monte_carlo, outcome, log, trace, band, band_seeds, losses, notes })
}

/// Run the validation cases of a file (on the worker thread).
pub fn run_validation(path: PathBuf) -> Result<StepReport, WankaError> {
    validate::validate_steps(&path, crate::catalog())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wanka_sim::hardware::topology::Tier;

    #[test]
    fn default_scenario_summary_matches_the_cluster() {
        let dir = crate::files::find_scenarios_dir(None).unwrap();
        let s = Scenario::load(&dir.join("default.ron")).unwrap();
        let out = run_step(StepJob { scenario: s, file: "default.ron".into(), searches: Default::default() }).unwrap();
        let t = out.topology.as_ref().unwrap();
        assert_eq!(t.devices, 10240);
        assert_eq!(t.nodes, 1280);
        assert_eq!(t.core, 1);
        assert!(t.pods >= 1 && t.leaf_switches >= t.leaf_groups);
        assert_eq!(t.leaf_switches, t.leaf_groups * u64::from(t.rails));
        assert!(!t.group0_nodes.is_empty() && t.group0_nodes[0] == 0);
        assert!(t.tiers.iter().any(|x| x.0 == Tier::ScaleUp));
        assert!(out.result.step_s > 0.0);
    }
}

#[cfg(test)]
mod guard_tests {
    use super::*;

    #[test]
    fn absurd_sizes_are_refused_not_simulated() {
        let dir = crate::files::find_scenarios_dir(None).unwrap();
        let mut s = Scenario::load(&dir.join("default.ron")).unwrap();
        s.parallelism.global_batch = 2560 * 100_000;
        let e = run_step(StepJob { scenario: s, file: "x.ron".into(), searches: Default::default() }).unwrap_err().to_string();
        assert!(e.contains("field `parallelism`") && e.contains("interactively"), "{e}");
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    fn default_plan() -> PlanFile {
        let dir = crate::files::find_scenarios_dir(None).unwrap();
        PlanFile::load(&dir.join("default_plan.ron")).unwrap()
    }

    #[test]
    fn plan_losses_rebuild_the_comparisons_runs() {
        let mut plan = default_plan();
        plan.settings.seeds = 20;
        let out = run_plan(PlanJob { plan, file: "default_plan.ron".into(), searches: Default::default() }, &Cancel::new()).unwrap();
        let losses = run_plan_losses(out.clone(), &Cancel::new());
        let c = &out.comparison;
        assert_eq!(out.candidate_of.len(), c.candidates.len());
        for (k, r) in c.candidates.iter().enumerate() {
            assert_eq!(out.plan.candidates[out.candidate_of[k]].name, r.name);
            let l = losses[k].as_ref().unwrap();
            // The same inputs and seeds as the comparison: the same mean wall clock.
            assert!((l.wall_days - r.days.mean).abs() < 1e-9 * r.days.mean, "{}: {} vs {}", r.name, l.wall_days, r.days.mean);
            assert!((l.parts().iter().sum::<f64>() - l.wall_days).abs() < 1e-6 * l.wall_days);
            assert!(l.useful_days > 0.9 * r.ideal_days && l.lost_total_days() > 0.0);
        }
    }

    #[test]
    fn training_run_of_the_default_scenario() {
        let dir = crate::files::find_scenarios_dir(None).unwrap();
        let s = Scenario::load(&dir.join("default.ron")).unwrap();
        let out =
            run_training(RunJob { scenario: s, file: "default.ron".into(), seeds: 20, band_seeds: 10, band_samples: 50 }, &Cancel::new())
                .unwrap();
        assert_eq!(out.band.as_ref().unwrap().t_days.len(), 50);
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        // The counters bound the log's size closely.
        let est = log_events(&out.outcome);
        assert!(out.log.len() as u64 <= est && out.log.len() as f64 > 0.9 * est as f64, "{} vs {est}", out.log.len());
        assert!(!out.log.is_empty() && out.log[0].kind == "start");
        let t = &out.trace;
        assert!(!t.failures.is_empty() && !t.checkpoints.is_empty());
        assert_eq!(t.failures.len() as u64, out.outcome.interruptions);
        // Every failure opens a down period that a resume closes.
        assert!(!t.down.is_empty() && t.down.iter().all(|d| d.1 >= d.0));
        assert!(t.line.windows(2).all(|w| w[1][0] >= w[0][0]), "time goes forward");
        assert!((t.line.last().unwrap()[1] - 1.0).abs() < 1e-9, "the run finishes");
        let down: f64 = t.down.iter().map(|d| d.1 - d.0).sum();
        let restart_days = out.outcome.lost.restart_s / 86400.0 + out.outcome.lost.spare_wait_s / 86400.0;
        assert!((down - restart_days).abs() < 1e-6, "{down} vs {restart_days}");
    }
}

/// A sensitivity sweep request: candidate `candidate` of `plan`, each knob moved down and up.
#[derive(Debug, Clone)]
pub struct SensitivityJob {
    pub plan: PlanFile,
    pub candidate: usize,
    pub file: String,
    pub searches: std::sync::Arc<wanka_sim::planning::search::SearchCache>,
    /// Monte Carlo seeds of every point (few: the sweep is for direction and size, not the last digit).
    pub seeds: u64,
}

/// Days and cost of one point of the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    pub days_p50: f64,
    pub cost_musd: f64,
}

/// One knob of the sweep: what it was moved to, down and up, and the result (or why there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct SensitivityKnob {
    pub name: &'static str,
    pub low_label: String,
    pub high_label: String,
    pub low: Result<SweepPoint, String>,
    pub high: Result<SweepPoint, String>,
}

impl SensitivityKnob {
    /// Largest change of p50 days either way (0 when neither side has a result).
    pub fn days_swing(&self, base: &SweepPoint) -> f64 {
        [&self.low, &self.high].iter().filter_map(|r| r.as_ref().ok()).map(|p| (p.days_p50 - base.days_p50).abs()).fold(0.0, f64::max)
    }
}

/// What moves the days and the cost of one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensitivity {
    pub candidate: String,
    /// The candidate as edited, at the sweep's seeds.
    pub base: SweepPoint,
    pub knobs: Vec<SensitivityKnob>,
    pub seeds: u64,
}

/// Sweep the knobs that matter for one candidate (on the worker thread): failure rate ×½ and ×2, NIC
/// speed ×½ and ×2, hot spares none and twice the default, checkpoint interval ×½ and ×2 of the one
/// used, devices ×¾ and ×1¼ (whole nodes). Each point is a one-candidate plan compared with the
/// session's searches (so the run-only knobs do not search again) over `seeds` seeds.
pub fn run_sensitivity(job: SensitivityJob, cancel: &Cancel) -> Result<Sensitivity, String> {
    use wanka_sim::limits;
    use wanka_sim::run::checkpoint::Interval;
    let catalog = crate::catalog();
    let cand = job.plan.candidates.get(job.candidate).ok_or("no such candidate")?.clone();
    let point = |c: wanka_sim::planning::plan_file::Candidate| -> Result<(SweepPoint, CandidateResult), String> {
        let mut p = job.plan.clone();
        p.candidates = vec![c];
        p.settings.seeds = job.seeds;
        p.check(&job.file).map_err(|e| e.to_string())?;
        let cmp = p.compare_cached(catalog, &job.file, cancel, &job.searches).map_err(|e| e.to_string())?;
        let r = cmp.candidates.into_iter().next().ok_or("no result")?;
        if !r.feasible {
            return Err(r.infeasible_reason.clone().unwrap_or_else(|| "infeasible".into()));
        }
        Ok((SweepPoint { days_p50: r.days.p50, cost_musd: r.economics.total_usd / 1e6 }, r))
    };
    let (base, base_r) = point(cand.clone())?;
    let inputs = base_r.run_inputs.clone().ok_or("the candidate has no run inputs")?;
    let just = |r: Result<(SweepPoint, CandidateResult), String>| r.map(|(p, _)| p);
    let mut knobs = Vec::new();
    // Failure rate.
    let m = cand.run.failures.multiplier;
    let (lo, hi) = (m * 0.5, (m * 2.0).min(limits::MAX_FAILURE_MULTIPLIER));
    let with = |f: &dyn Fn(&mut wanka_sim::planning::plan_file::Candidate)| {
        let mut c = cand.clone();
        f(&mut c);
        c
    };
    knobs.push(SensitivityKnob {
        name: "failure rate",
        low_label: format!("×{}", crate::editor::num(lo / m.max(1e-12))),
        high_label: format!("×{}", crate::editor::num(hi / m.max(1e-12))),
        low: just(point(with(&|c| c.run.failures.multiplier = lo))),
        high: just(point(with(&|c| c.run.failures.multiplier = hi))),
    });
    // NIC speed.
    let nic = cand.network.nic_gbit_per_s_per_gpu;
    let (lo, hi) = ((nic * 0.5).max(limits::NIC_GBIT.0), (nic * 2.0).min(limits::NIC_GBIT.1));
    knobs.push(SensitivityKnob {
        name: "NIC speed",
        low_label: format!("{} Gbit/s", crate::editor::num(lo)),
        high_label: format!("{} Gbit/s", crate::editor::num(hi)),
        low: just(point(with(&|c| c.network.nic_gbit_per_s_per_gpu = lo))),
        high: just(point(with(&|c| c.network.nic_gbit_per_s_per_gpu = hi))),
    });
    // Hot spares.
    let nodes = inputs.devices / u64::from(inputs.gpus_per_node.max(1));
    let spares_hi = (2 * inputs.hot_spare_nodes).max((nodes / 50).max(1) as u32);
    knobs.push(SensitivityKnob {
        name: "hot-spare nodes",
        low_label: "0 nodes".into(),
        high_label: format!("{spares_hi} nodes"),
        low: just(point(with(&|c| c.run.recovery.hot_spare_nodes = Some(0)))),
        high: just(point(with(&|c| c.run.recovery.hot_spare_nodes = Some(spares_hi)))),
    });
    // Checkpoint interval, around the one the run used.
    let minutes = inputs.interval_s / 60.0;
    let (lo, hi) = ((minutes * 0.5).max(limits::MIN_CHECKPOINT_INTERVAL_S / 60.0), minutes * 2.0);
    knobs.push(SensitivityKnob {
        name: "checkpoint interval",
        low_label: format!("{lo:.0} min"),
        high_label: format!("{hi:.0} min"),
        low: just(point(with(&|c| c.run.checkpoint.interval = Interval::Fixed { minutes: lo }))),
        high: just(point(with(&|c| c.run.checkpoint.interval = Interval::Fixed { minutes: hi }))),
    });
    // Devices, in whole nodes.
    let scale = |f: f64| {
        with(&|c| {
            for p in &mut c.pools {
                let n = u64::from(p.gpus_per_node.max(1));
                let nodes = ((f64::from(p.count) * f / n as f64).round() as u64).max(1);
                p.count = u32::try_from(nodes * n).unwrap_or(u32::MAX);
            }
        })
    };
    let (lo_c, hi_c) = (scale(0.75), scale(1.25));
    let total = |c: &wanka_sim::planning::plan_file::Candidate| c.pools.iter().map(|p| u64::from(p.count)).sum::<u64>();
    knobs.push(SensitivityKnob {
        name: "devices",
        low_label: format!("{} (×0.75)", total(&lo_c)),
        high_label: format!("{} (×1.25)", total(&hi_c)),
        low: just(point(lo_c.clone())),
        high: just(point(hi_c.clone())),
    });
    if cancel.is_cancelled() {
        return Err("cancelled".into());
    }
    knobs.sort_by(|a, b| b.days_swing(&base).total_cmp(&a.days_swing(&base)));
    Ok(Sensitivity { candidate: cand.name.clone(), base, knobs, seeds: job.seeds })
}

/// Seeds of each point of a sensitivity sweep.
pub const SENSITIVITY_SEEDS: u64 = 20;
