//! The candidates of a plan: a sortable comparison table and the time-versus-cost Pareto chart.

use egui::{Align, Align2, Color32, Layout, RichText, Sense, Ui, vec2};
use egui_plot::{HLine, HoverPosition, Line, LineStyle, MarkerShape, Plot, PlotPoint, Points, Text, VLine};
use wanka_sim::planning::plan_file::CandidateResult;

use super::legend_item;
use super::palette::{BLUE, GRAY, ORANGE, RED};
use crate::jobs::PlanOutput;

/// A column of the comparison table (click its header to sort by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Rank,
    Name,
    P50Days,
    P90Days,
    BandFailures,
    BandModelError,
    Mfu,
    Ettr,
    Cost,
    UsdPerMTok,
    Mwh,
    PeakMw,
    Parallelism,
    Flags,
}

impl Column {
    pub const ALL: [Column; 14] = [
        Column::Rank,
        Column::Name,
        Column::P50Days,
        Column::P90Days,
        Column::BandFailures,
        Column::BandModelError,
        Column::Mfu,
        Column::Ettr,
        Column::Cost,
        Column::UsdPerMTok,
        Column::Mwh,
        Column::PeakMw,
        Column::Parallelism,
        Column::Flags,
    ];

    /// Header text (also the header button's accessible name, with the sort arrow).
    pub fn title(self) -> &'static str {
        match self {
            Column::Rank => "#",
            Column::Name => "candidate",
            Column::P50Days => "p50 days",
            Column::P90Days => "p90 days",
            Column::BandFailures => "days p10–p90",
            Column::BandModelError => "days + model error",
            Column::Mfu => "MFU",
            Column::Ettr => "ETTR",
            Column::Cost => "cost M$",
            Column::UsdPerMTok => "$/1M tok",
            Column::Mwh => "MWh",
            Column::PeakMw => "peak MW",
            Column::Parallelism => "parallelism",
            Column::Flags => "flags",
        }
    }

    /// The output vocabulary's name of what the column shows (`docs/OUTPUTS.md`; the heading names its
    /// unit): the same figure as in `compare --json` / `--csv`. Bands name their upper end.
    pub fn vocab(self) -> &'static str {
        match self {
            Column::Rank => "rank",
            Column::Name => "name",
            Column::P50Days => "days_p50",
            Column::P90Days => "days_p90",
            Column::BandFailures => "days_p90_failures",
            Column::BandModelError => "days_p90_with_model_error",
            Column::Mfu => "mfu",
            Column::Ettr => "ettr_p50",
            Column::Cost => "cost_musd",
            Column::UsdPerMTok => "usd_per_mtok",
            Column::Mwh => "energy_mwh",
            Column::PeakMw => "peak_mw",
            Column::Parallelism => "parallelism",
            Column::Flags => "flags",
        }
    }

    fn hover(self) -> &'static str {
        match self {
            Column::Rank => "rank by p50 days among feasible candidates",
            Column::Name => "candidate name and its chips",
            Column::P50Days => "median wall-clock days over the Monte Carlo seeds (with failures and restarts)",
            Column::P90Days => "90th percentile of wall-clock days",
            Column::BandFailures => "p10–p90 wall-clock days from failures alone (Monte Carlo seeds)",
            Column::BandModelError => {
                "p10–p90 wall-clock days with the model's own step-time error too (seeds × the family's leave-one-out errors, or a calibration overlay's); ≈ marks candidates that cannot be told apart within it"
            }
            Column::Mfu => "model FLOPs utilisation of the chosen parallelism",
            Column::Ettr => "effective training time ratio (useful ÷ wall clock), p50",
            Column::Cost => "total cost of the run, million USD (amortised hardware + electricity, or rental)",
            Column::UsdPerMTok => "USD per million training tokens",
            Column::Mwh => "facility energy of the run, MWh",
            Column::PeakMw => "facility power with every device at TDP, MW",
            Column::Parallelism => "parallelism the search chose",
            Column::Flags => "deadline, budget, power cap and calibration warnings",
        }
    }

    /// Columns whose natural order is largest first.
    fn descending_first(self) -> bool {
        matches!(self, Column::Mfu | Column::Ettr | Column::Flags)
    }

    fn width(self) -> f32 {
        match self {
            Column::Rank => 28.0,
            Column::Name => 168.0,
            Column::Parallelism => 136.0,
            Column::Flags => 50.0,
            Column::BandFailures | Column::BandModelError => 84.0,
            _ => 54.0,
        }
    }

    fn right_aligned(self) -> bool {
        !matches!(self, Column::Name | Column::Parallelism | Column::Flags)
    }
}

/// How the table is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort { column: Column::Rank, descending: false }
    }
}

/// The parallelism without the `single-pool:<chip>: ` prefix.
pub fn short_parallelism(p: &str) -> &str {
    match p.strip_prefix("single-pool:") {
        Some(rest) => rest.split_once(": ").map_or(rest, |(_, layout)| layout),
        None => p,
    }
}

