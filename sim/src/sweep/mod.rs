//! Headless sweeps: many variants of one scenario, each simulated over Monte Carlo seeds, as one typed
//! table (CSV, JSON lines), with expectations that make a sweep a CI gate.
//!
//! A sweep file (RON) names a `base` — a scenario file, an inline scenario, or a plan file's
//! candidate (the best parallelism the plan's search finds for it, with its money and power) — and
//! `axes` that override fields of the base by path into its serde value (`cluster.gpus`,
//! `run.failures.multiplier`, `run.checkpoint.interval`). Overrides are generic: the base is
//! serialised to a `serde_json::Value`, the path is set, and the value is deserialised back into a
//! [`Scenario`] (which denies unknown fields), so a misspelt path or a value of the wrong type is an
//! error naming the path and the file. Axes hold a list of values or a numeric range; `zip` links
//! axes that move together (GPUs and data parallelism). `sampling` is `Grid` (every combination,
//! first axis slowest), `Random(n, seed)` or `LatinHypercube(n, seed)`.
//!
//! Every point is built and checked before anything runs. Point `i` runs with seed
//! `point_seed(sweep seed, i)` (or the sweep seed for all points with `common_random_numbers`), so its
//! result depends on nothing but the sweep file, the catalog and `i`: not on threads, shards, chunks
//! or restarts. Running, progress and files are the binary's business ([`table`] has the file
//! formats); this module never reads the clock.

pub mod expect;
#[cfg(feature = "parquet")]
mod parquet_out;
pub mod path;
pub mod ron_value;
pub mod table;

use ron::value::RawValue;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

use crate::catalog::Catalog;
use crate::economics::{self, Money, PoolHw, Power};
use crate::error::WankaError;
use crate::plan::{self, PlanFile};
use crate::ron_util::{parse_ron, read_file};
use crate::scenario::Scenario;
use crate::topology::Cluster;
use expect::{ExpectSpec, Expectation};
use path::FieldPath;
use ron_value::Node;
use table::{Column, ColumnType, float_cell};

/// Version tag of the output directory layout.
pub const FORMAT: &str = "wanka-sweep/1";

/// Most points a sweep may have.
pub const MAX_POINTS: u64 = 10_000_000;

/// How points are drawn from the axes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Sampling {
    /// Every combination of the axes' values (ranges need `steps`); the first axis varies slowest.
    #[default]
    Grid,
    /// `n` points, each axis drawn independently and uniformly.
    Random { n: u64, seed: u64 },
    /// `n` points; each axis is cut into `n` equal strata and every stratum is used once.
    LatinHypercube { n: u64, seed: u64 },
}

impl Sampling {
    fn describe(&self) -> String {
        match self {
            Sampling::Grid => "Grid".into(),
            Sampling::Random { n, seed } => format!("Random(n: {n}, seed: {seed})"),
            Sampling::LatinHypercube { n, seed } => format!("LatinHypercube(n: {n}, seed: {seed})"),
        }
    }
}

/// Money and power for the cost columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EconomicsSpec {
    pub money: Money,
    pub power: Power,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
enum BaseSrc {
    /// A scenario file, relative to the sweep file.
    Scenario(String),
    /// A scenario written inside the sweep file.
    Inline(Box<Scenario>),
    /// A plan file's candidate (default: the plan's fastest) with the best parallelism of its search.
    Plan {
        file: String,
        #[serde(default)]
        candidate: Option<String>,
    },
}

type Entries = Vec<(String, Box<RawValue>)>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepSrc {
    name: String,
    #[serde(default)]
    description: String,
    base: BaseSrc,
    #[serde(default, deserialize_with = "ordered_map")]
    set: Entries,
    #[serde(default, deserialize_with = "ordered_map")]
    axes: Entries,
    #[serde(default)]
    zip: Vec<Vec<String>>,
    #[serde(default)]
    sampling: Sampling,
    #[serde(default = "default_seeds")]
    seeds: u64,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    common_random_numbers: bool,
    #[serde(default)]
    economics: Option<EconomicsSpec>,
    #[serde(default)]
    expect: Vec<Box<RawValue>>,
}

fn default_seeds() -> u64 {
    10
}
fn default_seed() -> u64 {
    1
}

/// A RON map read in file order.
fn ordered_map<'de, D: Deserializer<'de>>(d: D) -> Result<Entries, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Entries;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map from field paths to values, e.g. {\"cluster.gpus\": [4096, 8192]}")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = m.next_entry::<String, Box<RawValue>>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

/// What an axis ranges over.
#[derive(Debug, Clone, PartialEq)]
pub enum AxisKind {
    Values(Vec<Node>),
    Uniform { min: f64, max: f64, steps: Option<u64> },
    LogUniform { min: f64, max: f64, steps: Option<u64> },
    Int { min: i64, max: i64, step: i64 },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeSrc {
    min: f64,
    max: f64,
    #[serde(default)]
    steps: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntSrc {
    min: i64,
    max: i64,
    #[serde(default = "one_i64")]
    step: i64,
}
fn one_i64() -> i64 {
    1
}

/// One axis: a field path and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub path: FieldPath,
    pub kind: AxisKind,
    pub ty: ColumnType,
}

impl Axis {
    /// Number of grid values (`None` for a range without `steps`).
    fn grid_len(&self) -> Option<u64> {
        match &self.kind {
            AxisKind::Values(v) => Some(v.len() as u64),
            AxisKind::Uniform { steps, .. } | AxisKind::LogUniform { steps, .. } => *steps,
            AxisKind::Int { min, max, step } => Some(((max - min) / step + 1) as u64),
        }
    }

