//! Tests of the run simulator: accounting against the event log, monotonicity, determinism, spares, async checkpoints.

use super::*;
use crate::run::checkpoint::CheckpointCost;
use crate::run::failure::Component;
use crate::run::failure::{FailureLaw, Unit};
use crate::run::monte_carlo::monte_carlo;
use crate::run::spec::RunSpec;
use proptest::prelude::*;

fn inputs(rate_per_hour: f64, repair: bool, spares: u32) -> RunInputs {
    let comp = Component {
        name: "c".into(),
        unit: Unit::Device,
        rate_per_unit_hour: rate_per_hour / 1000.0,
        distribution: FailureLaw::Exponential,
        needs_repair: repair,
        optional: false,
    };
    RunInputs {
        devices: 1000,
        gpus_per_node: 8,
        work_s: 10.0 * 86400.0,
        degraded_speed: vec![1.0, 0.9, 0.8],
        replicas_per_node: 1,
        checkpoint: CheckpointCost { bytes: 1e12, stall_s: 30.0, durable_after_s: 90.0, load_s: 20.0 },
        interval_s: 1800.0,
        processes: vec![Process::new(&comp, 1000, 8, 1.0)],
        recovery: RecoverySpec::default(),
        hot_spare_nodes: spares,
        stragglers: StragglerSpec { rate_per_node_hour: 1e-4, ..Default::default() },
        maintenance: Some(MaintenanceSpec { interval_hours: 48.0, duration_min: 20.0 }),
        max_s: 3650.0 * 86400.0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, rng_seed: proptest::test_runner::RngSeed::Fixed(38), .. ProptestConfig::default() })]

    /// The outcome against the event log's own timestamps, not against the accumulators it is summed
    /// from: the wall clock is the last event's time; rework is the work each failure rolled back
    /// (the log's work before and after); down time (interruption to resumed, non-elastic) is
    /// restart plus waiting; counts match the logged events.
    #[test]
    fn accounting_matches_the_event_log(rate in 0.0f64..2.0, repair in any::<bool>(), spares in 0u32..4, seed in 0u64..1000) {
        let mut inp = inputs(rate, repair, spares);
        inp.recovery.repair_hours = 6.0;
        let (o, log) = simulate_run(&inp, seed, true);
        let log = log.expect("asked for the log");
        let (first, last) = (log.first().unwrap(), log.last().unwrap());
        prop_assert_eq!(first.kind.as_str(), "start");
        prop_assert!((o.wall_s - (last.t_s - first.t_s)).abs() <= 1e-6 * o.wall_s.max(1.0), "{} vs {}", o.wall_s, last.t_s);
        if o.completed {
            prop_assert_eq!(last.kind.as_str(), "done");
            prop_assert!((last.work_s - inp.work_s).abs() < 1e-6);
        } else {
            prop_assert_eq!(last.kind.as_str(), "horizon");
        }
        let count = |k: &str| log.iter().filter(|e| e.kind == k).count() as u64;
        prop_assert_eq!(count("interruption"), o.interruptions);
        prop_assert_eq!(count("failure while down"), o.failures_while_down);
        prop_assert_eq!(count("checkpoint"), o.checkpoints);
        // A window is counted when its checkpoint starts; a failure during that checkpoint cancels
        // the window before it is logged, so the log can hold fewer.
        prop_assert!(count("maintenance") <= o.maintenance_windows);
        // Rework: a "failure" logs the work before the rollback, its "interruption" the work after.
        let rework: f64 = log.windows(2).filter(|w| w[0].kind == "failure" && w[1].kind == "interruption").map(|w| w[0].work_s - w[1].work_s).sum();
        prop_assert!((rework - o.lost.rework_s).abs() <= 1e-6 * o.wall_s.max(1.0), "{rework} vs {}", o.lost.rework_s);
        // Down windows: from an interruption of a running job (or a maintenance window that ends a
        // node short) to the next "resumed" (or the end). A job that is down is never interrupted:
        // failures then are "failure while down".
        let mut down = 0.0;
        let mut since: Option<f64> = None;
        for e in &log {
            match e.kind.as_str() {
                "interruption" => {
                    prop_assert!(since.is_none(), "interrupted at {} while down since {:?}", e.t_s, since);
                    since = Some(e.t_s);
                }
                "down after maintenance" => since = Some(e.t_s),
                "resumed" => down += e.t_s - since.take().expect("resumed after an interruption"),
                _ => {}
            }
        }
        if let Some(t) = since {
            down += last.t_s - t;
        }
        let restart_and_wait = o.lost.restart_s + o.lost.spare_wait_s;
        prop_assert!((down - restart_and_wait).abs() <= 1e-6 * o.wall_s.max(1.0), "{down} vs {restart_and_wait}");
    }

    /// ETTR in [0, 1]; a finished run did exactly the work asked, an unfinished one ran to the horizon.
    /// (That useful time plus the losses is the wall clock holds by construction — the wall clock is
    /// their sum — so it is checked against the event log instead, below.)
    #[test]
    fn outcome_is_consistent(rate in 0.0f64..2.0, repair in any::<bool>(), spares in 0u32..4, elastic in any::<bool>(), seed in 0u64..1000) {
        let mut inp = inputs(rate, repair, spares);
        inp.recovery.elastic = elastic;
        inp.recovery.repair_hours = 6.0;
        let (o, _) = simulate_run(&inp, seed, false);
        prop_assert!(o.ettr >= 0.0 && o.ettr <= 1.0);
        prop_assert!(!o.completed || o.ettr > 0.0);
        // Without enough spares a fast-failing job may never run long enough to finish; when it
        // does finish it has done exactly the work asked.
        if o.completed {
            prop_assert!((o.useful_s - inp.work_s).abs() < 1e-6);
        } else {
            prop_assert!(o.useful_s < inp.work_s && (o.wall_s - inp.max_s).abs() < 1e-3);
        }
    }
}

