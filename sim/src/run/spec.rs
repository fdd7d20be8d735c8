//! The run section of a scenario: failures, recovery (spares, repairs, elastic mode), stragglers,
//! planned maintenance and the run's limits, with their documented defaults and checks.

use serde::{Deserialize, Serialize};

use crate::error::WankaError;
use crate::limits::{self, in_range};
use crate::run::checkpoint::CheckpointSpec;
use crate::run::failure::{Component, FailureProfile, Process};

/// Which edge of a failure profile's published band to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Band {
    Low,
    #[default]
    Mid,
    High,
}

/// Failure section of a scenario's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailureSpec {
    /// Failure profile id from `scenarios/catalog/failures.ron` (default `h100-llama3`).
    pub profile: String,
    pub band: Band,
    /// Scales every rate (what-if: 2.0 = twice the failures). Default 1.
    pub multiplier: f64,
    /// A published job-interrupting failure rate, per 1,000 node-days, as the input: the profile's
    /// components (with the overrides) keep their mix — which failures need a repair, which law — and are
    /// scaled together so that their mean rate over the run is this one; band and multiplier still
    /// apply on top. `None` (default): the profile's own rates.
    pub failures_per_1000_node_days: Option<f64>,
    /// Optional entries of the profile to include (correlated failure domains, lemon nodes), by name.
    pub include: Vec<String>,
    /// Components that replace the profile's component of the same name, or are added.
    pub overrides: Vec<Component>,
}

impl Default for FailureSpec {
    fn default() -> Self {
        FailureSpec {
            profile: "h100-llama3".into(),
            band: Band::Mid,
            multiplier: 1.0,
            failures_per_1000_node_days: None,
            include: Vec::new(),
            overrides: Vec::new(),
        }
    }
}

/// Recovery section of a scenario's run. Defaults are documented per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoverySpec {
    /// From failure to the job noticing it (default 120 s: automated health checks and NCCL timeouts
    /// tuned down; MegaScale detects and diagnoses in < 10 min, Llama 3 recovered most automatically).
    pub detection_s: f64,
    /// Tear-down and rescheduling of the job (default 180 s, an assumption).
    pub reschedule_s: f64,
    /// Collective (NCCL) initialisation: `init_base_s + init_s_per_1k_devices · devices/1000`
    /// (defaults 20 s + 2 s per 1,000 devices: MegaScale < 30 s at > 10k GPUs after optimisation).
    pub init_base_s: f64,
    pub init_s_per_1k_devices: f64,
    /// From resumed training to full speed (default 120 s: compilation, caches, first steps).
    pub warmup_s: f64,
    /// Hot-spare nodes; `None` = 1% of the job's nodes, at least 1 (an assumption: OPT-175B ran 4 to
    /// 18 spares for 124 nodes, Llama 3 does not say).
    pub hot_spare_nodes: Option<u32>,
    /// Swapping a spare into the job, on top of the restart (default 60 s: draining the failed node and
    /// adding the powered-on spare to the allocation; an assumption).
    pub spare_swap_s: f64,
    /// Mean time to repair a failed node, exponential (default 24 h: "replacing one machine through the
    /// cloud interface can take hours", OPT-175B logbook).
    pub repair_hours: f64,
    /// Continue on fewer DP replicas when no spare is left, instead of waiting for a repair.
    pub elastic: bool,
}

impl Default for RecoverySpec {
    fn default() -> Self {
        RecoverySpec {
            detection_s: 120.0,
            reschedule_s: 180.0,
            init_base_s: 20.0,
            init_s_per_1k_devices: 2.0,
            warmup_s: 120.0,
            hot_spare_nodes: None,
            spare_swap_s: 60.0,
            repair_hours: 24.0,
            elastic: false,
        }
    }
}

impl RecoverySpec {
    /// Hot-spare nodes of a job of `nodes` nodes: the configured number, or 1% of them, at least 1.
    pub fn hot_spare_nodes_for(&self, nodes: u64) -> u32 {
        self.hot_spare_nodes.unwrap_or_else(|| (nodes as f64 * 0.01).ceil().max(1.0) as u32)
    }
}

/// Stragglers: nodes that turn slow and slow every synchronous step until evicted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StragglerSpec {
    /// Onsets per node-hour (default 0: off; no published onset rate — MegaScale reports 0.5% of
    /// machines ~10% slow at a time).
    pub rate_per_node_hour: f64,
    /// Step slowdown while a straggler is in the job (default 0.10, MegaScale; BLOOM saw 0.05).
    pub slowdown: f64,
    /// Time to detect and evict a straggler, hours (default 2, an assumption).
    pub detection_hours: f64,
}

impl Default for StragglerSpec {
    fn default() -> Self {
        StragglerSpec { rate_per_node_hour: 0.0, slowdown: 0.10, detection_hours: 2.0 }
    }
}

