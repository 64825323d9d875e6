//! The main document's top-level tables as rows of cell texts, within fixed caps.
//!
//! A nested table is not listed on its own: its text goes into the cell that holds it. The caps
//! keep the result small whatever the document: past them, tables, rows, cells or characters are
//! left out and `tables_truncated` says so; `table_count` still counts every top-level table.

/// Most tables listed.
pub(crate) const MAX_TABLES: usize = 100;
/// Most rows listed per table.
pub(crate) const MAX_ROWS: usize = 1_000;
/// Most cells listed per row.
pub(crate) const MAX_CELLS_PER_ROW: usize = 100;
/// Most characters kept per cell.
pub(crate) const MAX_CELL_CHARS: usize = 1_000;
/// Most cells listed over all tables.
pub(crate) const MAX_CELLS: usize = 100_000;
/// Most characters kept over all cells.
pub(crate) const MAX_CHARS: usize = 1_000_000;

/// One table: rows of cell texts.
pub(crate) type Table = Vec<Vec<String>>;

/// The tables collected so far and the position in the current one.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    tables: Vec<Table>,
    count: u64,
    truncated: bool,
    cells: usize,
    chars: usize,
    /// The current table is listed.
    table_open: bool,
    /// The current row is listed.
    row_open: bool,
    /// The current cell, while it is listed.
    cell: Option<(String, usize)>,
}

impl Tables {
    /// A top-level table starts.
    pub(crate) fn start_table(&mut self) {
        self.count += 1;
        self.table_open = self.tables.len() < MAX_TABLES;
        if self.table_open {
            self.tables.push(Vec::new());
        } else {
            self.truncated = true;
        }
    }

    /// A row of the top-level table starts.
    pub(crate) fn start_row(&mut self) {
        self.row_open = false;
        if !self.table_open {
            return;
        }
        match self.tables.last_mut() {
            Some(table) if table.len() < MAX_ROWS => {
                table.push(Vec::new());
                self.row_open = true;
            }
            _ => self.truncated = true,
        }
    }

    /// A cell of the top-level table starts.
    pub(crate) fn start_cell(&mut self) {
        self.cell = None;
        if !self.row_open {
            return;
        }
        let row_len = self.current_row().map_or(usize::MAX, |r| r.len());
        if row_len < MAX_CELLS_PER_ROW && self.cells < MAX_CELLS {
            self.cell = Some((String::new(), 0));
        } else {
            self.truncated = true;
        }
    }

    /// Text inside the current cell (nested tables included).
    pub(crate) fn text(&mut self, s: &str) {
        let Some((cell, chars)) = self.cell.as_mut() else {
            return;
        };
        for c in s.chars() {
            if *chars >= MAX_CELL_CHARS || self.chars >= MAX_CHARS {
                self.truncated = true;
                return;
            }
            cell.push(c);
            *chars += 1;
            self.chars += 1;
        }
    }

    /// A paragraph inside the current cell ends: the next one goes on a new line (empty
    /// paragraphs add no blank lines).
    pub(crate) fn paragraph_end(&mut self) {
        if let Some((cell, _)) = self.cell.as_ref()
            && !cell.is_empty()
            && !cell.ends_with('\n')
        {
            self.text("\n");
        }
    }

    /// The current cell ends.
    pub(crate) fn end_cell(&mut self) {
        if let Some((mut cell, _)) = self.cell.take() {
            cell.truncate(cell.trim_end().len());
            if let Some(row) = self.current_row() {
                row.push(cell);
                self.cells += 1;
            }
        }
    }

    fn current_row(&mut self) -> Option<&mut Vec<String>> {
        self.tables.last_mut()?.last_mut()
    }

    /// Top-level tables seen, listed or not.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The tables listed and whether anything was left out.
    pub(crate) fn finish(self) -> (Vec<Table>, bool) {
        (self.tables, self.truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_their_paragraphs_on_lines() {
        let mut t = Tables::default();
        t.start_table();
        t.start_row();
        t.start_cell();
        t.text("a");
        t.paragraph_end();
        t.text("b");
        t.paragraph_end();
        t.end_cell();
        t.start_cell();
        t.paragraph_end();
        t.end_cell();
        assert_eq!(
            t.finish(),
            (vec![vec![vec!["a\nb".to_owned(), String::new()]]], false)
        );
    }

    #[test]
    fn tables_past_the_cap_are_counted_not_listed() {
        let mut t = Tables::default();
        for _ in 0..=MAX_TABLES {
            t.start_table();
        }
        assert_eq!(t.count(), MAX_TABLES as u64 + 1);
        let (tables, truncated) = t.finish();
        assert_eq!((tables.len(), truncated), (MAX_TABLES, true));
    }

    #[test]
    fn a_long_cell_is_cut() {
        let mut t = Tables::default();
        t.start_table();
        t.start_row();
        t.start_cell();
        t.text(&"x".repeat(MAX_CELL_CHARS + 5));
        t.end_cell();
        let (tables, truncated) = t.finish();
        assert!(truncated);
        assert_eq!(tables[0][0][0].len(), MAX_CELL_CHARS);
    }
}
