//! The application state and its frame: scenario/plan list and editor on the left, summary on top,
//! the selected view in the middle.
//!
//! A file is a scenario (one cluster, one parallelism plan: step, memory, topology, training run,
//! losses) or a plan (a goal and candidate clusters: candidates, training run of the selected
//! candidate, losses per candidate). The open file is one [`Document`], which holds its form, errors,
//! jobs and results and says which views apply. Every kind of result has its own background worker; a
//! view asks for its result when it is shown, and the last valid result stays on screen while an edit
//! is invalid or being simulated.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use egui::{Align, Layout, RichText, Ui};
use wanka_sim::Scenario;
use wanka_sim::planning::plan_file::PlanFile;
use wanka_sim::validate::StepReport;

use crate::document::{Document, FormSnapshot, PlanDoc, ScenarioDoc, Workers};
use crate::editor::{self, Knob};
use crate::files::{self, FileKind};
use crate::plan_editor::{self, PlanKnob};
use crate::views;
pub use crate::views::View;
use crate::views::candidates::Sort;
use crate::worker::Worker;

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

/// What [`WankaApp::save_to`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved,
    /// The file exists: the app asks before overwriting it ([`WankaApp::confirm_overwrite`]).
    AskOverwrite,
    /// Not written, and why (also in the status bar).
    Refused(String),
}

/// The whole GUI state. Drive it with [`WankaApp::show`] (eframe calls it through [`eframe::App`]).
pub struct WankaApp {
    pub view: View,
    pub scenarios_dir: Option<PathBuf>,
    pub scenario_files: Vec<PathBuf>,
    /// File the edited scenario or plan came from (and is saved to).
    pub path: Option<PathBuf>,
    /// The open scenario or plan: its form, errors, jobs and results.
    pub doc: Document,
    workers: Workers,
    pub validation: Option<Result<StepReport, String>>,
    /// The holdout cases (`validation/holdout_cases.csv`: never fitted), when the folder has them.
    pub holdout: Option<Result<StepReport, String>>,
    /// Order of the candidates table.
    pub sort: Sort,
    /// Message in the status bar (loaded, saved, failed to open …).
    pub status: String,
    dialog: Option<Receiver<Option<DialogResult>>>,
    /// Edits to type in once the opened file has been simulated (`--set`).
    pending_edits: Vec<NamedEdit>,
    /// Typing in a field simulates once no key has been pressed for [`DEBOUNCE`] (or the field is
    /// left, or Enter pressed): when that is.
    pending_submit: Option<Instant>,
    /// The user cancelled the job of the latest edit: the figures shown are for earlier values.
    cancelled: bool,
    /// A save waiting for the user to confirm overwriting this existing file.
    pub overwrite: Option<PathBuf>,
    /// The path typed in the file panel (for Open and Save where no file dialog works).
    pub path_text: String,
    /// The leading `//` comment lines of the opened file, kept at the top when it is saved.
    header: String,
    /// The text the open file was read from and the canonical RON of what it read: a save patches the
    /// changed values into that text ([`crate::ron_patch`]), so its comments stay.
    source: Option<(String, String)>,
    /// Where exports are written (`wanka-exports/` in the working directory unless set).
    pub export_dir: PathBuf,
    /// A PNG export waiting for the renderer's screenshot, and the part of the window to keep.
    png_export: Option<(Receiver<std::sync::Arc<egui::ColorImage>>, egui::Rect, f32)>,
    /// Where the central panel was drawn last frame (points).
    central_rect: egui::Rect,
    /// Undo history: the forms submitted before the current one (newest last), the forms undone, and
    /// the form submitted last.
    undo: Vec<FormSnapshot>,
    redo: Vec<FormSnapshot>,
    submitted: Option<FormSnapshot>,
}

/// Most edits kept for undo.
pub const UNDO_DEPTH: usize = 200;

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// The candidates table, CSV.
    TableCsv,
    /// The compare view's figures, CSV.
    CompareCsv,
    /// The sensitivity sweep of the selected candidate, CSV.
    SensitivityCsv,
    /// A Markdown report of the plan.
    Report,
    /// The time-versus-cost chart, SVG.
    ChartSvg,
    /// The view on screen, PNG (needs a renderer: the app's window).
    ViewPng,
}

impl Export {
    pub const ALL: [Export; 6] =
        [Export::TableCsv, Export::CompareCsv, Export::SensitivityCsv, Export::Report, Export::ChartSvg, Export::ViewPng];

