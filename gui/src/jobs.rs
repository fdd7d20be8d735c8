//! What the background threads compute: thin calls into `wanka_sim`, packaged for the views (one step,
//! a plan comparison, a training run, the validation cases).

use std::path::PathBuf;

use wanka_sim::hardware::topology::{Tier, Vertex};
use wanka_sim::planning::plan_file::{CandidateResult, Comparison, PlanFile};
use wanka_sim::run::RunContext;
use wanka_sim::run::{self, LogEvent, LostDays, MonteCarlo, ProgressBand, RunInputs, RunOutcome};
use wanka_sim::step::schedule::StepResult;
use wanka_sim::validate::{self, StepReport};
use wanka_sim::workload::parallelism::Plan;
use wanka_sim::{Cancel, Catalog, Scenario, WankaError};

/// A step simulation request.
#[derive(Debug, Clone)]
pub struct StepJob {
    pub scenario: Scenario,
    /// Names the scenario in error messages (file path or `<edited>`).
    pub file: String,
}

/// A valid scenario with everything the views draw.
#[derive(Debug, Clone)]
pub struct StepOutput {
    pub scenario: Scenario,
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
    let catalog = Catalog::builtin();
    // `simulate_step` does not repeat the field checks `Scenario::parse` makes; edits need them.
    job.scenario.check(&job.file)?;
    let resolved = job.scenario.resolve(catalog, &job.file)?;
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
    let result = job.scenario.simulate_step(catalog, &job.file)?;
    let topology = (resolved.cluster.gpus <= MAX_GRAPH_DEVICES).then(|| TopologySummary::of(&resolved.cluster));
    Ok(StepOutput {
        chip_name: resolved.cluster.chip.name.clone(),
        plan: resolved.plan,
        scenario: job.scenario,
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
}

/// Where the wall clock of a run goes, mean days over the Monte Carlo seeds (useful + losses = wall).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Losses {
    pub wall_days: f64,
    pub useful_days: f64,
    /// Mean lost days per cause (`run::summarize` stores days in the `_s` fields of this aggregate).
    pub lost_days: LostDays,
}

/// Names of the parts of a [`Losses`], in drawing order.
pub const LOSS_PARTS: [&str; 7] =
    ["useful training", "rework since checkpoint", "restarts", "checkpoint stalls", "waiting for spares", "stragglers", "maintenance"];

impl Losses {
    pub fn of(mc: &MonteCarlo) -> Losses {
        let l = mc.lost_days_mean;
        Losses { wall_days: mc.wall_days.mean, useful_days: (mc.wall_days.mean - l.total_days()).max(0.0), lost_days: l }
    }

    /// Days per part, in the order of [`LOSS_PARTS`].
    pub fn parts(&self) -> [f64; 7] {
        let l = &self.lost_days;
        [self.useful_days, l.rework_days, l.restart_days, l.checkpoint_days, l.spare_wait_days, l.straggler_days, l.maintenance_days]
    }