#[test]
fn zero_failures_cost_only_checkpoints() {
    let mut inp = inputs(0.0, false, 0);
    inp.stragglers.rate_per_node_hour = 0.0;
    inp.maintenance = None;
    let (o, _) = simulate_run(&inp, 7, false);
    let ckpts = (inp.work_s / inp.interval_s).ceil() - 1.0;
    assert_eq!(o.interruptions, 0);
    assert_eq!(o.checkpoints as f64, ckpts);
    let expect = inp.work_s / (inp.work_s + ckpts * inp.checkpoint.stall_s);
    assert!((o.ettr - expect).abs() < 1e-12, "{} vs {expect}", o.ettr);
    assert_eq!(o.lost.checkpoint_s, ckpts * 30.0);
}

#[test]
fn doubling_failure_rates_never_shortens_the_expected_run() {
    let mut prev = 0.0;
    for rate in [0.05, 0.1, 0.2, 0.4, 0.8] {
        let mc = monte_carlo(&inputs(rate, true, 2), 11, 64);
        assert!(mc.wall_days.mean >= prev, "rate {rate}: {} < {prev}", mc.wall_days.mean);
        prev = mc.wall_days.mean;
    }
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let inp = inputs(0.5, true, 1);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| monte_carlo(&inp, 3, 40));
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| monte_carlo(&inp, 3, 40));
    assert_eq!(serde_json::to_string(&one).unwrap(), serde_json::to_string(&two).unwrap());
    assert_eq!(one, two, "per-seed records and the first outcome too");
}

#[test]
fn no_spares_means_waiting_for_repairs() {
    let mut inp = inputs(1.0, true, 0);
    inp.recovery.repair_hours = 12.0;
    let (o, _) = simulate_run(&inp, 5, false);
    assert!(o.lost.spare_wait_s > 0.0);
    let mut with_spares = inp.clone();
    with_spares.hot_spare_nodes = 50;
    let (o2, _) = simulate_run(&with_spares, 5, false);
    assert_eq!(o2.lost.spare_wait_s, 0.0);
    assert!(o2.wall_s < o.wall_s);
    // Elastic: keep going on fewer replicas instead of waiting.
    let mut el = inp.clone();
    el.recovery.elastic = true;
    let (o3, _) = simulate_run(&el, 5, false);
    assert!(o3.wall_s < o.wall_s, "{} vs {}", o3.wall_s, o.wall_s);
}

