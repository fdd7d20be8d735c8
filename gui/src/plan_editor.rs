//! The plan editor: the goal, and per candidate the knobs that decide time and cost (chip and count of
//! each pool, network, hot spares, failure rate, checkpointing, prices, PUE, electricity).
//!
//! As in the scenario editor ([`crate::editor`]) numbers are edited as text: [`PlanForm::build`] turns
//! the text back into a [`PlanFile`] or names each field that is not a number; everything else is
//! checked by `wanka_sim::planning::plan_file` on the worker thread and its error is placed next to the field it
//! names (`candidates[1].pools[0].count` → the count of candidate 2's first pool, [`place_plan_error`]).
//! The parallelism is left to the plan's search ("auto"), with any pins the file has.

use std::collections::BTreeMap;

use egui::{RichText, Ui};
use wanka_sim::hardware::catalog::FabricKind;
use wanka_sim::planning::economics::Money;
use wanka_sim::planning::plan_file::{Candidate, PlanFile};
use wanka_sim::workload::model::{ModelRef, PRESET_IDS};
use wanka_sim::{Catalog, WankaError};

use crate::editor::{
    FieldErrors, IntervalKind, interval_options, num, parse_f64, parse_in, parse_opt_f64, parse_opt_u32, parse_u32, policy_options,
};
use crate::widgets::{combo_row, error_lines, model_options, section, text_field};
use wanka_sim::limits;

/// An editable setting of a plan (candidate and pool indices count from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlanKnob {
    Model,
    Tokens,
    SeqLen,
    BatchTokens,
    Deadline,
    Budget,
    /// Errors of a candidate without a field of their own (no pool, economics, topology …).
    Candidate(usize),
    PoolChip(usize, usize),
    /// Also where `gpus_per_node` errors go (the count must fill whole nodes).
    PoolCount(usize, usize),
    Fabric(usize),
    Nic(usize),
    Spares(usize),
    FailureMultiplier(usize),
    CheckpointPolicy(usize),
    CheckpointInterval(usize),
    CheckpointMinutes(usize),
    /// Purchase or rental (and the money fields without a field here).
    Pricing(usize),
    CardUsd(usize),
    /// Pins of the parallelism search (empty = searched): TP, PP, virtual stages, micro-batch.
    PinTp(usize),
    PinPp(usize),
    PinVpp(usize),
    PinMicroBatch(usize),
    RentalUsd(usize),
    Pue(usize),
    UsdPerKwh(usize),
    /// Anything else (the candidate list, settings, the framework section).
    Other,
}

impl PlanKnob {
    /// The candidate a knob belongs to.
    pub fn candidate(self) -> Option<usize> {
        use PlanKnob::*;
        match self {
            Candidate(i)
            | PoolChip(i, _)
            | PoolCount(i, _)
            | Fabric(i)
            | Nic(i)
            | Spares(i)
            | FailureMultiplier(i)
            | CheckpointPolicy(i)
            | CheckpointInterval(i)
            | CheckpointMinutes(i)
            | Pricing(i)
            | CardUsd(i)
            | PinTp(i)
            | PinPp(i)
            | PinVpp(i)
            | PinMicroBatch(i)
            | RentalUsd(i)
            | Pue(i)
            | UsdPerKwh(i) => Some(i),
            Model | Tokens | SeqLen | BatchTokens | Deadline | Budget | Other => None,
        }
    }

    /// The same knob with its candidate index mapped by `f` (`None` drops it); knobs of the goal stay.
    pub fn map_candidate(self, f: impl Fn(usize) -> Option<usize>) -> Option<PlanKnob> {
        use PlanKnob::*;
        Some(match self {
            Candidate(i) => Candidate(f(i)?),
            PoolChip(i, j) => PoolChip(f(i)?, j),
            PoolCount(i, j) => PoolCount(f(i)?, j),
            Fabric(i) => Fabric(f(i)?),
            Nic(i) => Nic(f(i)?),
            Spares(i) => Spares(f(i)?),
            FailureMultiplier(i) => FailureMultiplier(f(i)?),
            CheckpointPolicy(i) => CheckpointPolicy(f(i)?),
            CheckpointInterval(i) => CheckpointInterval(f(i)?),
            CheckpointMinutes(i) => CheckpointMinutes(f(i)?),
            Pricing(i) => Pricing(f(i)?),
            CardUsd(i) => CardUsd(f(i)?),
            PinTp(i) => PinTp(f(i)?),
            PinPp(i) => PinPp(f(i)?),
            PinVpp(i) => PinVpp(f(i)?),
            PinMicroBatch(i) => PinMicroBatch(f(i)?),
            RentalUsd(i) => RentalUsd(f(i)?),
            Pue(i) => Pue(f(i)?),
            UsdPerKwh(i) => UsdPerKwh(f(i)?),
            Model | Tokens | SeqLen | BatchTokens | Deadline | Budget | Other => self,
        })
    }

