//! Failure profiles: per-component interruption processes of a cluster.
//!
//! Each component (GPU, HBM, NIC, switch/cable, host, software, silent data corruption …) fails per
//! device-hour or per node-hour, exponentially or with a Weibull hazard (shape < 1: infant mortality,
//! > 1: wear-out). In synchronous training every component failure on any of the job's devices
//! > interrupts the whole job. Profiles live in `scenarios/catalog/failures.ron`, one per hardware class
//! > and operator, derived from published fleet data (Llama 3 Table 5 counts; Meta RSC rates; Azure's
//! > SuperBench node MTBI), with a low/high band; a profile without fleet data is an `estimate`.
//!
//! The superposition of many units is sampled directly: an exponential component over `n` units is a
//! Poisson process of rate `n·λ`; a Weibull component is a non-homogeneous Poisson process with the
//! unit hazard at cluster age `t` (all units the same age, repairs do not reset it), sampled by
//! inverting the cumulative hazard `n·(t/η)^k`. Valid while failures are a small fraction of units.
//! Correlated failures: a `Domain` unit (a leaf switch, a rack, a power domain of `nodes` nodes) fails
//! as one event that interrupts the job once and takes all its nodes out at once (each needing a spare
//! or a repair). Lemon nodes: a `Lemon` law — a share of the nodes fails at its own, higher rate again
//! and again until, after `retire_after` failures, a lemon is identified and replaced by a healthy node.
//! Entries marked `optional` are left out unless a scenario names them (`run.failures.include`).
//! Not modelled: temperature and diurnal effects.

use rand_distr::{Distribution, Exp1};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{WankaError, closest_ids};
use crate::ron_util::parse_ron;

/// What a component's rate is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    Device,
    Node,
    /// A failure domain of `nodes` nodes (switch, rack, power): one event takes all of them.
    Domain {
        nodes: u32,
    },
}

/// Time-to-failure law of one unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum FailureLaw {
    /// Constant hazard `rate_per_unit_hour`.
    Exponential,
    /// Hazard `(k/η)(t/η)^(k−1)` at cluster age `t` hours; `rate_per_unit_hour` is ignored.
    Weibull { shape: f64, scale_hours: f64 },
    /// Lemon nodes (unit `Node`): `share_of_nodes` of the job's nodes (rounded up) fail at
    /// `rate_per_unit_hour` each, until a lemon's `retire_after`-th failure gets it replaced.
    Lemon { share_of_nodes: f64, retire_after: u32 },
}

/// One failing component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub name: String,
    pub unit: Unit,
    /// Failures per unit-hour (exponential components).
    pub rate_per_unit_hour: f64,
    pub distribution: FailureLaw,
    /// The failure takes a node out of service: a hot spare or a repair is needed before restart.
    pub needs_repair: bool,
    /// Left out unless a scenario names it in `run.failures.include` (correlated and lemon what-ifs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// A named set of components with its published spread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureProfile {
    pub id: String,
    pub name: String,
    pub basis: String,
    /// No published fleet data behind the rates: every report that uses the profile says so.
    #[serde(default)]
    pub estimate: bool,
    pub low_multiplier: f64,
    pub high_multiplier: f64,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    profiles: Vec<FailureProfile>,
}

const FAILURES_RON: &str = include_str!("../../../scenarios/catalog/failures.ron");

/// Profiles installed for this process by [`install_profiles`] (the binary's `--catalog-dir`).
static INSTALLED: std::sync::OnceLock<BTreeMap<String, FailureProfile>> = std::sync::OnceLock::new();

/// Use these profiles instead of the built-in ones for the rest of the process (`wanka --catalog-dir`
/// with a `failures.ron`). Call before anything reads a profile; a second call is refused.
pub fn install_profiles(profiles: BTreeMap<String, FailureProfile>) -> Result<(), WankaError> {
    INSTALLED.set(profiles).map_err(|_| WankaError::Invalid {
        file: "failures.ron".into(),
        field: "profiles".into(),
        msg: "failure profiles are already installed for this process".into(),
    })
}