    fn at_index(&self, k: u64, len: u64) -> Node {
        let steps = len.saturating_sub(1).max(1) as f64;
        match &self.kind {
            AxisKind::Values(v) => v[k as usize].clone(),
            AxisKind::Uniform { min, max, .. } => {
                Node::Float(if k + 1 == len && len > 1 { *max } else { min + (max - min) * k as f64 / steps })
            }
            AxisKind::LogUniform { min, max, .. } => Node::Float(if k == 0 {
                *min
            } else if k + 1 == len {
                *max
            } else {
                (min.ln() + (max.ln() - min.ln()) * k as f64 / steps).exp()
            }),
            AxisKind::Int { min, step, .. } => Node::Int(i128::from(min + k as i64 * step)),
        }
    }

    fn at_unit(&self, u: f64) -> Node {
        let pick = |len: u64| ((u * len as f64) as u64).min(len - 1);
        match &self.kind {
            AxisKind::Values(v) => v[pick(v.len() as u64) as usize].clone(),
            AxisKind::Uniform { min, max, .. } => Node::Float(min + u * (max - min)),
            AxisKind::LogUniform { min, max, .. } => Node::Float((min.ln() + u * (max.ln() - min.ln())).exp()),
            AxisKind::Int { min, step, .. } => {
                let len = self.grid_len().expect("int axes have a length");
                Node::Int(i128::from(min + pick(len) as i64 * step))
            }
        }
    }

    /// Values checked against the base before anything runs.
    fn probes(&self) -> Vec<Node> {
        match &self.kind {
            AxisKind::Values(v) => v.clone(),
            AxisKind::Uniform { min, max, .. } | AxisKind::LogUniform { min, max, .. } => vec![Node::Float(*min), Node::Float(*max)],
            AxisKind::Int { min, max, step } => vec![Node::Int(i128::from(*min)), Node::Int(i128::from(min + (max - min) / step * step))],
        }
    }

    fn cell(&self, v: &Node) -> String {
        match self.ty {
            ColumnType::Float => float_cell(v.as_f64().unwrap_or(f64::NAN)),
            _ => v.cell_text(),
        }
    }
}

fn parse_axis(path: &str, raw: &RawValue) -> Result<Axis, String> {
    let fp = FieldPath::parse(path)?;
    let node = ron_value::parse(raw.get_ron())?;
    let hint = "expected a list of values `[a, b, …]` or a range `Uniform(min: …, max: …)`, `LogUniform(min: …, max: …)` \
                (`steps: n` for Grid) or `Int(min: …, max: …, step: …)`; a single value is `[x]`, and fixed values go in `set`";
    let kind = match &node {
        Node::Seq(items) if items.is_empty() => return Err("an axis needs at least one value".into()),
        Node::Seq(items) => AxisKind::Values(items.clone()),
        Node::Struct(Some(name), _) if matches!(name.as_str(), "Uniform" | "LogUniform") => {
            let inner = node.to_json()?[name].clone();
            let r: RangeSrc = serde_json::from_value(inner).map_err(|e| format!("{name}: {e}"))?;
            if !(r.min.is_finite() && r.max.is_finite() && r.min <= r.max) {
                return Err(format!("{name} needs finite min <= max, got {} and {}", r.min, r.max));
            }
            if name == "LogUniform" && r.min <= 0.0 {
                return Err(format!("LogUniform needs min > 0, got {}", r.min));
            }
            if r.steps == Some(0) {
                return Err(format!("{name}: steps must be at least 1"));
            }
            if name == "Uniform" {
                AxisKind::Uniform { min: r.min, max: r.max, steps: r.steps }
            } else {
                AxisKind::LogUniform { min: r.min, max: r.max, steps: r.steps }
            }
        }
        Node::Struct(Some(name), _) if name == "Int" => {
            let r: IntSrc = serde_json::from_value(node.to_json()?["Int"].clone()).map_err(|e| format!("Int: {e}"))?;
            if r.min > r.max || r.step < 1 {
                return Err(format!("Int needs min <= max and step >= 1, got min {}, max {}, step {}", r.min, r.max, r.step));
            }
            AxisKind::Int { min: r.min, max: r.max, step: r.step }
        }
        other => return Err(format!("{hint}; got `{}`", other.render())),
    };
    let ty = match &kind {
        AxisKind::Values(v) if v.iter().all(|n| matches!(n, Node::Int(_))) => ColumnType::Int,
        AxisKind::Values(v) if v.iter().all(|n| n.as_f64().is_some()) => ColumnType::Float,
        AxisKind::Values(_) => ColumnType::Str,
        AxisKind::Uniform { .. } | AxisKind::LogUniform { .. } => ColumnType::Float,
        AxisKind::Int { .. } => ColumnType::Int,
    };
    Ok(Axis { path: fp, kind, ty })
}

/// One point of a sweep, checked and ready to run.
#[derive(Debug, Clone)]
pub struct Point {
    pub index: u64,
    pub scenario: Scenario,
    pub economics: Option<EconomicsSpec>,
    /// Cell texts of the axis columns.
    pub inputs: Vec<String>,
}

/// `K/N`: the points whose index is `K` modulo `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn contains(&self, point: u64) -> bool {
        point % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("shard `{s}`: expected K/N with 0 <= K < N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (k.trim().parse::<u64>().map_err(|_| bad())?, n.trim().parse::<u64>().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Options of [`Sweep::load`] that come from the command line.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `PATH=VALUE` overrides applied to every point after the file's `set` (VALUE in RON).
    pub set: Vec<(String, String)>,
    /// Monte Carlo seeds per point instead of the file's `seeds`.
    pub seeds: Option<u64>,
}

/// A loaded, fully checked sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub name: String,
    pub description: String,
    /// The sweep file as named in errors.
    pub file: String,
    /// The base in words.
    pub base: String,
    pub seeds: u64,
    pub sampling: Sampling,
    pub axes: Vec<Axis>,
    pub points: Vec<Point>,
    pub columns: Vec<Column>,
    /// Indices of the axis columns in `columns`.
    pub axis_columns: Vec<usize>,
    pub expectations: Vec<Expectation>,
    pub fingerprint: String,
}

