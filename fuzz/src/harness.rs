//! One fuzz input through what the `wanka` binary does with a file: parse, check, then a bounded
//! simulation. Shared by the `cargo fuzz` targets (`fuzz/fuzz_targets/`) and the stable-toolchain
//! mutation test (`tests/e2e/fuzz.rs`, which includes this file by path), so both exercise the same
//! calls.
//!
//! An input fails the harness only by panicking (or by running out of time or memory, which the
//! fuzzer reports): every error `wanka_sim` returns is a correct outcome. Where a result comes back
//! it must also make sense — finite, positive step times, MFU and ETTR in (0, 1], costs on the
//! Pareto front finite — so a silently wrong number is a crash too.
//!
//! The work per input is capped so one input runs well under a second: a step is simulated only up
//! to [`MAX_STEP_OPS`] pipeline operations, a run only up to [`MAX_RUN_EVENTS`] estimated events and
//! with one seed, a plan is compared with one seed on at most [`MAX_CANDIDATES`] candidates of at most
//! [`MAX_PLAN_DEVICES`] devices and [`MAX_PLAN_SEQUENCES`] sequences a batch, a sweep is parsed only up
//! to [`MAX_SWEEP_POINTS`] points and without a plan base, and its first [`MAX_SWEEP_POINTS_RUN`]
//! points are run with one seed. Inputs beyond the caps are still parsed and checked in full (the checks are bounded by the
//! library's own limits).

use std::path::{Path, PathBuf};

use wanka_sim::Catalog;
use wanka_sim::Scenario;
use wanka_sim::planning::plan_file::PlanFile;
use wanka_sim::sweep::{LoadOptions, Sweep};

/// Pipeline operations of a step the harness simulates (the library allows 4,000,000).
pub const MAX_STEP_OPS: u64 = 20_000;
/// Estimated events of a run the harness simulates (the library allows 10^7).
pub const MAX_RUN_EVENTS: f64 = 20_000.0;
/// Candidates of a plan the harness compares.
pub const MAX_CANDIDATES: usize = 2;
/// Devices of one candidate the harness compares (the parallelism search grows with them).
pub const MAX_PLAN_DEVICES: u64 = 8;
/// Sequences in the goal's batch of a plan the harness compares (the search simulates a step per plan).
pub const MAX_PLAN_SEQUENCES: f64 = 16.0;
/// Points a sweep may have for the harness to parse it (building a point costs about 50 µs).
pub const MAX_SWEEP_POINTS: u64 = 2_000;
/// Sweep points the harness runs (all are built and checked by the parse).
pub const MAX_SWEEP_POINTS_RUN: usize = 2;

/// The name errors give the input; a sweep's relative base paths resolve beside the bundled sweeps.
pub const FILE: &str = "fuzz-input.ron";

/// Text as `wanka_sim::ron_util::read_file` gives it: UTF-8 only, a leading byte-order mark skipped.
fn text(data: &[u8]) -> Option<&str> {
    let t = std::str::from_utf8(data).ok()?;
    Some(t.strip_prefix('\u{feff}').unwrap_or(t))
}

fn catalog() -> &'static Catalog {
    Catalog::builtin()
}

/// `x` must be finite and positive (a result the binary would print as real).
fn positive(what: &str, x: f64) {
    assert!(x.is_finite() && x > 0.0, "{what} = {x}: a result must be finite and positive");
}

/// A fraction in (0, 1] (MFU, ETTR).
fn fraction(what: &str, x: f64) {
    assert!(x.is_finite() && x > 0.0 && x <= 1.0 + 1e-9, "{what} = {x}: must be in (0, 1]");
}