    /// Label (and accessible name) and hint of a text knob. Candidate knobs are shown for the selected
    /// candidate only, so their labels need not name it.
    pub fn label(self) -> (String, &'static str) {
        use PlanKnob::*;
        let (l, h): (String, &str) = match self {
            Tokens => ("Training tokens".into(), "e.g. 4e12"),
            SeqLen => ("Sequence length".into(), "tokens"),
            BatchTokens => ("Batch tokens".into(), "tokens per step"),
            Deadline => ("Deadline days".into(), "none"),
            Budget => ("Budget M USD".into(), "none"),
            PoolCount(_, j) => (format!("Pool {} count", j + 1), "devices"),
            PoolChip(_, j) => (format!("Pool {} chip", j + 1), ""),
            Nic(_) => ("NIC Gbit/s per GPU".into(), "Gbit/s"),
            Spares(_) => ("Hot-spare nodes".into(), "auto (1%)"),
            FailureMultiplier(_) => ("Failure-rate multiplier".into(), "1 = profile"),
            CheckpointMinutes(_) => ("Interval (minutes, or steps)".into(), "min / steps"),
            CardUsd(_) => ("Card USD".into(), "catalog price"),
            PinTp(_) => ("Pin TP".into(), "auto, or 4, 8"),
            PinPp(_) => ("Pin PP".into(), "auto"),
            PinVpp(_) => ("Pin VPP".into(), "auto"),
            PinMicroBatch(_) => ("Pin micro-batch".into(), "auto"),
            RentalUsd(_) => ("USD per device-hour".into(), "USD"),
            Pue(_) => ("PUE".into(), ">= 1"),
            UsdPerKwh(_) => ("USD per kWh".into(), "USD"),
            Model => ("Model".into(), ""),
            Fabric(_) => ("Network fabric".into(), ""),
            CheckpointPolicy(_) => ("Checkpoint policy".into(), ""),
            CheckpointInterval(_) => ("Checkpoint interval".into(), ""),
            Pricing(_) => ("Pricing".into(), ""),
            Candidate(_) => ("Candidate".into(), ""),
            Other => (String::new(), ""),
        };
        (l, h)
    }
}

/// Names of the plan's text knobs for the command line (`--set c2.count=5120`): goal fields as they
/// are, candidate fields after `cN.` (N from 1), pool counts as `cN.count` (first pool) or
/// `cN.poolM.count`.
pub const PLAN_KNOB_NAMES: &[&str] = &[
    "tokens",
    "seq_len",
    "batch_tokens",
    "deadline",
    "budget",
    "cN.count",
    "cN.poolM.count",
    "cN.nic",
    "cN.spares",
    "cN.failure_multiplier",
    "cN.checkpoint_minutes",
    "cN.card_usd",
    "cN.rental_usd",
    "cN.pue",
    "cN.usd_per_kwh",
];

/// The plan text knob of a command-line name.
pub fn plan_knob_by_name(name: &str) -> Option<PlanKnob> {
    use PlanKnob::*;
    let n = name.trim().to_ascii_lowercase().replace('-', "_");
    match n.as_str() {
        "tokens" => return Some(Tokens),
        "seq_len" => return Some(SeqLen),
        "batch_tokens" => return Some(BatchTokens),
        "deadline" => return Some(Deadline),
        "budget" => return Some(Budget),
        _ => {}
    }
    let rest = n.strip_prefix('c')?;
    let (num, field) = rest.split_once('.')?;
    let i = num.parse::<usize>().ok()?.checked_sub(1)?;
    if let Some(pool) = field.strip_prefix("pool") {
        let (m, f) = pool.split_once('.')?;
        let j = m.parse::<usize>().ok()?.checked_sub(1)?;
        return (f == "count").then_some(PoolCount(i, j));
    }
    Some(match field {
        "count" => PoolCount(i, 0),
        "nic" => Nic(i),
        "spares" => Spares(i),
        "failure_multiplier" => FailureMultiplier(i),
        "checkpoint_minutes" => CheckpointMinutes(i),
        "card_usd" => CardUsd(i),
        "rental_usd" => RentalUsd(i),
        "pue" => Pue(i),
        "usd_per_kwh" => UsdPerKwh(i),
        _ => return None,
    })
}

/// `candidates[3].pools[1].count` → (3, `pools[1].count`).
fn split_index<'a>(field: &'a str, prefix: &str) -> Option<(usize, &'a str)> {
    let rest = field.strip_prefix(prefix)?.strip_prefix('[')?;
    let close = rest.find(']')?;
    let i = rest[..close].parse().ok()?;
    Some((i, rest[close + 1..].trim_start_matches('.')))
}

