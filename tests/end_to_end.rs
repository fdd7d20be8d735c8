//! End-to-end tests of the `wanka` binary: build it once, run it from the repository root as a user
//! would, and check exit codes, stdout and stderr.
//!
//! The topical modules live in `e2e/`:
//! - `support`: building/locating the binary, running it, temporary files;
//! - `validation`: `wanka validate` against published runs and the JSON interface;
//! - `bad_input`: the corpus of bad scenarios in `bad_scenarios/` and the good scenarios;
//! - `cli`: the catalog, the infeasibility report and command-line errors;
//! - `determinism`: identical input gives byte-identical output.
//! - `outputs`: output files through symlinks, special files refused before work, failed writes, stdout;
//! - `fuzz`: mutated scenario, plan and sweep files through `fuzz/src/harness.rs` for a fixed budget.

mod e2e;
