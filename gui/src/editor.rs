//! The scenario editor: the knobs that matter, as text fields, combo boxes and check boxes.
//!
//! Numbers are edited as text so that anything can be typed; [`Form::build`] turns the text back into a
//! [`Scenario`] or names each field that is not a number. Everything else the simulator checks itself:
//! its errors come back from the background job and are shown next to the field they name
//! ([`knob_of_field`]).

use std::collections::BTreeMap;

use egui::{RichText, Ui};
use wanka_sim::hardware::catalog::FabricKind;
use wanka_sim::hardware::collective::Algorithm;
use wanka_sim::run::checkpoint::{Interval, Policy};
use wanka_sim::scenario::AutoParallelism;
use wanka_sim::step::cost::{MoeDispatcher, Precision};
use wanka_sim::workload::model::{ModelRef, PRESET_IDS};
use wanka_sim::workload::parallelism::{RankOrder, Recompute, Schedule};
use wanka_sim::{Catalog, Scenario, WankaError, limits};

pub use crate::widgets::ERROR_MARK;
use crate::widgets::{combo_row, error_lines, model_options, section, text_field};

/// An editable setting (or a group of them) that an error can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Knob {
    Model,
    SeqLen,
    Tokens,
    Chip,
    Gpus,
    GpusPerNode,
    Fabric,
    Topology,
    Nic,
    /// The parallelism plan as a whole (the simulator reports plan constraints and memory here).
    Parallelism,
    Tp,
    Pp,
    Dp,
    Cp,
    Ep,
    Schedule,
    Vpp,
    MicroBatch,
    GlobalBatch,
    Recompute,
    /// `parallelism.recompute_layers` under full recompute (empty = every layer).
    RecomputeLayers,
    Zero,
    Overhead,
    /// `run.recovery.hot_spare_nodes` (empty = the simulator's default, 1% of the nodes).
    Spares,
    /// `run.failures.multiplier`.
    FailureMultiplier,
    /// `run.checkpoint.policy` and the rest of the checkpoint section.
    CheckpointPolicy,
    /// `run.checkpoint.interval` (Fixed/Young/Daly).
    CheckpointInterval,
    /// Minutes of a fixed checkpoint interval.
    CheckpointMinutes,
    /// Anything the editor has no field for.
    Other,
}

/// The knobs edited as text, with their label (also their accessible name) and hint.
const TEXT_KNOBS: &[(Knob, &str, &str)] = &[
    (Knob::SeqLen, "Sequence length", "tokens"),
    (Knob::Tokens, "Training tokens", "e.g. 5e12"),
    (Knob::Gpus, "GPUs", "devices"),
    (Knob::GpusPerNode, "GPUs per node", "devices"),
    (Knob::Nic, "NIC Gbit/s per GPU", "Gbit/s"),
    (Knob::Tp, "TP", "tensor"),
    (Knob::Pp, "PP", "pipeline"),
    (Knob::Dp, "DP", "data"),
    (Knob::Cp, "CP", "context"),
    (Knob::Ep, "EP", "expert"),
    (Knob::Vpp, "VPP", "auto"),
    (Knob::MicroBatch, "Micro-batch", "auto (1)"),
    (Knob::GlobalBatch, "Global batch", "sequences"),
    (Knob::RecomputeLayers, "Recomputed layers", "all (per chunk)"),
    (Knob::Overhead, "Iteration overhead s", "seconds"),
    (Knob::Spares, "Hot-spare nodes", "auto (1%)"),
    (Knob::FailureMultiplier, "Failure-rate multiplier", "1 = profile"),
    (Knob::CheckpointMinutes, "Interval (minutes, or steps)", "min / steps"),
];

/// Names of the text knobs for the command line (`--set tp=3`).
pub const KNOB_NAMES: &[(&str, Knob)] = &[
    ("seq_len", Knob::SeqLen),
    ("tokens", Knob::Tokens),
    ("gpus", Knob::Gpus),
    ("gpus_per_node", Knob::GpusPerNode),
    ("nic", Knob::Nic),
    ("tp", Knob::Tp),
    ("pp", Knob::Pp),
    ("dp", Knob::Dp),
    ("cp", Knob::Cp),
    ("ep", Knob::Ep),
    ("vpp", Knob::Vpp),
    ("micro_batch", Knob::MicroBatch),
    ("global_batch", Knob::GlobalBatch),
    ("recompute_layers", Knob::RecomputeLayers),
    ("overhead", Knob::Overhead),
    ("spares", Knob::Spares),
    ("failure_multiplier", Knob::FailureMultiplier),
    ("checkpoint_minutes", Knob::CheckpointMinutes),
];