/// The profiles in use: the installed ones, else the built-in ones.
pub fn profiles() -> &'static BTreeMap<String, FailureProfile> {
    INSTALLED.get().unwrap_or_else(|| builtin_profiles())
}

/// The failure profiles compiled into the binary.
pub fn builtin_profiles() -> &'static BTreeMap<String, FailureProfile> {
    static P: std::sync::OnceLock<BTreeMap<String, FailureProfile>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        parse_profiles(FAILURES_RON, "scenarios/catalog/failures.ron").expect("built-in failure profiles are validated by tests")
    })
}

/// Parse and check a failure-profile file.
pub fn parse_profiles(src: &str, file: &str) -> Result<BTreeMap<String, FailureProfile>, WankaError> {
    let f: ProfileFile = parse_ron(src, file)?;
    let mut out = BTreeMap::new();
    for p in f.profiles {
        p.check(file, &format!("profiles[{}]", p.id))?;
        if out.insert(p.id.clone(), p.clone()).is_some() {
            return Err(WankaError::Invalid { file: file.into(), field: format!("profiles[{}]", p.id), msg: "duplicate id".into() });
        }
    }
    Ok(out)
}

/// Look up a profile in use ([`profiles`]) by id.
pub fn profile(id: &str) -> Result<&'static FailureProfile, WankaError> {
    let all = profiles();
    all.get(id).ok_or_else(|| WankaError::Unknown { kind: "failure profile", id: id.into(), closest: closest_ids(id, all.keys()) })
}

impl Component {
    pub fn check(&self, file: &str, field: &str) -> Result<(), WankaError> {
        let bad = |msg: String| Err(WankaError::Invalid { file: file.into(), field: field.into(), msg });
        if !(self.rate_per_unit_hour >= 0.0 && self.rate_per_unit_hour.is_finite()) {
            return bad(format!("rate_per_unit_hour must be a non-negative number, got {}", self.rate_per_unit_hour));
        }
        if self.rate_per_unit_hour > crate::limits::MAX_RATE_PER_UNIT_HOUR {
            let max = crate::limits::MAX_RATE_PER_UNIT_HOUR;
            let got = crate::limits::num(self.rate_per_unit_hour);
            return bad(format!("rate_per_unit_hour must be in [0, {max}] (one failure a day per unit), got {got}"));
        }
        if let FailureLaw::Weibull { shape, scale_hours } = self.distribution
            && !(shape > 0.0 && shape.is_finite() && scale_hours > 0.0 && scale_hours.is_finite())
        {
            return bad(format!("Weibull needs shape > 0 and scale_hours > 0, got shape {shape}, scale {scale_hours}"));
        }
        if let Unit::Domain { nodes } = self.unit
            && !(2..=crate::limits::MAX_DOMAIN_NODES).contains(&nodes)
        {
            return bad(format!("a Domain needs 2 to {} nodes, got {nodes}", crate::limits::MAX_DOMAIN_NODES));
        }
        if let FailureLaw::Lemon { share_of_nodes, retire_after } = self.distribution {
            if self.unit != Unit::Node {
                return bad("a Lemon law counts nodes: it needs unit Node".into());
            }
            if !(share_of_nodes > 0.0 && share_of_nodes <= 1.0) || !(1..=crate::limits::MAX_LEMON_FAILURES).contains(&retire_after) {
                return bad(format!(
                    "Lemon needs share_of_nodes in (0, 1] and retire_after in [1, {}], got {} and {retire_after}",
                    crate::limits::MAX_LEMON_FAILURES,
                    crate::limits::num(share_of_nodes)
                ));
            }
        }
        if let FailureLaw::Weibull { shape, scale_hours } = self.distribution {
            let ((k0, k1), (s0, s1)) = (crate::limits::WEIBULL_SHAPE, crate::limits::WEIBULL_SCALE_H);
            if !(k0..=k1).contains(&shape) || !(s0..=s1).contains(&scale_hours) {
                return bad(format!(
                    "Weibull needs shape in [{k0}, {k1}] and scale_hours in [{s0}, {s1}], got shape {}, scale {}",
                    crate::limits::num(shape),
                    crate::limits::num(scale_hours)
                ));
            }
        }
        Ok(())
    }
}