/// Some of the candidate's Monte Carlo runs hit the run's `max_days` horizon before finishing (their
/// days are the horizon, not a finish time).
pub fn did_not_finish(r: &CandidateResult) -> bool {
    r.feasible && r.flags.iter().any(|f| f.contains("did not finish"))
}

/// Columns left out first when the table is wider than its space, in order: each is also in the
/// details pane of the selected candidate (parallelism, peak MW and MWh, p90, flags and $/1M tok).
pub const SECONDARY: [Column; 6] = [Column::Parallelism, Column::PeakMw, Column::Mwh, Column::P90Days, Column::Flags, Column::UsdPerMTok];

/// Narrowest the candidate name column gets (longer names are elided, the full name on hover).
const MIN_NAME_W: f32 = 120.0;
/// Widest the name and parallelism columns get before their text is elided.
const MAX_NAME_W: f32 = 200.0;
const MAX_PARALLELISM_W: f32 = 260.0;

/// The columns shown in `avail` points and their widths, from each column's natural width (its
/// heading, with room for the sort arrow, and its widest cell): secondary columns ([`SECONDARY`])
/// are left out until the rest fits, then the name column is narrowed (elided), and what is left
/// over widens the parallelism column (else the name).
pub fn fit_columns(avail: f32, spacing: f32, natural: impl Fn(Column) -> f32) -> Vec<(Column, f32)> {
    let mut cols: Vec<(Column, f32)> = Column::ALL
        .into_iter()
        .map(|c| {
            let w = natural(c).max(Column::width(c).min(54.0));
            let w = match c {
                Column::Name => w.min(MAX_NAME_W),
                Column::Parallelism => w.min(MAX_PARALLELISM_W),
                _ => w,
            };
            (c, w)
        })
        .collect();
    let total = |cols: &[(Column, f32)]| cols.iter().map(|c| c.1).sum::<f32>() + spacing * (cols.len() as f32 + 1.0);
    for drop in SECONDARY {
        if total(&cols) <= avail {
            break;
        }
        cols.retain(|c| c.0 != drop);
    }
    let over = total(&cols) - avail;
    if over > 0.0
        && let Some(n) = cols.iter_mut().find(|c| c.0 == Column::Name)
    {
        n.1 = (n.1 - over).max(MIN_NAME_W);
    }
    // What is left over goes to the longest texts: the parallelism, else the name.
    let extra = avail - total(&cols);
    if extra > 0.0 {
        let wide = if cols.iter().any(|c| c.0 == Column::Parallelism) { Column::Parallelism } else { Column::Name };
        if let Some(c) = cols.iter_mut().find(|c| c.0 == wide) {
            c.1 += extra;
        }
    }
    cols
}

/// The chosen layout in words, as a planner reads it: `TP8 PP16 DP80, interleaved v8, ZeRO-1,
/// recompute none, SP, micro-batch 1, batch 2048`. Mixed-hardware layouts keep the library's text.
pub fn parallelism_words(r: &CandidateResult) -> String {
    let short = short_parallelism(&r.parallelism);
    match r.top_plans.first() {
        Some(t) if wanka_sim::planning::plan_file::describe(&t.spec) == short => spec_words(&t.spec),
        _ => short.to_string(),
    }
}

/// A parallelism spec in words (see [`parallelism_words`]).
pub fn spec_words(s: &wanka_sim::workload::parallelism::ParallelismSpec) -> String {
    use wanka_sim::workload::parallelism::Schedule;
    let mut dims = format!("TP{} PP{} DP{}", s.tp, s.pp, s.dp);
    if s.cp > 1 {
        dims.push_str(&format!(" CP{}", s.cp));
    }
    if s.ep > 1 {
        dims.push_str(&format!(" EP{}", s.ep));
    }
    let sched = match (s.schedule, s.vpp) {
        (Some(Schedule::Interleaved), Some(v)) if v > 1 => format!("interleaved v{v}"),
        (Some(Schedule::DualPipe), _) => "DualPipe".into(),
        _ => "1F1B".into(),
    };
    let mut parts = vec![
        dims,
        sched,
        format!("ZeRO-{}", s.zero_stage),
        format!("recompute {}", wanka_sim::workload::parallelism::recompute_label(s.recompute, s.recompute_layers)),
    ];
    if s.sequence_parallel {
        parts.push("SP".into());
    }
    parts.push(format!("micro-batch {}, batch {}", s.micro_batch.unwrap_or(1), s.global_batch));
    if s.rank_order != wanka_sim::workload::parallelism::RankOrder::default() {
        parts.push(format!("order {}", s.rank_order.label()));
    }
    parts.join(", ")
}

