//! The application state and its frame: scenario list and editor on the left, summary on top, the
//! selected view in the middle.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};

use egui::{Align, Layout, RichText, Ui};
use wanka_sim::validate::StepReport;
use wanka_sim::{Catalog, Scenario, WankaError};

use crate::editor::{self, FieldErrors, Form, Knob};
use crate::files;
use crate::jobs::{self, StepJob, StepOutput};
use crate::views;
use crate::worker::Worker;

/// The views of the central panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Step,
    Memory,
    Topology,
    Validation,
}

impl View {
    pub const ALL: [View; 4] = [View::Step, View::Memory, View::Topology, View::Validation];

    pub fn title(self) -> &'static str {
        match self {
            View::Step => "Step",
            View::Memory => "Memory",
            View::Topology => "Topology",
            View::Validation => "Validation",
        }
    }

    /// Parse a view name as given on the command line (`step`, `memory`, `topology`, `validation`).
    pub fn parse(s: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.title().eq_ignore_ascii_case(s.trim()))
    }
}

/// What a file dialog returned.
enum DialogResult {
    Open(PathBuf),
    SaveAs(PathBuf),
}

/// The whole GUI state. Drive it with [`WankaApp::show`] (eframe calls it through [`eframe::App`]).
pub struct WankaApp {
    pub view: View,
    pub scenarios_dir: Option<PathBuf>,
    pub scenario_files: Vec<PathBuf>,
    /// File the edited scenario came from (and is saved to).
    pub path: Option<PathBuf>,
    pub form: Option<Form>,
    /// Errors of the fields that are not numbers (found without the simulator).
    parse_errors: FieldErrors,
    /// Error the simulator returned for the latest edit (cleared by a valid one).
    pub sim_error: Option<WankaError>,
    /// Last valid result: stays on screen while edits are invalid.
    pub last_ok: Option<StepOutput>,
    step_worker: Worker<StepJob, Result<StepOutput, WankaError>>,
    validation_worker: Worker<PathBuf, Result<StepReport, WankaError>>,
    pub validation: Option<Result<StepReport, String>>,
    /// Message in the status bar (loaded, saved, failed to open …).
    pub status: String,
    dialog: Option<Receiver<Option<DialogResult>>>,
    /// Edits to type in once the opened scenario has been simulated (`--set`).
    pending_edits: Vec<(Knob, String)>,
}

impl Default for WankaApp {
    fn default() -> Self {
        Self::new(None)
    }
}

impl WankaApp {
    /// A new app; `scenarios_dir` overrides where `scenarios/` is looked for.
    pub fn new(scenarios_dir: Option<&Path>) -> Self {
        let scenarios_dir = files::find_scenarios_dir(scenarios_dir);
        let scenario_files = scenarios_dir.as_deref().map(files::list_scenarios).unwrap_or_default();
        WankaApp {
            view: View::Step,
            scenarios_dir,
            scenario_files,
            path: None,
            form: None,
            parse_errors: FieldErrors::default(),
            sim_error: None,
            last_ok: None,
            step_worker: Worker::new("wanka-step", jobs::run_step),
            validation_worker: Worker::new("wanka-validate", jobs::run_validation),
            validation: None,
            status: String::new(),
            dialog: None,
            pending_edits: Vec::new(),
        }
    }

    /// Load a scenario file and simulate it. On failure the previous scenario stays.
    pub fn open(&mut self, path: &Path) {
        match Scenario::load(path) {
            Ok(s) => {
                self.path = Some(path.to_path_buf());
                self.form = Some(Form::new(&s));
                self.status = "opened".into();
                self.parse_errors = FieldErrors::default();
                self.sim_error = None;
                self.submit();
            }
            Err(e) => {
                self.status = format!("cannot open: {e}");
            }
        }
    }

    /// Open `default.ron` of the scenarios folder, or the first scenario found.
    pub fn open_default(&mut self) {
        let first = self.scenario_files.iter().find(|p| p.ends_with("default.ron")).or_else(|| self.scenario_files.first()).cloned();
        match first {
            Some(p) => self.open(&p),
            None => self.status = "no scenarios/ folder found: use Open…".into(),
        }
    }

    fn file_label(&self) -> String {
        self.path.as_deref().map_or_else(|| "<edited>".into(), |p| p.display().to_string())
    }

    /// Check the edited fields and, when they are all numbers, simulate in the background.
    pub fn submit(&mut self) {
        let Some(form) = &self.form else { return };
        match form.build() {
            Ok(scenario) => {
                self.parse_errors = FieldErrors::default();
                let file = self.file_label();
                self.step_worker.submit(StepJob { scenario, file });
            }
            Err(errors) => {
                self.parse_errors = errors;
            }
        }
    }

