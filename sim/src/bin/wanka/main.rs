//! `wanka`: the command-line front end. A thin shell over `wanka_sim`: parse flags, call the library,
//! print, map errors to exit codes (1 = failed check, 2 = bad input).

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use wanka_sim::Catalog;

/// `print!` through [`emit`]: a closed pipe ends output quietly, any other write error is an error.
macro_rules! out {
    ($($t:tt)*) => { $crate::emit(&format!($($t)*)) };
}
/// `eprintln!` that never fails: a closed or broken stderr (`wanka … 2>&1 | head -1`) must not abort
/// the work (the results still get written), so write errors on stderr are ignored.
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}
/// `println!` through [`emit`].
macro_rules! outln {
    ($($t:tt)*) => { $crate::emit(&format!("{}\n", format_args!($($t)*))) };
}

mod report;
mod sweep_cmd;

#[derive(Parser)]
#[command(name = "wanka", version, about = "wanka (万卡): plan GPU/accelerator clusters for large-model training")]
struct Cli {
    /// Read the catalog from this directory instead of the built-in one: chips.ron and fabrics.ron
    /// (required), failures.ron and stacks.ron (each used when present, else the built-in file).
    #[arg(long, global = true)]
    catalog_dir: Option<PathBuf>,
    /// Layer a calibration overlay (written by `wanka calibrate … --chip ID --out FILE`) over the
    /// catalog: its fitted constants replace the catalog's, its leave-one-out errors give the model-error
    /// bands. The built-in catalog is never changed.
    #[arg(long, global = true)]
    calibration: Option<PathBuf>,
    /// No progress on stderr (compare, run, sweep); errors and notes still go there.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Compare candidate clusters of a plan: parallelism search, training run, cost and energy.
    Compare {
        /// Plan file (RON); default: the bundled scenarios/default_plan.ron.
        plan: Option<PathBuf>,
        /// Print one JSON object (`candidates` holds one ranked entry per candidate).
        #[arg(long)]
        json: bool,
        /// Also write the ranked table as CSV to this file.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Monte Carlo seeds per candidate (overrides the plan's settings; at least 1).
        #[arg(long, value_parser = seeds_arg)]
        seeds: Option<u64>,
        /// Also print why each candidate's best plan beats its runner-up, term by term.
        #[arg(long)]
        explain: bool,
    },
    /// Simulate one training step of a scenario: step time, MFU, breakdown, memory.
    Step {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Print one JSON object instead of the report.
        #[arg(long)]
        json: bool,
        /// Also price every setting in which this stack differs from the scenario's: the step with
        /// only that setting taken from it, and with all of them ("which missing optimisation costs
        /// what"). Stack ids: `wanka catalog`.
        #[arg(long, value_name = "STACK")]
        versus_stack: Option<String>,
    },
    /// Simulate the whole training run with failures, checkpoints and restarts (Monte Carlo).
    Run {
        /// Scenario file (RON); default: the bundled scenarios/default.ron.
        scenario: Option<PathBuf>,
        /// Monte Carlo seeds (independent runs; at least 1).
        #[arg(long, default_value_t = 200, value_parser = seeds_arg)]
        seeds: u64,
        /// Print one JSON object instead of the report.
        #[arg(long)]
        json: bool,
        /// Write the event log of the first seed's run as JSON lines.
        #[arg(long)]
        events: Option<PathBuf>,
    },
    /// Run a sweep file: many variants of a scenario in parallel, as one table (CSV, JSON lines);
    /// resumable, shardable, a CI gate with expectations (exit 1 when one fails).
    Sweep(sweep_cmd::SweepArgs),
    /// Combine the output directories of a sweep's shards into the outputs of a single run.
    Merge(sweep_cmd::MergeArgs),
    /// List the chips, fabrics and topologies of the catalog.
    Catalog {
        #[arg(long)]
        json: bool,
    },
    /// Compare predictions with published runs in a case file (step or reliability layout).
    Validate {
        /// Case file (CSV) in the layout of scenarios/validation/README.md.
        cases: PathBuf,
        #[arg(long)]
        json: bool,
        /// Whole-run files: print for every run why the searched plan beats the published one, term by
        /// term (always printed for runs whose search is flagged).
        #[arg(long)]
        explain: bool,
    },
    /// Read a training framework's configuration (Megatron-LM launch script, NeMo recipe YAML, Hugging
    /// Face config.json, torchtitan TOML) into a wanka scenario (RON). Every option that could not be
    /// mapped is listed, as comments in the scenario and on stderr.
    Import(ImportArgs),
    /// Write a scenario as Megatron-LM launch arguments or a NeMo recipe override (YAML).
    Export {
        /// Target format.
        #[arg(value_enum)]
        tool: ExportTool,
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Write to this file (atomically) instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Print the JSON schema of a `--json` output (step, run, compare, validate, catalog, calibrate).
    Schema {
        /// Which output.
        #[arg(value_enum)]
        kind: SchemaKind,
    },
    /// Fit calibration constants. Without --chip/--family: each chip family's GEMM ceilings (BF16/FP16,
    /// then FP8) from step cases, with in-sample and leave-one-out errors. With --chip ID (or --family
    /// ID): one family's constants from your own measurements — any mix of step rows (validation layout),
    /// GEMM rows (CSV `m,n,k,dtype,tflops|time_us`), attention-kernel rows (CSV
    /// `batch,seq_len,heads,head_dim,causal,dtype,tflops|time_us`, flash-attention's FLOP convention),
    /// nccl-tests output and HCCL Test tables — written as an overlay with --out (load it with
    /// --calibration FILE, or name it in a plan's `calibration:` field).
    Calibrate {
        /// Measurement files: step cases (CSV, validation layout), GEMM rows (CSV), attention-kernel rows
        /// (CSV), nccl-tests or HCCL Test output (text).
        #[arg(required = true)]
        cases: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
        /// The chip the measurements were taken on: fit its calibration family from the files.
        #[arg(long, conflicts_with = "write_accuracy")]
        chip: Option<String>,
        /// Fit this calibration family (GEMM rows use the peaks of the first chip it was fitted on, or
        /// its first chip); with --chip, must be that chip's family.
        #[arg(long, conflicts_with = "write_accuracy")]
        family: Option<String>,
        /// Fabric the collective measurements ran over (catalog id; required with nccl-tests and HCCL
        /// Test files).
        #[arg(long)]
        fabric: Option<String>,
        /// HCCL Test files: the total number of ranks (mpirun's -n) when the log has no `mpirun -n N`
        /// line (the table does not print it).
        #[arg(long)]
        ranks: Option<usize>,
        /// HCCL Test files: the collective (all-reduce, all-gather, reduce-scatter, alltoall, broadcast,
        /// reduce) when the log has no `./bin/<name>_test` line.
        #[arg(long, value_parser = collective_arg)]
        collective: Option<wanka_sim::validate::measurements::CollectiveKind>,
        /// Write the fitted constants as a calibration overlay (RON) to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The overlay is the measured chip's alone: loading it gives the chip a profile of its own
        /// (`<family>@<chip>`) and leaves the family's other chips as they are (default: the whole family
        /// moves).
        #[arg(long, requires = "chip")]
        chip_only: bool,
        /// Date written into the overlay's provenance (YYYY-MM-DD; default: today, UTC).
        #[arg(long)]
        date: Option<String>,
        /// Also write the leave-one-out accuracy table (per family and stack) to this CSV file, as
        /// `scenarios/validation/accuracy.csv` is made.
        #[arg(long)]
        write_accuracy: Option<PathBuf>,
        /// Also write every case's leave-one-out error (the rows behind the accuracy table, which the
        /// model-error bands use) to this CSV file, as `scenarios/validation/accuracy_errors.csv` is made.
        #[arg(long, requires = "write_accuracy")]
        write_loo_errors: Option<PathBuf>,
        /// MoE case file whose (never fitted) errors give the accuracy rows of MoE predictions in the
        /// table written by --write-accuracy.
        #[arg(long, requires = "write_accuracy")]
        moe_cases: Option<PathBuf>,
        /// Holdout case file (never fitted) whose runs give the accuracy rows of the families no
        /// constant is fitted for, in the table written by --write-accuracy.
        #[arg(long, requires = "write_accuracy")]
        holdout_cases: Option<PathBuf>,
    },
}

/// `wanka import`: the file and what it cannot say.
#[derive(clap::Args)]
struct ImportArgs {
    /// Which tool wrote the file.
    #[arg(value_enum)]
    tool: ImportTool,
    /// The configuration file.
    file: PathBuf,
    /// Write the scenario to this file (atomically) instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Chip id of the catalog (`wanka catalog`); no framework file names the hardware.
    #[arg(long)]
    chip: Option<String>,
    /// Devices of the job (overrides a launch script's example node count).
    #[arg(long)]
    gpus: Option<u32>,
    /// Devices per scale-up domain.
    #[arg(long)]
    gpus_per_node: Option<u32>,
    /// Tokens to train on (when the file gives no steps or samples), e.g. 1e12.
    #[arg(long)]
    tokens: Option<f64>,
    /// Sequence length in tokens (a Hugging Face config has none).
    #[arg(long)]
    seq_len: Option<u32>,
    /// The model's padded vocabulary when the file names a tokenizer wanka cannot size.
    #[arg(long)]
    vocab: Option<u32>,
    /// Scenario name (default: "<model> on <gpus> <chip>").
    #[arg(long)]
    name: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ImportTool {
    Megatron,
    Nemo,
    Hf,
    Torchtitan,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportTool {
    Megatron,
    Nemo,
}

/// The outputs with a JSON schema (`wanka schema KIND`).
#[derive(Clone, Copy, clap::ValueEnum)]
enum SchemaKind {
    Step,
    Run,
    Compare,
    Validate,
    Catalog,
    Calibrate,
}

/// The schemas, compiled in (`sim/schemas/`); `tests/e2e/schema.rs` validates real outputs against them.
fn schema_text(kind: SchemaKind) -> &'static str {
    match kind {
        SchemaKind::Step => include_str!("../../../schemas/step.schema.json"),
        SchemaKind::Run => include_str!("../../../schemas/run.schema.json"),
        SchemaKind::Compare => include_str!("../../../schemas/compare.schema.json"),
        SchemaKind::Validate => include_str!("../../../schemas/validate.schema.json"),
        SchemaKind::Catalog => include_str!("../../../schemas/catalog.schema.json"),
        SchemaKind::Calibrate => include_str!("../../../schemas/calibrate.schema.json"),
    }
}

/// `--seeds N`: a whole number from 1 to the library's limit (0 seeds would simulate nothing).
pub(crate) fn seeds_arg(s: &str) -> std::result::Result<u64, String> {
    let n: u64 = s.trim().parse().map_err(|_| format!("`{s}` is not a whole number of seeds"))?;
    if n == 0 {
        return Err("must be at least 1: every Monte Carlo seed is one simulated run, and 0 runs has no result".into());
    }
    wanka_sim::limits::seeds("command line", "--seeds", n).map_err(|e| e.to_string())
}

/// Run `work` while another thread shows its progress on stderr (`done` of `total` units read from
/// the [`wanka_sim::Cancel`] it is given): a bar on a terminal, otherwise (or when `CI` is set) a plain
/// line every `WANKA_PROGRESS_SECS` seconds (default 5); nothing with `--quiet` or when the work ends
/// within a second.
fn with_progress<T>(what: &str, unit: &str, total: u64, quiet: bool, work: impl FnOnce(&wanka_sim::Cancel) -> T) -> T {
    use std::io::IsTerminal;
    use std::sync::mpsc::{RecvTimeoutError, channel};
    use std::time::{Duration, Instant};
    let cancel = wanka_sim::Cancel::new();
    if quiet {
        return work(&cancel);
    }
    let (tx, rx) = channel::<()>();
    let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let every = std::env::var("WANKA_PROGRESS_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map_or(Duration::from_secs(5), Duration::from_secs_f64);
    std::thread::scope(|scope| {
        let watcher = cancel.clone();
        scope.spawn(move || {
            let t0 = Instant::now();
            let mut bar: Option<indicatif::ProgressBar> = None;
            let mut last_line = Instant::now();
            loop {
                match rx.recv_timeout(Duration::from_millis(200).min(every.max(Duration::from_millis(10)))) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => break,
                }
                if t0.elapsed() < Duration::from_secs(1).min(every) {
                    continue;
                }
                let done = watcher.progress().min(total);
                if tty {
                    let b = bar.get_or_insert_with(|| {
                        let b = indicatif::ProgressBar::new(total);
                        if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
                            "{what} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {unit} (ETA {{eta}})"
                        )) {
                            b.set_style(style);
                        }
                        b
                    });
                    b.set_position(done);
                } else if last_line.elapsed() >= every {
                    let secs = t0.elapsed().as_secs_f64();
                    errln!("{what}: {done}/{total} {unit} ({:.0}%), elapsed {secs:.0} s", 100.0 * done as f64 / total.max(1) as f64);
                    last_line = Instant::now();
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        let out = work(&cancel);
        drop(tx);
        out
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if stdout_was_closed() {
        // A warning, not an error: Python's `subprocess.DEVNULL` (how many CI harnesses discard output)
        // opens /dev/null read-write too and cannot be told apart from a closed stdout.
        errln!(
            "warning: stdout is /dev/null opened read-write: it was closed when wanka started (`>&-`, which the runtime \
             reopens on /dev/null) or discarded on purpose (Python's subprocess.DEVNULL); the report is not written anywhere"
        );
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            errln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn load_catalog(dir: &Option<PathBuf>) -> Result<Catalog> {
    let Some(d) = dir else {
        return Ok(Catalog::builtin().clone());
    };
    let catalog = Catalog::load_dir(d)?;
    // The failure profiles and stack profiles live beside the hardware catalog: an edited copy in the
    // directory replaces the built-in one for this process (never silently ignored).
    let failures = d.join("failures.ron");
    if failures.exists() {
        let name = failures.display().to_string();
        let text = wanka_sim::ron_util::read_file(&failures)?;
        wanka_sim::run::failure::install_profiles(wanka_sim::run::failure::parse_profiles(&text, &name)?)?;
    } else {
        errln!("note: {} has no failures.ron: using the built-in failure profiles", d.display());
    }
    let stacks = d.join("stacks.ron");
    if stacks.exists() {
        let name = stacks.display().to_string();
        let text = wanka_sim::ron_util::read_file(&stacks)?;
        wanka_sim::step::stack::install_profiles(wanka_sim::step::stack::parse_stacks(&text, &name)?, &name)?;
    } else {
        errln!("note: {} has no stacks.ron: using the built-in stack profiles", d.display());
    }
    Ok(catalog)
}

/// The bundled default plan and scenario, compiled into the binary: `wanka` with no arguments works
/// from any directory, whatever machine built it.
const DEFAULT_PLAN: (&str, &str) = ("scenarios/default_plan.ron (built in)", include_str!("../../../../scenarios/default_plan.ron"));
const DEFAULT_SCENARIO: (&str, &str) = ("scenarios/default.ron (built in)", include_str!("../../../../scenarios/default.ron"));

/// A scenario file, or the built-in default scenario; with the name errors use.
fn load_scenario(path: Option<&PathBuf>) -> Result<(wanka_sim::Scenario, String)> {
    Ok(match path {
        Some(p) => (wanka_sim::Scenario::load(p)?, p.display().to_string()),
        None => (wanka_sim::Scenario::parse(DEFAULT_SCENARIO.1, DEFAULT_SCENARIO.0)?, DEFAULT_SCENARIO.0.to_string()),
    })
}

/// A scenario with `parallelism: (auto: true, …)` with its plan searched (the planner's search);
/// any other scenario as it is.
fn searched(s: wanka_sim::Scenario, catalog: &Catalog, name: &str) -> Result<wanka_sim::Scenario> {
    if s.auto.is_none() {
        return Ok(s);
    }
    let cache = wanka_sim::planning::search::SearchCache::new();
    Ok(wanka_sim::planning::auto::search_scenario(&s, catalog, name, &cache, &wanka_sim::cancel::Cancel::new())?)
}

/// The errors of a never-fitted case file's simulated cases (their plain errors are out of sample).
fn plain_case_errors(file: &std::path::Path, catalog: &wanka_sim::Catalog) -> Result<Vec<wanka_sim::step::accuracy::CaseError>> {
    let r = wanka_sim::validate::validate_steps(file, catalog)?;
    Ok(r.cases
        .iter()
        .filter_map(|c| {
            c.error.map(|e| wanka_sim::step::accuracy::CaseError {
                family: c.family.clone(),
                stack: c.stack.clone(),
                case: c.id.clone(),
                loo_error: e,
            })
        })
        .collect())
}

/// Case errors with their stack marked as coming from a never-fitted file (`moe:`, `holdout:`).
fn with_stack_prefix(
    errors: Vec<wanka_sim::step::accuracy::CaseError>,
    prefix: &str,
) -> impl Iterator<Item = wanka_sim::step::accuracy::CaseError> + '_ {
    errors.into_iter().map(move |mut c| {
        c.stack = format!("{prefix}{}", c.stack);
        c
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut catalog = load_catalog(&cli.catalog_dir)?;
    if let Some(f) = &cli.calibration {
        let overlay = wanka_sim::hardware::overlay::Overlay::load(f)?;
        catalog.apply_overlay(&overlay, &f.display().to_string())?;
        let families: Vec<&String> = overlay.calibrations.keys().collect();
        let fabrics: Vec<&String> = overlay.fabrics.keys().collect();
        errln!(
            "note: calibration overlay {} ({}, {} rows) over the catalog: families {:?}, fabrics {:?}",
            f.display(),
            overlay.provenance.date,
            overlay.provenance.rows_used,
            families,
            fabrics
        );
    }
    let catalog = catalog;
    let quiet = cli.quiet;
    let command = cli.command.unwrap_or(Command::Compare { plan: None, json: false, csv: None, seeds: None, explain: false });
    match command {
        Command::Compare { plan, json, csv, seeds, explain } => {
            use wanka_sim::planning::plan_file::PlanFile;
            let (mut p, name) = match &plan {
                Some(path) => (PlanFile::load(path)?, path.display().to_string()),
                None => (PlanFile::parse(DEFAULT_PLAN.1, DEFAULT_PLAN.0)?, DEFAULT_PLAN.0.to_string()),
            };
            if let Some(n) = seeds {
                p.settings.seeds = wanka_sim::limits::seeds("command line", "--seeds", n)?;
            }
            // The plan's `calibration:` overlay, unless `--calibration` gave one (the flag wins).
            let plan_catalog = match (&cli.calibration, p.calibration_path(plan.as_deref())) {
                (Some(flag), Some(field)) => {
                    errln!(
                        "note: --calibration {} is used; the plan's `calibration: {}` is not (the flag wins)",
                        flag.display(),
                        field.display()
                    );
                    None
                }
                (None, Some(field)) => {
                    let cat = p.calibrated_catalog(&catalog, plan.as_deref(), &name)?;
                    errln!("note: calibration overlay {} (the plan's `calibration` field) over the catalog", field.display());
                    cat
                }
                _ => None,
            };
            let catalog = plan_catalog.as_ref().unwrap_or(&catalog);
            if let Some(f) = &csv {
                check_writable(f)?;
            }
            let t0 = std::time::Instant::now();
            let total = p.candidates.len() as u64 * p.settings.seeds;
            let c = with_progress("compare", "Monte Carlo runs", total, quiet, |cancel| p.compare_cancellable(catalog, &name, cancel))?;
            let elapsed = t0.elapsed().as_secs_f64();
            if let Some(f) = csv {
                write_atomic(&f, report::compare_csv(&c)?.as_bytes())?;
            }
            if json {
                emit_json("compare", serde_json::to_value(&c)?)?;
            } else {
                emit(&report::compare_text(&c, elapsed));
                if explain {
                    emit(&report::compare_explain_text(&c, p.goal.seq_len));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Step { scenario, json, versus_stack } => {
            let (s, name) = load_scenario(Some(&scenario))?;
            let s = searched(s, &catalog, &name)?;
            let r = s.simulate_step(&catalog, &name)?;
            let versus = versus_stack.map(|id| s.compare_stack(&catalog, &name, &id)).transpose()?;
            if json {
                let mut v = report::step_json(&s, &r);
                if let Some(c) = &versus {
                    v["versus_stack"] = serde_json::to_value(c)?;
                }
                emit_json("step", with_defaults(v, &s))?;
            } else {
                emit(&report::step_text(&s, &r, &catalog));
                if let Some(c) = &versus {
                    emit(&report::stack_comparison_text(&s, c));
                }
                emit(&defaults_text(&s));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { scenario, seeds, json, events } => {
            wanka_sim::limits::seeds("command line", "--seeds", seeds)?;
            if let Some(ev) = &events {
                check_writable(ev)?;
            }
            let (s, name) = load_scenario(scenario.as_ref())?;
            let s = searched(s, &catalog, &name)?;
            if !quiet {
                let t = report::searched_text(&s);
                if !t.is_empty() {
                    errln!("{}", t.trim_end());
                }
            }
            let r = with_progress("run", "seeds", seeds, quiet, |cancel| s.simulate_run_cancellable(&catalog, &name, seeds, cancel))?;
            if let Some(ev) = events {
                let log = s.run_event_log(&catalog, &name)?;
                let mut text = String::new();
                for e in &log {
                    text.push_str(&serde_json::to_string(e)?);
                    text.push('\n');
                }
                write_atomic(&ev, text.as_bytes())?;
            }
            if json {
                emit_json("run", with_defaults(report::run_json(&r), &s))?;
            } else {
                emit(&report::run_text(&r));
                emit(&defaults_text(&s));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(a) => {
            use wanka_sim::interop::{ImportOptions, Tool};
            if let Some(f) = &a.output {
                check_writable(f)?;
            }
            let tool = match a.tool {
                ImportTool::Megatron => Tool::Megatron,
                ImportTool::Nemo => Tool::Nemo,
                ImportTool::Hf => Tool::Hf,
                ImportTool::Torchtitan => Tool::Torchtitan,
            };
            if let Some(t) = a.tokens
                && !(t > 0.0 && t.is_finite())
            {
                anyhow::bail!("--tokens: must be a positive number of tokens, got {t}");
            }
            let name = a.file.display().to_string();
            let text = wanka_sim::ron_util::read_file(&a.file)?;
            let opts = ImportOptions {
                chip: a.chip,
                gpus: a.gpus,
                gpus_per_node: a.gpus_per_node,
                tokens: a.tokens,
                seq_len: a.seq_len,
                vocab: a.vocab,
                name: a.name,
            };
            let imp = wanka_sim::interop::import(tool, &text, &name, &opts)?;
            // A scenario that does not resolve is still written (it is a complete file to edit), with the reason.
            if let Err(e) = imp.scenario.resolve(&catalog, &name) {
                errln!("warning: the imported scenario does not resolve as it stands: {e}");
            }
            for n in &imp.notes {
                errln!("note: {n}");
            }
            if !imp.unmapped.is_empty() {
                errln!("not mapped ({} options of {name}; also listed as comments in the scenario):", imp.unmapped.len());
                for u in &imp.unmapped {
                    errln!("  {} {}: {}", u.option, u.value.replace('\n', " "), u.why);
                }
            }
            match a.output {
                Some(f) => {
                    write_atomic(&f, imp.text.as_bytes())?;
                    errln!("wrote {}", f.display());
                }
                None => emit(&imp.text),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { tool, scenario, output } => {
            if let Some(f) = &output {
                check_writable(f)?;
            }
            let (s, name) = load_scenario(Some(&scenario))?;
            let text = match tool {
                ExportTool::Megatron => wanka_sim::interop::megatron::export(&s, &catalog, &name)?,
                ExportTool::Nemo => wanka_sim::interop::nemo::export(&s, &catalog, &name)?,
            };
            match output {
                Some(f) => write_atomic(&f, text.as_bytes())?,
                None => emit(&text),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema { kind } => {
            emit(schema_text(kind));
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep(args) => sweep_cmd::sweep(args, &catalog, quiet),
        Command::Merge(args) => sweep_cmd::merge(args, &catalog),
        Command::Catalog { json } => {
            if json {
                emit_json("catalog", report::catalog_json(&catalog))?;
            } else {
                emit(&report::catalog_text(&catalog));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Calibrate {
            cases,
            json,
            chip,
            family,
            fabric,
            ranks,
            collective,
            out,
            chip_only,
            date,
            write_accuracy,
            write_loo_errors,
            moe_cases,
            holdout_cases,
        } => {
            if chip.is_some() || family.is_some() {
                let hint = wanka_sim::validate::measurements::CollectiveHint { ranks, collective };
                return calibrate_measurements(&catalog, &cases, chip, family, fabric, hint, (out, chip_only), date, json);
            }
            if out.is_some() || fabric.is_some() || ranks.is_some() || collective.is_some() {
                anyhow::bail!(
                    "--out, --fabric, --ranks and --collective fit one family from measurements: name it with --chip ID or --family ID"
                );
            }
            for f in write_accuracy.iter().chain(&write_loo_errors) {
                check_writable(f)?;
            }
            let mut all = Vec::new();
            for f in &cases {
                all.extend(wanka_sim::validate::read_step_cases(f)?);
            }
            let fits = wanka_sim::validate::calibrate::fit_all(&all, &catalog);
            if let Some(f) = write_accuracy {
                let mut rows = wanka_sim::step::accuracy::rows_from_errors(fits.iter().flat_map(|f| f.loo_errors()));
                let mut case_errors: Vec<wanka_sim::step::accuracy::CaseError> = fits
                    .iter()
                    .flat_map(|f| {
                        f.cases.iter().map(|(id, stack, e)| wanka_sim::step::accuracy::CaseError {
                            family: f.family.clone(),
                            stack: stack.clone(),
                            case: id.clone(),
                            loo_error: *e,
                        })
                    })
                    .collect();
                use wanka_sim::step::accuracy::{CaseError, HOLDOUT_PREFIX, holdout_rows_from_errors, moe_rows_from_errors};
                if let Some(m) = &moe_cases {
                    let e = plain_case_errors(m, &catalog)?;
                    rows.extend(moe_rows_from_errors(e.iter().map(CaseError::as_error)));
                    case_errors.extend(with_stack_prefix(e, "moe:"));
                }
                if let Some(h) = &holdout_cases {
                    let fitted: Vec<&str> = fits.iter().map(|f| f.family.as_str()).collect();
                    let mut e = plain_case_errors(h, &catalog)?;
                    e.retain(|c| !fitted.contains(&c.family.as_str()));
                    rows.extend(holdout_rows_from_errors(e.iter().map(CaseError::as_error), &fitted));
                    case_errors.extend(with_stack_prefix(e, HOLDOUT_PREFIX));
                }
                write_atomic(&f, wanka_sim::step::accuracy::to_csv(&rows).as_bytes())?;
                if let Some(e) = write_loo_errors {
                    write_atomic(&e, wanka_sim::step::accuracy::errors_to_csv(&case_errors).as_bytes())?;
                }
            }
            if json {
                emit_json("calibrate", serde_json::json!({ "fits": fits }))?;
            } else {
                emit(&report::calibration_text(&fits));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { cases, json, explain } => {
            let kind = wanka_sim::validate::case_kind(&cases)?;
            match kind {
                wanka_sim::validate::CaseKind::Step => {
                    let r = wanka_sim::validate::validate_steps(&cases, &catalog)?;
                    if json {
                        emit_json("validate", serde_json::to_value(&r)?)?;
                    } else {
                        emit(&report::validation_text(&r));
                    }
                    Ok(ExitCode::SUCCESS)
                }
                wanka_sim::validate::CaseKind::WholeRun => {
                    let r = wanka_sim::validate::whole_run::validate_whole_runs(&cases, &catalog)?;
                    if json {
                        emit_json("validate", serde_json::to_value(&r)?)?;
                    } else {
                        emit(&report::whole_run_text(&r, explain));
                    }
                    Ok(ExitCode::SUCCESS)
                }
                wanka_sim::validate::CaseKind::Reliability => {
                    let r = wanka_sim::validate::validate_reliability(&cases, wanka_sim::validate::RELIABILITY_SEEDS)?;
                    if json {
                        emit_json("validate", serde_json::to_value(&r)?)?;
                    } else {
                        emit(&report::reliability_text(&r));
                    }
                    Ok(if r.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
                }
            }
        }
    }
}

/// `wanka calibrate FILES… --chip ID`: fit one family from measurements, print the fit, write the overlay.
#[allow(clippy::too_many_arguments)]
fn calibrate_measurements(
    catalog: &Catalog,
    files: &[PathBuf],
    chip: Option<String>,
    family: Option<String>,
    fabric: Option<String>,
    hint: wanka_sim::validate::measurements::CollectiveHint,
    (out, chip_only): (Option<PathBuf>, bool),
    date: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    use wanka_sim::validate::calibrate::{MeasureRequest, fit_measurements};
    if let Some(f) = &out {
        check_writable(f)?;
    }
    let closest = |id: &str, ids: Vec<&String>| wanka_sim::error::closest_ids(id, ids.into_iter()).join(", ");
    let (chip_id, family_id) = match (&chip, &family) {
        (Some(c), fam) => {
            let ch = catalog
                .chips
                .get(c)
                .ok_or_else(|| anyhow::anyhow!("--chip: unknown chip `{c}`; closest: {}", closest(c, catalog.chips.keys().collect())))?;
            if let Some(f) = fam.as_ref().filter(|f| **f != ch.calibration) {
                anyhow::bail!("--family {f}: chip {c} belongs to family {} (give one of the two, or matching ones)", ch.calibration);
            }
            (c.clone(), ch.calibration.clone())
        }
        (None, Some(f)) => {
            let cal = catalog.calibrations.get(f).ok_or_else(|| {
                anyhow::anyhow!(
                    "--family: unknown calibration family `{f}`; closest: {}",
                    closest(f, catalog.calibrations.keys().collect())
                )
            })?;
            let first =
                cal.fitted_on.first().cloned().or_else(|| catalog.chips.values().find(|ch| &ch.calibration == f).map(|ch| ch.id.clone()));
            let Some(c) = first else { anyhow::bail!("--family {f}: no chip of the catalog uses it; name the chip with --chip") };
            errln!("note: --family {f}: GEMM rows are converted with the peaks of {c} (name another with --chip)");
            (c, f.clone())
        }
        (None, None) => unreachable!("called with --chip or --family"),
    };
    let others: Vec<&String> =
        catalog.chips.values().filter(|ch| ch.calibration == family_id && ch.id != chip_id).map(|ch| &ch.id).collect();
    if chip_only {
        errln!(
            "note: --chip-only: the overlay gives {chip_id} a profile of its own ({family_id}@{chip_id}); the family's other chips keep theirs"
        );
    } else if !others.is_empty() {
        errln!(
            "note: family {family_id} is shared: an overlay of it also moves {} (--chip-only keeps it to {chip_id})",
            others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut data = Vec::new();
    for f in files {
        data.push((f.display().to_string(), wanka_sim::validate::measurements::read_with(f, hint)?));
    }
    let date = match date {
        Some(d) => {
            let ok = d.len() == 10 && d.chars().enumerate().all(|(i, ch)| if i == 4 || i == 7 { ch == '-' } else { ch.is_ascii_digit() });
            if !ok {
                anyhow::bail!("--date: `{d}` is not YYYY-MM-DD");
            }
            d
        }
        None => today_utc(),
    };
    let tool = format!("wanka {} calibrate", env!("CARGO_PKG_VERSION"));
    let q = MeasureRequest { family: &family_id, chip: &chip_id, fabric: fabric.as_deref(), date: &date, tool: &tool, chip_only };
    let fit = fit_measurements(&data, catalog, &q)?;
    if let Some(f) = &out {
        write_atomic(f, fit.overlay.to_ron().as_bytes())?;
    }
    if json {
        emit_json("calibrate", serde_json::to_value(&fit)?)?;
    } else {
        emit(&report::measured_fit_text(&fit, out.as_deref()));
    }
    if json {
        // The text report lists them; with --json they also go to stderr, where a person sees them.
        for w in &fit.warnings {
            errln!("warning: {w}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--collective NAME`.
fn collective_arg(s: &str) -> std::result::Result<wanka_sim::validate::measurements::CollectiveKind, String> {
    wanka_sim::validate::measurements::CollectiveKind::parse(s)
        .ok_or_else(|| format!("`{s}` is not a collective; allowed: {}", wanka_sim::validate::measurements::CollectiveKind::ALLOWED))
}

/// Today's date in UTC, `YYYY-MM-DD` (civil-from-days, H. Hinnant's algorithm).
fn today_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Version of the JSON outputs' layout (`schema_version` in every `--json` object; `wanka schema
/// KIND` prints the schema). Raised whenever a field is renamed, removed or changes type.
pub const SCHEMA_VERSION: u64 = 2;

/// Print one `--json` object of output `kind`, with its `schema` and `schema_version`.
fn emit_json(kind: &str, mut v: serde_json::Value) -> Result<()> {
    let o = v.as_object_mut().ok_or_else(|| anyhow::anyhow!("internal: {kind} JSON output is not an object"))?;
    o.insert("schema".into(), serde_json::json!(format!("wanka.{kind}")));
    o.insert("schema_version".into(), serde_json::json!(SCHEMA_VERSION));
    emit(&format!("{}\n", serde_json::to_string_pretty(&v)?));
    Ok(())
}

/// The defaults a scenario file left open, as the report's closing notes (empty when none).
fn defaults_text(s: &wanka_sim::Scenario) -> String {
    let mut o = String::new();
    if !s.defaults.0.is_empty() {
        o.push_str("\ndefaults filled (fields the scenario file omits):\n");
        for n in &s.defaults.0 {
            o.push_str(&format!("  note: {n}\n"));
        }
    }
    o
}

/// A JSON report with `defaults_filled`: the notes of the defaults the scenario file left open.
fn with_defaults(mut v: serde_json::Value, s: &wanka_sim::Scenario) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("defaults_filled".into(), serde_json::json!(s.defaults.0));
    }
    v
}

/// Write a file so that it is either complete or absent: the library's `write_atomic` (temporary
/// sibling, fsync, rename, fsync of the directory), its error as `path: reason`.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    Ok(wanka_sim::sweep::table::write_atomic(path, bytes)?)
}

/// Refuse an output path before the work starts (see `wanka_sim::sweep::table::check_writable`).
fn check_writable(path: &std::path::Path) -> Result<()> {
    Ok(wanka_sim::sweep::table::check_writable(path)?)
}

/// Write to stdout; a closed pipe (`wanka … | head`) ends output quietly instead of panicking; any
/// other write error (`>/dev/full`: no space left) is an error, exit code 2.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        errln!("error: cannot write stdout: {e}");
        std::process::exit(2);
    }
}

/// Whether stdout was closed when the process started (`wanka step s.ron >&-`). The Rust runtime
/// reopens a closed descriptor 0–2 on `/dev/null` before `main`, so writes would succeed and the
/// report vanish with exit code 0. It opens it read-write, while a shell's `>/dev/null` opens it
/// write-only: on Linux `/proc/self/fdinfo/1` tells the two apart. A stdout on /dev/null opened
/// read-write on purpose (`1<>/dev/null`, Python's `subprocess.DEVNULL`) looks the same, so `main` only
/// warns. Elsewhere, or without `/proc`, this says `false` (a closed stdout then goes unnoticed).
fn stdout_was_closed() -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    let on_null = std::fs::read_link("/proc/self/fd/1").is_ok_and(|p| p == std::path::Path::new("/dev/null"));
    if !on_null {
        return false;
    }
    let Ok(info) = std::fs::read_to_string("/proc/self/fdinfo/1") else { return false };
    // `flags:` is octal; the access mode is its two low bits (O_RDWR = 2).
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & 3 == 2)
}
