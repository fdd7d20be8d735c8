//! From a sweep file to its points: the base document, fixed overrides, axes checked one value at a
//! time, dimensions (zip groups), coordinates (grid or sampled), columns, and every point built and
//! checked before anything runs.

use serde_json::Value;
use std::path::{Path, PathBuf};

use super::expect::Expectation;
use super::file::{AxisKind, BaseSrc, EconomicsSpec, Sampling, SweepSrc, parse_axis, parse_expect};
use super::path::FieldPath;
use super::ron_value::{self, Node};
use super::table::Column;
use super::{Axis, COST_OUTPUTS, LEAD, LoadOptions, OUTPUTS, Point, invalid, point_seed};
use crate::error::WankaError;
use crate::hardware::catalog::Catalog;
use crate::hardware::topology::Cluster;
use crate::planning::economics;
use crate::planning::plan_file::{self, PlanFile};
use crate::scenario::Scenario;

/// 128-bit FNV-1a (two 64-bit lanes), hex.
pub(super) struct Fingerprint(u64, u64);

impl Fingerprint {
    pub(super) fn new() -> Self {
        Fingerprint(0xcbf2_9ce4_8422_2325, 0x6c62_272e_07bb_0142)
    }
    pub(super) fn add(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain(&(bytes.len() as u64).to_le_bytes()) {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            self.1 = (self.1 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5);
        }
    }
    pub(super) fn hex(&self) -> String {
        format!("{:016x}{:016x}", self.0, self.1)
    }
}

/// The scenario document of a base: its serde value, plus `money` and `power` when it has them.
pub(super) fn document(s: &Scenario, econ: &Option<EconomicsSpec>) -> Value {
    let mut v = serde_json::to_value(s).expect("scenarios serialise");
    if let (Some(e), Value::Object(m)) = (econ, &mut v) {
        m.insert("money".into(), serde_json::to_value(&e.money).expect("money serialises"));
        m.insert("power".into(), serde_json::to_value(&e.power).expect("power serialises"));
    }
    v
}

