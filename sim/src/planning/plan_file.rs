//! Capacity planning: compare candidate clusters for a training goal.
//!
//! A plan file (RON) names the goal (model, tokens, sequence length, batch, optional deadline and
//! budget) and candidates (chip pools, network, spares, failure profile, checkpointing, money, power).
//! For each candidate wanka searches the parallelism ([`crate::planning::search`]; mixed pools via
//! [`crate::planning::mixed`]), simulates the whole training run with failures over Monte Carlo seeds
//! ([`crate::run`]), and prices it ([`crate::planning::economics`]). Candidates are ranked by p50 days; the
//! time-versus-cost Pareto front and deadline/budget/power flags are reported.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::cancel::Cancel;
use crate::error::WankaError;
use crate::hardware::catalog::Catalog;
use crate::hardware::topology::{Cluster, ClusterSpec, NetworkSpec};
use crate::planning::economics::{self, Economics, Money, PoolHw, Power};
use crate::planning::mixed::{self, MixedOption};
use crate::planning::search::{self, BatchTarget, Ranked, SearchSpace};
use crate::ron_util::{parse_ron, read_file};
use crate::run::{self, MonteCarlo, RunInputs, RunSpec, Stats};
use crate::run::{RunJob, build_run_inputs};
use crate::scenario::{Scenario, TrainingSpec};
use crate::step::cost::FrameworkSpec;
use crate::workload::model::{ModelRef, ModelSpec};

/// What to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    pub model: ModelRef,
    pub tokens: f64,
    pub seq_len: u32,
    /// Tokens per optimizer step to aim for (the search picks the nearest feasible global batch).
    pub batch_tokens: f64,
    /// How far (a fraction) a searched plan's global batch may be from `batch_tokens` (default 0.35:
    /// planners accept about a third either way; a run reproducing a published one states its own,
    /// since the batch changes the optimisation, not only the step time).
    #[serde(default)]
    pub batch_tolerance: Option<f64>,
    #[serde(default)]
    pub deadline_days: Option<f64>,
    /// Budget for the run, million USD.
    #[serde(default)]
    pub budget_musd: Option<f64>,
    /// The run as stages (a long-context stage, a different batch): each is searched (or pinned) on
    /// its own and the run's days, GPU-hours, cost and energy are reported per phase and in total.
    /// Their tokens must add up to `tokens`. Empty (default): one phase with the goal's settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<GoalPhase>,
    /// A batch ramp at the start of the run (Megatron's `--rampup-batch-size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_ramp: Option<BatchRamp>,
}

/// One stage of a training goal. Omitted settings are the goal's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalPhase {
    pub name: String,
    pub tokens: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq_len: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_tokens: Option<f64>,
    /// Pins for this phase on top of the candidate's (e.g. `cp: Some([16])` for a long-context stage);
    /// knobs left out keep the candidate's pins or are searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<SearchSpace>,
    /// Devices this phase trains on, of a single-pool candidate's pool (Llama 3's first stage ran on
    /// 8,192 of its 16,384 GPUs); all of them when left out. The run's failures are simulated on the
    /// main phase's devices (an approximation for phases that use fewer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
}

/// The global batch grows linearly from `from_batch_tokens` to the first phase's batch over the
/// first `over_tokens` tokens (Megatron-LM `--rampup-batch-size START INCREMENT SAMPLES`). Simulated
/// as `steps` equal-token sub-phases, each searched at its mean batch: an approximation of the linear
/// ramp (a step function through it) that reports say is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRamp {
    pub from_batch_tokens: f64,
    pub over_tokens: f64,
    #[serde(default = "default_ramp_steps")]
    pub steps: u32,
}

fn default_ramp_steps() -> u32 {
    4
}

/// A phase as simulated: the goal's settings filled in, a ramp expanded into its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPhase {
    pub name: String,
    pub tokens: f64,
    pub seq_len: u32,
    pub batch_tokens: f64,
    pub pins: Option<SearchSpace>,
    pub gpus: Option<u32>,
}

impl Goal {
    /// The phases to simulate, in order: the goal itself when it has no phases and no ramp.
    pub fn resolved_phases(&self) -> Vec<ResolvedPhase> {
        let mut phases: Vec<ResolvedPhase> = if self.phases.is_empty() {
            vec![ResolvedPhase {
                name: "all".into(),
                tokens: self.tokens,
                seq_len: self.seq_len,
                batch_tokens: self.batch_tokens,
                pins: None,
                gpus: None,
            }]
        } else {
            self.phases
                .iter()
                .map(|p| ResolvedPhase {
                    name: p.name.clone(),
                    tokens: p.tokens,
                    seq_len: p.seq_len.unwrap_or(self.seq_len),
                    batch_tokens: p.batch_tokens.unwrap_or(self.batch_tokens),
                    pins: p.parallelism.clone(),
                    gpus: p.gpus,
                })
                .collect()
        };
        if let Some(r) = &self.batch_ramp {
            let first = phases.remove(0);
            let steps = r.steps.max(1);
            let per = r.over_tokens / f64::from(steps);
            let mut ramp: Vec<ResolvedPhase> = (0..steps)
                .map(|k| {
                    // Mean batch over step k of the linear ramp from `from` to the phase's batch.
                    let mid = (f64::from(k) + 0.5) / f64::from(steps);
                    let batch = r.from_batch_tokens + (first.batch_tokens - r.from_batch_tokens) * mid;
                    ResolvedPhase {
                        name: format!("{} ramp {}/{steps}", first.name, k + 1),
                        tokens: per,
                        batch_tokens: batch.max(f64::from(first.seq_len)),
                        ..first.clone()
                    }
                })
                .collect();
            ramp.push(ResolvedPhase { tokens: first.tokens - r.over_tokens, ..first });
            ramp.extend(phases);
            phases = ramp;
        }
        phases
    }
}

/// Devices of one chip type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub chip: String,
    pub count: u32,
    /// Devices per scale-up domain (server, NVL72 rack, CloudMatrix supernode); `count` need not fill
    /// whole domains (the report counts the remainder as idle).
    pub gpus_per_node: u32,
    /// Devices of each domain the job may use (partial racks); all when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_per_domain: Option<u32>,
}

