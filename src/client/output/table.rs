//! [`Table`]: Go's `text/tabwriter` as istioctl and kubectl use it (`padchar ' '`, no flags),
//! so tables match theirs byte for byte.
//!
//! The rules: a column is as wide as its widest cell plus `padding` (istioctl: 1 for
//! listeners, 5 elsewhere); the last cell of a line is never padded, but every earlier cell
//! is, so a row whose last cell is empty ends in spaces; widths are counted in characters
//! (Go counts runes); and columns are aligned per *block* of consecutive lines that have the
//! column, so a row with fewer cells splits the columns to its right.
//!
//! A hand-written aligner rather than comfy-table: comfy-table 8 pads every cell of a column,
//! the last one included (even an empty one, to the column's full width), so its output needs
//! the significant trailing spaces cut back per row; it measures display width (a CJK
//! character counts 2, Go counts 1); it splits cells on newlines; and it has no column
//! blocks. Reproducing tabwriter on top of it took more code than tabwriter itself (~40 lines).

/// Rows of cells, rendered like a flushed Go `tabwriter.Writer`.
#[derive(Debug, Clone)]
pub struct Table {
    padding: usize,
    min_width: usize,
    lines: Vec<Vec<String>>,
}

impl Table {
    /// A table whose columns get `padding` spaces after their widest cell.
    pub fn new(padding: usize) -> Self {
        Table {
            padding,
            min_width: 0,
            lines: Vec::new(),
        }
    }

    /// tabwriter's `minwidth`: no padded column is narrower (kubectl uses 6).
    pub fn min_width(mut self, min_width: usize) -> Self {
        self.min_width = min_width;
        self
    }

    /// Adds a line (header or row). Like `fmt.Fprintf(w, "%v\t%v\n", …)`: the cells are the
    /// tab-separated fields, the last one unpadded.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.lines.push(cells.into_iter().map(Into::into).collect());
    }

    /// Adds a line of text written with tabs, as istioctl's `Fprintf` calls do.
    pub fn text_line(&mut self, line: &str) {
        self.row(line.split('\t'));
    }

    /// The lines as added (header first), unaligned.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.lines
    }

    /// The aligned text, one `\n`-terminated line per row.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut widths = Vec::new();
        self.format(&mut out, &mut widths, 0, self.lines.len());
        out
    }

    /// tabwriter's `format`: finds the blocks of lines having column `widths.len()`, sizes
    /// that column per block, recurses into the next column.
    fn format(&self, out: &mut String, widths: &mut Vec<usize>, mut line0: usize, line1: usize) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            self.write_lines(out, widths, line0, this);
            line0 = this;
            let mut width = self.min_width;
            while this < line1 && column + 1 < self.lines[this].len() {
                width = width.max(self.lines[this][column].chars().count() + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format(out, widths, line0, this);
            widths.pop();
            line0 = this;
        }
        self.write_lines(out, widths, line0, line1);
    }

    fn write_lines(&self, out: &mut String, widths: &[usize], line0: usize, line1: usize) {
        for line in &self.lines[line0..line1] {
            for (j, cell) in line.iter().enumerate() {
                out.push_str(cell);
                if let Some(width) = widths.get(j) {
                    let used = cell.chars().count();
                    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
                }
            }
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_all_but_the_last_cell() {
        let mut t = Table::new(5);
        t.row(["NAME", "VHOST NAME", "VIRTUAL SERVICE"]);
        t.row(["http.8080", "backend", ""]);
        t.row(["", "blackhole:80", "404"]);
        assert_eq!(
            t.render(),
            "NAME          VHOST NAME       VIRTUAL SERVICE\n\
             http.8080     backend          \n\
             \x20             blackhole:80     404\n"
        );
    }

    #[test]
    fn padding_one_like_the_listener_table() {
        let mut t = Table::new(1);
        t.row(["ADDRESSES", "PORT", "MATCH", "DESTINATION"]);
        t.row(["0.0.0.0", "8080", "ALL", "Route: http.8080"]);
        assert_eq!(
            t.render(),
            "ADDRESSES PORT MATCH DESTINATION\n0.0.0.0   8080 ALL   Route: http.8080\n"
        );
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        let mut t = Table::new(1);
        t.row(["é", "x"]);
        t.row(["ab", "y"]);
        assert_eq!(t.render(), "é  x\nab y\n");
    }

    #[test]
    fn a_shorter_row_splits_the_column_blocks() {
        // Go: "a\tbbbbbb\tc\n" + "x\n" + "aaaa\tb\tc\n": the single-cell line ends the block.
        let mut t = Table::new(1);
        t.text_line("a\tbbbbbb\tc");
        t.text_line("x");
        t.text_line("aaaa\tb\tc");
        assert_eq!(t.render(), "a bbbbbb c\nx\naaaa b c\n");
        // A row with one cell fewer keeps the earlier columns aligned with its neighbours.
        let mut t = Table::new(1);
        t.text_line("a\tb\tccccc\td");
        t.text_line("aaa\tb");
        t.text_line("a\tb\tc\td");
        assert_eq!(t.render(), "a   b ccccc d\naaa b\na   b c d\n");
    }
}