    pub fn lost_total_days(&self) -> f64 {
        self.lost_days.total_days()
    }
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
}

impl PlanOutput {
    /// The result of candidate `index` (of `plan.candidates`).
    pub fn result_of(&self, index: usize) -> Option<(usize, &CandidateResult)> {
        let k = self.candidate_of.iter().position(|&i| i == index)?;
        Some((k, self.comparison.candidates.get(k)?))
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

/// Compare a plan's candidates (on the worker thread).
pub fn run_plan(job: PlanJob, cancel: &Cancel) -> Result<PlanOutput, WankaError> {
    let catalog = Catalog::builtin();
    // `compare` does not repeat the field checks `PlanFile::parse` makes; edits need them.
    job.plan.check(&job.file)?;
    let comparison = job.plan.compare_cancellable(catalog, &job.file, cancel)?;
    let candidate_of = match_candidates(&job.plan, &comparison);
    Ok(PlanOutput { plan: job.plan, file: job.file, comparison, candidate_of })
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
/// Checkpoint markers kept at most (the view draws those in view when zoomed in).
pub const MAX_CHECKPOINT_MARKS: usize = 200_000;
/// Down periods shaded at most.
pub const MAX_DOWN_PERIODS: usize = 3000;

/// One seed's run as the progress plot draws it (times in days, progress as a fraction of the work).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Progress over time: rises while training, flat while down, drops at a failure (rework).
    pub line: Vec<[f64; 2]>,
    /// Failures: time, progress just before the rollback, cause.
    pub failures: Vec<(f64, f64, String)>,
    /// Checkpoints saved (time, progress), thinned to at most [`MAX_CHECKPOINT_MARKS`].
    pub checkpoints: Vec<[f64; 2]>,
    /// Down periods (start, end, what): restarts after failures, maintenance windows.
    pub down: Vec<(f64, f64, &'static str)>,
    /// Straggler onsets (time, progress).
    pub stragglers: Vec<[f64; 2]>,
    pub checkpoints_total: usize,
}

impl Trace {
    /// Read the event log of one run. Maintenance windows have no end event: they last the window plus
    /// a restart (`RunInputs::restart_core_s`), unless a failure cuts them short.
    pub fn of(log: &[LogEvent], inputs: &RunInputs) -> Trace {
        let day = 86400.0;
        let work = inputs.work_s.max(f64::MIN_POSITIVE);
        let frac = |e: &LogEvent| (e.work_s / work).clamp(0.0, 1.0);
        let total_ckpt = log.iter().filter(|e| e.kind == "checkpoint").count();
        let stride = total_ckpt.div_ceil(MAX_CHECKPOINT_MARKS).max(1);
        let dense = log.len() <= 50_000;
        let stall = inputs.checkpoint.stall_s;
        let mut t = Trace { checkpoints_total: total_ckpt, ..Default::default() };
        let mut down_since: Option<f64> = None;
        let mut ckpt_seen = 0usize;
        for (k, e) in log.iter().enumerate() {
            let (x, y) = (e.t_s / day, frac(e));
            match e.kind.as_str() {
                "checkpoint" => {
                    if ckpt_seen.is_multiple_of(stride) {
                        t.checkpoints.push([x, y]);
                    }
                    ckpt_seen += 1;
                    if !dense {
                        continue;
                    }
                    // The stall before the save: progress is flat.
                    if stall > 0.0 && t.line.last().is_some_and(|p| p[0] < (e.t_s - stall) / day) {
                        t.line.push([(e.t_s - stall) / day, y]);
                    }
                }
                "failure" => {
                    t.failures.push((x, y, e.detail.clone()));
                    down_since.get_or_insert(x);
                }
                "resumed" | "done" | "horizon" => {
                    if let Some(s) = down_since.take() {
                        t.down.push((s, x, "restart"));
                    }
                }
                "straggler" => t.stragglers.push([x, y]),
                "maintenance" => {
                    t.line.push([x, y]);
                    let next = log.get(k + 1).map_or(f64::INFINITY, |n| n.t_s);
                    let len = inputs.maintenance.as_ref().map_or(0.0, |m| m.duration_min * 60.0) + inputs.restart_core_s();
                    let end = (e.t_s + len).min(next);
                    t.down.push((x, end / day, "maintenance"));
                    t.line.push([end / day, y]);
                    continue;
                }
                _ => {}
            }
            t.line.push([x, y]);
        }
        if t.down.len() > MAX_DOWN_PERIODS {
            // Keep the longest.
            t.down.sort_by(|a, b| (b.1 - b.0).total_cmp(&(a.1 - a.0)));
            t.down.truncate(MAX_DOWN_PERIODS);
        }
        t
    }
}

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
    2 + o.checkpoints + 4 * o.interruptions + o.stragglers + o.maintenance_windows
}

/// Simulate a training run (on the worker thread): Monte Carlo first, then, if the logs are of a size
/// to keep, one seed's event log and the progress band.
pub fn run_training(job: RunJob, cancel: &Cancel) -> Result<RunOutput, WankaError> {
    let catalog = Catalog::builtin();
    let (inputs, context) = job.scenario.run_inputs(catalog, &job.file)?;
    let seed = job.scenario.seed;
    let monte_carlo = run::monte_carlo_cancellable(&inputs, seed, job.seeds, cancel)?;
    let mut notes = Vec::new();
    let first = monte_carlo.runs.first().map_or(0, log_events);
    let (outcome, log) = if first <= MAX_LOG_EVENTS {
        let (o, log) = run::simulate_run(&inputs, seed, true);
        (o, log.unwrap_or_default())
    } else {
        notes.push(format!("the run logs about {first} events: too many to draw; the summary is the Monte Carlo's"));
        (run::simulate_run(&inputs, seed, false).0, Vec::new())
    };
    let runs = monte_carlo.runs.len().max(1) as u64;
    let mean_events = (monte_carlo.runs.iter().map(log_events).sum::<u64>() / runs).max(1);
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
    validate::validate_steps(&path, Catalog::builtin())
}

/// The cluster graph reduced to what a drawing can show: counts of every kind of vertex, the first
/// pod's leaf switches and the first leaf group's nodes, and the bandwidth of each tier's links.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopologySummary {
    pub devices: u64,
    pub nodes: u64,
    pub gpus_per_node: u32,
    pub leaf_switches: u64,
    pub leaf_groups: u64,
    pub rails: u32,
    pub pods: u64,
    pub core: u64,
    /// Leaf switches `(group, rail)` attached to pod 0's spine.
    pub pod0_leaves: Vec<(u64, u32)>,
    /// Nodes whose devices attach to leaf group 0.
    pub group0_nodes: Vec<u64>,
    /// Leaf groups in pod 0.
    pub pod0_groups: u64,
    /// Per tier: (edges, smallest and largest bandwidth per direction, bytes/s).
    pub tiers: Vec<(Tier, u64, f64, f64)>,
    pub template: String,
    pub nodes_per_leaf: u32,
    pub nodes_per_pod: u32,
    pub leaf_oversubscription: f64,
    pub core_oversubscription: f64,
    pub scale_up_fabric: String,
    pub scale_out_fabric: String,
}

impl TopologySummary {
    pub fn of(cluster: &wanka_sim::hardware::topology::Cluster) -> TopologySummary {
        let g = cluster.graph();
        let graph = &g.graph;
        let mut s = TopologySummary {
            gpus_per_node: cluster.gpus_per_node,
            template: cluster.template.name.clone(),
            nodes_per_leaf: cluster.template.nodes_per_leaf,
            nodes_per_pod: cluster.template.nodes_per_pod,
            leaf_oversubscription: cluster.template.leaf_oversubscription,
            core_oversubscription: cluster.template.core_oversubscription,
            scale_up_fabric: cluster.scale_up.name.clone(),
            scale_out_fabric: cluster.scale_out.name.clone(),
            ..Default::default()
        };
        let mut max_rail = 0;
        let mut max_group = 0;
        for v in graph.node_weights() {
            match *v {
                Vertex::Device { .. } => s.devices += 1,
                Vertex::ScaleUpSwitch { .. } => s.nodes += 1,
                Vertex::Leaf { group, rail } => {
                    s.leaf_switches += 1;
                    max_rail = max_rail.max(rail);
                    max_group = max_group.max(group);
                }
                Vertex::Spine { .. } => s.pods += 1,
                Vertex::Core => s.core += 1,
            }
        }
        s.rails = if s.leaf_switches > 0 { max_rail + 1 } else { 0 };
        s.leaf_groups = if s.leaf_switches > 0 { max_group + 1 } else { 0 };
        let gpn = u64::from(cluster.gpus_per_node.max(1));
        let mut tiers: Vec<(Tier, u64, f64, f64)> = Vec::new();
        let mut group0_nodes = std::collections::BTreeSet::new();
        let mut pod0 = std::collections::BTreeSet::new();
        for e in graph.edge_indices() {
            let w = graph[e];
            match tiers.iter_mut().find(|t| t.0 == w.tier) {
                Some(t) => {
                    t.1 += 1;
                    t.2 = t.2.min(w.bytes_per_s);
                    t.3 = t.3.max(w.bytes_per_s);
                }
                None => tiers.push((w.tier, 1, w.bytes_per_s, w.bytes_per_s)),
            }
            let Some((a, b)) = graph.edge_endpoints(e) else {
                continue;
            };
            match (graph[a], graph[b]) {
                (Vertex::Device { rank }, Vertex::Leaf { group: 0, .. }) | (Vertex::Leaf { group: 0, .. }, Vertex::Device { rank }) => {
                    group0_nodes.insert(rank / gpn);
                }
                (Vertex::Leaf { group, rail }, Vertex::Spine { pod: 0 }) | (Vertex::Spine { pod: 0 }, Vertex::Leaf { group, rail }) => {
                    pod0.insert((group, rail));
                }
                _ => {}
            }
        }
        tiers.sort_by_key(|t| t.0);
        s.tiers = tiers;
        s.group0_nodes = group0_nodes.into_iter().collect();
        s.pod0_groups = pod0.iter().map(|(g, _)| *g).collect::<std::collections::BTreeSet<_>>().len() as u64;
        s.pod0_leaves = pod0.into_iter().collect();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_summary_matches_the_cluster() {
        let dir = crate::files::find_scenarios_dir(None).unwrap();
        let s = Scenario::load(&dir.join("default.ron")).unwrap();
        let out = run_step(StepJob { scenario: s, file: "default.ron".into() }).unwrap();
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
        let e = run_step(StepJob { scenario: s, file: "x.ron".into() }).unwrap_err().to_string();
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
        let out = run_plan(PlanJob { plan, file: "default_plan.ron".into() }, &Cancel::new()).unwrap();
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