/// One candidate cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub name: String,
    pub pools: Vec<Pool>,
    pub network: NetworkSpec,
    /// Pins for the parallelism search (omitted knobs are searched).
    #[serde(default)]
    pub parallelism: SearchSpace,
    /// Failures, recovery (hot spares), checkpointing.
    #[serde(default)]
    pub run: RunSpec,
    pub money: Money,
    pub power: Power,
    /// Figures this candidate rests on that no published run or datasheet confirms (a price without a
    /// quote, a power figure derived from a ratio): each is printed as a flag, so the report names it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub estimates: Vec<String>,
}

/// Search and Monte Carlo settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Plans kept per candidate (default 5).
    pub top_k: usize,
    /// Monte Carlo seeds per candidate (default 100).
    pub seeds: u64,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { top_k: 5, seeds: 100, seed: 1 }
    }
}

/// A plan file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub goal: Goal,
    pub candidates: Vec<Candidate>,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub framework: FrameworkSpec,
    /// A calibration overlay (written by `wanka calibrate … --out FILE`) this plan's candidates are
    /// priced with: a path relative to the plan file's directory, equivalent to `--calibration FILE`.
    /// When both are given the command-line flag wins (and a note says the field was not used): one
    /// overlay at a time, the flag being the way to try another without editing the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<String>,
}

/// Result for one candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateResult {
    pub name: String,
    /// Rank by p50 days among feasible candidates (1 = fastest); 0 for infeasible ones.
    pub rank: usize,
    pub feasible: bool,
    /// Why the candidate is infeasible, if it is.
    pub infeasible_reason: Option<String>,
    pub devices: u64,
    pub chips: String,
    /// The chosen parallelism in words.
    pub parallelism: String,
    pub step_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub ideal_days: f64,
    /// Mean time to interruption of the job, hours (infinite without failures; 0 for infeasible candidates).
    pub mtti_hours: f64,
    pub days: Stats,
    pub ettr: Stats,
    pub interruptions: Stats,
    pub economics: Economics,
    pub flags: Vec<String>,
    /// The candidate's facility power cap, MW, if any.
    pub facility_cap_mw: Option<f64>,
    pub pareto: bool,
    /// Parallelism search: enumerated plans, feasible plans, rejections by reason, time taken.
    pub search_enumerated: u64,
    pub search_feasible: u64,
    pub search_rejected: BTreeMap<String, u64>,
    /// Plans the event simulation ran (the screen's best of each pool's search, see
    /// [`search::EXACT_TOP_K`]); every other feasible plan was ranked by the closed-form screen.
    pub search_simulated: u64,
    pub search_ms: f64,
    /// Best plans of the search (single-pool candidates).
    pub top_plans: Vec<Ranked>,
    /// Mixed-hardware options considered, best first, and why the winner won.
    pub mixed_options: Vec<MixedOption>,
    pub mixed_verdict: Option<String>,
    /// How far step predictions are from published runs for each chip family of the candidate and the
    /// plan's stack (out of sample).
    pub accuracy: Vec<crate::step::accuracy::AccuracyNote>,
    /// How the best plan sits on the pool's scale-up domains (single-pool candidates): TP/EP groups
    /// inside a domain, domains occupied, idle devices.
    pub placement: Option<crate::hardware::topology::Placement>,
    /// Days and cost p10–p90 from failures alone and with the model's own step-time error
    /// ([`crate::run::model_error`]); `None` for an infeasible candidate.
    pub bands: Option<crate::run::model_error::Bands>,
    /// Other candidates (by name) this one cannot be told apart from within model error: their bands
    /// with model error overlap by at least half of the narrower one
    /// ([`crate::run::model_error::indistinguishable`]).
    pub indistinguishable_from: Vec<String>,
    /// Per phase of a multi-phase goal (empty for a single phase): its best plan and its share of
    /// the run's days, GPU-hours, cost and energy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseResult>,
    /// The training run's inputs as simulated (feasible candidates): for callers that want more of
    /// the run than the summary statistics above (the GUI's loss breakdown). Not serialized.
    #[serde(skip)]
    pub run_inputs: Option<RunInputs>,
}

/// One phase of a candidate's run. The run is simulated once, failures and all, over the phases'
/// useful time; each phase's days, GPU-hours, cost and energy are its share by useful time (failures
/// strike in proportion to wall time, so the share is the phase's expected part of the losses too).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseResult {
    pub name: String,
    /// Devices the phase trains on (its GPU-hours count these).
    pub devices: u64,
    pub tokens: f64,
    pub seq_len: u32,
    pub batch_tokens: f64,
    pub parallelism: String,
    pub step_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    /// Days of this phase without failures (its tokens at its plan's throughput).
    pub ideal_days: f64,
    /// Its share of the run's Monte Carlo median days.
    pub days_p50: f64,
    /// GPU-hours of the phase at its share of `days_p50` (its own devices).
    pub gpu_hours_p50: f64,
    /// Its share of the run's cost, million USD.
    pub cost_musd: f64,
    pub energy_mwh: f64,
}

/// The out-of-sample accuracy statement for each chip family of a candidate under the plan's stack.
fn accuracy_notes(clusters: &[Cluster], stack: &str, moe: bool) -> Vec<crate::step::accuracy::AccuracyNote> {
    let mut notes: Vec<crate::step::accuracy::AccuracyNote> = Vec::new();
    for cl in clusters {
        if !notes.iter().any(|n| n.family == cl.calibration.id) {
            notes.push(crate::step::accuracy::note(&cl.calibration, stack, moe));
        }
    }
    notes
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub plan: String,
    pub model: String,
    pub tokens: f64,
    /// The goal's constraints, for tools that draw them.
    pub deadline_days: Option<f64>,
    pub budget_musd: Option<f64>,
    /// Ranked: feasible candidates by p50 days, then infeasible ones.
    pub candidates: Vec<CandidateResult>,
    /// Names on the time-versus-cost Pareto front, fastest first.
    pub pareto_front: Vec<String>,
    pub search_candidates_total: u64,
    pub seeds: u64,
}

impl PlanFile {
    pub fn load(path: &Path) -> Result<PlanFile, WankaError> {
        let text = read_file(path)?;
        PlanFile::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, file: &str) -> Result<PlanFile, WankaError> {
        let p: PlanFile = parse_ron(text, file)?;
        p.check(file)?;
        Ok(p)
    }