/// The text knob of a command-line name.
pub fn knob_by_name(name: &str) -> Option<Knob> {
    let n = name.trim().to_ascii_lowercase().replace('-', "_");
    KNOB_NAMES.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)
}

/// Label (and accessible name) of a text knob.
pub fn label_of(knob: Knob) -> &'static str {
    TEXT_KNOBS.iter().find(|(k, _, _)| *k == knob).map_or("", |(_, l, _)| l)
}

/// Which knob a simulator error field (`cluster.gpus`, `parallelism`, `model.heads` …) belongs to.
pub fn knob_of_field(field: &str) -> Knob {
    match field {
        "cluster.chip" => Knob::Chip,
        "cluster.gpus" => Knob::Gpus,
        "cluster.gpus_per_node" => Knob::GpusPerNode,
        "cluster.network.fabric" => Knob::Fabric,
        "cluster.network.topology" => Knob::Topology,
        "cluster.network.nic_gbit_per_s_per_gpu" => Knob::Nic,
        "training.seq_len" => Knob::SeqLen,
        "training.tokens" => Knob::Tokens,
        "framework.iteration_overhead_s" => Knob::Overhead,
        "run.recovery.hot_spare_nodes" => Knob::Spares,
        "run.failures.multiplier" => Knob::FailureMultiplier,
        "run.checkpoint.interval" => Knob::CheckpointInterval,
        f if f.starts_with("run.checkpoint") => Knob::CheckpointPolicy,
        f if f == "model" || f.starts_with("model.") => Knob::Model,
        f if f == "parallelism" || f.starts_with("parallelism.") => Knob::Parallelism,
        _ => Knob::Other,
    }
}

/// Where a simulator error goes in the editor, and its text (without the file name).
pub fn place_error(e: &WankaError) -> (Knob, String) {
    match e {
        WankaError::Invalid { field, msg, .. } => (knob_of_field(field), format!("field `{field}`: {msg}")),
        // Memory does not fit: the plan (TP/PP/recompute/ZeRO …) is what to change.
        WankaError::Infeasible { .. } => (Knob::Parallelism, e.to_string()),
        other => (Knob::Other, other.to_string()),
    }
}

/// Messages per knob (of the scenario editor, or `K` = [`crate::plan_editor::PlanKnob`]).
#[derive(Debug, Clone)]
pub struct FieldErrors<K: Ord = Knob>(pub BTreeMap<K, Vec<String>>);

impl<K: Ord> Default for FieldErrors<K> {
    fn default() -> Self {
        FieldErrors(BTreeMap::new())
    }
}

impl<K: Ord + Copy> FieldErrors<K> {
    pub fn push(&mut self, knob: K, msg: String) {
        self.0.entry(knob).or_default().push(msg);
    }
    pub fn get(&self, knob: K) -> &[String] {
        self.0.get(&knob).map_or(&[], Vec::as_slice)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FieldErrors<Knob> {
    /// The knob's field should be framed in red: it has a message, or a plan-wide message names it
    /// (`tp·pp·dp·cp = …`, `heads (96) not divisible by tp (3)`).
    pub fn marks(&self, knob: Knob) -> bool {
        if !self.get(knob).is_empty() {
            return true;
        }
        let Some(name) = KNOB_NAMES.iter().find(|(_, k)| *k == knob).map(|(n, _)| *n) else {
            return false;
        };
        if !matches!(
            knob,
            Knob::Tp | Knob::Pp | Knob::Dp | Knob::Cp | Knob::Ep | Knob::Vpp | Knob::MicroBatch | Knob::GlobalBatch | Knob::RecomputeLayers
        ) {
            return false;
        }
        self.get(Knob::Parallelism).iter().any(|m| m.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|w| w == name))
    }
}

/// How checkpoints are spaced, without the minutes of a fixed interval (those are edited as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalKind {
    Fixed,
    Young,
    Daly,
    /// Every N optimizer steps (the text field holds N).
    Steps,
}