/// The output columns after `point, status, error, base_seed` and the axes.
const OUTPUTS: &[(&str, ColumnType, &str)] = &[
    ("devices", ColumnType::Int, "devices of the job"),
    ("step_s", ColumnType::Float, "one training step, seconds"),
    ("tokens_per_s", ColumnType::Float, "training throughput at full size, tokens per second"),
    ("mfu", ColumnType::Float, "model FLOPs utilisation of a step, fraction"),
    ("ideal_days", ColumnType::Float, "training time without interruptions or checkpoints, days"),
    ("mean_days", ColumnType::Float, "wall clock of the whole run, mean over seeds, days"),
    ("p10_days", ColumnType::Float, "wall clock, 10th percentile over seeds, days"),
    ("p50_days", ColumnType::Float, "wall clock, median over seeds, days"),
    ("p90_days", ColumnType::Float, "wall clock, 90th percentile over seeds, days"),
    ("ettr_mean", ColumnType::Float, "effective training time ratio (useful / wall clock), mean"),
    ("ettr_p10", ColumnType::Float, "effective training time ratio, 10th percentile"),
    ("ettr_p90", ColumnType::Float, "effective training time ratio, 90th percentile"),
    ("interruptions_mean", ColumnType::Float, "unplanned interruptions per run, mean"),
    ("spares_used_mean", ColumnType::Float, "hot spares swapped in per run, mean"),
    ("completed_fraction", ColumnType::Float, "fraction of seeds that reached the token target before max_days"),
    ("lost_rework_days", ColumnType::Float, "work redone since the last durable checkpoint, mean days"),
    ("lost_restart_days", ColumnType::Float, "detection, swap, reschedule, init, load, warm-up, mean days"),
    ("lost_checkpoint_days", ColumnType::Float, "checkpoint stalls, mean days"),
    ("lost_spare_wait_days", ColumnType::Float, "waiting for spares or repairs (or running degraded), mean days"),
    ("lost_straggler_days", ColumnType::Float, "straggler slowdown, mean days"),
    ("lost_maintenance_days", ColumnType::Float, "planned maintenance, mean days"),
    ("mtti_hours", ColumnType::Float, "job mean time to interruption, hours (empty: no failures)"),
    ("checkpoint_interval_s", ColumnType::Float, "work between checkpoints, seconds"),
    ("checkpoint_stall_s", ColumnType::Float, "training stall per checkpoint, seconds"),
    ("restart_s", ColumnType::Float, "restart after a failure without a spare swap, seconds"),
    ("hot_spare_nodes", ColumnType::Int, "hot-spare nodes"),
];

/// Cost columns, present when the sweep has money and power (a plan base, or `economics`).
const COST_OUTPUTS: &[(&str, ColumnType, &str)] = &[
    ("cost_musd", ColumnType::Float, "total cost of the run at the median wall clock, million USD"),
    ("capex_musd", ColumnType::Float, "capital cost of the hardware (0 when renting), million USD"),
    ("usd_per_mtok", ColumnType::Float, "cost per million tokens trained, USD"),
    ("energy_mwh", ColumnType::Float, "energy of the run at the median wall clock, MWh"),
    ("peak_mw", ColumnType::Float, "facility power with devices at TDP, MW"),
];

/// The leading columns of every sweep table.
const LEAD: &[(&str, ColumnType, &str)] = &[
    ("point", ColumnType::Int, "point index"),
    ("status", ColumnType::Str, "ok, infeasible or error"),
    ("error", ColumnType::Str, "why the point failed (empty when ok)"),
    ("base_seed", ColumnType::Int, "the point's seed: Monte Carlo runs use base_seed, base_seed+1, …"),
];

/// The seed of point `i` of a sweep with seed `seed` (53 bits, exact in every JSON reader).
pub fn point_seed(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(i.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & ((1 << 53) - 1)
}

/// 128-bit FNV-1a (two 64-bit lanes), hex.
struct Fingerprint(u64, u64);

impl Fingerprint {
    fn new() -> Self {
        Fingerprint(0xcbf2_9ce4_8422_2325, 0x6c62_272e_07bb_0142)
    }
    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain(&(bytes.len() as u64).to_le_bytes()) {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            self.1 = (self.1 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5);
        }
    }
    fn hex(&self) -> String {
        format!("{:016x}{:016x}", self.0, self.1)
    }
}