    /// The overlay file the `calibration` field names, resolved against the directory of the plan
    /// file `plan_path` (the working directory for a plan without a path, e.g. the built-in one).
    pub fn calibration_path(&self, plan_path: Option<&Path>) -> Option<std::path::PathBuf> {
        let rel = Path::new(self.calibration.as_deref()?);
        let dir = plan_path.and_then(Path::parent).unwrap_or(Path::new(""));
        Some(if rel.is_absolute() { rel.to_path_buf() } else { dir.join(rel) })
    }

    /// `catalog` with the `calibration` field's overlay applied (a copy), or `None` when the plan has
    /// none. Errors name the plan file and its `calibration` field (a missing or unreadable overlay), or
    /// the overlay file and its field (a malformed one, a figure out of band).
    pub fn calibrated_catalog(&self, catalog: &Catalog, plan_path: Option<&Path>, file: &str) -> Result<Option<Catalog>, WankaError> {
        let Some(path) = self.calibration_path(plan_path) else { return Ok(None) };
        if !path.is_file() {
            return Err(WankaError::Invalid {
                file: file.into(),
                field: "calibration".into(),
                msg: format!(
                    "{}: no such overlay file (the path is relative to the plan file's directory; write one with `wanka calibrate … --chip ID --out FILE`)",
                    path.display()
                ),
            });
        }
        let overlay = crate::hardware::overlay::Overlay::load(&path)?;
        let mut cat = catalog.clone();
        cat.apply_overlay(&overlay, &path.display().to_string())?;
        Ok(Some(cat))
    }

    pub fn check(&self, file: &str) -> Result<(), WankaError> {
        let bad = |field: String, msg: String| Err(WankaError::Invalid { file: file.into(), field, msg });
        let g = &self.goal;
        if !(g.tokens > 0.0 && g.tokens.is_finite()) {
            return bad("goal.tokens".into(), format!("must be a positive number of tokens, got {}", g.tokens));
        }
        if g.seq_len == 0 {
            return bad("goal.seq_len".into(), "must be at least 1".into());
        }
        if !(g.batch_tokens >= f64::from(g.seq_len) && g.batch_tokens.is_finite()) {
            return bad(
                "goal.batch_tokens".into(),
                format!("must be at least one sequence ({} tokens), got {}", g.seq_len, g.batch_tokens),
            );
        }
        crate::limits::in_range(file, "goal.tokens", g.tokens, 1.0, crate::limits::MAX_TOKENS, "tokens")?;
        crate::limits::in_range(file, "goal.batch_tokens", g.batch_tokens, 1.0, crate::limits::MAX_GLOBAL_BATCH_TOKENS, "tokens")?;
        if let Some(tol) = g.batch_tolerance {
            crate::limits::in_range(file, "goal.batch_tolerance", tol, 0.0, 1.0, "(a fraction of batch_tokens)")?;
        }
        let sequences = g.batch_tokens / f64::from(g.seq_len);
        if sequences > crate::limits::MAX_BATCH_SEQUENCES {
            return bad(
                "goal.batch_tokens".into(),
                format!(
                    "{} tokens of {}-token sequences is {sequences} sequences a batch; at most {} are allowed (raise seq_len)",
                    g.batch_tokens,
                    g.seq_len,
                    crate::limits::MAX_BATCH_SEQUENCES
                ),
            );
        }
        if let Some(d) = g.deadline_days.filter(|d| !(*d > 0.0)) {
            return bad("goal.deadline_days".into(), format!("must be positive, got {d}"));
        }
        if let Some(b) = g.budget_musd.filter(|b| !(*b > 0.0)) {
            return bad("goal.budget_musd".into(), format!("must be positive, got {b}"));
        }
        if let ModelRef::Custom(m) = &g.model {
            m.check(file)?;
        }
        self.check_phases(file)?;
        self.framework.check_numbers(file, "framework")?;
        if self.candidates.is_empty() {
            return bad("candidates".into(), "a plan needs at least one candidate cluster".into());
        }
        if self.settings.seeds == 0 || self.settings.top_k == 0 {
            return bad("settings".into(), "seeds and top_k must be at least 1".into());
        }
        crate::limits::seeds(file, "settings.seeds", self.settings.seeds)?;
        for (i, c) in self.candidates.iter().enumerate() {
            if let Some(j) = self.candidates[..i].iter().position(|o| o.name == c.name) {
                return bad(
                    format!("candidates[{i}].name"),
                    format!("`{}` is also the name of candidates[{j}]; names must be unique", c.name),
                );
            }
        }
        for (i, c) in self.candidates.iter().enumerate() {
            let f = format!("candidates[{i}]");
            if c.pools.is_empty() {
                return bad(format!("{f}.pools"), format!("candidate `{}` has no chip pool", c.name));
            }
            let chips: Vec<&str> = c.pools.iter().map(|p| p.chip.as_str()).collect();
            for (j, p) in c.pools.iter().enumerate() {
                if let Some(k) = chips[..j].iter().position(|&id| id == p.chip)
                    && c.pools[k].gpus_per_node != p.gpus_per_node
                {
                    return bad(
                        format!("{f}.pools[{j}].gpus_per_node"),
                        format!(
                            "pools[{k}] is also `{}`, with {} per node: pools of one chip are run as one pool, so they need the \
                             same gpus_per_node (got {}); give both the same node size or list the nodes as one pool",
                            p.chip, c.pools[k].gpus_per_node, p.gpus_per_node
                        ),
                    );
                }
            }
            let mut distinct = chips.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() > 2 {
                return bad(
                    format!("{f}.pools"),
                    format!("{} different chips ({}); mixed hardware pairs at most two chip types", distinct.len(), distinct.join(", ")),
                );
            }
            for (j, p) in c.pools.iter().enumerate() {
                if p.count == 0 {
                    return bad(format!("{f}.pools[{j}].count"), format!("pool of `{}` has zero devices", p.chip));
                }
                if p.gpus_per_node == 0 {
                    return bad(format!("{f}.pools[{j}].gpus_per_node"), "must be at least 1 device per node".into());
                }
            }
            economics::check(&c.money, &c.power, file, &f)?;
            c.run.check(file).map_err(|e| match e {
                WankaError::Invalid { file, field, msg } => WankaError::Invalid { file, field: format!("{f}.{field}"), msg },
                other => other,
            })?;
        }
        Ok(())
    }

