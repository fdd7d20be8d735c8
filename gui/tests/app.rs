//! Interaction tests of the real app state with egui_kittest (no window, no renderer): load the
//! default scenario or plan, edit it through the labelled fields, wait for the background jobs, and
//! read what the summary, the tables and the views show.

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use wanka_gui::editor::{ERROR_MARK, Knob};
use wanka_gui::plan_editor::PlanKnob;
use wanka_gui::{View, WankaApp};

fn harness() -> Harness<'static, WankaApp> {
    let mut app = WankaApp::new(None);
    app.open_default();
    let mut h = Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut WankaApp| app.show(ui), app);
    wait_idle(&mut h);
    h
}

/// Step frames until no background job is running, then let the UI settle.
fn wait_idle(h: &mut Harness<'static, WankaApp>) {
    let start = Instant::now();
    loop {
        h.step();
        let s = h.state();
        if !s.busy() && (s.view != View::Validation || !s.validation_busy()) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "background job did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(3);
}

/// The step time as the summary displays it.
fn shown_step_time(h: &Harness<'static, WankaApp>) -> String {
    h.get_by_label_contains("Step time").value().expect("the step time label has text")
}

/// Replace the text of the field labelled `label`, as assistive technology or a paste would.
fn set_field(h: &mut Harness<'static, WankaApp>, label: &str, text: &str) {
    h.get_by_label(label).set_text_value_accesskit(text);
    h.run_steps(2);
}

/// Scroll the widget labelled `label` into view (the editor scrolls) and click it.
fn click(h: &mut Harness<'static, WankaApp>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    // Let the scroll animation finish before clicking where the widget ends up.
    h.run_steps(8);
    h.get_by_label(label).click();
    h.run_steps(2);
}

fn shown_errors(h: &Harness<'static, WankaApp>) -> Vec<String> {
    h.query_all_by_label_contains(ERROR_MARK).filter_map(|n| n.value()).collect()
}

#[test]
fn default_scenario_loads_and_shows_its_step_time() {
    let h = harness();
    let out = h.state().doc.last_ok().expect("default scenario is valid");
    assert_eq!(out.scenario.cluster.gpus, 10240);
    let shown = shown_step_time(&h);
    assert!(shown.contains(&format!("{:.3} s", out.result.step_s)), "{shown}");
    assert!(h.query_by_label_contains("tokens/s").is_some());
    assert!(h.query_by_label_contains("MFU / HFU").is_some());
    assert!(h.query_all_by_label_contains(" GB").next().is_some());
    assert!(shown_errors(&h).is_empty());
    h.check_accessibility();
}

#[test]
fn halving_gpus_and_dp_changes_the_step_time() {
    let mut h = harness();
    let before = shown_step_time(&h);
    assert_eq!(h.state().field(Knob::Dp), Some("160"));
    set_field(&mut h, "GPUs", "5120");
    // 5120 GPUs with DP 160 is invalid for a moment: the old result stays.
    wait_idle(&mut h);
    assert!(h.state().invalid());
    assert_eq!(shown_step_time(&h), before);
    set_field(&mut h, "DP", "80");
    wait_idle(&mut h);
    assert!(!h.state().invalid(), "{:?}", h.state().doc.sim_error());
    let after = shown_step_time(&h);
    assert_ne!(after, before);
    let out = h.state().doc.last_ok().unwrap();
    assert_eq!(out.scenario.cluster.gpus, 5120);
    assert_eq!(out.scenario.parallelism.dp, 80);
    // Half the replicas process the same global batch: the step takes longer.
    assert!(out.result.step_s > 7.0, "{after}");
    assert!(shown_errors(&h).is_empty());
}

#[test]
fn tp_3_shows_inline_error_and_keeps_last_result() {
    let mut h = harness();
    let before = shown_step_time(&h);
    let step_before = h.state().doc.last_ok().unwrap().result.step_s;
    // Type it like a user: focus the field, select all, type.
    let tp = h.get_by_label("TP");
    tp.focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("TP").type_text("3");
    h.run_steps(2);
    assert_eq!(h.state().field(Knob::Tp), Some("3"));
    wait_idle(&mut h);
    let errors = shown_errors(&h);
    assert!(errors.iter().any(|e| e.contains("field `parallelism`: tp·pp·dp·cp = 3·8·160·1")), "{errors:?}");
    assert!(h.query_by_label_contains("Invalid edit: showing the last valid result").is_some());
    assert_eq!(shown_step_time(&h), before);
    assert_eq!(h.state().doc.last_ok().unwrap().result.step_s, step_before);
    // Back to 8: valid again, the message goes away.
    set_field(&mut h, "TP", "8");
    wait_idle(&mut h);
    assert!(shown_errors(&h).is_empty());
    assert!(!h.state().invalid());
}

#[test]
fn garbage_and_extreme_input_never_panics() {
    let mut h = harness();
    let before = shown_step_time(&h);
    for (field, text) in [
        ("GPUs", "abc"),
        ("GPUs", "0"),
        ("GPUs", "4294967295"),
        ("GPUs per node", "0"),
        ("PP", "0"),
        ("Global batch", "-1"),
        ("Sequence length", "0"),
        ("Training tokens", "NaN"),
        ("NIC Gbit/s per GPU", "-5"),
        ("VPP", "1000"),
        ("Micro-batch", "0"),
        ("Iteration overhead s", "inf"),
    ] {
        set_field(&mut h, field, text);
        wait_idle(&mut h);
        assert!(h.state().invalid(), "{field} = {text} was accepted");
        assert!(!shown_errors(&h).is_empty(), "{field} = {text}: no message");
        assert_eq!(shown_step_time(&h), before, "{field} = {text}");
        // Restore the default value.
        let mut app_default = WankaApp::new(None);
        app_default.open_default();
        let knob_text = |k: Knob| app_default.field(k).unwrap_or("").to_string();
        let restore = match field {
            "GPUs" => knob_text(Knob::Gpus),
            "GPUs per node" => knob_text(Knob::GpusPerNode),
            "PP" => knob_text(Knob::Pp),
            "Global batch" => knob_text(Knob::GlobalBatch),
            "Sequence length" => knob_text(Knob::SeqLen),
            "Training tokens" => knob_text(Knob::Tokens),
            "NIC Gbit/s per GPU" => knob_text(Knob::Nic),
            "VPP" => knob_text(Knob::Vpp),
            "Micro-batch" => knob_text(Knob::MicroBatch),
            _ => knob_text(Knob::Overhead),
        };
        set_field(&mut h, field, &restore);
        wait_idle(&mut h);
        assert!(!h.state().invalid(), "{field} restore to {restore:?}");
    }
}

#[test]
fn unknown_gpus_message_names_the_field() {
    let mut h = harness();
    // A count need not fill whole nodes any more (10,241 is a plan mismatch now); zero is a cluster error.
    set_field(&mut h, "GPUs", "0");
    wait_idle(&mut h);
    let errors = shown_errors(&h);
    assert!(errors.iter().any(|e| e.contains("field `cluster.gpus`")), "{errors:?}");
}

#[test]
fn every_view_draws() {
    let mut h = harness();
    for v in ["Memory", "Topology", "Validation", "Step"] {
        h.get_by_role_and_label(Role::Button, v).click();
        h.run_steps(2);
        wait_idle(&mut h);
        assert_eq!(h.state().view.title(), v);
        h.check_accessibility();
    }
    assert!(h.query_by_label_contains("Device memory per pipeline stage").is_none());
    h.get_by_role_and_label(Role::Button, "Memory").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Device memory per pipeline stage").is_some());
    h.get_by_role_and_label(Role::Button, "Topology").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("10,240 × ").is_some());
    h.get_by_role_and_label(Role::Button, "Validation").click();
    h.run_steps(2);
    wait_idle(&mut h);
    let report = match &h.state().validation {
        Some(Ok(r)) => r.clone(),
        Some(Err(e)) => panic!("validation failed: {e}"),
        None => panic!("validation did not run"),
    };
    assert!(!report.cases.is_empty());
    assert!(h.query_by_label(&report.cases[0].id).is_some());
    // The holdout set (never fitted) is drawn too, its rows marked.
    let holdout = match &h.state().holdout {
        Some(Ok(r)) => r.clone(),
        other => panic!("holdout: {other:?}"),
    };
    assert!(!holdout.cases.is_empty());
    assert!(h.query_by_label(&holdout.cases[0].id).is_some());
    assert_eq!(h.query_all_by_label("holdout").count(), holdout.cases.len());
    assert!(h.query_by_label_contains(&format!("{} cases never fitted", holdout.cases.len())).is_some());
}