fn invalid(file: &str, field: impl Into<String>, msg: impl Into<String>) -> WankaError {
    WankaError::Invalid { file: file.into(), field: field.into(), msg: msg.into() }
}

/// The scenario document of a base: its serde value, plus `money` and `power` when it has them.
fn document(s: &Scenario, econ: &Option<EconomicsSpec>) -> Value {
    let mut v = serde_json::to_value(s).expect("scenarios serialise");
    if let (Some(e), Value::Object(m)) = (econ, &mut v) {
        m.insert("money".into(), serde_json::to_value(&e.money).expect("money serialises"));
        m.insert("power".into(), serde_json::to_value(&e.power).expect("power serialises"));
    }
    v
}

/// Back from a document; the error is serde's (unknown field, wrong type).
fn from_document(doc: &Value) -> Result<(Scenario, Option<EconomicsSpec>), String> {
    let mut doc = doc.clone();
    let m = doc.as_object_mut().ok_or("a scenario must be a struct")?;
    let money = m.remove("money");
    let power = m.remove("power");
    let s: Scenario = serde_json::from_value(doc).map_err(|e| e.to_string())?;
    let econ = match (money, power) {
        (Some(money), Some(power)) => Some(EconomicsSpec {
            money: serde_json::from_value(money).map_err(|e| format!("money: {e}"))?,
            power: serde_json::from_value(power).map_err(|e| format!("power: {e}"))?,
        }),
        _ => None,
    };
    Ok((s, econ))
}

fn relative(sweep_file: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() { p.to_path_buf() } else { sweep_file.parent().unwrap_or(Path::new(".")).join(p) }
}

impl Sweep {
    /// Read and check a sweep file: every point is built and checked here.
    pub fn load(path: &Path, catalog: &Catalog, opts: &LoadOptions) -> Result<Sweep, WankaError> {
        let text = read_file(path)?;
        Sweep::parse(&text, path, catalog, opts)
    }

    /// Parse and check sweep text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path, catalog: &Catalog, opts: &LoadOptions) -> Result<Sweep, WankaError> {
        let file = path.display().to_string();
        let src: SweepSrc = parse_ron(text, &file)?;
        let seeds = opts.seeds.unwrap_or(src.seeds);
        if seeds == 0 {
            return Err(invalid(&file, "seeds", "must be at least 1"));
        }

        // The base.
        let (base_scenario, mut econ, base) = match &src.base {
            BaseSrc::Scenario(p) => {
                let sp = relative(path, p);
                (Scenario::load(&sp)?, None, format!("scenario {p}"))
            }
            BaseSrc::Inline(s) => {
                s.check(&file)?;
                ((**s).clone(), None, "inline scenario".to_string())
            }
            BaseSrc::Plan { file: p, candidate } => {
                let pp = relative(path, p);
                let (s, e, name) = plan_candidate(&pp, candidate.as_deref(), catalog)?;
                (s, Some(e), format!("plan {p}, candidate {name}"))
            }
        };
        if let Some(e) = &src.economics {
            econ = Some(e.clone());
        }
        let has_money = econ.is_some();
        let mut doc = document(&base_scenario, &econ);

        // Fixed overrides: the file's `set`, then the command line's.
        let mut sets: Vec<(String, String, String)> =
            src.set.iter().map(|(k, v)| (k.clone(), v.get_ron().to_string(), format!("set.{k}"))).collect();
        sets.extend(opts.set.iter().map(|(k, v)| (k.clone(), v.clone(), format!("--set {k}"))));
        let mut touched_seed = false;
        for (k, v, field) in &sets {
            let fp = FieldPath::parse(k).map_err(|e| invalid(&file, field.clone(), e))?;
            let node = ron_value::parse(v).map_err(|e| invalid(&file, field.clone(), e))?;
            let json = node.to_json().map_err(|e| invalid(&file, field.clone(), e))?;
            fp.set(&mut doc, json).map_err(|e| invalid(&file, field.clone(), e))?;
            from_document(&doc).map_err(|e| invalid(&file, field.clone(), format!("value `{}`: {e}", node.render())))?;
            touched_seed |= k == "seed";
        }

        // Axes, each value checked against the base on its own.
        let mut axes: Vec<Axis> = Vec::new();
        for (k, raw) in &src.axes {
            let field = format!("axes.{k}");
            let axis = parse_axis(k, raw).map_err(|e| invalid(&file, field.clone(), e))?;
            if axes.iter().any(|a| a.path.text == axis.path.text) {
                return Err(invalid(&file, field, "axis listed twice"));
            }
            if LEAD.iter().chain(OUTPUTS).chain(COST_OUTPUTS).any(|(n, ..)| *n == k.as_str()) {
                return Err(invalid(&file, field, "an axis path may not be named like an output column"));
            }
            for v in axis.probes() {
                let mut d = doc.clone();
                let json = v.to_json().map_err(|e| invalid(&file, field.clone(), e))?;
                axis.path.set(&mut d, json).map_err(|e| invalid(&file, field.clone(), e))?;
                from_document(&d).map_err(|e| invalid(&file, field.clone(), format!("value `{}`: {e}", v.render())))?;
            }
            touched_seed |= k == "seed";
            axes.push(axis);
        }