#[test]
fn async_checkpoint_exposes_work_until_durable() {
    // Same stall; a longer background write can only lose more work.
    let mut a = inputs(1.0, false, 0);
    a.checkpoint.durable_after_s = a.checkpoint.stall_s;
    let mut b = a.clone();
    b.checkpoint.durable_after_s = 900.0;
    let ma = monte_carlo(&a, 1, 64);
    let mb = monte_carlo(&b, 1, 64);
    assert!(mb.lost_days_mean.rework_days > ma.lost_days_mean.rework_days);
}

#[test]
fn event_log_is_deterministic_and_ordered() {
    let inp = inputs(0.5, true, 20);
    let (_, l1) = simulate_run(&inp, 9, true);
    let (_, l2) = simulate_run(&inp, 9, true);
    let l1 = l1.unwrap();
    assert_eq!(Some(l1.clone()), l2);
    assert!(l1.windows(2).all(|w| w[0].t_s <= w[1].t_s));
    assert!(l1.iter().any(|e| e.kind == "interruption"));
    assert_eq!(l1.last().unwrap().kind, "done");
}

#[test]
fn bad_run_specs_are_rejected() {
    let mut r = RunSpec::default();
    r.failures.multiplier = -1.0;
    assert!(r.check("x.ron").unwrap_err().to_string().contains("run.failures.multiplier"));
    let mut r = RunSpec::default();
    r.checkpoint.storage_write_gb_per_s_per_device = 0.0;
    assert!(r.check("x.ron").unwrap_err().to_string().contains("storage_write_gb_per_s_per_device"));
    let mut r = RunSpec::default();
    r.stragglers.slowdown = 1.5;
    assert!(r.check("x.ron").is_err());
}

/// Mean wall clock (days) and ETTR over `seeds` seeds.
fn mean_wall_and_ettr(inp: &RunInputs, seeds: u64) -> (f64, f64) {
    let runs: Vec<RunOutcome> = (0..seeds).map(|s| simulate_run(inp, s, false).0).collect();
    let n = runs.len() as f64;
    (runs.iter().map(|o| o.wall_s).sum::<f64>() / n / 86400.0, runs.iter().map(|o| o.ettr).sum::<f64>() / n)
}

