//! Whole published training runs: one case-file row per run (model, tokens, batch, chip, devices,
//! network, stack, the published layout when there is one, the published wall-clock days or GPU-hours,
//! a numeric tolerance), run through the planner twice — with the published layout pinned, and with
//! wanka's own parallelism search — each as a whole training run with failures (Monte Carlo p50).
//!
//! What a row checks: the pinned prediction against the published figure (within the row's
//! tolerance), and how much faster the searched plan claims to be than the published one. A search
//! that beats a real run's layout by more than [`SEARCH_SPEEDUP_LIMIT`] is flagged unless the row gives
//! a sourced reason (`search_reason`): a planner who trusts such a search is told a cluster is faster
//! than it will be.
//!
//! A published batch ramp (`batch_ramp`) is simulated as the goal's ramp (four steps at their mean
//! batch), published stages (`phases`: tokens, sequence length, batch, devices, CP) as the goal's
//! phases; a run in phases is compared by the sum of its phases' GPU-hours. Not modelled here:
//! evaluation and ablation time inside published totals.

use serde::Serialize;
use std::path::Path;

use crate::error::WankaError;
use crate::hardware::catalog::Catalog;
use crate::planning::economics::{Money, Power};
use crate::planning::explain::{Explanation, explain};
use crate::planning::plan_file::{Candidate, CandidateResult, Goal, PlanFile, Pool, Settings};
use crate::planning::search::SearchSpace;
use crate::run::RunSpec;
use crate::validate::csv_rows::{Row, csv_records};
use crate::workload::model::ModelRef;

/// Columns every whole-run file has.
pub const WHOLE_RUN_COLUMNS: &[&str] = &[
    "id",
    "source",
    "tokens",
    "seq_len",
    "batch_tokens",
    "chip",
    "gpus",
    "gpus_per_node",
    "nic_gbps_per_gpu",
    "published_days",
    "published_gpu_hours",
    "tolerance_pct",
    "notes",
];

/// Largest speed-up of the searched plan over the published one that passes without a stated reason.
pub const SEARCH_SPEEDUP_LIMIT: f64 = 0.15;

/// How far the searched plan's global batch may be from the published one (5%: enough for the
/// nearest multiple of dp × micro-batch, not for a different optimisation).
pub const WHOLE_RUN_BATCH_TOLERANCE: f64 = 0.05;

/// Monte Carlo seeds per prediction (the p50 of days moves by well under 1% beyond this).
pub const WHOLE_RUN_SEEDS: u64 = 16;

/// One published run.
#[derive(Debug, Clone)]
pub struct WholeRunCase {
    pub id: String,
    pub source: String,
    pub confidence: String,
    pub line: usize,
    /// The planner's input: goal, the cluster as the run had it, and two candidates (pinned when the
    /// layout is published, and searched).
    pub plan: PlanFile,
    pub pinned: bool,
    pub published_days: Option<f64>,
    pub published_gpu_hours: Option<f64>,
    pub tolerance: f64,
    pub search_reason: String,
}

/// The planner's prediction of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunPrediction {
    pub parallelism: String,
    pub step_s: f64,
    pub mfu: f64,
    /// Monte Carlo median of the wall-clock days, with failures and restarts.
    pub days_p50: f64,
    /// Days without any failure (step time × steps).
    pub ideal_days: f64,
    pub gpu_hours_p50: f64,
    pub mtti_hours: f64,
    pub interruptions_p50: f64,
}

/// One case's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WholeRunResult {
    pub id: String,
    pub chip: String,
    pub gpus: u64,
    pub confidence: String,
    /// `days` or `gpu_hours`: which published figure the prediction is compared with.
    pub measure: String,
    /// The figure compared (in days or GPU-hours as `measure` says; the JSON carries it under its
    /// unit's name, `published_days` or `published_gpu_hours`).
    #[serde(skip)]
    pub published: f64,
    /// The run's published wall-clock days and GPU-hours (each when published).
    pub published_days: Option<f64>,
    pub published_gpu_hours: Option<f64>,
    pub tolerance: f64,
    pub pinned: Option<RunPrediction>,
    /// Signed error of the pinned prediction (fraction; negative = optimistic).
    pub error: Option<f64>,
    pub within_tolerance: Option<bool>,
    pub searched: Option<RunPrediction>,
    /// Signed error of the searched plan's prediction.
    pub searched_error: Option<f64>,
    /// How much faster the searched plan claims to be than the published one: pinned days ÷ searched
    /// days − 1 (0.2 = the search says 20% faster).
    pub search_speedup: Option<f64>,
    pub search_reason: String,
    /// The speed-up is above [`SEARCH_SPEEDUP_LIMIT`] without a stated reason.
    pub search_flagged: bool,
    /// The searched plan against the published one, term by term (when both were planned).
    pub explanation: Option<Explanation>,
    pub failure: Option<String>,
}