        // Dimensions: one per axis, or one per zip group.
        let mut group_of: Vec<Option<usize>> = vec![None; axes.len()];
        for (g, paths) in src.zip.iter().enumerate() {
            let field = format!("zip[{g}]");
            if paths.len() < 2 {
                return Err(invalid(&file, field, "a zip group links at least two axes"));
            }
            for p in paths {
                let i = axes
                    .iter()
                    .position(|a| a.path.text == *p)
                    .ok_or_else(|| invalid(&file, field.clone(), format!("`{p}` is not one of the axes")))?;
                if group_of[i].is_some() {
                    return Err(invalid(&file, field.clone(), format!("axis `{p}` is in two zip groups (or twice in one)")));
                }
                group_of[i] = Some(g);
            }
        }
        let mut dims: Vec<Vec<usize>> = Vec::new();
        let mut dim_of_group: Vec<Option<usize>> = vec![None; src.zip.len()];
        for (i, group) in group_of.iter().enumerate() {
            match *group {
                None => dims.push(vec![i]),
                Some(g) => match dim_of_group[g] {
                    Some(d) => dims[d].push(i),
                    None => {
                        dim_of_group[g] = Some(dims.len());
                        dims.push(vec![i]);
                    }
                },
            }
        }
        for d in &dims {
            let lists = d.iter().filter(|&&i| matches!(axes[i].kind, AxisKind::Values(_))).count();
            if lists > 0 && lists < d.len() {
                let names: Vec<&str> = d.iter().map(|&i| axes[i].path.text.as_str()).collect();
                return Err(invalid(&file, "zip", format!("linked axes {names:?} mix value lists and ranges: link lists with lists")));
            }
            let lens: Vec<Option<u64>> = d.iter().map(|&i| axes[i].grid_len()).collect();
            if (lists > 0 || src.sampling == Sampling::Grid) && lens.iter().any(|l| *l != lens[0]) {
                let desc: Vec<String> = d
                    .iter()
                    .map(|&i| format!("{} ({})", axes[i].path.text, axes[i].grid_len().map_or("no steps".into(), |l| l.to_string())))
                    .collect();
                return Err(invalid(&file, "zip", format!("linked axes need the same number of values: {}", desc.join(", "))));
            }
        }

        // Coordinates of every point.
        let coords: Vec<Vec<Coord>> = match &src.sampling {
            Sampling::Grid => {
                let mut lens = Vec::new();
                for d in &dims {
                    let a = &axes[d[0]];
                    let len = a.grid_len().ok_or_else(|| {
                        invalid(&file, format!("axes.{}", a.path.text), "Grid sampling needs `steps` on a Uniform or LogUniform range")
                    })?;
                    lens.push(len);
                }
                let total = lens.iter().try_fold(1u64, |acc, &l| acc.checked_mul(l).filter(|t| *t <= MAX_POINTS));
                let total = total.ok_or_else(|| invalid(&file, "axes", format!("the grid has more than {MAX_POINTS} points")))?;
                (0..total)
                    .map(|mut i| {
                        let mut c = vec![Coord::Index(0, 1); dims.len()];
                        for d in (0..dims.len()).rev() {
                            c[d] = Coord::Index(i % lens[d], lens[d]);
                            i /= lens[d];
                        }
                        c
                    })
                    .collect()
            }
            Sampling::Random { n, seed } | Sampling::LatinHypercube { n, seed } => {
                if *n == 0 || *n > MAX_POINTS {
                    return Err(invalid(&file, "sampling", format!("n must be between 1 and {MAX_POINTS}, got {n}")));
                }
                let lhs = matches!(src.sampling, Sampling::LatinHypercube { .. });
                let cols: Vec<Vec<f64>> = (0..dims.len()).map(|d| unit_samples(*seed, d as u64, *n, lhs)).collect();
                (0..*n as usize).map(|i| cols.iter().map(|c| Coord::Unit(c[i])).collect()).collect()
            }
        };

        // Columns.
        let mut columns: Vec<Column> = LEAD.iter().map(|(n, t, d)| Column::new(n, *t, d)).collect();
        let mut axis_columns = Vec::new();
        for a in &axes {
            axis_columns.push(columns.len());
            columns.push(Column::new(&a.path.text, a.ty, "input (axis)"));
        }
        columns.extend(OUTPUTS.iter().map(|(n, t, d)| Column::new(n, *t, d)));
        if has_money {
            columns.extend(COST_OUTPUTS.iter().map(|(n, t, d)| Column::new(n, *t, d)));
        }

        // Every point, built and checked.
        let mut fp = Fingerprint::new();
        fp.add(FORMAT.as_bytes());
        fp.add(env!("CARGO_PKG_VERSION").as_bytes());
        fp.add(format!("{catalog:?}").as_bytes());
        fp.add(&seeds.to_le_bytes());
        fp.add(serde_json::to_string(&columns).expect("columns serialise").as_bytes());
        let mut points = Vec::with_capacity(coords.len());
        for (i, c) in coords.iter().enumerate() {
            let index = i as u64;
            let mut d = doc.clone();
            let mut inputs = Vec::with_capacity(axes.len());
            let mut values = vec![Node::Unit; axes.len()];
            for (dim, members) in dims.iter().enumerate() {
                for &a in members {
                    values[a] = match c[dim] {
                        Coord::Index(k, len) => axes[a].at_index(k, len),
                        Coord::Unit(u) => axes[a].at_unit(u),
                    };
                }
            }
            for (a, v) in axes.iter().zip(&values) {
                let json = v.to_json().map_err(|e| invalid(&file, format!("axes.{}", a.path.text), e))?;
                a.path.set(&mut d, json).map_err(|e| invalid(&file, format!("axes.{}", a.path.text), e))?;
                inputs.push(a.cell(v));
            }
            if !touched_seed {
                let seed = if src.common_random_numbers { src.seed } else { point_seed(src.seed, index) };
                d["seed"] = Value::from(seed);
            }
            let what = || {
                let desc: Vec<String> = axes.iter().zip(&inputs).map(|(a, v)| format!("{}={v}", a.path.text)).collect();
                format!("point {index} ({})", desc.join(", "))
            };
            let (scenario, econ) = from_document(&d).map_err(|e| invalid(&file, what(), e))?;
            check_point(&scenario, &econ, catalog, &file).map_err(|e| match e {
                WankaError::Invalid { field, msg, .. } => invalid(&file, format!("{}: {field}", what()), msg),
                other => invalid(&file, what(), other.to_string()),
            })?;
            fp.add(&index.to_le_bytes());
            fp.add(serde_json::to_string(&d).expect("documents serialise").as_bytes());
            points.push(Point { index, scenario, economics: econ, inputs });
        }

