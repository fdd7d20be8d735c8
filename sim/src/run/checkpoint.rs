//! Checkpointing: what a checkpoint costs and how often to take one.
//!
//! Size: BF16 weights plus FP32 master weights and two Adam moments, 14 bytes per parameter (BLOOM's
//! 2.3 TB for 176B parameters is 13; gradients are not saved). Policies:
//! - `Sync`: training stalls while every device writes its shard to storage (`δ = bytes ÷ aggregate
//!   write bandwidth + fixed latency`); the checkpoint is durable when the stall ends.
//! - `Async`: the stall is only the copy to host memory (MegaScale: "several seconds"); the write to
//!   storage runs in the background and the checkpoint becomes durable only when it finishes, so a
//!   failure during the write falls back to the previous one (longer exposure).
//! - `InMemory`: as async, but the durable copy is a replica in peers' host memory over the scale-out
//!   network (Gemini); restarts load from peers instead of storage.
//!
//! Interval: fixed, Young's `τ = √(2δM)` or Daly's higher-order optimum
//! `τ = √(2δM)·[1 + ⅓√(δ/2M) + (1/9)(δ/2M)] − δ` (`τ = M` when `δ ≥ 2M`), with `M` the job's mean time to
//! interruption. Not modelled: incremental or compressed checkpoints, storage contention with other jobs.

use serde::{Deserialize, Serialize};

use crate::error::WankaError;

/// Bytes saved per model parameter.
pub const BYTES_PER_PARAM: f64 = 14.0;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Policy {
    Sync,
    Async,
    InMemory,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Interval {
    /// Every `minutes` of training.
    Fixed {
        minutes: f64,
    },
    Young,
    Daly,
    /// Every `steps` optimizer steps, as training scripts set it (Megatron `--save-interval`, DeepSpeed
    /// and metaseq `save_interval_updates`); the run's mean step time turns it into seconds.
    Steps {
        steps: u32,
    },
}

/// Checkpoint section of a scenario's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointSpec {
    /// Default `Async`: the practice of large runs (MegaScale's two-stage save, PyTorch DCP
    /// `async_save`, Megatron async distributed checkpoints).
    pub policy: Policy,
    pub interval: Interval,
    /// Aggregate storage write bandwidth per device of the job, GB/s (default 0.122: Llama 3's Tectonic
    /// sustained 2 TB/s for 16,384 GPUs, V).
    pub storage_write_gb_per_s_per_device: f64,
    /// Aggregate storage read bandwidth per device, GB/s (default 0.427: Tectonic's 7 TB/s peak, V).
    pub storage_read_gb_per_s_per_device: f64,
    /// Device-to-host copy bandwidth for async/in-memory snapshots, GB/s per device (default 20: PCIe
    /// Gen4/5 x16 achievable, M).
    pub host_copy_gb_per_s: f64,
    /// Fixed latency per checkpoint (barrier, metadata, file creation), seconds (default 5, an assumption).
    pub fixed_latency_s: f64,
}

impl Default for CheckpointSpec {
    fn default() -> Self {
        CheckpointSpec {
            policy: Policy::Async,
            interval: Interval::Daly,
            storage_write_gb_per_s_per_device: 0.122,
            storage_read_gb_per_s_per_device: 0.427,
            host_copy_gb_per_s: 20.0,
            fixed_latency_s: 5.0,
        }
    }
}

/// What one checkpoint costs for a given job.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CheckpointCost {
    /// Size of one checkpoint, bytes. The fields serialise as `checkpoint_bytes`, `checkpoint_stall_s`,
    /// … (docs/OUTPUTS.md): flattened into `run --json`'s `context`, they are the sweep's columns.
    #[serde(rename = "checkpoint_bytes")]
    pub bytes: f64,
    /// Training stall per checkpoint, seconds.
    #[serde(rename = "checkpoint_stall_s")]
    pub stall_s: f64,
    /// Time from the start of the checkpoint until it is durable, seconds.
    #[serde(rename = "checkpoint_durable_after_s")]
    pub durable_after_s: f64,
    /// Time to load it on restart, seconds.
    #[serde(rename = "checkpoint_load_s")]
    pub load_s: f64,
}