/// A whole-run validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WholeRunReport {
    pub file: String,
    pub cases: Vec<WholeRunResult>,
    /// Cases with a pinned prediction, and how many of them are within their tolerance.
    pub pinned_cases: usize,
    pub pinned_within_tolerance: usize,
    /// Mean absolute error of the pinned predictions.
    pub pinned_mape: f64,
    pub searched_cases: usize,
    pub searched_within_tolerance: usize,
    pub search_flagged: usize,
    pub failed: usize,
}

fn pins(r: &Row) -> Result<Option<SearchSpace>, WankaError> {
    let Some(tp) = r.opt::<u32>("tp", "a whole number")? else { return Ok(None) };
    let pp: u32 = r.req("pp", "a whole number (the published layout gives tp, so pp too)")?;
    let dp: u32 = r.req("dp", "a whole number (the published layout gives tp, so dp too)")?;
    let cp: u32 = r.opt("cp", "a whole number")?.unwrap_or(1);
    let gpus: u64 = r.req("gpus", "a whole number")?;
    let product = u64::from(tp) * u64::from(pp) * u64::from(dp) * u64::from(cp);
    if product != gpus {
        return Err(r.err("dp", format!("tp·pp·dp·cp = {tp}·{pp}·{dp}·{cp} = {product}, but the run has {gpus} devices")));
    }
    let recompute = r.choice("recompute", &super::RECOMPUTES, None)?;
    Ok(Some(SearchSpace {
        tp: Some(vec![tp]),
        pp: Some(vec![pp]),
        cp: Some(vec![cp]),
        ep: r.opt("ep", "a whole number")?.map(|e| vec![e]),
        // Only what the run published is pinned; the rest (blank cells) is searched.
        vpp: r.opt("vpp", "a whole number")?.map(|v| vec![v]),
        micro_batch: r.opt("micro_batch", "a whole number")?.map(|m| vec![m]),
        recompute: recompute.map(|x| vec![x]),
        zero_stage: r.opt("zero_stage", "0, 1, 2 or 3")?.map(|z| vec![z]),
        schedule: r.choice("schedule", &super::SCHEDULES, None)?.map(|s| vec![s]),
        pipeline_split: r.choice("pipeline_split", &super::PIPELINE_SPLITS, None)?,
        recompute_modules: super::recompute_modules(r)?,
        ..Default::default()
    }))
}

/// The `batch_ramp` cell, `FROM_BATCH_TOKENS/OVER_TOKENS` (Megatron's `--rampup-batch-size START
/// INCREMENT SAMPLES` is `START·seq_len/SAMPLES·seq_len`): the global batch grows linearly from the
/// first figure to `batch_tokens` over the first `OVER_TOKENS` tokens. Blank: no ramp.
fn batch_ramp(r: &Row) -> Result<Option<crate::planning::plan_file::BatchRamp>, WankaError> {
    let cell = r.raw("batch_ramp");
    if cell.is_empty() {
        return Ok(None);
    }
    let what = "FROM_BATCH_TOKENS/OVER_TOKENS, e.g. 393216/2.0e10 (the batch grows from the first figure to batch_tokens over the first OVER_TOKENS tokens)";
    let parts: Vec<Option<f64>> = cell.split('/').map(|x| x.trim().parse::<f64>().ok()).collect();
    let [Some(from), Some(over)] = parts[..] else { return Err(r.err("batch_ramp", format!("`{cell}` is not {what}"))) };
    let batch: f64 = r.positive("batch_tokens")?;
    let tokens: f64 = r.positive("tokens")?;
    let seq: u32 = r.req("seq_len", "a whole number")?;
    if !(from >= f64::from(seq) && from <= batch) {
        return Err(r.err("batch_ramp", format!("starts at {from} tokens: must be one sequence ({seq}) up to batch_tokens ({batch})")));
    }
    if !(over > 0.0 && over < tokens) {
        return Err(r.err("batch_ramp", format!("ramps over {over} tokens: must be positive and less than the run's {tokens}")));
    }
    Ok(Some(crate::planning::plan_file::BatchRamp { from_batch_tokens: from, over_tokens: over, steps: 4 }))
}