#[test]
fn checkbox_and_combo_edits_resimulate() {
    let mut h = harness();
    let before = shown_step_time(&h);
    // Without sequence parallelism the activations of the default plan do not fit in 80 GB: the
    // simulator says so under the parallelism settings and the last valid result stays.
    click(&mut h, "Sequence parallel (SP)");
    wait_idle(&mut h);
    assert!(!h.state().field_errors().is_empty());
    let errors = shown_errors(&h);
    assert!(errors.iter().any(|e| e.contains("memory")), "{errors:?}");
    assert_eq!(shown_step_time(&h), before);
    // Full recomputation makes it fit again.
    click(&mut h, "Recompute");
    h.get_by_role_and_label(Role::Button, "full").click();
    h.run_steps(2);
    wait_idle(&mut h);
    assert!(shown_errors(&h).is_empty(), "{:?}", shown_errors(&h));
    let out = h.state().doc.last_ok().unwrap();
    assert!(!out.scenario.parallelism.sequence_parallel);
    assert_eq!(out.scenario.parallelism.recompute, wanka_sim::workload::parallelism::Recompute::Full);
    assert_ne!(shown_step_time(&h), before);
}

#[test]
fn rank_order_combo_resimulates() {
    let mut h = harness();
    let before = h.state().doc.last_ok().unwrap().result.step_s;
    click(&mut h, "Rank order");
    h.get_by_role_and_label(Role::Button, "tp-cp-pp-dp (Llama 3)").click();
    h.run_steps(2);
    wait_idle(&mut h);
    assert!(shown_errors(&h).is_empty(), "{:?}", shown_errors(&h));
    let out = h.state().doc.last_ok().unwrap();
    assert_eq!(out.scenario.parallelism.rank_order, wanka_sim::workload::parallelism::RankOrder::TpCpPpDp);
    // TP 8 fills the node either way: moving pipeline neighbours together changes only which groups
    // cross the network, so the step changes, but by little.
    assert_ne!(out.result.step_s, before);
    assert!((out.result.step_s / before - 1.0).abs() < 0.2, "{} vs {before}", out.result.step_s);
}