/// Text of a cell ("—" for the figures of infeasible candidates).
pub fn cell_text(r: &CandidateResult, c: Column) -> String {
    let e = &r.economics;
    if !r.feasible && !matches!(c, Column::Rank | Column::Name | Column::Parallelism | Column::Flags) {
        return "—".into();
    }
    match c {
        Column::Rank => {
            if r.feasible {
                r.rank.to_string()
            } else {
                "–".into()
            }
        }
        Column::Name => r.name.clone(),
        Column::P50Days if did_not_finish(r) => format!("{:.1} DNF", r.days.p50),
        Column::P50Days => format!("{:.1}", r.days.p50),
        Column::P90Days if did_not_finish(r) => format!("{:.1} DNF", r.days.p90),
        Column::P90Days => format!("{:.1}", r.days.p90),
        Column::BandFailures => r.bands.as_ref().map_or("—".into(), |b| format!("{:.1}–{:.1}", b.days_p10_failures, b.days_p90_failures)),
        Column::BandModelError => r.bands.as_ref().map_or("—".into(), |b| {
            format!(
                "{:.1}–{:.1}{}",
                b.days_p10_with_model_error,
                b.days_p90_with_model_error,
                if r.indistinguishable_from.is_empty() { "" } else { " ≈" }
            )
        }),
        Column::Mfu => format!("{:.1}%", 100.0 * r.mfu),
        Column::Ettr => format!("{:.3}", r.ettr.p50),
        Column::Cost => format!("{:.2}", e.total_usd / 1e6),
        Column::UsdPerMTok => format!("{:.2}", e.usd_per_million_tokens),
        Column::Mwh => format!("{:.0}", e.energy_mwh),
        Column::PeakMw => format!("{:.1}", e.peak_mw),
        Column::Parallelism => {
            if r.feasible {
                parallelism_words(r)
            } else {
                r.infeasible_reason.clone().unwrap_or_else(|| "infeasible".into())
            }
        }
        Column::Flags => {
            if r.flags.is_empty() {
                "none".into()
            } else {
                r.flags.join("; ")
            }
        }
    }
}

/// Sort key of a numeric column.
fn key(r: &CandidateResult, c: Column) -> f64 {
    let e = &r.economics;
    match c {
        Column::Rank => r.rank as f64,
        Column::P50Days => r.days.p50,
        Column::P90Days => r.days.p90,
        Column::BandFailures => r.bands.as_ref().map_or(f64::INFINITY, |b| b.days_p90_failures),
        Column::BandModelError => r.bands.as_ref().map_or(f64::INFINITY, |b| b.days_p90_with_model_error),
        Column::Mfu => r.mfu,
        Column::Ettr => r.ettr.p50,
        Column::Cost => e.total_usd,
        Column::UsdPerMTok => e.usd_per_million_tokens,
        Column::Mwh => e.energy_mwh,
        Column::PeakMw => e.peak_mw,
        Column::Flags => r.flags.len() as f64,
        Column::Name | Column::Parallelism => 0.0,
    }
}

/// Row order (indices into `comparison.candidates`): infeasible candidates last whatever the order.
pub fn sorted_rows(rows: &[CandidateResult], sort: Sort) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..rows.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (&rows[a], &rows[b]);
        let ord = match sort.column {
            Column::Name => x.name.to_lowercase().cmp(&y.name.to_lowercase()),
            Column::Parallelism => x.parallelism.cmp(&y.parallelism),
            c => key(x, c).total_cmp(&key(y, c)),
        };
        let ord = if sort.descending { ord.reverse() } else { ord };
        y.feasible.cmp(&x.feasible).then(ord).then(a.cmp(&b))
    });
    idx
}

/// Mutable state the view changes: the sort and the selected candidate (index into the plan).
pub struct CandidatesState<'a> {
    pub sort: &'a mut Sort,
    pub selected: &'a mut usize,
}

/// Pareto highlight colour.
pub const PARETO: Color32 = ORANGE;

/// The candidates view.
pub fn candidates_ui(ui: &mut Ui, out: &PlanOutput, state: CandidatesState<'_>) {
    let c = &out.comparison;
    ui.horizontal_wrapped(|ui| {
        ui.heading("Candidates");
        ui.label(
            RichText::new(format!(
                "{} · {} on {:.2e} tokens · {} Monte Carlo seeds · {} parallelism plans searched",
                c.plan,
                c.model,
                c.tokens,
                c.seeds,
                super::fmt_count(c.search_candidates_total)
            ))
            .weak(),
        );
    });
    table_ui(ui, out, state.sort, state.selected);
    ui.add_space(6.0);
    let h = ui.available_height().max(220.0);
    ui.horizontal_top(|ui| {
        let w = ui.available_width();
        let chart_w = (w * 0.62).max(320.0);
        ui.allocate_ui_with_layout(vec2(chart_w, h), Layout::top_down(Align::Min), |ui| {
            ui.set_min_width(chart_w);
            pareto_ui(ui, out, state.selected, h);
        });
        ui.separator();
        ui.allocate_ui_with_layout(vec2(ui.available_width(), h), Layout::top_down(Align::Min), |ui| {
            egui::ScrollArea::vertical().id_salt("candidate details").show(ui, |ui| details_ui(ui, out, *state.selected));
        });
    });
}

