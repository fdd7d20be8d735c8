//! Stable-toolchain fuzzing of scenario, plan and sweep files, run by CI for a fixed short budget (the
//! `cargo fuzz` targets in `fuzz/` need nightly; both call the same `fuzz/src/harness.rs`, included
//! here by path).
//!
//! The seed corpus is what `fuzz/seed.sh` gives `cargo fuzz`: the bundled scenarios, plans and sweeps,
//! the bad-input corpus (`tests/bad_scenarios/`, sorted by its `// args:` line) and `fuzz/seeds/`.
//! Every seed runs once as it is, then mutants of the seeds run until the budget is spent: a seeded
//! RNG (splitmix64) applies one to three of byte flips, numeric extremes in place of a number
//! (1e308, -1, 0, NaN, inf, u64::MAX, 2^32, 1e-300, …), token swaps, copies and deletions of spans.
//! An input fails the test if the harness panics (the library returned a panic instead of an error,
//! or a result that makes no sense) or takes longer than [`PER_INPUT`]; the input is written to
//! `target/fuzz-failures/` and its path printed, so it can be replayed with `cargo fuzz run TARGET
//! FILE` or added to the bad-input corpus.
//!
//! Budget: `WANKA_FUZZ_SECS` seconds of mutants (default 20; `.ci/run` sets it), `WANKA_FUZZ_SEED`
//! the RNG seed (default 19). The same seed gives the same sequence of inputs; the budget only decides
//! how far along it the run gets.

#[path = "../../fuzz/src/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::support::repo_root;

/// Longest time one input may take (the harness caps its work to well under a second; this is the
/// hang detector, with room for a loaded CI machine).
const PER_INPUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Scenario,
    Plan,
    Sweep,
}

impl Kind {
    fn run(self, data: &[u8]) {
        match self {
            Kind::Scenario => harness::scenario(data),
            Kind::Plan => harness::plan(data),
            Kind::Sweep => harness::sweep(data),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Scenario => "scenario",
            Kind::Plan => "plan",
            Kind::Sweep => "sweep",
        }
    }
}

/// splitmix64: small, seeded, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Numbers a hostile or careless user writes.
const EXTREMES: &[&str] = &[
    "1e308",
    "-1e308",
    "1e-300",
    "-1",
    "-1.0",
    "0",
    "0.0",
    "-0.0",
    "NaN",
    "inf",
    "-inf",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967295",
    "4294967296",
    "2147483648",
    "65536",
    "1e9",
    "1e18",
    "3",
    "7",
    "1",
    "0.5",
    "1e-9",
];

/// Byte spans of the numbers in `t` (digits with an optional sign, point and exponent).
fn number_spans(t: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let starts = t[i].is_ascii_digit() && (i == 0 || !(t[i - 1].is_ascii_alphanumeric() || t[i - 1] == b'_'));
        if !starts {
            i += 1;
            continue;
        }
        let start = if i > 0 && t[i - 1] == b'-' { i - 1 } else { i };
        let mut j = i;
        while j < t.len() && (t[j].is_ascii_digit() || t[j] == b'.' || t[j] == b'_') {
            j += 1;
        }
        if j < t.len() && (t[j] == b'e' || t[j] == b'E') {
            let mut k = j + 1;
            if k < t.len() && (t[k] == b'-' || t[k] == b'+') {
                k += 1;
            }
            if k < t.len() && t[k].is_ascii_digit() {
                while k < t.len() && t[k].is_ascii_digit() {
                    k += 1;
                }
                j = k;
            }
        }
        spans.push((start, j));
        i = j;
    }
    spans
}

/// Byte spans of identifiers, quoted strings and numbers: the tokens swapped and copied.
fn token_spans(t: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let c = t[i];
        let end = if c == b'"' {
            let mut j = i + 1;
            while j < t.len() && t[j] != b'"' {
                j += 1;
            }
            (j + 1).min(t.len())
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            let mut j = i;
            while j < t.len() && (t[j].is_ascii_alphanumeric() || t[j] == b'_' || t[j] == b'.') {
                j += 1;
            }
            j
        } else {
            i += 1;
            continue;
        };
        spans.push((i, end));
        i = end;
    }
    spans
}

