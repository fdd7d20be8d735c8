//! Validation against published runs: reads case files in the fixed layout of
//! `scenarios/validation/README` (the same columns as the shared validation data), simulates each case
//! and reports prediction, published figure and signed error.
//!
//! What the step-case layout does not say is filled by rules that are the same for every case:
//! - model family: gated FFN without biases, untied embeddings, rotary positions and no dropout
//!   (Llama-style) when `ffn_hidden ≠ 4·hidden`, else GPT-style (plain GeLU FFN, biases, learned
//!   positions, tied embeddings, dropout);
//! - network: InfiniBand of the stated per-GPU speed (`ib-hdr` 200, `ib-ndr` 400, `ib-xdr` 800 Gbit/s,
//!   else RoCE of that speed), on a non-blocking rail-optimised fat tree (`generic-fat-tree`);
//! - blank schedule, vpp, micro-batch: the defaults of [`crate::workload::parallelism`];
//! - software stack: [`crate::step::cost::FrameworkSpec::default`].
//!
//! Optional columns, for runs whose paper states more than the shared layout holds (absent or blank:
//! the rules above): `fabric` and `topology` (catalog ids), `rank_order` (`tp-cp-dp-pp`,
//! `tp-cp-pp-dp`), `overlap_grad_reduce` (true/false).

use serde::Serialize;
use std::path::Path;

use crate::error::WankaError;
use crate::hardware::catalog::Catalog;
use crate::hardware::topology::{ClusterSpec, NetworkSpec};
use crate::scenario::{Scenario, TrainingSpec};
use crate::step::cost::{AttentionSoftmax, CudaGraphs, FrameworkSpec, GradDtype, MoeDispatcher, Precision};
use crate::step::schedule::Breakdown;
use crate::workload::model::{ModelRef, ModelSpec, MoeSpec};
use crate::workload::parallelism::{ParallelismSpec, PipelineSplit, RankOrder, Recompute, RecomputeModule, Schedule};

pub mod calibrate;
mod csv_rows;
pub mod measurements;
mod reliability;
pub mod whole_run;

pub use csv_rows::settings_path;
pub(crate) use csv_rows::{Row, csv_records, read_rows, read_settings};
pub use reliability::{CaseRole, ReliabilityReport, ReliabilityResult, TOLERANCE_FORMS, validate_reliability};

/// Topology used for validation cases without a `topology` column.
pub const VALIDATION_TOPOLOGY: &str = "generic-fat-tree";

/// One step case as read from the file.
#[derive(Debug, Clone, Serialize)]
pub struct StepCase {
    pub id: String,
    pub source: String,
    /// 1-based line in the file.
    pub line: usize,
    pub scenario: Scenario,
    pub measured_step_s: f64,
    pub measured_tflops_per_gpu: Option<f64>,
    pub measured_mfu: Option<f64>,
    /// Confidence tag of the published figure (`V`, `S`, `M`, `D`), if the file gives one.
    pub confidence: String,
    /// The exact table cell the figure comes from, if the file gives it.
    pub cell: String,
    /// `recompute` was blank (not published): the least recomputation whose activations fit is used
    /// (none, then selective, then full), and the result says which.
    pub recompute_open: bool,
}

/// Prediction for one case; a case that could not be simulated carries its reason instead.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub chip: String,
    /// Calibration family of the chip (e.g. `nvidia-hopper`).
    pub family: String,
    /// Software-stack profile the case ran with.
    pub stack: String,
    pub precision: String,
    pub confidence: String,
    pub measured_step_s: f64,
    pub predicted_step_s: Option<f64>,
    /// (predicted − measured) / measured.
    pub error: Option<f64>,
    pub predicted_mfu: Option<f64>,
    pub predicted_hfu: Option<f64>,
    pub measured_mfu: Option<f64>,
    pub measured_tflops_per_gpu: Option<f64>,
    pub breakdown: Option<Breakdown>,
    pub memory_gb: Option<f64>,
    /// Why the case could not be simulated (a failed row; the run goes on).
    pub failure: Option<String>,
    /// Knobs the row left open that memory decided, e.g. `recompute selective (none needs 97.1 GB)`.
    pub forced: Vec<String>,
}