/// Step and run of a checked scenario, within the caps.
pub fn simulate_scenario(s: &Scenario, file: &str) {
    let cat = catalog();
    let Ok(r) = s.resolve(cat, file) else { return };
    let ops = 2 * u64::from(r.plan.micro_batches) * u64::from(r.plan.vpp) * u64::from(r.plan.pp);
    if ops > MAX_STEP_OPS {
        return;
    }
    let Ok(step) = s.simulate_step(cat, file) else { return };
    positive("step_s", step.step_s);
    positive("tokens_per_s", step.tokens_per_s);
    fraction("mfu", step.mfu);
    let Ok((inputs, _)) = s.run_inputs(cat, file) else { return };
    if !(wanka_sim::run::inputs::estimated_events(&inputs) <= MAX_RUN_EVENTS) {
        return;
    }
    if let Ok(run) = s.simulate_run(cat, file, 1) {
        let mc = &run.monte_carlo;
        positive("wall_days", mc.wall_days.mean);
        fraction("ettr", mc.ettr.mean);
        // A finished run is never shorter than its work (up to the nanosecond rounding of the
        // engine's integer clock: a millionth of the work plus a microsecond).
        if mc.completed_fraction == 1.0 {
            let slack = run.context.ideal_days * 1e-6 + 1e-6 / 86_400.0;
            assert!(
                mc.wall_days.mean >= run.context.ideal_days - slack,
                "a finished run took {} days, less than its {} ideal days",
                mc.wall_days.mean,
                run.context.ideal_days
            );
        }
    }
    let _ = s.run_event_log(cat, file);
}

/// A scenario file.
pub fn scenario(data: &[u8]) {
    let Some(t) = text(data) else { return };
    if let Ok(s) = Scenario::parse(t, FILE) {
        simulate_scenario(&s, FILE);
    }
}

/// A plan file: parse and check; then, if small, a comparison with one seed.
pub fn plan(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let Ok(mut p) = PlanFile::parse(t, FILE) else { return };
    if p.candidates.len() > MAX_CANDIDATES {
        return;
    }
    if p.candidates.iter().any(|c| c.pools.iter().map(|q| u64::from(q.count)).sum::<u64>() > MAX_PLAN_DEVICES) {
        return;
    }
    if p.goal.batch_tokens / f64::from(p.goal.seq_len) > MAX_PLAN_SEQUENCES {
        return;
    }
    p.settings.seeds = 1;
    p.settings.top_k = p.settings.top_k.min(2);
    let Ok(c) = p.compare(catalog(), FILE) else { return };
    for r in c.candidates.iter().filter(|r| r.feasible) {
        positive("step_s", r.step_s);
        fraction("mfu", r.mfu);
        assert!(r.economics.total_usd.is_finite() && r.economics.total_usd >= 0.0, "{}: total_usd = {}", r.name, r.economics.total_usd);
    }
    for name in &c.pareto_front {
        let r = c.candidates.iter().find(|r| &r.name == name).expect("a Pareto name is a candidate");
        assert!(r.feasible && r.economics.total_usd.is_finite(), "{name} on the Pareto front with cost {}", r.economics.total_usd);
    }
}

/// Where a fuzzed sweep file "lives": beside the bundled sweeps, so `Scenario("../default.ron")` bases
/// resolve.
pub fn sweep_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios").join("sweeps").join(FILE)
}

/// A sweep file: parse (every point built and checked), then its first points with one seed.
pub fn sweep(data: &[u8]) {
    let Some(t) = text(data) else { return };
    // A base taken from a plan's candidate runs the plan's parallelism search while parsing (seconds
    // for the bundled 10k-device plan): such sweeps are left to the plan target.
    if t.contains("Plan") {
        return;
    }
    let opts = LoadOptions { seeds: Some(1), max_points: Some(MAX_SWEEP_POINTS), ..LoadOptions::default() };
    let path = sweep_path();
    let Ok(sw) = Sweep::parse(t, &path, catalog(), &opts) else { return };
    for p in sw.points.iter().take(MAX_SWEEP_POINTS_RUN) {
        simulate_scenario(&p.scenario, &sw.file);
        let cat = catalog();
        let cheap = p
            .scenario
            .resolve(cat, &sw.file)
            .is_ok_and(|r| 2 * u64::from(r.plan.micro_batches) * u64::from(r.plan.vpp) * u64::from(r.plan.pp) <= MAX_STEP_OPS)
            && p.scenario.run_inputs(cat, &sw.file).is_ok_and(|(i, _)| wanka_sim::run::inputs::estimated_events(&i) <= MAX_RUN_EVENTS);
        if cheap {
            let row = sw.evaluate(p, cat);
            assert_eq!(row.len(), sw.columns.len(), "a row has one cell per column");
        }
    }
}