fn replace(t: &[u8], (a, b): (usize, usize), with: &[u8]) -> Vec<u8> {
    let mut o = Vec::with_capacity(t.len() + with.len());
    o.extend_from_slice(&t[..a]);
    o.extend_from_slice(with);
    o.extend_from_slice(&t[b..]);
    o
}

/// One mutation of `t`.
fn mutate_once(t: &[u8], rng: &mut Rng) -> Vec<u8> {
    if t.is_empty() {
        return EXTREMES[rng.below(EXTREMES.len())].as_bytes().to_vec();
    }
    match rng.below(8) {
        // A number replaced by an extreme (the most productive mutation: counted three times).
        0..=2 => {
            let spans = number_spans(t);
            if spans.is_empty() {
                return t.to_vec();
            }
            let s = spans[rng.below(spans.len())];
            replace(t, s, EXTREMES[rng.below(EXTREMES.len())].as_bytes())
        }
        // Two tokens swapped.
        3 => {
            let spans = token_spans(t);
            if spans.len() < 2 {
                return t.to_vec();
            }
            let (mut x, mut y) = (spans[rng.below(spans.len())], spans[rng.below(spans.len())]);
            if x.0 > y.0 {
                std::mem::swap(&mut x, &mut y);
            }
            if x.1 > y.0 {
                return t.to_vec();
            }
            let mut o = Vec::with_capacity(t.len());
            o.extend_from_slice(&t[..x.0]);
            o.extend_from_slice(&t[y.0..y.1]);
            o.extend_from_slice(&t[x.1..y.0]);
            o.extend_from_slice(&t[x.0..x.1]);
            o.extend_from_slice(&t[y.1..]);
            o
        }
        // A token replaced by another token of the file.
        4 => {
            let spans = token_spans(t);
            if spans.len() < 2 {
                return t.to_vec();
            }
            let (x, y) = (spans[rng.below(spans.len())], spans[rng.below(spans.len())]);
            replace(t, x, &t[y.0..y.1].to_vec())
        }
        // A bit flipped.
        5 => {
            let mut o = t.to_vec();
            let i = rng.below(o.len());
            o[i] ^= 1 << rng.below(8);
            o
        }
        // A span deleted.
        6 => {
            let a = rng.below(t.len());
            let b = (a + 1 + rng.below(64)).min(t.len());
            replace(t, (a, b), b"")
        }
        // A span copied elsewhere.
        _ => {
            let a = rng.below(t.len());
            let b = (a + 1 + rng.below(128)).min(t.len());
            let at = rng.below(t.len() + 1);
            replace(t, (at, at), &t[a..b].to_vec())
        }
    }
}

/// The seed corpus, as `fuzz/seed.sh` sorts it.
fn corpus() -> Vec<(Kind, PathBuf)> {
    let root = repo_root();
    let ron_in = |dir: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "ron"))
            .collect();
        v.sort();
        v
    };
    let mut c = Vec::new();
    for p in [root.join("scenarios/default.ron")].into_iter().chain(ron_in("scenarios/examples")) {
        c.push((Kind::Scenario, p));
    }
    c.push((Kind::Plan, root.join("scenarios/default_plan.ron")));
    for p in ron_in("scenarios/sweeps") {
        c.push((Kind::Sweep, p));
    }
    for p in ron_in("fuzz/seeds") {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let kind = if name.starts_with("plan") {
            Kind::Plan
        } else if name.starts_with("sweep") {
            Kind::Sweep
        } else {
            Kind::Scenario
        };
        c.push((kind, p));
    }
    for dir in ["tests/bad_scenarios", "tests/bad_scenarios/overflow"] {
        for p in ron_in(dir) {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let args = text.lines().nth(1).unwrap_or("");
            let kind = if args.starts_with("// args: compare") {
                Kind::Plan
            } else if args.starts_with("// args: sweep") {
                Kind::Sweep
            } else {
                Kind::Scenario
            };
            c.push((kind, p));
        }
    }
    c
}

/// Run one input on a worker thread: `Err` with the reason when it panics or outlives [`PER_INPUT`].
fn run_one(kind: Kind, data: Vec<u8>) -> Result<Duration, String> {
    run_guarded(move || kind.run(&data), PER_INPUT)
}