impl IntervalKind {
    pub fn of(i: &Interval) -> IntervalKind {
        match i {
            Interval::Fixed { .. } => IntervalKind::Fixed,
            Interval::Young => IntervalKind::Young,
            Interval::Daly => IntervalKind::Daly,
            Interval::Steps { .. } => IntervalKind::Steps,
        }
    }

    /// The interval, with the text field parsed as minutes when fixed, as steps when in steps.
    pub fn build(self, text: &str) -> Result<Interval, String> {
        Ok(match self {
            IntervalKind::Fixed => Interval::Fixed { minutes: parse_f64(text)? },
            IntervalKind::Young => Interval::Young,
            IntervalKind::Daly => Interval::Daly,
            IntervalKind::Steps => Interval::Steps { steps: parse_u32(text)? },
        })
    }

    /// Whether the interval's number is typed in (minutes or steps).
    pub fn has_number(self) -> bool {
        matches!(self, IntervalKind::Fixed | IntervalKind::Steps)
    }

    /// Text of the minutes field for an interval (a starting value when it is not fixed).
    pub fn minutes_text(i: &Interval) -> String {
        match i {
            Interval::Fixed { minutes } => num(*minutes),
            Interval::Steps { steps } => steps.to_string(),
            _ => "60".into(),
        }
    }
}

/// The scenario being edited: text of the numeric knobs plus everything else in `base`.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    /// Scenario holding every non-text setting (combos, check boxes, name, run section …).
    pub base: Scenario,
    text: BTreeMap<Knob, String>,
    /// The scenario's own model when it is not a preset, to switch back to.
    custom_model: Option<ModelRef>,
    /// Checkpoint interval kind (its minutes are the text of [`Knob::CheckpointMinutes`]).
    pub interval: IntervalKind,
}

/// A number as it is typed: plain, or in exponent form when very large or small.
pub fn num(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e7 || v.abs() < 1e-3) { format!("{v:e}") } else { format!("{v}") }
}

pub fn parse_u32(s: &str) -> Result<u32, String> {
    let t = s.trim().replace('_', "");
    t.parse::<u32>().map_err(|_| format!("`{}` is not a whole number", s.trim()))
}

/// Empty text is `None` (the default).
pub fn parse_opt_u32(s: &str) -> Result<Option<u32>, String> {
    if s.trim().is_empty() { Ok(None) } else { parse_u32(s).map(Some) }
}