/// Back from a document; the error is serde's (unknown field, wrong type).
pub(super) fn from_document(doc: &Value) -> Result<(Scenario, Option<EconomicsSpec>), String> {
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

/// A path of the sweep file, relative to the file's directory.
fn relative(sweep_file: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() { p.to_path_buf() } else { sweep_file.parent().unwrap_or(Path::new(".")).join(p) }
}

/// The base scenario, its money and power (a plan base, or the file's `economics`), and the base
/// in words.
pub(super) fn load_base(src: &SweepSrc, path: &Path, catalog: &Catalog) -> Result<(Scenario, Option<EconomicsSpec>, String), WankaError> {
    let file = path.display().to_string();
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
    // Checked before the base becomes a document: a NaN would turn into JSON null there and come back
    // as a type error on whichever axis is applied first.
    if let Some(e) = &econ {
        economics::check(&e.money, &e.power, &file, "economics")?;
    }
    Ok((base_scenario, econ, base))
}

/// Apply the fixed overrides (the file's `set`, then the command line's) to the document; true when
/// one of them sets the seed.
pub(super) fn apply_sets(doc: &mut Value, src: &SweepSrc, opts: &LoadOptions, file: &str) -> Result<bool, WankaError> {
    let mut sets: Vec<(String, String, String)> =
        src.set.iter().map(|(k, v)| (k.clone(), v.get_ron().to_string(), format!("set.{k}"))).collect();
    sets.extend(opts.set.iter().map(|(k, v)| (k.clone(), v.clone(), format!("--set {k}"))));
    let mut touched_seed = false;
    for (k, v, field) in &sets {
        let fp = FieldPath::parse(k).map_err(|e| invalid(file, field.clone(), e))?;
        let node = ron_value::parse(v).map_err(|e| invalid(file, field.clone(), e))?;
        let json = node.to_json().map_err(|e| invalid(file, field.clone(), e))?;
        fp.set(doc, json).map_err(|e| invalid(file, field.clone(), e))?;
        from_document(doc).map_err(|e| invalid(file, field.clone(), format!("value `{}`: {e}", node.render())))?;
        touched_seed |= k == "seed";
    }

    Ok(touched_seed)
}

/// A fixed override (`set` or `--set`) on a path that is also an axis would be silently replaced by
/// the axis values: refused.
pub(super) fn check_sets_not_axes(src: &SweepSrc, opts: &LoadOptions, axes: &[Axis], file: &str) -> Result<(), WankaError> {
    let sets = src.set.iter().map(|(k, _)| (k, format!("set.{k}"))).chain(opts.set.iter().map(|(k, _)| (k, format!("--set {k}"))));
    for (k, field) in sets {
        let Ok(fp) = FieldPath::parse(k) else { continue };
        if axes.iter().any(|a| a.path.text == fp.text) {
            return Err(invalid(file, field, format!("`{k}` is also an axis of the sweep; the axis would override it (drop one)")));
        }
    }
    Ok(())
}

/// The axes, each value checked against the base on its own; true when one of them is the seed.
pub(super) fn parse_axes(src: &SweepSrc, doc: &Value, file: &str) -> Result<(Vec<Axis>, bool), WankaError> {
    let mut touched_seed = false;
    let mut axes: Vec<Axis> = Vec::new();
    for (k, raw) in &src.axes {
        let field = format!("axes.{k}");
        let axis = parse_axis(k, raw).map_err(|e| invalid(file, field.clone(), e))?;
        if axes.iter().any(|a| a.path.text == axis.path.text) {
            return Err(invalid(file, field, "axis listed twice"));
        }
        if LEAD.iter().chain(OUTPUTS).chain(COST_OUTPUTS).any(|(n, ..)| *n == k.as_str()) {
            return Err(invalid(file, field, "an axis path may not be named like an output column"));
        }
        for v in axis.probes() {
            let mut d = doc.clone();
            let json = v.to_json().map_err(|e| invalid(file, field.clone(), e))?;
            axis.path.set(&mut d, json).map_err(|e| invalid(file, field.clone(), e))?;
            from_document(&d).map_err(|e| invalid(file, field.clone(), format!("value `{}`: {e}", v.render())))?;
        }
        touched_seed |= k == "seed";
        axes.push(axis);
    }

    Ok((axes, touched_seed))
}

/// Dimensions: one per axis, or one per zip group (the axes' indices).
pub(super) fn dimensions(src: &SweepSrc, axes: &[Axis], file: &str) -> Result<Vec<Vec<usize>>, WankaError> {
    let mut group_of: Vec<Option<usize>> = vec![None; axes.len()];
    for (g, paths) in src.zip.iter().enumerate() {
        let field = format!("zip[{g}]");
        if paths.len() < 2 {
            return Err(invalid(file, field, "a zip group links at least two axes"));
        }
        for p in paths {
            let i = axes
                .iter()
                .position(|a| a.path.text == *p)
                .ok_or_else(|| invalid(file, field.clone(), format!("`{p}` is not one of the axes")))?;
            if group_of[i].is_some() {
                return Err(invalid(file, field.clone(), format!("axis `{p}` is in two zip groups (or twice in one)")));
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
            return Err(invalid(file, "zip", format!("linked axes {names:?} mix value lists and ranges: link lists with lists")));
        }
        let lens: Vec<Option<u64>> = d.iter().map(|&i| axes[i].grid_len()).collect();
        if (lists > 0 || src.sampling == Sampling::Grid) && lens.iter().any(|l| *l != lens[0]) {
            let desc: Vec<String> = d
                .iter()
                .map(|&i| format!("{} ({})", axes[i].path.text, axes[i].grid_len().map_or("no steps".into(), |l| l.to_string())))
                .collect();
            return Err(invalid(file, "zip", format!("linked axes need the same number of values: {}", desc.join(", "))));
        }
    }

    Ok(dims)
}

/// Coordinates of every point, one per dimension; more than `max_points` points are refused.
pub(super) fn coordinates(
    sampling: &Sampling,
    dims: &[Vec<usize>],
    axes: &[Axis],
    max_points: u64,
    file: &str,
) -> Result<Vec<Vec<Coord>>, WankaError> {
    let coords: Vec<Vec<Coord>> = match sampling {
        Sampling::Grid => {
            let mut lens = Vec::new();
            for d in dims {
                let a = &axes[d[0]];
                let len = a.grid_len().ok_or_else(|| {
                    invalid(file, format!("axes.{}", a.path.text), "Grid sampling needs `steps` on a Uniform or LogUniform range")
                })?;
                lens.push(len);
            }
            let total = lens.iter().try_fold(1u64, |acc, &l| acc.checked_mul(l).filter(|t| *t <= max_points));
            let total = total.ok_or_else(|| invalid(file, "axes", format!("the grid has more than {max_points} points")))?;
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
            if *n == 0 || *n > max_points {
                return Err(invalid(file, "sampling", format!("n must be between 1 and {max_points}, got {n}")));
            }
            let lhs = matches!(sampling, Sampling::LatinHypercube { .. });
            let cols: Vec<Vec<f64>> = (0..dims.len()).map(|d| unit_samples(*seed, d as u64, *n, lhs)).collect();
            (0..*n as usize).map(|i| cols.iter().map(|c| Coord::Unit(c[i])).collect()).collect()
        }
    };

    Ok(coords)
}

/// The table's columns (lead, axes, outputs, costs with money) and the indices of the axis columns.
pub(super) fn columns(axes: &[Axis], has_money: bool) -> (Vec<Column>, Vec<usize>) {
    let mut columns: Vec<Column> = LEAD.iter().map(|(n, t, d)| Column::new(n, *t, d)).collect();
    let mut axis_columns = Vec::new();
    for a in axes {
        axis_columns.push(columns.len());
        columns.push(Column::new(&a.path.text, a.ty, "input (axis)"));
    }
    columns.extend(OUTPUTS.iter().map(|(n, t, d)| Column::new(n, *t, d)));
    if has_money {
        columns.extend(COST_OUTPUTS.iter().map(|(n, t, d)| Column::new(n, *t, d)));
    }

    (columns, axis_columns)
}

/// Axes, dimensions and the coordinates of every point.
pub(super) struct Layout<'a> {
    pub axes: &'a [Axis],
    pub dims: &'a [Vec<usize>],
    pub coords: &'a [Vec<Coord>],
}

/// How points get their seeds: `fixed` when an override or axis sets it, else the sweep seed for
/// every point (`common`) or [`point_seed`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Seeding {
    pub fixed: bool,
    pub common: bool,
    pub seed: u64,
}

