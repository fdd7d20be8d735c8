//! Interaction tests of the real app state with egui_kittest (no window, no renderer): load the
//! default scenario, edit it through the labelled fields, wait for the background job, and read
//! what the summary shows.

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use wanka_gui::editor::{ERROR_MARK, Knob};
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
    let out = h.state().last_ok.as_ref().expect("default scenario is valid");
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
    assert!(!h.state().invalid(), "{:?}", h.state().sim_error);
    let after = shown_step_time(&h);
    assert_ne!(after, before);
    let out = h.state().last_ok.as_ref().unwrap();
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
    let step_before = h.state().last_ok.as_ref().unwrap().result.step_s;
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
    assert_eq!(h.state().last_ok.as_ref().unwrap().result.step_s, step_before);
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
    set_field(&mut h, "GPUs", "10241");
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
    let out = h.state().last_ok.as_ref().unwrap();
    assert!(!out.scenario.parallelism.sequence_parallel);
    assert_eq!(out.scenario.parallelism.recompute, wanka_sim::parallelism::Recompute::Full);
    assert_ne!(shown_step_time(&h), before);
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
    assert_eq!(&back, &h.state().last_ok.as_ref().unwrap().scenario);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn clicking_a_listed_scenario_opens_it() {
    let mut h = harness();
    let dir = h.state().scenarios_dir.clone().unwrap();
    let files = h.state().scenario_files.clone();
    // Files that are not scenarios (plans, sweeps) report why in the status bar and change nothing.
    if let Some(not_scenario) = files.iter().find(|p| wanka_sim::Scenario::load(p).is_err()) {
        let name = wanka_gui::files::display_name(Some(&dir), not_scenario);
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
    h.get_by_label(&name).click();
    h.run_steps(2);
    wait_idle(&mut h);
    assert_eq!(h.state().path.as_deref(), Some(other.as_path()));
    let expected = wanka_sim::Scenario::load(&other).unwrap();
    assert_eq!(h.state().form.as_ref().unwrap().base.name, expected.name);
    // Its own result (or its own error) is shown, not the default's.
    match &h.state().last_ok {
        Some(out) if !h.state().invalid() => assert_eq!(out.scenario.name, expected.name),
        _ => assert!(!shown_errors(&h).is_empty()),
    }
}