        // Expectations.
        let mut expectations = Vec::new();
        for (i, raw) in src.expect.iter().enumerate() {
            let field = format!("expect[{i}]");
            let spec = parse_expect(raw.get_ron()).map_err(|e| invalid(&file, field.clone(), e))?;
            expectations.push(Expectation::new(spec, &columns).map_err(|e| invalid(&file, field.clone(), e))?);
        }

        Ok(Sweep {
            name: src.name,
            description: src.description,
            file,
            base,
            seeds,
            sampling: src.sampling,
            axes,
            points,
            columns,
            axis_columns,
            expectations,
            fingerprint: fp.hex(),
        })
    }

    /// Number of output columns after the axes.
    fn output_count(&self) -> usize {
        self.columns.len() - LEAD.len() - self.axes.len()
    }

    /// Simulate one point: its row of cells (a failed point gets its status, the reason and empty
    /// outputs).
    pub fn evaluate(&self, p: &Point, catalog: &Catalog) -> Vec<String> {
        let mut row = vec![p.index.to_string(), "ok".into(), String::new(), p.scenario.seed.to_string()];
        row.extend(p.inputs.iter().cloned());
        match self.outputs(p, catalog) {
            Ok(vals) => row.extend(vals),
            Err(e) => {
                let infeasible = match &e {
                    WankaError::Infeasible { .. } => true,
                    WankaError::Invalid { field, .. } => field.starts_with("parallelism"),
                    _ => false,
                };
                row[1] = if infeasible { "infeasible" } else { "error" }.into();
                // No file name: the cell must not depend on how the sweep file was named on the command
                // line (shards and resumed runs must agree byte for byte).
                let text = match &e {
                    WankaError::Invalid { field, msg, .. } => format!("field `{field}`: {msg}"),
                    other => other.to_string(),
                };
                row[2] = text.replace(['\n', '\r'], " ");
                row.extend(std::iter::repeat_n(String::new(), self.output_count()));
            }
        }
        debug_assert_eq!(row.len(), self.columns.len());
        row
    }

    fn outputs(&self, p: &Point, catalog: &Catalog) -> Result<Vec<String>, WankaError> {
        let s = &p.scenario;
        let r = s.simulate_run(catalog, &self.file, self.seeds)?;
        let (c, mc) = (&r.context, &r.monte_carlo);
        let f = float_cell;
        let lost = &mc.lost_days_mean;
        let mut v = vec![
            c.devices.to_string(),
            f(c.step_s),
            f(c.tokens_per_s),
            f(c.mfu),
            f(c.ideal_days),
            f(mc.wall_days.mean),
            f(mc.wall_days.p10),
            f(mc.wall_days.p50),
            f(mc.wall_days.p90),
            f(mc.ettr.mean),
            f(mc.ettr.p10),
            f(mc.ettr.p90),
            f(mc.interruptions.mean),
            f(mc.spares_used.mean),
            f(mc.completed_fraction),
            f(lost.rework_days),
            f(lost.restart_days),
            f(lost.checkpoint_days),
            f(lost.spare_wait_days),
            f(lost.straggler_days),
            f(lost.maintenance_days),
            f(c.mtti_hours),
            f(c.checkpoint_interval_s),
            f(c.checkpoint.stall_s),
            f(c.restart_s),
            c.hot_spare_nodes.to_string(),
        ];
        if let Some(e) = &p.economics {
            let cluster = Cluster::resolve(&s.cluster, catalog, &self.file)?;
            let pools = [PoolHw { chip: &cluster.chip, devices: cluster.gpus, gpus_per_node: cluster.gpus_per_node }];
            let econ = economics::economics(&e.money, &e.power, &pools, c.hot_spare_nodes, mc.wall_days.p50, s.training.tokens)
                .map_err(|msg| invalid(&self.file, "economics", msg))?;
            v.extend([
                f(econ.total_usd / 1e6),
                f(econ.capex_usd / 1e6),
                f(econ.usd_per_million_tokens),
                f(econ.energy_mwh),
                f(econ.peak_mw),
            ]);
        }
        Ok(v)
    }

    /// The manifest of an output directory holding `shard` of this sweep.
    pub fn manifest(&self, shard: Shard) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            wanka_version: env!("CARGO_PKG_VERSION").into(),
            name: self.name.clone(),
            description: self.description.clone(),
            base: self.base.clone(),
            fingerprint: self.fingerprint.clone(),
            points: self.points.len() as u64,
            seeds: self.seeds,
            sampling: self.sampling.describe(),
            shard: (shard != Shard::ALL).then(|| shard.to_string()),
            columns: self.columns.clone(),
            axis_columns: self.axis_columns.iter().map(|&i| self.columns[i].name.clone()).collect(),
            expectations: self.expectations.iter().map(|e| e.spec.clone()).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Coord {
    /// Grid: value `k` of `len`.
    Index(u64, u64),
    /// Random / Latin hypercube: a point of [0, 1).
    Unit(f64),
}