impl FailureProfile {
    pub fn check(&self, file: &str, field: &str) -> Result<(), WankaError> {
        let max = crate::limits::MAX_FAILURE_MULTIPLIER;
        if !(self.low_multiplier > 0.0 && self.low_multiplier <= 1.0 && self.high_multiplier >= 1.0 && self.high_multiplier <= max) {
            return Err(WankaError::Invalid {
                file: file.into(),
                field: field.into(),
                msg: format!(
                    "need 0 < low_multiplier <= 1 <= high_multiplier <= {max}, got {} and {}",
                    crate::limits::num(self.low_multiplier),
                    crate::limits::num(self.high_multiplier)
                ),
            });
        }
        for (i, c) in self.components.iter().enumerate() {
            c.check(file, &format!("{field}.components[{i}]"))?;
        }
        Ok(())
    }

    /// Job-interrupting failures per hour for a job of `devices` in nodes of `per_node`, at multiplier 1
    /// (Weibull components contribute their mean rate over the first `horizon_h` hours).
    /// Optional entries (correlated domains, lemons) are not part of it.
    pub fn rate_per_hour(&self, devices: u64, per_node: u32, horizon_h: f64) -> f64 {
        self.base().map(|c| c.mean_rate_per_hour(devices, per_node, horizon_h)).sum()
    }

    /// The components that are always on (not `optional`).
    pub fn base(&self) -> impl Iterator<Item = &Component> {
        self.components.iter().filter(|c| !c.optional)
    }

    /// The same rate per 1,000 node-days, the unit fleet studies publish.
    pub fn per_1000_node_days(&self, devices: u64, per_node: u32, horizon_h: f64) -> f64 {
        let nodes = devices.div_ceil(u64::from(per_node.max(1))).max(1) as f64;
        self.rate_per_hour(devices, per_node, horizon_h) * 24.0 / nodes * 1000.0
    }

    /// The profile's processes for a job (optional entries left out), every rate scaled by `multiplier`.
    pub fn processes(&self, devices: u64, per_node: u32, multiplier: f64) -> Vec<Process> {
        self.base().map(|c| Process::new(c, devices, per_node, multiplier)).collect()
    }
}

impl Component {
    fn units(&self, devices: u64, per_node: u32) -> f64 {
        let nodes = (devices as f64 / f64::from(per_node.max(1))).ceil();
        match (self.unit, self.distribution) {
            (Unit::Node, FailureLaw::Lemon { share_of_nodes, .. }) => (share_of_nodes * nodes).ceil(),
            (Unit::Device, _) => devices as f64,
            (Unit::Node, _) => nodes,
            (Unit::Domain { nodes: d }, _) => (nodes / f64::from(d.max(1))).ceil(),
        }
    }
    /// Nodes one event takes out of a job of `devices`.
    fn nodes_per_event(&self, devices: u64, per_node: u32) -> u32 {
        match self.unit {
            Unit::Domain { nodes } => (u64::from(nodes)).min(devices.div_ceil(u64::from(per_node.max(1))).max(1)) as u32,
            _ => 1,
        }
    }
    /// Mean failures per hour over `[0, horizon_h]` for the job.
    pub fn mean_rate_per_hour(&self, devices: u64, per_node: u32, horizon_h: f64) -> f64 {
        let n = self.units(devices, per_node);
        match self.distribution {
            // Lemons: the rate before any is retired (an upper bound of the mean).
            FailureLaw::Exponential | FailureLaw::Lemon { .. } => n * self.rate_per_unit_hour,
            FailureLaw::Weibull { shape, scale_hours } => n * (horizon_h / scale_hours).powf(shape) / horizon_h.max(1e-9),
        }
    }
}

