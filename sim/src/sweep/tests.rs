//! Tests of sweep files: grids, zips, overrides, bad paths, sampling, shards.

use super::*;

fn load(text: &str) -> Result<Sweep, WankaError> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/sweeps/test.ron");
    Sweep::parse(text, &path, Catalog::builtin(), &LoadOptions::default())
}

#[test]
fn grid_zip_and_overrides() {
    let s = load(
        r#"(
            name: "t",
            base: Scenario("../default.ron"),
            set: {"run.failures.multiplier": 2},
            axes: {
                "cluster.gpus": [4096, 8192],
                "parallelism.dp": [64, 128],
                "run.checkpoint.interval": [Fixed(minutes: 30), Daly],
            },
            zip: [["cluster.gpus", "parallelism.dp"]],
            seeds: 2,
            expect: ["days_p90 < 1000", (check: "mfu > 0.1", when: "cluster.gpus == 8192")],
        )"#,
    )
    .unwrap();
    assert_eq!(s.points.len(), 4);
    let p = &s.points[3];
    assert_eq!(p.scenario.cluster.gpus, 8192);
    assert_eq!(p.scenario.parallelism.dp, 128);
    assert_eq!(p.scenario.run.failures.multiplier, 2.0);
    assert_eq!(p.scenario.run.checkpoint.interval, crate::run::checkpoint::Interval::Daly);
    assert_eq!(p.inputs, vec!["8192", "128", "Daly"]);
    assert_eq!(s.points[0].inputs[2], "Fixed(minutes: 30)");
    assert_ne!(s.points[0].scenario.seed, s.points[1].scenario.seed);
    assert_eq!(s.expectations.len(), 2);
    let row = s.evaluate(&s.points[0], Catalog::builtin());
    assert_eq!(row[1], "ok", "{row:?}");
    assert_eq!(row.len(), s.columns.len());
}

#[test]
fn bad_paths_and_types_name_the_path() {
    let base = |axes: &str| format!("(name: \"t\", base: Scenario(\"../default.ron\"), axes: {{{axes}}})");
    let e = load(&base("\"cluster.gpuz\": [1]")).unwrap_err().to_string();
    assert!(e.contains("test.ron") && e.contains("axes.cluster.gpuz") && e.contains("unknown field `gpuz`"), "{e}");
    let e = load(&base("\"cluster.gpus\": [4096.5]")).unwrap_err().to_string();
    assert!(e.contains("axes.cluster.gpus") && e.contains("4096.5"), "{e}");
    let e = load(&base("\"run.checkpoint.interval\": [Hourly]")).unwrap_err().to_string();
    assert!(e.contains("axes.run.checkpoint.interval") && e.contains("Hourly"), "{e}");
    let e = load(&base("\"run.failures.multiplier\": [1, -1]")).unwrap_err().to_string();
    assert!(e.contains("point 1") && e.contains("run.failures.multiplier"), "{e}");
    let e = load(&base("\"cluster.chip\": [\"h900\"]")).unwrap_err().to_string();
    assert!(e.contains("h900"), "{e}");
    let e = load(&base("\"run.failures.multiplier\": Uniform(min: 1, max: 2)")).unwrap_err().to_string();
    assert!(e.contains("steps"), "{e}");
}

#[test]
fn random_and_lhs_are_deterministic_and_stratified() {
    let text = |s: &str| {
        format!(
            "(name: \"t\", base: Scenario(\"../default.ron\"), sampling: {s}, axes: {{\"run.failures.multiplier\": Uniform(min: 0.0, max: 4.0), \"run.recovery.hot_spare_nodes\": Int(min: 0, max: 9)}})"
        )
    };
    let a = load(&text("LatinHypercube(n: 10, seed: 3)")).unwrap();
    let b = load(&text("LatinHypercube(n: 10, seed: 3)")).unwrap();
    assert_eq!(a.fingerprint, b.fingerprint);
    let mut strata: Vec<usize> = a.points.iter().map(|p| (p.scenario.run.failures.multiplier / 0.4) as usize).collect();
    strata.sort();
    assert_eq!(strata, (0..10).collect::<Vec<_>>());
    let mut spares: Vec<u32> = a.points.iter().map(|p| p.scenario.run.recovery.hot_spare_nodes.unwrap()).collect();
    spares.sort();
    assert_eq!(spares, (0..10).collect::<Vec<_>>());
    let r = load(&text("Random(n: 5, seed: 3)")).unwrap();
    assert_eq!(r.points.len(), 5);
    assert_ne!(r.fingerprint, a.fingerprint);
}

#[test]
fn shards_parse() {
    assert_eq!("1/4".parse::<Shard>().unwrap(), Shard { index: 1, count: 4 });
    assert!("4/4".parse::<Shard>().is_err());
    assert!("x".parse::<Shard>().is_err());
    assert!(Shard { index: 1, count: 3 }.contains(4));
}
