//! Exports of what the views show: tables as CSV (the output vocabulary's names as headers, full
//! precision numbers), a Markdown report of a plan, the time-versus-cost chart as SVG, and any view as
//! PNG (the renderer's pixels of the central panel, encoded here).

use std::fmt::Write as _;

use wanka_sim::planning::plan_file::CandidateResult;

use crate::jobs::{PlanLosses, PlanOutput, Sensitivity};
use crate::views::candidates::{Column, cell_text, did_not_finish};
use crate::views::compare::FIGURES;

fn csv_text(rows: Vec<Vec<String>>) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// A number in full (round-trip) precision, empty when not finite.
fn n(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { String::new() }
}

/// Value of a column for the CSV: numbers in full precision, texts as the table shows them.
fn csv_cell(r: &CandidateResult, c: Column) -> String {
    if !r.feasible && !matches!(c, Column::Rank | Column::Name | Column::Parallelism | Column::Flags) {
        return String::new();
    }
    let e = &r.economics;
    match c {
        Column::Rank => {
            if r.feasible {
                r.rank.to_string()
            } else {
                String::new()
            }
        }
        Column::P50Days => n(r.days.p50),
        Column::P90Days => n(r.days.p90),
        Column::BandFailures => r.bands.as_ref().map_or(String::new(), |b| n(b.days_p90_failures)),
        Column::BandModelError => r.bands.as_ref().map_or(String::new(), |b| n(b.days_p90_with_model_error)),
        Column::Mfu => n(r.mfu),
        Column::Ettr => n(r.ettr.p50),
        Column::Cost => n(e.total_usd / 1e6),
        Column::UsdPerMTok => n(e.usd_per_million_tokens),
        Column::Mwh => n(e.energy_mwh),
        Column::PeakMw => n(e.peak_mw),
        Column::Parallelism if r.feasible => r.parallelism.clone(),
        Column::Flags => r.flags.join("; "),
        _ => cell_text(r, c),
    }
}

/// The candidates table as CSV: one row per result in ranked order, then the refused candidates; the
/// columns are the table's under their output-vocabulary names (`docs/OUTPUTS.md`), plus `devices`,
/// `chips`, `did_not_finish`, `lost_days` and `lost_musd` (when the losses are computed) and `error`.
pub fn candidates_csv(out: &PlanOutput, losses: Option<&PlanLosses>) -> Result<String, String> {
    let mut header: Vec<String> = Column::ALL.iter().map(|c| c.vocab().to_string()).collect();
    header.extend(["devices", "chips", "did_not_finish", "lost_days", "lost_musd", "error"].map(String::from));
    let mut rows = vec![header];
    for (k, r) in out.comparison.candidates.iter().enumerate() {
        let mut row: Vec<String> = Column::ALL.iter().map(|&c| csv_cell(r, c)).collect();
        let l = losses.and_then(|l| l.get(k)).and_then(|l| l.as_ref().ok());
        row.push(r.devices.to_string());
        row.push(r.chips.clone());
        row.push(did_not_finish(r).to_string());
        row.push(l.map_or(String::new(), |l| n(l.lost_total_days())));
        row.push(
            l.filter(|l| l.wall_days > 0.0).map_or(String::new(), |l| n(l.lost_total_days() / l.wall_days * r.economics.total_usd / 1e6)),
        );
        row.push(if r.feasible { String::new() } else { r.infeasible_reason.clone().unwrap_or_default() });
        rows.push(row);
    }
    for refused in &out.rejected {
        let mut row = vec![String::new(); Column::ALL.len() + 6];
        row[1] = out.plan.candidates.get(refused.index).map_or(String::new(), |c| c.name.clone());
        row[Column::ALL.len() + 5] = refused.msg.clone();
        rows.push(row);
    }
    csv_text(rows)
}

