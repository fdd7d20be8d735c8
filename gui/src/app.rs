//! The application state and its frame: scenario/plan list and editor on the left, summary on top,
//! the selected view in the middle.
//!
//! A file is a scenario (one cluster, one parallelism plan: step, memory, topology, training run,
//! losses) or a plan (a goal and candidate clusters: candidates, training run of the selected
//! candidate, losses per candidate). Every kind of result has its own background worker; a view asks
//! for its result when it is shown, and the last valid result stays on screen while an edit is
//! invalid or being simulated.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};

use egui::{Align, Layout, RichText, Ui};
use wanka_sim::planning::plan_file::PlanFile;
use wanka_sim::validate::StepReport;
use wanka_sim::{Catalog, Scenario, WankaError};

use crate::editor::{self, FieldErrors, Form, Knob};
use crate::files::{self, FileKind};
use crate::jobs::{self, PlanJob, PlanLosses, PlanOutput, RunJob, RunOutput, StepJob, StepOutput};
use crate::plan_editor::{self, PlanForm, PlanKnob};
use crate::views;
use crate::views::candidates::Sort;
use crate::worker::Worker;

/// The views of the central panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Candidates,
    Step,
    Memory,
    Topology,
    Run,
    Losses,
    Validation,
}

impl View {
    pub const ALL: [View; 7] = [View::Candidates, View::Step, View::Memory, View::Topology, View::Run, View::Losses, View::Validation];

    pub fn title(self) -> &'static str {
        match self {
            View::Candidates => "Candidates",
            View::Step => "Step",
            View::Memory => "Memory",
            View::Topology => "Topology",
            View::Run => "Training run",
            View::Losses => "Losses",
            View::Validation => "Validation",
        }
    }

    /// Parse a view name as given on the command line (`step`, `memory`, `topology`, `validation`,
    /// `candidates`, `run`, `losses`).
    pub fn parse(s: &str) -> Option<View> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("run") {
            return Some(View::Run);
        }
        View::ALL.into_iter().find(|v| v.title().eq_ignore_ascii_case(s))
    }

    /// The view applies to a scenario (`plan == false`) or to a plan.
    pub fn applies(self, plan: bool) -> bool {
        match self {
            View::Candidates => plan,
            View::Step | View::Memory | View::Topology => !plan,
            View::Run | View::Losses | View::Validation => true,
        }
    }

    /// The view to show first for a kind of file.
    pub fn first(plan: bool) -> View {
        if plan { View::Candidates } else { View::Step }
    }
}

