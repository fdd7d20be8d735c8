//! One module per view; each draws with a `*_ui(ui, …)` function. A new view (candidates, training
//! runs) is a new module here plus a [`crate::app::View`] variant.

pub mod memory;
pub mod step;
pub mod summary;
pub mod topology;
pub mod validation;

use egui::{Color32, RichText, Sense, Ui, vec2};

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

/// A coloured square followed by a text, for legends.
pub fn legend_item(ui: &mut Ui, color: Color32, text: impl Into<String>) {
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        let (rect, _) = ui.allocate_exact_size(vec2(12.0, 12.0), Sense::hover());
        ui.painter().rect_filled(rect, 2.0, color);
        ui.label(RichText::new(text.into()).small());
    });
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
        ui.label("No valid result yet: fix the fields marked in red, or open a scenario.");
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