/// Which knob a plan error field belongs to.
pub fn plan_knob_of_field(field: &str) -> PlanKnob {
    use PlanKnob::*;
    match field {
        "goal.tokens" => return Tokens,
        "goal.seq_len" => return SeqLen,
        "goal.batch_tokens" => return BatchTokens,
        "goal.deadline_days" => return Deadline,
        "goal.budget_musd" => return Budget,
        f if f == "goal.model" || f.starts_with("goal.model.") || f.starts_with("model") => return Model,
        _ => {}
    }
    let Some((i, rest)) = split_index(field, "candidates") else { return Other };
    if let Some((j, pool_field)) = split_index(rest, "pools") {
        return match pool_field {
            "chip" => PoolChip(i, j),
            "count" | "gpus" | "gpus_per_node" => PoolCount(i, j),
            "network.fabric" => Fabric(i),
            "network.nic_gbit_per_s_per_gpu" => Nic(i),
            _ => Candidate(i),
        };
    }
    match rest {
        "run.recovery.hot_spare_nodes" => Spares(i),
        "run.failures.multiplier" => FailureMultiplier(i),
        "run.checkpoint.interval" => CheckpointInterval(i),
        f if f.starts_with("run.checkpoint") => CheckpointPolicy(i),
        "money.card_usd" => CardUsd(i),
        "parallelism.tp" => PinTp(i),
        "parallelism.pp" => PinPp(i),
        "parallelism.vpp" => PinVpp(i),
        "parallelism.micro_batch" => PinMicroBatch(i),
        "money.usd_per_device_hour" => RentalUsd(i),
        f if f.starts_with("money") => Pricing(i),
        "power.pue" => Pue(i),
        "power.usd_per_kwh" => UsdPerKwh(i),
        _ => Candidate(i),
    }
}

/// Where a plan error goes in the editor, and its text (without the file name).
pub fn place_plan_error(e: &WankaError) -> (PlanKnob, String) {
    match e {
        WankaError::Invalid { field, msg, .. } => (plan_knob_of_field(field), format!("field `{field}`: {msg}")),
        other => (PlanKnob::Other, other.to_string()),
    }
}

/// Purchase or rental.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PricingKind {
    Purchase,
    Rental,
}

impl PricingKind {
    fn of(m: &Money) -> PricingKind {
        match m {
            Money::Purchase { .. } => PricingKind::Purchase,
            Money::Rental { .. } => PricingKind::Rental,
        }
    }
}

/// The plan being edited: text of the numeric knobs plus everything else in `base`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanForm {
    /// Plan holding every non-text setting (chips, fabrics, policies, names, settings …).
    pub base: PlanFile,
    text: BTreeMap<PlanKnob, String>,
    /// Per candidate: checkpoint interval kind and pricing kind (their numbers are text).
    interval: Vec<IntervalKind>,
    pricing: Vec<PricingKind>,
    /// The plan's own model when it is not a preset, to switch back to.
    custom_model: Option<ModelRef>,
    /// The candidate shown in the editor (index into `base.candidates`).
    pub selected: usize,
}

/// Purchase terms for a candidate that was rented: the first purchasing candidate's, else the
/// bundled plan's defaults (costs_and_power.md §6: $5,000 per GPU host on 8-GPU nodes, RoCE $4,500 per
/// port, $1,000 of storage per device, 4 years).
fn purchase_template(plan: &PlanFile, devices: f64) -> Money {
    plan.candidates.iter().find_map(|c| matches!(c.money, Money::Purchase { .. }).then(|| c.money.clone())).unwrap_or(Money::Purchase {
        card_usd: None,
        node_overhead_usd: 40_000.0,
        network_usd_per_port: 4_500.0,
        storage_usd: 1_000.0 * devices,
        amortisation_years: 4.0,
    })
}