proptest! {
    // A fixed seed: the same cases on every run (the simulator is deterministic; so are its tests).
    #![proptest_config(ProptestConfig { cases: 24, rng_seed: proptest::test_runner::RngSeed::Fixed(19), .. ProptestConfig::default() })]

    /// Issue 19: a longer detection never shortens a run, over the whole legal range (up to
    /// `limits::MAX_DURATION_S`, where the clock once wrapped): beyond the horizon the run is reported
    /// incomplete at the horizon, never as a shorter run.
    #[test]
    fn longer_detection_never_shortens_a_run(a in 0.0f64..1.0, b in 0.0f64..1.0, rate in 0.05f64..1.0) {
        let (lo, hi) = (a.min(b), a.max(b));
        // Log-uniform over [1 s, MAX_DURATION_S], plus the exact bound.
        let d = |u: f64| if u > 0.98 { crate::limits::MAX_DURATION_S } else { crate::limits::MAX_DURATION_S.powf(u) };
        let mut short = inputs(rate, false, 1);
        short.max_s = 400.0 * 86400.0;
        short.recovery.detection_s = d(lo);
        let mut long = short.clone();
        long.recovery.detection_s = d(hi);
        // The claim is about the mean over seeds: two nearly equal detections (days long, at a high
        // rate) can swap order on a few seeds, so the mean may fall short of the shorter detection's by
        // at most three standard errors of the paired (same-seed) difference.
        let seeds = 8u64;
        let walls = |inp: &RunInputs| (0..seeds).map(|s| simulate_run(inp, s, false).0.wall_s / 86400.0).collect::<Vec<f64>>();
        let (short_days, long_days) = (walls(&short), walls(&long));
        let diffs: Vec<f64> = long_days.iter().zip(&short_days).map(|(l, s)| l - s).collect();
        let n = seeds as f64;
        let mean = diffs.iter().sum::<f64>() / n;
        let sd = (diffs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let ws = short_days.iter().sum::<f64>() / n;
        prop_assert!(
            mean >= -3.0 * sd / n.sqrt() - 1e-3 * ws,
            "detection {} s: {ws} days, {} s: {} days (paired sd {sd})", d(lo), d(hi), ws + mean
        );
        for s in 0..4 {
            let o = simulate_run(&long, s, false).0;
            prop_assert!(o.completed || (o.wall_s - long.max_s).abs() < 1e-6, "incomplete run reported at {} s", o.wall_s);
            prop_assert!(o.wall_s <= long.max_s + 1e-6);
        }
    }

    /// Issue 19: higher failure rates never raise ETTR (mean over seeds, common random numbers).
    #[test]
    fn higher_failure_rates_never_raise_ettr(a in 0.0f64..3.0, b in 0.0f64..3.0) {
        let (lo, hi) = (a.min(b), a.max(b));
        let (_, e_lo) = mean_wall_and_ettr(&inputs(lo, false, 1), 8);
        let (_, e_hi) = mean_wall_and_ettr(&inputs(hi, false, 1), 8);
        prop_assert!(e_hi <= e_lo + 0.01, "rate {lo}: ETTR {e_lo}, rate {hi}: ETTR {e_hi}");
    }
}

/// A 256-node job (2,048 GPUs), 20 days of work, 4 hot spares, repairs of 24 h on average, with
/// node-taking failures from one component.
fn correlated_job(unit: Unit, rate_per_unit_hour: f64) -> RunInputs {
    let comp = Component {
        name: "hardware".into(),
        unit,
        rate_per_unit_hour,
        distribution: FailureLaw::Exponential,
        needs_repair: true,
        optional: false,
    };
    let mut inp = inputs(0.0, true, 4);
    inp.devices = 2048;
    inp.work_s = 20.0 * 86400.0;
    inp.processes = vec![Process::new(&comp, 2048, 8, 1.0)];
    inp.recovery.repair_hours = 24.0;
    inp.stragglers = StragglerSpec::default();
    inp.maintenance = None;
    inp
}

/// Correlated failures (a 16-node domain taking all its nodes at once) against independent node
/// failures of the same mean rate of nodes lost: the p10–p90 band of days is wider. A real Monte
/// Carlo: if the engine took one node per event, or none, the two bands would be alike.
#[test]
fn correlated_failures_widen_the_band_of_days() {
    let per_node_hour = 1.0 / (180.0 * 24.0); // one failure per node in six months: ~28 nodes lost in 20 days
    let independent = correlated_job(Unit::Node, per_node_hour);
    // 16 domains of 16 nodes; each event takes 16 nodes, so the domain rate is the node rate.
    let correlated = correlated_job(Unit::Domain { nodes: 16 }, per_node_hour);
    let (pi, pc) = (&independent.processes[0], &correlated.processes[0]);
    assert_eq!(pc.nodes_per_event, 16);
    assert!((pi.node_loss_rate_per_hour(480.0) - pc.node_loss_rate_per_hour(480.0)).abs() < 1e-12, "same mean rate of nodes lost");
    assert!((pc.mean_rate_per_hour(480.0) * 16.0 - pi.mean_rate_per_hour(480.0)).abs() < 1e-12, "a sixteenth of the events");
    let seeds = 400;
    let (mi, mc) = (monte_carlo(&independent, 7, seeds), monte_carlo(&correlated, 7, seeds));
    let band = |m: &crate::run::MonteCarlo| m.wall_days.p90 - m.wall_days.p10;
    println!(
        "independent: {:.2}-{:.2} days ({:.1} interruptions); correlated: {:.2}-{:.2} days ({:.1} interruptions)",
        mi.wall_days.p10, mi.wall_days.p90, mi.interruptions.mean, mc.wall_days.p10, mc.wall_days.p90, mc.interruptions.mean
    );
    assert!(band(&mc) > 2.0 * band(&mi), "correlated band {:.3} d vs independent {:.3} d", band(&mc), band(&mi));
    // Fewer, larger events: far fewer interruptions for the same nodes lost.
    assert!(mc.interruptions.mean < mi.interruptions.mean / 4.0);
}

/// Lemon nodes fail again and again until replaced: with 2 lemons retired after 3 failures each, a run
/// long enough sees exactly 6 lemon failures (interruptions or failures while down), never more.
#[test]
fn lemon_nodes_are_replaced_after_their_last_failure() {
    let lemon = Component {
        name: "lemon nodes".into(),
        unit: Unit::Node,
        rate_per_unit_hour: 1.0 / 24.0, // one failure a day per lemon
        distribution: FailureLaw::Lemon { share_of_nodes: 0.015, retire_after: 3 },
        needs_repair: false,
        optional: false,
    };
    let mut inp = correlated_job(Unit::Node, 0.0);
    inp.devices = 1000; // 125 nodes: 1.5% rounds up to 2 lemons
    inp.processes = vec![Process::new(&lemon, 1000, 8, 1.0)];
    assert_eq!(inp.processes[0].lemons(), Some((2, 3)));
    inp.work_s = 60.0 * 86400.0;
    let mc = monte_carlo(&inp, 3, 64);
    for (seed, r) in mc.per_seed() {
        assert_eq!(r.interruptions + r.failures_while_down, 6, "seed {seed}");
    }
    // The same rate without retirement keeps failing: about two a day over the 60 days.
    let plain = Component { distribution: FailureLaw::Exponential, unit: Unit::Node, ..lemon };
    inp.processes = vec![Process::new(&plain, 16, 8, 1.0)];
    let (o, _) = simulate_run(&inp, 3, false);
    assert!(o.interruptions + o.failures_while_down > 60, "{}", o.interruptions);
}

#[test]
fn optional_entries_only_when_included() {
    use crate::run::failure::profile;
    let p = profile("a100-cloud").unwrap();
    let mut spec = RunSpec::default();
    let base = spec.processes(p, 992, 8, 1000.0);
    assert!(base.iter().all(|x| x.lemons().is_none() && x.nodes_per_event == 1));
    spec.failures.include = vec!["lemon nodes".into(), "leaf switch / link flash cut (16 nodes)".into()];
    let all = spec.processes(p, 992, 8, 1000.0);
    assert_eq!(all.len(), base.len() + 2);
    assert!(all.iter().any(|x| x.lemons() == Some((2, 3))), "1.3% of 124 nodes rounds up to 2 lemons");
    assert!(all.iter().any(|x| x.nodes_per_event == 16));
    spec.failures.include = vec!["lemons".into()];
    assert_eq!(spec.unknown_includes(p), vec!["lemons"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(335), .. ProptestConfig::default() })]

    /// Quiet stretches are advanced in closed form only when no event log is kept; with the log every
    /// checkpoint is an event. Both must give the same outcome to the tick, whatever the mix of
    /// failures, spares, elastic mode, stragglers, maintenance and checkpoint policy (synchronous,
    /// asynchronous with writes spanning several cycles, no stall at all).
    #[test]
    fn skipping_quiet_cycles_changes_nothing(
        rate in 0.0f64..1.5, repair in any::<bool>(), spares in 0u32..3, elastic in any::<bool>(),
        policy in 0usize..4, stragglers in any::<bool>(), maintenance in any::<bool>(), seed in 0u64..1000,
    ) {
        let mut inp = inputs(rate, repair, spares);
        inp.recovery.elastic = elastic;
        inp.recovery.repair_hours = 6.0;
        let (stall_s, durable_after_s) = [(30.0, 30.0), (30.0, 90.0), (30.0, 4000.0), (0.0, 0.0)][policy];
        inp.checkpoint.stall_s = stall_s;
        inp.checkpoint.durable_after_s = durable_after_s;
        inp.interval_s = 600.0;
        if !stragglers {
            inp.stragglers.rate_per_node_hour = 0.0;
        }
        if !maintenance {
            inp.maintenance = None;
        }
        let (fast, _) = simulate_run(&inp, seed, false);
        let (stepped, log) = simulate_run(&inp, seed, true);
        prop_assert_eq!(&fast, &stepped);
        // The stepped run really did step: one logged checkpoint per checkpoint counted.
        let logged = log.expect("asked for the log").iter().filter(|e| e.kind == "checkpoint").count() as u64;
        prop_assert_eq!(logged, stepped.checkpoints);
    }
}
