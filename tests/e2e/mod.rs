pub mod support;

mod bad_input;
mod calibration;
mod cli;
mod determinism;
mod domains;
mod fuzz;
mod interop;
mod outputs;
mod schema;
mod sweep;
mod sweep_deploy;
mod sweep_resume;
mod validation;