/// The text of candidate `c`'s numeric knobs, as candidate `i`.
fn candidate_texts(i: usize, c: &Candidate) -> Vec<(PlanKnob, String)> {
    use PlanKnob::*;
    let mut text: Vec<(PlanKnob, String)> = c.pools.iter().enumerate().map(|(j, pool)| (PoolCount(i, j), pool.count.to_string())).collect();
    text.push((Nic(i), num(c.network.nic_gbit_per_s_per_gpu)));
    text.push((Spares(i), c.run.recovery.hot_spare_nodes.map(|v| v.to_string()).unwrap_or_default()));
    text.push((FailureMultiplier(i), num(c.run.failures.multiplier)));
    text.push((CheckpointMinutes(i), IntervalKind::minutes_text(&c.run.checkpoint.interval)));
    match &c.money {
        Money::Purchase { card_usd, .. } => {
            text.push((CardUsd(i), card_usd.map(num).unwrap_or_default()));
            text.push((RentalUsd(i), "2".into()));
        }
        Money::Rental { usd_per_device_hour } => {
            text.push((RentalUsd(i), num(*usd_per_device_hour)));
            text.push((CardUsd(i), String::new()));
        }
    }
    let list = |v: &Option<Vec<u32>>| v.as_ref().map_or(String::new(), |v| v.iter().map(u32::to_string).collect::<Vec<_>>().join(", "));
    let sp = &c.parallelism;
    text.push((PinTp(i), list(&sp.tp)));
    text.push((PinPp(i), list(&sp.pp)));
    text.push((PinVpp(i), list(&sp.vpp)));
    text.push((PinMicroBatch(i), list(&sp.micro_batch)));
    text.push((Pue(i), num(c.power.pue)));
    text.push((UsdPerKwh(i), num(c.power.usd_per_kwh)));
    text
}

/// The plan `New plan` starts from: one candidate of 1,024 H800 on RoCE 400G, a 70B dense model on 1T
/// tokens, the bundled plan's purchase terms (`scenarios/default_plan.ron`).
pub const NEW_PLAN_RON: &str = r#"(
    name: "New plan",
    description: "",
    goal: (model: Preset("llama3-70b"), tokens: 1e12, seq_len: 8192, batch_tokens: 16e6, deadline_days: None, budget_musd: None),
    candidates: [
        (
            name: "1k H800 (RoCE 400G)",
            pools: [(chip: "h800-sxm", count: 1024, gpus_per_node: 8)],
            network: (fabric: "roce-400g", nic_gbit_per_s_per_gpu: 400.0, topology: "generic-fat-tree"),
            money: Purchase(card_usd: None, node_overhead_usd: 40000.0, network_usd_per_port: 4500.0, storage_usd: 1024000.0, amortisation_years: 4.0),
            power: (pue: 1.25, usd_per_kwh: 0.09, facility_cap_mw: None),
        ),
    ],
    settings: (top_k: 5, seeds: 100, seed: 1),
)"#;

/// The plan `New plan` starts from ([`NEW_PLAN_RON`]).
pub fn new_plan() -> PlanFile {
    PlanFile::parse(NEW_PLAN_RON, "<new plan>").expect("the built-in new plan is valid")
}

impl PlanForm {
    /// A name not used by any candidate: `base`, else `base 2`, `base 3` …
    fn unique_name(&self, base: &str) -> String {
        let taken = |n: &str| self.base.candidates.iter().any(|c| c.name == n);
        if !taken(base) {
            return base.to_string();
        }
        (2..).map(|k| format!("{base} {k}")).find(|n| !taken(n)).unwrap_or_default()
    }

    /// Rebuild the text map with every knob mapped by `f` (`None` drops it).
    fn remap(&mut self, f: impl Fn(PlanKnob) -> Option<PlanKnob>) {
        let old = std::mem::take(&mut self.text);
        self.text = old.into_iter().filter_map(|(k, v)| f(k).map(|k| (k, v))).collect();
    }

    /// Insert candidate `c` at `at` with the text of its knobs (`texts` from `candidate_texts(at, …)`,
    /// or a copy of another candidate's) and select it.
    fn insert_candidate(&mut self, at: usize, c: Candidate, texts: Vec<(PlanKnob, String)>, interval: IntervalKind, pricing: PricingKind) {
        self.remap(|k| k.map_candidate(|i| Some(if i >= at { i + 1 } else { i })));
        self.base.candidates.insert(at, c);
        self.interval.insert(at.min(self.interval.len()), interval);
        self.pricing.insert(at.min(self.pricing.len()), pricing);
        self.text.extend(texts);
        self.selected = at;
    }

    /// Add a candidate at the end (the new plan's one cluster, under a name not taken) and select it.
    pub fn add_candidate(&mut self) -> usize {
        let mut c = new_plan().candidates.remove(0);
        c.name = self.unique_name("New candidate");
        let at = self.base.candidates.len();
        let texts = candidate_texts(at, &c);
        let (interval, pricing) = (IntervalKind::of(&c.run.checkpoint.interval), PricingKind::of(&c.money));
        self.insert_candidate(at, c, texts, interval, pricing);
        at
    }