#[test]
fn save_writes_ron_that_loads_back() {
    let mut h = harness();
    set_field(&mut h, "Global batch", "1280");
    wait_idle(&mut h);
    assert!(!h.state().invalid());
    let dir = std::env::temp_dir().join(format!("wanka-gui-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("edited.ron");
    h.state_mut().save_to(&path);
    let back = wanka_sim::Scenario::load(&path).expect("saved scenario loads");
    assert_eq!(back.parallelism.global_batch, 1280);
    assert_eq!(&back, &h.state().doc.last_ok().unwrap().scenario);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn clicking_a_listed_scenario_opens_it() {
    let mut h = harness();
    let dir = h.state().scenarios_dir.clone().unwrap();
    let files = h.state().scenario_files.clone();
    // Files that are neither scenarios nor plans (sweeps) report why in the status bar and change nothing.
    let neither =
        |p: &&std::path::PathBuf| wanka_sim::Scenario::load(p).is_err() && wanka_sim::planning::plan_file::PlanFile::load(p).is_err();
    if let Some(not_scenario) = files.iter().find(neither) {
        let name = wanka_gui::files::display_name(Some(&dir), not_scenario);
        // The list scrolls (it holds more files than it shows): bring the entry into view first.
        h.get_by_label(&name).scroll_to_me();
        h.run_steps(2);
        h.get_by_label(&name).click();
        h.run_steps(2);
        assert!(h.state().path.as_deref().is_some_and(|p| p.ends_with("default.ron")));
        assert!(h.state().status.starts_with("cannot open"), "{}", h.state().status);
    }
    let loadable = |p: &&std::path::PathBuf| !p.ends_with("default.ron") && wanka_sim::Scenario::load(p).is_ok();
    let Some(other) = files.iter().find(loadable).cloned() else {
        return; // no other scenario in this checkout
    };
    let name = wanka_gui::files::display_name(Some(&dir), &other);
    h.get_by_label(&name).scroll_to_me();
    h.run_steps(2);
    h.get_by_label(&name).click();
    h.run_steps(2);
    wait_idle(&mut h);
    assert_eq!(h.state().path.as_deref(), Some(other.as_path()));
    let expected = wanka_sim::Scenario::load(&other).unwrap();
    assert_eq!(h.state().doc.form().unwrap().base.name, expected.name);
    // Its own result (or its own error) is shown, not the default's.
    match h.state().doc.last_ok() {
        Some(out) if !h.state().invalid() => assert_eq!(out.scenario.name, expected.name),
        _ => assert!(!shown_errors(&h).is_empty()),
    }
}

// ---------------------------------------------------------------------------------------------
// Plans: the candidates table, training runs and losses.

/// The app with the default plan opened by clicking it in the file list, its comparison done.
fn plan_harness() -> Harness<'static, WankaApp> {
    let mut h = harness();
    h.get_by_label("default_plan.ron").click();
    h.run_steps(2);
    wait_idle(&mut h);
    assert!(h.state().is_plan(), "{}", h.state().status);
    assert!(h.state().doc.plan_ok().is_some(), "{:?}", h.state().doc.plan_error());
    h
}

/// The text of the candidates table cell in the row of candidate `row` under the header `column`,
/// found by position as a reader finds it.
fn table_cell(h: &Harness<'static, WankaApp>, row: &str, column: &str) -> String {
    let name = h.get_by_role_and_label(Role::Button, row).rect();
    let header = h.get_by_role_and_label(Role::Button, column).rect();
    let cells: Vec<String> = h
        .query_all_by_role(Role::Label)
        .filter(|n| {
            let r = n.rect();
            (r.center().y - name.center().y).abs() < 4.0 && r.right() > header.left() && r.left() < header.right()
        })
        .filter_map(|n| n.value())
        .collect();
    assert_eq!(cells.len(), 1, "row {row} column {column}: {cells:?}");
    cells[0].clone()
}

/// Names of the table rows from top to bottom.
fn table_rows(h: &Harness<'static, WankaApp>) -> Vec<String> {
    let names: Vec<String> = h.state().doc.plan_ok().unwrap().comparison.candidates.iter().map(|r| r.name.clone()).collect();
    let mut rows: Vec<(f32, String)> = names.iter().map(|n| (h.get_by_role_and_label(Role::Button, n).rect().top(), n.clone())).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows.into_iter().map(|r| r.1).collect()
}

const H800: &str = "10k H800 (RoCE 400G)";

#[test]
fn default_plan_opens_and_ranks_its_candidates() {
    let h = plan_harness();
    let out = h.state().doc.plan_ok().unwrap();
    assert_eq!(out.comparison.candidates.len(), 5);
    // Ranked by p50 days: the table's first row is rank 1, its p50 is the comparison's.
    let rows = table_rows(&h);
    assert_eq!(rows[0], out.comparison.candidates[0].name);
    assert_eq!(rows[0], H800);
    assert_eq!(table_cell(&h, H800, "#"), "1");
    assert_eq!(table_cell(&h, H800, "p50 days"), format!("{:.1}", out.comparison.candidates[0].days.p50));
    // Both bands side by side: failures alone, and with the model's own error (wider).
    let b = out.comparison.candidates[0].bands.clone().expect("bands of a feasible candidate");
    assert_eq!(table_cell(&h, H800, "days p10–p90"), format!("{:.1}–{:.1}", b.days_p10_failures, b.days_p90_failures));
    let with = table_cell(&h, H800, "days + model error");
    assert!(with.starts_with(&format!("{:.1}–{:.1}", b.days_p10_with_model_error, b.days_p90_with_model_error)), "{with}");
    assert!(b.days_p90_with_model_error - b.days_p10_with_model_error > b.days_p90_failures - b.days_p10_failures);
    // The fastest candidate is selected and named in the summary.
    assert_eq!(h.state().selected_candidate(), 1);
    assert!(h.query_by_label_contains("Fastest").is_some());
    assert!(h.query_by_label_contains("Pareto front 1 of 5").is_some());
    assert!(shown_errors(&h).is_empty());
    h.check_accessibility();
}

#[test]
fn halving_the_h800_pool_makes_it_slower_and_bad_counts_keep_the_table() {
    let mut h = plan_harness();
    let before = table_cell(&h, H800, "p50 days");
    let p50_before = h.state().doc.plan_ok().unwrap().result_of(1).unwrap().1.days.p50;
    // Select the H800 candidate by clicking its row; the editor shows its pool.
    h.get_by_role_and_label(Role::Button, H800).click();
    h.run_steps(2);
    assert_eq!(h.state().selected_candidate(), 1);
    assert_eq!(h.state().plan_field(PlanKnob::PoolCount(1, 0)), Some("10240"));

    // Invalid: zero devices. The plan names the field, the message shows under it; the H800 row says
    // why it is not compared and the other candidates are compared without it.
    let a800 = "10k A800 (RoCE 200G)";
    let a800_before = table_cell(&h, a800, "p50 days");
    set_field(&mut h, "Pool 1 count", "0");
    wait_idle(&mut h);
    let errors = shown_errors(&h);
    assert!(errors.iter().any(|e| e.contains("field `candidates[1].pools[0].count`") && e.contains("zero devices")), "{errors:?}");
    assert!(h.query_by_label_contains("1 candidate(s) refused").is_some());
    assert!(h.state().invalid());
    assert_eq!(table_cell(&h, H800, "p50 days"), "refused");
    assert_eq!(table_cell(&h, a800, "p50 days"), a800_before);
    let out = h.state().doc.plan_ok().unwrap();
    assert_eq!(out.comparison.candidates.len(), 4);
    assert_eq!(out.rejected.iter().map(|r| r.index).collect::<Vec<_>>(), vec![1]);
    assert!(out.result_of(1).is_none() && out.result_of(0).is_some());

    // Invalid: not a number (refused before any job: the last comparison stays).
    set_field(&mut h, "Pool 1 count", "half");
    wait_idle(&mut h);
    let errors = shown_errors(&h);
    assert!(errors.iter().any(|e| e.contains("`half` is not a whole number")), "{errors:?}");
    assert_eq!(table_cell(&h, a800, "p50 days"), a800_before);

    // Half the cards: the comparison reruns and the H800 row takes longer.
    set_field(&mut h, "Pool 1 count", "5120");
    wait_idle(&mut h);
    assert!(shown_errors(&h).is_empty(), "{:?}", shown_errors(&h));
    assert!(!h.state().invalid());
    let after = table_cell(&h, H800, "p50 days");
    let p50_after = h.state().doc.plan_ok().unwrap().result_of(1).unwrap().1.days.p50;
    assert!(p50_after > 1.5 * p50_before, "{p50_before} -> {p50_after}");
    assert_eq!(after, format!("{p50_after:.1}"));
    assert_ne!(after, before);
    assert_eq!(h.state().doc.plan_ok().unwrap().plan.candidates[1].pools[0].count, 5120);
}

/// At 1280×800 the default plan's table fits its panel: no heading or cell reaches past the window
/// (the table would scroll sideways), the main figures are columns, and what is left out is named
/// and in the details pane.
#[test]
fn the_candidates_table_fits_1280_wide() {
    let h = plan_harness();
    let headers: Vec<_> = wanka_gui::views::candidates::Column::ALL
        .iter()
        .filter_map(|c| h.query_by_role_and_label(Role::Button, c.title()).map(|n| (c.title(), n.rect())))
        .collect();
    for must in ["#", "candidate", "p50 days", "days p10–p90", "days + model error", "cost M$"] {
        assert!(headers.iter().any(|(t, _)| *t == must), "{must} is not a column: {headers:?}");
    }
    for (t, r) in &headers {
        assert!(r.right() <= 1280.0 && r.left() >= 0.0, "heading {t} at {r:?} is outside the 1280-wide window");
    }
    let right = headers.iter().map(|(_, r)| r.right()).fold(0.0, f32::max);
    let name = h.get_by_role_and_label(Role::Button, H800).rect();
    assert!(name.right() <= right, "the name cell {name:?} stays inside the table");
    if headers.len() < wanka_gui::views::candidates::Column::ALL.len() {
        assert!(h.query_by_label_contains("in the details pane").is_some(), "the left-out columns are named");
    }
}

/// A refused candidate's message is elided in its cell: hovering it shows one tooltip with the whole
/// message, not egui's tooltip of the elided text on top of the view's own (the "tooltip drawn
/// twice").
#[test]
fn an_elided_cell_shows_one_tooltip() {
    let mut h = plan_harness();
    h.get_by_role_and_label(Role::Button, H800).click();
    h.run_steps(2);
    set_field(&mut h, "Pool 1 count", "0");
    wait_idle(&mut h);
    let needle = "pool of `h800-sxm` has zero devices";
    let count = |h: &Harness<'static, WankaApp>| h.query_all_by_label_contains(needle).count();
    let before = count(&h);
    // The table's cell (its row is the H800 one), not the editor's message.
    let row = h.get_by_role_and_label(Role::Button, H800).rect();
    let cell = h
        .query_all_by_label_contains(needle)
        .find(|n| (n.rect().center().y - row.center().y).abs() < 4.0)
        .expect("the refused row shows its message")
        .rect();
    h.hover_at(cell.center());
    for _ in 0..40 {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(count(&h), before + 1, "hovering the elided message shows it once more, in one tooltip");
}

#[test]
fn clicking_headers_sorts_the_table() {
    let mut h = plan_harness();
    let out = h.state().doc.plan_ok().unwrap().comparison.clone();
    let by = |key: &dyn Fn(&wanka_sim::planning::plan_file::CandidateResult) -> f64, desc: bool| {
        let mut v: Vec<&wanka_sim::planning::plan_file::CandidateResult> = out.candidates.iter().collect();
        v.sort_by(|a, b| if desc { key(b).total_cmp(&key(a)) } else { key(a).total_cmp(&key(b)) });
        v.into_iter().map(|r| r.name.clone()).collect::<Vec<_>>()
    };
    h.get_by_role_and_label(Role::Button, "cost M$").click();
    h.run_steps(2);
    assert_eq!(table_rows(&h), by(&|r| r.economics.total_usd, false));
    h.get_by_role_and_label(Role::Button, "cost M$").click();
    h.run_steps(2);
    assert_eq!(table_rows(&h), by(&|r| r.economics.total_usd, true));
    // MFU sorts highest first.
    h.get_by_role_and_label(Role::Button, "MFU").click();
    h.run_steps(2);
    assert_eq!(table_rows(&h), by(&|r| r.mfu, true));
    h.get_by_role_and_label(Role::Button, "#").click();
    h.run_steps(2);
    assert_eq!(table_rows(&h), by(&|r| r.rank as f64, false));
}

#[test]
fn plan_training_run_and_losses() {
    let mut h = plan_harness();
    // The selected (fastest) candidate's run, built as a one-pool scenario.
    h.get_by_role_and_label(Role::Button, "Training run").click();
    h.run_steps(2);
    wait_idle(&mut h);
    let run = h.state().doc.run_ok().expect("the candidate's run");
    let table = h.state().doc.plan_ok().unwrap().result_of(1).unwrap().1.days;
    // The same inputs and seeds as the comparison: the same days.
    assert!((run.monte_carlo.wall_days.p50 - table.p50).abs() < 1e-9, "{} vs {}", run.monte_carlo.wall_days.p50, table.p50);
    assert!(h.query_by_label_contains("Days p10 / p50 / p90").is_some());
    // A mixed candidate has no single scenario: a note says so.
    h.state_mut().select_candidate(4);
    h.run_steps(2);
    assert!(h.query_by_label_contains("mixes 2 chip pools").is_some());
    // Losses: one bar per candidate, every one computed.
    h.get_by_role_and_label(Role::Button, "Losses").click();
    h.run_steps(2);
    wait_idle(&mut h);
    let (_, losses) = h.state().doc.plan_losses().expect("losses");
    assert_eq!(losses.len(), 5);
    assert!(losses.iter().all(|l| l.as_ref().is_ok_and(|l| l.lost_total_days() > 0.0)));
    assert!(h.query_by_label_contains("Losses only (mean days)").is_some());
    h.check_accessibility();
}

#[test]
fn training_run_view_of_the_default_scenario() {
    let mut h = harness();
    h.get_by_role_and_label(Role::Button, "Training run").click();
    h.run_steps(2);
    wait_idle(&mut h);
    let run = h.state().doc.run_ok().expect("the scenario's run").clone();
    // The summary: days p10/p50/p90 and ETTR as the Monte Carlo says.
    let d = &run.monte_carlo.wall_days;
    let days = h.get_by_label_contains("Days p10 / p50 / p90").value().unwrap();
    assert!(days.contains(&format!("{:.1} / {:.1} / {:.1}", d.p10, d.p50, d.p90)), "{days}");
    assert!(h.get_by_label_contains("ETTR p50").value().unwrap().contains(&format!("{:.3}", run.monte_carlo.ettr.p50)));
    // The band over 50 seeds and one seed's event log are there and drawn.
    let band = run.band.as_ref().expect("band");
    assert_eq!(band.t_days.len(), 200);
    assert!(band.p10.iter().zip(&band.p90).all(|(a, b)| a <= b));
    assert!(!run.trace.failures.is_empty() && !run.trace.down.is_empty());
    assert!(h.query_by_label_contains("Event log, seed 1").is_some());
    assert!(h.query_all_by_label("failure").next().is_some(), "failure rows in the event log");
    // Interruptions by cause: the top one is named.
    let top = wanka_gui::views::run::top_causes(&run);
    assert!(h.query_by_label(&top[0].0).is_some());
    // Zoom buttons and the losses of the same run.
    h.get_by_role_and_label(Role::Button, "First failure").click();
    h.run_steps(3);
    h.get_by_role_and_label(Role::Button, "Losses").click();
    h.run_steps(2);
    wait_idle(&mut h);
    assert!(h.query_by_label_contains("Losses of every Monte Carlo seed").is_some());
    h.check_accessibility();
}

#[test]
fn plan_garbage_never_panics() {
    let mut h = plan_harness();
    let before = table_cell(&h, H800, "p50 days");
    for (field, text) in [
        ("Training tokens", "-1"),
        ("Sequence length", "zero"),
        ("Batch tokens", "1"),
        ("Deadline days", "-3"),
        ("Budget M USD", "NaN"),
        ("NIC Gbit/s per GPU", "0"),
        ("Hot-spare nodes", "-1"),
        ("Failure-rate multiplier", "-2"),
        ("PUE", "0.5"),
        ("USD per kWh", "-0.1"),
        ("Card USD", "-5"),
    ] {
        let old = h.state().doc.plan_form().map(|f| {
            let knob = match field {
                "Training tokens" => PlanKnob::Tokens,
                "Sequence length" => PlanKnob::SeqLen,
                "Batch tokens" => PlanKnob::BatchTokens,
                "Deadline days" => PlanKnob::Deadline,
                "Budget M USD" => PlanKnob::Budget,
                "NIC Gbit/s per GPU" => PlanKnob::Nic(1),
                "Hot-spare nodes" => PlanKnob::Spares(1),
                "Failure-rate multiplier" => PlanKnob::FailureMultiplier(1),
                "PUE" => PlanKnob::Pue(1),
                "USD per kWh" => PlanKnob::UsdPerKwh(1),
                _ => PlanKnob::CardUsd(1),
            };
            f.text(knob).to_string()
        });
        set_field(&mut h, field, text);
        wait_idle(&mut h);
        assert!(h.state().invalid(), "{field} = {text} was accepted");
        assert!(!shown_errors(&h).is_empty(), "{field} = {text}: no message");
        // A refused candidate's row says so; otherwise the last valid table stays.
        let refused = h.state().doc.plan_ok().unwrap().rejection_of(1).is_some();
        let want = if refused { "refused".to_string() } else { before.clone() };
        assert_eq!(table_cell(&h, H800, "p50 days"), want, "{field} = {text}");
        set_field(&mut h, field, &old.unwrap());
        wait_idle(&mut h);
        assert!(!h.state().invalid(), "{field} restored: {:?}", shown_errors(&h));
    }
}

#[test]
fn saving_a_plan_writes_ron_that_loads_back() {
    let mut h = plan_harness();
    h.state_mut().select_candidate(1);
    h.run_steps(1);
    set_field(&mut h, "Pool 1 count", "8192");
    wait_idle(&mut h);
    assert!(!h.state().invalid());
    let dir = std::env::temp_dir().join(format!("wanka-gui-plan-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("edited_plan.ron");
    h.state_mut().save_to(&path);
    let back = wanka_sim::planning::plan_file::PlanFile::load(&path).expect("saved plan loads");
    assert_eq!(back.candidates[1].pools[0].count, 8192);
    assert_eq!(&back, &h.state().doc.plan_ok().unwrap().plan);
    // And the app opens it again as a plan.
    h.state_mut().open(&path);
    h.run_steps(2);
    wait_idle(&mut h);
    assert!(h.state().is_plan());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Saving keeps the comments of the opened file: every comment line of `default_plan.ron` is still
/// in the saved file after a pool-count edit, beside its field, and no default the file left out is
/// written; adding a candidate (a structural edit) keeps them too.
#[test]
fn saving_a_plan_keeps_every_comment() {
    let mut h = plan_harness();
    let orig_path = h.state().path.clone().expect("opened from a file");
    let orig = std::fs::read_to_string(&orig_path).unwrap();
    let comments: Vec<String> = orig.lines().filter_map(|l| l.find("//").map(|k| l[k..].trim_end().to_string())).collect();
    assert!(comments.len() >= 15, "the default plan is commented: {comments:?}");
    h.state_mut().select_candidate(1);
    h.run_steps(1);
    set_field(&mut h, "Pool 1 count", "8192");
    wait_idle(&mut h);
    assert!(!h.state().invalid());
    let dir = std::env::temp_dir().join(format!("wanka-gui-plan-comments-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("edited_plan.ron");
    assert_eq!(h.state_mut().save_to(&path), wanka_gui::app::SaveOutcome::Saved);
    let saved = std::fs::read_to_string(&path).unwrap();
    for c in &comments {
        assert!(saved.contains(c.as_str()), "comment lost: {c}\n{saved}");
    }
    // The line comment after a value stays on its line.
    let budget = orig.lines().find(|l| l.contains("budget_musd:")).unwrap();
    assert!(saved.lines().any(|l| l == budget), "{budget}\n{saved}");
    let back = wanka_sim::planning::plan_file::PlanFile::load(&path).expect("saved plan loads");
    assert_eq!(back.candidates[1].pools[0].count, 8192);
    assert_eq!(&back, &h.state().doc.plan_ok().unwrap().plan);
    assert!(saved.contains("count: 8192"));
    // Only the count changed: the rest of the file is byte for byte the original.
    assert_eq!(saved.lines().count(), orig.lines().count());
    let differing: Vec<(&str, &str)> = orig.lines().zip(saved.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(differing.len(), 1, "{differing:?}");
    // A structural edit: one more candidate. The comments of the others stay.
    click(&mut h, "Duplicate candidate");
    wait_idle(&mut h);
    let path2 = dir.join("grown_plan.ron");
    assert_eq!(h.state_mut().save_to(&path2), wanka_gui::app::SaveOutcome::Saved);
    let grown = std::fs::read_to_string(&path2).unwrap();
    for c in &comments {
        assert!(grown.contains(c.as_str()), "comment lost after adding a candidate: {c}\n{grown}");
    }
    let back = wanka_sim::planning::plan_file::PlanFile::load(&path2).expect("saved plan loads");
    assert_eq!(back.candidates.len(), 6);
    assert_eq!(&back, &h.state().doc.plan_ok().unwrap().plan);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Responsive edits: typing is debounced, money edits reuse the searches, absurd numbers are refused
// next to their field, a running job can be cancelled.

/// Focus the field labelled `label`, select its text and type `text` one key at a time with a frame
/// between keys, as a user types (well within the typing pause).
fn type_keys(h: &mut Harness<'static, WankaApp>, label: &str, text: &str, mut after_each: impl FnMut(&Harness<'static, WankaApp>)) {
    h.get_by_label(label).scroll_to_me();
    h.run_steps(8);
    h.get_by_label(label).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    for c in text.chars() {
        h.get_by_label(label).type_text(&c.to_string());
        h.step();
        after_each(h);
    }
}

#[test]
fn typing_a_pool_count_starts_one_job_and_no_intermediate_error() {
    let mut h = plan_harness();
    h.get_by_role_and_label(Role::Button, H800).click();
    h.run_steps(2);
    assert_eq!(h.state().selected_candidate(), 1);
    let jobs = h.state().jobs_started();
    type_keys(&mut h, "Pool 1 count", "5120", |h| {
        // "5", "51", "512" are not simulated: no job, no message about whole nodes.
        assert_eq!(h.state().jobs_started(), jobs, "a job started while typing");
        assert!(shown_errors(h).is_empty(), "{:?}", shown_errors(h));
        assert!(h.state().edit_pending());
        assert!(h.state().stale());
    });
    assert_eq!(h.state().plan_field(PlanKnob::PoolCount(1, 0)), Some("5120"));
    let t = Instant::now();
    wait_idle(&mut h);
    let elapsed = t.elapsed();
    assert_eq!(h.state().jobs_started(), jobs + 1, "one job for the whole edit");
    assert!(shown_errors(&h).is_empty(), "{:?}", shown_errors(&h));
    assert!(!h.state().stale());
    let out = h.state().doc.plan_ok().unwrap();
    assert_eq!(out.plan.candidates[1].pools[0].count, 5120);
    assert_eq!(table_cell(&h, H800, "p50 days"), format!("{:.1}", out.result_of(1).unwrap().1.days.p50));
    eprintln!("pool-count edit to updated table (typing pause included): {:.2} s", elapsed.as_secs_f64());
    // The name still says 10k: the editor suggests renaming it.
    assert!(h.query_by_label_contains("the name says about 10000 devices, the pools have 5120").is_some());
}

#[test]
fn a_money_edit_compares_again_without_searching_again() {
    let mut h = plan_harness();
    h.state_mut().select_candidate(1);
    h.run_steps(2);
    let cost_before = h.state().doc.plan_ok().unwrap().result_of(1).unwrap().1.economics.total_usd;
    let (held, hits) = h.state().searches();
    assert!(held > 0, "the first comparison searched");
    let jobs = h.state().jobs_started();
    let old = h.state().plan_field(PlanKnob::UsdPerKwh(1)).unwrap().to_string();
    let new = format!("{}", old.parse::<f64>().unwrap() * 2.0 + 0.05);
    set_field(&mut h, "USD per kWh", &new);
    wait_idle(&mut h);
    assert_eq!(h.state().jobs_started(), jobs + 1);
    let (held_after, hits_after) = h.state().searches();
    assert_eq!(held_after, held, "a money edit searched again");
    assert!(hits_after > hits, "the comparison took its searches from memory");
    let cost_after = h.state().doc.plan_ok().unwrap().result_of(1).unwrap().1.economics.total_usd;
    assert!(cost_after > cost_before, "dearer power costs more: {cost_before} -> {cost_after}");
}

#[test]
fn an_absurd_failure_multiplier_is_refused_next_to_the_field() {
    let mut h = plan_harness();
    let before = table_cell(&h, H800, "p50 days");
    let jobs = h.state().jobs_started();
    set_field(&mut h, "Failure-rate multiplier", "1e308");
    wait_idle(&mut h);
    assert!(h.state().invalid());
    assert_eq!(h.state().jobs_started(), jobs, "refused without starting a job");
    let max = wanka_sim::limits::MAX_FAILURE_MULTIPLIER;
    let errors = h.state().plan_field_errors();
    let i = h.state().selected_candidate();
    let at_field = errors.get(PlanKnob::FailureMultiplier(i));
    assert!(at_field.iter().any(|e| e.contains(&format!("must be in [0, {max}]")) && e.contains("1e308")), "{at_field:?}");
    assert!(shown_errors(&h).iter().any(|e| e.contains(&format!("[0, {max}]"))), "{:?}", shown_errors(&h));
    assert_eq!(table_cell(&h, H800, "p50 days"), before);
    // The scenario editor refuses it too.
    let mut s = harness();
    let jobs = s.state().jobs_started();
    set_field(&mut s, "Failure-rate multiplier", "1e308");
    wait_idle(&mut s);
    assert!(s.state().invalid());
    assert_eq!(s.state().jobs_started(), jobs);
    assert!(shown_errors(&s).iter().any(|e| e.contains(&format!("[0, {max}]"))), "{:?}", shown_errors(&s));
}

#[test]
fn cancel_stops_a_comparison_and_keeps_the_figures_marked_stale() {
    let mut h = plan_harness();
    let before = table_cell(&h, H800, "p50 days");
    h.state_mut().select_candidate(1);
    h.run_steps(1);
    set_field(&mut h, "Pool 1 count", "6144");
    // Wait out the typing pause until the comparison runs.
    let t = Instant::now();
    while !h.state().plan_busy() {
        assert!(t.elapsed() < Duration::from_secs(10), "the edit was never compared");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(h.query_by_label_contains("recomputing for the latest edit").is_some());
    h.get_by_role_and_label(Role::Button, "Cancel").click();
    h.run_steps(2);
    assert!(!h.state().busy());
    assert!(h.state().stale());
    assert!(h.query_by_label_contains("cancelled: the figures below are for the values before").is_some());
    assert_eq!(table_cell(&h, H800, "p50 days"), before);
    assert_eq!(h.state().doc.plan_ok().unwrap().plan.candidates[1].pools[0].count, 10240);
}

// ---------------------------------------------------------------------------------------------
// Plans built in the app: candidates and pools added, copied and removed; new plans; saving checked.

const H800_COPY: &str = "10k H800 (RoCE 400G) (copy)";

fn candidate_names(h: &Harness<'static, WankaApp>) -> Vec<String> {
    h.state().doc.plan_form().unwrap().base.candidates.iter().map(|c| c.name.clone()).collect()
}

#[test]
fn add_duplicate_and_remove_candidates() {
    let mut h = plan_harness();
    let names = candidate_names(&h);
    h.get_by_role_and_label(Role::Button, H800).click();
    h.run_steps(2);
    let jobs = h.state().jobs_started();
    click(&mut h, "Duplicate candidate");
    wait_idle(&mut h);
    assert_eq!(h.state().jobs_started(), jobs + 1);
    assert_eq!(candidate_names(&h)[2], H800_COPY);
    assert_eq!(h.state().selected_candidate(), 2);
    let out = h.state().doc.plan_ok().unwrap();
    assert_eq!(out.comparison.candidates.len(), 6);
    // A copy is the same cluster with the same seeds: the same figures, in its own row.
    let (orig, copy) = (out.result_of(1).unwrap().1, out.result_of(2).unwrap().1);
    assert_eq!(copy.name, H800_COPY);
    assert_eq!((copy.days.p50, copy.economics.total_usd), (orig.days.p50, orig.economics.total_usd));
    assert_eq!(table_cell(&h, H800_COPY, "p50 days"), table_cell(&h, H800, "p50 days"));
    // Vary the copy: half its cards.
    set_field(&mut h, "Pool 1 count", "5120");
    wait_idle(&mut h);
    let out = h.state().doc.plan_ok().unwrap();
    assert_eq!(out.plan.candidates[1].pools[0].count, 10240, "the original is untouched");
    assert!(out.result_of(2).unwrap().1.days.p50 > 1.5 * out.result_of(1).unwrap().1.days.p50);
    // Remove the copy: the plan is the original again, its fields where they were.
    click(&mut h, "Remove candidate");
    wait_idle(&mut h);
    assert_eq!(candidate_names(&h), names);
    assert_eq!(h.state().plan_field(PlanKnob::PoolCount(1, 0)), Some("10240"));
    assert_eq!(h.state().plan_field(PlanKnob::PoolCount(4, 1)), Some("6144"));
    assert_eq!(h.state().doc.plan_ok().unwrap().comparison.candidates.len(), 5);
    // Add one: a new cluster under a new name, compared with the rest.
    click(&mut h, "Add candidate");
    wait_idle(&mut h);
    let names_now = candidate_names(&h);
    assert_eq!(names_now.len(), 6);
    assert_eq!(names_now[5], "New candidate");
    assert_eq!(h.state().selected_candidate(), 5);
    let out = h.state().doc.plan_ok().unwrap();
    assert!(out.result_of(5).is_some_and(|(_, r)| r.name == "New candidate" && r.devices == 1024), "{:?}", out.rejected);
    assert!(shown_errors(&h).is_empty(), "{:?}", shown_errors(&h));
}

#[test]
fn add_and_remove_pools() {
    let mut h = plan_harness();
    h.state_mut().select_candidate(4);
    h.run_steps(2);
    assert_eq!(h.state().doc.plan_form().unwrap().base.candidates[4].pools.len(), 2);
    click(&mut h, "Remove pool 1");
    wait_idle(&mut h);
    let c = &h.state().doc.plan_ok().unwrap().plan.candidates[4];
    assert_eq!(c.pools.len(), 1);
    assert_eq!((c.pools[0].chip.as_str(), c.pools[0].count), ("a800-sxm-80gb", 6144));
    assert_eq!(h.state().plan_field(PlanKnob::PoolCount(4, 0)), Some("6144"));
    assert_eq!(h.state().doc.plan_ok().unwrap().result_of(4).unwrap().1.devices, 6144);
    click(&mut h, "Add pool");
    wait_idle(&mut h);
    let c = &h.state().doc.plan_ok().unwrap().plan.candidates[4];
    assert_eq!(c.pools.len(), 2);
    assert_eq!(h.state().plan_field(PlanKnob::PoolCount(4, 1)), Some("6144"));
}

#[test]
fn a_new_plan_is_compared() {
    let mut h = harness();
    click(&mut h, "New plan");
    wait_idle(&mut h);
    assert!(h.state().is_plan());
    assert!(h.state().path.is_none());
    let out = h.state().doc.plan_ok().expect("the new plan compares");
    assert_eq!(out.comparison.candidates.len(), 1);
    assert!(out.comparison.candidates[0].feasible, "{:?}", out.comparison.candidates[0].infeasible_reason);
    assert!(h.query_all_by_label_contains("Candidates").next().is_some());
    assert!(h.query_by_label_contains("Plan: New plan").is_some());
}

#[test]
fn saving_an_invalid_plan_is_refused_and_overwriting_asks() {
    let mut h = plan_harness();
    let dir = std::env::temp_dir().join(format!("wanka-gui-save-refused-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plan.ron");
    h.state_mut().select_candidate(1);
    h.run_steps(1);
    // A pool of zero devices: the command line would refuse the file, so it is not written.
    set_field(&mut h, "Pool 1 count", "0");
    wait_idle(&mut h);
    match h.state_mut().save_to(&path) {
        wanka_gui::app::SaveOutcome::Refused(e) => assert!(e.contains("zero devices"), "{e}"),
        other => panic!("saved an invalid plan: {other:?}"),
    }
    assert!(!path.exists());
    h.run_steps(1);
    assert!(h.query_by_label_contains("cannot save").is_some());
    // Not a number: refused too.
    set_field(&mut h, "Pool 1 count", "lots");
    wait_idle(&mut h);
    assert!(matches!(h.state_mut().save_to(&path), wanka_gui::app::SaveOutcome::Refused(_)));
    assert!(!path.exists());
    // Valid again: written, with the file's leading comments, and it loads back.
    set_field(&mut h, "Pool 1 count", "8192");
    wait_idle(&mut h);
    assert_eq!(h.state_mut().save_to(&path), wanka_gui::app::SaveOutcome::Saved);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("// The bundled default plan"), "{}", &text[..80.min(text.len())]);
    assert_eq!(wanka_sim::planning::plan_file::PlanFile::load(&path).unwrap().candidates[1].pools[0].count, 8192);
    // Saving again asks first; keeping the file leaves it alone, overwriting writes it.
    set_field(&mut h, "Pool 1 count", "9216");
    wait_idle(&mut h);
    assert_eq!(h.state_mut().save_to(&path), wanka_gui::app::SaveOutcome::AskOverwrite);
    h.run_steps(2);
    assert!(h.query_by_label_contains(&format!("Overwrite {}?", path.display())).is_some());
    h.get_by_role_and_label(Role::Button, "Keep the file").click();
    h.run_steps(2);
    assert_eq!(wanka_sim::planning::plan_file::PlanFile::load(&path).unwrap().candidates[1].pools[0].count, 8192);
    assert_eq!(h.state_mut().save_to(&path), wanka_gui::app::SaveOutcome::AskOverwrite);
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, "Overwrite").click();
    h.run_steps(2);
    assert_eq!(wanka_sim::planning::plan_file::PlanFile::load(&path).unwrap().candidates[1].pools[0].count, 9216);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Decisions: compare candidates side by side; what moves the days and the cost.

#[test]
fn the_compare_view_shows_two_candidates_with_their_differences() {
    let mut h = plan_harness();
    h.get_by_role_and_label(Role::Button, "Compare").click();
    h.run_steps(2);
    wait_idle(&mut h);
    let out = h.state().doc.plan_ok().unwrap().clone();
    // The two fastest by default, the fastest the reference.
    let (a, b) = (&out.comparison.candidates[0], &out.comparison.candidates[1]);
    assert_eq!(h.state().doc.plan().unwrap().compare, vec![out.candidate_of[0], out.candidate_of[1]]);
    let shown = |h: &Harness<'static, WankaApp>, text: &str| h.query_all_by_label(text).next().is_some();
    assert!(shown(&h, &a.name) && shown(&h, &b.name));
    assert!(shown(&h, &format!("{:.1}", a.days.p50)) && shown(&h, &format!("{:.1}", b.days.p50)));
    let d = b.days.p50 - a.days.p50;
    assert!(shown(&h, &format!("{d:+.1} ({:+.0}%)", 100.0 * d / a.days.p50)), "the p50 difference");
    let dc = (b.economics.total_usd - a.economics.total_usd) / 1e6;
    assert!(shown(&h, &format!("{dc:+.2} ({:+.0}%)", 100.0 * dc / (a.economics.total_usd / 1e6))), "the cost difference");
    // The step breakdown of each chosen layout, and the losses once computed.
    let ba = &a.top_plans[0].breakdown;
    assert!(shown(&h, &format!("{:.2}", ba.compute_s)));
    let (_, losses) = h.state().doc.plan_losses().expect("losses");
    let la = losses[0].as_ref().unwrap();
    assert!(shown(&h, &format!("{:.1}", la.lost_total_days())));
    let money = la.lost_total_days() / la.wall_days * a.economics.total_usd / 1e6;
    assert!(shown(&h, &format!("{money:.2}")), "lost money {money}");
    // The layout in words, not the library's shorthand.
    let words = wanka_gui::views::candidates::parallelism_words(a);
    assert!(words.contains(", ZeRO-") && !words.contains(" mb") && !words.contains("recompute-"), "{words}");
    assert!(h.query_by_label_contains(&words).is_some(), "{words}");
    // Why: the sentence splits the difference into step and losses.
    assert!(h.query_by_label_contains(&format!("`{}` takes", b.name)).is_some());
    // A third candidate ticked: its column and differences appear.
    let c = &out.comparison.candidates[2];
    h.get_by_role_and_label(Role::CheckBox, &c.name).click();
    h.run_steps(2);
    assert_eq!(h.state().doc.plan().unwrap().compare.len(), 3);
    let dc = c.days.p50 - a.days.p50;
    assert!(shown(&h, &format!("{dc:+.1} ({:+.0}%)", 100.0 * dc / a.days.p50)));
}

#[test]
fn the_sensitivity_view_sweeps_the_selected_candidate() {
    let mut h = plan_harness();
    h.state_mut().select_candidate(1);
    h.get_by_role_and_label(Role::Button, "Sensitivity").click();
    h.run_steps(2);
    wait_idle(&mut h);
    let s = match h.state().doc.plan().unwrap().sensitivity_now() {
        Some(Ok(s)) => s.clone(),
        other => panic!("no sweep: {other:?}"),
    };
    assert_eq!(s.candidate, H800);
    assert_eq!(s.knobs.len(), 5);
    let knob = |name: &str| s.knobs.iter().find(|k| k.name == name).unwrap_or_else(|| panic!("{name}"));
    let pt = |r: &Result<wanka_gui::jobs::SweepPoint, String>| *r.as_ref().expect("a result");
    // Directions the model must get right: more failures, fewer devices, a slower NIC take longer.
    let f = knob("failure rate");
    assert!(pt(&f.high).days_p50 > s.base.days_p50 && pt(&f.low).days_p50 < s.base.days_p50, "{f:?}");
    let d = knob("devices");
    assert!(pt(&d.low).days_p50 > s.base.days_p50 && pt(&d.high).days_p50 < s.base.days_p50, "{d:?}");
    let n = knob("NIC speed");
    assert!(pt(&n.low).days_p50 >= s.base.days_p50, "{n:?}");
    // Ordered by swing; every row is drawn with its numbers.
    let swings: Vec<f64> = s.knobs.iter().map(|k| k.days_swing(&s.base)).collect();
    assert!(swings.windows(2).all(|w| w[0] >= w[1]), "{swings:?}");
    let text = format!(
        "failure rate p50 days: {}: {}",
        f.low_label,
        wanka_gui::views::sensitivity::bar_text(wanka_gui::views::sensitivity::Measure::Days, s.base.days_p50, pt(&f.low).days_p50,)
    );
    assert!(h.query_by_label_contains(&text).is_some(), "{text}");
    assert!(h.query_by_label_contains("failure rate total cost, M USD").is_some());
    assert!(h.query_by_label_contains(&format!("over {} Monte Carlo seeds", s.seeds)).is_some());
}

// ---------------------------------------------------------------------------------------------
// Exports.

fn export_via_menu(h: &mut Harness<'static, WankaApp>, item: &str) {
    h.get_by_role_and_label(Role::Button, "Export").click();
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, item).click();
    h.step();
}

#[test]
fn exports_write_a_csv_that_parses_back_a_report_and_a_png() {
    let mut h = plan_harness();
    let dir = std::env::temp_dir().join(format!("wanka-gui-exports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    h.state_mut().export_dir = dir.clone();
    let out = h.state().doc.plan_ok().unwrap().clone();

    // The candidates table: every result, its figures in full precision under the vocabulary's names.
    export_via_menu(&mut h, "Candidates table (CSV)");
    let path = h.state().export_path(wanka_gui::app::Export::TableCsv);
    let mut rd = csv::Reader::from_path(&path).expect("the CSV is written");
    let headers = rd.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}: {headers:?}"));
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), out.comparison.candidates.len());
    for (row, r) in rows.iter().zip(&out.comparison.candidates) {
        assert_eq!(&row[col("name")], r.name);
        assert_eq!(row[col("days_p50")].parse::<f64>().unwrap(), r.days.p50);
        assert_eq!(row[col("cost_musd")].parse::<f64>().unwrap(), r.economics.total_usd / 1e6);
        assert_eq!(row[col("devices")].parse::<u64>().unwrap(), r.devices);
    }

    // The report names every candidate and the Pareto front.
    export_via_menu(&mut h, "Report (Markdown)");
    let report = std::fs::read_to_string(h.state().export_path(wanka_gui::app::Export::Report)).unwrap();
    assert!(report.starts_with(&format!("# {}", out.comparison.plan)));
    assert!(out.comparison.candidates.iter().all(|r| report.contains(&r.name)));
    assert!(report.contains("Pareto front"));

    // The chart as SVG: one point per feasible candidate.
    export_via_menu(&mut h, "Time vs cost chart (SVG)");
    let svg = std::fs::read_to_string(h.state().export_path(wanka_gui::app::Export::ChartSvg)).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("class=\"candidate\"").count(), out.comparison.candidates.iter().filter(|r| r.feasible).count());

    // The view as PNG: the app asks the renderer for the frame's pixels; here the harness has no
    // renderer, so the test answers the request with an image of the window's size.
    export_via_menu(&mut h, "This view (PNG)");
    let cmds = h.output().viewport_output.get(&egui::ViewportId::ROOT).map(|v| v.commands.clone()).unwrap_or_default();
    let shot = cmds
        .into_iter()
        .find_map(|c| match c {
            egui::ViewportCommand::Screenshot(cb) => Some(cb),
            _ => None,
        })
        .expect("the export asked for a screenshot");
    let ppp = h.ctx.pixels_per_point();
    let size = [(1280.0 * ppp) as usize, (800.0 * ppp) as usize];
    let mut pixels = vec![egui::Color32::from_rgb(10, 20, 30); size[0] * size[1]];
    pixels[0] = egui::Color32::RED;
    shot.complete(std::sync::Arc::new(egui::ColorImage::new(size, pixels)));
    h.run_steps(2);
    let png_path = h.state().export_path(wanka_gui::app::Export::ViewPng);
    let bytes = std::fs::read(&png_path).expect("the PNG is written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let img = image::load_from_memory(&bytes).unwrap();
    // Cropped to the central panel: narrower than the window, as tall as the panel.
    assert!(img.width() > 400 && (img.width() as usize) < size[0], "{}", img.width());
    assert!(img.height() > 300 && (img.height() as usize) < size[1], "{}", img.height());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn undo_and_redo_edits() {
    let mut h = plan_harness();
    let p50 = h.state().doc.plan_ok().unwrap().result_of(1).unwrap().1.days.p50;
    h.state_mut().select_candidate(1);
    h.run_steps(1);
    assert_eq!(h.state().history(), (0, 0));
    set_field(&mut h, "Pool 1 count", "5120");
    wait_idle(&mut h);
    click(&mut h, "Duplicate candidate");
    wait_idle(&mut h);
    assert_eq!(h.state().history(), (2, 0));
    assert_eq!(candidate_names(&h).len(), 6);
    // Undo the copy, then the count: the plan and its comparison are as opened.
    click(&mut h, "Undo");
    wait_idle(&mut h);
    assert_eq!(candidate_names(&h).len(), 5);
    assert_eq!(h.state().plan_field(PlanKnob::PoolCount(1, 0)), Some("5120"));
    click(&mut h, "Undo");
    wait_idle(&mut h);
    assert_eq!(h.state().plan_field(PlanKnob::PoolCount(1, 0)), Some("10240"));
    assert_eq!(h.state().doc.plan_ok().unwrap().result_of(1).unwrap().1.days.p50, p50);
    assert_eq!(h.state().history(), (0, 2));
    // Redo brings the count back; a new edit clears what was left to redo.
    click(&mut h, "Redo");
    wait_idle(&mut h);
    assert_eq!(h.state().doc.plan_ok().unwrap().plan.candidates[1].pools[0].count, 5120);
    set_field(&mut h, "NIC Gbit/s per GPU", "200");
    wait_idle(&mut h);
    assert_eq!(h.state().history(), (2, 0));
}

#[test]
fn pinning_the_parallelism_of_a_candidate() {
    let mut h = plan_harness();
    h.state_mut().select_candidate(1);
    h.run_steps(1);
    let before = h.state().doc.plan_ok().unwrap().result_of(1).unwrap().1.clone();
    assert!(!before.parallelism.contains("TP4 "), "{}", before.parallelism);
    set_field(&mut h, "Pin TP", "4");
    wait_idle(&mut h);
    assert!(shown_errors(&h).is_empty(), "{:?}", shown_errors(&h));
    let out = h.state().doc.plan_ok().unwrap();
    assert_eq!(out.plan.candidates[1].parallelism.tp, Some(vec![4]));
    let r = out.result_of(1).unwrap().1;
    assert!(r.parallelism.contains(": TP4 "), "{}", r.parallelism);
    assert!(h.query_by_label_contains("Parallelism: searched within the pins").is_some());
    // Not a number: refused next to the field, no job.
    let jobs = h.state().jobs_started();
    set_field(&mut h, "Pin TP", "four");
    wait_idle(&mut h);
    assert_eq!(h.state().jobs_started(), jobs);
    assert!(shown_errors(&h).iter().any(|e| e.contains("pins are whole numbers")), "{:?}", shown_errors(&h));
}

/// The scenario form toggles between a searched parallelism (auto, the fields pins) and a written one.
#[test]
fn toggling_auto_parallelism_searches_and_pins() {
    let mut h = harness();
    let written = h.state().doc.last_ok().unwrap().scenario.clone();
    assert!(written.auto.is_none());
    assert!(h.query_by_label_contains("Plan (searched)").is_none());
    click(&mut h, "Search the parallelism (auto)");
    wait_idle(&mut h);
    assert!(shown_errors(&h).is_empty(), "{:?}", shown_errors(&h));
    let out = h.state().doc.last_ok().unwrap().clone();
    assert!(out.scenario.auto.is_some(), "the submitted scenario is auto");
    // The plan is the simulator's search of the same scenario, not the form's.
    let mut auto = written.clone();
    auto.auto = Some(Default::default());
    let want = wanka_sim::planning::auto::search_scenario(&auto, wanka_gui::catalog(), "t", &Default::default(), &wanka_sim::Cancel::new())
        .unwrap();
    assert_eq!(out.simulated.parallelism, want.parallelism);
    assert!(h.query_by_label_contains("Plan (searched)").is_some(), "the summary says the plan was searched");
    // A pin: TP 4 is kept by the search.
    set_field(&mut h, "TP", "4");
    wait_idle(&mut h);
    let pinned = h.state().doc.last_ok().unwrap().clone();
    assert_eq!(pinned.simulated.parallelism.tp, 4);
    assert_eq!(pinned.scenario.auto.as_ref().and_then(|a| a.tp), Some(4));
    // Off again: the plan the search chose, now written, simulated as it is.
    click(&mut h, "Search the parallelism (auto)");
    wait_idle(&mut h);
    let off = h.state().doc.last_ok().unwrap();
    assert!(off.scenario.auto.is_none());
    assert_eq!(off.scenario.parallelism, pinned.simulated.parallelism);
    assert_eq!(off.result.step_s, pinned.result.step_s);
    assert!(h.query_by_label_contains("Plan (searched)").is_none());
}
