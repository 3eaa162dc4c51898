//! Drawing: a pure function of [`App`] (`&App`, never `&mut`) into a ratatui frame. Tables
//! draw only the rows on screen ([`Grid::window`]).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Sparkline, Table, Wrap};

use super::app::{App, ConfigTab, Overlay, Prompt, View};
use super::graph;
use super::grid::Grid;
use super::highlight::{self, Lang};
use super::keys::{self, BINDINGS, Scope};
use super::theme::Theme;

pub fn draw(app: &App, f: &mut Frame, theme: &Theme) {
    let area = f.area();
    let banner = u16::from(app.banner.is_some());
    let [top, banner_area, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    title_bar(app, f, top, theme);
    if let Some(b) = &app.banner {
        f.render_widget(
            Paragraph::new(format!(" {b} — reconnecting…")).style(theme.banner()),
            banner_area,
        );
    }
    if let Some(d) = &app.detail {
        detail(f, body, &d.title, &d.text, d.lang, d.scroll, theme);
    } else {
        match app.view {
            View::Workloads => grid(f, body, "Pods", &app.workloads, theme),
            View::Proxies => grid(f, body, "Proxies", &app.proxies, theme),
            View::Config => config(app, f, body, theme),
            View::Resources => resources(app, f, body, theme),
            View::Traffic => traffic(app, f, body, theme),
            View::Logs => logs(app, f, body, theme),
        }
    }
    status_bar(app, f, bottom, theme);
    match &app.overlay {
        Overlay::Help => help(f, area, theme),
        Overlay::Confirm { question, .. } => popup(
            f,
            area,
            "Confirm",
            &format!("{question}  [y/N]"),
            theme.title(),
            theme,
        ),
        Overlay::Error(e) => popup(f, area, "Error (any key)", e, theme.error(), theme),
        Overlay::None | Overlay::Prompt { .. } => {}
    }
}

fn title_bar(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let mut spans = vec![
        Span::styled(format!(" mesh/{} ", app.sandbox), theme.title()),
        Span::raw("│"),
    ];
    for (i, v) in View::ALL.iter().enumerate() {
        let text = format!(" {} {} ", i + 1, v.title());
        spans.push(if *v == app.view {
            Span::styled(text, theme.current_tab())
        } else {
            Span::raw(text)
        });
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn status_bar(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let line = match &app.overlay {
        Overlay::Prompt { prompt, input } => {
            let label = match prompt {
                Prompt::Filter => "/".to_owned(),
                Prompt::Command => ":".to_owned(),
                Prompt::Scale { name, .. } => format!("scale deploy/{name} to replicas: "),
                Prompt::LogLevel { proxy } => {
                    format!("log level for {proxy} (debug, or http:debug,…): ")
                }
            };
            Line::from(vec![
                Span::styled(label, theme.title()),
                Span::raw(input.clone()),
                Span::styled("█", theme.dim()),
            ])
        }
        _ => match &app.message {
            Some(m) => Line::from(Span::raw(format!(" {m}"))),
            None => Line::from(Span::styled(
                format!(" {}", keys::hints(&app.scopes())),
                theme.dim(),
            )),
        },
    };
    f.render_widget(Paragraph::new(line), area);
}

/// A bordered table of the grid's visible window, with the count and filter in the title.
fn grid(f: &mut Frame, area: Rect, title: &str, g: &Grid, theme: &Theme) {
    let mut t = format!(" {title} ({}", g.len());
    if !g.filter().is_empty() {
        t.push_str(&format!("/{} /{}", g.total(), g.filter()));
    }
    t.push_str(") ");
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(t, theme.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let height = usize::from(inner.height.saturating_sub(1));
    let (first, rows) = g.window(height);
    let columns = g
        .header
        .len()
        .max(rows.iter().map(|r| r.len()).max().unwrap_or(0));
    let mut widths = vec![0usize; columns];
    for r in rows.iter().map(|r| r.iter()).chain([g.header.iter()]) {
        for (i, c) in r.enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let selected = g.selected().checked_sub(first);
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let row = Row::new(r.iter().map(|c| Cell::from(c.as_str())));
            if Some(i) == selected {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let (widths, spacing) = fit(widths, usize::from(inner.width));
    let constraints: Vec<Constraint> = widths
        .iter()
        .map(|w| Constraint::Length(u16::try_from(*w).unwrap_or(u16::MAX)))
        .collect();
    let table = Table::new(body, constraints)
        .header(Row::new(g.header.iter().map(|h| Cell::from(h.as_str()))).style(theme.header()))
        .column_spacing(spacing);
    f.render_widget(table, inner);
}

/// Column widths that fit `available`: two spaces between columns, one if that is too wide,
/// then the widest column cut down, one character at a time, so short columns stay whole.
pub fn fit(mut widths: Vec<usize>, available: usize) -> (Vec<usize>, u16) {
    let total = |w: &[usize], gap: usize| w.iter().sum::<usize>() + gap * w.len().saturating_sub(1);
    let gap = if total(&widths, 2) <= available { 2 } else { 1 };
    while total(&widths, gap) > available {
        let Some((i, w)) = widths.iter().copied().enumerate().max_by_key(|(_, w)| *w) else {
            break;
        };
        if w <= 4 {
            break;
        }
        widths[i] = w - 1;
    }
    (widths, u16::try_from(gap).unwrap_or(1))
}

fn tabs_line<'a>(names: impl Iterator<Item = (String, bool)>, theme: &Theme) -> Line<'a> {
    let mut spans = Vec::new();
    for (name, current) in names {
        spans.push(if current {
            Span::styled(format!(" {name} "), theme.current_tab())
        } else {
            Span::raw(format!(" {name} "))
        });
    }
    Line::from(spans)
}

fn config(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let Some(proxy) = &app.config.proxy else {
        f.render_widget(
            Paragraph::new(
                "No proxy selected: pick one in 2 Proxies (Enter) or a pod in 1 Workloads (p).",
            ),
            body,
        );
        return;
    };
    let tabs = ConfigTab::ALL
        .iter()
        .map(|t| (t.title().to_owned(), *t == app.config.tab));
    let mut line = tabs_line(tabs, theme);
    line.spans
        .insert(0, Span::styled(format!("{proxy} "), theme.title()));
    f.render_widget(Paragraph::new(line), head);
    if let Some(e) = &app.config.error {
        f.render_widget(
            Paragraph::new(e.as_str())
                .style(theme.error())
                .wrap(Wrap { trim: false }),
            body,
        );
        return;
    }
    if app.config.dump.is_none() {
        f.render_widget(Paragraph::new("loading…"), body);
        return;
    }
    let g = &app.config.grids[ConfigTab::ALL
        .iter()
        .position(|t| *t == app.config.tab)
        .unwrap_or(0)];
    grid(f, body, app.config.tab.title(), g, theme);
}

fn resources(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let Some(tab) = app.kinds.get(app.kind) else {
        f.render_widget(Paragraph::new("loading…"), body);
        return;
    };
    // Start the tab line a little before the current kind so it stays visible at 80 columns.
    let start = app.kind.saturating_sub(2);
    let names = app
        .kinds
        .iter()
        .enumerate()
        .skip(start)
        .map(|(i, k)| (k.listing.plural.clone(), i == app.kind));
    let mut line = tabs_line(names, theme);
    if start > 0 {
        line.spans.insert(0, Span::raw("…"));
    }
    f.render_widget(Paragraph::new(line), head);
    grid(f, body, &tab.listing.plural, &tab.grid, theme);
}

fn traffic(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let rows = u16::try_from(app.traffic.len()).unwrap_or(u16::MAX);
    let table_h = (rows + 3).clamp(4, area.height / 2);
    let [table_area, sparks, graph_area] = Layout::vertical([
        Constraint::Length(table_h),
        Constraint::Length(6),
        Constraint::Min(3),
    ])
    .areas(area);
    grid(
        f,
        table_area,
        "Traffic (per second, sampled every 1s)",
        &app.traffic,
        theme,
    );

    let selected = app.traffic_selected();
    let history = selected.as_ref().and_then(|w| app.history.get(w));
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        format!(" {} ", selected.as_deref().unwrap_or("no traffic yet")),
        theme.title(),
    ));
    let inner = block.inner(sparks);
    f.render_widget(block, sparks);
    if let Some(h) = history {
        let lines = Layout::vertical([Constraint::Length(1); 4]).split(inner);
        let series: [(&str, &std::collections::VecDeque<f64>, String, f64); 4] = [
            (
                "RPS",
                &h.rps,
                format!("{:.2}", h.rps.back().copied().unwrap_or(0.0)),
                100.0,
            ),
            (
                "SUCCESS",
                &h.success,
                format!("{:.1}%", h.success.back().copied().unwrap_or(100.0)),
                1.0,
            ),
            (
                "P50",
                &h.p50,
                format!("{:.1}ms", h.p50.back().copied().unwrap_or(0.0)),
                10.0,
            ),
            (
                "P99",
                &h.p99,
                format!("{:.1}ms", h.p99.back().copied().unwrap_or(0.0)),
                10.0,
            ),
        ];
        for ((label, data, now, scale), line) in series.into_iter().zip(lines.iter()) {
            let [l, s] =
                Layout::horizontal([Constraint::Length(18), Constraint::Min(1)]).areas(*line);
            f.render_widget(Paragraph::new(format!("{label:<8}{now:>9} ")), l);
            let width = usize::from(s.width);
            let skip = data.len().saturating_sub(width);
            // Sparklines take whole numbers: keep two digits of a rate, one of a latency.
            let points: Vec<u64> = data
                .iter()
                .skip(skip)
                .map(|v| (v * scale).round().max(0.0) as u64)
                .collect();
            f.render_widget(Sparkline::default().data(&points).style(theme.spark()), s);
        }
    }

    let mut text: Vec<Line> = graph::lines(&app.edges)
        .into_iter()
        .map(Line::from)
        .collect();
    if text.is_empty() {
        text.push(Line::styled("no requests in the last second", theme.dim()));
    }
    f.render_widget(
        Paragraph::new(text).block(
            Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(" Service graph ", theme.title())),
        ),
        graph_area,
    );
}

fn logs(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let l = &app.logs;
    if l.pod.is_empty() {
        f.render_widget(
            Paragraph::new("No log followed: pick a pod in 1 Workloads and press Enter."),
            area,
        );
        return;
    }
    let mut title = format!(
        " {}/{} [{}] {} ",
        l.namespace,
        l.pod,
        l.container,
        if l.follow { "following" } else { "paused" }
    );
    if !l.filter.is_empty() {
        title.push_str(&format!("/{} ", l.filter));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines = app.log_lines();
    let mut height = usize::from(inner.height);
    let mut shown: Vec<Line> = Vec::new();
    if let Some(why) = &l.ended {
        height = height.saturating_sub(1);
        shown.push(Line::styled(format!("-- {why} --"), theme.dim()));
    }
    let end = lines
        .len()
        .saturating_sub(if l.follow { 0 } else { l.scroll });
    // Long lines wrap; take lines from the end until the screen is full.
    let width = usize::from(inner.width.max(1));
    let mut rows = 0;
    let mut start = end;
    while start > 0 {
        let need = lines[start - 1].chars().count().max(1).div_ceil(width);
        if rows + need > height {
            break;
        }
        rows += need;
        start -= 1;
    }
    let mut body: Vec<Line> = lines[start..end]
        .iter()
        .map(|s| Line::from(s.to_string()))
        .collect();
    body.append(&mut shown);
    f.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), inner);
}

fn detail(
    f: &mut Frame,
    area: Rect,
    title: &str,
    text: &str,
    lang: Lang,
    scroll: usize,
    theme: &Theme,
) {
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        format!(
            " {title} ({}) ",
            match lang {
                Lang::Json => "JSON",
                Lang::Yaml => "YAML",
                Lang::Text => "text",
            }
        ),
        theme.title(),
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines: Vec<Line> = text
        .lines()
        .skip(scroll)
        .take(usize::from(inner.height))
        .map(|l| {
            Line::from(
                highlight::line(lang, l)
                    .into_iter()
                    .map(|(t, s)| Span::styled(s, theme.token(t)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn popup(f: &mut Frame, area: Rect, title: &str, text: &str, style: Style, theme: &Theme) {
    let width = area.width.saturating_sub(8).min(72);
    let lines = u16::try_from(
        text.lines()
            .map(|l| l.chars().count() / usize::from(width.max(1)) + 1)
            .sum::<usize>(),
    )
    .unwrap_or(10);
    let r = centered(area, width, lines + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(Text::from(text.to_owned()))
            .style(style)
            .wrap(Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(Span::styled(format!(" {title} "), theme.title())),
            ),
        r,
    );
}

/// Every binding, grouped by where it works, in two columns when the screen is short.
fn help(f: &mut Frame, area: Rect, theme: &Theme) {
    let mut lines: Vec<Line> = Vec::new();
    let mut scope: Option<Scope> = None;
    for b in BINDINGS {
        if scope != Some(b.scope) {
            scope = Some(b.scope);
            lines.push(Line::styled(b.scope.title(), theme.header()));
        }
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {:<14}", b.keys),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(b.does),
        ]));
    }
    let r = centered(area, area.width, area.height);
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Keys (any key closes) ", theme.title()));
    let inner = block.inner(r);
    f.render_widget(block, r);
    let height = usize::from(inner.height.max(1));
    let columns = lines.len().div_ceil(height).max(1);
    let areas = Layout::horizontal(vec![
        Constraint::Ratio(
            1,
            u32::try_from(columns).unwrap_or(1)
        );
        columns
    ])
    .split(inner);
    for (chunk, a) in lines.chunks(height).zip(areas.iter()) {
        f.render_widget(Paragraph::new(chunk.to_vec()), *a);
    }
}
