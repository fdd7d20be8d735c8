//! The open file as one document: a scenario or a plan, each with its form, the errors of its latest
//! edit, the state of its jobs and its last valid result. The app holds one [`Document`]; the views ask
//! it what applies ([`Document::applies`]) and what to draw.
//!
//! The background threads ([`Workers`]) outlive documents: opening a file discards the jobs still
//! running for the one it replaces, and a result only reaches the document of its own kind.

use std::path::PathBuf;

use wanka_sim::planning::plan_file::PlanFile;
use wanka_sim::validate::StepReport;
use wanka_sim::{Scenario, WankaError};

use crate::editor::{self, FieldErrors, Form};
use crate::jobs::{self, PlanJob, PlanLosses, PlanOutput, RunJob, RunOutput, Sensitivity, SensitivityJob, StepJob, StepOutput};
use crate::plan_editor::{self, PlanForm, PlanKnob};
use crate::views::View;
use crate::worker::Worker;

/// One background worker per kind of job.
pub struct Workers {
    pub step: Worker<StepJob, Result<StepOutput, WankaError>>,
    pub validation: Worker<PathBuf, Result<StepReport, WankaError>>,
    /// The holdout cases (never fitted), beside the validation cases.
    pub holdout: Worker<PathBuf, Result<StepReport, WankaError>>,
    pub plan: Worker<PlanJob, Result<PlanOutput, WankaError>>,
    pub losses: Worker<PlanOutput, PlanLosses>,
    pub run: Worker<RunJob, Result<RunOutput, WankaError>>,
    pub sensitivity: Worker<SensitivityJob, Result<Sensitivity, String>>,
    /// The session's parallelism searches, shared by every comparison.
    pub searches: std::sync::Arc<wanka_sim::planning::search::SearchCache>,
}

impl Workers {
    pub fn new() -> Self {
        Workers {
            step: Worker::new("wanka-step", jobs::run_step),
            validation: Worker::new("wanka-validate", jobs::run_validation),
            holdout: Worker::new("wanka-holdout", jobs::run_validation),
            // Comparisons and runs can take long for extreme edits: a newer one cancels the superseded
            // one and starts beside it instead of waiting for it to wind down.
            plan: Worker::concurrent("wanka-plan", 2, jobs::run_plan),
            losses: Worker::concurrent("wanka-losses", 2, jobs::run_plan_losses),
            run: Worker::concurrent("wanka-run", 2, jobs::run_training),
            sensitivity: Worker::concurrent("wanka-sensitivity", 2, jobs::run_sensitivity),
            searches: Default::default(),
        }
    }

    /// Forget the jobs of a document being closed (their results are dropped when they arrive).
    pub fn discard_document_jobs(&mut self) {
        self.step.discard();
        self.plan.discard();
        self.losses.discard();
        self.run.discard();
        self.sensitivity.discard();
    }

    /// A job of the open document is running (step, comparison, run or losses).
    pub fn busy(&self) -> bool {
        self.step.busy() || self.plan.busy() || self.run.busy() || self.losses.busy() || self.sensitivity.busy()
    }
}

impl Default for Workers {
    fn default() -> Self {
        Self::new()
    }
}

/// The training run of a document: the latest job submitted, the latest result received and the error
/// of the latest job.
#[derive(Debug, Default)]
pub struct RunState {
    submitted: Option<RunJob>,
    pub ok: Option<RunOutput>,
    pub error: Option<String>,
}

/// A scenario being edited: one cluster, one parallelism plan.
pub struct ScenarioDoc {
    pub form: Form,
    /// Errors of the fields that are not numbers (found without the simulator).
    parse_errors: FieldErrors,
    /// Error the simulator returned for the latest edit (cleared by a valid one).
    pub error: Option<WankaError>,
    /// Last valid result: stays on screen while edits are invalid.
    pub last_ok: Option<StepOutput>,
    pub run: RunState,
}