pub fn parse_f64(s: &str) -> Result<f64, String> {
    let t = s.trim().replace('_', "");
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{}` is not a number", s.trim())),
    }
}

/// A number within the simulator's bounds `[lo, hi]` (`wanka_sim::limits`), refused next to its field
/// before any job starts; the message names the range.
pub fn parse_in(lo: f64, hi: f64) -> impl Fn(&str) -> Result<f64, String> {
    move |s: &str| {
        let v = parse_f64(s)?;
        if v >= lo && v <= hi { Ok(v) } else { Err(format!("must be in [{}, {}], got {}", num(lo), num(hi), num(v))) }
    }
}

/// Empty text is `None` (no limit, or the default).
pub fn parse_opt_f64(s: &str) -> Result<Option<f64>, String> {
    if s.trim().is_empty() { Ok(None) } else { parse_f64(s).map(Some) }
}

/// The pin knobs of an auto scenario (empty text = searched).
const PIN_KNOBS: [Knob; 7] = [Knob::Tp, Knob::Pp, Knob::Cp, Knob::Ep, Knob::Vpp, Knob::MicroBatch, Knob::GlobalBatch];

fn put_pins(put: &mut impl FnMut(Knob, String), a: &AutoParallelism) {
    let t = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_default();
    put(Knob::Tp, t(a.tp));
    put(Knob::Pp, t(a.pp));
    put(Knob::Dp, String::new());
    put(Knob::Cp, t(a.cp));
    put(Knob::Ep, t(a.ep));
    put(Knob::Vpp, t(a.vpp));
    put(Knob::MicroBatch, t(a.micro_batch));
    put(Knob::GlobalBatch, t(a.global_batch));
}

impl Form {
    /// Search the parallelism (`auto`, with the pins of the text fields, all empty: every knob
    /// searched) or give it (`searched`: the plan the last search chose, else the stand-in).
    pub fn set_auto(&mut self, on: bool, searched: Option<&wanka_sim::workload::parallelism::ParallelismSpec>) {
        if on == self.base.auto.is_some() {
            return;
        }
        if on {
            let a = AutoParallelism::default();
            let text = &mut self.text;
            put_pins(
                &mut |k, v| {
                    text.insert(k, v);
                },
                &a,
            );
            self.base.auto = Some(a);
        } else {
            self.base.auto = None;
            if let Some(p) = searched {
                self.base.parallelism = p.clone();
            }
            let p = self.base.parallelism.clone();
            for (k, v) in [
                (Knob::Tp, p.tp.to_string()),
                (Knob::Pp, p.pp.to_string()),
                (Knob::Dp, p.dp.to_string()),
                (Knob::Cp, p.cp.to_string()),
                (Knob::Ep, p.ep.to_string()),
                (Knob::Vpp, p.vpp.map(|v| v.to_string()).unwrap_or_default()),
                (Knob::MicroBatch, p.micro_batch.map(|v| v.to_string()).unwrap_or_default()),
                (Knob::GlobalBatch, p.global_batch.to_string()),
                (Knob::RecomputeLayers, p.recompute_layers.map(|v| v.to_string()).unwrap_or_default()),
            ] {
                self.text.insert(k, v);
            }
        }
    }

    pub fn new(s: &Scenario) -> Form {
        let p = &s.parallelism;
        let mut text = BTreeMap::new();
        let mut put = |k: Knob, v: String| {
            text.insert(k, v);
        };
        put(Knob::SeqLen, s.training.seq_len.to_string());
        put(Knob::Tokens, num(s.training.tokens));
        put(Knob::Gpus, s.cluster.gpus.to_string());
        put(Knob::GpusPerNode, s.cluster.gpus_per_node.to_string());
        put(Knob::Nic, num(s.cluster.network.nic_gbit_per_s_per_gpu));
        put(Knob::Tp, p.tp.to_string());
        put(Knob::Pp, p.pp.to_string());
        put(Knob::Dp, p.dp.to_string());
        put(Knob::Cp, p.cp.to_string());
        put(Knob::Ep, p.ep.to_string());
        put(Knob::Vpp, p.vpp.map(|v| v.to_string()).unwrap_or_default());
        put(Knob::MicroBatch, p.micro_batch.map(|v| v.to_string()).unwrap_or_default());
        put(Knob::GlobalBatch, p.global_batch.to_string());
        put(Knob::RecomputeLayers, p.recompute_layers.map(|v| v.to_string()).unwrap_or_default());
        if let Some(a) = &s.auto {
            put_pins(&mut put, a);
        }
        put(Knob::Overhead, num(s.framework.iteration_overhead_s));
        put(Knob::Spares, s.run.recovery.hot_spare_nodes.map(|v| v.to_string()).unwrap_or_default());
        put(Knob::FailureMultiplier, num(s.run.failures.multiplier));
        put(Knob::CheckpointMinutes, IntervalKind::minutes_text(&s.run.checkpoint.interval));
        let custom_model = match &s.model {
            ModelRef::Custom(_) => Some(s.model.clone()),
            ModelRef::Preset(id) if !PRESET_IDS.contains(&id.as_str()) => Some(s.model.clone()),
            ModelRef::Preset(_) => None,
        };
        Form { base: s.clone(), text, custom_model, interval: IntervalKind::of(&s.run.checkpoint.interval) }
    }

    /// Current text of a numeric knob.
    pub fn text(&self, knob: Knob) -> &str {
        self.text.get(&knob).map_or("", String::as_str)
    }

    /// Replace the text of a numeric knob (as typing would).
    pub fn set_text(&mut self, knob: Knob, value: &str) {
        self.text.insert(knob, value.to_string());
    }

    /// The scenario the fields describe, or the fields whose text is not a number.
    pub fn build(&self) -> Result<Scenario, FieldErrors> {
        let mut s = self.base.clone();
        let mut errors = FieldErrors::default();
        let t = |k: Knob| self.text(k);
        macro_rules! set {
            ($knob:expr, $parse:expr, $target:expr) => {
                match $parse(t($knob)) {
                    Ok(v) => $target = v,
                    Err(msg) => errors.push($knob, msg),
                }
            };
        }
        set!(Knob::SeqLen, parse_u32, s.training.seq_len);
        set!(Knob::Tokens, parse_f64, s.training.tokens);
        set!(Knob::Gpus, parse_u32, s.cluster.gpus);
        set!(Knob::GpusPerNode, parse_u32, s.cluster.gpus_per_node);
        set!(Knob::Nic, parse_in(limits::NIC_GBIT.0, limits::NIC_GBIT.1), s.cluster.network.nic_gbit_per_s_per_gpu);
        if let Some(a) = &mut s.auto {
            set!(Knob::Tp, parse_opt_u32, a.tp);
            set!(Knob::Pp, parse_opt_u32, a.pp);
            set!(Knob::Cp, parse_opt_u32, a.cp);
            set!(Knob::Ep, parse_opt_u32, a.ep);
            set!(Knob::Vpp, parse_opt_u32, a.vpp);
            set!(Knob::MicroBatch, parse_opt_u32, a.micro_batch);
            set!(Knob::GlobalBatch, parse_opt_u32, a.global_batch);
        } else {
            set!(Knob::Tp, parse_u32, s.parallelism.tp);
            set!(Knob::Pp, parse_u32, s.parallelism.pp);
            set!(Knob::Dp, parse_u32, s.parallelism.dp);
            set!(Knob::Cp, parse_u32, s.parallelism.cp);
            set!(Knob::Ep, parse_u32, s.parallelism.ep);
            set!(Knob::Vpp, parse_opt_u32, s.parallelism.vpp);
            set!(Knob::MicroBatch, parse_opt_u32, s.parallelism.micro_batch);
            set!(Knob::GlobalBatch, parse_u32, s.parallelism.global_batch);
            // Only full recomputation takes a layer count; other modes leave the field unused.
            if s.parallelism.recompute == Recompute::Full {
                set!(Knob::RecomputeLayers, parse_opt_u32, s.parallelism.recompute_layers);
            } else {
                s.parallelism.recompute_layers = None;
            }
        }
        set!(Knob::Overhead, parse_f64, s.framework.iteration_overhead_s);
        set!(Knob::Spares, parse_opt_u32, s.run.recovery.hot_spare_nodes);
        set!(Knob::FailureMultiplier, parse_in(0.0, limits::MAX_FAILURE_MULTIPLIER), s.run.failures.multiplier);
        match self.interval.build(t(Knob::CheckpointMinutes)) {
            Ok(i) => s.run.checkpoint.interval = i,
            Err(msg) => errors.push(Knob::CheckpointMinutes, msg),
        }
        if errors.is_empty() { Ok(s) } else { Err(errors) }
    }
}

fn text_row(ui: &mut Ui, form: &mut Form, errors: &FieldErrors, knob: Knob) -> bool {
    let (_, label, hint) = TEXT_KNOBS.iter().find(|(k, _, _)| *k == knob).copied().unwrap_or((knob, "?", ""));
    let bad = errors.marks(knob);
    let changed = text_field(ui, label, hint, form.text.entry(knob).or_default(), bad);
    error_lines(ui, errors.get(knob));
    changed
}

/// Choices of the checkpoint policy combo.
pub(crate) fn policy_options() -> [(Policy, String); 3] {
    [(Policy::Sync, "sync".to_string()), (Policy::Async, "async".to_string()), (Policy::InMemory, "in memory".to_string())]
}

/// Choices of the checkpoint interval combo.
pub(crate) fn interval_options() -> [(IntervalKind, String); 4] {
    [
        (IntervalKind::Fixed, "fixed".to_string()),
        (IntervalKind::Young, "Young".to_string()),
        (IntervalKind::Daly, "Daly".to_string()),
        (IntervalKind::Steps, "every N steps".to_string()),
    ]
}

/// The editor. Returns `true` when any setting changed.
/// `searched`: the plan the last search of an auto scenario chose (unpinning starts from it).
pub fn editor_ui(
    ui: &mut Ui,
    form: &mut Form,
    errors: &FieldErrors,
    catalog: &Catalog,
    searched: Option<&wanka_sim::workload::parallelism::ParallelismSpec>,
) -> bool {
    if !errors.get(Knob::Other).is_empty() {
        error_lines(ui, errors.get(Knob::Other));
    }
    let mut changed = false;
    changed |= section(ui, "Model & training", |ui| model_section(ui, form, errors));
    changed |= section(ui, "Cluster", |ui| cluster_section(ui, form, errors, catalog));
    changed |= section(ui, "Parallelism", |ui| parallelism_section(ui, form, errors, searched));
    changed |= section(ui, "Framework", |ui| framework_section(ui, form, errors));
    changed |= section(ui, "Training run (failures, recovery)", |ui| run_section(ui, form, errors));
    changed
}

/// The model and how long it trains.
fn model_section(ui: &mut Ui, form: &mut Form, errors: &FieldErrors) -> bool {
    let mut c = false;
    let options = model_options(form.custom_model.as_ref());
    c |= combo_row(ui, "Model", &mut form.base.model, &options, !errors.get(Knob::Model).is_empty());
    error_lines(ui, errors.get(Knob::Model));
    c |= text_row(ui, form, errors, Knob::SeqLen);
    c |= text_row(ui, form, errors, Knob::Tokens);
    c
}

/// Chip, cluster size and network.
fn cluster_section(ui: &mut Ui, form: &mut Form, errors: &FieldErrors, catalog: &Catalog) -> bool {
    let mut c = false;
    let mut chips: Vec<(String, String)> = catalog.chips.keys().map(|id| (id.clone(), id.clone())).collect();
    let cur = form.base.cluster.chip.clone();
    if !catalog.chips.contains_key(&cur) {
        chips.push((cur.clone(), format!("{cur} (unknown)")));
    }
    c |= combo_row(ui, "Chip", &mut form.base.cluster.chip, &chips, !errors.get(Knob::Chip).is_empty());
    if let Ok(chip) = catalog.chip(&form.base.cluster.chip) {
        ui.label(
            RichText::new(format!(
                "{}: {:.0} TFLOP/s BF16, {:.0} GB, scale-up {} × {:.0} GB/s",
                chip.name, chip.bf16_dense_tflops, chip.hbm_gb, chip.scale_up_domain, chip.scale_up_gb_per_s_bidir
            ))
            .small()
            .weak(),
        );
    }
    error_lines(ui, errors.get(Knob::Chip));
    c |= text_row(ui, form, errors, Knob::Gpus);
    c |= text_row(ui, form, errors, Knob::GpusPerNode);
    let mut fabrics: Vec<(String, String)> =
        catalog.fabrics.values().filter(|f| f.kind != FabricKind::ScaleUp).map(|f| (f.id.clone(), f.id.clone())).collect();
    let cur = form.base.cluster.network.fabric.clone();
    if !fabrics.iter().any(|(id, _)| *id == cur) {
        fabrics.push((cur.clone(), cur));
    }
    c |= combo_row(ui, "Network fabric", &mut form.base.cluster.network.fabric, &fabrics, !errors.get(Knob::Fabric).is_empty());
    error_lines(ui, errors.get(Knob::Fabric));
    let mut topologies: Vec<(String, String)> = catalog.topologies.keys().map(|id| (id.clone(), id.clone())).collect();
    let cur = form.base.cluster.network.topology.clone();
    if !catalog.topologies.contains_key(&cur) {
        topologies.push((cur.clone(), cur));
    }
    c |= combo_row(ui, "Topology", &mut form.base.cluster.network.topology, &topologies, !errors.get(Knob::Topology).is_empty());
    error_lines(ui, errors.get(Knob::Topology));
    c |= text_row(ui, form, errors, Knob::Nic);
    c
}

/// The parallelism plan; its plan-wide errors go under the sizes.
fn parallelism_section(
    ui: &mut Ui,
    form: &mut Form,
    errors: &FieldErrors,
    searched: Option<&wanka_sim::workload::parallelism::ParallelismSpec>,
) -> bool {
    let mut c = false;
    let mut auto = form.base.auto.is_some();
    if ui
        .checkbox(&mut auto, "Search the parallelism (auto)")
        .on_hover_text(
            "On: wanka searches the plan (the planner's search); the fields below are pins, empty = searched. \
             Off: the plan is as written (unpinning starts from the plan the search chose).",
        )
        .changed()
    {
        form.set_auto(auto, searched);
        c = true;
    }
    if form.base.auto.is_some() {
        ui.label(
            RichText::new("Pins (empty = searched; DP is what is left; schedule, recompute, ZeRO, SP and rank order are searched)")
                .small()
                .weak(),
        );
        for k in PIN_KNOBS {
            let label = label_of(k);
            let bad = errors.marks(k);
            c |= text_field(ui, label, "searched", form.text.entry(k).or_default(), bad);
            error_lines(ui, errors.get(k));
        }
        error_lines(ui, errors.get(Knob::Parallelism));
        return c;
    }
    for k in [Knob::Tp, Knob::Pp, Knob::Dp, Knob::Cp, Knob::Ep] {
        c |= text_row(ui, form, errors, k);
    }
    // Plan-wide constraints (tp·pp·dp·cp = GPUs, divisibility, memory) go under the sizes.
    error_lines(ui, errors.get(Knob::Parallelism));
    c |= combo_row(
        ui,
        "Schedule",
        &mut form.base.parallelism.schedule,
        &[
            (None, "auto".to_string()),
            (Some(Schedule::OneFOneB), "1F1B".to_string()),
            (Some(Schedule::Interleaved), "interleaved 1F1B".to_string()),
            (Some(Schedule::DualPipe), "DualPipe".to_string()),
        ],
        false,
    );
    c |= text_row(ui, form, errors, Knob::Vpp);
    c |= text_row(ui, form, errors, Knob::MicroBatch);
    c |= text_row(ui, form, errors, Knob::GlobalBatch);
    c |= combo_row(
        ui,
        "Recompute",
        &mut form.base.parallelism.recompute,
        &[(Recompute::None, "none".to_string()), (Recompute::Selective, "selective".to_string()), (Recompute::Full, "full".to_string())],
        false,
    );
    // Megatron's block method: the first N layers of every chunk recomputed (empty = all of them).
    if form.base.parallelism.recompute == Recompute::Full {
        c |= text_row(ui, form, errors, Knob::RecomputeLayers);
    }
    c |= combo_row(
        ui,
        "ZeRO stage",
        &mut form.base.parallelism.zero_stage,
        &[
            (0, "0 (none)".to_string()),
            (1, "1 (optimizer)".to_string()),
            (2, "2 (+ gradients)".to_string()),
            (3, "3 (+ weights)".to_string()),
        ],
        false,
    );
    c |= ui.checkbox(&mut form.base.parallelism.sequence_parallel, "Sequence parallel (SP)").changed();
    c |= combo_row(
        ui,
        "Rank order",
        &mut form.base.parallelism.rank_order,
        &[
            (RankOrder::TpCpDpPp, "tp-cp-(ep)-dp-pp (Megatron-core)".to_string()),
            (RankOrder::TpCpPpDp, "tp-cp-pp-dp (Llama 3)".to_string()),
        ],
        false,
    );
    c
}

/// Framework switches: kernels, overlap, precision, collectives, MoE dispatch.
fn framework_section(ui: &mut Ui, form: &mut Form, errors: &FieldErrors) -> bool {
    let mut c = false;
    let fw = &mut form.base.framework;
    c |= ui.checkbox(&mut fw.flash_attention, "Flash attention").changed();
    c |= ui.checkbox(&mut fw.overlap_grad_reduce, "Overlap gradient reduction with backward").changed();
    c |= ui.checkbox(&mut fw.in_network_reduction, "In-network reduction (SHARP/NVLS)").changed();
    c |=
        combo_row(ui, "Precision", &mut fw.precision, &[(Precision::Bf16, "BF16".to_string()), (Precision::Fp8, "FP8".to_string())], false);
    c |= combo_row(
        ui,
        "Collectives",
        &mut fw.collective_algorithm,
        &[
            (Algorithm::Auto, "auto".to_string()),
            (Algorithm::Ring, "ring".to_string()),
            (Algorithm::Tree, "tree".to_string()),
            (Algorithm::Hierarchical, "hierarchical".to_string()),
        ],
        false,
    );
    c |= text_row(ui, form, errors, Knob::Overhead);
    c |= combo_row(
        ui,
        "MoE dispatch",
        &mut form.base.framework.moe_dispatcher,
        &[
            (MoeDispatcher::AllToAll, "all-to-all (one copy per expert)".to_string()),
            (MoeDispatcher::NodeDedup, "de-duplicated per node (DeepEP)".to_string()),
        ],
        false,
    );
    c |= ui.checkbox(&mut form.base.framework.overlap_moe_comm, "Overlap MoE dispatch/combine with compute").changed();
    c
}

/// Hot spares, failure rate and checkpointing of the training run.
fn run_section(ui: &mut Ui, form: &mut Form, errors: &FieldErrors) -> bool {
    let mut c = false;
    c |= text_row(ui, form, errors, Knob::Spares);
    c |= text_row(ui, form, errors, Knob::FailureMultiplier);
    let bad = !errors.get(Knob::CheckpointPolicy).is_empty();
    c |= combo_row(ui, "Checkpoint policy", &mut form.base.run.checkpoint.policy, &policy_options(), bad);
    error_lines(ui, errors.get(Knob::CheckpointPolicy));
    let bad = !errors.get(Knob::CheckpointInterval).is_empty();
    c |= combo_row(ui, "Checkpoint interval", &mut form.interval, &interval_options(), bad);
    error_lines(ui, errors.get(Knob::CheckpointInterval));
    if form.interval.has_number() {
        c |= text_row(ui, form, errors, Knob::CheckpointMinutes);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_scenario() -> Scenario {
        let dir = crate::files::find_scenarios_dir(None).unwrap();
        Scenario::load(&dir.join("default.ron")).unwrap()
    }

    #[test]
    fn round_trips_a_scenario() {
        let s = default_scenario();
        assert_eq!(Form::new(&s).build().unwrap(), s);
    }

    #[test]
    fn names_fields_that_are_not_numbers() {
        let mut f = Form::new(&default_scenario());
        f.set_text(Knob::Tp, "three");
        f.set_text(Knob::Tokens, "lots");
        f.set_text(Knob::Vpp, "");
        let e = f.build().unwrap_err();
        assert!(e.get(Knob::Tp)[0].contains("`three` is not a whole number"));
        assert!(e.get(Knob::Tokens)[0].contains("not a number"));
        assert!(e.get(Knob::Vpp).is_empty());
    }

    /// The recomputed-layers field applies to full recomputation only (Megatron's block method), and a
    /// count the simulator refuses frames the field.
    #[test]
    fn recomputed_layers_apply_to_full_recompute() {
        let mut s = default_scenario();
        s.parallelism.recompute = Recompute::Full;
        let mut f = Form::new(&s);
        assert_eq!(f.text(Knob::RecomputeLayers), "");
        f.set_text(Knob::RecomputeLayers, "12");
        assert_eq!(f.build().unwrap().parallelism.recompute_layers, Some(12));
        f.set_text(Knob::RecomputeLayers, "some");
        assert!(f.build().unwrap_err().get(Knob::RecomputeLayers)[0].contains("not a whole number"));
        f.set_text(Knob::RecomputeLayers, "12");
        f.base.parallelism.recompute = Recompute::Selective;
        assert_eq!(f.build().unwrap().parallelism.recompute_layers, None);
        // Zero layers is refused by the plan check, naming the field.
        s.parallelism.recompute_layers = Some(0);
        let e = s.simulate_step(Catalog::builtin(), "x.ron").unwrap_err();
        let (k, msg) = place_error(&e);
        let mut errors = FieldErrors::default();
        errors.push(k, msg);
        assert!(errors.marks(Knob::RecomputeLayers), "{errors:?}");
    }

    #[test]
    fn sim_errors_land_on_their_field() {
        let mut s = default_scenario();
        s.parallelism.tp = 3;
        let e = s.simulate_step(Catalog::builtin(), "x.ron").unwrap_err();
        let (k, msg) = place_error(&e);
        assert_eq!(k, Knob::Parallelism);
        assert!(msg.starts_with("field `parallelism`: tp·pp·dp·cp"), "{msg}");
        // A device count need not fill whole nodes any more (the last domain may be partly used), so a
        // zero count is the cluster error here.
        let mut s = default_scenario();
        s.cluster.gpus = 0;
        let e = s.simulate_step(Catalog::builtin(), "x.ron").unwrap_err();
        assert_eq!(place_error(&e).0, Knob::Gpus, "{e}");
        assert_eq!(knob_of_field("model.heads"), Knob::Model);
        assert_eq!(knob_of_field("cluster.network.topology"), Knob::Topology);
        assert_eq!(knob_of_field("run.something"), Knob::Other);
        let mut e = FieldErrors::default();
        e.push(
            Knob::Parallelism,
            "field `parallelism`: kv_heads (8) and tp (3) must divide one another; global_batch (7) not divisible by dp·micro_batch (160·1 = 160)".into(),
        );
        assert!(e.marks(Knob::Tp) && e.marks(Knob::GlobalBatch) && e.marks(Knob::MicroBatch));
        assert!(e.marks(Knob::Dp) && !e.marks(Knob::Pp) && !e.marks(Knob::Gpus));
    }
}