/// Error statistics of a group of cases (fractions). Failed cases count in `failed`, not in the errors.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorStats {
    /// Chip family or stack id (or `all`).
    pub group: String,
    pub n: usize,
    pub failed: usize,
    pub mape: f64,
    pub worst: f64,
    /// Mean signed error: negative = predictions shorter than measured (optimistic).
    pub mean_error: f64,
}

impl ErrorStats {
    pub fn of<'a>(group: &str, cases: impl IntoIterator<Item = &'a CaseResult>) -> ErrorStats {
        let (mut n, mut failed, mut abs, mut signed, mut worst) = (0usize, 0usize, 0.0, 0.0, 0.0f64);
        for c in cases {
            match c.error {
                Some(e) => {
                    n += 1;
                    abs += e.abs();
                    signed += e;
                    worst = worst.max(e.abs());
                }
                None => failed += 1,
            }
        }
        let d = n.max(1) as f64;
        ErrorStats { group: group.into(), n, failed, mape: abs / d, worst, mean_error: signed / d }
    }
}

/// All cases with summary statistics.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub file: String,
    /// The settings file merged into the cases, if one was found beside the case file.
    pub settings_file: Option<String>,
    pub cases: Vec<CaseResult>,
    pub mape: f64,
    pub max_abs_error: f64,
    /// Mean signed error: negative = predictions shorter than measured (optimistic) on average.
    pub mean_error: f64,
    /// Cases that could not be simulated.
    pub failed: usize,
    pub by_family: Vec<ErrorStats>,
    pub by_stack: Vec<ErrorStats>,
    /// Whether layouts of one model on one chip rank as published (see [`Ordering`]).
    pub ordering: Ordering,
}

/// Ranking fidelity: for every pair of cases that train the same model on the same chip and whose
/// published throughputs per device differ by more than [`ORDERING_MIN_GAP`], whether the predictions
/// rank the pair the same way. A planner choosing between layouts needs the order more than the level.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Ordering {
    pub pairs: usize,
    /// Pairs the predictions rank as published.
    pub agree: usize,
    /// The pairs ranked the other way: (faster as published, slower as published).
    pub disagree: Vec<(String, String)>,
}

/// Published throughputs closer than this (relative) do not make a pair: their order is within the
/// figures' own noise.
pub const ORDERING_MIN_GAP: f64 = 0.10;

impl Ordering {
    /// `keyed`: per case, (same-model-and-chip key, published and predicted tokens per second per
    /// device); cases without a prediction are left out.
    pub fn of(keyed: &[(String, String, f64, Option<f64>)]) -> Ordering {
        let mut o = Ordering::default();
        for (i, a) in keyed.iter().enumerate() {
            for b in &keyed[i + 1..] {
                let (Some(pa), Some(pb)) = (a.3, b.3) else { continue };
                if a.0 != b.0 || (a.2 / b.2 - 1.0).abs() <= ORDERING_MIN_GAP && (b.2 / a.2 - 1.0).abs() <= ORDERING_MIN_GAP {
                    continue;
                }
                o.pairs += 1;
                let (fast, slow, pf, ps) = if a.2 > b.2 { (a, b, pa, pb) } else { (b, a, pb, pa) };
                if pf > ps {
                    o.agree += 1;
                } else {
                    o.disagree.push((fast.1.clone(), slow.1.clone()));
                }
            }
        }
        o
    }
}