fn table_ui(ui: &mut Ui, out: &PlanOutput, sort: &mut Sort, selected: &mut usize) {
    let rows = &out.comparison.candidates;
    let order = sorted_rows(rows, *sort);
    let row_h = ui.spacing().interact_size.y;
    let strong = ui.visuals().strong_text_color();
    let select_bg = ui.visuals().selection.bg_fill.gamma_multiply(0.35);
    // Natural widths: the heading (with the sort arrow) and the widest cell, in the button font.
    let font = egui::TextStyle::Button.resolve(ui.style());
    let text_w = |t: &str| ui.painter().layout_no_wrap(t.to_string(), font.clone(), strong).size().x;
    let natural = |col: Column| {
        // The flags cell draws their count (`2 !`), the list is on hover.
        let shown_text = |r: &CandidateResult| if col == Column::Flags { format!("{} !", r.flags.len()) } else { cell_text(r, col) };
        let cells = rows.iter().map(|r| text_w(&shown_text(r))).fold(0.0, f32::max);
        let pad = if col == Column::Name { 16.0 } else { 4.0 };
        (text_w(col.title()) + 12.0).max(cells + pad)
    };
    let fitted = fit_columns(ui.available_width() - 4.0, 8.0, natural);
    let shown: Vec<Column> = fitted.iter().map(|c| c.0).collect();
    let width = |col: Column| fitted.iter().find(|c| c.0 == col).map_or(0.0, |c| c.1);
    let hidden: Vec<&str> = Column::ALL.iter().filter(|c| !shown.contains(c)).map(|c| c.title()).collect();
    egui::ScrollArea::horizontal().id_salt("candidates table").show(ui, |ui| {
        egui::Grid::new("candidates grid").striped(true).spacing(vec2(8.0, 3.0)).show(ui, |ui| {
            for col in shown.iter().copied() {
                let text = RichText::new(col.title()).strong().color(strong);
                let r = ui
                    .add_sized(vec2(width(col), row_h), egui::Button::new(text).frame(false))
                    .on_hover_text(format!("{}; click to sort", col.hover()));
                if sort.column == col {
                    // The built-in fonts have no arrows: paint the sort direction.
                    let c = egui::pos2(r.rect.right() - 4.0, r.rect.center().y);
                    let (a, b) = if sort.descending { (-3.5, 3.5) } else { (3.5, -3.5) };
                    let tri = vec![egui::pos2(c.x - 4.0, c.y + a), egui::pos2(c.x + 4.0, c.y + a), egui::pos2(c.x, c.y + b)];
                    ui.painter().add(egui::Shape::convex_polygon(tri, PARETO, egui::Stroke::NONE));
                }
                if r.clicked() {
                    if sort.column == col {
                        sort.descending = !sort.descending;
                    } else {
                        *sort = Sort { column: col, descending: col.descending_first() };
                    }
                }
            }
            ui.end_row();
            for k in order {
                let r = &rows[k];
                let cand = out.candidate_of.get(k).copied().unwrap_or(k);
                let is_sel = cand == *selected;
                for col in shown.iter().copied() {
                    let text = cell_text(r, col);
                    let (rect, _) = ui.allocate_exact_size(vec2(width(col), row_h), Sense::hover());
                    if is_sel {
                        ui.painter().rect_filled(rect.expand2(vec2(5.0, 1.5)), 0.0, select_bg);
                    }
                    let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect).layout(if col.right_aligned() {
                        Layout::right_to_left(Align::Center)
                    } else {
                        Layout::left_to_right(Align::Center)
                    }));
                    let resp = match col {
                        Column::Name => {
                            let mut t = RichText::new(text);
                            if r.pareto {
                                t = t.color(PARETO);
                            }
                            let resp = child.add(egui::Button::selectable(is_sel, t).truncate());
                            if resp.clicked() {
                                *selected = cand;
                            }
                            resp.on_hover_text(format!(
                                "{}\n{} devices: {}{}",
                                r.name,
                                r.devices,
                                r.chips,
                                if r.pareto { "\non the Pareto front" } else { "" }
                            ))
                        }
                        Column::Flags if !r.flags.is_empty() => {
                            let t = RichText::new(format!("{} !", r.flags.len())).color(ui.visuals().warn_fg_color);
                            child.add(egui::Label::new(t).sense(Sense::hover())).on_hover_text(r.flags.join("\n"))
                        }
                        Column::Flags => child.add(egui::Label::new(RichText::new("–").weak())),
                        Column::Parallelism => {
                            let t = if r.feasible { RichText::new(text) } else { RichText::new(text).color(ui.visuals().error_fg_color) };
                            child.add(egui::Label::new(t).truncate().show_tooltip_when_elided(false)).on_hover_text(if r.feasible {
                                parallelism_words(r)
                            } else {
                                "infeasible".into()
                            })
                        }
                        Column::P50Days | Column::P90Days if did_not_finish(r) => child
                            .add(
                                egui::Label::new(RichText::new(text).color(ui.visuals().warn_fg_color))
                                    .truncate()
                                    .show_tooltip_when_elided(false),
                            )
                            .on_hover_text("some Monte Carlo runs did not finish within the run's max_days: the figure is the horizon"),
                        _ => child.add(egui::Label::new(text).truncate()),
                    };
                    let _ = resp;
                }
                ui.end_row();
            }
            // Candidates the plan's checks refused: their row says why, the others are compared without them.
            for refused in &out.rejected {
                let cand = &refused.index;
                let is_sel = *cand == *selected;
                let name = out.plan.candidates.get(*cand).map_or("?", |c| c.name.as_str());
                let msg = format!("{}{}", crate::widgets::ERROR_MARK, refused.msg);
                for col in shown.iter().copied() {
                    let (rect, _) = ui.allocate_exact_size(vec2(width(col), row_h), Sense::hover());
                    if is_sel {
                        ui.painter().rect_filled(rect.expand2(vec2(5.0, 1.5)), 0.0, select_bg);
                    }
                    let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect).layout(if col.right_aligned() {
                        Layout::right_to_left(Align::Center)
                    } else {
                        Layout::left_to_right(Align::Center)
                    }));
                    let error = ui.visuals().error_fg_color;
                    match col {
                        Column::Name => {
                            if child.add(egui::Button::selectable(is_sel, RichText::new(name).color(error)).truncate()).clicked() {
                                *selected = *cand;
                            }
                        }
                        Column::Rank => {
                            child.label("–");
                        }
                        // Without the parallelism column the message goes here (elided, whole on hover).
                        Column::BandModelError if !shown.contains(&Column::Parallelism) => {
                            child
                                .add(egui::Label::new(RichText::new(&msg).color(error)).truncate().show_tooltip_when_elided(false))
                                .on_hover_text(&msg);
                        }
                        Column::P50Days => {
                            child
                                .add(egui::Label::new(RichText::new("refused").color(error)).truncate().show_tooltip_when_elided(false))
                                .on_hover_text(&msg);
                        }
                        Column::Parallelism => {
                            child
                                .add(egui::Label::new(RichText::new(&msg).color(error)).truncate().show_tooltip_when_elided(false))
                                .on_hover_text(&msg);
                        }
                        _ => {
                            child.add(egui::Label::new(RichText::new("—").weak()));
                        }
                    }
                }
                ui.end_row();
            }
        });
    });
    if !hidden.is_empty() {
        ui.label(
            RichText::new(format!(
                "{} of the selected candidate: in the details pane (a wider window shows them as columns)",
                hidden.join(", ")
            ))
            .small()
            .weak(),
        );
    }
    let front = &out.comparison.pareto_front;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Pareto front (time vs cost):").small().weak());
        ui.label(RichText::new(if front.is_empty() { "none".to_string() } else { front.join(", ") }).small().color(PARETO));
        ui.label(RichText::new("· click a header to sort, a name to select").small().weak());
    });
    let mut seen: Vec<&str> = Vec::new();
    let notes: Vec<_> = out
        .comparison
        .candidates
        .iter()
        .flat_map(|r| &r.accuracy)
        .filter(|n| {
            let new = !seen.contains(&n.family.as_str());
            if new {
                seen.push(&n.family);
            }
            new
        })
        .collect();
    if !notes.is_empty() {
        // Open when the window is tall enough to leave the chart its room.
        egui::CollapsingHeader::new(
            RichText::new(format!(
                "p10–p90 covers failure randomness only; the model's own error is larger (\"days + model error\"): {} chip famil{}",
                notes.len(),
                if notes.len() == 1 { "y" } else { "ies" }
            ))
            .small()
            .weak(),
        )
        .id_salt("accuracy notes")
        .default_open(ui.ctx().content_rect().height() > 1100.0)
        .show(ui, |ui| {
            for n in notes {
                ui.label(RichText::new(format!("{}: {}", n.family, n.text)).small().weak());
            }
        });
    }
}