    /// Phases and the batch ramp: positive tokens adding up to the goal's, sequence lengths and
    /// batches as the goal's own are checked, a ramp shorter than the phase it starts.
    fn check_phases(&self, file: &str) -> Result<(), WankaError> {
        let bad = |field: String, msg: String| Err(WankaError::Invalid { file: file.into(), field, msg });
        let g = &self.goal;
        for (i, p) in g.phases.iter().enumerate() {
            let f = |name: &str| format!("goal.phases[{i}].{name}");
            crate::limits::in_range(file, &f("tokens"), p.tokens, 1.0, crate::limits::MAX_TOKENS, "tokens")?;
            if p.seq_len == Some(0) {
                return bad(f("seq_len"), "must be at least 1".into());
            }
            if p.gpus == Some(0) {
                return bad(f("gpus"), "must be at least 1 device (leave it out for all of the candidate's)".into());
            }
            let seq = f64::from(p.seq_len.unwrap_or(g.seq_len));
            if let Some(b) = p.batch_tokens {
                crate::limits::in_range(
                    file,
                    &f("batch_tokens"),
                    b,
                    seq,
                    crate::limits::MAX_GLOBAL_BATCH_TOKENS,
                    "tokens (at least one sequence)",
                )?;
                if b / seq > crate::limits::MAX_BATCH_SEQUENCES {
                    return bad(
                        f("batch_tokens"),
                        format!("{b} tokens is {} sequences a batch; at most {} are allowed", b / seq, crate::limits::MAX_BATCH_SEQUENCES),
                    );
                }
            }
            if let Some(j) = g.phases[..i].iter().position(|o| o.name == p.name) {
                return bad(f("name"), format!("`{}` is also the name of goal.phases[{j}]; names must be unique", p.name));
            }
        }
        if !g.phases.is_empty() {
            let sum: f64 = g.phases.iter().map(|p| p.tokens).sum();
            if (sum - g.tokens).abs() > 1e-6 * g.tokens {
                return bad(
                    "goal.phases".into(),
                    format!("the phases' tokens add up to {sum:e}, not the goal's {:e}; make goal.tokens their sum", g.tokens),
                );
            }
        }
        if let Some(r) = &g.batch_ramp {
            let first = g.phases.first().map_or(g.tokens, |p| p.tokens);
            let batch = g.phases.first().and_then(|p| p.batch_tokens).unwrap_or(g.batch_tokens);
            let seq = f64::from(g.phases.first().and_then(|p| p.seq_len).unwrap_or(g.seq_len));
            crate::limits::in_range(
                file,
                "goal.batch_ramp.from_batch_tokens",
                r.from_batch_tokens,
                seq,
                batch,
                "tokens (one sequence up to the batch it ramps to)",
            )?;
            if !(r.over_tokens > 0.0 && r.over_tokens < first) {
                return bad(
                    "goal.batch_ramp.over_tokens".into(),
                    format!("must be positive and less than the first phase's {first:e} tokens, got {}", r.over_tokens),
                );
            }
            if !(1..=16).contains(&r.steps) {
                return bad("goal.batch_ramp.steps".into(), format!("must be 1 to 16 sub-phases, got {}", r.steps));
            }
        }
        Ok(())
    }

    /// Compare every candidate.
    pub fn compare(&self, catalog: &Catalog, file: &str) -> Result<Comparison, WankaError> {
        self.compare_cancellable(catalog, file, &Cancel::new())
    }

    /// [`PlanFile::compare`] that stops with [`WankaError::Cancelled`] when `cancel` is set (checked
    /// per candidate plan of the searches, per Monte Carlo seed and between the mixed-hardware options).
    pub fn compare_cancellable(&self, catalog: &Catalog, file: &str, cancel: &Cancel) -> Result<Comparison, WankaError> {
        self.compare_cached(catalog, file, cancel, &search::SearchCache::new())
    }