/// The compare view as CSV: a row per figure, a column per candidate and one per difference from the
/// first.
pub fn compare_csv(out: &PlanOutput, picks: &[usize], losses: Option<&PlanLosses>) -> Result<String, String> {
    let cols: Vec<(&CandidateResult, Option<&crate::view_data::Losses>)> = picks
        .iter()
        .filter_map(|&i| {
            let (k, r) = out.result_of(i)?;
            Some((r, losses.and_then(|l| l.get(k)).and_then(|l| l.as_ref().ok())))
        })
        .collect();
    let Some(&(base, base_l)) = cols.first() else { return Err("no candidates to compare".into()) };
    let mut header = vec!["figure".to_string()];
    for (n, (r, _)) in cols.iter().enumerate() {
        header.push(r.name.clone());
        if n > 0 {
            header.push(format!("{} minus {}", r.name, base.name));
        }
    }
    let mut rows = vec![header];
    for f in FIGURES {
        let b = (f.value)(base, base_l);
        let mut row = vec![f.label.to_string()];
        for (i, (r, l)) in cols.iter().enumerate() {
            let v = (f.value)(r, *l);
            row.push(v.map_or(String::new(), n));
            if i > 0 {
                row.push(match (v, b) {
                    (Some(v), Some(b)) => n(v - b),
                    _ => String::new(),
                });
            }
        }
        rows.push(row);
    }
    csv_text(rows)
}

/// A sensitivity sweep as CSV: a row per knob and side.
pub fn sensitivity_csv(s: &Sensitivity) -> Result<String, String> {
    let mut rows =
        vec![["knob", "side", "setting", "days_p50", "cost_musd", "days_change", "cost_change_musd", "error"].map(String::from).to_vec()];
    rows.push(vec![
        "baseline".into(),
        String::new(),
        String::new(),
        n(s.base.days_p50),
        n(s.base.cost_musd),
        "0".into(),
        "0".into(),
        String::new(),
    ]);
    for k in &s.knobs {
        for (side, label, r) in [("down", &k.low_label, &k.low), ("up", &k.high_label, &k.high)] {
            rows.push(match r {
                Ok(p) => vec![
                    k.name.into(),
                    side.into(),
                    label.clone(),
                    n(p.days_p50),
                    n(p.cost_musd),
                    n(p.days_p50 - s.base.days_p50),
                    n(p.cost_musd - s.base.cost_musd),
                    String::new(),
                ],
                Err(e) => {
                    vec![k.name.into(), side.into(), label.clone(), String::new(), String::new(), String::new(), String::new(), e.clone()]
                }
            });
        }
    }
    csv_text(rows)
}