/// A component's failure process for one job, ready to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub name: String,
    pub needs_repair: bool,
    /// Nodes one event takes out (a failure domain's size; 1 otherwise).
    pub nodes_per_event: u32,
    /// Units (devices, nodes, domains or lemon nodes) in the job.
    units: f64,
    law: FailureLaw,
    /// Exponential: job rate per hour (multiplier included).
    rate_per_hour: f64,
    multiplier: f64,
}

impl Process {
    pub fn new(c: &Component, devices: u64, per_node: u32, multiplier: f64) -> Process {
        let units = c.units(devices, per_node);
        Process {
            name: c.name.clone(),
            needs_repair: c.needs_repair,
            nodes_per_event: c.nodes_per_event(devices, per_node),
            units,
            law: c.distribution,
            rate_per_hour: units * c.rate_per_unit_hour * multiplier,
            multiplier,
        }
    }

    /// Mean failures per hour of this process over `[0, horizon_h]`.
    pub fn mean_rate_per_hour(&self, horizon_h: f64) -> f64 {
        match self.law {
            FailureLaw::Exponential | FailureLaw::Lemon { .. } => self.rate_per_hour,
            FailureLaw::Weibull { shape, scale_hours } => {
                self.multiplier * self.units * (horizon_h / scale_hours).powf(shape) / horizon_h.max(1e-9)
            }
        }
    }

    /// Mean nodes taken out per hour (events × nodes per event, those needing a repair or not).
    pub fn node_loss_rate_per_hour(&self, horizon_h: f64) -> f64 {
        self.mean_rate_per_hour(horizon_h) * f64::from(self.nodes_per_event)
    }

    /// Lemon nodes in the job and the failures after which one is replaced, for `Lemon` processes.
    pub fn lemons(&self) -> Option<(u32, u32)> {
        match self.law {
            FailureLaw::Lemon { retire_after, .. } => Some((self.units as u32, retire_after)),
            _ => None,
        }
    }

    /// Time (hours) of the next failure after cluster age `age_h`, or `None` if it never fails.
    pub fn next_after<R: rand::Rng>(&self, age_h: f64, rng: &mut R) -> Option<f64> {
        self.next_after_active(age_h, self.units, rng)
    }