/// `n` numbers in [0, 1) for dimension `dim`: independent uniforms, or one per stratum (LHS).
fn unit_samples(seed: u64, dim: u64, n: u64, lhs: bool) -> Vec<f64> {
    use rand::RngExt;
    let mut rng = crate::engine::rng_stream(seed, 0x5EE9_0000 + dim);
    if !lhs {
        return (0..n).map(|_| rng.random::<f64>()).collect();
    }
    let mut perm: Vec<u64> = (0..n).collect();
    for j in (1..perm.len()).rev() {
        let k = rng.random_range(0..=j);
        perm.swap(j, k);
    }
    perm.iter().map(|&s| (s as f64 + rng.random::<f64>()) / n as f64).collect()
}

/// Catalog ids, failure profile, sizes and money of a point (everything but the physics).
fn check_point(s: &Scenario, econ: &Option<EconomicsSpec>, catalog: &Catalog, file: &str) -> Result<(), WankaError> {
    s.check(file)?;
    s.model.resolve().map_err(|e| e.in_field(file, "model"))?;
    Cluster::resolve(&s.cluster, catalog, file)?;
    crate::failure::profile(&s.run.failures.profile).map_err(|e| e.in_field(file, "run.failures.profile"))?;
    if let Some(e) = econ {
        economics::check(&e.money, &e.power, file, "economics")?;
    }
    Ok(())
}

/// An `expect` entry: a condition string, or `(check: …, name: …, when: […], points: […])`.
fn parse_expect(ron_text: &str) -> Result<ExpectSpec, String> {
    let node = ron_value::parse(ron_text)?;
    match node {
        Node::Str(check) => Ok(ExpectSpec { check, name: None, when: Vec::new(), points: None }),
        Node::Struct(None, _) => {
            let mut json = node.to_json()?;
            if let Some(w) = json.get_mut("when").filter(|w| w.is_string()) {
                *w = Value::Array(vec![w.take()]);
            }
            serde_json::from_value(json).map_err(|e| e.to_string())
        }
        other => Err(format!("expected a condition such as \"p90_days < 100\" or (check: \"…\", when: [\"…\"]), got `{}`", other.render())),
    }
}

/// The scenario of a plan's candidate: the best parallelism its search finds, with its money and
/// power. Returns the candidate's name too.
fn plan_candidate(path: &Path, candidate: Option<&str>, catalog: &Catalog) -> Result<(Scenario, EconomicsSpec, String), WankaError> {
    let file = path.display().to_string();
    let mut p = PlanFile::load(path)?;
    if let Some(name) = candidate {
        let names: Vec<String> = p.candidates.iter().map(|c| c.name.clone()).collect();
        p.candidates.retain(|c| c.name == name);
        if p.candidates.is_empty() {
            return Err(invalid(&file, "candidates", format!("no candidate named `{name}`; candidates: {}", names.join(", "))));
        }
    }
    // Only the search matters here: one seed keeps the comparison quick.
    p.settings.seeds = 1;
    let cmp = p.compare(catalog, &file)?;
    let best =
        cmp.candidates.iter().find(|c| c.feasible).ok_or_else(|| invalid(&file, "candidates", "no feasible candidate to sweep around"))?;
    let cand = p.candidates.iter().find(|c| c.name == best.name).expect("ranked candidates come from the plan");
    let s = plan::candidate_scenario(&p, best, cand).ok_or_else(|| {
        invalid(&file, "candidates", format!("candidate `{}` has several chip pools: a sweep needs a single-pool candidate", best.name))
    })?;
    s.check(&file)?;
    Ok((s, EconomicsSpec { money: cand.money.clone(), power: cand.power.clone() }, best.name.clone()))
}

/// `manifest.json` of an output directory: what the table holds and how to read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub wanka_version: String,
    pub name: String,
    pub description: String,
    pub base: String,
    /// Digest of every point's scenario, the seeds, the columns, the catalog and the wanka version:
    /// outputs with the same fingerprint hold the same rows.
    pub fingerprint: String,
    /// Points of the whole sweep (all shards).
    pub points: u64,
    pub seeds: u64,
    pub sampling: String,
    /// `K/N` for a shard's directory; absent for a whole sweep (and the output of `wanka merge`).
    pub shard: Option<String>,
    pub columns: Vec<Column>,
    pub axis_columns: Vec<String>,
    pub expectations: Vec<ExpectSpec>,
}

impl Manifest {
    pub fn to_json(&self) -> String {
        format!("{}\n", serde_json::to_string_pretty(self).expect("manifest serialises"))
    }

    pub fn load(path: &Path) -> Result<Manifest, WankaError> {
        let text = read_file(path)?;
        serde_json::from_str(&text).map_err(|e| WankaError::Parse {
            file: path.display().to_string(),
            line: e.line(),
            col: e.column(),
            msg: e.to_string(),
        })
    }