/// A Markdown report of a compared plan: the goal, the ranked table, the Pareto front, each
/// candidate's flags, and the compare and sensitivity results when they are computed.
pub fn report_markdown(out: &PlanOutput, losses: Option<&PlanLosses>, picks: &[usize], sensitivity: Option<&Sensitivity>) -> String {
    let c = &out.comparison;
    let g = &out.plan.goal;
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", c.plan);
    if !out.plan.description.is_empty() {
        let _ = writeln!(s, "{}\n", out.plan.description);
    }
    let _ = writeln!(
        s,
        "Model {} on {:.3e} tokens; deadline {}; budget {}. {} Monte Carlo seeds per candidate. Made by wanka-gui from `{}`.\n",
        c.model,
        c.tokens,
        g.deadline_days.map_or("none".into(), |d| format!("{d} days")),
        g.budget_musd.map_or("none".into(), |b| format!("{b} M USD")),
        c.seeds,
        out.file
    );
    let cols = [
        Column::Rank,
        Column::Name,
        Column::P50Days,
        Column::BandFailures,
        Column::BandModelError,
        Column::Mfu,
        Column::Ettr,
        Column::Cost,
        Column::UsdPerMTok,
        Column::Mwh,
        Column::Parallelism,
    ];
    let _ = writeln!(s, "| {} | lost days | lost M$ |", cols.map(Column::title).join(" | "));
    let _ = writeln!(s, "|{}---|---|", "---|".repeat(cols.len()));
    for (k, r) in c.candidates.iter().enumerate() {
        let l = losses.and_then(|l| l.get(k)).and_then(|l| l.as_ref().ok());
        let cells: Vec<String> = cols.iter().map(|&col| cell_text(r, col).replace('|', "/")).collect();
        let (ld, lm) = match l {
            Some(l) if l.wall_days > 0.0 => {
                (format!("{:.1}", l.lost_total_days()), format!("{:.2}", l.lost_total_days() / l.wall_days * r.economics.total_usd / 1e6))
            }
            _ => ("—".into(), "—".into()),
        };
        let _ = writeln!(s, "| {} | {ld} | {lm} |", cells.join(" | "));
    }
    for refused in &out.rejected {
        let name = out.plan.candidates.get(refused.index).map_or("?", |c| c.name.as_str());
        let _ = writeln!(s, "\nNot compared: `{name}`: {}", refused.msg);
    }
    let _ = writeln!(
        s,
        "\nPareto front (time vs cost): {}.",
        if c.pareto_front.is_empty() { "none".into() } else { c.pareto_front.join(", ") }
    );
    for r in &c.candidates {
        if !r.flags.is_empty() {
            let _ = writeln!(s, "\n`{}`: {}", r.name, r.flags.join("; "));
        }
        if !r.indistinguishable_from.is_empty() {
            let _ = writeln!(s, "\n`{}` cannot be told apart within model error from {}.", r.name, r.indistinguishable_from.join(", "));
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for a in c.candidates.iter().flat_map(|r| &r.accuracy) {
        if !seen.contains(&a.family.as_str()) {
            seen.push(&a.family);
            let _ = writeln!(s, "\nModel accuracy, {}: {}", a.family, a.text);
        }
    }
    let picked: Vec<&CandidateResult> = picks.iter().filter_map(|&i| out.result_of(i).map(|(_, r)| r)).collect();
    if picked.len() >= 2 {
        let _ = writeln!(s, "\n## Compared\n");
        for r in &picked[1..] {
            let _ = writeln!(s, "{}\n", crate::views::compare::why(picked[0], r));
        }
    }
    if let Some(sens) = sensitivity {
        let _ = writeln!(
            s,
            "\n## Sensitivity of `{}` ({} seeds a point; baseline {:.1} days, {:.2} M USD)\n",
            sens.candidate, sens.seeds, sens.base.days_p50, sens.base.cost_musd
        );
        let _ = writeln!(s, "| knob | down | days | cost M$ | up | days | cost M$ |\n|---|---|---|---|---|---|---|");
        let cell = |r: &Result<crate::jobs::SweepPoint, String>| match r {
            Ok(p) => (format!("{:.1}", p.days_p50), format!("{:.2}", p.cost_musd)),
            Err(e) => (e.replace('|', "/"), String::new()),
        };
        for k in &sens.knobs {
            let (ld, lc) = cell(&k.low);
            let (hd, hc) = cell(&k.high);
            let _ = writeln!(s, "| {} | {} | {ld} | {lc} | {} | {hd} | {hc} |", k.name, k.low_label, k.high_label);
        }
    }
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The time-versus-cost chart as SVG: p50 days (p10–p90 bars) against total cost, the Pareto front
/// connected, deadline and budget dashed; candidates off the others' scale at the right edge, as in
/// the app.
pub fn pareto_svg(out: &PlanOutput) -> String {
    let (w, h, l, r, t, b) = (900.0_f64, 560.0_f64, 80.0, 30.0, 40.0, 60.0);
    let rows: Vec<&CandidateResult> = out.comparison.candidates.iter().filter(|r| r.feasible).collect();
    let off = crate::views::candidates::off_scale(&rows);
    let goal = &out.plan.goal;
    let on: Vec<&&CandidateResult> = rows.iter().zip(&off).filter(|(_, o)| !**o).map(|(r, _)| r).collect();
    let max_d = on.iter().map(|r| r.days.p90).fold(goal.deadline_days.unwrap_or(0.0), f64::max).max(1e-9) * 1.12;
    let max_c = on.iter().map(|r| r.economics.total_usd / 1e6).fold(goal.budget_musd.unwrap_or(0.0), f64::max).max(1e-9) * 1.12;
    let x = |d: f64| l + d.min(max_d) / max_d * (w - l - r);
    let y = |c: f64| h - b - c.min(max_c) / max_c * (h - t - b);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n<text x=\"{l}\" y=\"24\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
        xml(&out.comparison.plan)
    );
    // Axes and ticks.
    let _ = writeln!(s, "<line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>", h - b, w - r, h - b);
    let _ = writeln!(s, "<line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{}\" stroke=\"black\"/>", h - b);
    for i in 0..=5 {
        let (d, c) = (max_d * f64::from(i) / 5.0, max_c * f64::from(i) / 5.0);
        let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{d:.0}</text>", x(d), h - b + 18.0);
        let _ = writeln!(s, "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{c:.1}</text>", l - 6.0, y(c) + 4.0);
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">p50 wall-clock days (bars: p10–p90)</text>",
        (l + w - r) / 2.0,
        h - 16.0
    );
    let _ = writeln!(
        s,
        "<text x=\"18\" y=\"{}\" transform=\"rotate(-90 18 {})\" text-anchor=\"middle\">total cost, M USD</text>",
        (t + h - b) / 2.0,
        (t + h - b) / 2.0
    );
    if let Some(d) = goal.deadline_days {
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{t}\" x2=\"{:.1}\" y2=\"{}\" stroke=\"#e45756\" stroke-dasharray=\"6 4\"/>",
            x(d),
            x(d),
            h - b
        );
    }
    if let Some(bu) = goal.budget_musd {
        let _ = writeln!(
            s,
            "<line x1=\"{l}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#e45756\" stroke-dasharray=\"2 4\"/>",
            y(bu),
            w - r,
            y(bu)
        );
    }
    let mut front: Vec<(f64, f64)> =
        rows.iter().zip(&off).filter(|(r, o)| r.pareto && !**o).map(|(r, _)| (r.days.p50, r.economics.total_usd / 1e6)).collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    if front.len() > 1 {
        let pts: Vec<String> = front.iter().map(|(d, c)| format!("{:.1},{:.1}", x(*d), y(*c))).collect();
        let _ = writeln!(s, "<polyline points=\"{}\" fill=\"none\" stroke=\"#f58518\" stroke-width=\"2\"/>", pts.join(" "));
    }
    for (rr, o) in rows.iter().zip(&off) {
        let c = rr.economics.total_usd / 1e6;
        let color = if rr.pareto { "#f58518" } else { "#4c78a8" };
        let (px, py) = (if *o { x(max_d) - 6.0 } else { x(rr.days.p50) }, y(c));
        if !*o {
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"{color}\" stroke-width=\"1.5\"/>",
                x(rr.days.p10),
                x(rr.days.p90)
            );
        }
        let _ = writeln!(
            s,
            "<circle class=\"candidate\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"5\" fill=\"{color}\"><title>{}</title></circle>",
            xml(&rr.name)
        );
        let label = if *o { format!("{} (off scale: {:.0} days)", rr.name, rr.days.p50) } else { rr.name.clone() };
        let (anchor, dx) = if px > 0.6 * w { ("end", -8.0) } else { ("start", 8.0) };
        let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>", px + dx, py - 6.0, xml(&label));
    }
    s.push_str("</svg>\n");
    s
}