    /// Copy candidate `i`, as edited (its text too, numbers or not), right after it, and select the copy.
    pub fn duplicate_candidate(&mut self, i: usize) -> Option<usize> {
        let mut c = self.base.candidates.get(i)?.clone();
        c.name = self.unique_name(&format!("{} (copy)", c.name));
        let texts: Vec<(PlanKnob, String)> = self
            .text
            .iter()
            .filter(|(k, _)| k.candidate() == Some(i))
            .filter_map(|(k, v)| k.map_candidate(|_| Some(i + 1)).map(|k| (k, v.clone())))
            .collect();
        let interval = self.interval.get(i).copied().unwrap_or(IntervalKind::Daly);
        let pricing = self.pricing.get(i).copied().unwrap_or(PricingKind::of(&c.money));
        self.insert_candidate(i + 1, c, texts, interval, pricing);
        Some(i + 1)
    }

    /// Remove candidate `i` (a plan keeps at least one). Returns whether it was removed.
    pub fn remove_candidate(&mut self, i: usize) -> bool {
        let n = self.base.candidates.len();
        if n <= 1 || i >= n {
            return false;
        }
        self.base.candidates.remove(i);
        if i < self.interval.len() {
            self.interval.remove(i);
        }
        if i < self.pricing.len() {
            self.pricing.remove(i);
        }
        self.remap(|k| {
            k.map_candidate(|c| match c.cmp(&i) {
                std::cmp::Ordering::Less => Some(c),
                std::cmp::Ordering::Equal => None,
                std::cmp::Ordering::Greater => Some(c - 1),
            })
        });
        if self.selected > i || self.selected >= n - 1 {
            self.selected = self.selected.saturating_sub(1);
        }
        true
    }

    /// Add a pool to candidate `i`: a copy of its last pool (chip, node size and count text).
    pub fn add_pool(&mut self, i: usize) -> Option<usize> {
        let c = self.base.candidates.get_mut(i)?;
        let last = c.pools.last()?.clone();
        let j = c.pools.len();
        let count = self.text.get(&PlanKnob::PoolCount(i, j - 1)).cloned().unwrap_or_else(|| last.count.to_string());
        c.pools.push(last);
        self.text.insert(PlanKnob::PoolCount(i, j), count);
        Some(j)
    }

    /// Remove pool `j` of candidate `i` (a candidate keeps at least one). Returns whether it was removed.
    pub fn remove_pool(&mut self, i: usize, j: usize) -> bool {
        let Some(c) = self.base.candidates.get_mut(i) else { return false };
        if c.pools.len() <= 1 || j >= c.pools.len() {
            return false;
        }
        c.pools.remove(j);
        self.remap(|k| match k {
            PlanKnob::PoolCount(a, b) | PlanKnob::PoolChip(a, b) if a == i && b == j => None,
            PlanKnob::PoolCount(a, b) if a == i && b > j => Some(PlanKnob::PoolCount(a, b - 1)),
            PlanKnob::PoolChip(a, b) if a == i && b > j => Some(PlanKnob::PoolChip(a, b - 1)),
            other => Some(other),
        });
        true
    }

    pub fn new(p: &PlanFile) -> PlanForm {
        use PlanKnob::*;
        let mut text = BTreeMap::new();
        let g = &p.goal;
        text.insert(Tokens, num(g.tokens));
        text.insert(SeqLen, g.seq_len.to_string());
        text.insert(BatchTokens, num(g.batch_tokens));
        text.insert(Deadline, g.deadline_days.map(num).unwrap_or_default());
        text.insert(Budget, g.budget_musd.map(num).unwrap_or_default());
        for (i, c) in p.candidates.iter().enumerate() {
            text.extend(candidate_texts(i, c));
        }
        let custom_model = match &g.model {
            ModelRef::Custom(_) => Some(g.model.clone()),
            ModelRef::Preset(id) if !PRESET_IDS.contains(&id.as_str()) => Some(g.model.clone()),
            ModelRef::Preset(_) => None,
        };
        PlanForm {
            interval: p.candidates.iter().map(|c| IntervalKind::of(&c.run.checkpoint.interval)).collect(),
            pricing: p.candidates.iter().map(|c| PricingKind::of(&c.money)).collect(),
            base: p.clone(),
            text,
            custom_model,
            selected: 0,
        }
    }

    /// Current text of a numeric knob.
    pub fn text(&self, knob: PlanKnob) -> &str {
        self.text.get(&knob).map_or("", String::as_str)
    }

    /// Replace the text of a numeric knob (as typing would).
    pub fn set_text(&mut self, knob: PlanKnob, value: &str) {
        self.text.insert(knob, value.to_string());
    }

    /// Show candidate `i` in the editor (ignored when out of range).
    pub fn select(&mut self, i: usize) {
        if i < self.base.candidates.len() {
            self.selected = i;
        }
    }

