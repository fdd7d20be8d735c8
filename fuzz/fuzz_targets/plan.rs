//! `cargo fuzz run plan`: see `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wanka_fuzz::harness::plan(data));