impl StepReport {
    pub fn new(file: String, settings_file: Option<String>, cases: Vec<CaseResult>) -> StepReport {
        let all = ErrorStats::of("all", &cases);
        let groups = |key: fn(&CaseResult) -> &str| {
            let mut ids: Vec<&str> = cases.iter().map(key).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.iter().map(|g| ErrorStats::of(g, cases.iter().filter(|c| key(c) == *g))).collect::<Vec<_>>()
        };
        let by_family = groups(|c| c.family.as_str());
        let by_stack = groups(|c| c.stack.as_str());
        StepReport {
            file,
            settings_file,
            mape: all.mape,
            max_abs_error: all.worst,
            mean_error: all.mean_error,
            failed: all.failed,
            by_family,
            by_stack,
            ordering: Ordering::default(),
            cases,
        }
    }
}

/// Columns every step-case file has (the shared layout).
const STEP_COLUMNS: &[&str] = &[
    "id",
    "source",
    "chip",
    "gpus",
    "gpus_per_node",
    "nic_gbps_per_gpu",
    "layers",
    "hidden",
    "heads",
    "kv_heads",
    "ffn_hidden",
    "vocab",
    "seq_len",
    "tp",
    "pp",
    "dp",
    "cp",
    "schedule",
    "vpp",
    "micro_batch",
    "global_batch",
    "recompute",
    "sequence_parallel",
    "zero_stage",
    "measured_step_s",
    "measured_tflops_per_gpu",
    "measured_mfu",
    "notes",
];

/// Optional columns: how the run was made, beyond the shared layout. A settings file
/// (`<case file stem>.settings.csv`, columns `id` and any of these) can supply them for a case file
/// that must stay as published.
pub const SETTING_COLUMNS: &[&str] = &[
    "model",
    "fabric",
    "topology",
    "rank_order",
    "pipeline_split",
    "pipeline_layout",
    "recompute_modules",
    "recompute_layers",
    "overlap_grad_reduce",
    "stack",
    "precision",
    "flash_attention",
    "attention_softmax",
    "head_dim",
    "gated_ffn",
    "grad_dtype",
    "optimizer",
    "etp",
    "moe_dispatcher",
    "moe_overlap",
    "cuda_graphs",
    "routing",
    "offload_layers",
    "ep",
    "experts",
    "top_k",
    "moe_ffn_hidden",
    "shared_experts",
    "dense_layers",
    "max_nodes_per_token",
    "confidence",
    "cell",
];

/// Which layout a case file has, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseKind {
    Step,
    Reliability,
    /// Whole published runs ([`whole_run`]).
    WholeRun,
}

/// Read the header of a case file and tell its kind.
pub fn case_kind(path: &Path) -> Result<CaseKind, WankaError> {
    let text = crate::ron_util::read_file(path)?;
    let header = text.lines().next().unwrap_or("");
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.contains(&"measured_step_s") {
        Ok(CaseKind::Step)
    } else if cols.contains(&"expected_ettr") {
        Ok(CaseKind::Reliability)
    } else if cols.contains(&"published_days") {
        Ok(CaseKind::WholeRun)
    } else {
        Err(WankaError::Parse {
            file: path.display().to_string(),
            line: 1,
            col: 1,
            msg: "header has none of `measured_step_s` (step cases), `expected_ettr` (reliability cases), `published_days` (whole runs)"
                .into(),
        })
    }
}

/// Scale-out fabric implied by a per-GPU NIC speed.
pub fn fabric_for_nic(gbps: f64) -> &'static str {
    match gbps as u32 {
        200 => "ib-hdr",
        400 => "ib-ndr",
        800 => "ib-xdr",
        g if g <= 200 => "roce-200g",
        g if g <= 400 => "roce-400g",
        _ => "roce-800g",
    }
}

/// The `schedule` and `recompute` cells every case layout accepts.
pub(crate) const SCHEDULES: [(&str, Schedule); 3] =
    [("1f1b", Schedule::OneFOneB), ("interleaved", Schedule::Interleaved), ("dualpipe", Schedule::DualPipe)];
pub(crate) const RECOMPUTES: [(&str, Recompute); 3] =
    [("none", Recompute::None), ("selective", Recompute::Selective), ("full", Recompute::Full)];