    /// The plan the fields describe, or the fields whose text is not a number.
    pub fn build(&self) -> Result<PlanFile, FieldErrors<PlanKnob>> {
        use PlanKnob::*;
        let mut p = self.base.clone();
        let mut errors = FieldErrors::default();
        let t = |k: PlanKnob| self.text(k);
        macro_rules! set {
            ($knob:expr, $parse:expr, $target:expr) => {
                match $parse(t($knob)) {
                    Ok(v) => $target = v,
                    Err(msg) => errors.push($knob, msg),
                }
            };
        }
        set!(Tokens, parse_f64, p.goal.tokens);
        set!(SeqLen, parse_u32, p.goal.seq_len);
        set!(BatchTokens, parse_f64, p.goal.batch_tokens);
        set!(Deadline, parse_opt_f64, p.goal.deadline_days);
        set!(Budget, parse_opt_f64, p.goal.budget_musd);
        for (i, c) in p.candidates.iter_mut().enumerate() {
            for (j, pool) in c.pools.iter_mut().enumerate() {
                set!(PoolCount(i, j), parse_u32, pool.count);
            }
            set!(Nic(i), parse_in(limits::NIC_GBIT.0, limits::NIC_GBIT.1), c.network.nic_gbit_per_s_per_gpu);
            set!(Spares(i), parse_opt_u32, c.run.recovery.hot_spare_nodes);
            set!(FailureMultiplier(i), parse_in(0.0, limits::MAX_FAILURE_MULTIPLIER), c.run.failures.multiplier);
            match self.interval.get(i).copied().unwrap_or(IntervalKind::Daly).build(t(CheckpointMinutes(i))) {
                Ok(v) => c.run.checkpoint.interval = v,
                Err(msg) => errors.push(CheckpointMinutes(i), msg),
            }
            match self.pricing.get(i).copied().unwrap_or(PricingKind::of(&c.money)) {
                PricingKind::Purchase => {
                    if !matches!(c.money, Money::Purchase { .. }) {
                        let devices: u32 = c.pools.iter().map(|p| p.count).sum();
                        c.money = purchase_template(&self.base, f64::from(devices));
                    }
                    if let Money::Purchase { card_usd, .. } = &mut c.money {
                        set!(CardUsd(i), parse_opt_f64, *card_usd);
                    }
                }
                PricingKind::Rental => {
                    match parse_in(limits::RENTAL_USD_PER_DEVICE_HOUR.0, limits::RENTAL_USD_PER_DEVICE_HOUR.1)(t(RentalUsd(i))) {
                        Ok(v) => c.money = Money::Rental { usd_per_device_hour: v },
                        Err(msg) => errors.push(RentalUsd(i), msg),
                    }
                }
            }
            set!(PinTp(i), parse_pins, c.parallelism.tp);
            set!(PinPp(i), parse_pins, c.parallelism.pp);
            set!(PinVpp(i), parse_pins, c.parallelism.vpp);
            set!(PinMicroBatch(i), parse_pins, c.parallelism.micro_batch);
            set!(Pue(i), parse_in(limits::PUE.0, limits::PUE.1), c.power.pue);
            set!(UsdPerKwh(i), parse_in(limits::USD_PER_KWH.0, limits::USD_PER_KWH.1), c.power.usd_per_kwh);
        }
        if errors.is_empty() { Ok(p) } else { Err(errors) }
    }
}

fn text_row(ui: &mut Ui, form: &mut PlanForm, errors: &FieldErrors<PlanKnob>, knob: PlanKnob) -> bool {
    let (label, hint) = knob.label();
    let bad = !errors.get(knob).is_empty();
    let changed = text_field(ui, &label, hint, form.text.entry(knob).or_default(), bad);
    error_lines(ui, errors.get(knob));
    changed
}

/// Pins of the parallelism search as typed: empty = searched ("auto"), else whole numbers from 1
/// separated by commas or spaces (`8` pins TP to 8, `4, 8` lets the search choose between them).
pub fn parse_pins(s: &str) -> Result<Option<Vec<u32>>, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    let v: Result<Vec<u32>, String> = t
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(|w| match w.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("`{t}`: pins are whole numbers from 1, separated by commas (empty = searched)")),
        })
        .collect();
    v.map(Some)
}

/// A warning when a candidate's name counts devices ("10k H800", "4k H100 + 6k A800") that its pools
/// no longer have (more than 15% off), so that an edited candidate gets renamed.
pub fn stale_name_note(name: &str, devices: u64) -> Option<String> {
    let said: f64 = name
        .split(|c: char| c.is_whitespace() || c == '+' || c == '(' || c == ',')
        .filter_map(|w| w.strip_suffix('k').or_else(|| w.strip_suffix('K')))
        .filter_map(|n| n.parse::<f64>().ok())
        .sum::<f64>()
        * 1000.0;
    let d = devices as f64;
    (said > 0.0 && d > 0.0 && (said - d).abs() > 0.15 * d).then(|| {
        format!("the name says about {said:.0} devices, the pools have {devices}: rename the candidate so the tables say what it is")
    })
}

