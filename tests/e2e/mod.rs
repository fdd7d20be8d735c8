pub mod support;

mod bad_input;
mod cli;
mod determinism;
mod validation;
