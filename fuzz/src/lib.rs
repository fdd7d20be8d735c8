//! The fuzz harness shared by the `cargo fuzz` targets (`fuzz_targets/`) and the stable-toolchain
//! mutation test CI runs (`tests/e2e/fuzz.rs` includes `harness.rs` by path).
pub mod harness;