/// A plan being edited: a goal and candidate clusters.
pub struct PlanDoc {
    pub form: PlanForm,
    parse_errors: FieldErrors<PlanKnob>,
    pub error: Option<WankaError>,
    /// Last valid comparison: stays on screen while edits are invalid.
    pub last_ok: Option<PlanOutput>,
    /// Counts the comparisons received (the losses are computed for one of them).
    seq: u64,
    /// Loss breakdown per candidate of comparison `.0` (see `seq`), and the comparison submitted for.
    pub losses: Option<(u64, PlanLosses)>,
    losses_for: Option<u64>,
    /// Select the fastest candidate when the first comparison arrives.
    auto_select: bool,
    pub run: RunState,
    /// Candidates (indices into the plan) of the compare view, the reference first.
    pub compare: Vec<usize>,
    /// The sensitivity sweep of (comparison `seq`, candidate), and the one submitted.
    pub sensitivity: Option<((u64, usize), Result<Sensitivity, String>)>,
    sensitivity_for: Option<(u64, usize)>,
}

/// The edited form of a document, as the undo history keeps it.
#[derive(Debug, Clone, PartialEq)]
pub enum FormSnapshot {
    Scenario(Box<Form>),
    Plan(Box<PlanForm>),
}

/// The open file.
#[derive(Default)]
pub enum Document {
    /// Nothing open yet.
    #[default]
    Empty,
    Scenario(Box<ScenarioDoc>),
    Plan(Box<PlanDoc>),
}

/// A panic on a worker thread, as an error of the edit that caused it.
fn panic_error(panic: String) -> WankaError {
    WankaError::Infeasible { reasons: vec![wanka_sim::error::Violation::Other(panic)] }
}

impl ScenarioDoc {
    pub fn new(s: &Scenario) -> Self {
        ScenarioDoc { form: Form::new(s), parse_errors: FieldErrors::default(), error: None, last_ok: None, run: RunState::default() }
    }

    /// Messages per field: text that is not a number, then the simulator's error.
    pub fn field_errors(&self) -> FieldErrors {
        let mut e = self.parse_errors.clone();
        if let Some(err) = &self.error
            && self.parse_errors.is_empty()
        {
            let (knob, msg) = editor::place_error(err);
            e.push(knob, msg);
        }
        e
    }

    /// The scenario's training run, once it has a valid result.
    fn run_target(&self) -> Result<RunJob, String> {
        let Some(out) = &self.last_ok else { return Err("No valid scenario yet.".into()) };
        Ok(RunJob {
            scenario: out.simulated.clone(),
            file: out.file.clone(),
            seeds: jobs::RUN_SEEDS,
            band_seeds: jobs::BAND_SEEDS,
            band_samples: jobs::BAND_SAMPLES,
        })
    }
}

impl PlanDoc {
    pub fn new(p: &PlanFile) -> Self {
        PlanDoc {
            form: PlanForm::new(p),
            parse_errors: FieldErrors::default(),
            error: None,
            last_ok: None,
            seq: 0,
            losses: None,
            losses_for: None,
            auto_select: true,
            run: RunState::default(),
            compare: Vec::new(),
            sensitivity: None,
            sensitivity_for: None,
        }
    }

    /// Sweep the selected candidate's knobs for the latest comparison, unless already submitted.
    pub fn ensure_sensitivity(&mut self, workers: &mut Workers) {
        let key = (self.seq, self.form.selected);
        if let Some(out) = &self.last_ok
            && self.sensitivity_for != Some(key)
            && out.result_of(key.1).is_some_and(|(_, r)| r.feasible)
        {
            workers.sensitivity.submit(SensitivityJob {
                plan: out.plan.clone(),
                candidate: key.1,
                file: out.file.clone(),
                searches: workers.searches.clone(),
                seeds: jobs::SENSITIVITY_SEEDS,
            });
            self.sensitivity_for = Some(key);
        }
    }