/// The `phases` cell: `NAME:TOKENS[:seq=N][:batch=TOKENS][:gpus=N][:cp=N]` per phase, `;` between
/// phases, tokens adding up to the row's (e.g. Llama 3's
/// `8M:2.618e12:batch=8388608:gpus=8192;16M:12.18e12;long:800e9:seq=131072:cp=16`). Omitted settings
/// are the row's. Blank: one phase.
fn phases(r: &Row) -> Result<Vec<crate::planning::plan_file::GoalPhase>, WankaError> {
    let cell = r.raw("phases");
    if cell.is_empty() {
        return Ok(Vec::new());
    }
    let what = "NAME:TOKENS[:seq=N][:batch=TOKENS][:gpus=N][:cp=N], phases separated by `;`";
    let mut out = Vec::new();
    for part in cell.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let mut fields = part.split(':').map(str::trim);
        let name = fields.next().unwrap_or_default().to_string();
        let tokens = fields.next().and_then(|t| t.parse::<f64>().ok());
        let (false, Some(tokens)) = (name.is_empty(), tokens) else {
            return Err(r.err("phases", format!("`{part}` is not {what}")));
        };
        let mut phase =
            crate::planning::plan_file::GoalPhase { name, tokens, seq_len: None, batch_tokens: None, parallelism: None, gpus: None };
        for f in fields {
            let bad = || r.err("phases", format!("`{f}` in `{part}`: expected seq=N, batch=TOKENS, gpus=N or cp=N ({what})"));
            let (key, value) = f.split_once('=').ok_or_else(bad)?;
            match key.trim() {
                "seq" => phase.seq_len = Some(value.trim().parse().map_err(|_| bad())?),
                "batch" => phase.batch_tokens = Some(value.trim().parse().map_err(|_| bad())?),
                "gpus" => phase.gpus = Some(value.trim().parse().map_err(|_| bad())?),
                "cp" => {
                    let cp: u32 = value.trim().parse().map_err(|_| bad())?;
                    phase.parallelism = Some(SearchSpace { cp: Some(vec![cp]), ..Default::default() });
                }
                _ => return Err(bad()),
            }
        }
        out.push(phase);
    }
    Ok(out)
}

