//! The widgets both editors are built of: labelled rows of a text field or a combo box, framed in red
//! when their knob has an error, with the messages under them, in collapsible sections.

use egui::{Align, Color32, Layout, RichText, Stroke, StrokeKind, TextEdit, Ui, vec2};
use wanka_sim::workload::model::{ModelRef, PRESET_IDS};

/// Starts every inline error message (a glyph the built-in fonts have).
pub const ERROR_MARK: &str = "• ";

const LABEL_W: f32 = 128.0;
const FIELD_W: f32 = 150.0;

pub(crate) fn error_color(ui: &Ui) -> Color32 {
    ui.visuals().error_fg_color
}

/// A fixed-width label cell at the start of a row.
pub(crate) fn label_cell(ui: &mut Ui, text: &str) -> egui::Response {
    ui.allocate_ui_with_layout(vec2(LABEL_W, ui.spacing().interact_size.y), Layout::left_to_right(Align::Center), |ui| {
        ui.set_min_width(LABEL_W);
        ui.label(text)
    })
    .inner
}

/// Red frame around a widget whose knob has an error.
pub(crate) fn mark(ui: &Ui, r: &egui::Response, bad: bool) {
    if bad {
        ui.painter().rect_stroke(r.rect.expand(1.5), 3.0, Stroke::new(1.5, error_color(ui)), StrokeKind::Outside);
    }
}

/// The messages of a knob, in red, wrapped to the panel width.
pub fn error_lines(ui: &mut Ui, msgs: &[String]) {
    for m in msgs {
        // Plan errors list several violated constraints separated by "; ": one per line.
        for (i, part) in m.split("; ").enumerate() {
            let text = if i == 0 { format!("{ERROR_MARK}{part}") } else { format!("   {part}") };
            ui.add(egui::Label::new(RichText::new(text).color(error_color(ui)).size(12.5)).wrap());
        }
    }
}

/// What the text fields of a frame did, for the app to debounce typing ([`take_typing`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Typing {
    /// A text field's text changed (a keystroke, a paste).
    pub typed: bool,
    /// A text field lost focus or Enter was pressed in it: the edit is complete.
    pub committed: bool,
}

fn typing_id() -> egui::Id {
    egui::Id::unique("wanka-typing")
}

/// What the text fields did since the last call (and forget it).
pub fn take_typing(ctx: &egui::Context) -> Typing {
    ctx.data_mut(|d| d.remove_temp::<Typing>(typing_id())).unwrap_or_default()
}

/// A labelled single-line text field (framed in red when `bad`). Returns `true` when edited; the edit
/// is also noted as typing ([`take_typing`]) so that the app waits for the last keystroke.
pub(crate) fn text_field(ui: &mut Ui, label: &str, hint: &str, buf: &mut String, bad: bool) -> bool {
    ui.horizontal(|ui| {
        let l = label_cell(ui, label);
        // A stable id (the label): a message appearing above the field while typing must not move focus.
        let r = ui.add(TextEdit::singleline(buf).id_salt(("wanka field", label)).desired_width(FIELD_W).hint_text(hint)).labelled_by(l.id);
        mark(ui, &r, bad);
        if r.changed() || r.lost_focus() {
            let (typed, committed) = (r.changed(), r.lost_focus());
            ui.ctx().data_mut(|d| {
                let t = d.get_temp_mut_or_default::<Typing>(typing_id());
                t.typed |= typed;
                t.committed |= committed;
            });
        }
        r.changed()
    })
    .inner
}

/// A combo box row choosing one of `options` (value, text).
pub(crate) fn combo_row<T: PartialEq + Clone>(ui: &mut Ui, label: &str, value: &mut T, options: &[(T, String)], bad: bool) -> bool {
    let before = value.clone();
    ui.horizontal(|ui| {
        let l = label_cell(ui, label);
        let selected = options.iter().find(|(v, _)| v == value).map_or_else(|| "?".to_string(), |(_, t)| t.clone());
        let r = egui::ComboBox::from_id_salt(label)
            .width(FIELD_W)
            .truncate()
            .selected_text(selected)
            .show_ui(ui, |ui| {
                for (v, t) in options {
                    ui.selectable_value(value, v.clone(), t.as_str());
                }
            })
            .response
            .labelled_by(l.id);
        mark(ui, &r, bad);
    });
    *value != before
}

pub(crate) fn section(ui: &mut Ui, title: &str, add: impl FnOnce(&mut Ui) -> bool) -> bool {
    let mut changed = false;
    egui::CollapsingHeader::new(RichText::new(title).strong()).default_open(true).show(ui, |ui| changed = add(ui));
    changed
}

/// Choices of a model combo: the presets, and the file's own model when it is not one of them.
pub(crate) fn model_options(custom: Option<&ModelRef>) -> Vec<(ModelRef, String)> {
    let mut options: Vec<(ModelRef, String)> =
        PRESET_IDS.iter().map(|id| (ModelRef::Preset((*id).to_string()), (*id).to_string())).collect();
    if let Some(custom) = custom {
        let name = match custom {
            ModelRef::Custom(m) => format!("custom: {}", m.name),
            ModelRef::Preset(id) => id.clone(),
        };
        options.push((custom.clone(), name));
    }
    options
}

/// The path field of the file panel (no typing debounce: nothing is simulated from it).
pub(crate) fn path_field(ui: &mut Ui, buf: &mut String) {
    ui.horizontal(|ui| {
        let l = label_cell(ui, "Path");
        ui.add(TextEdit::singleline(buf).desired_width(FIELD_W).hint_text("/path/to/plan.ron")).labelled_by(l.id);
    });
}
