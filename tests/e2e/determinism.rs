//! Identical input gives byte-identical output: the simulator reads no clock and seeds every random
//! stream from the scenario.

use super::support::wanka;

#[test]
fn step_json_is_byte_identical_across_runs() {
    let a = wanka(["step", "scenarios/default.ron", "--json"]).success();
    let b = wanka(["step", "scenarios/default.ron", "--json"]).success();
    assert!(!a.stdout.is_empty());
    assert!(
        a.stdout == b.stdout,
        "two runs of `wanka step scenarios/default.ron --json` differ:\n--- first ---\n{}\n--- second ---\n{}",
        a.stdout,
        b.stdout
    );
    // And it is one JSON document with a positive step time.
    let v = a.json();
    let step = v["result"]["step_s"].as_f64().expect("result.step_s");
    assert!(step > 0.0 && step.is_finite(), "step_s {step}");
}

#[test]
fn step_text_is_byte_identical_across_runs() {
    let a = wanka(["step", "scenarios/default.ron"]).success();
    let b = wanka(["step", "scenarios/default.ron"]).success();
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn validate_json_is_byte_identical_across_runs() {
    let args = ["validate", "scenarios/validation/step_cases.csv", "--json"];
    let a = wanka(args).success();
    let b = wanka(args).success();
    assert!(a.stdout == b.stdout, "two validate runs differ");
}