fn whole_run_case(r: &Row) -> Result<WholeRunCase, WankaError> {
    let id: String = r.req("id", "a case id")?;
    let model = if r.raw("layers").is_empty() && !r.raw("model").is_empty() {
        ModelRef::Preset(r.raw("model").to_string())
    } else {
        ModelRef::Custom(super::case_model(r, &id)?)
    };
    let nic = r.positive("nic_gbps_per_gpu")?;
    let gpus: u32 = r.req("gpus", "a whole number")?;
    let gpus_per_node: u32 = r.req("gpus_per_node", "a whole number")?;
    let network = super::case_network(r, nic);
    let mut run = RunSpec::default();
    match r.raw("failure_profile") {
        "" => {}
        // A published figure computed from throughput (an estimate, or a failure-free ideal).
        "none" => run.failures.multiplier = 0.0,
        p => run.failures.profile = p.to_string(),
    }
    // A failure rate the run's own report gives is an input (the run's cluster, as it was); the profile
    // then gives only the mix of causes.
    if let Some(rate) = r.opt::<f64>("failures_per_1000_node_days", "a published failure rate per 1,000 node-days")? {
        if !(rate > 0.0 && rate <= 1000.0) {
            return Err(r.err("failures_per_1000_node_days", format!("must be in (0, 1000], got {rate}")));
        }
        if run.failures.multiplier == 0.0 {
            return Err(r.err("failures_per_1000_node_days", "a published rate contradicts failure_profile `none`".into()));
        }
        run.failures.failures_per_1000_node_days = Some(rate);
    }
    // Checkpointing as the run's scripts set it: synchronous saves (every 2021-23 stack: the job waits
    // while each rank writes) every N steps; blank = wanka's defaults (asynchronous, Daly's interval).
    let policies = [
        ("sync", crate::run::checkpoint::Policy::Sync),
        ("async", crate::run::checkpoint::Policy::Async),
        ("in-memory", crate::run::checkpoint::Policy::InMemory),
    ];
    if let Some(p) = r.choice("checkpoint_policy", &policies, None)? {
        run.checkpoint.policy = p;
    }
    if let Some(steps) = r.opt::<u32>("checkpoint_interval_steps", "a whole number of steps (the script's save interval)")? {
        if steps == 0 {
            return Err(r.err("checkpoint_interval_steps", "must be at least 1 step".into()));
        }
        run.checkpoint.interval = crate::run::checkpoint::Interval::Steps { steps };
    }
    let candidate = |name: &str, parallelism: SearchSpace| Candidate {
        name: name.into(),
        pools: vec![Pool { chip: r.raw("chip").to_string(), count: gpus, gpus_per_node, usable_per_domain: None }],
        network: network.clone(),
        parallelism,
        run: run.clone(),
        // Cost is not what a whole-run case checks; a nominal rental keeps the economics defined.
        money: Money::Rental { usd_per_device_hour: 1.0 },
        power: Power { host_w_per_node: None, pue: 1.2, usd_per_kwh: 0.08, facility_cap_mw: None },
        estimates: Vec::new(),
    };
    let pinned = pins(r)?;
    let mut candidates = Vec::new();
    if let Some(p) = &pinned {
        candidates.push(candidate("published", p.clone()));
    }
    candidates.push(candidate("searched", SearchSpace::default()));
    let plan = PlanFile {
        name: id.clone(),
        description: r.raw("notes").to_string(),
        goal: Goal {
            model,
            tokens: r.positive("tokens")?,
            seq_len: r.req("seq_len", "a whole number")?,
            batch_tokens: r.positive("batch_tokens")?,
            // The searched plan trains with (nearly) the published batch: a plan that steps faster only
            // by taking a larger batch is not the same run.
            batch_tolerance: Some(WHOLE_RUN_BATCH_TOLERANCE),
            deadline_days: None,
            budget_musd: None,
            phases: phases(r)?,
            batch_ramp: batch_ramp(r)?,
        },
        candidates,
        settings: Settings { top_k: 1, seeds: WHOLE_RUN_SEEDS, seed: 1 },
        framework: super::case_framework(r)?,
        calibration: None,
    };
    let published_days = r.opt::<f64>("published_days", "a number of days")?;
    let published_gpu_hours = r.opt::<f64>("published_gpu_hours", "a number of GPU-hours")?;
    if published_days.is_none() && published_gpu_hours.is_none() {
        return Err(r.err("published_days", "a whole-run case needs published_days or published_gpu_hours".into()));
    }
    for (col, v) in [("published_days", published_days), ("published_gpu_hours", published_gpu_hours)] {
        if let Some(v) = v
            && !(v > 0.0 && v.is_finite())
        {
            return Err(r.err(col, format!("must be positive, got {v}")));
        }
    }
    let tolerance_pct: f64 = r.req("tolerance_pct", "a percentage (how far a prediction may be and still count)")?;
    if !(tolerance_pct > 0.0 && tolerance_pct <= 100.0) {
        return Err(r.err("tolerance_pct", format!("must be in (0, 100], got {tolerance_pct}")));
    }
    Ok(WholeRunCase {
        id,
        source: r.raw("source").to_string(),
        confidence: r.raw("confidence").to_string(),
        line: r.line,
        plan,
        pinned: pinned.is_some(),
        published_days,
        published_gpu_hours,
        tolerance: tolerance_pct / 100.0,
        search_reason: r.raw("search_reason").to_string(),
    })
}

/// Read a whole-run case file.
pub fn read_whole_runs(path: &Path) -> Result<Vec<WholeRunCase>, WankaError> {
    let file = path.display().to_string();
    let text = crate::ron_util::read_file(path)?;
    let (cols, recs) = csv_records(&text, &file, WHOLE_RUN_COLUMNS)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(recs.len());
    for rec in &recs {
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let r = Row { file: &file, line, cols: &cols, rec, settings: None };
        let c = whole_run_case(&r)?;
        if !seen.insert(c.id.clone()) {
            return Err(r.err("id", format!("case `{}` appears twice", c.id)));
        }
        out.push(c);
    }
    Ok(out)
}

fn prediction(c: &CandidateResult) -> RunPrediction {
    RunPrediction {
        parallelism: c.parallelism.clone(),
        step_s: c.step_s,
        mfu: c.mfu,
        days_p50: c.days.p50,
        ideal_days: c.ideal_days,
        // Phases on fewer devices count their own (a published GPU-hour total counts the GPUs used).
        gpu_hours_p50: if c.phases.is_empty() {
            c.days.p50 * 24.0 * c.devices as f64
        } else {
            c.phases.iter().map(|p| p.gpu_hours_p50).sum()
        },
        mtti_hours: c.mtti_hours,
        interruptions_p50: c.interruptions.p50,
    }
}

