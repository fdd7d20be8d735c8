//! `cargo fuzz run sweep`: see `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wanka_fuzz::harness::sweep(data));
