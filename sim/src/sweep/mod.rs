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

mod build;
pub mod expect;
mod file;
mod manifest;
#[cfg(feature = "parquet")]
mod parquet_out;
pub mod path;
pub mod ron_value;
pub mod table;

use std::path::Path;

use crate::error::WankaError;
use crate::hardware::catalog::Catalog;
use crate::hardware::topology::Cluster;
use crate::planning::economics::{self, PoolHw};
use crate::ron_util::{parse_ron, read_file};
use crate::scenario::Scenario;
use build::{Fingerprint, document};
use expect::Expectation;
use file::SweepSrc;
use table::{Column, ColumnType, float_cell};

pub use file::{Axis, AxisKind, EconomicsSpec, Sampling};
pub use manifest::Manifest;

/// Version tag of the output directory layout.
pub const FORMAT: &str = "wanka-sweep/2";

/// Most points a sweep may have.
pub const MAX_POINTS: u64 = crate::limits::MAX_SWEEP_POINTS;

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
    /// Refuse a sweep of more points than this (below [`MAX_POINTS`]; `None`: that limit), checked
    /// before any point is built: a caller with a tighter budget than the library's (the fuzz harness)
    /// does not pay for building a million points.
    pub max_points: Option<u64>,
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
    ("days_mean", ColumnType::Float, "wall clock of the whole run, mean over seeds, days"),
    ("days_p10", ColumnType::Float, "wall clock, 10th percentile over seeds, days"),
    ("days_p50", ColumnType::Float, "wall clock, median over seeds, days"),
    ("days_p90", ColumnType::Float, "wall clock, 90th percentile over seeds, days"),
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
    // The bands of `run` and `compare --json` (`crate::run::model_error`), same names.
    ("days_p10_failures", ColumnType::Float, "wall clock from failures alone, 10th percentile over seeds, days"),
    ("days_p50_failures", ColumnType::Float, "wall clock from failures alone, median over seeds, days"),
    ("days_p90_failures", ColumnType::Float, "wall clock from failures alone, 90th percentile over seeds, days"),
    ("days_p10_with_model_error", ColumnType::Float, "wall clock with the model's own step-time error too, 10th percentile, days"),
    ("days_p50_with_model_error", ColumnType::Float, "wall clock with the model's own step-time error too, median, days"),
    ("days_p90_with_model_error", ColumnType::Float, "wall clock with the model's own step-time error too, 90th percentile, days"),
    ("model_error_cases", ColumnType::Int, "leave-one-out step-time errors behind the band with model error"),
    ("model_error_mape", ColumnType::Float, "their mean absolute value, fraction"),
    ("model_error_source", ColumnType::Str, "where those errors come from (a calibration overlay, the family's published runs, …)"),
];

/// Cost columns, present when the sweep has money and power (a plan base, or `economics`).
const COST_OUTPUTS: &[(&str, ColumnType, &str)] = &[
    ("cost_musd", ColumnType::Float, "total cost of the run at the median wall clock, million USD"),
    ("capex_musd", ColumnType::Float, "capital cost of the hardware (0 when renting), million USD"),
    ("usd_per_mtok", ColumnType::Float, "cost per million tokens trained, USD"),
    ("energy_mwh", ColumnType::Float, "energy of the run at the median wall clock, MWh"),
    ("peak_mw", ColumnType::Float, "facility power with devices at TDP, MW"),
    ("cost_musd_p10_failures", ColumnType::Float, "total cost at days_p10_failures, million USD"),
    ("cost_musd_p90_failures", ColumnType::Float, "total cost at days_p90_failures, million USD"),
    ("cost_musd_p10_with_model_error", ColumnType::Float, "total cost at days_p10_with_model_error, million USD"),
    ("cost_musd_p90_with_model_error", ColumnType::Float, "total cost at days_p90_with_model_error, million USD"),
];

/// The leading columns of every sweep table.
const LEAD: &[(&str, ColumnType, &str)] = &[
    ("point", ColumnType::Int, "point index"),
    ("status", ColumnType::Str, "ok, infeasible or error"),
    ("failure", ColumnType::Str, "why the point is infeasible or failed (empty when ok)"),
    ("base_seed", ColumnType::Int, "the point's seed: Monte Carlo runs use base_seed, base_seed+1, …"),
];