    /// The sweep of the selected candidate for the latest comparison, if it is in.
    pub fn sensitivity_now(&self) -> Option<&Result<Sensitivity, String>> {
        self.sensitivity.as_ref().filter(|(k, _)| *k == (self.seq, self.form.selected)).map(|(_, s)| s)
    }

    /// Every field's text is a number (in range).
    pub fn parse_ok(&self) -> bool {
        self.parse_errors.is_empty()
    }

    /// Candidates the latest comparison left out.
    pub fn refused(&self) -> usize {
        self.last_ok.as_ref().map_or(0, |o| o.rejected.len())
    }

    /// Select a candidate (as clicking its row does); the first comparison no longer picks one.
    pub fn select(&mut self, i: usize) {
        self.form.select(i);
        self.auto_select = false;
    }

    /// Messages per plan field: text that is not a number, then the plan's error.
    pub fn field_errors(&self) -> FieldErrors<PlanKnob> {
        let mut e = self.parse_errors.clone();
        if let Some(err) = &self.error
            && self.parse_errors.is_empty()
        {
            let (knob, msg) = plan_editor::place_plan_error(err);
            e.push(knob, msg);
        }
        // Candidates the latest comparison left out: their errors go next to their fields too.
        if self.parse_errors.is_empty()
            && let Some(out) = &self.last_ok
        {
            for r in &out.rejected {
                e.push(r.knob, r.msg.clone());
            }
        }
        e
    }

    /// The selected candidate's training run (built with `plan_file::candidate_scenario`), or why
    /// there is none.
    fn run_target(&self) -> Result<RunJob, String> {
        let Some(out) = &self.last_ok else { return Err("No valid comparison yet.".into()) };
        let i = self.form.selected;
        if let Some(e) = out.rejection_of(i) {
            return Err(format!("This candidate was not compared: {}", e.msg));
        }
        let Some((_, r)) = out.result_of(i) else { return Err("Select a candidate.".into()) };
        if !r.feasible {
            return Err(format!(
                "`{}` is infeasible: {}. There is no run to simulate.",
                r.name,
                r.infeasible_reason.clone().unwrap_or_default()
            ));
        }
        let Some(cand) = out.plan.candidates.get(i) else { return Err("Select a candidate.".into()) };
        match wanka_sim::planning::plan_file::candidate_scenario(&out.plan, r, cand) {
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
        }
    }

    /// Compute the loss breakdown of the latest comparison, unless it is already submitted.
    pub fn ensure_losses(&mut self, workers: &mut Workers) {
        if let Some(out) = &self.last_ok
            && self.losses_for != Some(self.seq)
        {
            workers.losses.submit(out.clone());
            self.losses_for = Some(self.seq);
        }
    }

    fn take_comparison(&mut self, r: Result<Result<PlanOutput, WankaError>, String>) {
        match r {
            Ok(Ok(out)) => {
                self.error = None;
                if std::mem::take(&mut self.auto_select)
                    && let Some(&first) = out.candidate_of.first()
                {
                    self.form.select(first);
                }
                self.last_ok = Some(out);
                self.seq += 1;
            }
            Ok(Err(e)) => self.error = Some(e),
            Err(panic) => self.error = Some(panic_error(panic)),
        }
    }
}

impl Document {
    pub fn is_plan(&self) -> bool {
        matches!(self, Document::Plan(_))
    }

    /// The edited form as it is now.
    pub fn snapshot(&self) -> Option<FormSnapshot> {
        match self {
            Document::Empty => None,
            Document::Scenario(d) => Some(FormSnapshot::Scenario(Box::new(d.form.clone()))),
            Document::Plan(d) => Some(FormSnapshot::Plan(Box::new(d.form.clone()))),
        }
    }