/// Planned maintenance windows (firmware, kernel upgrades): the job checkpoints, stops, restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceSpec {
    pub interval_hours: f64,
    pub duration_min: f64,
}

/// Run section of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSpec {
    pub failures: FailureSpec,
    pub recovery: RecoverySpec,
    pub checkpoint: CheckpointSpec,
    pub stragglers: StragglerSpec,
    pub maintenance: Option<MaintenanceSpec>,
    /// Give up after this much wall clock, days (default 3650); the run is reported incomplete.
    pub max_days: f64,
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            failures: FailureSpec::default(),
            recovery: RecoverySpec::default(),
            checkpoint: CheckpointSpec::default(),
            stragglers: StragglerSpec::default(),
            maintenance: None,
            max_days: 3650.0,
        }
    }
}

impl RunSpec {
    /// Check every field; errors name `run.<section>.<field>`.
    pub fn check(&self, file: &str) -> Result<(), WankaError> {
        let bad = |field: &str, msg: String| Err(WankaError::Invalid { file: file.into(), field: format!("run.{field}"), msg });
        let nonneg = |v: f64| v >= 0.0 && v.is_finite();
        let f = &self.failures;
        if !(f.multiplier >= 0.0 && f.multiplier.is_finite()) {
            return bad("failures.multiplier", format!("must be >= 0, got {}", f.multiplier));
        }
        in_range(file, "run.failures.multiplier", f.multiplier, 0.0, limits::MAX_FAILURE_MULTIPLIER, "")?;
        if let Some(r) = f.failures_per_1000_node_days {
            // Positive (zero failures: set the multiplier to 0) and at most one failure a day per node.
            let (lo, hi) = limits::FAILURES_PER_1000_NODE_DAYS;
            in_range(file, "run.failures.failures_per_1000_node_days", r, lo, hi, "failures per 1000 node-days")?;
        }
        for (i, c) in f.overrides.iter().enumerate() {
            c.check(file, &format!("run.failures.overrides[{i}]"))?;
        }
        let r = &self.recovery;
        for (name, v) in [
            ("detection_s", r.detection_s),
            ("reschedule_s", r.reschedule_s),
            ("init_base_s", r.init_base_s),
            ("init_s_per_1k_devices", r.init_s_per_1k_devices),
            ("warmup_s", r.warmup_s),
            ("spare_swap_s", r.spare_swap_s),
        ] {
            if !nonneg(v) {
                return bad(&format!("recovery.{name}"), format!("must be >= 0 seconds, got {v}"));
            }
            in_range(file, &format!("run.recovery.{name}"), v, 0.0, limits::MAX_DURATION_S, "seconds")?;
        }
        if !(r.repair_hours > 0.0 && r.repair_hours.is_finite()) {
            return bad("recovery.repair_hours", format!("must be positive, got {}", r.repair_hours));
        }
        in_range(file, "run.recovery.repair_hours", r.repair_hours, 1.0 / 3600.0, limits::MAX_DURATION_S / 3600.0, "hours")?;
        self.checkpoint.check(file)?;
        let s = &self.stragglers;
        if !nonneg(s.rate_per_node_hour) {
            return bad("stragglers.rate_per_node_hour", format!("must be >= 0, got {}", s.rate_per_node_hour));
        }
        in_range(
            file,
            "run.stragglers.rate_per_node_hour",
            s.rate_per_node_hour,
            0.0,
            limits::MAX_STRAGGLER_RATE_PER_NODE_HOUR,
            "per node-hour",
        )?;
        if !(s.slowdown >= 0.0 && s.slowdown < 1.0) {
            return bad("stragglers.slowdown", format!("must be in [0, 1), got {}", s.slowdown));
        }
        if !(s.detection_hours > 0.0 && s.detection_hours.is_finite()) {
            return bad("stragglers.detection_hours", format!("must be positive, got {}", s.detection_hours));
        }
        in_range(
            file,
            "run.stragglers.detection_hours",
            s.detection_hours,
            limits::MIN_STRAGGLER_DETECTION_H,
            limits::MAX_DURATION_S / 3600.0,
            "hours",
        )?;
        if let Some(m) = &self.maintenance
            && (!(m.interval_hours > 0.0 && m.interval_hours.is_finite()) || !nonneg(m.duration_min))
        {
            return bad(
                "maintenance",
                format!("needs interval_hours > 0 and duration_min >= 0, got {} h, {} min", m.interval_hours, m.duration_min),
            );
        }
        if let Some(m) = &self.maintenance {
            let max_h = limits::MAX_DURATION_S / 3600.0;
            in_range(file, "run.maintenance.interval_hours", m.interval_hours, limits::MIN_MAINTENANCE_INTERVAL_H, max_h, "hours")?;
            // A window as long as the period leaves no time to train.
            in_range(
                file,
                "run.maintenance.duration_min",
                m.duration_min,
                0.0,
                m.interval_hours * 60.0 / 2.0,
                "minutes (half the period)",
            )?;
        }
        if !(self.max_days > 0.0 && self.max_days.is_finite()) {
            return bad("max_days", format!("must be positive, got {}", self.max_days));
        }
        in_range(file, "run.max_days", self.max_days, 1.0 / 24.0, limits::MAX_DAYS, "days")?;
        Ok(())
    }