impl CheckpointSpec {
    pub fn check(&self, file: &str) -> Result<(), WankaError> {
        let bad = |field: &str, msg: String| Err(WankaError::Invalid { file: file.into(), field: format!("run.checkpoint.{field}"), msg });
        for (name, v) in [
            ("storage_write_gb_per_s_per_device", self.storage_write_gb_per_s_per_device),
            ("storage_read_gb_per_s_per_device", self.storage_read_gb_per_s_per_device),
            ("host_copy_gb_per_s", self.host_copy_gb_per_s),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(name, format!("must be a positive bandwidth, got {v}"));
            }
            let (lo, hi) = crate::limits::STORAGE_GB_PER_S;
            crate::limits::in_range(file, &format!("run.checkpoint.{name}"), v, lo, hi, "GB/s")?;
        }
        if !(self.fixed_latency_s >= 0.0 && self.fixed_latency_s.is_finite()) {
            return bad("fixed_latency_s", format!("must be >= 0 seconds, got {}", self.fixed_latency_s));
        }
        crate::limits::in_range(
            file,
            "run.checkpoint.fixed_latency_s",
            self.fixed_latency_s,
            0.0,
            crate::limits::MAX_DURATION_S,
            "seconds",
        )?;
        if let Interval::Fixed { minutes } = self.interval
            && !(minutes > 0.0 && minutes.is_finite())
        {
            return bad("interval", format!("Fixed minutes must be positive, got {minutes}"));
        }
        if let Interval::Fixed { minutes } = self.interval {
            let (lo, hi) = (crate::limits::MIN_CHECKPOINT_INTERVAL_S / 60.0, crate::limits::MAX_DURATION_S / 60.0);
            crate::limits::in_range(file, "run.checkpoint.interval", minutes, lo, hi, "minutes")?;
        }
        if let Interval::Steps { steps } = self.interval
            && steps == 0
        {
            return bad("interval", "Steps must be at least 1".into());
        }
        Ok(())
    }

    /// Costs for a model of `params` parameters on `devices` devices with `nic_gb_per_s` scale-out
    /// bandwidth per device (for in-memory replicas).
    pub fn cost(&self, params: f64, devices: u64, nic_gb_per_s: f64) -> CheckpointCost {
        let bytes = params * BYTES_PER_PARAM;
        let per_device = bytes / devices as f64;
        let write = per_device / (self.storage_write_gb_per_s_per_device * 1e9);
        let read = per_device / (self.storage_read_gb_per_s_per_device * 1e9);
        let host = per_device / (self.host_copy_gb_per_s * 1e9);
        let lat = self.fixed_latency_s;
        match self.policy {
            Policy::Sync => CheckpointCost { bytes, stall_s: lat + write, durable_after_s: lat + write, load_s: lat + read },
            Policy::Async => CheckpointCost { bytes, stall_s: 1.0 + host, durable_after_s: 1.0 + host + lat + write, load_s: lat + read },
            Policy::InMemory => {
                let peer = per_device / (nic_gb_per_s * 1e9);
                CheckpointCost { bytes, stall_s: 1.0 + host, durable_after_s: 1.0 + host + peer, load_s: 1.0 + peer + host }
            }
        }
    }

    /// Work time between checkpoints, seconds, for mean time to interruption `mtti_s`, stall `delta_s`
    /// and mean step time `step_s`.
    pub fn interval_s(&self, delta_s: f64, mtti_s: f64, step_s: f64) -> f64 {
        match self.interval {
            Interval::Fixed { minutes } => minutes * 60.0,
            Interval::Young => young_s(delta_s, mtti_s),
            Interval::Daly => daly_s(delta_s, mtti_s),
            Interval::Steps { steps } => f64::from(steps) * step_s,
        }
    }
}