    /// [`PlanFile::compare_cancellable`] with the parallelism searches taken from (and added to)
    /// `cache`: a caller that compares again after an edit that leaves every search's inputs alone
    /// (money, power, deadline, budget, run settings) does not search again. Same result as without
    /// the cache.
    pub fn compare_cached(
        &self,
        catalog: &Catalog,
        file: &str,
        cancel: &Cancel,
        cache: &search::SearchCache,
    ) -> Result<Comparison, WankaError> {
        let model = self.goal.model.resolve().map_err(|e| e.in_field(file, "goal.model"))?;
        let mut results = Vec::with_capacity(self.candidates.len());
        for (i, c) in self.candidates.iter().enumerate() {
            results.push(self.evaluate(&model, c, i, catalog, file, cancel, cache)?);
        }
        // Rank feasible by p50 days (stable on input order).
        let mut order: Vec<usize> = (0..results.len()).collect();
        order.sort_by(|&x, &y| {
            let (a, b) = (&results[x], &results[y]);
            b.feasible.cmp(&a.feasible).then(a.days.p50.total_cmp(&b.days.p50)).then(x.cmp(&y))
        });
        let mut ranked: Vec<CandidateResult> = order.into_iter().map(|i| results[i].clone()).collect();
        let names: Vec<String> = ranked.iter().map(|r| r.name.clone()).collect();
        let mut rank = 0;
        for r in ranked.iter_mut() {
            if r.feasible {
                rank += 1;
                r.rank = rank;
            }
        }
        // Candidates that cannot be told apart within model error.
        let bands: Vec<Option<crate::run::model_error::Bands>> = ranked.iter().map(|r| r.bands.clone()).collect();
        for (i, r) in ranked.iter_mut().enumerate() {
            if let Some(a) = &bands[i] {
                r.indistinguishable_from = bands
                    .iter()
                    .enumerate()
                    .filter(|(j, b)| *j != i && b.as_ref().is_some_and(|b| crate::run::model_error::indistinguishable(a, b)))
                    .map(|(j, _)| names[j].clone())
                    .collect();
            }
        }
        // Pareto front on (p50 days, total cost): no other feasible candidate is at least as good on
        // both and better on one.
        // Only finite points take part (economics refuses non-finite costs; this keeps it so).
        let on_front = |r: &CandidateResult| r.feasible && r.days.p50.is_finite() && r.economics.total_usd.is_finite();
        let feasible: Vec<(f64, f64)> = ranked.iter().filter(|r| on_front(r)).map(|r| (r.days.p50, r.economics.total_usd)).collect();
        let mut front = Vec::new();
        for r in ranked.iter_mut().filter(|r| on_front(r)) {
            let (d, c) = (r.days.p50, r.economics.total_usd);
            let dominated = feasible.iter().any(|&(d2, c2)| d2 <= d && c2 <= c && (d2 < d || c2 < c));
            r.pareto = !dominated;
            if !dominated {
                front.push(r.name.clone());
            }
        }
        Ok(Comparison {
            plan: self.name.clone(),
            model: model.name.clone(),
            tokens: self.goal.tokens,
            deadline_days: self.goal.deadline_days,
            budget_musd: self.goal.budget_musd,
            search_candidates_total: ranked.iter().map(|r| r.search_enumerated).sum(),
            candidates: ranked,
            pareto_front: front,
            seeds: self.settings.seeds,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        model: &ModelSpec,
        c: &Candidate,
        index: usize,
        catalog: &Catalog,
        file: &str,
        cancel: &Cancel,
        cache: &search::SearchCache,
    ) -> Result<CandidateResult, WankaError> {
        let field = format!("candidates[{index}]");
        let (merged, merge_note) = merge_same_chip(c);
        let c = &merged;
        let clusters = resolve_pools(c, catalog, file, &field)?;
        let devices: u64 = clusters.iter().map(|c| c.gpus).sum();
        let chips = c.pools.iter().map(|p| format!("{} x {}", p.count, p.chip)).collect::<Vec<_>>().join(" + ");
        let phases = self.goal.resolved_phases();
        let t0 = std::time::Instant::now();
        let mut found = Vec::with_capacity(phases.len());
        for (i, ph) in phases.iter().enumerate() {
            let phase_clusters = match (ph.gpus, clusters.as_slice()) {
                (None, _) => clusters.clone(),
                (Some(n), [one]) if u64::from(n) <= one.gpus => vec![Cluster { gpus: u64::from(n), ..one.clone() }],
                (Some(n), [one]) => {
                    return Err(WankaError::Invalid {
                        file: file.into(),
                        field: format!("goal.phases[{i}].gpus"),
                        msg: format!("{n} devices, but candidate `{}` has {}", c.name, one.gpus),
                    });
                }
                (Some(_), _) => {
                    return Err(WankaError::Invalid {
                        file: file.into(),
                        field: format!("goal.phases[{i}].gpus"),
                        msg: format!("a phase's device count needs a single-pool candidate; `{}` mixes pools", c.name),
                    });
                }
            };
            let mut o = self.search_options(model, c, &phase_clusters, ph, cancel, cache)?;
            o.options.sort_by(|x, y| x.s_per_mtok.total_cmp(&y.s_per_mtok));
            found.push(o);
        }
        // The library's only wall-clock read (see the crate docs): reported, never used.
        let search_ms = t0.elapsed().as_secs_f64() * 1e3;
        let enumerated = found.iter().map(|o| o.enumerated).sum();
        let feasible_plans = found.iter().map(|o| o.feasible).sum();
        let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
        for (k, v) in found.iter().flat_map(|o| &o.rejected) {
            *rejected.entry(k.clone()).or_insert(0) += v;
        }
        // Useful seconds of each phase at its best plan; the main phase (most of them) gives the
        // candidate's layout, placement and search tables.
        let work_s: Vec<f64> =
            phases.iter().zip(&found).map(|(ph, o)| o.options.first().map_or(f64::INFINITY, |b| ph.tokens / b.tokens_per_s)).collect();
        let main = (0..phases.len()).fold(0, |m, i| if work_s[i] > work_s[m] { i } else { m });
        let unfeasible_phase = found.iter().position(|o| o.options.is_empty());
        // Each phase's best option (the candidate's main one included), for the per-phase figures.
        let phase_best: Vec<Option<MixedOption>> = found.iter().map(|o| o.options.first().cloned()).collect();
        let seq = phases[main].seq_len;
        let SearchOutcome { searches, options, .. } = found.remove(main);
        let mixed_verdict = (clusters.len() > 1).then(|| verdict(&options));
        let top_plans = if clusters.len() == 1 { searches[0].top.clone() } else { Vec::new() };
        let mut result = CandidateResult {
            name: c.name.clone(),
            rank: 0,
            feasible: false,
            infeasible_reason: None,
            devices,
            chips,
            parallelism: String::new(),
            step_s: 0.0,
            tokens_per_s: 0.0,
            mfu: 0.0,
            ideal_days: 0.0,
            mtti_hours: 0.0,
            days: Stats::default(),
            ettr: Stats::default(),
            interruptions: Stats::default(),
            economics: Economics::default(),
            flags: merge_note.into_iter().collect(),
            facility_cap_mw: c.power.facility_cap_mw,
            pareto: false,
            search_enumerated: enumerated,
            search_feasible: feasible_plans,
            search_rejected: rejected,
            search_simulated: searches.iter().map(|r| r.simulated).sum(),
            search_ms,
            top_plans,
            mixed_options: options.clone(),
            mixed_verdict,
            accuracy: accuracy_notes(&clusters, &self.framework.stack, model.moe.is_some()),
            placement: None,
            bands: None,
            indistinguishable_from: Vec::new(),
            phases: Vec::new(),
            run_inputs: None,
        };
        let Some(best) = options.first() else {
            let why = result
                .search_rejected
                .iter()
                .max_by_key(|(_, v)| **v)
                .map(|(k, v)| format!("no feasible parallelism (most common rejection: {k}, {v} plans)"));
            result.infeasible_reason = why.or(Some("no feasible parallelism".into()));
            return Ok(result);
        };
        if let Some(i) = unfeasible_phase {
            result.infeasible_reason = Some(format!("no feasible parallelism for phase `{}`", phases[i].name));
            return Ok(result);
        }
        result.feasible = true;
        result.placement = match (clusters.as_slice(), result.top_plans.first()) {
            ([cl], Some(top)) => {
                let mut used = cl.clone();
                used.gpus -= top.idle_devices.min(cl.gpus);
                // On the devices the layout uses (the search's own idle devices are its `idle_devices`).
                crate::step::resolve_plan(model, &top.spec, seq, used.gpus).ok().map(|plan| crate::step::placement(&used, &plan))
            }
            _ => None,
        };
        if let Some(p) = &result.placement
            && (p.idle_devices > 0 || p.unusable_devices > 0 || !p.across_domains.is_empty())
        {
            result.flags.push(format!("placement: {}", p.describe()));
        }
        if let Some(p) = &result.placement
            && p.domain_devices > crate::run::inputs::FAILURE_NODE_DEVICES
        {
            result.flags.push(format!(
                "failures: node rates counted per {}-device server inside the {}-device domains; a fault of the domain's own switches is not in the profile (estimate)",
                crate::run::inputs::FAILURE_NODE_DEVICES,
                p.domain_devices
            ));
        }
        result.parallelism = format!("{}: {}", best.strategy, best.layout);
        result.step_s = best.step_s;
        let total_work_s: f64 = work_s.iter().sum();
        // One phase: the best plan's own figures (bit for bit); several: the run's mean throughput and
        // the useful-time-weighted MFU.
        result.tokens_per_s = if phases.len() == 1 { best.tokens_per_s } else { self.goal.tokens / total_work_s };
        result.mfu = if phases.len() == 1 {
            best.mfu
        } else {
            phase_best.iter().zip(&work_s).map(|(b, w)| b.as_ref().map_or(0.0, |b| b.mfu) * w).sum::<f64>() / total_work_s
        };
        // The training run: failures over every device doing work, checkpoints of the whole model.
        let first = &clusters[0];
        let job = RunJob {
            run: &c.run,
            tokens: self.goal.tokens,
            tokens_per_s: result.tokens_per_s,
            // The mean step over the phases (their useful seconds over their steps).
            step_s: total_work_s / phases.iter().map(|ph| ph.tokens / ph.batch_tokens).sum::<f64>(),
            devices: best.devices_used,
            gpus_per_node: first.gpus_per_node.min(crate::run::inputs::FAILURE_NODE_DEVICES),
            params: model.params(seq).total,
            nic_gb_per_s: first.nic_peak_bytes_per_s() / 1e9,
            degraded_speed: vec![1.0],
            replicas_per_node: 1,
        };
        let (inputs, ctx) = build_run_inputs(job, file)?;
        crate::run::inputs::check_event_budget(&inputs, self.settings.seeds, file)?;
        let mc = run::monte_carlo_cancellable(&inputs, self.settings.seed, self.settings.seeds, cancel)?;
        result.ideal_days = ctx.ideal_days;
        result.mtti_hours = ctx.mtti_hours;
        result.days = mc.wall_days;
        result.ettr = mc.ettr;
        result.interruptions = mc.interruptions;
        let pools: Vec<PoolHw> =
            clusters.iter().map(|cl| PoolHw { chip: &cl.chip, devices: cl.gpus, gpus_per_node: cl.domain_devices }).collect();
        // Spares are failure-profile nodes; bought as whole domains of the first pool.
        let node = u64::from(job_node_devices(first));
        let spare_domains = (u64::from(inputs.hot_spare_nodes) * node).div_ceil(u64::from(first.domain_devices)) as u32;
        result.economics = economics::economics(&c.money, &c.power, &pools, spare_domains, mc.wall_days.p50, self.goal.tokens)
            .map_err(|msg| WankaError::Invalid { file: file.into(), field: field.clone(), msg })?;
        // Model error: the family (of the pools) whose forecasts erred most widely.
        let err = clusters
            .iter()
            .map(|cl| crate::run::model_error::errors_for(&cl.calibration, &self.framework.stack, model.moe.is_some()))
            .max_by(|a, b| a.mape().total_cmp(&b.mape()))
            .unwrap_or_default();
        let days: Vec<f64> = mc.seed_runs.iter().map(|r| r.wall_s / 86_400.0).collect();
        let price =
            |d: f64| economics::economics(&c.money, &c.power, &pools, spare_domains, d, self.goal.tokens).ok().map(|e| e.total_usd / 1e6);
        result.bands = Some(crate::run::model_error::Bands::new(&days, &err, Some(&price)));
        if phases.len() > 1 {
            // Every phase is feasible here (an infeasible one returned above).
            result.phases = phases
                .iter()
                .zip(&phase_best)
                .enumerate()
                .filter_map(|(i, (ph, b))| {
                    let b = b.as_ref()?;
                    // Failures strike in proportion to wall time: the run's days, cost and energy are
                    // shared out by each phase's useful time.
                    let share = work_s[i] / total_work_s;
                    let phase_devices = ph.gpus.map_or(devices, u64::from);
                    Some(PhaseResult {
                        name: ph.name.clone(),
                        devices: phase_devices,
                        tokens: ph.tokens,
                        seq_len: ph.seq_len,
                        batch_tokens: ph.batch_tokens,
                        parallelism: format!("{}: {}", b.strategy, b.layout),
                        step_s: b.step_s,
                        tokens_per_s: b.tokens_per_s,
                        mfu: b.mfu,
                        ideal_days: work_s[i] / 86_400.0,
                        days_p50: mc.wall_days.p50 * share,
                        gpu_hours_p50: mc.wall_days.p50 * share * 24.0 * phase_devices as f64,
                        cost_musd: result.economics.total_usd * share / 1e6,
                        energy_mwh: result.economics.energy_mwh * share,
                    })
                })
                .collect();
            if let Some(r) = &self.goal.batch_ramp {
                result.flags.push(format!(
                    "batch ramp from {:.3e} tokens over {:.3e} tokens simulated as {} steps at their mean batch (approximation)",
                    r.from_batch_tokens,
                    r.over_tokens,
                    r.steps.max(1)
                ));
            }
        }
        result.run_inputs = Some(inputs);
        result.flags.extend(self.flags(c, &clusters, &mc, &result.economics));
        result.flags.extend(c.estimates.iter().map(|e| format!("estimate: {e}")));
        for cl in &clusters {
            if cl.chip.confidence.to_lowercase().contains("estimat") {
                result.flags.push(format!("{}: catalog figures include estimates ({})", cl.chip.id, cl.chip.confidence));
            }
        }
        Ok(result)
    }

    /// Single-pool searches (every pool), then the mixed options over two pools.
    fn search_options(
        &self,
        model: &ModelSpec,
        c: &Candidate,
        clusters: &[Cluster],
        phase: &ResolvedPhase,
        cancel: &Cancel,
        cache: &search::SearchCache,
    ) -> Result<SearchOutcome, WankaError> {
        let seq = phase.seq_len;
        let fw = &self.framework;
        let batch = self.batch_target(phase.batch_tokens);
        let mut searches = Vec::new();
        let mut enumerated = 0;
        let mut feasible_plans = 0;
        let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
        for cl in clusters {
            let space = search::merge(&c.parallelism, search::default_space(model, cl, seq));
            let space = match &phase.pins {
                Some(pins) => search::merge(pins, space),
                None => space,
            };
            let q = search::Search { model, cluster: cl, seq_len: seq, fw, space: &space, batch, top_k: self.settings.top_k };
            let r = cache.search(&q, cancel)?;
            enumerated += r.enumerated;
            feasible_plans += r.feasible;
            for (k, v) in &r.rejected {
                *rejected.entry(k.clone()).or_insert(0) += v;
            }
            searches.push(r);
        }
        let mut options: Vec<MixedOption> = Vec::new();
        for (cl, r) in clusters.iter().zip(&searches) {
            if let Some(best) = r.top.first() {
                options.push(MixedOption {
                    strategy: format!("single-pool:{}", cl.chip.id),
                    layout: describe(&best.spec),
                    step_s: best.step_s,
                    tokens_per_s: best.tokens_per_s,
                    s_per_mtok: best.s_per_mtok,
                    mfu: best.mfu * (cl.gpus as f64 * cl.chip.bf16_dense_tflops)
                        / clusters.iter().map(|x| x.gpus as f64 * x.chip.bf16_dense_tflops).sum::<f64>(),
                    devices_used: cl.gpus - best.idle_devices,
                    stage_busy_s: Vec::new(),
                    layers_per_stage: Vec::new(),
                });
            }
        }
        if clusters.len() == 2 {
            let (a, b) = (&clusters[0], &clusters[1]);
            // Faster chips first in the pipeline: the first stages hold the most activations.
            let (first, second) = if a.chip.bf16_dense_tflops >= b.chip.bf16_dense_tflops { (a, b) } else { (b, a) };
            cancel.check()?;
            options.extend(mixed::hetero_pipeline(model, first, second, seq, fw, batch));
            cancel.check()?;
            options.extend(mixed::hetero_data(model, a, b, seq, fw, batch));
            cancel.check()?;
        }
        Ok(SearchOutcome { searches, options, enumerated, feasible: feasible_plans, rejected })
    }

    /// The goal's batch as the searches take it.
    fn batch_target(&self, batch_tokens: f64) -> BatchTarget {
        match self.goal.batch_tolerance {
            Some(tol) => BatchTarget::TokensWithin(batch_tokens, tol),
            None => BatchTarget::Tokens(batch_tokens),
        }
    }

    /// The single-pool parallelism searches [`PlanFile::compare`] runs, candidate by candidate, phase
    /// by phase and pool by pool (pools of one chip merged, as compare merges them; a phase's own
    /// device count and pins applied); the mixed-hardware options are not searches and are not listed.
    pub fn search_queries(&self, catalog: &Catalog, file: &str) -> Result<Vec<search::SearchQuery>, WankaError> {
        let model = self.goal.model.resolve().map_err(|e| e.in_field(file, "goal.model"))?;
        let mut out = Vec::new();
        for (i, c) in self.candidates.iter().enumerate() {
            let (merged, _) = merge_same_chip(c);
            let clusters = resolve_pools(&merged, catalog, file, &format!("candidates[{i}]"))?;
            for ph in self.goal.resolved_phases() {
                for cl in &clusters {
                    let mut cl = cl.clone();
                    if let (Some(n), 1) = (ph.gpus, clusters.len()) {
                        cl.gpus = u64::from(n).min(cl.gpus);
                    }
                    let space = search::merge(&merged.parallelism, search::default_space(&model, &cl, ph.seq_len));
                    let space = match &ph.pins {
                        Some(pins) => search::merge(pins, space),
                        None => space,
                    };
                    out.push(search::SearchQuery {
                        model: model.clone(),
                        cluster: cl,
                        seq_len: ph.seq_len,
                        fw: self.framework.clone(),
                        space,
                        batch: self.batch_target(ph.batch_tokens),
                        top_k: self.settings.top_k,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Warnings on a simulated candidate: unfinished runs, deadline, budget, power cap, calibration.
    fn flags(&self, c: &Candidate, clusters: &[Cluster], mc: &MonteCarlo, econ: &Economics) -> Vec<String> {
        let mut flags = Vec::new();
        if mc.completed_fraction < 1.0 {
            flags.push(format!("{:.0}% of runs did not finish within max_days", 100.0 * (1.0 - mc.completed_fraction)));
        }
        if let Some(d) = self.goal.deadline_days {
            if mc.wall_days.p50 > d {
                flags.push(format!("misses deadline: p50 {:.0} > {d:.0} days", mc.wall_days.p50));
            } else if mc.wall_days.p90 > d {
                flags.push(format!("may miss deadline: p90 {:.0} > {d:.0} days", mc.wall_days.p90));
            }
        }
        if let Some(b) = self.goal.budget_musd
            && econ.total_usd > b * 1e6
        {
            flags.push(format!("over budget: {:.0} > {b:.0} M USD", econ.total_usd / 1e6));
        }
        if let Some(cap) = c.power.facility_cap_mw
            && econ.peak_mw > cap
        {
            flags.push(format!("over power cap: {:.1} > {cap:.1} MW", econ.peak_mw));
        }
        if let Ok(p) = crate::run::failure::profile(&c.run.failures.profile)
            && p.estimate
        {
            flags.push(format!("failure rates are an estimate ({}): {}", p.id, p.basis));
        }
        for cl in clusters {
            if !cl.calibration.calibrated {
                flags.push(format!("{}: efficiency not calibrated on published runs (estimate)", cl.chip.id));
            } else if !cl.calibration.fitted_on.contains(&cl.chip.id) {
                flags.push(format!("{}: efficiency fitted on {} (same family)", cl.chip.id, cl.calibration.fitted_on.join(", ")));
            }
        }
        flags
    }
}

/// What the searches of a candidate found: per-pool results, every option (single-pool and mixed),
/// and the rejection counts summed over pools.
struct SearchOutcome {
    searches: Vec<search::SearchResult>,
    options: Vec<MixedOption>,
    enumerated: u64,
    feasible: u64,
    rejected: BTreeMap<String, u64>,
}

/// A candidate whose pools of one chip are merged into one (in the order of their first pool), with a
/// note saying so: two pools of the same chip and node size are one cluster, not mixed hardware
/// (`check` refuses them with different node sizes).
fn merge_same_chip(c: &Candidate) -> (Candidate, Option<String>) {
    let mut pools: Vec<Pool> = Vec::with_capacity(c.pools.len());
    for p in &c.pools {
        match pools.iter_mut().find(|q| q.chip == p.chip) {
            Some(q) => q.count = q.count.saturating_add(p.count),
            None => pools.push(p.clone()),
        }
    }
    if pools.len() == c.pools.len() {
        return (c.clone(), None);
    }
    let before = c.pools.iter().map(|p| format!("{} x {}", p.count, p.chip)).collect::<Vec<_>>().join(" + ");
    let after = pools.iter().map(|p| format!("{} x {}", p.count, p.chip)).collect::<Vec<_>>().join(" + ");
    let note = format!("pools of one chip merged: {before} run as {after} (the same chip is one pool, not mixed hardware)");
    (Candidate { pools, ..c.clone() }, Some(note))
}

/// Devices of one failure-profile node of a cluster (see [`crate::run::inputs::FAILURE_NODE_DEVICES`]).
fn job_node_devices(cl: &Cluster) -> u32 {
    cl.gpus_per_node.min(crate::run::inputs::FAILURE_NODE_DEVICES)
}

/// The pools of a candidate resolved against the catalog (errors name `candidates[i].pools[j]`).
fn resolve_pools(c: &Candidate, catalog: &Catalog, file: &str, field: &str) -> Result<Vec<Cluster>, WankaError> {
    let mut clusters = Vec::with_capacity(c.pools.len());
    for (j, p) in c.pools.iter().enumerate() {
        let spec = ClusterSpec {
            chip: p.chip.clone(),
            gpus: p.count,
            gpus_per_node: p.gpus_per_node,
            usable_per_domain: p.usable_per_domain,
            network: c.network.clone(),
        };
        let cl = Cluster::resolve(&spec, catalog, file).map_err(|e| match e {
            WankaError::Invalid { file, field: f, msg } => {
                WankaError::Invalid { file, field: format!("{field}.pools[{j}].{}", f.trim_start_matches("cluster.")), msg }
            }
            other => other,
        })?;
        clusters.push(cl);
    }
    Ok(clusters)
}

/// The parallelism of a spec in words.
pub fn describe(s: &crate::workload::parallelism::ParallelismSpec) -> String {
    let sched = match (s.schedule, s.vpp) {
        (Some(crate::workload::parallelism::Schedule::Interleaved), Some(v)) if v > 1 => format!("interleaved v{v}"),
        (Some(crate::workload::parallelism::Schedule::DualPipe), _) => "DualPipe".into(),
        _ => "1F1B".into(),
    };
    let mut out = format!("TP{} PP{} DP{}", s.tp, s.pp, s.dp);
    if s.cp > 1 {
        out.push_str(&format!(" CP{}", s.cp));
    }
    if s.ep > 1 {
        out.push_str(&format!(" EP{}", s.ep));
    }
    out.push_str(&format!(
        " mb{} gb{} {sched} recompute-{} ZeRO-{}{}",
        s.micro_batch.unwrap_or(1),
        s.global_batch,
        crate::workload::parallelism::recompute_label(s.recompute, s.recompute_layers),
        s.zero_stage,
        if s.sequence_parallel { " SP" } else { "" }
    ));
    if s.rank_order != crate::workload::parallelism::RankOrder::default() {
        out.push_str(&format!(" order {}", s.rank_order.label()));
    }
    out
}

fn verdict(options: &[MixedOption]) -> String {
    let Some(best) = options.first() else { return "no mixed option is feasible".into() };
    let others: Vec<String> = options[1..]
        .iter()
        .map(|o| format!("{} {:.1}% slower per token", o.strategy, 100.0 * (o.s_per_mtok / best.s_per_mtok - 1.0)))
        .collect();
    let why = match best.strategy.as_str() {
        "hetero-pipeline" => "stages on the faster chips take proportionally more layers, so both pools work in every step",
        "hetero-data" => "each pool runs whole replicas at its own pace; only gradients cross pools",
        _ => "the slower pool adds more imbalance and communication than throughput",
    };
    format!("{} wins ({why}); {}", best.strategy, if others.is_empty() { "no alternative".into() } else { others.join("; ") })
}

/// A candidate as a one-pool scenario (for `wanka run`/GUI drill-down): the best plan of the search.
pub fn candidate_scenario(plan: &PlanFile, c: &CandidateResult, cand: &Candidate) -> Option<Scenario> {
    let best = c.top_plans.first()?;
    let p = cand.pools.first()?;
    Some(Scenario {
        name: format!("{} / {}", plan.name, c.name),
        description: c.parallelism.clone(),
        model: plan.goal.model.clone(),
        cluster: ClusterSpec {
            chip: p.chip.clone(),
            gpus: (u64::from(p.count) - best.idle_devices) as u32,
            gpus_per_node: p.gpus_per_node,
            usable_per_domain: p.usable_per_domain,
            network: cand.network.clone(),
        },
        parallelism: best.spec.clone(),
        auto: None,
        training: TrainingSpec { seq_len: plan.goal.seq_len, tokens: plan.goal.tokens },
        framework: plan.framework.clone(),
        run: cand.run.clone(),
        seed: plan.settings.seed,
        defaults: Default::default(),
    })
}

#[cfg(test)]
mod tests;