    /// [`Process::next_after`] with only `active` of the units still failing (lemons not yet replaced).
    pub fn next_after_active<R: rand::Rng>(&self, age_h: f64, active: f64, rng: &mut R) -> Option<f64> {
        let e: f64 = Exp1.sample(rng);
        match self.law {
            FailureLaw::Exponential => (self.rate_per_hour > 0.0).then(|| age_h + e / self.rate_per_hour),
            FailureLaw::Lemon { .. } => {
                let rate = if self.units > 0.0 { self.rate_per_hour * active / self.units } else { 0.0 };
                (rate > 0.0).then(|| age_h + e / rate)
            }
            FailureLaw::Weibull { shape, scale_hours } => {
                // Cumulative hazard H(t) = m·n·(t/η)^k; solve H(t') − H(t) = e.
                let scale = self.multiplier * self.units;
                if scale <= 0.0 {
                    return None;
                }
                let h_now = (age_h / scale_hours).powf(shape);
                Some(scale_hours * (h_now + e / scale).powf(1.0 / shape))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng_stream;

    #[test]
    fn llama3_profile_reproduces_the_published_rate() {
        let p = profile("h100-llama3").unwrap();
        // 419 unexpected interruptions in 54 days on 16,384 GPUs (2,048 nodes).
        let per_hour = p.rate_per_hour(16384, 8, 54.0 * 24.0);
        let expected = per_hour * 54.0 * 24.0;
        assert!((expected - 419.0).abs() < 1.0, "{expected}");
        // 3.79 per 1,000 node-days.
        let per_1000_node_days = per_hour * 24.0 / 2048.0 * 1000.0;
        assert!((per_1000_node_days - 3.79).abs() < 0.01, "{per_1000_node_days}");
    }

    #[test]
    fn infant_profile_matches_mean_over_54_days() {
        let base = profile("h100-llama3").unwrap().rate_per_hour(16384, 8, 1296.0);
        let infant = profile("h100-llama3-infant").unwrap().rate_per_hour(16384, 8, 1296.0);
        assert!((infant / base - 1.0).abs() < 0.01, "{infant} vs {base}");
    }

    #[test]
    fn meta_rsc_profile_reproduces_the_published_rates_and_mtti() {
        let p = profile("a100-meta-rsc").unwrap();
        let per_1000_node_days = p.per_1000_node_days(8000, 8, 1000.0);
        assert!((per_1000_node_days - 6.50).abs() < 0.01, "{per_1000_node_days}");
        assert!((per_1000_node_days * p.low_multiplier - 2.34).abs() < 0.02);
        // Kokolis et al.'s projections: 16,384 GPUs 1.8 h (108 min), 131,072 GPUs 0.23 h.
        let mtti_min = |gpus| 60.0 / p.rate_per_hour(gpus, 8, 1000.0);
        assert!((mtti_min(16_384) - 108.0).abs() < 1.0, "{}", mtti_min(16_384));
        assert!((mtti_min(131_072) / 60.0 - 0.23).abs() < 0.01, "{}", mtti_min(131_072));
    }

    #[test]
    fn cloud_a100_profile_is_superbench_rate_with_unicron_split() {
        let p = profile("a100-cloud").unwrap();
        // 1 / 719.4 h per node = 33.4 per 1,000 node-days.
        assert!((p.per_1000_node_days(992, 8, 1000.0) - 24_000.0 / 719.4).abs() < 0.01);
        let repair: f64 = p.base().filter(|c| c.needs_repair).map(|c| c.rate_per_unit_hour).sum();
        assert!((repair * 719.4 - 0.37).abs() < 0.001, "{}", repair * 719.4);
    }

    #[test]
    fn profiles_without_fleet_data_are_flagged() {
        assert!(profile("ascend-910b-estimate").unwrap().estimate);
        for id in ["h100-llama3", "a100-meta-rsc", "a100-cloud"] {
            assert!(!profile(id).unwrap().estimate, "{id}");
        }
    }

    #[test]
    fn sampled_counts_match_rates() {
        let c = Component {
            name: "x".into(),
            unit: Unit::Device,
            rate_per_unit_hour: 1e-5,
            distribution: FailureLaw::Exponential,
            needs_repair: true,
            optional: false,
        };
        let p = Process::new(&c, 10_000, 8, 2.0); // 0.2 per hour
        let mut rng = rng_stream(3, 0);
        let (mut t, mut n) = (0.0, 0);
        while let Some(next) = p.next_after(t, &mut rng) {
            if next > 10_000.0 {
                break;
            }
            t = next;
            n += 1;
        }
        assert!((n as f64 - 2000.0).abs() < 4.0 * 2000f64.sqrt(), "{n}");
        let w = Component { distribution: FailureLaw::Weibull { shape: 0.7, scale_hours: 1e6 }, ..c };
        let p = Process::new(&w, 10_000, 8, 1.0);
        let (mut t, mut n) = (0.0, 0);
        while let Some(next) = p.next_after(t, &mut rng) {
            if next > 1000.0 {
                break;
            }
            t = next;
            n += 1;
        }
        let expected = 10_000.0 * (1000.0f64 / 1e6).powf(0.7);
        assert!((n as f64 - expected).abs() < 4.0 * expected.sqrt(), "{n} vs {expected}");
    }

    #[test]
    fn bad_components_are_rejected() {
        let c = Component {
            name: "x".into(),
            unit: Unit::Node,
            rate_per_unit_hour: -1.0,
            distribution: FailureLaw::Exponential,
            needs_repair: true,
            optional: false,
        };
        assert!(c.check("f", "c").unwrap_err().to_string().contains("non-negative"));
        let c = Component { rate_per_unit_hour: 0.0, distribution: FailureLaw::Weibull { shape: 0.0, scale_hours: 1.0 }, ..c };
        assert!(c.check("f", "c").is_err());
    }
}