/// Run `work` on a worker thread: `Err` with the reason when it panics or outlives `limit`.
fn run_guarded(work: impl FnOnce() + Send + 'static, limit: Duration) -> Result<Duration, String> {
    let (tx, rx) = mpsc::channel();
    let t0 = Instant::now();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(AssertUnwindSafe(work));
        let _ = tx.send(r.map_err(|p| {
            p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
        }));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(())) => Ok(t0.elapsed()),
        Ok(Err(msg)) => Err(format!("panicked: {msg}")),
        Err(_) => Err(format!("still running after {limit:?} (a hang)")),
    }
}

/// Keep a failing input where it can be replayed.
fn save(kind: Kind, tag: &str, data: &[u8]) -> PathBuf {
    let dir = repo_root().join("target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join(format!("{}-{tag}.ron", kind.name()));
    let _ = std::fs::write(&p, data);
    p
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

#[test]
fn mutated_inputs_never_panic_or_hang() {
    let secs = env_num("WANKA_FUZZ_SECS", 20);
    let seed = env_num("WANKA_FUZZ_SEED", 19);
    let corpus: Vec<(Kind, PathBuf, Vec<u8>)> = corpus()
        .into_iter()
        .map(|(k, p)| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (k, p, bytes)
        })
        .collect();
    assert!(corpus.len() >= 100, "the seed corpus has only {} files", corpus.len());
    for k in [Kind::Scenario, Kind::Plan, Kind::Sweep] {
        assert!(corpus.iter().any(|c| c.0 == k), "no {} seeds", k.name());
    }
    let mut slowest = (Duration::ZERO, String::new());
    for (kind, path, bytes) in &corpus {
        match run_one(*kind, bytes.clone()) {
            Ok(d) if d > slowest.0 => slowest = (d, path.display().to_string()),
            Ok(_) => {}
            Err(why) => panic!("seed {} ({}) {why}", path.display(), kind.name()),
        }
    }
    let mut rng = Rng(seed);
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < Duration::from_secs(secs) {
        let (kind, path, bytes) = &corpus[rng.below(corpus.len())];
        let mut data = bytes.clone();
        for _ in 0..1 + rng.below(3) {
            data = mutate_once(&data, &mut rng);
        }
        match run_one(*kind, data.clone()) {
            Ok(d) if d > slowest.0 => slowest = (d, format!("mutant {n} of {}", path.display())),
            Ok(_) => {}
            Err(why) => {
                let saved = save(*kind, &format!("seed{seed}-{n}"), &data);
                panic!(
                    "mutant {n} (WANKA_FUZZ_SEED={seed}) of {} as a {} file {why}\n  input saved to {}",
                    path.display(),
                    kind.name(),
                    saved.display()
                );
            }
        }
        n += 1;
    }
    eprintln!(
        "fuzz: {} seeds and {n} mutants in {:.1} s, none panicked or hung; slowest {:.3} s ({})",
        corpus.len(),
        t0.elapsed().as_secs_f64(),
        slowest.0.as_secs_f64(),
        slowest.1
    );
}

#[test]
fn mutations_change_inputs_and_find_numbers() {
    // The mutator must do something: numbers are found where they are, and mutants differ.
    let t = b"(a: 1.5e3, b: -2, c: x1, d: \"s\")";
    let spans = number_spans(t);
    let got: Vec<&str> = spans.iter().map(|&(a, b)| std::str::from_utf8(&t[a..b]).unwrap()).collect();
    assert_eq!(got, ["1.5e3", "-2"]);
    let mut rng = Rng(1);
    let changed = (0..100).filter(|_| mutate_once(t, &mut rng) != t.to_vec()).count();
    assert!(changed > 80, "only {changed} of 100 mutants differ from their seed");
}

#[test]
fn the_guard_reports_panics_and_hangs() {
    let e = run_guarded(|| panic!("boom {}", 7), PER_INPUT).unwrap_err();
    assert!(e.contains("panicked: boom 7"), "{e}");
    let e = run_guarded(|| std::thread::sleep(Duration::from_secs(3)), Duration::from_millis(100)).unwrap_err();
    assert!(e.contains("a hang"), "{e}");
    assert!(run_guarded(|| (), PER_INPUT).is_ok());
}