/// A PNG file of `image`.
pub fn encode_png(image: &egui::ColorImage) -> Result<Vec<u8>, String> {
    let [w, h] = image.size;
    let mut rgba = Vec::with_capacity(w * h * 4);
    for c in &image.pixels {
        rgba.extend_from_slice(&c.to_srgba_unmultiplied());
    }
    let buf = image::RgbaImage::from_raw(w as u32, h as u32, rgba).ok_or("the image's pixels do not fill its size")?;
    let mut out = std::io::Cursor::new(Vec::new());
    buf.write_to(&mut out, image::ImageFormat::Png).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// The part of `image` (a screenshot at `pixels_per_point`) under `rect` (points).
pub fn crop(image: &egui::ColorImage, rect: egui::Rect, pixels_per_point: f32) -> egui::ColorImage {
    let [w, h] = image.size;
    let px = |v: f32, max: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(max);
    let (x0, y0, x1, y1) = (px(rect.left(), w), px(rect.top(), h), px(rect.right(), w), px(rect.bottom(), h));
    if x1 <= x0 || y1 <= y0 {
        return image.clone();
    }
    let mut pixels = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for y in y0..y1 {
        pixels.extend_from_slice(&image.pixels[y * w + x0..y * w + x1]);
    }
    egui::ColorImage::new([x1 - x0, y1 - y0], pixels)
}