/// Run one case through the planner; a case that cannot be planned is a failed row with its reason.
pub fn simulate_whole_run(case: &WholeRunCase, catalog: &Catalog, file: &str) -> WholeRunResult {
    let (measure, published) = match (case.published_days, case.published_gpu_hours) {
        (Some(d), _) => ("days", d),
        (None, Some(h)) => ("gpu_hours", h),
        (None, None) => ("days", f64::NAN),
    };
    let pool = &case.plan.candidates[0].pools[0];
    let mut out = WholeRunResult {
        id: case.id.clone(),
        chip: pool.chip.clone(),
        gpus: u64::from(pool.count),
        confidence: case.confidence.clone(),
        measure: measure.into(),
        published,
        published_days: case.published_days,
        published_gpu_hours: case.published_gpu_hours,
        tolerance: case.tolerance,
        pinned: None,
        error: None,
        within_tolerance: None,
        searched: None,
        searched_error: None,
        search_speedup: None,
        search_reason: case.search_reason.clone(),
        search_flagged: false,
        explanation: None,
        failure: None,
    };
    let where_ = format!("{file} line {} ({})", case.line, case.id);
    let cmp = match case.plan.compare(catalog, &where_) {
        Ok(c) => c,
        Err(e) => {
            out.failure = Some(e.to_string());
            return out;
        }
    };
    let value = |p: &RunPrediction| if measure == "days" { p.days_p50 } else { p.gpu_hours_p50 };
    let mut reasons = Vec::new();
    for c in &cmp.candidates {
        if !c.feasible {
            reasons.push(format!("{}: {}", c.name, c.infeasible_reason.clone().unwrap_or_default()));
            continue;
        }
        let p = prediction(c);
        let err = (value(&p) - published) / published;
        if c.name == "published" {
            out.error = Some(err);
            out.within_tolerance = Some(err.abs() <= case.tolerance);
            out.pinned = Some(p);
        } else {
            out.searched_error = Some(err);
            out.searched = Some(p);
        }
    }
    let top = |name: &str| cmp.candidates.iter().find(|c| c.name == name && c.feasible).and_then(|c| c.top_plans.first());
    if let (Some(searched), Some(published)) = (top("searched"), top("published")) {
        out.explanation = Some(explain(searched, published, case.plan.goal.seq_len));
    }
    if let (Some(p), Some(s)) = (&out.pinned, &out.searched) {
        let speedup = p.days_p50 / s.days_p50 - 1.0;
        out.search_speedup = Some(speedup);
        out.search_flagged = speedup > SEARCH_SPEEDUP_LIMIT && case.search_reason.is_empty();
    }
    if !reasons.is_empty() && (out.searched.is_none() || (case.pinned && out.pinned.is_none())) {
        out.failure = Some(reasons.join("; "));
    }
    out
}

/// Validate a whole-run case file.
pub fn validate_whole_runs(path: &Path, catalog: &Catalog) -> Result<WholeRunReport, WankaError> {
    let file = path.display().to_string();
    let cases = read_whole_runs(path)?;
    let results: Vec<WholeRunResult> = cases.iter().map(|c| simulate_whole_run(c, catalog, &file)).collect();
    let pinned: Vec<f64> = results.iter().filter_map(|r| r.error).collect();
    let tol = |r: &WholeRunResult, e: Option<f64>| e.is_some_and(|e| e.abs() <= r.tolerance);
    Ok(WholeRunReport {
        file,
        pinned_cases: pinned.len(),
        pinned_within_tolerance: results.iter().filter(|r| tol(r, r.error)).count(),
        pinned_mape: if pinned.is_empty() { 0.0 } else { pinned.iter().map(|e| e.abs()).sum::<f64>() / pinned.len() as f64 },
        searched_cases: results.iter().filter(|r| r.searched.is_some()).count(),
        searched_within_tolerance: results.iter().filter(|r| tol(r, r.searched_error)).count(),
        search_flagged: results.iter().filter(|r| r.search_flagged).count(),
        failed: results.iter().filter(|r| r.failure.is_some()).count(),
        cases: results,
    })
}