    /// Put an earlier form back (ignored when it is of the other kind of document).
    pub fn restore(&mut self, snap: FormSnapshot) {
        match (self, snap) {
            (Document::Scenario(d), FormSnapshot::Scenario(f)) => d.form = *f,
            (Document::Plan(d), FormSnapshot::Plan(f)) => d.form = *f,
            _ => {}
        }
    }

    /// The view applies to this document: the step, memory and topology of a scenario (or of nothing
    /// open yet), the candidates of a plan, and the training run, losses and validation of either.
    pub fn applies(&self, view: View) -> bool {
        let plan = self.is_plan();
        match view {
            View::Candidates | View::Compare | View::Sensitivity => plan,
            View::Step | View::Memory | View::Topology => !plan,
            View::Run | View::Losses | View::Validation => true,
        }
    }

    /// The view to show first for this kind of document.
    pub fn first_view(&self) -> View {
        if self.is_plan() { View::Candidates } else { View::Step }
    }

    pub fn scenario(&self) -> Option<&ScenarioDoc> {
        match self {
            Document::Scenario(d) => Some(&**d),
            _ => None,
        }
    }

    pub fn plan(&self) -> Option<&PlanDoc> {
        match self {
            Document::Plan(d) => Some(&**d),
            _ => None,
        }
    }

    pub fn plan_mut(&mut self) -> Option<&mut PlanDoc> {
        match self {
            Document::Plan(d) => Some(&mut **d),
            _ => None,
        }
    }

    /// The edited scenario (`None` unless a scenario is open).
    pub fn form(&self) -> Option<&Form> {
        self.scenario().map(|d| &d.form)
    }

    /// The edited plan (`None` unless a plan is open).
    pub fn plan_form(&self) -> Option<&PlanForm> {
        self.plan().map(|d| &d.form)
    }

    /// The scenario's last valid step result.
    pub fn last_ok(&self) -> Option<&StepOutput> {
        self.scenario().and_then(|d| d.last_ok.as_ref())
    }

    /// The simulator's error for the scenario's latest edit.
    pub fn sim_error(&self) -> Option<&WankaError> {
        self.scenario().and_then(|d| d.error.as_ref())
    }

    /// The plan's last valid comparison.
    pub fn plan_ok(&self) -> Option<&PlanOutput> {
        self.plan().and_then(|d| d.last_ok.as_ref())
    }

    /// The plan's error for its latest edit.
    pub fn plan_error(&self) -> Option<&WankaError> {
        self.plan().and_then(|d| d.error.as_ref())
    }

    /// Loss breakdown per candidate of the plan's comparison.
    pub fn plan_losses(&self) -> Option<&(u64, PlanLosses)> {
        self.plan().and_then(|d| d.losses.as_ref())
    }

    /// The training run of the document (the scenario's, or the selected candidate's).
    pub fn run(&self) -> Option<&RunState> {
        match self {
            Document::Empty => None,
            Document::Scenario(d) => Some(&d.run),
            Document::Plan(d) => Some(&d.run),
        }
    }

    fn run_mut(&mut self) -> Option<&mut RunState> {
        match self {
            Document::Empty => None,
            Document::Scenario(d) => Some(&mut d.run),
            Document::Plan(d) => Some(&mut d.run),
        }
    }

    /// The latest training run received.
    pub fn run_ok(&self) -> Option<&RunOutput> {
        self.run().and_then(|r| r.ok.as_ref())
    }

    /// The error of the latest training run.
    pub fn run_error(&self) -> Option<&str> {
        self.run().and_then(|r| r.error.as_deref())
    }

    /// The candidate shown in the plan editor and the plan views (index into the plan's candidates).
    pub fn selected_candidate(&self) -> usize {
        self.plan_form().map_or(0, |f| f.selected)
    }

    /// The edited scenario or plan is currently invalid (so the views show the last valid result).
    pub fn invalid(&self) -> bool {
        match self {
            Document::Empty => false,
            Document::Scenario(d) => !d.parse_errors.is_empty() || d.error.is_some(),
            Document::Plan(d) => !d.parse_errors.is_empty() || d.error.is_some() || d.refused() > 0,
        }
    }

