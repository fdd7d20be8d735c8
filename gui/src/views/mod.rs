//! One module per view; each draws with a `*_ui(ui, …)` function. A new view is a new module here
//! plus a [`View`] variant.

pub mod candidates;
pub mod compare;
pub mod losses;
pub mod memory;
pub mod run;
pub mod sensitivity;
pub mod step;
pub mod summary;
pub mod topology;
pub mod validation;

use egui::{Color32, Sense, Ui, vec2};

/// The views of the central panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Candidates,
    Compare,
    Sensitivity,
    Step,
    Memory,
    Topology,
    Run,
    Losses,
    Validation,
}

impl View {
    pub const ALL: [View; 9] = [
        View::Candidates,
        View::Compare,
        View::Sensitivity,
        View::Step,
        View::Memory,
        View::Topology,
        View::Run,
        View::Losses,
        View::Validation,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Candidates => "Candidates",
            View::Compare => "Compare",
            View::Sensitivity => "Sensitivity",
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
}

/// Palette readable on dark and light backgrounds (Tableau-10-like).
pub mod palette {
    use egui::Color32;
    pub const BLUE: Color32 = Color32::from_rgb(76, 120, 168);
    pub const ORANGE: Color32 = Color32::from_rgb(245, 133, 24);
    pub const RED: Color32 = Color32::from_rgb(228, 87, 86);
    pub const TEAL: Color32 = Color32::from_rgb(114, 183, 178);
    pub const GREEN: Color32 = Color32::from_rgb(84, 162, 75);
    pub const YELLOW: Color32 = Color32::from_rgb(238, 202, 59);
    pub const PURPLE: Color32 = Color32::from_rgb(178, 121, 162);
    pub const PINK: Color32 = Color32::from_rgb(255, 157, 166);
    pub const BROWN: Color32 = Color32::from_rgb(157, 117, 93);
    pub const GRAY: Color32 = Color32::from_rgb(150, 150, 150);
}

/// Lighter (`t > 0`) or darker (`t < 0`) shade of a colour, `|t| <= 1`.
pub fn shade(c: Color32, t: f32) -> Color32 {
    let f = |x: u8| -> u8 {
        let x = f32::from(x);
        let y = if t >= 0.0 { x + (255.0 - x) * t } else { x * (1.0 + t) };
        y.round().clamp(0.0, 255.0) as u8
    };
    Color32::from_rgb(f(c.r()), f(c.g()), f(c.b()))
}

/// A coloured square followed by a text, for legends. One widget, so that a row of them wraps in a
/// `horizontal_wrapped` layout instead of running past the edge.
pub fn legend_item(ui: &mut Ui, color: Color32, text: impl Into<String>) {
    let text = text.into();
    let font = egui::TextStyle::Small.resolve(ui.style());
    let galley = ui.painter().layout_no_wrap(text.clone(), font, ui.visuals().text_color());
    let h = galley.size().y.max(12.0);
    let (rect, resp) = ui.allocate_exact_size(vec2(16.0 + galley.size().x, h), Sense::hover());
    let square = egui::Rect::from_center_size(egui::pos2(rect.left() + 6.0, rect.center().y), vec2(12.0, 12.0));
    ui.painter().rect_filled(square, 2.0, color);
    ui.painter().galley(egui::pos2(rect.left() + 16.0, rect.center().y - galley.size().y / 2.0), galley, ui.visuals().text_color());
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &text));
}

/// Seconds with a unit that suits the size.
pub fn fmt_s(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// Bytes/s per direction as Gbit/s or Tbit/s.
pub fn fmt_bw(bytes_per_s: f64) -> String {
    let gbit = bytes_per_s * 8.0 / 1e9;
    if gbit >= 10_000.0 { format!("{:.1} Tbit/s", gbit / 1e3) } else { format!("{gbit:.0} Gbit/s") }
}

/// A large count with thousands separators.
pub fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Shown in place of a view when there is no valid result yet.
pub fn no_result_ui(ui: &mut Ui) {
    ui.centered_and_justified(|ui| {
        ui.label("No valid result yet: fix the fields marked in red, or open a scenario or plan.");
    });
}

/// Shown while the first result is being computed.
pub fn working_ui(ui: &mut Ui, what: &str) {
    ui.centered_and_justified(|ui| {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(what);
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn formats() {
        assert_eq!(fmt_count(10240), "10,240");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_s(7.5214), "7.521 s");
        assert_eq!(fmt_s(0.0123), "12.3 ms");
        assert_eq!(fmt_bw(50e9), "400 Gbit/s");
    }
}

#[cfg(test)]
mod glyph_tests {
    /// Every symbol the views write is in egui's built-in fonts (a missing one shows as a box; arrows,
    /// triangles and warning signs are not there, so the views paint those).
    #[test]
    fn symbols_have_glyphs() {
        let ctx = egui::Context::default();
        let _ = ctx.run_ui(egui::RawInput::default(), |_| {});
        // Every non-ASCII character outside comments in the GUI's sources.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut used = std::collections::BTreeSet::new();
        for sub in [dir.clone(), dir.join("views")] {
            for e in std::fs::read_dir(&sub).unwrap().flatten() {
                if e.path().extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(e.path()).unwrap();
                    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                        let code = line.split(" // ").next().unwrap_or(line);
                        used.extend(code.chars().filter(|c| !c.is_ascii()));
                    }
                }
            }
        }
        // The window title and the CLI's about text are not drawn by egui.
        used.remove(&'万');
        used.remove(&'卡');
        let missing: String =
            ctx.fonts_mut(|f| used.iter().copied().filter(|c| !f.has_glyph(&egui::FontId::proportional(14.0), *c)).collect());
        assert!(missing.is_empty(), "missing glyphs: {missing:?}");
    }
}
