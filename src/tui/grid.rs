//! [`Grid`]: a table's rows with a selection and a filter, and the window of rows a screen of
//! a given height shows. Pure state, no drawing: views lay out only [`Grid::window`]'s rows,
//! so a table of thousands of services costs what a screenful costs.

/// Rows (the first one given is the header), the filtered subset and the selected row.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    pub header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Indices into `rows` that match `filter`, in order.
    visible: Vec<usize>,
    filter: String,
    /// Index into `visible`.
    selected: usize,
}

impl Grid {
    /// A grid from a table's lines, header first (what the `client::output` builders return).
    pub fn from_lines(mut lines: Vec<Vec<String>>) -> Grid {
        let mut g = Grid::default();
        if !lines.is_empty() {
            g.header = lines.remove(0);
        }
        g.rows = lines;
        g.refilter();
        g
    }

    /// Replaces the rows, keeping the selection on the same row (same first two cells) when it
    /// is still there, and the filter.
    pub fn replace(&mut self, lines: Vec<Vec<String>>) {
        let key = self.selected_row().map(key_of);
        let filter = std::mem::take(&mut self.filter);
        let at = self.selected;
        *self = Grid::from_lines(lines);
        self.filter = filter;
        self.refilter();
        self.selected = key
            .and_then(|k| {
                self.visible
                    .iter()
                    .position(|&i| key_of(&self.rows[i]) == k)
            })
            .unwrap_or_else(|| at.min(self.visible.len().saturating_sub(1)));
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Keeps only rows with a cell containing `filter` (case-insensitive).
    pub fn set_filter(&mut self, filter: &str) {
        self.filter = filter.to_owned();
        self.refilter();
        self.selected = 0;
    }

    fn refilter(&mut self) {
        let needle = self.filter.to_lowercase();
        self.visible = (0..self.rows.len())
            .filter(|&i| {
                needle.is_empty()
                    || self.rows[i]
                        .iter()
                        .any(|c| c.to_lowercase().contains(&needle))
            })
            .collect();
    }

    /// Rows shown (after the filter).
    pub fn len(&self) -> usize {
        self.visible.len()
    }

    pub fn is_empty(&self) -> bool {
        self.visible.is_empty()
    }

    /// Every row, filter or not.
    pub fn total(&self) -> usize {
        self.rows.len()
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn selected_row(&self) -> Option<&[String]> {
        self.visible
            .get(self.selected)
            .map(|&i| self.rows[i].as_slice())
    }

    /// The selected row's cell under `column` (a header name), or "".
    pub fn cell(&self, column: &str) -> &str {
        let Some(row) = self.selected_row() else {
            return "";
        };
        self.header
            .iter()
            .position(|h| h == column)
            .and_then(|i| row.get(i))
            .map_or("", String::as_str)
    }

    /// Moves the selection by `delta` rows, stopping at the ends.
    pub fn move_by(&mut self, delta: isize) {
        let last = self.visible.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }

    pub fn select_first(&mut self) {
        self.selected = 0;
    }

    pub fn select_last(&mut self) {
        self.selected = self.visible.len().saturating_sub(1);
    }

    /// The rows a screen of `height` rows shows — the first one and the rows themselves — so
    /// that the selection is always on screen.
    pub fn window(&self, height: usize) -> (usize, Vec<&[String]>) {
        let height = height.max(1);
        let first = (self.selected + 1).saturating_sub(height);
        let rows = self.visible[first.min(self.visible.len())..]
            .iter()
            .take(height)
            .map(|&i| self.rows[i].as_slice())
            .collect();
        (first, rows)
    }
}

fn key_of(row: &[String]) -> String {
    row.iter()
        .take(2)
        .cloned()
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize) -> Grid {
        let mut lines = vec![vec!["NAME".to_owned(), "PORT".to_owned()]];
        lines.extend((0..n).map(|i| vec![format!("svc-{i}"), (8000 + i).to_string()]));
        Grid::from_lines(lines)
    }

    #[test]
    fn window_follows_the_selection() {
        let mut g = grid(1000);
        assert_eq!(g.window(10).0, 0);
        g.select_last();
        let (first, rows) = g.window(10);
        assert_eq!((first, rows.len()), (990, 10));
        assert_eq!(rows[9][0], "svc-999");
        g.move_by(-995);
        assert_eq!(g.selected(), 4);
        assert_eq!(g.window(10).0, 0);
        g.move_by(-10);
        assert_eq!(g.selected(), 0);
    }

    #[test]
    fn filter_and_replace_keep_the_selected_row() {
        let mut g = grid(30);
        g.set_filter("svc-2");
        assert_eq!(g.len(), 11); // svc-2, svc-20..29
        g.move_by(3);
        assert_eq!(g.cell("NAME"), "svc-22");
        let mut lines = vec![vec!["NAME".to_owned(), "PORT".to_owned()]];
        lines.extend(
            (0..40)
                .rev()
                .map(|i| vec![format!("svc-{i}"), (8000 + i).to_string()]),
        );
        g.replace(lines);
        assert_eq!(g.filter(), "svc-2");
        assert_eq!(g.cell("NAME"), "svc-22");
        assert_eq!(g.cell("PORT"), "8022");
        assert_eq!(g.total(), 40);
    }
}