    /// Start the validation cases in the background (once).
    pub fn start_validation(&mut self) {
        if self.validation.is_some() || self.validation_worker.busy() {
            return;
        }
        match &self.scenarios_dir {
            Some(d) => {
                self.validation_worker.submit(d.join("validation").join("step_cases.csv"));
            }
            None => self.validation = Some(Err("no scenarios/ folder found, so no validation cases".into())),
        }
    }

    /// A simulation is running for the latest edit.
    pub fn busy(&self) -> bool {
        self.step_worker.busy()
    }

    /// The validation cases are being simulated.
    pub fn validation_busy(&self) -> bool {
        self.validation_worker.busy()
    }

    /// Messages per field: text that is not a number, then the simulator's error.
    pub fn field_errors(&self) -> FieldErrors {
        let mut e = self.parse_errors.clone();
        if let Some(err) = &self.sim_error
            && self.parse_errors.is_empty()
        {
            let (knob, msg) = editor::place_error(err);
            e.push(knob, msg);
        }
        e
    }

    /// The edited scenario is currently invalid (so the views show the last valid result).
    pub fn invalid(&self) -> bool {
        !self.parse_errors.is_empty() || self.sim_error.is_some()
    }

    /// Take finished background results.
    pub fn poll(&mut self) {
        if let Some(r) = self.step_worker.poll() {
            match r {
                Ok(Ok(out)) => {
                    self.sim_error = None;
                    self.last_ok = Some(out);
                }
                Ok(Err(e)) => self.sim_error = Some(e),
                Err(panic) => self.sim_error = Some(WankaError::Infeasible { reasons: vec![panic] }),
            }
        }
        if !self.pending_edits.is_empty() && !self.busy() {
            for (knob, text) in std::mem::take(&mut self.pending_edits) {
                self.set_field(knob, &text);
            }
        }
        if let Some(r) = self.validation_worker.poll() {
            self.validation = Some(match r {
                Ok(Ok(rep)) => Ok(rep),
                Ok(Err(e)) => Err(e.to_string()),
                Err(p) => Err(p),
            });
        }
        if let Some(rx) = &self.dialog
            && let Ok(res) = rx.try_recv()
        {
            self.dialog = None;
            match res {
                Some(DialogResult::Open(p)) => self.open(&p),
                Some(DialogResult::SaveAs(p)) => self.save_to(&p),
                None => {}
            }
        }
    }

    /// Save the edited scenario as RON to `path`.
    pub fn save_to(&mut self, path: &Path) {
        let Some(form) = &self.form else { return };
        let scenario = match form.build() {
            Ok(s) => s,
            Err(_) => {
                self.status = "cannot save: some fields are not numbers".into();
                return;
            }
        };
        let text = match wanka_sim::ron_util::to_ron_pretty(&scenario) {
            Ok(t) => t,
            Err(e) => {
                self.status = format!("cannot save: {e}");
                return;
            }
        };
        let header = "// Saved by wanka-gui.\n";
        match std::fs::write(path, format!("{header}{text}\n")) {
            Ok(()) => {
                self.status = format!("saved {}", path.display());
                self.path = Some(path.to_path_buf());
                self.rescan();
            }
            Err(e) => self.status = format!("cannot save {}: {e}", path.display()),
        }
    }

    /// Re-read the list of scenario files.
    pub fn rescan(&mut self) {
        if let Some(d) = &self.scenarios_dir {
            self.scenario_files = files::list_scenarios(d);
        }
    }

    fn spawn_dialog(&mut self, save: bool) {
        if self.dialog.is_some() {
            return;
        }
        let mut dialog = rfd::AsyncFileDialog::new().add_filter("wanka scenario", &["ron"]);
        if let Some(d) = self.path.as_deref().and_then(Path::parent).or(self.scenarios_dir.as_deref()) {
            dialog = dialog.set_directory(d);
        }
        let (tx, rx) = channel();
        let fut = if save {
            let name = self.path.as_deref().and_then(Path::file_name).map_or("scenario.ron".to_string(), |n| n.to_string_lossy().into());
            let f = dialog.set_file_name(name).save_file();
            Box::pin(async move { f.await.map(|h| DialogResult::SaveAs(h.path().to_path_buf())) })
                as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
        } else {
            let f = dialog.pick_file();
            Box::pin(async move { f.await.map(|h| DialogResult::Open(h.path().to_path_buf())) })
        };
        // The dialog runs beside the UI, which keeps repainting.
        let spawned = std::thread::Builder::new().name("wanka-file-dialog".into()).spawn(move || {
            let _ = tx.send(pollster::block_on(fut));
        });
        match spawned {
            Ok(_) => self.dialog = Some(rx),
            Err(e) => self.status = format!("cannot open a file dialog: {e}"),
        }
    }

