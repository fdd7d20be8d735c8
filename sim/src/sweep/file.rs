//! The sweep file format (RON): the base, fixed overrides, axes (lists and ranges), zip groups,
//! sampling, seeds, economics and expectations, as written; [`super::build`] turns it into points.

use ron::value::RawValue;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::expect::ExpectSpec;
use super::path::FieldPath;
use super::ron_value::{self, Node};
use super::table::{ColumnType, float_cell};
use crate::planning::economics::{Money, Power};
use crate::scenario::Scenario;

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
    pub(super) fn describe(&self) -> String {
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
pub(super) enum BaseSrc {
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

pub(super) type Entries = Vec<(String, Box<RawValue>)>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SweepSrc {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    pub(super) base: BaseSrc,
    #[serde(default, deserialize_with = "ordered_map")]
    pub(super) set: Entries,
    #[serde(default, deserialize_with = "ordered_map")]
    pub(super) axes: Entries,
    #[serde(default)]
    pub(super) zip: Vec<Vec<String>>,
    #[serde(default)]
    pub(super) sampling: Sampling,
    #[serde(default = "default_seeds")]
    pub(super) seeds: u64,
    #[serde(default = "default_seed")]
    pub(super) seed: u64,
    #[serde(default)]
    pub(super) common_random_numbers: bool,
    #[serde(default)]
    pub(super) economics: Option<EconomicsSpec>,
    #[serde(default)]
    pub(super) expect: Vec<Box<RawValue>>,
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
    pub(super) fn grid_len(&self) -> Option<u64> {
        match &self.kind {
            AxisKind::Values(v) => Some(v.len() as u64),
            AxisKind::Uniform { steps, .. } | AxisKind::LogUniform { steps, .. } => *steps,
            AxisKind::Int { min, max, step } => Some(((max - min) / step + 1) as u64),
        }
    }

    pub(super) fn at_index(&self, k: u64, len: u64) -> Node {
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

    pub(super) fn at_unit(&self, u: f64) -> Node {
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
    pub(super) fn probes(&self) -> Vec<Node> {
        match &self.kind {
            AxisKind::Values(v) => v.clone(),
            AxisKind::Uniform { min, max, .. } | AxisKind::LogUniform { min, max, .. } => vec![Node::Float(*min), Node::Float(*max)],
            AxisKind::Int { min, max, step } => vec![Node::Int(i128::from(*min)), Node::Int(i128::from(min + (max - min) / step * step))],
        }
    }

    pub(super) fn cell(&self, v: &Node) -> String {
        match self.ty {
            ColumnType::Float => float_cell(v.as_f64().unwrap_or(f64::NAN)),
            _ => v.cell_text(),
        }
    }
}

/// One axis of the file: `path` and its values (a list or a range).
pub(super) fn parse_axis(path: &str, raw: &RawValue) -> Result<Axis, String> {
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

/// An `expect` entry: a condition string, or `(check: …, name: …, when: […], points: […])`.
pub(super) fn parse_expect(ron_text: &str) -> Result<ExpectSpec, String> {
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
        other => Err(format!("expected a condition such as \"days_p90 < 100\" or (check: \"…\", when: [\"…\"]), got `{}`", other.render())),
    }
}