/// Short text of a candidate for the picker.
fn candidate_title(i: usize, name: &str) -> String {
    format!("{}. {name}", i + 1)
}

/// The plan editor. Returns `true` when any setting changed (`selected` changes are not edits).
pub fn plan_editor_ui(ui: &mut Ui, form: &mut PlanForm, errors: &FieldErrors<PlanKnob>, catalog: &Catalog) -> bool {
    if !errors.get(PlanKnob::Other).is_empty() {
        error_lines(ui, errors.get(PlanKnob::Other));
    }
    let mut changed = section(ui, "Goal", |ui| goal_section(ui, form, errors));
    let n = form.base.candidates.len();
    if n == 0 {
        ui.label("This plan has no candidates.");
        return changed;
    }
    form.selected = form.selected.min(n - 1);
    changed |= section(ui, "Candidate", |ui| candidate_section(ui, form, errors, catalog));
    changed |= section(ui, "Failures and checkpoints", |ui| failures_section(ui, form, errors));
    changed |= section(ui, "Money and power", |ui| money_section(ui, form, errors));
    changed
}

/// The goal: model, tokens, batch, deadline and budget.
fn goal_section(ui: &mut Ui, form: &mut PlanForm, errors: &FieldErrors<PlanKnob>) -> bool {
    use PlanKnob::*;
    let mut c = false;
    c |= text_field(ui, "Plan name", "name", &mut form.base.name, false);
    let options = model_options(form.custom_model.as_ref());
    c |= combo_row(ui, "Model", &mut form.base.goal.model, &options, !errors.get(Model).is_empty());
    error_lines(ui, errors.get(Model));
    for k in [Tokens, SeqLen, BatchTokens, Deadline, Budget] {
        c |= text_row(ui, form, errors, k);
    }
    c
}

/// The candidate picker, with the messages about the other candidates, and the selected candidate's pools and network.
fn candidate_section(ui: &mut Ui, form: &mut PlanForm, errors: &FieldErrors<PlanKnob>, catalog: &Catalog) -> bool {
    use PlanKnob::*;
    let mut c = false;
    // Messages about candidates not shown right now go under the picker.
    let elsewhere: Vec<String> = errors
        .0
        .iter()
        .filter(|(k, _)| k.candidate().is_some_and(|i| i != form.selected))
        .flat_map(|(k, msgs)| {
            let name = k.candidate().and_then(|i| form.base.candidates.get(i)).map_or("?", |c| c.name.as_str()).to_string();
            msgs.iter().map(move |m| format!("candidate `{name}`: {m}"))
        })
        .collect();
    let options: Vec<(usize, String)> = form.base.candidates.iter().enumerate().map(|(i, c)| (i, candidate_title(i, &c.name))).collect();
    combo_row(ui, "Candidate", &mut form.selected, &options, !elsewhere.is_empty());
    error_lines(ui, &elsewhere);
    ui.horizontal(|ui| {
        if ui.button("Add candidate").on_hover_text("add a cluster to compare (1,024 H800 to start from)").clicked() {
            form.add_candidate();
            c = true;
        }
        if ui.button("Duplicate candidate").on_hover_text("copy the selected candidate, as edited, to vary it").clicked() {
            form.duplicate_candidate(form.selected);
            c = true;
        }
        let can_remove = form.base.candidates.len() > 1;
        if ui.add_enabled(can_remove, egui::Button::new("Remove candidate")).on_hover_text("remove the selected candidate").clicked()
            && form.remove_candidate(form.selected)
        {
            c = true;
        }
    });
    let i = form.selected;
    c |= text_field(ui, "Candidate name", "unique name", &mut form.base.candidates[i].name, !errors.get(Candidate(i)).is_empty());
    error_lines(ui, errors.get(Candidate(i)));

    let mut chips: Vec<(String, String)> = catalog.chips.keys().map(|id| (id.clone(), id.clone())).collect();
    let pools = form.base.candidates[i].pools.len();
    for j in 0..pools {
        let cur = form.base.candidates[i].pools[j].chip.clone();
        let mut options = chips.clone();
        if !catalog.chips.contains_key(&cur) {
            options.push((cur.clone(), format!("{cur} (unknown)")));
        }
        let (label, _) = PoolChip(i, j).label();
        c |= combo_row(ui, &label, &mut form.base.candidates[i].pools[j].chip, &options, !errors.get(PoolChip(i, j)).is_empty());
        error_lines(ui, errors.get(PoolChip(i, j)));
        c |= text_row(ui, form, errors, PoolCount(i, j));
        let pool = &form.base.candidates[i].pools[j];
        if let Ok(chip) = catalog.chip(&pool.chip) {
            ui.label(
                RichText::new(format!(
                    "{}: {:.0} TFLOP/s BF16, {:.0} GB; {} per node",
                    chip.name, chip.bf16_dense_tflops, chip.hbm_gb, pool.gpus_per_node
                ))
                .small()
                .weak(),
            );
        }
        if pools > 1 && ui.button(format!("Remove pool {}", j + 1)).on_hover_text("remove this chip pool from the candidate").clicked() {
            form.remove_pool(i, j);
            return true;
        }
    }
    if ui.button("Add pool").on_hover_text("add a chip pool (mixed hardware pairs at most two chip types)").clicked() {
        form.add_pool(i);
        c = true;
    }
    let devices: u64 =
        (0..form.base.candidates[i].pools.len()).filter_map(|j| parse_u32(form.text(PoolCount(i, j))).ok()).map(u64::from).sum();
    if let Some(note) = stale_name_note(&form.base.candidates[i].name, devices) {
        ui.add(egui::Label::new(RichText::new(note).small().color(ui.visuals().warn_fg_color)).wrap());
    }

    chips.clear();
    let cand = &mut form.base.candidates[i];
    let mut fabrics: Vec<(String, String)> =
        catalog.fabrics.values().filter(|f| f.kind != FabricKind::ScaleUp).map(|f| (f.id.clone(), f.id.clone())).collect();
    if !fabrics.iter().any(|(id, _)| *id == cand.network.fabric) {
        fabrics.push((cand.network.fabric.clone(), cand.network.fabric.clone()));
    }
    c |= combo_row(ui, "Network fabric", &mut cand.network.fabric, &fabrics, !errors.get(Fabric(i)).is_empty());
    error_lines(ui, errors.get(Fabric(i)));
    c |= text_row(ui, form, errors, Nic(i));
    let pinned = (0..4).any(|k| !form.text([PinTp(i), PinPp(i), PinVpp(i), PinMicroBatch(i)][k]).trim().is_empty())
        || form.base.candidates[i].parallelism.cp.is_some()
        || form.base.candidates[i].parallelism.ep.is_some();
    ui.label(
        RichText::new(if pinned { "Parallelism: searched within the pins" } else { "Parallelism: auto (searched); pin any of these" })
            .small()
            .weak(),
    );
    for k in [PinTp(i), PinPp(i), PinVpp(i), PinMicroBatch(i)] {
        c |= text_row(ui, form, errors, k);
    }
    c
}