/// Every point, built and checked, each added to the fingerprint.
pub(super) fn points(
    doc: &Value,
    layout: &Layout,
    seeding: Seeding,
    catalog: &Catalog,
    file: &str,
    fp: &mut Fingerprint,
) -> Result<Vec<Point>, WankaError> {
    let Layout { axes, dims, coords } = *layout;
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
            let json = v.to_json().map_err(|e| invalid(file, format!("axes.{}", a.path.text), e))?;
            a.path.set(&mut d, json).map_err(|e| invalid(file, format!("axes.{}", a.path.text), e))?;
            inputs.push(a.cell(v));
        }
        if !seeding.fixed {
            let seed = if seeding.common { seeding.seed } else { point_seed(seeding.seed, index) };
            d["seed"] = Value::from(seed);
        }
        let what = || {
            let desc: Vec<String> = axes.iter().zip(&inputs).map(|(a, v)| format!("{}={v}", a.path.text)).collect();
            format!("point {index} ({})", desc.join(", "))
        };
        let (scenario, econ) = from_document(&d).map_err(|e| invalid(file, what(), e))?;
        check_point(&scenario, &econ, catalog, file).map_err(|e| match e {
            WankaError::Invalid { field, msg, .. } => invalid(file, format!("{}: {field}", what()), msg),
            other => invalid(file, what(), other.to_string()),
        })?;
        fp.add(&index.to_le_bytes());
        fp.add(serde_json::to_string(&d).expect("documents serialise").as_bytes());
        points.push(Point { index, scenario, economics: econ, inputs });
    }

    Ok(points)
}

/// The checked expectations.
pub(super) fn expectations(src: &SweepSrc, columns: &[Column], file: &str) -> Result<Vec<Expectation>, WankaError> {
    let mut expectations = Vec::new();
    for (i, raw) in src.expect.iter().enumerate() {
        let field = format!("expect[{i}]");
        let spec = parse_expect(raw.get_ron()).map_err(|e| invalid(file, field.clone(), e))?;
        expectations.push(Expectation::new(spec, columns).map_err(|e| invalid(file, field.clone(), e))?);
    }

    Ok(expectations)
}

/// Where a point sits along one dimension.
#[derive(Debug, Clone, Copy)]
pub(super) enum Coord {
    /// Grid: value `k` of `len`.
    Index(u64, u64),
    /// Random / Latin hypercube: a point of [0, 1).
    Unit(f64),
}

/// `n` numbers in [0, 1) for dimension `dim`: independent uniforms, or one per stratum (LHS).
pub(super) fn unit_samples(seed: u64, dim: u64, n: u64, lhs: bool) -> Vec<f64> {
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
pub(super) fn check_point(s: &Scenario, econ: &Option<EconomicsSpec>, catalog: &Catalog, file: &str) -> Result<(), WankaError> {
    s.check(file)?;
    s.model.resolve().map_err(|e| e.in_field(file, "model"))?;
    Cluster::resolve(&s.cluster, catalog, file)?;
    crate::run::failure::profile(&s.run.failures.profile).map_err(|e| e.in_field(file, "run.failures.profile"))?;
    if let Some(e) = econ {
        economics::check(&e.money, &e.power, file, "economics")?;
    }
    Ok(())
}

/// The scenario of a plan's candidate: the best parallelism its search finds, with its money and
/// power. Returns the candidate's name too.
pub(super) fn plan_candidate(
    path: &Path,
    candidate: Option<&str>,
    catalog: &Catalog,
) -> Result<(Scenario, EconomicsSpec, String), WankaError> {
    let file = path.display().to_string();
    let mut p = PlanFile::load(path)?;
    // A sweep's points all run on one catalog, the sweep's: a base plan's own overlay would price its
    // search differently from its points. `--calibration FILE` (already applied to `catalog`) wins.
    if let Some(c) = p.calibration_path(Some(path))
        && !catalog.calibrations.values().any(|cal| cal.overlay.is_some())
    {
        return Err(invalid(
            &file,
            "calibration",
            format!(
                "a sweep runs every point on one catalog: give this overlay to the sweep as `wanka --calibration {} sweep …` (the plan's field is used by `compare`)",
                c.display()
            ),
        ));
    }
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
    let s = plan_file::candidate_scenario(&p, best, cand).ok_or_else(|| {
        invalid(&file, "candidates", format!("candidate `{}` has several chip pools: a sweep needs a single-pool candidate", best.name))
    })?;
    s.check(&file)?;
    Ok((s, EconomicsSpec { money: cand.money.clone(), power: cand.power.clone() }, best.name.clone()))
}