    pub fn title(self) -> &'static str {
        match self {
            Export::TableCsv => "Candidates table (CSV)",
            Export::CompareCsv => "Compare table (CSV)",
            Export::SensitivityCsv => "Sensitivity (CSV)",
            Export::Report => "Report (Markdown)",
            Export::ChartSvg => "Time vs cost chart (SVG)",
            Export::ViewPng => "This view (PNG)",
        }
    }

    fn file_suffix(self) -> &'static str {
        match self {
            Export::TableCsv => "candidates.csv",
            Export::CompareCsv => "compare.csv",
            Export::SensitivityCsv => "sensitivity.csv",
            Export::Report => "report.md",
            Export::ChartSvg => "pareto.svg",
            Export::ViewPng => "view.png",
        }
    }
}

/// Size of small text (details, legends, the event log), points.
pub const SMALL_TEXT: f32 = 12.5;

/// How long typing must pause before an edit is simulated.
pub const DEBOUNCE: Duration = Duration::from_millis(350);

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
            doc: Document::Empty,
            workers: Workers::new(),
            validation: None,
            holdout: None,
            sort: Sort::default(),
            status: String::new(),
            dialog: None,
            pending_edits: Vec::new(),
            pending_submit: None,
            cancelled: false,
            overwrite: None,
            path_text: String::new(),
            header: String::new(),
            source: None,
            export_dir: std::env::current_dir().unwrap_or_default().join("wanka-exports"),
            png_export: None,
            central_rect: egui::Rect::NOTHING,
            undo: Vec::new(),
            redo: Vec::new(),
            submitted: None,
        }
    }

    /// Edits that can be undone, and redone.
    pub fn history(&self) -> (usize, usize) {
        (self.undo.len(), self.redo.len())
    }

    /// Put the form back as it was before the last edit, and simulate it.
    pub fn undo(&mut self) -> bool {
        let Some(prev) = self.undo.pop() else { return false };
        if let Some(now) = self.doc.snapshot() {
            self.redo.push(now);
        }
        self.doc.restore(prev.clone());
        self.submitted = Some(prev);
        self.submit_now();
        self.status = "undone".into();
        true
    }

    /// Redo the last edit undone.
    pub fn redo(&mut self) -> bool {
        let Some(next) = self.redo.pop() else { return false };
        if let Some(now) = self.doc.snapshot() {
            self.undo.push(now);
        }
        self.doc.restore(next.clone());
        self.submitted = Some(next);
        self.submit_now();
        self.status = "redone".into();
        true
    }

    /// The file an export goes to: `<export_dir>/<file stem>-<what>`.
    pub fn export_path(&self, what: Export) -> PathBuf {
        let stem = self.path.as_deref().and_then(Path::file_stem).map_or("untitled".to_string(), |s| s.to_string_lossy().into_owned());
        let view = if what == Export::ViewPng { format!("{}-", self.view.title().to_lowercase().replace(' ', "-")) } else { String::new() };
        self.export_dir.join(format!("{stem}-{view}{}", what.file_suffix()))
    }

    /// The text of a (non-PNG) export, from the latest results.
    pub fn export_text(&self, what: Export) -> Result<String, String> {
        let d = self.doc.plan().ok_or("exports of tables, charts and reports are for plans")?;
        let out = d.last_ok.as_ref().ok_or("no comparison yet")?;
        let losses = d.losses.as_ref().map(|l| &l.1);
        let sens = d.sensitivity_now().and_then(|s| s.as_ref().ok());
        let picks = if d.compare.len() >= 2 { d.compare.clone() } else { views::compare::default_picks(out) };
        match what {
            Export::TableCsv => crate::export::candidates_csv(out, losses),
            Export::CompareCsv => crate::export::compare_csv(out, &picks, losses),
            Export::SensitivityCsv => crate::export::sensitivity_csv(sens.ok_or("open the Sensitivity view first: no sweep yet")?),
            Export::Report => Ok(crate::export::report_markdown(out, losses, &picks, sens)),
            Export::ChartSvg => Ok(crate::export::pareto_svg(out)),
            Export::ViewPng => Err("a PNG comes from the renderer".into()),
        }
    }

    fn write_export(&mut self, what: Export, bytes: &[u8]) -> Result<PathBuf, String> {
        let path = self.export_path(what);
        std::fs::create_dir_all(&self.export_dir).map_err(|e| format!("cannot create {}: {e}", self.export_dir.display()))?;
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        self.status = format!("exported {}", path.display());
        Ok(path)
    }

    /// Export `what`. A PNG is written once the renderer returns the next frame's pixels (`Ok(None)`
    /// until then); the others are written at once.
    pub fn export(&mut self, what: Export, ctx: &egui::Context) -> Result<Option<PathBuf>, String> {
        let r = if what == Export::ViewPng {
            let (tx, rx) = channel();
            let c = ctx.clone();
            ctx.request_screenshot(move |img| {
                let _ = tx.send(img);
                c.request_repaint();
            });
            self.png_export = Some((rx, self.central_rect, ctx.pixels_per_point()));
            self.status = "exporting the view as PNG…".into();
            Ok(None)
        } else {
            self.export_text(what).and_then(|t| self.write_export(what, t.as_bytes())).map(Some)
        };
        if let Err(e) = &r {
            self.status = format!("cannot export: {e}");
        }
        r
    }

    /// Write the PNG export if the renderer's pixels have arrived.
    fn finish_png_export(&mut self) {
        let Some((rx, rect, ppp)) = &self.png_export else { return };
        let Ok(image) = rx.try_recv() else { return };
        let (rect, ppp) = (*rect, *ppp);
        self.png_export = None;
        let cropped = crate::export::crop(&image, rect, ppp);
        match crate::export::encode_png(&cropped) {
            Ok(bytes) => {
                if let Err(e) = self.write_export(Export::ViewPng, &bytes) {
                    self.status = format!("cannot export: {e}");
                }
            }
            Err(e) => self.status = format!("cannot export: {e}"),
        }
    }

    /// A plan is open (else a scenario, or nothing).
    pub fn is_plan(&self) -> bool {
        self.doc.is_plan()
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
        let header: String = text.lines().take_while(|l| l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect();
        match files::file_kind(&text) {
            FileKind::Plan => match PlanFile::parse(&text, &name) {
                Ok(p) => {
                    self.header = header;
                    self.source = wanka_sim::ron_util::to_ron_pretty(&p).ok().map(|c| (text.clone(), c));
                    self.replace_document(path, Document::Plan(Box::new(PlanDoc::new(&p))));
                    self.status = "opened plan".into();
                }
                Err(e) => self.status = format!("cannot open the plan: {e}"),
            },
            FileKind::Scenario => match Scenario::parse(&text, &name) {
                Ok(s) => {
                    let mut doc = ScenarioDoc::new(&s);
                    // A scenario opened over another keeps its last valid result on screen until its
                    // own arrives (or its error does), as an edit does.
                    if let Document::Scenario(old) = &mut self.doc {
                        doc.last_ok = old.last_ok.take();
                    }
                    self.header = header;
                    self.source = wanka_sim::ron_util::to_ron_pretty(&s).ok().map(|c| (text.clone(), c));
                    self.replace_document(path, Document::Scenario(Box::new(doc)));
                    self.status = "opened".into();
                }
                Err(e) => self.status = format!("cannot open: {e}"),
            },
        }
    }

    /// Close the open document (forgetting its running jobs), open `doc` in its place, show a view that
    /// applies to it and simulate it.
    fn replace_document(&mut self, path: &Path, doc: Document) {
        self.replace_document_at(Some(path), doc);
    }

    fn replace_document_at(&mut self, path: Option<&Path>, doc: Document) {
        self.workers.discard_document_jobs();
        self.doc = doc;
        self.path = path.map(Path::to_path_buf);
        self.cancelled = false;
        self.pending_submit = None;
        self.undo.clear();
        self.redo.clear();
        self.submitted = self.doc.snapshot();
        if !self.doc.applies(self.view) {
            self.view = self.doc.first_view();
        }
        self.submit();
    }

    /// Start a new plan (one candidate to start from, [`plan_editor::new_plan`]), not yet saved.
    pub fn new_plan(&mut self) {
        self.header = "// A plan made in wanka-gui.\n".into();
        self.source = None;
        self.replace_document_at(None, Document::Plan(Box::new(PlanDoc::new(&plan_editor::new_plan()))));
        self.status = "new plan: edit it, add candidates, then Save as…".into();
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

    /// Check the edited fields and, when they are all numbers, simulate in the background. The form
    /// submitted before goes on the undo history when this one differs.
    pub fn submit(&mut self) {
        let now = self.doc.snapshot();
        if let (Some(prev), Some(cur)) = (self.submitted.take(), now.as_ref())
            && prev != *cur
        {
            self.undo.push(prev);
            if self.undo.len() > UNDO_DEPTH {
                self.undo.remove(0);
            }
            self.redo.clear();
        }
        self.submitted = now;
        self.submit_now();
    }

    fn submit_now(&mut self) {
        self.pending_submit = None;
        self.cancelled = false;
        let file = self.file_label();
        self.doc.submit(file, &mut self.workers);
    }

    /// Simulate after the typing pause ([`DEBOUNCE`]); a further keystroke pushes it back.
    pub fn submit_later(&mut self) {
        self.pending_submit = Some(Instant::now() + DEBOUNCE);
    }

    /// An edit is waiting for the typing pause.
    pub fn edit_pending(&self) -> bool {
        self.pending_submit.is_some()
    }

    /// Stop the job of the latest edit (and the training run being simulated): the figures on screen
    /// stay, marked as being for the values before the edit.
    pub fn cancel(&mut self) {
        let waiting = self.pending_submit.take().is_some();
        let mut stopped = self.workers.step.cancel() | self.workers.plan.cancel();
        if self.workers.run.cancel() {
            stopped = true;
            self.doc.run_cancelled();
        }
        if waiting || stopped {
            self.cancelled = true;
            self.status = "cancelled: the figures shown are for the values before the latest edit".into();
        }
    }

    /// The figures on screen are not for the edited values: an edit waits for the typing pause, its
    /// job is running, or it was cancelled.
    pub fn stale(&self) -> bool {
        self.pending_submit.is_some() || self.workers.step.busy() || self.workers.plan.busy() || self.cancelled
    }

    /// Jobs started by opening files and by edits (steps of scenarios, comparisons of plans).
    pub fn jobs_started(&self) -> u64 {
        self.workers.step.jobs_submitted() + self.workers.plan.jobs_submitted()
    }

    /// The parallelism searches of this session: how many are held, and how many comparisons took
    /// from memory instead of searching again.
    pub fn searches(&self) -> (usize, u64) {
        (self.workers.searches.len(), self.workers.searches.hits())
    }

    /// Start the validation cases in the background (once).
    pub fn start_validation(&mut self) {
        if self.validation.is_some() || self.workers.validation.busy() {
            return;
        }
        match &self.scenarios_dir {
            Some(d) => {
                self.workers.validation.submit(d.join("validation").join("step_cases.csv"));
                let holdout = d.join("validation").join("holdout_cases.csv");
                if holdout.exists() {
                    self.workers.holdout.submit(holdout);
                }
            }
            None => self.validation = Some(Err("no scenarios/ folder found, so no validation cases".into())),
        }
    }

    /// A simulation is running for the latest edit (step, comparison, run or losses), or an edit is
    /// waiting for the typing pause.
    pub fn busy(&self) -> bool {
        self.pending_submit.is_some() || self.workers.busy()
    }

    /// The plan comparison is running.
    pub fn plan_busy(&self) -> bool {
        self.workers.plan.busy()
    }

    /// The candidate shown in the plan editor and the plan views (index into the plan's candidates).
    pub fn selected_candidate(&self) -> usize {
        self.doc.selected_candidate()
    }

    /// Select a plan candidate (as clicking its row does).
    pub fn select_candidate(&mut self, i: usize) {
        if let Some(d) = self.doc.plan_mut() {
            d.select(i);
        }
    }

    /// The validation cases are being simulated.
    pub fn validation_busy(&self) -> bool {
        self.workers.validation.busy() || self.workers.holdout.busy()
    }

    /// Messages per scenario field: text that is not a number, then the simulator's error.
    pub fn field_errors(&self) -> editor::FieldErrors {
        self.doc.scenario().map(ScenarioDoc::field_errors).unwrap_or_default()
    }

    /// Messages per plan field: text that is not a number, then the plan's error.
    pub fn plan_field_errors(&self) -> editor::FieldErrors<PlanKnob> {
        self.doc.plan().map(PlanDoc::field_errors).unwrap_or_default()
    }

    /// Every plan field is a number (in range).
    fn plan_parse_ok(&self) -> bool {
        self.doc.plan().is_none_or(PlanDoc::parse_ok)
    }

    /// The edited scenario or plan is currently invalid (so the views show the last valid result).
    pub fn invalid(&self) -> bool {
        self.doc.invalid()
    }

    /// Take finished background results.
    pub fn poll(&mut self) {
        self.finish_png_export();
        if self.pending_submit.is_some_and(|t| Instant::now() >= t) {
            self.submit();
        }
        self.doc.take_results(&mut self.workers, &mut self.status);
        if !self.pending_edits.is_empty() && !self.busy() {
            for e in std::mem::take(&mut self.pending_edits) {
                self.set_named(&e.name, &e.value);
            }
        }
        let report = |r: Result<Result<StepReport, wanka_sim::WankaError>, String>| match r {
            Ok(Ok(rep)) => Ok(rep),
            Ok(Err(e)) => Err(e.to_string()),
            Err(p) => Err(p),
        };
        if let Some(r) = self.workers.validation.poll() {
            self.validation = Some(report(r));
        }
        if let Some(r) = self.workers.holdout.poll() {
            self.holdout = Some(report(r));
        }
        if let Some(rx) = &self.dialog
            && let Ok(res) = rx.try_recv()
        {
            self.dialog = None;
            match res {
                Some(DialogResult::Open(p)) => self.open(&p),
                Some(DialogResult::SaveAs(p)) => {
                    self.save_to(&p);
                }
                None => self.status = "no file chosen (where no file dialog works, type a path under File path)".into(),
            }
        }
    }

    /// The text a save would write, checked as the command line will read it: the edited fields are
    /// numbers, the text parses back through the simulator's loader (`PlanFile::parse`,
    /// `Scenario::parse`, which run its checks) to the same plan or scenario, and the latest simulation
    /// of these very values did not fail (a plan with a refused candidate is refused too).
    pub fn save_text(&self) -> Result<String, String> {
        let fields = "some fields are not valid numbers (see the messages next to them)";
        let (text, name) = match &self.doc {
            Document::Plan(d) => {
                let p = d.form.build().map_err(|_| fields.to_string())?;
                let text = wanka_sim::ron_util::to_ron_pretty(&p).map_err(|e| e.to_string())?;
                let back = PlanFile::parse(&text, "the plan to save").map_err(|e| e.to_string())?;
                if back != p {
                    return Err("the plan does not read back as written".into());
                }
                if let Some(out) = &d.last_ok
                    && out.plan == p
                    && let Some(r) = out.rejected.first()
                {
                    let name = p.candidates.get(r.index).map_or("?", |c| c.name.as_str());
                    return Err(format!("candidate `{name}` is refused: {}", r.msg));
                }
                if d.error.is_some() && d.last_ok.as_ref().is_none_or(|o| o.plan != p) {
                    return Err(d.error.as_ref().map(|e| e.to_string()).unwrap_or_default());
                }
                (text, "plan")
            }
            Document::Scenario(d) => {
                let s = d.form.build().map_err(|_| fields.to_string())?;
                let text = wanka_sim::ron_util::to_ron_pretty(&s).map_err(|e| e.to_string())?;
                Scenario::parse(&text, "the scenario to save").map_err(|e| e.to_string())?;
                if let Some(e) = &d.error
                    && d.last_ok.as_ref().is_none_or(|o| o.scenario != s)
                {
                    return Err(e.to_string());
                }
                (text, "scenario")
            }
            Document::Empty => return Err("nothing is open".into()),
        };
        // The opened text with only the changed values rewritten, when it reads back as the edit.
        if let Some((orig, canon)) = &self.source
            && let Some(patched) = crate::ron_patch::patch(orig, canon, &text)
        {
            let same = match &self.doc {
                Document::Plan(d) => {
                    d.form.build().ok().zip(PlanFile::parse(&patched, "the plan to save").ok()).is_some_and(|(a, b)| a == b)
                }
                Document::Scenario(d) => {
                    d.form.build().ok().zip(Scenario::parse(&patched, "the scenario to save").ok()).is_some_and(|(a, b)| a == b)
                }
                Document::Empty => false,
            };
            if same {
                return Ok(patched);
            }
        }
        let header = if self.header.is_empty() { format!("// A {name} saved by wanka-gui.\n") } else { self.header.clone() };
        Ok(format!("{header}{text}\n"))
    }

    /// Save the edited scenario or plan as RON to `path`, unless it is invalid ([`WankaApp::save_text`]);
    /// an existing file is only overwritten once confirmed ([`WankaApp::confirm_overwrite`]).
    pub fn save_to(&mut self, path: &Path) -> SaveOutcome {
        if let Err(e) = self.save_text() {
            self.status = format!("cannot save: {e}");
            return SaveOutcome::Refused(e);
        }
        if path.exists() {
            self.overwrite = Some(path.to_path_buf());
            return SaveOutcome::AskOverwrite;
        }
        self.write_to(path)
    }

    /// Overwrite the file a save asked about.
    pub fn confirm_overwrite(&mut self) -> SaveOutcome {
        match self.overwrite.take() {
            Some(p) => self.write_to(&p),
            None => SaveOutcome::Refused("nothing to overwrite".into()),
        }
    }

    fn write_to(&mut self, path: &Path) -> SaveOutcome {
        let text = match self.save_text() {
            Ok(t) => t,
            Err(e) => {
                self.status = format!("cannot save: {e}");
                return SaveOutcome::Refused(e);
            }
        };
        match std::fs::write(path, text) {
            Ok(()) => {
                self.status = format!("saved {} (its comments are kept where their fields still are)", path.display());
                self.path = Some(path.to_path_buf());
                self.rescan();
                SaveOutcome::Saved
            }
            Err(e) => {
                let msg = format!("cannot save {}: {e}", path.display());
                self.status = msg.clone();
                SaveOutcome::Refused(msg)
            }
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
            let can_save = !matches!(self.doc, Document::Empty);
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
        ui.horizontal(|ui| {
            if ui.button("New plan").on_hover_text("start a plan from one candidate cluster").clicked() {
                self.new_plan();
            }
            let (u, r) = self.history();
            if ui.add_enabled(u > 0, egui::Button::new("Undo")).on_hover_text("undo the last edit (ctrl+Z outside a text field)").clicked()
            {
                self.undo();
            }
            if ui.add_enabled(r > 0, egui::Button::new("Redo")).on_hover_text("redo (ctrl+shift+Z outside a text field)").clicked() {
                self.redo();
            }
        });
        egui::CollapsingHeader::new(RichText::new("File path").strong()).default_open(false).show(ui, |ui| {
            ui.label(RichText::new("for Open and Save where no file dialog works").small().weak());
            crate::widgets::path_field(ui, &mut self.path_text);
            ui.horizontal(|ui| {
                let typed = PathBuf::from(self.path_text.trim());
                let has = !self.path_text.trim().is_empty();
                if ui.add_enabled(has, egui::Button::new("Open path")).clicked() {
                    self.open(&typed);
                }
                if ui.add_enabled(has && !matches!(self.doc, Document::Empty), egui::Button::new("Save to path")).clicked() {
                    self.save_to(&typed);
                }
            });
        });
        let mut open = None;
        egui::CollapsingHeader::new(RichText::new("Scenarios and plans").strong()).default_open(true).show(ui, |ui| {
            if self.scenario_files.is_empty() {
                ui.label(RichText::new("no scenario or plan files found").weak());
            }
            egui::ScrollArea::vertical().id_salt("scenario list").max_height(300.0).show(ui, |ui| {
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
        egui::ScrollArea::vertical().id_salt("editor").auto_shrink([false, false]).show(ui, |ui| match &mut self.doc {
            Document::Scenario(d) => {
                let searched = d.last_ok.as_ref().filter(|o| o.simulated.auto.is_some()).map(|o| o.simulated.parallelism.clone());
                let form = &mut d.form;
                ui.label(RichText::new(&form.base.name).strong());
                changed = editor::editor_ui(ui, form, &errors, crate::catalog(), searched.as_ref());
            }
            Document::Plan(d) => {
                let pf = &mut d.form;
                ui.add(egui::Label::new(RichText::new(format!("Plan: {}", pf.base.name)).strong()).wrap());
                if !pf.base.description.is_empty() {
                    ui.add(egui::Label::new(RichText::new(&pf.base.description).small().weak()).wrap());
                }
                changed = plan_editor::plan_editor_ui(ui, pf, &plan_errors, crate::catalog());
            }
            Document::Empty => {
                ui.label("Open a scenario or plan to edit it.");
            }
        });
        let typing = crate::widgets::take_typing(ui.ctx());
        if changed && typing.typed && !typing.committed {
            self.submit_later();
        } else if changed || (typing.committed && self.pending_submit.is_some()) {
            self.submit();
        }
    }

    /// Over the figures while they are not for the edited values: what is happening, and Cancel or
    /// Recompute.
    fn stale_banner_ui(&mut self, ui: &mut Ui) {
        if !self.stale() || matches!(self.doc, Document::Empty) || self.view == View::Validation {
            return;
        }
        ui.horizontal(|ui| {
            let (text, running) = if self.pending_submit.is_some() {
                ("waiting for typing to pause…", true)
            } else if self.cancelled {
                ("cancelled: the figures below are for the values before the latest edit", false)
            } else {
                ("recomputing for the latest edit: the figures below are for the values before it", true)
            };
            if running {
                ui.spinner();
            }
            ui.label(RichText::new(text).color(ui.visuals().warn_fg_color));
            if running {
                if ui.button("Cancel").on_hover_text("stop this job; the figures shown stay").clicked() {
                    self.cancel();
                }
            } else if ui.button("Recompute").on_hover_text("simulate the edited values").clicked() {
                self.doc.forget_run();
                self.submit();
            }
        });
        ui.separator();
    }

    fn central_ui(&mut self, ui: &mut Ui) {
        self.stale_banner_ui(ui);
        if self.stale() && self.view != View::Validation {
            // Figures for earlier values are drawn faded.
            ui.multiply_opacity(0.55);
        }
        match self.view {
            View::Candidates => return self.candidates_view(ui),
            View::Compare => return self.compare_view(ui),
            View::Sensitivity => return self.sensitivity_view(ui),
            View::Run => return self.run_view(ui),
            View::Losses => return self.losses_view(ui),
            _ => {}
        }
        if self.view == View::Validation {
            self.start_validation();
            let state = match &self.validation {
                Some(Ok(r)) => views::validation::ValidationState::Done(r),
                Some(Err(e)) => views::validation::ValidationState::Failed(e),
                None if self.workers.validation.busy() => views::validation::ValidationState::Running,
                None => views::validation::ValidationState::NotStarted,
            };
            views::validation::validation_ui(ui, state, self.holdout.as_ref());
            return;
        }
        let Some(out) = self.doc.last_ok() else {
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
            View::Validation | View::Candidates | View::Compare | View::Sensitivity | View::Run | View::Losses => {}
        }
    }

    fn candidates_view(&mut self, ui: &mut Ui) {
        let busy = self.workers.plan.busy();
        match self.doc.plan_mut() {
            Some(PlanDoc { last_ok: Some(out), form, .. }) => {
                let state = views::candidates::CandidatesState { sort: &mut self.sort, selected: &mut form.selected };
                views::candidates::candidates_ui(ui, out, state);
            }
            Some(_) if busy => views::working_ui(ui, "comparing the candidates…"),
            Some(_) => views::no_result_ui(ui),
            None => {
                ui.centered_and_justified(|ui| ui.label("Candidates are compared for plans: open a plan (e.g. default_plan.ron)."));
            }
        }
    }

    fn compare_view(&mut self, ui: &mut Ui) {
        let busy = self.workers.plan.busy();
        let Some(d) = self.doc.plan_mut() else { return };
        d.ensure_losses(&mut self.workers);
        let losses_busy = self.workers.losses.busy();
        let d = self.doc.plan_mut().expect("a plan");
        match &d.last_ok {
            Some(out) => {
                let losses = d.losses.as_ref().map(|l| &l.1);
                views::compare::compare_ui(ui, out, &mut d.compare, losses, losses_busy);
            }
            None if busy => views::working_ui(ui, "comparing the candidates…"),
            None => views::no_result_ui(ui),
        }
    }

    fn sensitivity_view(&mut self, ui: &mut Ui) {
        let busy = self.workers.plan.busy();
        let Some(d) = self.doc.plan_mut() else { return };
        d.ensure_sensitivity(&mut self.workers);
        let sweeping = self.workers.sensitivity.busy();
        let d = self.doc.plan_mut().expect("a plan");
        match &d.last_ok {
            Some(out) => views::sensitivity::sensitivity_ui(ui, out, d.form.selected, d.sensitivity_now(), sweeping),
            None if busy => views::working_ui(ui, "comparing the candidates…"),
            None => views::no_result_ui(ui),
        }
    }

    fn run_view(&mut self, ui: &mut Ui) {
        use views::run::RunView;
        self.doc.ensure_run(&mut self.workers);
        let busy = self.workers.run.busy();
        let target = self.doc.run_target();
        let view = match (&target, self.doc.run_ok()) {
            (Err(note), _) => RunView::Note(note),
            (Ok(job), Some(out)) if out.job == *job || busy => RunView::Done(out),
            (Ok(_), _) if busy => RunView::Running,
            (Ok(_), _) => match self.doc.run_error() {
                Some(e) => RunView::Failed(e),
                None => RunView::Running,
            },
        };
        // The error of a newer run, above the last one that worked.
        let error = match (&view, self.doc.run_error()) {
            (RunView::Done(_), Some(e)) if !busy => Some(e),
            _ => None,
        };
        views::run::run_ui(ui, view, busy, error);
    }

    fn losses_view(&mut self, ui: &mut Ui) {
        if let Some(d) = self.doc.plan_mut() {
            d.ensure_losses(&mut self.workers);
            let busy = self.workers.losses.busy();
            match &d.last_ok {
                Some(out) => views::losses::plan_losses_ui(ui, out, d.losses.as_ref().map(|l| &l.1), busy),
                None if self.workers.plan.busy() => views::working_ui(ui, "comparing the candidates…"),
                None => views::no_result_ui(ui),
            }
            return;
        }
        self.doc.ensure_run(&mut self.workers);
        let busy = self.workers.run.busy();
        match (self.doc.run_ok(), self.doc.run_error()) {
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
        // egui's small text is 9 points: too small for details, legends and the event log.
        if ui.ctx().global_style().text_styles.get(&egui::TextStyle::Small).is_some_and(|f| f.size < SMALL_TEXT) {
            ui.ctx().all_styles_mut(|s| {
                s.text_styles.insert(egui::TextStyle::Small, egui::FontId::proportional(SMALL_TEXT));
            });
        }
        let w = &self.workers;
        for w in [&w.step as &dyn Wake, &w.validation, &w.holdout, &w.plan, &w.losses, &w.run, &w.sensitivity] {
            w.wake_with(ui.ctx());
        }
        self.poll();
        if let Some(t) = self.pending_submit {
            ui.ctx().request_repaint_after(t.saturating_duration_since(Instant::now()));
        }
        // Ctrl+Z / Ctrl+Shift+Z undo the app's edits unless a text field has focus (it undoes its own typing).
        if ui.ctx().memory(|m| m.focused().is_none()) {
            let redo = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND | egui::Modifiers::SHIFT, egui::Key::Z);
            let undo = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::Z);
            if ui.ctx().input_mut(|i| i.consume_shortcut(&redo)) {
                self.redo();
            } else if ui.ctx().input_mut(|i| i.consume_shortcut(&undo)) {
                self.undo();
            }
        }

        egui::Panel::top("top").show(ui, |ui| {
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                ui.label(RichText::new("wanka").heading().strong());
                ui.separator();
                for v in View::ALL.into_iter().filter(|v| self.doc.applies(*v)) {
                    if ui.selectable_label(self.view == v, v.title()).clicked() {
                        self.view = v;
                    }
                }
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    let mut chosen = None;
                    ui.menu_button("Export", |ui| {
                        ui.label(RichText::new(format!("to {}", self.export_dir.display())).small().weak());
                        for what in Export::ALL {
                            let enabled = self.is_plan() || what == Export::ViewPng;
                            if ui.add_enabled(enabled, egui::Button::new(what.title())).clicked() {
                                chosen = Some(what);
                                ui.close();
                            }
                        }
                    });
                    if let Some(what) = chosen {
                        let _ = self.export(what, ui.ctx());
                    }
                    if self.busy() || (self.view == View::Validation && self.validation_busy()) {
                        // The edit's own job is cancelled from the banner over the figures.
                        if self.workers.run.busy()
                            && !self.stale()
                            && ui.button("Cancel").on_hover_text("stop the running job; the figures shown stay").clicked()
                        {
                            self.cancel();
                        }
                        ui.spinner().on_hover_text("simulating");
                    }
                    let refused = self.doc.refused_candidates();
                    let whole = self.doc.plan_error().is_some() || !self.plan_parse_ok();
                    if refused > 0 && !whole && self.doc.scenario().is_none() {
                        ui.label(
                            RichText::new(format!("{refused} candidate(s) refused: their rows say why; the others are compared"))
                                .color(ui.visuals().warn_fg_color),
                        );
                    } else if self.invalid() {
                        views::summary::invalid_badge_ui(ui);
                    }
                });
            });
            ui.separator();
            if self.stale() {
                ui.multiply_opacity(0.55);
            }
            if self.is_plan() {
                views::summary::plan_summary_ui(ui, self.doc.plan_ok(), self.selected_candidate(), self.plan_busy());
            } else {
                views::summary::summary_ui(ui, self.doc.last_ok(), self.workers.step.busy());
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
        egui::CentralPanel::default().show(ui, |ui| {
            self.central_rect = ui.max_rect();
            self.central_ui(ui);
        });
        if let Some(p) = self.overwrite.clone() {
            egui::Modal::new(egui::Id::unique("wanka overwrite")).show(ui.ctx(), |ui| {
                ui.label(RichText::new(format!("Overwrite {}?", p.display())).strong());
                ui.label("The file exists. Its leading comments are kept; comments inside it are lost.");
                ui.horizontal(|ui| {
                    if ui.button("Overwrite").clicked() {
                        self.confirm_overwrite();
                    }
                    if ui.button("Keep the file").clicked() {
                        self.overwrite = None;
                        self.status = "not saved".into();
                    }
                });
            });
        }
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
        if let Document::Scenario(d) = &mut self.doc {
            d.form.set_text(knob, text);
            self.submit();
        }
    }

    /// Type `text` into a numeric plan field and compare again (for scripting).
    pub fn set_plan_field(&mut self, knob: PlanKnob, text: &str) {
        if let Some(d) = self.doc.plan_mut() {
            d.form.set_text(knob, text);
            self.submit();
        }
    }

    /// Text of an editor field (for tests and scripting).
    pub fn field(&self, knob: Knob) -> Option<&str> {
        self.doc.form().map(|f| f.text(knob))
    }

    /// Text of a plan editor field (for tests and scripting).
    pub fn plan_field(&self, knob: PlanKnob) -> Option<&str> {
        self.doc.plan_form().map(|f| f.text(knob))
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
