//! Tests of the plan form: round trip, edits, text errors, command-line names, error placement.

use super::*;

fn default_plan() -> PlanFile {
    let dir = crate::files::find_scenarios_dir(None).unwrap();
    PlanFile::load(&dir.join("default_plan.ron")).unwrap()
}

#[test]
fn round_trips_the_default_plan() {
    let p = default_plan();
    assert_eq!(PlanForm::new(&p).build().unwrap(), p);
}

#[test]
fn edits_reach_the_plan() {
    let p = default_plan();
    let mut f = PlanForm::new(&p);
    f.set_text(PlanKnob::PoolCount(1, 0), "5120");
    f.set_text(PlanKnob::Deadline, "");
    f.set_text(PlanKnob::Spares(2), "7");
    f.pricing[3] = PricingKind::Rental;
    f.set_text(PlanKnob::RentalUsd(3), "1.5");
    f.interval[0] = IntervalKind::Fixed;
    f.set_text(PlanKnob::CheckpointMinutes(0), "30");
    let b = f.build().unwrap();
    assert_eq!(b.candidates[1].pools[0].count, 5120);
    assert_eq!(b.goal.deadline_days, None);
    assert_eq!(b.candidates[2].run.recovery.hot_spare_nodes, Some(7));
    assert_eq!(b.candidates[3].money, Money::Rental { usd_per_device_hour: 1.5 });
    assert_eq!(b.candidates[0].run.checkpoint.interval, wanka_sim::run::checkpoint::Interval::Fixed { minutes: 30.0 });
    // Back to purchase: the candidate's own terms come back.
    f.pricing[3] = PricingKind::Purchase;
    assert_eq!(f.build().unwrap().candidates[3].money, p.candidates[3].money);
}

#[test]
fn text_errors_name_their_field() {
    let mut f = PlanForm::new(&default_plan());
    f.set_text(PlanKnob::PoolCount(1, 0), "lots");
    f.set_text(PlanKnob::Pue(0), "");
    let e = f.build().unwrap_err();
    assert!(e.get(PlanKnob::PoolCount(1, 0))[0].contains("`lots` is not a whole number"));
    assert!(!e.get(PlanKnob::Pue(0)).is_empty());
}

#[test]
fn command_line_names() {
    assert_eq!(plan_knob_by_name("c2.count"), Some(PlanKnob::PoolCount(1, 0)));
    assert_eq!(plan_knob_by_name("c5.pool2.count"), Some(PlanKnob::PoolCount(4, 1)));
    assert_eq!(plan_knob_by_name("C1.PUE"), Some(PlanKnob::Pue(0)));
    assert_eq!(plan_knob_by_name("budget"), Some(PlanKnob::Budget));
    assert_eq!(plan_knob_by_name("c0.count"), None);
    assert_eq!(plan_knob_by_name("c1.chip"), None);
    assert_eq!(plan_knob_by_name("tp"), None);
}

#[test]
fn plan_errors_land_on_their_field() {
    use PlanKnob::*;
    assert_eq!(plan_knob_of_field("candidates[1].pools[0].count"), PoolCount(1, 0));
    assert_eq!(plan_knob_of_field("candidates[0].pools[1].gpus_per_node"), PoolCount(0, 1));
    assert_eq!(plan_knob_of_field("candidates[12].pools[0].chip"), PoolChip(12, 0));
    assert_eq!(plan_knob_of_field("candidates[2].pools[0].network.fabric"), Fabric(2));
    assert_eq!(plan_knob_of_field("candidates[0].money.usd_per_device_hour"), RentalUsd(0));
    assert_eq!(plan_knob_of_field("candidates[0].money.storage_usd"), Pricing(0));
    assert_eq!(plan_knob_of_field("candidates[4].power.pue"), Pue(4));
    assert_eq!(plan_knob_of_field("candidates[3].run.failures.multiplier"), FailureMultiplier(3));
    assert_eq!(plan_knob_of_field("candidates[3].run.checkpoint.interval"), CheckpointInterval(3));
    assert_eq!(plan_knob_of_field("candidates[3].run.checkpoint.host_copy_gb_per_s"), CheckpointPolicy(3));
    assert_eq!(plan_knob_of_field("candidates[3]"), Candidate(3));
    assert_eq!(plan_knob_of_field("goal.batch_tokens"), BatchTokens);
    assert_eq!(plan_knob_of_field("goal.model"), Model);
    assert_eq!(plan_knob_of_field("candidates"), Other);
    assert_eq!(plan_knob_of_field("candidates[x].pools"), Other);
    let mut p = default_plan();
    p.candidates[1].pools[0].count = 0;
    let e = p.check("p.ron").unwrap_err();
    let (k, msg) = place_plan_error(&e);
    assert_eq!(k, PoolCount(1, 0));
    assert!(msg.starts_with("field `candidates[1].pools[0].count`"), "{msg}");
}