/// Young (1974): `τ = √(2δM)`.
pub fn young_s(delta_s: f64, mtti_s: f64) -> f64 {
    if !mtti_s.is_finite() {
        return f64::INFINITY;
    }
    (2.0 * delta_s * mtti_s).sqrt().max(1.0)
}

/// Daly (2006) higher-order optimum.
pub fn daly_s(delta_s: f64, mtti_s: f64) -> f64 {
    if !mtti_s.is_finite() {
        return f64::INFINITY;
    }
    if delta_s >= 2.0 * mtti_s {
        return mtti_s;
    }
    let x = delta_s / (2.0 * mtti_s);
    ((2.0 * delta_s * mtti_s).sqrt() * (1.0 + x.sqrt() / 3.0 + x / 9.0) - delta_s).max(1.0)
}

/// Daly's expected-runtime model: ETTR = τ / (M·e^(R/M)·(e^((τ+δ)/M) − 1)).
pub fn daly_ettr(tau_s: f64, delta_s: f64, restart_s: f64, mtti_s: f64) -> f64 {
    tau_s / (mtti_s * (restart_s / mtti_s).exp() * (((tau_s + delta_s) / mtti_s).exp() - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Daly's worked cases: δ = 5 min, R = 10 min: τ = 116.7 / 56.7 / 9.1 min at M = 24 h / 6 h / 15 min,
    /// ETTR 91.3% / 81.9% / 20.0%.
    #[test]
    fn daly_cases() {
        for (m_min, tau_min, ettr) in [(1440.0, 116.7, 0.913), (360.0, 56.7, 0.819), (15.0, 9.1, 0.200)] {
            let tau = daly_s(300.0, m_min * 60.0) / 60.0;
            assert!((tau - tau_min).abs() / tau_min < 0.01, "{tau} vs {tau_min}");
            let e = daly_ettr(tau * 60.0, 300.0, 600.0, m_min * 60.0);
            assert!((e - ettr).abs() < 0.001, "{e} vs {ettr}");
        }
        assert_eq!(daly_s(100.0, 40.0), 40.0);
        assert!((young_s(300.0, 86400.0) - 7200.0).abs() < 1e-6);
    }

    #[test]
    fn async_stalls_less_but_is_durable_later() {
        let sync = CheckpointSpec { policy: Policy::Sync, ..Default::default() }.cost(405e9, 16384, 50.0);
        let asy = CheckpointSpec::default().cost(405e9, 16384, 50.0);
        assert!(asy.stall_s < sync.stall_s);
        assert!(asy.durable_after_s > asy.stall_s);
        // 405B x 14 bytes = 5.67 TB at 2 TB/s.
        assert!((sync.stall_s - 5.0 - 5.67e12 / 2.0e12).abs() < 0.1, "{}", sync.stall_s);
    }

    /// An interval in steps is that many steps of the run's mean step, whatever the failure rate and
    /// stall (BLOOM's `SAVE_INTERVAL=100` at 105.2 s a step: 2.92 h); zero steps are refused.
    #[test]
    fn an_interval_in_steps_follows_the_step_time() {
        let spec = CheckpointSpec { interval: Interval::Steps { steps: 100 }, ..Default::default() };
        assert_eq!(spec.interval_s(57.0, 400_000.0, 105.2), 10_520.0);
        assert_eq!(spec.interval_s(1.0, 3_600.0, 105.2), 10_520.0, "not re-optimised for the failure rate");
        assert!(CheckpointSpec { interval: Interval::Daly, ..Default::default() }.interval_s(57.0, 400_000.0, 105.2) < 10_520.0);
        let zero = CheckpointSpec { interval: Interval::Steps { steps: 0 }, ..Default::default() };
        let err = zero.check("plan.ron").unwrap_err().to_string();
        assert!(err.contains("run.checkpoint.interval") && err.contains("at least 1"), "{err}");
        assert!(spec.check("plan.ron").is_ok());
    }
}