/// Time-versus-cost chart: p50 days with p10–p90 bars against total cost; the Pareto front highlighted
/// and connected; deadline and budget as dashed lines. Clicking near a point selects its candidate.
fn pareto_ui(ui: &mut Ui, out: &PlanOutput, selected: &mut usize, height: f32) {
    let rows = &out.comparison.candidates;
    let goal = &out.plan.goal;
    let feasible: Vec<(usize, &CandidateResult)> = rows.iter().enumerate().filter(|(_, r)| r.feasible).collect();
    let text_color = ui.visuals().text_color();
    let sel_color = ui.visuals().strong_text_color();
    // Candidates far off the others' scale (runs that hit the max_days horizon, or a median many
    // times the others') would squeeze the rest into the origin: they are drawn at the right edge.
    let off = off_scale(&feasible.iter().map(|(_, r)| *r).collect::<Vec<_>>());
    let on_scale: Vec<&CandidateResult> = feasible.iter().zip(&off).filter(|(_, o)| !**o).map(|((_, r), _)| *r).collect();
    let max_days = on_scale
        .iter()
        .map(|r| r.bands.as_ref().map_or(r.days.p90, |b| b.days_p90_with_model_error.max(r.days.p90)))
        .fold(goal.deadline_days.unwrap_or(0.0), f64::max);
    let max_cost = on_scale.iter().map(|r| r.economics.total_usd / 1e6).fold(goal.budget_musd.unwrap_or(0.0), f64::max);
    let edge = max_days * 1.08;
    // Where each feasible candidate is drawn: its p50 days (the edge when off scale) and cost.
    let drawn: Vec<(usize, &CandidateResult, bool, [f64; 2])> = feasible
        .iter()
        .zip(&off)
        .map(|((k, r), &o)| {
            let cost = r.economics.total_usd / 1e6;
            (*k, *r, o, [if o { edge } else { r.days.p50 }, if o { cost.min(max_cost * 1.08) } else { cost }])
        })
        .collect();
    let mut front: Vec<[f64; 2]> = drawn.iter().filter(|d| d.1.pareto && !d.2).map(|d| d.3).collect();
    front.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let points: Vec<(usize, [f64; 2])> = drawn.iter().map(|d| (out.candidate_of.get(d.0).copied().unwrap_or(d.0), d.3)).collect();
    let names: Vec<([f64; 2], String)> = drawn
        .iter()
        .map(|d| {
            let name = if d.2 {
                format!("{} (off scale: p50 {:.0} days, {:.2} M USD)", d.1.name, d.1.days.p50, d.1.economics.total_usd / 1e6)
            } else {
                d.1.name.clone()
            };
            (d.3, name)
        })
        .collect();
    let sel = *selected;
    let n_off = off.iter().filter(|o| **o).count();
    // The legend goes above the chart, where it cannot hide a point.
    ui.horizontal_wrapped(|ui| {
        legend_item(ui, PARETO, "Pareto front (connected)");
        legend_item(ui, BLUE, "dominated");
        legend_item(ui, ui.visuals().strong_text_color(), "selected (ring)");
        if goal.deadline_days.is_some() {
            legend_item(ui, RED.gamma_multiply(0.8), "deadline");
        }
        if goal.budget_musd.is_some() {
            legend_item(ui, RED.gamma_multiply(0.5), "budget");
        }
        ui.label(RichText::new("bars: p10–p90 days from failures; faint: with the model's own error").small().weak());
        if n_off > 0 {
            ui.label(
                RichText::new(format!("off scale: {n_off} candidate(s) drawn at the right edge (runs did not finish, or far slower)"))
                    .small()
                    .color(ui.visuals().warn_fg_color),
            );
        }
    });
    let resp = Plot::new("pareto")
        .height(height - 26.0)
        .include_x(0.0)
        .include_y(0.0)
        .include_x(max_days * 1.12)
        .include_y(max_cost * 1.12)
        .custom_x_axes(vec![egui_plot::AxisHints::new_x().label("p50 wall-clock days (bars: p10–p90)").label_spacing(32.0..=48.0)])
        .y_axis_label("total cost, M USD")
        .label_formatter(|h| match h {
            HoverPosition::NearDataPoint { position, .. } => {
                let name = names
                    .iter()
                    .find(|(xy, _)| (xy[0] - position.x).abs() < 1e-9 && (xy[1] - position.y).abs() < 1e-9)
                    .map(|(_, n)| n.as_str());
                match name {
                    Some(n) if n.contains("(off scale") => Some(n.to_string()),
                    _ => Some(format!(
                        "{}{:.1} days, {:.2} M USD",
                        name.map(|n| format!("{n}\n")).unwrap_or_default(),
                        position.x,
                        position.y
                    )),
                }
            }
            HoverPosition::Elsewhere { .. } => None,
        })
        .show(ui, |p| {
            if let Some(d) = goal.deadline_days {
                p.add(VLine::new(format!("deadline {d:.0} days"), d).color(RED.gamma_multiply(0.8)).style(LineStyle::dashed_loose()));
            }
            if let Some(b) = goal.budget_musd {
                p.add(HLine::new(format!("budget {b:.1} M USD"), b).color(RED.gamma_multiply(0.5)).style(LineStyle::dotted_loose()));
            }
            if front.len() > 1 {
                p.add(Line::new("Pareto front", front.clone()).color(PARETO).width(2.0));
            }
            for &(k, r, is_off, [x, y]) in &drawn {
                let color = if r.pareto { PARETO } else { BLUE };
                if !is_off {
                    // The band with the model's own step-time error, wider and faint, under the failures' band.
                    if let Some(b) = &r.bands {
                        p.add(
                            Line::new(
                                "p10–p90 days with model error",
                                vec![[b.days_p10_with_model_error, y], [b.days_p90_with_model_error, y]],
                            )
                            .color(color.gamma_multiply(0.35))
                            .width(7.0)
                            .allow_hover(false),
                        );
                    }
                    // Error bar with caps.
                    p.add(Line::new("p10–p90 days", vec![[r.days.p10, y], [r.days.p90, y]]).color(color).width(1.5).allow_hover(false));
                    let cap = max_cost * 0.012;
                    for x in [r.days.p10, r.days.p90] {
                        p.add(Line::new("p10–p90 days", vec![[x, y - cap], [x, y + cap]]).color(color).width(1.5).allow_hover(false));
                    }
                }
                let cand = out.candidate_of.get(k).copied().unwrap_or(k);
                let name = if is_off {
                    "off scale"
                } else if r.pareto {
                    "on the Pareto front"
                } else {
                    "dominated"
                };
                let shape = if is_off {
                    MarkerShape::Right
                } else if r.pareto {
                    MarkerShape::Diamond
                } else {
                    MarkerShape::Circle
                };
                p.add(Points::new(name, vec![[x, y]]).color(color).radius(if r.pareto { 6.0 } else { 4.5 }).shape(shape).filled(true));
                if cand == sel {
                    p.add(Points::new("selected", vec![[x, y]]).color(sel_color).radius(10.0).filled(false).allow_hover(false));
                }
                // Names of points on the right go to their left, so they stay inside the chart.
                let text = if is_off { format!("{} ({:.0} d)", r.name, r.days.p50) } else { r.name.clone() };
                let (label, anchor) = if x > 0.6 * max_days {
                    (format!("{text}  "), Align2::RIGHT_BOTTOM)
                } else {
                    (format!("  {text}"), Align2::LEFT_BOTTOM)
                };
                p.add(
                    Text::new("", PlotPoint::new(x, y), RichText::new(label).size(12.5))
                        .anchor(anchor)
                        .color(text_color)
                        .allow_hover(false),
                );
            }
        });
    let infeasible = rows.len() - feasible.len() + out.rejected.len();
    if infeasible > 0 {
        ui.label(RichText::new(format!("{infeasible} infeasible or refused candidate(s) not drawn")).small().color(GRAY));
    }
    // Click near a point to select its candidate.
    if resp.response.clicked()
        && let Some(pos) = resp.response.interact_pointer_pos()
    {
        let near = points
            .iter()
            .map(|(cand, xy)| (cand, resp.transform.position_from_point(&PlotPoint::new(xy[0], xy[1])).distance(pos)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((cand, d)) = near
            && d < 16.0
        {
            *selected = *cand;
        }
    }
}

/// Which of these feasible candidates the chart draws off scale: those whose runs did not finish within
/// the horizon, and those whose p50 is more than five times the median p50 of the others (when there
/// are at least three). At least one candidate always stays on scale.
pub fn off_scale(rows: &[&CandidateResult]) -> Vec<bool> {
    let mut off: Vec<bool> = rows.iter().map(|r| did_not_finish(r)).collect();
    let mut p50: Vec<f64> = rows.iter().zip(&off).filter(|(_, o)| !**o).map(|(r, _)| r.days.p50).collect();
    p50.sort_by(f64::total_cmp);
    if p50.len() >= 3 {
        let median = p50[p50.len() / 2];
        for (o, r) in off.iter_mut().zip(rows) {
            *o |= r.days.p50 > 5.0 * median;
        }
    }
    if off.iter().all(|o| *o) {
        off.iter_mut().for_each(|o| *o = false);
    }
    off
}

/// What the comparison says about the selected candidate.
fn details_ui(ui: &mut Ui, out: &PlanOutput, selected: usize) {
    if let Some(e) = out.rejection_of(selected) {
        let name = out.plan.candidates.get(selected).map_or("?", |c| c.name.as_str());
        ui.label(RichText::new(name).strong());
        ui.label(RichText::new("Not compared: the plan's checks refuse this candidate.").small());
        crate::widgets::error_lines(ui, std::slice::from_ref(&e.msg));
        return;
    }
    let Some((_, r)) = out.result_of(selected) else {
        ui.label("Select a candidate in the table.");
        return;
    };
    ui.label(RichText::new(&r.name).strong());
    ui.label(RichText::new(format!("{} devices: {}", r.devices, r.chips)).small());
    if !r.feasible {
        ui.label(RichText::new(r.infeasible_reason.clone().unwrap_or_else(|| "infeasible".into())).color(ui.visuals().error_fg_color));
    } else {
        let e = &r.economics;
        let lines = [
            format!("Days p10 / p50 / p90: {:.1} / {:.1} / {:.1} (ideal {:.1})", r.days.p10, r.days.p50, r.days.p90, r.ideal_days),
            format!("ETTR p50 {:.3} · {:.0} interruptions (p50)", r.ettr.p50, r.interruptions.p50),
            format!("Step {:.2} s · {} tokens/s · MFU {:.1}%", r.step_s, super::fmt_count(r.tokens_per_s.round() as u64), 100.0 * r.mfu),
            format!(
                "Cost {:.2} M USD (hardware {:.2}, energy {:.2}) · {:.2} $/1M tokens",
                e.total_usd / 1e6,
                e.hardware_usd / 1e6,
                e.energy_usd / 1e6,
                e.usd_per_million_tokens
            ),
            format!("Capex {:.0} M USD · {:.0} MWh · avg {:.1} MW, peak {:.1} MW", e.capex_usd / 1e6, e.energy_mwh, e.avg_mw, e.peak_mw),
        ];
        for l in lines {
            ui.label(RichText::new(l).small());
        }
        ui.label(RichText::new("Parallelism").small().strong());
        ui.add(egui::Label::new(RichText::new(parallelism_words(r)).small()).wrap());
    }
    if !r.flags.is_empty() {
        ui.label(RichText::new("Flags").small().strong());
        for f in &r.flags {
            ui.add(egui::Label::new(RichText::new(format!("! {f}")).small().color(ui.visuals().warn_fg_color)).wrap());
        }
    }
    if let Some(v) = &r.mixed_verdict {
        ui.label(RichText::new("Mixed hardware").small().strong());
        ui.add(egui::Label::new(RichText::new(v).small()).wrap());
    }
    ui.label(
        RichText::new(format!(
            "Search: {} plans, {} feasible, {:.0} ms",
            super::fmt_count(r.search_enumerated),
            super::fmt_count(r.search_feasible),
            r.search_ms
        ))
        .small()
        .weak(),
    );
    let mut rejected: Vec<(&String, &u64)> = r.search_rejected.iter().collect();
    rejected.sort_by(|a, b| b.1.cmp(a.1));
    for (why, n) in rejected.iter().take(3) {
        ui.label(RichText::new(format!("  rejected: {why} ({})", super::fmt_count(**n))).small().weak());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallelism_prefix_is_dropped() {
        assert_eq!(short_parallelism("single-pool:h800-sxm: TP8 PP7 DP182"), "TP8 PP7 DP182");
        assert_eq!(short_parallelism("hetero-data: TP8 x PP8"), "hetero-data: TP8 x PP8");
    }

    /// The table rows of `docs/OUTPUTS.md` under `header`, as trimmed cells.
    fn doc_rows<'a>(doc: &'a str, header: &str) -> Vec<Vec<&'a str>> {
        let mut inside = false;
        let mut rows = Vec::new();
        for l in doc.lines().map(str::trim) {
            if l == header {
                inside = true;
            } else if !l.starts_with('|') {
                inside = false;
            } else if inside && !l.starts_with("|---") {
                rows.push(l.trim_matches('|').split('|').map(str::trim).collect());
            }
        }
        rows
    }

    /// Every heading of the candidates table is the GUI spelling `docs/OUTPUTS.md` gives for the column's
    /// name, and names the unit of that name (`cost M$` for `cost_musd`); every GUI heading the document
    /// quotes is one the GUI shows.
    #[test]
    fn headings_are_the_documented_vocabulary_with_its_units() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let doc = std::fs::read_to_string(root.join("docs/OUTPUTS.md")).expect("docs/OUTPUTS.md");
        let gui_unit: std::collections::HashMap<&str, &str> =
            doc_rows(&doc, "| suffix | unit | GUI |").iter().map(|r| (r[0].trim_matches('`'), r[2].trim_matches('"'))).collect();
        let rows = doc_rows(&doc, "| name | unit | meaning | carried by |");
        assert!(gui_unit.len() >= 10 && rows.len() >= 100, "docs/OUTPUTS.md: tables not found");
        for c in Column::ALL {
            let name = format!("`{}`", c.vocab());
            let row =
                rows.iter().find(|r| r[0].split(", ").any(|n| n == name)).unwrap_or_else(|| panic!("{name} is not in docs/OUTPUTS.md"));
            let quoted = format!("GUI \"{}\"", c.title());
            assert!(row[3].contains(&quoted), "docs/OUTPUTS.md: the row of {name} does not name its heading {quoted}: {}", row[3]);
            if row[1] != "—" {
                let unit = gui_unit.get(row[1].trim_matches('`')).unwrap_or_else(|| panic!("unit {} of {name}", row[1]));
                assert!(c.title().contains(unit), "heading `{}` of {name} does not name its unit {unit}", c.title());
            }
        }
        let mut views = String::new();
        for f in std::fs::read_dir(root.join("gui/src/views")).unwrap() {
            views.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap());
        }
        for r in &rows {
            for q in r[3].split("GUI \"").skip(1) {
                let heading = q.split('"').next().unwrap();
                assert!(views.contains(&format!("\"{heading}\"")), "docs/OUTPUTS.md quotes GUI heading \"{heading}\", which no view shows");
            }
        }
    }
}