#[test]
fn removing_and_copying_candidates_moves_their_text_with_them() {
    let mut f = PlanForm::new(&default_plan());
    let n = f.base.candidates.len();
    f.set_text(PlanKnob::Nic(2), "123");
    f.set_text(PlanKnob::PoolCount(3, 0), "not yet a number");
    assert!(f.remove_candidate(1));
    assert_eq!(f.base.candidates.len(), n - 1);
    assert_eq!(f.text(PlanKnob::Nic(1)), "123");
    assert_eq!(f.text(PlanKnob::PoolCount(2, 0)), "not yet a number");
    assert_eq!(f.text(PlanKnob::Nic(n - 1)), "", "nothing left past the end");
    let copy = f.duplicate_candidate(1).unwrap();
    assert_eq!(copy, 2);
    assert_eq!(f.text(PlanKnob::Nic(2)), "123");
    assert_eq!(f.text(PlanKnob::PoolCount(3, 0)), "not yet a number", "the next candidate moved up one");
    assert_ne!(f.base.candidates[1].name, f.base.candidates[2].name);
    let built = f.clone();
    f.set_text(PlanKnob::PoolCount(3, 0), "1024");
    let p = f.build().expect("numbers");
    assert_eq!(p.candidates[2].network.nic_gbit_per_s_per_gpu, 123.0);
    assert!(built.build().is_err());
    // A plan keeps one candidate.
    while f.base.candidates.len() > 1 {
        assert!(f.remove_candidate(0));
    }
    assert!(!f.remove_candidate(0));
    assert_eq!(f.selected, 0);
}

#[test]
fn the_new_plan_is_valid() {
    let p = new_plan();
    assert_eq!(p.candidates.len(), 1);
    p.check("<new plan>").unwrap();
}

#[test]
fn a_name_that_counts_other_devices_is_noted() {
    assert!(stale_name_note("10k H800 (RoCE 400G)", 10240).is_none());
    assert!(stale_name_note("4k H100 + 6k A800 (RoCE 400G)", 4096 + 6144).is_none());
    let n = stale_name_note("10k H800 (RoCE 400G)", 5120).expect("stale");
    assert!(n.contains("10000") && n.contains("5120"), "{n}");
    assert!(stale_name_note("New candidate", 1024).is_none());
    assert!(stale_name_note("16k Ascend 910B", 8192).is_some());
}

#[test]
fn pins_are_lists_of_whole_numbers() {
    assert_eq!(parse_pins(""), Ok(None));
    assert_eq!(parse_pins(" auto "), Ok(None));
    assert_eq!(parse_pins("8"), Ok(Some(vec![8])));
    assert_eq!(parse_pins("4, 8 16"), Ok(Some(vec![4, 8, 16])));
    assert!(parse_pins("0").is_err() && parse_pins("eight").is_err() && parse_pins("-4").is_err());
    let mut f = PlanForm::new(&default_plan());
    f.set_text(PlanKnob::PinTp(1), "4");
    let p = f.build().unwrap();
    assert_eq!(p.candidates[1].parallelism.tp, Some(vec![4]));
    assert_eq!(p.candidates[0].parallelism.tp, None);
    // Pins follow their candidate when another is removed.
    assert!(f.remove_candidate(0));
    assert_eq!(f.text(PlanKnob::PinTp(0)), "4");
}