/// The seed of point `i` of a sweep with seed `seed` (53 bits, exact in every JSON reader).
pub fn point_seed(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(i.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & ((1 << 53) - 1)
}

/// An `Invalid` error of the sweep file `file`.
pub(super) fn invalid(file: &str, field: impl Into<String>, msg: impl Into<String>) -> WankaError {
    WankaError::Invalid { file: file.into(), field: field.into(), msg: msg.into() }
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
        crate::limits::seeds(&file, if opts.seeds.is_some() { "--seeds" } else { "seeds" }, seeds)?;
        let (base_scenario, econ, base) = build::load_base(&src, path, catalog)?;
        let mut doc = document(&base_scenario, &econ);
        let set_seed = build::apply_sets(&mut doc, &src, opts, &file)?;
        let (axes, axis_seed) = build::parse_axes(&src, &doc, &file)?;
        build::check_sets_not_axes(&src, opts, &axes, &file)?;
        let dims = build::dimensions(&src, &axes, &file)?;
        let max_points = opts.max_points.map_or(MAX_POINTS, |m| m.min(MAX_POINTS));
        let coords = build::coordinates(&src.sampling, &dims, &axes, max_points, &file)?;
        let (columns, axis_columns) = build::columns(&axes, econ.is_some());
        let mut fp = Fingerprint::new();
        fp.add(FORMAT.as_bytes());
        fp.add(env!("CARGO_PKG_VERSION").as_bytes());
        fp.add(format!("{catalog:?}").as_bytes());
        fp.add(format!("{:?}{:?}", crate::run::failure::profiles(), crate::step::stack::profiles()).as_bytes());
        fp.add(&seeds.to_le_bytes());
        fp.add(serde_json::to_string(&columns).expect("columns serialise").as_bytes());
        let layout = build::Layout { axes: &axes, dims: &dims, coords: &coords };
        let seeding = build::Seeding { fixed: set_seed || axis_seed, common: src.common_random_numbers, seed: src.seed };
        let points = build::points(&doc, &layout, seeding, catalog, &file, &mut fp)?;
        let expectations = build::expectations(&src, &columns, &file)?;
        for (i, e) in expectations.iter().enumerate() {
            if let Some(&p) = e.spec.points.iter().flatten().find(|&&p| p >= points.len() as u64) {
                return Err(invalid(
                    &file,
                    format!("expect[{i}].points"),
                    format!("point {p} is beyond the sweep: its points are 0 to {}", points.len().saturating_sub(1)),
                ));
            }
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
        let b = &r.bands;
        v.extend([
            f(b.days_p10_failures),
            f(b.days_p50_failures),
            f(b.days_p90_failures),
            f(b.days_p10_with_model_error),
            f(b.days_p50_with_model_error),
            f(b.days_p90_with_model_error),
            b.model_error_cases.to_string(),
            f(b.model_error_mape),
            b.model_error_source.replace(['\n', '\r'], " "),
        ]);
        if let Some(e) = &p.economics {
            let cluster = Cluster::resolve(&s.cluster, catalog, &self.file)?;
            // Capital cost charges whole scale-up domains (a partly used NVL72 rack is bought whole).
            let pools = [PoolHw { chip: &cluster.chip, devices: cluster.gpus, gpus_per_node: cluster.domain_devices }];
            // Spares are failure-profile nodes (at most 8 devices), bought as whole domains.
            let node = u64::from(cluster.gpus_per_node.min(crate::run::inputs::FAILURE_NODE_DEVICES));
            let spare_domains = (u64::from(c.hot_spare_nodes) * node).div_ceil(u64::from(cluster.domain_devices)) as u32;
            let econ = economics::economics(&e.money, &e.power, &pools, spare_domains, mc.wall_days.p50, s.training.tokens)
                .map_err(|msg| invalid(&self.file, "economics", msg))?;
            v.extend([
                f(econ.total_usd / 1e6),
                f(econ.capex_usd / 1e6),
                f(econ.usd_per_million_tokens),
                f(econ.energy_mwh),
                f(econ.peak_mw),
            ]);
            // The cost bands: the run priced at each band's days, as `compare` prices them.
            let price = |d: f64| {
                economics::economics(&e.money, &e.power, &pools, spare_domains, d, s.training.tokens)
                    .map(|x| f(x.total_usd / 1e6))
                    .map_err(|msg| invalid(&self.file, "economics", msg))
            };
            for d in [b.days_p10_failures, b.days_p90_failures, b.days_p10_with_model_error, b.days_p90_with_model_error] {
                v.push(price(d)?);
            }
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

#[cfg(test)]
mod tests;