    /// Names in `failures.include` that are not optional entries of `profile` (an error for the caller).
    pub fn unknown_includes<'a>(&'a self, profile: &FailureProfile) -> Vec<&'a str> {
        let optional: Vec<&str> = profile.components.iter().filter(|c| c.optional).map(|c| c.name.as_str()).collect();
        self.failures.include.iter().map(String::as_str).filter(|n| !optional.contains(n)).collect()
    }

    /// The failure processes of a job: the profile (optional entries only when included) with overrides, scaled to the published rate when one
    /// is given (its mean over the first `horizon_h` hours), band and multiplier applied.
    pub fn processes(&self, profile: &FailureProfile, devices: u64, per_node: u32, horizon_h: f64) -> Vec<Process> {
        let band = match self.failures.band {
            Band::Low => profile.low_multiplier,
            Band::Mid => 1.0,
            Band::High => profile.high_multiplier,
        };
        let mut comps: Vec<Component> =
            profile.components.iter().filter(|c| !c.optional || self.failures.include.contains(&c.name)).cloned().collect();
        for o in &self.failures.overrides {
            match comps.iter_mut().find(|c| c.name == o.name) {
                Some(c) => *c = o.clone(),
                None => comps.push(o.clone()),
            }
        }
        let given = match self.failures.failures_per_1000_node_days {
            Some(rate) => {
                let nodes = devices.div_ceil(u64::from(per_node.max(1))).max(1) as f64;
                let own: f64 =
                    comps.iter().map(|c| c.mean_rate_per_hour(devices, per_node, horizon_h)).sum::<f64>() * 24.0 / nodes * 1000.0;
                // A profile whose components never fail has no mix to scale: the rate cannot be met.
                if own > 0.0 { rate / own } else { 0.0 }
            }
            None => 1.0,
        };
        comps.iter().map(|c| Process::new(c, devices, per_node, given * band * self.failures.multiplier)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::failure::profile;

    fn per_1000_node_days(spec: &RunSpec, devices: u64) -> f64 {
        let p = spec.processes(profile(&spec.failures.profile).unwrap(), devices, 8, 1296.0);
        p.iter().map(|p| p.mean_rate_per_hour(1296.0)).sum::<f64>() * 24.0 / (devices / 8) as f64 * 1000.0
    }

    #[test]
    fn a_published_rate_is_the_input_and_keeps_the_mix() {
        let mut spec = RunSpec::default();
        let own = per_1000_node_days(&spec, 16384);
        assert!((own - 3.79).abs() < 0.01, "{own}");
        spec.failures.failures_per_1000_node_days = Some(16.0);
        let given = per_1000_node_days(&spec, 16384);
        assert!((given - 16.0).abs() < 1e-9, "{given}");
        // The mix is kept: the share of failures that need a repair does not move.
        let share = |spec: &RunSpec| {
            let p = spec.processes(profile("h100-llama3").unwrap(), 16384, 8, 1296.0);
            let all: f64 = p.iter().map(|p| p.mean_rate_per_hour(1296.0)).sum();
            p.iter().filter(|p| p.needs_repair).map(|p| p.mean_rate_per_hour(1296.0)).sum::<f64>() / all
        };
        let before = share(&RunSpec::default());
        assert!((share(&spec) - before).abs() < 1e-12);
        // The band and the multiplier still apply on top.
        spec.failures.multiplier = 2.0;
        assert!((per_1000_node_days(&spec, 16384) - 32.0).abs() < 1e-9);
        // Weibull components too: the mean over the horizon is the given rate.
        let mut infant = RunSpec::default();
        infant.failures.profile = "h100-llama3-infant".into();
        infant.failures.failures_per_1000_node_days = Some(5.0);
        assert!((per_1000_node_days(&infant, 16384) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn a_published_rate_out_of_bounds_is_refused_with_the_bound() {
        for bad in [0.0, -1.0, 1e308, f64::NAN] {
            let mut spec = RunSpec::default();
            spec.failures.failures_per_1000_node_days = Some(bad);
            let e = spec.check("s.ron").unwrap_err().to_string();
            assert!(e.contains("run.failures.failures_per_1000_node_days") && e.contains("must be in [1e-6, 1000]"), "{e}");
        }
        let mut spec = RunSpec::default();
        spec.failures.multiplier = 1e308;
        let e = spec.check("s.ron").unwrap_err().to_string();
        assert!(e.contains("run.failures.multiplier") && e.contains("[0, 1000]"), "{e}");
    }
}