/// An edit typed in by name once the file's first result is in (`--set`).
#[derive(Debug, Clone)]
pub struct NamedEdit {
    pub name: String,
    pub value: String,
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
    /// File the edited scenario or plan came from (and is saved to).
    pub path: Option<PathBuf>,
    /// The edited scenario (`None` while a plan is open).
    pub form: Option<Form>,
    /// The edited plan (`None` while a scenario is open).
    pub plan_form: Option<PlanForm>,
    /// Errors of the fields that are not numbers (found without the simulator).
    parse_errors: FieldErrors,
    /// Error the simulator returned for the latest edit (cleared by a valid one).
    pub sim_error: Option<WankaError>,
    /// Last valid result: stays on screen while edits are invalid.
    pub last_ok: Option<StepOutput>,
    step_worker: Worker<StepJob, Result<StepOutput, WankaError>>,
    validation_worker: Worker<PathBuf, Result<StepReport, WankaError>>,
    pub validation: Option<Result<StepReport, String>>,
    /// Plan fields that are not numbers, and the plan's error for the latest edit.
    plan_parse_errors: FieldErrors<PlanKnob>,
    pub plan_error: Option<WankaError>,
    /// Last valid comparison: stays on screen while edits are invalid.
    pub plan_ok: Option<PlanOutput>,
    /// Counts the comparisons received (the losses are computed for one of them).
    plan_seq: u64,
    plan_worker: Worker<PlanJob, Result<PlanOutput, WankaError>>,
    losses_worker: Worker<PlanOutput, PlanLosses>,
    /// Loss breakdown per candidate of comparison `.0` (see `plan_seq`).
    pub plan_losses: Option<(u64, PlanLosses)>,
    losses_for: Option<u64>,
    run_worker: Worker<RunJob, Result<RunOutput, WankaError>>,
    /// The latest run submitted, and the latest run received (and the error of the latest job).
    run_submitted: Option<RunJob>,
    pub run_ok: Option<RunOutput>,
    pub run_error: Option<String>,
    /// Order of the candidates table.
    pub sort: Sort,
    /// Select the fastest candidate when the first comparison of a newly opened plan arrives.
    auto_select: bool,
    /// Message in the status bar (loaded, saved, failed to open …).
    pub status: String,
    dialog: Option<Receiver<Option<DialogResult>>>,
    /// Edits to type in once the opened file has been simulated (`--set`).
    pending_edits: Vec<NamedEdit>,
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
            plan_form: None,
            parse_errors: FieldErrors::default(),
            sim_error: None,
            last_ok: None,
            step_worker: Worker::new("wanka-step", jobs::run_step),
            validation_worker: Worker::new("wanka-validate", jobs::run_validation),
            validation: None,
            plan_parse_errors: FieldErrors::default(),
            plan_error: None,
            plan_ok: None,
            plan_seq: 0,
            // Comparisons and runs can take long for extreme edits: a newer one cancels the superseded
            // one and starts beside it instead of waiting for it to wind down.
            plan_worker: Worker::concurrent("wanka-plan", 2, jobs::run_plan),
            losses_worker: Worker::concurrent("wanka-losses", 2, jobs::run_plan_losses),
            plan_losses: None,
            losses_for: None,
            run_worker: Worker::concurrent("wanka-run", 2, jobs::run_training),
            run_submitted: None,
            run_ok: None,
            run_error: None,
            sort: Sort::default(),
            auto_select: false,
            status: String::new(),
            dialog: None,
            pending_edits: Vec::new(),
        }
    }

    /// A plan is open (else a scenario, or nothing).
    pub fn is_plan(&self) -> bool {
        self.plan_form.is_some()
    }

    /// Load a scenario or plan file and simulate it. On failure the previous file stays.
    pub fn open(&mut self, path: &Path) {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.status = format!("cannot open: {name}: cannot read: {e}");
                return;
            }
        };
        match files::file_kind(&text) {
            FileKind::Plan => match PlanFile::parse(&text, &name) {
                Ok(p) => self.set_plan(path, &p),
                Err(e) => self.status = format!("cannot open the plan: {e}"),
            },
            FileKind::Scenario => match Scenario::parse(&text, &name) {
                Ok(s) => self.set_scenario(path, &s),
                Err(e) => self.status = format!("cannot open: {e}"),
            },
        }
    }

    /// Forget the results of the file being closed, and the jobs still running for it.
    fn clear_runs(&mut self) {
        self.run_worker.discard();
        self.losses_worker.discard();
        self.run_submitted = None;
        self.run_ok = None;
        self.run_error = None;
        self.losses_for = None;
    }

    fn set_scenario(&mut self, path: &Path, s: &Scenario) {
        if self.plan_form.take().is_some() {
            self.plan_worker.discard();
            self.plan_ok = None;
            self.plan_losses = None;
        }
        self.plan_error = None;
        self.plan_parse_errors = FieldErrors::default();
        self.clear_runs();
        self.path = Some(path.to_path_buf());
        self.form = Some(Form::new(s));
        self.status = "opened".into();
        self.parse_errors = FieldErrors::default();
        self.sim_error = None;
        if !self.view.applies(false) {
            self.view = View::first(false);
        }
        self.submit();
    }

    fn set_plan(&mut self, path: &Path, p: &PlanFile) {
        if self.form.take().is_some() {
            self.step_worker.discard();
        }
        self.last_ok = None;
        self.sim_error = None;
        self.parse_errors = FieldErrors::default();
        self.plan_ok = None;
        self.plan_losses = None;
        self.plan_error = None;
        self.plan_parse_errors = FieldErrors::default();
        self.clear_runs();
        self.path = Some(path.to_path_buf());
        self.plan_form = Some(PlanForm::new(p));
        self.auto_select = true;
        self.status = "opened plan".into();
        if !self.view.applies(true) {
            self.view = View::first(true);
        }
        self.submit();
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
        if let Some(pf) = &self.plan_form {
            match pf.build() {
                Ok(plan) => {
                    self.plan_parse_errors = FieldErrors::default();
                    let file = self.file_label();
                    self.plan_worker.submit(PlanJob { plan, file });
                }
                Err(errors) => self.plan_parse_errors = errors,
            }
            return;
        }
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

    /// A simulation is running for the latest edit (step, comparison, run or losses).
    pub fn busy(&self) -> bool {
        self.step_worker.busy() || self.plan_worker.busy() || self.run_worker.busy() || self.losses_worker.busy()
    }

    /// The plan comparison is running.
    pub fn plan_busy(&self) -> bool {
        self.plan_worker.busy()
    }

    /// The candidate shown in the plan editor and the plan views (index into the plan's candidates).
    pub fn selected_candidate(&self) -> usize {
        self.plan_form.as_ref().map_or(0, |f| f.selected)
    }

    /// Select a plan candidate (as clicking its row does).
    pub fn select_candidate(&mut self, i: usize) {
        if let Some(f) = &mut self.plan_form {
            f.select(i);
            self.auto_select = false;
        }
    }

    /// Messages per plan field: text that is not a number, then the plan's error.
    pub fn plan_field_errors(&self) -> FieldErrors<PlanKnob> {
        let mut e = self.plan_parse_errors.clone();
        if let Some(err) = &self.plan_error
            && self.plan_parse_errors.is_empty()
        {
            let (knob, msg) = plan_editor::place_plan_error(err);
            e.push(knob, msg);
        }
        e
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

    /// The edited scenario or plan is currently invalid (so the views show the last valid result).
    pub fn invalid(&self) -> bool {
        if self.is_plan() {
            return !self.plan_parse_errors.is_empty() || self.plan_error.is_some();
        }
        !self.parse_errors.is_empty() || self.sim_error.is_some()
    }

    /// The training run the current view needs: the scenario's, or the selected candidate's (built
    /// with `plan::candidate_scenario`); or why there is none.
    pub fn run_target(&self) -> Result<RunJob, String> {
        if let Some(form) = &self.plan_form {
            let Some(out) = &self.plan_ok else { return Err("No valid comparison yet.".into()) };
            let i = form.selected;
            let Some((_, r)) = out.result_of(i) else { return Err("Select a candidate.".into()) };
            if !r.feasible {
                return Err(format!(
                    "`{}` is infeasible: {}. There is no run to simulate.",
                    r.name,
                    r.infeasible_reason.clone().unwrap_or_default()
                ));
            }
            let Some(cand) = out.plan.candidates.get(i) else { return Err("Select a candidate.".into()) };
            return match wanka_sim::planning::plan_file::candidate_scenario(&out.plan, r, cand) {
                Some(scenario) => Ok(RunJob {
                    scenario,
                    file: out.file.clone(),
                    seeds: out.plan.settings.seeds,
                    band_seeds: jobs::BAND_SEEDS,
                    band_samples: jobs::BAND_SAMPLES,
                }),
                None => Err(format!(
                    "`{}` mixes {} chip pools ({}): its run cannot be written as one scenario, so there is no event log to draw. \
                     The comparison's figures for it: p50 {:.1} days (p10 {:.1}, p90 {:.1}), ETTR {:.3}, {:.0} interruptions; \
                     its loss breakdown is in the Losses view. Chosen layout: {}.",
                    r.name,
                    cand.pools.len(),
                    r.chips,
                    r.days.p50,
                    r.days.p10,
                    r.days.p90,
                    r.ettr.p50,
                    r.interruptions.p50,
                    r.parallelism
                )),
            };
        }
        let Some(out) = &self.last_ok else { return Err("No valid scenario yet.".into()) };
        Ok(RunJob {
            scenario: out.scenario.clone(),
            file: out.file.clone(),
            seeds: jobs::RUN_SEEDS,
            band_seeds: jobs::BAND_SEEDS,
            band_samples: jobs::BAND_SAMPLES,
        })
    }

    /// Simulate the run the current target needs, unless it is already submitted.
    fn ensure_run(&mut self) {
        if let Ok(job) = self.run_target()
            && self.run_submitted.as_ref() != Some(&job)
        {
            self.run_worker.submit(job.clone());
            self.run_submitted = Some(job);
        }
    }

    /// Compute the loss breakdown of the latest comparison, unless it is already submitted.
    fn ensure_plan_losses(&mut self) {
        if let Some(out) = &self.plan_ok
            && self.losses_for != Some(self.plan_seq)
        {
            self.losses_worker.submit(out.clone());
            self.losses_for = Some(self.plan_seq);
        }
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
                Err(panic) => self.sim_error = Some(WankaError::Infeasible { reasons: vec![wanka_sim::error::Violation::Other(panic)] }),
            }
        }
        if let Some(r) = self.plan_worker.poll() {
            match r {
                Ok(Ok(out)) => {
                    self.plan_error = None;
                    if std::mem::take(&mut self.auto_select)
                        && let (Some(&first), Some(f)) = (out.candidate_of.first(), &mut self.plan_form)
                    {
                        f.select(first);
                    }
                    self.plan_ok = Some(out);
                    self.plan_seq += 1;
                }
                Ok(Err(e)) => self.plan_error = Some(e),
                Err(panic) => self.plan_error = Some(WankaError::Infeasible { reasons: vec![wanka_sim::error::Violation::Other(panic)] }),
            }
        }
        if let Some(r) = self.losses_worker.poll() {
            match r {
                Ok(l) => self.plan_losses = Some((self.losses_for.unwrap_or(self.plan_seq), l)),
                Err(panic) => self.status = format!("cannot compute the losses: {panic}"),
            }
        }
        if let Some(r) = self.run_worker.poll() {
            match r {
                Ok(Ok(out)) => {
                    self.run_error = None;
                    self.run_ok = Some(out);
                }
                Ok(Err(e)) => self.run_error = Some(e.to_string()),
                Err(panic) => self.run_error = Some(panic),
            }
        }
        if !self.pending_edits.is_empty() && !self.busy() {
            for e in std::mem::take(&mut self.pending_edits) {
                self.set_named(&e.name, &e.value);
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

    /// Save the edited scenario or plan as RON to `path`.
    pub fn save_to(&mut self, path: &Path) {
        let built = if let Some(pf) = &self.plan_form {
            pf.build().ok().map(|p| wanka_sim::ron_util::to_ron_pretty(&p))
        } else if let Some(form) = &self.form {
            form.build().ok().map(|s| wanka_sim::ron_util::to_ron_pretty(&s))
        } else {
            return;
        };
        let Some(text) = built else {
            self.status = "cannot save: some fields are not numbers".into();
            return;
        };
        let text = match text {
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
        let mut dialog = rfd::AsyncFileDialog::new().add_filter("wanka scenario or plan", &["ron"]);
        if let Some(d) = self.path.as_deref().and_then(Path::parent).or(self.scenarios_dir.as_deref()) {
            dialog = dialog.set_directory(d);
        }
        let (tx, rx) = channel();
        let fut = if save {
            let default = if self.is_plan() { "plan.ron" } else { "scenario.ron" };
            let name = self.path.as_deref().and_then(Path::file_name).map_or(default.to_string(), |n| n.to_string_lossy().into());
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
            if ui.button("Open…").on_hover_text("open a scenario or plan file").clicked() {
                self.spawn_dialog(false);
            }
            let can_save = self.form.is_some() || self.plan_form.is_some();
            if ui
                .add_enabled(can_save && self.path.is_some(), egui::Button::new("Save"))
                .on_hover_text("write the edited scenario or plan back to its file (RON)")
                .clicked()
                && let Some(p) = self.path.clone()
            {
                self.save_to(&p);
            }
            if ui
                .add_enabled(can_save, egui::Button::new("Save as…"))
                .on_hover_text("write the edited scenario or plan to a new file")
                .clicked()
            {
                self.spawn_dialog(true);
            }
        });
        let mut open = None;
        egui::CollapsingHeader::new(RichText::new("Scenarios and plans").strong()).default_open(true).show(ui, |ui| {
            if self.scenario_files.is_empty() {
                ui.label(RichText::new("no scenario or plan files found").weak());
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
        let plan_errors = self.plan_field_errors();
        let mut changed = false;
        egui::ScrollArea::vertical().id_salt("editor").auto_shrink([false, false]).show(ui, |ui| {
            match (&mut self.form, &mut self.plan_form) {
                (Some(form), _) => {
                    ui.label(RichText::new(&form.base.name).strong());
                    changed = editor::editor_ui(ui, form, &errors, Catalog::builtin());
                }
                (None, Some(pf)) => {
                    ui.add(egui::Label::new(RichText::new(format!("Plan: {}", pf.base.name)).strong()).wrap());
                    if !pf.base.description.is_empty() {
                        ui.add(egui::Label::new(RichText::new(&pf.base.description).small().weak()).wrap());
                    }
                    changed = plan_editor::plan_editor_ui(ui, pf, &plan_errors, Catalog::builtin());
                }
                (None, None) => {
                    ui.label("Open a scenario or plan to edit it.");
                }
            }
        });
        if changed {
            self.submit();
        }
    }

    fn central_ui(&mut self, ui: &mut Ui) {
        match self.view {
            View::Candidates => return self.candidates_view(ui),
            View::Run => return self.run_view(ui),
            View::Losses => return self.losses_view(ui),
            _ => {}
        }
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
            View::Validation | View::Candidates | View::Run | View::Losses => {}
        }
    }

    fn candidates_view(&mut self, ui: &mut Ui) {
        match (&self.plan_ok, &mut self.plan_form) {
            (Some(out), Some(form)) => {
                let state = views::candidates::CandidatesState { sort: &mut self.sort, selected: &mut form.selected };
                views::candidates::candidates_ui(ui, out, state);
            }
            (None, Some(_)) if self.plan_worker.busy() => views::working_ui(ui, "comparing the candidates…"),
            (None, Some(_)) => views::no_result_ui(ui),
            (_, None) => {
                ui.centered_and_justified(|ui| ui.label("Candidates are compared for plans: open a plan (e.g. default_plan.ron)."));
            }
        }
    }

    fn run_view(&mut self, ui: &mut Ui) {
        use views::run::RunView;
        self.ensure_run();
        let busy = self.run_worker.busy();
        let target = self.run_target();
        let view = match (&target, &self.run_ok) {
            (Err(note), _) => RunView::Note(note),
            (Ok(job), Some(out)) if out.job == *job || busy => RunView::Done(out),
            (Ok(_), _) if busy => RunView::Running,
            (Ok(_), _) => match &self.run_error {
                Some(e) => RunView::Failed(e),
                None => RunView::Running,
            },
        };
        // The error of a newer run, above the last one that worked.
        let error = match (&view, &self.run_error) {
            (RunView::Done(_), Some(e)) if !busy => Some(e.as_str()),
            _ => None,
        };
        views::run::run_ui(ui, view, busy, error);
    }

    fn losses_view(&mut self, ui: &mut Ui) {
        if self.is_plan() {
            self.ensure_plan_losses();
            let busy = self.losses_worker.busy();
            match &self.plan_ok {
                Some(out) => views::losses::plan_losses_ui(ui, out, self.plan_losses.as_ref().map(|l| &l.1), busy),
                None if self.plan_worker.busy() => views::working_ui(ui, "comparing the candidates…"),
                None => views::no_result_ui(ui),
            }
            return;
        }
        self.ensure_run();
        let busy = self.run_worker.busy();
        match (&self.run_ok, &self.run_error) {
            (Some(out), _) => views::losses::scenario_losses_ui(ui, out, busy),
            (None, _) if busy => views::working_ui(ui, "simulating the run over the Monte Carlo seeds…"),
            (None, Some(e)) => {
                ui.label(RichText::new(format!("{}{e}", editor::ERROR_MARK)).color(ui.visuals().error_fg_color));
            }
            (None, None) => views::no_result_ui(ui),
        }
    }

    /// Draw the whole app into `ui` (one frame).
    pub fn show(&mut self, ui: &mut Ui) {
        for w in [&self.step_worker as &dyn Wake, &self.validation_worker, &self.plan_worker, &self.losses_worker, &self.run_worker] {
            w.wake_with(ui.ctx());
        }
        self.poll();

        egui::Panel::top("top").show(ui, |ui| {
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                ui.label(RichText::new("wanka").heading().strong());
                ui.separator();
                let plan = self.is_plan();
                for v in View::ALL.into_iter().filter(|v| v.applies(plan)) {
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
            if self.is_plan() {
                views::summary::plan_summary_ui(ui, self.plan_ok.as_ref(), self.selected_candidate(), self.plan_busy());
            } else {
                views::summary::summary_ui(ui, self.last_ok.as_ref(), self.step_worker.busy());
            }
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

    /// Type these into their fields once the current file's result is in, so that the result of the
    /// unedited file is the last valid one on screen.
    pub fn queue_edits(&mut self, edits: Vec<(Knob, String)>) {
        let name = |k: Knob| editor::KNOB_NAMES.iter().find(|(_, v)| *v == k).map_or("", |(n, _)| *n).to_string();
        self.pending_edits.extend(edits.into_iter().map(|(k, value)| NamedEdit { name: name(k), value }));
    }

    /// Type these in by name (`tp`, `c2.count` …) once the current file's result is in.
    pub fn queue_named_edits(&mut self, edits: Vec<NamedEdit>) {
        self.pending_edits.extend(edits);
    }

    /// Type `value` into the field called `name` (a scenario knob name, or a plan knob name when a plan
    /// is open). Returns `false` when the open file has no such field.
    pub fn set_named(&mut self, name: &str, value: &str) -> bool {
        if self.is_plan() {
            match plan_editor::plan_knob_by_name(name) {
                Some(k) => {
                    self.set_plan_field(k, value);
                    true
                }
                None => false,
            }
        } else {
            match editor::knob_by_name(name) {
                Some(k) => {
                    self.set_field(k, value);
                    true
                }
                None => false,
            }
        }
    }

    /// Type `text` into a numeric field and resimulate, as a user would (for scripting).
    pub fn set_field(&mut self, knob: Knob, text: &str) {
        if let Some(form) = &mut self.form {
            form.set_text(knob, text);
            self.submit();
        }
    }

    /// Type `text` into a numeric plan field and compare again (for scripting).
    pub fn set_plan_field(&mut self, knob: PlanKnob, text: &str) {
        if let Some(form) = &mut self.plan_form {
            form.set_text(knob, text);
            self.submit();
        }
    }

    /// Text of an editor field (for tests and scripting).
    pub fn field(&self, knob: Knob) -> Option<&str> {
        self.form.as_ref().map(|f| f.text(knob))
    }

    /// Text of a plan editor field (for tests and scripting).
    pub fn plan_field(&self, knob: PlanKnob) -> Option<&str> {
        self.plan_form.as_ref().map(|f| f.text(knob))
    }
}

impl eframe::App for WankaApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// Workers of any job type, for handing them the context to wake.
trait Wake {
    fn wake_with(&self, ctx: &egui::Context);
}

impl<I: Send + 'static, O: Send + 'static> Wake for Worker<I, O> {
    fn wake_with(&self, ctx: &egui::Context) {
        self.set_waker(ctx);
    }
}
