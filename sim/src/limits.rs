//! Numeric bounds of every input, in one place, derived from what the model means. Every check of a
//! scenario, plan, sweep and the command line takes its limits from here, and every error states the
//! allowed range, so a hostile or mistyped number gets a clear error before anything allocates or runs.
//!
//! Where the bounds come from:
//! - time: simulated time is u64 nanoseconds (about 584 years); the longest run is
//!   [`MAX_DAYS`] (100 years), and no single duration (detection, restart, latency, repair, a step)
//!   may exceed that horizon, so every instant of a run fits with room for sums;
//! - rates: a failure multiplier above [`MAX_FAILURE_MULTIPLIER`] or rates giving a mean time to
//!   interruption below the restart time describe a job that never makes progress;
//! - counts: seeds, sweep points and simulated events are bounded so memory and time stay within the
//!   documented budgets ([`MAX_EVENTS_PER_RUN`], [`MAX_SWEEP_POINTS`]);
//! - files: inputs larger than [`MAX_INPUT_BYTES`] are refused before they are read.

use crate::error::WankaError;

/// Monte Carlo seeds of one run, one plan candidate or one sweep point.
pub const MAX_SEEDS: u64 = 100_000;
/// Longest simulated run (`run.max_days`), days: 100 years.
pub const MAX_DAYS: f64 = 36_500.0;
/// Longest single duration of any input (detection, restart parts, checkpoint latency, repair, the
/// iteration overhead), seconds: the longest run.
pub const MAX_DURATION_S: f64 = MAX_DAYS * 86_400.0;
/// Shortest fixed checkpoint interval, seconds of work.
pub const MIN_CHECKPOINT_INTERVAL_S: f64 = 1.0;
/// Shortest maintenance period, hours.
pub const MIN_MAINTENANCE_INTERVAL_H: f64 = 1.0;
/// Largest failure-rate multiplier (the worst published bands are about 3x the mid band).
pub const MAX_FAILURE_MULTIPLIER: f64 = 1000.0;
/// Largest per-unit failure rate of a component override, failures per unit-hour (one a day).
pub const MAX_RATE_PER_UNIT_HOUR: f64 = 1.0 / 24.0;
/// Range of a published failure rate given as input, failures per 1,000 node-days: above zero, and at
/// most one failure a day per node (the per-unit bound of [`MAX_RATE_PER_UNIT_HOUR`]). Published
/// fleets lie in 2–35.
pub const FAILURES_PER_1000_NODE_DAYS: (f64, f64) = (1e-6, 1000.0);
/// Largest failure domain (switch, rack, power), nodes: a whole pod of the biggest topologies.
pub const MAX_DOMAIN_NODES: u32 = 4096;
/// Most failures a lemon node may have before it is replaced.
pub const MAX_LEMON_FAILURES: u32 = 1000;
/// Largest straggler onset rate, per node-hour (one a day per node).
pub const MAX_STRAGGLER_RATE_PER_NODE_HOUR: f64 = 1.0 / 24.0;
/// Shortest straggler detection, hours (one second).
pub const MIN_STRAGGLER_DETECTION_H: f64 = 1.0 / 3600.0;
/// Weibull shape range (infant mortality ~0.5, wear-out ~5; outside this the law is degenerate).
pub const WEIBULL_SHAPE: (f64, f64) = (0.1, 20.0);
/// Weibull scale range, hours (from one hour; a scale far beyond the run only means a rare failure).
pub const WEIBULL_SCALE_H: (f64, f64) = (1.0, 1e9);
/// Bandwidth range of a NIC, Gbit/s per GPU (1 Mbit/s to 100 Tbit/s).
pub const NIC_GBIT: (f64, f64) = (1e-3, 1e5);
/// Bandwidth range of storage and host copies, GB/s per device.
pub const STORAGE_GB_PER_S: (f64, f64) = (1e-6, 1e5);
/// Longest training step, seconds (a day): the step's operations one after another must fit, so the
/// schedule's nanosecond sums stay far from wrapping.
pub const MAX_STEP_S: f64 = 86_400.0;
/// Transformer layers of a custom model.
pub const MAX_LAYERS: u32 = 100_000;
/// Global batch of a plan or goal, tokens (a billion: 64x the largest published batches).
pub const MAX_GLOBAL_BATCH_TOKENS: f64 = 1e9;
/// Sequences in one global batch of a plan's goal (`batch_tokens / seq_len`).
pub const MAX_BATCH_SEQUENCES: f64 = 1e6;
/// Tokens to train on (10^16: a thousand times the largest published runs).
pub const MAX_TOKENS: f64 = 1e16;
/// Simulated events of one run (failures, checkpoints, stragglers, maintenance) before it starts.
pub const MAX_EVENTS_PER_RUN: f64 = 1e7;
/// Simulated events of one Monte Carlo (all seeds of one run).
pub const MAX_EVENTS_PER_MONTE_CARLO: f64 = 2e8;
/// Points of one sweep (grid product or Latin hypercube `n`), checked before any point is built.
pub const MAX_SWEEP_POINTS: u64 = 1_000_000;
/// Worker threads of a sweep.
pub const MAX_THREADS: usize = 1024;
/// Largest scenario, plan, sweep, catalog or case file, bytes.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

// Catalog figures (`chips.ron`, `fabrics.ron`, also read from `--catalog-dir`): wide bands around
// every real device (an H100 is 989 TFLOP/s, 80 GB, 3.35 TB/s, 700 W, about 30,000 USD), so a typo
// of several orders of magnitude, a sign or a non-number is refused, never priced or simulated.