    /// Candidates of the plan the latest comparison left out (their rows show why).
    pub fn refused_candidates(&self) -> usize {
        self.plan().map_or(0, PlanDoc::refused)
    }

    /// Check the edited fields and, when they are all numbers, simulate in the background.
    pub fn submit(&mut self, file: String, workers: &mut Workers) {
        match self {
            Document::Empty => {}
            Document::Scenario(d) => match d.form.build() {
                Ok(scenario) => {
                    d.parse_errors = FieldErrors::default();
                    workers.step.submit(StepJob { scenario, file, searches: workers.searches.clone() });
                }
                Err(errors) => d.parse_errors = errors,
            },
            Document::Plan(d) => match d.form.build() {
                Ok(plan) => {
                    d.parse_errors = FieldErrors::default();
                    workers.plan.submit(PlanJob { plan, file, searches: workers.searches.clone() });
                }
                Err(errors) => d.parse_errors = errors,
            },
        }
    }

    /// The training run the current view needs: the scenario's, or the selected candidate's; or why
    /// there is none.
    pub fn run_target(&self) -> Result<RunJob, String> {
        match self {
            Document::Plan(d) => d.run_target(),
            Document::Scenario(d) => d.run_target(),
            Document::Empty => Err("No valid scenario yet.".into()),
        }
    }

    /// The training run being simulated was cancelled: say so in place of its result.
    pub fn run_cancelled(&mut self) {
        if let Some(run) = self.run_mut() {
            run.error = Some("cancelled: press Recompute to simulate the run".into());
        }
    }

    /// Forget which training run was submitted, so that the run view simulates its target again.
    pub fn forget_run(&mut self) {
        if let Some(run) = self.run_mut() {
            run.submitted = None;
            run.error = None;
        }
    }

    /// Simulate the run the current target needs, unless it is already submitted.
    pub fn ensure_run(&mut self, workers: &mut Workers) {
        if let Ok(job) = self.run_target()
            && let Some(run) = self.run_mut()
            && run.submitted.as_ref() != Some(&job)
        {
            workers.run.submit(job.clone());
            run.submitted = Some(job);
        }
    }

    /// Take the finished results of the document's jobs (the results of a closed document's jobs
    /// were discarded with it). A failure of the loss breakdown is reported in `status`.
    pub fn take_results(&mut self, workers: &mut Workers, status: &mut String) {
        if let Some(r) = workers.step.poll()
            && let Document::Scenario(d) = self
        {
            match r {
                Ok(Ok(out)) => {
                    d.error = None;
                    d.last_ok = Some(out);
                }
                Ok(Err(e)) => d.error = Some(e),
                Err(panic) => d.error = Some(panic_error(panic)),
            }
        }
        if let Some(r) = workers.plan.poll()
            && let Document::Plan(d) = self
        {
            d.take_comparison(r);
        }
        if let Some(r) = workers.losses.poll() {
            match (r, self.plan_mut()) {
                (Ok(l), Some(d)) => d.losses = Some((d.losses_for.unwrap_or(d.seq), l)),
                (Ok(_), None) => {}
                (Err(panic), _) => *status = format!("cannot compute the losses: {panic}"),
            }
        }
        if let Some(r) = workers.sensitivity.poll()
            && let Some(d) = self.plan_mut()
            && let Some(key) = d.sensitivity_for
        {
            d.sensitivity = Some((key, r.unwrap_or_else(Err)));
        }
        if let Some(r) = workers.run.poll()
            && let Some(run) = self.run_mut()
        {
            match r {
                Ok(Ok(out)) => {
                    run.error = None;
                    run.ok = Some(out);
                }
                Ok(Err(e)) => run.error = Some(e.to_string()),
                Err(panic) => run.error = Some(panic),
            }
        }
    }
}