    /// The scenario list, open/save buttons and the editor.
    fn side_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            if ui.button("Open…").on_hover_text("open a scenario file").clicked() {
                self.spawn_dialog(false);
            }
            let can_save = self.form.is_some();
            if ui
                .add_enabled(can_save && self.path.is_some(), egui::Button::new("Save"))
                .on_hover_text("write the edited scenario back to its file (RON)")
                .clicked()
                && let Some(p) = self.path.clone()
            {
                self.save_to(&p);
            }
            if ui.add_enabled(can_save, egui::Button::new("Save as…")).on_hover_text("write the edited scenario to a new file").clicked()
            {
                self.spawn_dialog(true);
            }
        });
        let mut open = None;
        egui::CollapsingHeader::new(RichText::new("Scenarios").strong()).default_open(true).show(ui, |ui| {
            if self.scenario_files.is_empty() {
                ui.label(RichText::new("no scenario files found").weak());
            }
            egui::ScrollArea::vertical().id_salt("scenario list").max_height(110.0).show(ui, |ui| {
                for p in &self.scenario_files {
                    let name = files::display_name(self.scenarios_dir.as_deref(), p);
                    let selected = self.path.as_deref() == Some(p.as_path());
                    if ui.selectable_label(selected, name).clicked() {
                        open = Some(p.clone());
                    }
                }
            });
        });
        if let Some(p) = open {
            self.open(&p);
        }
        ui.separator();
        let errors = self.field_errors();
        let mut changed = false;
        egui::ScrollArea::vertical().id_salt("editor").auto_shrink([false, false]).show(ui, |ui| match &mut self.form {
            Some(form) => {
                ui.label(RichText::new(&form.base.name).strong());
                changed = editor::editor_ui(ui, form, &errors, Catalog::builtin());
            }
            None => {
                ui.label("Open a scenario to edit it.");
            }
        });
        if changed {
            self.submit();
        }
    }

    fn central_ui(&mut self, ui: &mut Ui) {
        if self.view == View::Validation {
            self.start_validation();
            let state = match &self.validation {
                Some(Ok(r)) => views::validation::ValidationState::Done(r),
                Some(Err(e)) => views::validation::ValidationState::Failed(e),
                None if self.validation_worker.busy() => views::validation::ValidationState::Running,
                None => views::validation::ValidationState::NotStarted,
            };
            views::validation::validation_ui(ui, state);
            return;
        }
        let Some(out) = &self.last_ok else {
            if self.busy() {
                ui.centered_and_justified(|ui| {
                    ui.spinner();
                });
            } else {
                views::no_result_ui(ui);
            }
            return;
        };
        match self.view {
            View::Step => views::step::step_ui(ui, out),
            View::Memory => views::memory::memory_ui(ui, out),
            View::Topology => views::topology::topology_ui(ui, out),
            View::Validation => {}
        }
    }

    /// Draw the whole app into `ui` (one frame).
    pub fn show(&mut self, ui: &mut Ui) {
        self.step_worker.set_waker(ui.ctx());
        self.validation_worker.set_waker(ui.ctx());
        self.poll();

        egui::Panel::top("top").show(ui, |ui| {
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                ui.label(RichText::new("wanka").heading().strong());
                ui.separator();
                for v in View::ALL {
                    if ui.selectable_label(self.view == v, v.title()).clicked() {
                        self.view = v;
                    }
                }
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    if self.busy() || (self.view == View::Validation && self.validation_busy()) {
                        ui.spinner().on_hover_text("simulating");
                    }
                    if self.invalid() {
                        views::summary::invalid_badge_ui(ui);
                    }
                });
            });
            ui.separator();
            views::summary::summary_ui(ui, self.last_ok.as_ref(), self.busy());
            ui.add_space(2.0);
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                let file = self.file_label();
                ui.label(RichText::new(file).small().weak());
                if !self.status.is_empty() {
                    ui.separator();
                    let text = RichText::new(&self.status).small();
                    ui.label(if self.status.starts_with("cannot") { text.color(ui.visuals().error_fg_color) } else { text });
                }
            });
        });
        egui::Panel::left("editor panel").default_size(330.0).min_size(260.0).show(ui, |ui| self.side_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| self.central_ui(ui));
    }

    /// Type these into their fields once the current scenario's result is in, so that the result of
    /// the unedited scenario is the last valid one on screen.
    pub fn queue_edits(&mut self, edits: Vec<(Knob, String)>) {
        self.pending_edits.extend(edits);
    }

    /// Type `text` into a numeric field and resimulate, as a user would (for scripting).
    pub fn set_field(&mut self, knob: Knob, text: &str) {
        if let Some(form) = &mut self.form {
            form.set_text(knob, text);
            self.submit();
        }
    }

    /// Text of an editor field (for tests and scripting).
    pub fn field(&self, knob: Knob) -> Option<&str> {
        self.form.as_ref().map(|f| f.text(knob))
    }
}

impl eframe::App for WankaApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
