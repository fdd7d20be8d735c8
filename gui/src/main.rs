//! `wanka-gui`: the desktop app. `wanka-gui --view memory --scenario scenarios/default.ron`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use wanka_gui::app::NamedEdit;
use wanka_gui::{View, WankaApp};

#[derive(Clone, Copy, ValueEnum)]
enum ViewArg {
    /// Plans: the comparison table and the time-versus-cost chart.
    Candidates,
    /// Plans: two or more candidates side by side, with the differences.
    Compare,
    /// Plans: what moves the selected candidate's days and cost.
    Sensitivity,
    Step,
    Memory,
    Topology,
    /// Progress of the training run with failures, restarts and checkpoints.
    Run,
    /// Useful time versus each kind of loss.
    Losses,
    Validation,
}

#[derive(Clone, Copy, ValueEnum)]
enum ThemeArg {
    /// Follow the operating system (default).
    System,
    Dark,
    Light,
}

#[derive(Parser)]
#[command(
    name = "wanka-gui",
    version,
    about = "wanka (万卡) desktop app: edit a scenario or plan; see one step, memory, topology, the training run, losses, candidates, validation"
)]
struct Cli {
    /// Scenario or plan to open (default: scenarios/default.ron).
    #[arg(long, alias = "plan")]
    scenario: Option<PathBuf>,
    /// View to show first.
    #[arg(long, value_enum, default_value = "step")]
    view: ViewArg,
    /// Folder with the scenario files (default: the `scenarios/` found from here or the binary).
    #[arg(long)]
    scenarios_dir: Option<PathBuf>,
    /// Colour theme.
    #[arg(long, value_enum, default_value = "system")]
    theme: ThemeArg,
    /// Type a value into a field after opening, e.g. `--set tp=3` (repeatable). Scenario fields:
    /// seq_len, tokens, gpus, gpus_per_node, nic, tp, pp, dp, cp, ep, vpp, micro_batch, global_batch,
    /// overhead, spares, failure_multiplier, checkpoint_minutes. Plan fields: tokens, seq_len,
    /// batch_tokens, deadline, budget, and per candidate N (from 1) cN.count, cN.poolM.count, cN.nic,
    /// cN.spares, cN.failure_multiplier, cN.checkpoint_minutes, cN.card_usd, cN.rental_usd, cN.pue,
    /// cN.usd_per_kwh.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// Plan candidate to select first (1 = the first in the file).
    #[arg(long, value_name = "N")]
    candidate: Option<usize>,
    /// Initial window size, WIDTHxHEIGHT in points.
    #[arg(long, default_value = "1280x800")]
    size: String,
    /// Layer a calibration overlay (from `wanka calibrate … --chip ID --out FILE`) over the catalog.
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut edits = Vec::new();
    for s in &cli.set {
        let known = |k: &str| wanka_gui::editor::knob_by_name(k).is_some() || wanka_gui::plan_editor::plan_knob_by_name(k).is_some();
        match s.split_once('=') {
            Some((k, v)) if known(k) => edits.push(NamedEdit { name: k.to_string(), value: v.to_string() }),
            _ => {
                let mut names: Vec<&str> = wanka_gui::editor::KNOB_NAMES.iter().map(|(n, _)| *n).collect();
                names.extend(wanka_gui::plan_editor::PLAN_KNOB_NAMES);
                eprintln!("wanka-gui: --set {s}: expected FIELD=VALUE with FIELD one of {}", names.join(", "));
                return ExitCode::from(2);
            }
        }
    }
    if let Some(f) = &cli.calibration {
        let mut catalog = wanka_sim::Catalog::builtin().clone();
        let applied = wanka_sim::hardware::overlay::Overlay::load(f).and_then(|o| catalog.apply_overlay(&o, &f.display().to_string()));
        if let Err(e) = applied {
            eprintln!("wanka-gui: --calibration: {e}");
            return ExitCode::from(2);
        }
        wanka_gui::install_catalog(catalog);
    }
    let (w, h) =
        cli.size.split_once('x').and_then(|(w, h)| Some((w.parse::<f32>().ok()?, h.parse::<f32>().ok()?))).unwrap_or((1280.0, 800.0));
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title("wanka").with_inner_size([w, h]).with_min_inner_size([800.0, 500.0]),
        ..Default::default()
    };
    let view = match cli.view {
        ViewArg::Candidates => View::Candidates,
        ViewArg::Compare => View::Compare,
        ViewArg::Sensitivity => View::Sensitivity,
        ViewArg::Step => View::Step,
        ViewArg::Memory => View::Memory,
        ViewArg::Topology => View::Topology,
        ViewArg::Run => View::Run,
        ViewArg::Losses => View::Losses,
        ViewArg::Validation => View::Validation,
    };
    let theme = match cli.theme {
        ThemeArg::System => egui::ThemePreference::System,
        ThemeArg::Dark => egui::ThemePreference::Dark,
        ThemeArg::Light => egui::ThemePreference::Light,
    };
    let result = eframe::run_native(
        "wanka",
        options,
        Box::new(move |cc| {
            cc.egui_ctx.set_theme(theme);
            let mut app = WankaApp::new(cli.scenarios_dir.as_deref());
            app.view = view;
            match &cli.scenario {
                Some(p) => app.open(p),
                None => app.open_default(),
            }
            if let Some(n) = cli.candidate {
                app.select_candidate(n.saturating_sub(1));
            }
            app.queue_named_edits(edits);
            Ok(Box::new(app))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wanka-gui: {e}");
            ExitCode::from(1)
        }
    }
}