/// The selected candidate's hot spares, failure rate and checkpointing.
fn failures_section(ui: &mut Ui, form: &mut PlanForm, errors: &FieldErrors<PlanKnob>) -> bool {
    use PlanKnob::*;
    let i = form.selected;
    let mut c = false;
    c |= text_row(ui, form, errors, Spares(i));
    c |= text_row(ui, form, errors, FailureMultiplier(i));
    ui.label(RichText::new(format!("failure profile: {}", form.base.candidates[i].run.failures.profile)).small().weak());
    let bad = !errors.get(CheckpointPolicy(i)).is_empty();
    c |= combo_row(ui, "Checkpoint policy", &mut form.base.candidates[i].run.checkpoint.policy, &policy_options(), bad);
    error_lines(ui, errors.get(CheckpointPolicy(i)));
    let bad = !errors.get(CheckpointInterval(i)).is_empty();
    if let Some(kind) = form.interval.get_mut(i) {
        c |= combo_row(ui, "Checkpoint interval", kind, &interval_options(), bad);
    }
    error_lines(ui, errors.get(CheckpointInterval(i)));
    if form.interval.get(i).is_some_and(|k| k.has_number()) {
        c |= text_row(ui, form, errors, CheckpointMinutes(i));
    }
    c
}

/// The selected candidate's pricing, PUE and electricity price.
fn money_section(ui: &mut Ui, form: &mut PlanForm, errors: &FieldErrors<PlanKnob>) -> bool {
    use PlanKnob::*;
    let i = form.selected;
    let mut c = false;
    let bad = !errors.get(Pricing(i)).is_empty();
    if let Some(kind) = form.pricing.get_mut(i) {
        c |= combo_row(
            ui,
            "Pricing",
            kind,
            &[(PricingKind::Purchase, "purchase (amortised)".to_string()), (PricingKind::Rental, "rental".to_string())],
            bad,
        );
    }
    error_lines(ui, errors.get(Pricing(i)));
    match form.pricing.get(i) {
        Some(PricingKind::Rental) => c |= text_row(ui, form, errors, RentalUsd(i)),
        _ => c |= text_row(ui, form, errors, CardUsd(i)),
    }
    c |= text_row(ui, form, errors, Pue(i));
    c |= text_row(ui, form, errors, UsdPerKwh(i));
    c
}

#[cfg(test)]
mod tests;