/// The `pipeline_split` column: Megatron-core's `--account-for-embedding/loss-in-pipeline-split`.
pub(crate) const PIPELINE_SPLITS: [(&str, PipelineSplit); 4] = [
    ("balanced", PipelineSplit::Balanced),
    ("embedding", PipelineSplit::Embedding),
    ("loss", PipelineSplit::Loss),
    ("embedding+loss", PipelineSplit::EmbeddingAndLoss),
];

/// The `recompute_modules` cell: Megatron-core's `--recompute-modules` names joined by `+`
/// (`layernorm+moe_act`); blank: the attention core alone.
pub(crate) fn recompute_modules(r: &Row) -> Result<Option<Vec<RecomputeModule>>, WankaError> {
    let cell = r.raw("recompute_modules");
    if cell.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = RecomputeModule::ALL.iter().map(|m| m.label()).collect();
    cell.split('+')
        .map(|w| {
            let w = w.trim();
            RecomputeModule::ALL.into_iter().find(|m| m.label() == w).ok_or_else(|| {
                r.err("recompute_modules", format!("`{w}` is not a module: one or more of {} joined by +", names.join(", ")))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

const BOOLS: [(&str, bool); 6] = [("true", true), ("false", false), ("1", true), ("0", false), ("yes", true), ("no", false)];

/// The model of a row: a preset (`model` column; the shape columns must then agree with it) or the
/// shape columns, with the documented family rule where a column is blank.
fn case_model(r: &Row, id: &str) -> Result<ModelSpec, WankaError> {
    let hidden: u32 = r.req("hidden", "a whole number")?;
    // MoE rows whose every layer has experts may leave the dense FFN size blank.
    let ffn: u32 = match (r.opt("ffn_hidden", "a whole number")?, r.opt::<u32>("moe_ffn_hidden", "a whole number")?) {
        (Some(f), _) => f,
        (None, Some(f)) if r.opt::<u32>("dense_layers", "a whole number")?.unwrap_or(0) == 0 => f,
        _ => r.req("ffn_hidden", "a whole number")?,
    };
    let heads: u32 = r.req("heads", "a whole number")?;
    let layers: u32 = r.req("layers", "a whole number")?;
    let parse_err = |e: WankaError| WankaError::Parse { file: r.file.to_string(), line: r.line, col: 0, msg: e.to_string() };
    if !r.raw("model").is_empty() {
        let m = crate::workload::model::preset(r.raw("model")).map_err(parse_err)?;
        if (m.layers, m.hidden, m.heads) != (layers, hidden, heads) {
            return Err(r.err(
                "model",
                format!(
                    "preset `{}` has {} layers, hidden {}, {} heads; the row says {layers}, {hidden}, {heads}",
                    r.raw("model"),
                    m.layers,
                    m.hidden,
                    m.heads
                ),
            ));
        }
        return Ok(m);
    }
    let llama = r.choice("gated_ffn", &BOOLS, None)?.unwrap_or(ffn != 4 * hidden);
    let moe = match r.opt::<u32>("experts", "a whole number")? {
        None => None,
        Some(experts) => Some(MoeSpec {
            experts,
            top_k: r.req("top_k", "a whole number (MoE rows)")?,
            shared_experts: r.opt("shared_experts", "a whole number")?.unwrap_or(0),
            expert_ffn_hidden: r.req("moe_ffn_hidden", "a whole number (MoE rows)")?,
            dense_layers: r.opt("dense_layers", "a whole number")?.unwrap_or(0),
            max_nodes_per_token: r.opt("max_nodes_per_token", "a whole number")?,
        }),
    };
    let model = ModelSpec {
        name: id.to_string(),
        layers,
        hidden,
        heads,
        kv_heads: r.opt("kv_heads", "a whole number")?.unwrap_or(heads),
        ffn_hidden: ffn,
        gated_ffn: llama,
        vocab: r.req("vocab", "a whole number")?,
        bias: !llama,
        learned_positions: !llama,
        tied_embeddings: !llama,
        dropout: !llama,
        moe,
        mla: None,
        head_dim: r.opt("head_dim", "a whole number")?,
        mtp_layers: 0,
    };
    model.check(r.file).map_err(parse_err)?;
    Ok(model)
}

/// The software stack of a row: its `stack` profile (default [`crate::step::stack::DEFAULT_STACK`]) with
/// the row's explicit settings on top.
fn case_framework(r: &Row) -> Result<FrameworkSpec, WankaError> {
    let stack = match r.raw("stack") {
        "" => crate::step::stack::DEFAULT_STACK,
        s => s,
    };
    let mut fw = FrameworkSpec::for_stack(stack).map_err(|e| r.err("stack", e.to_string()))?;
    if let Some(v) = r.choice("overlap_grad_reduce", &BOOLS, None)? {
        fw.overlap_grad_reduce = v;
    }
    if let Some(v) = r.choice("flash_attention", &BOOLS, None)? {
        fw.flash_attention = v;
    }
    // The softmax path of an unfused attention, as the run's code had it.
    let softmax = [("fused", AttentionSoftmax::Fused), ("fp32-unfused", AttentionSoftmax::Fp32Unfused)];
    if let Some(v) = r.choice("attention_softmax", &softmax, None)? {
        fw.attention_softmax = v;
    }
    if let Some(p) = r.choice("precision", &[("bf16", Precision::Bf16), ("fp16", Precision::Fp16), ("fp8", Precision::Fp8)], None)? {
        fw.precision = p;
    }
    if r.raw("optimizer").eq_ignore_ascii_case("hsdp") {
        fw.hybrid_shard = true;
    }
    if let Some(g) = r.choice("grad_dtype", &[("fp32", GradDtype::Fp32), ("bf16", GradDtype::Bf16), ("fp16", GradDtype::Bf16)], None)? {
        fw.grad_reduce_dtype = g;
    }
    // MoE: DeepEP and NVIDIA's HybridEP both de-duplicate tokens per destination node (HybridEP per
    // NVLink domain); Megatron's `alltoall` sends one copy per routed expert.
    let dispatchers = [("alltoall", MoeDispatcher::AllToAll), ("deepep", MoeDispatcher::NodeDedup), ("hybridep", MoeDispatcher::NodeDedup)];
    if let Some(d) = r.choice("moe_dispatcher", &dispatchers, None)? {
        fw.moe_dispatcher = d;
    }
    if let Some(v) = r.choice("moe_overlap", &BOOLS, None)? {
        fw.overlap_moe_comm = v;
    }
    // CUDA graphs as the run's recipe set them: `partial` = TE-scoped graphs (attention, router,
    // preprocess), `full` = whole layers or iteration (experts included).
    let graphs = [("none", CudaGraphs::Eager), ("partial", CudaGraphs::Partial), ("full", CudaGraphs::Full)];
    if let Some(g) = r.choice("cuda_graphs", &graphs, None)? {
        fw.cuda_graphs = g;
    }
    if let Some(n) = r.opt::<u32>("offload_layers", "a whole number of layers (Megatron-core cpu_offloading_num_layers)")? {
        if n > crate::limits::MAX_LAYERS {
            return Err(r.err("offload_layers", format!("{n} is above the {} layers a model may have", crate::limits::MAX_LAYERS)));
        }
        fw.activation_offload_layers = n;
    }
    match r.raw("routing") {
        "" => {}
        // Forced-balanced routing (Megatron `--moe-router-force-load-balancing`, the published benchmarks).
        s if s.eq_ignore_ascii_case("forced") => fw.moe_routing_imbalance = 1.0,
        s => match s.parse::<f64>() {
            Ok(v) if v.is_finite() && (1.0..=8.0).contains(&v) => fw.moe_routing_imbalance = v,
            _ => return Err(r.err("routing", format!("`{s}`: expected `forced` or the max/mean routed rows per device, 1 to 8"))),
        },
    }
    Ok(fw)
}

/// ZeRO stage of a row: the `optimizer` column's semantics when given (Megatron's distributed
/// optimizer, which sources call "ZeRO-2-like", reduces once per step: wanka's stage 1), else
/// `zero_stage` as published.
fn case_zero_stage(r: &Row) -> Result<u8, WankaError> {
    let opt = r.choice(
        "optimizer",
        &[("adam", 0u8), ("distributed", 1), ("zero1", 1), ("zero2", 2), ("zero3", 3), ("fsdp", 3), ("hsdp", 3)],
        None,
    )?;
    match opt {
        Some(z) => Ok(z),
        None => Ok(r.opt("zero_stage", "0, 1, 2 or 3")?.unwrap_or(0)),
    }
}

/// Read step cases, merging `<stem>.settings.csv` when it exists beside the file.
pub fn read_step_cases(path: &Path) -> Result<Vec<StepCase>, WankaError> {
    let (cases, _) = read_step_cases_with_settings(path)?;
    Ok(cases)
}

fn read_step_cases_with_settings(path: &Path) -> Result<(Vec<StepCase>, Option<String>), WankaError> {
    let sp = settings_path(path);
    let settings = if sp.exists() { Some(read_settings(&sp)?) } else { None };
    let file = path.display().to_string();
    let text = crate::ron_util::read_file(path)?;
    let (cols, recs) = csv_records(&text, &file, STEP_COLUMNS)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(recs.len());
    for rec in &recs {
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let id = rec.get(cols["id"]).map_or("", str::trim).to_string();
        let row_settings = settings.as_ref().and_then(|s| s.get(&id));
        let r = Row { file: &file, line, cols: &cols, rec, settings: row_settings };
        if !seen.insert(id.clone()) {
            return Err(r.err("id", format!("case `{id}` appears twice (it would count twice in the error)")));
        }
        out.push(step_case(&r, id)?);
    }
    if let Some(s) = &settings
        && let Some(unknown) = s.keys().find(|k| !seen.contains(*k))
    {
        return Err(WankaError::Parse {
            file: sp.display().to_string(),
            line: 0,
            col: 1,
            msg: format!("settings for case `{unknown}`, which {file} does not have"),
        });
    }
    Ok((out, settings.map(|_| sp.display().to_string())))
}

/// A row's scale-out network: its `fabric` and `topology` columns, else the fabric its NIC speed
/// implies on the validation topology.
fn case_network(r: &Row, nic: f64) -> NetworkSpec {
    NetworkSpec {
        fabric: match r.raw("fabric") {
            "" => fabric_for_nic(nic).into(),
            f => f.to_string(),
        },
        nic_gbit_per_s_per_gpu: nic,
        topology: match r.raw("topology") {
            "" => VALIDATION_TOPOLOGY.into(),
            t => t.to_string(),
        },
    }
}

fn step_case(r: &Row, id: String) -> Result<StepCase, WankaError> {
    let model = case_model(r, &id)?;
    let nic = r.positive("nic_gbps_per_gpu")?;
    let scenario = Scenario {
        name: id.clone(),
        description: r.raw("notes").to_string(),
        model: ModelRef::Custom(model),
        cluster: ClusterSpec {
            chip: r.req("chip", "a catalog chip id")?,
            gpus: r.req("gpus", "a whole number")?,
            gpus_per_node: r.req("gpus_per_node", "a whole number")?,
            usable_per_domain: None,
            network: case_network(r, nic),
        },
        parallelism: ParallelismSpec {
            tp: r.req("tp", "a whole number")?,
            pp: r.req("pp", "a whole number")?,
            dp: r.req("dp", "a whole number")?,
            cp: r.opt("cp", "a whole number")?.unwrap_or(1),
            ep: r.opt("ep", "a whole number")?.unwrap_or(1),
            etp: r.opt("etp", "a whole number (expert tensor parallelism; blank = tp)")?,
            schedule: r.choice("schedule", &SCHEDULES, None)?,
            vpp: r.opt("vpp", "a whole number")?,
            micro_batch: r.opt("micro_batch", "a whole number")?,
            global_batch: r.req("global_batch", "a whole number")?,
            recompute: r.choice("recompute", &RECOMPUTES, None)?.unwrap_or(Recompute::None),
            sequence_parallel: r.choice("sequence_parallel", &BOOLS, Some(false))?.unwrap_or(false),
            zero_stage: case_zero_stage(r)?,
            rank_order: r
                .choice("rank_order", &[("tp-cp-dp-pp", RankOrder::TpCpDpPp), ("tp-cp-pp-dp", RankOrder::TpCpPpDp)], None)?
                .unwrap_or_default(),
            pipeline_split: r.choice("pipeline_split", &PIPELINE_SPLITS, None)?.unwrap_or_default(),
            recompute_modules: recompute_modules(r)?,
            recompute_layers: r
                .opt("recompute_layers", "a whole number (with recompute full: the first N layers of every model chunk recomputed)")?,
            pipeline_layout: Some(r.raw("pipeline_layout")).filter(|s| !s.is_empty()).map(str::to_string),
        },
        auto: None,
        training: TrainingSpec { seq_len: r.req("seq_len", "a whole number")?, tokens: 1e12 },
        framework: case_framework(r)?,
        run: Default::default(),
        seed: 1,
        defaults: Default::default(),
    };
    Ok(StepCase {
        id,
        source: r.raw("source").to_string(),
        line: r.line,
        scenario,
        measured_step_s: r.positive("measured_step_s")?,
        measured_tflops_per_gpu: r.opt("measured_tflops_per_gpu", "a number")?,
        measured_mfu: r.opt("measured_mfu", "a number")?,
        confidence: r.raw("confidence").to_string(),
        cell: r.raw("cell").to_string(),
        recompute_open: r.raw("recompute").is_empty(),
    })
}

/// Simulate one case; a case that cannot be simulated becomes a failed row with its reason.
pub fn simulate_case(c: &StepCase, catalog: &Catalog, file: &str) -> CaseResult {
    let where_ = format!("{file} line {} ({})", c.line, c.id);
    let fw = &c.scenario.framework;
    let chip = &c.scenario.cluster.chip;
    let family = catalog.chips.get(chip).map_or_else(|| "unknown chip".to_string(), |ch| ch.calibration.clone());
    let mut out = CaseResult {
        id: c.id.clone(),
        chip: chip.clone(),
        family,
        stack: fw.stack.clone(),
        precision: fw.precision.label().to_string(),
        confidence: c.confidence.clone(),
        measured_step_s: c.measured_step_s,
        predicted_step_s: None,
        error: None,
        predicted_mfu: None,
        predicted_hfu: None,
        measured_mfu: c.measured_mfu,
        measured_tflops_per_gpu: c.measured_tflops_per_gpu,
        breakdown: None,
        memory_gb: None,
        failure: None,
        forced: Vec::new(),
    };
    let mut result = c.scenario.simulate_step(catalog, &where_);
    if c.recompute_open {
        // Not published: the least recomputation that fits, said in the result.
        // Only modes the case's stack implements (a stack without selective recomputation goes to full).
        let supported = crate::step::stack::profile(&fw.stack).map(|p| p.supports.recompute.clone()).unwrap_or_default();
        for rc in [Recompute::Selective, Recompute::Full].into_iter().filter(|rc| supported.contains(rc)) {
            let Err(WankaError::Invalid { msg, .. }) = &result else { break };
            if !msg.contains("memory:") {
                break;
            }
            let need = msg.split("needs ").nth(1).and_then(|t| t.split(" GB").next()).unwrap_or("?").to_string();
            let mut s = c.scenario.clone();
            s.parallelism.recompute = rc;
            result = s.simulate_step(catalog, &where_);
            out.forced.push(format!("recompute {} (unpublished; the lighter setting needs {need} GB)", format!("{rc:?}").to_lowercase()));
        }
    }
    match result {
        Ok(r) => {
            out.predicted_step_s = Some(r.step_s);
            out.error = Some((r.step_s - c.measured_step_s) / c.measured_step_s);
            out.predicted_mfu = Some(r.mfu);
            out.predicted_hfu = Some(r.hfu);
            out.breakdown = Some(r.breakdown);
            out.memory_gb = Some(r.memory.total_gb);
        }
        Err(e) => out.failure = Some(e.to_string()),
    }
    out
}

/// Simulate every step case of a file. Cases that cannot be simulated are failed rows; the others
/// still run.
pub fn validate_steps(path: &Path, catalog: &Catalog) -> Result<StepReport, WankaError> {
    let file = path.display().to_string();
    let (cases, settings_file) = read_step_cases_with_settings(path)?;
    let out: Vec<CaseResult> = cases.iter().map(|c| simulate_case(c, catalog, &file)).collect();
    let keyed: Vec<(String, String, f64, Option<f64>)> = cases
        .iter()
        .zip(&out)
        .map(|(c, r)| {
            // The shape, not the name (custom models are named after their case).
            let model = c.scenario.model.resolve().map(|m| format!("{:?}", ModelSpec { name: String::new(), ..m })).unwrap_or_default();
            let tokens = f64::from(c.scenario.parallelism.global_batch) * f64::from(c.scenario.training.seq_len);
            let per_device = |step_s: f64| tokens / step_s / f64::from(c.scenario.cluster.gpus);
            (
                format!("{} on {}", model, c.scenario.cluster.chip),
                c.id.clone(),
                per_device(c.measured_step_s),
                r.predicted_step_s.map(per_device),
            )
        })
        .collect();
    let mut report = StepReport::new(file, settings_file, out);
    report.ordering = Ordering::of(&keyed);
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Reliability cases

const RELIABILITY_COLUMNS: &[&str] = &[
    "id",
    "source",
    "kind",
    "gpus",
    "gpus_per_node",
    "days",
    "failures_per_1000_node_days",
    "mtti_min",
    "checkpoint_interval_min",
    "checkpoint_save_min",
    "restart_min",
    "expected_interruptions",
    "expected_ettr",
    "expected_tau_opt_min",
    "tolerance",
    "notes",
];

/// Seeds per reliability case (Monte Carlo).
pub const RELIABILITY_SEEDS: u64 = 64;

/// Model state per GPU assumed for fleet rows without a checkpoint time: Llama 3 §3.3.1 "1 MB to 4 GB
/// of model state per GPU" (the upper end), written at the default storage bandwidth.
pub const FLEET_STATE_GB_PER_GPU: f64 = 4.0;

#[cfg(test)]
mod ordering_tests {
    use super::Ordering;

    /// Pairs form only within one model-and-chip key and past the noise gap; a pair counts as agreeing
    /// when the prediction puts the published faster case first, and the others are named.
    #[test]
    fn ordering_counts_pairs_ranked_as_published() {
        let k = |key: &str, id: &str, published: f64, predicted: Option<f64>| (key.to_string(), id.to_string(), published, predicted);
        let cases = vec![
            k("m on h100", "a", 100.0, Some(90.0)),
            k("m on h100", "b", 130.0, Some(120.0)), // a–b: agree
            k("m on h100", "c", 105.0, Some(200.0)), // a–c within 10%: no pair; b–c: disagree
            k("m on h100", "d", 200.0, None),        // no prediction: left out
            k("m on b200", "e", 300.0, Some(10.0)),  // another chip: no pair
        ];
        let o = Ordering::of(&cases);
        assert_eq!((o.pairs, o.agree), (2, 1), "{o:?}");
        assert_eq!(o.disagree, vec![("b".to_string(), "c".to_string())]);
    }
}