    pub fn shard(&self) -> Shard {
        self.shard.as_deref().and_then(|s| s.parse().ok()).unwrap_or(Shard::ALL)
    }

    /// The checked expectations and the indices of the axis columns.
    pub fn expectations(&self, file: &str) -> Result<(Vec<Expectation>, Vec<usize>), WankaError> {
        let exps = self
            .expectations
            .iter()
            .enumerate()
            .map(|(i, s)| Expectation::new(s.clone(), &self.columns).map_err(|e| invalid(file, format!("expectations[{i}]"), e)))
            .collect::<Result<Vec<_>, _>>()?;
        let axes = self.axis_columns.iter().filter_map(|n| self.columns.iter().position(|c| c.name == *n)).collect();
        Ok((exps, axes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Sweep, WankaError> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/sweeps/test.ron");
        Sweep::parse(text, &path, Catalog::builtin(), &LoadOptions::default())
    }

    #[test]
    fn grid_zip_and_overrides() {
        let s = load(
            r#"(
                name: "t",
                base: Scenario("../default.ron"),
                set: {"run.failures.multiplier": 2},
                axes: {
                    "cluster.gpus": [4096, 8192],
                    "parallelism.dp": [64, 128],
                    "run.checkpoint.interval": [Fixed(minutes: 30), Daly],
                },
                zip: [["cluster.gpus", "parallelism.dp"]],
                seeds: 2,
                expect: ["p90_days < 1000", (check: "mfu > 0.1", when: "cluster.gpus == 8192")],
            )"#,
        )
        .unwrap();
        assert_eq!(s.points.len(), 4);
        let p = &s.points[3];
        assert_eq!(p.scenario.cluster.gpus, 8192);
        assert_eq!(p.scenario.parallelism.dp, 128);
        assert_eq!(p.scenario.run.failures.multiplier, 2.0);
        assert_eq!(p.scenario.run.checkpoint.interval, crate::checkpoint::Interval::Daly);
        assert_eq!(p.inputs, vec!["8192", "128", "Daly"]);
        assert_eq!(s.points[0].inputs[2], "Fixed(minutes: 30)");
        assert_ne!(s.points[0].scenario.seed, s.points[1].scenario.seed);
        assert_eq!(s.expectations.len(), 2);
        let row = s.evaluate(&s.points[0], Catalog::builtin());
        assert_eq!(row[1], "ok", "{row:?}");
        assert_eq!(row.len(), s.columns.len());
    }

    #[test]
    fn bad_paths_and_types_name_the_path() {
        let base = |axes: &str| format!("(name: \"t\", base: Scenario(\"../default.ron\"), axes: {{{axes}}})");
        let e = load(&base("\"cluster.gpuz\": [1]")).unwrap_err().to_string();
        assert!(e.contains("test.ron") && e.contains("axes.cluster.gpuz") && e.contains("unknown field `gpuz`"), "{e}");
        let e = load(&base("\"cluster.gpus\": [4096.5]")).unwrap_err().to_string();
        assert!(e.contains("axes.cluster.gpus") && e.contains("4096.5"), "{e}");
        let e = load(&base("\"run.checkpoint.interval\": [Hourly]")).unwrap_err().to_string();
        assert!(e.contains("axes.run.checkpoint.interval") && e.contains("Hourly"), "{e}");
        let e = load(&base("\"run.failures.multiplier\": [1, -1]")).unwrap_err().to_string();
        assert!(e.contains("point 1") && e.contains("run.failures.multiplier"), "{e}");
        let e = load(&base("\"cluster.chip\": [\"h900\"]")).unwrap_err().to_string();
        assert!(e.contains("h900"), "{e}");
        let e = load(&base("\"run.failures.multiplier\": Uniform(min: 1, max: 2)")).unwrap_err().to_string();
        assert!(e.contains("steps"), "{e}");
    }

    #[test]
    fn random_and_lhs_are_deterministic_and_stratified() {
        let text = |s: &str| {
            format!(
                "(name: \"t\", base: Scenario(\"../default.ron\"), sampling: {s}, axes: {{\"run.failures.multiplier\": Uniform(min: 0.0, max: 4.0), \"run.recovery.hot_spare_nodes\": Int(min: 0, max: 9)}})"
            )
        };
        let a = load(&text("LatinHypercube(n: 10, seed: 3)")).unwrap();
        let b = load(&text("LatinHypercube(n: 10, seed: 3)")).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        let mut strata: Vec<usize> = a.points.iter().map(|p| (p.scenario.run.failures.multiplier / 0.4) as usize).collect();
        strata.sort();
        assert_eq!(strata, (0..10).collect::<Vec<_>>());
        let mut spares: Vec<u32> = a.points.iter().map(|p| p.scenario.run.recovery.hot_spare_nodes.unwrap()).collect();
        spares.sort();
        assert_eq!(spares, (0..10).collect::<Vec<_>>());
        let r = load(&text("Random(n: 5, seed: 3)")).unwrap();
        assert_eq!(r.points.len(), 5);
        assert_ne!(r.fingerprint, a.fingerprint);
    }

    #[test]
    fn shards_parse() {
        assert_eq!("1/4".parse::<Shard>().unwrap(), Shard { index: 1, count: 4 });
        assert!("4/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        assert!(Shard { index: 1, count: 3 }.contains(4));
    }
}