/// Dense tensor throughput of one device, TFLOP/s (or TOP/s): 1 GFLOP/s to 1 EFLOP/s.
pub const CHIP_TFLOPS: (f64, f64) = (1e-3, 1e6);
/// Device memory, GB (1 MB to 1 PB).
pub const CHIP_MEMORY_GB: (f64, f64) = (1e-3, 1e6);
/// Device memory or scale-up bandwidth, GB/s (1 MB/s to 10 PB/s).
pub const CHIP_GB_PER_S: (f64, f64) = (1e-3, 1e7);
/// Devices of one scale-up domain.
pub const CHIP_SCALE_UP_DOMAIN: (u32, u32) = (1, 1_000_000);
/// Power of one device, W.
pub const CHIP_TDP_W: (f64, f64) = (1.0, 1e5);
/// Host power of one node, W.
pub const HOST_W_PER_NODE: (f64, f64) = (0.0, 1e6);
/// Price of one device or one network port, USD (ten million: 300x an H100).
pub const DEVICE_USD: (f64, f64) = (0.0, 1e7);
/// Overhead of one node (host, chassis), USD.
pub const NODE_USD: (f64, f64) = (0.0, 1e8);
/// Storage of a cluster, USD (a trillion).
pub const STORAGE_USD: (f64, f64) = (0.0, 1e12);
/// Rental price, USD per device-hour.
pub const RENTAL_USD_PER_DEVICE_HOUR: (f64, f64) = (0.0, 1e5);
/// Amortisation period of purchased hardware, years (a month to a century).
pub const AMORTISATION_YEARS: (f64, f64) = (1.0 / 12.0, 100.0);
/// Electricity price, USD per kWh.
pub const USD_PER_KWH: (f64, f64) = (0.0, 100.0);
/// Power usage effectiveness of a facility.
pub const PUE: (f64, f64) = (1.0, 10.0);
/// A facility's power cap, MW.
pub const FACILITY_CAP_MW: (f64, f64) = (1e-6, 1e5);
/// Bandwidth of one scale-out port or scale-up link, Gbit/s per direction (1 Mbit/s to 1 Pbit/s).
pub const FABRIC_GBIT: (f64, f64) = (1e-3, 1e6);
/// A latency (fabric hop, switch hop), microseconds: up to a second.
pub const LATENCY_US: (f64, f64) = (0.0, 1e6);
/// Fixed cost of a kernel launch gap, microseconds: up to a second.
pub const KERNEL_OVERHEAD_US: (f64, f64) = (0.0, 1e6);
/// GEMM dimension that halves efficiency (a calibration figure).
pub const GEMM_HALF_DIM: (f64, f64) = (0.0, 1e9);
/// Oversubscription ratio of a switch tier (1 = non-blocking).
pub const OVERSUBSCRIPTION: (f64, f64) = (1.0, 1000.0);

fn invalid(file: &str, field: &str, msg: String) -> WankaError {
    WankaError::Invalid { file: file.into(), field: field.into(), msg }
}

/// A number as errors print it: plain in [1e-4, 1e16), else in exponent form (`1e300`, not 301 digits).
pub fn num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e16).contains(&v.abs()) { format!("{v}") } else { format!("{v:e}") }
}

/// `v` must be finite and in `[lo, hi]` (`unit` follows the numbers in the message).
pub fn in_range(file: &str, field: &str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<(), WankaError> {
    if v >= lo && v <= hi {
        return Ok(());
    }
    let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
    Err(invalid(file, field, format!("must be in [{}, {}]{unit}, got {}", num(lo), num(hi), num(v))))
}

/// `v` in the band `(lo, hi)` (see [`in_range`]).
pub fn in_band(file: &str, field: &str, v: f64, band: (f64, f64), unit: &str) -> Result<(), WankaError> {
    in_range(file, field, v, band.0, band.1, unit)
}

/// A fraction in (0, 1] (efficiencies, ceilings).
pub fn fraction(file: &str, field: &str, v: f64) -> Result<(), WankaError> {
    if v > 0.0 && v <= 1.0 {
        return Ok(());
    }
    Err(invalid(file, field, format!("must be in (0, 1], got {}", num(v))))
}

/// A number of Monte Carlo seeds: 1 to [`MAX_SEEDS`].
pub fn seeds(file: &str, field: &str, n: u64) -> Result<u64, WankaError> {
    if (1..=MAX_SEEDS).contains(&n) {
        Ok(n)
    } else {
        Err(invalid(file, field, format!("must be between 1 and {MAX_SEEDS} seeds, got {n}")))
    }
}

/// A number of worker threads: 1 to [`MAX_THREADS`].
pub fn threads(n: usize) -> Result<usize, WankaError> {
    if (1..=MAX_THREADS).contains(&n) {
        Ok(n)
    } else {
        Err(invalid("command line", "--threads", format!("must be between 1 and {MAX_THREADS}, got {n}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_fits_in_ticks_with_room_for_sums() {
        // Four longest durations after the longest horizon still fit in u64 nanoseconds.
        assert!(5.0 * MAX_DURATION_S * 1e9 < u64::MAX as f64);
    }

    #[test]
    fn messages_state_the_range() {
        let e = seeds("f.ron", "seeds", 0).unwrap_err().to_string();
        assert!(e.contains("between 1 and 100000"), "{e}");
        let e = in_range("f.ron", "x", 1e300, 0.0, 10.0, "s").unwrap_err().to_string();
        assert!(e.contains("must be in [0, 10] s, got 1e300"), "{e}");
        assert!(in_range("f", "x", f64::NAN, 0.0, 1.0, "").is_err());
    }
}
