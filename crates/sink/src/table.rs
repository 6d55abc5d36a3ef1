use std::io::{self, Write};

use arrow_array::RecordBatch;

use crate::{BatchWriter, readers};

/// How many rows the table holds back to size its columns before it starts printing.
const SIZING_ROWS: usize = 1000;

/// Writes an aligned, human-readable table. The first rows size the columns; later, wider
/// values overflow their column rather than hold the whole input in memory.
#[derive(Debug)]
pub struct TableWriter<W: Write> {
    out: W,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    widths: Option<Vec<usize>>,
    rows_written: usize,
}

impl<W: Write> TableWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> TableWriter<W> {
        TableWriter {
            out,
            header: Vec::new(),
            rows: Vec::new(),
            widths: None,
            rows_written: 0,
        }
    }

    fn print_row(out: &mut W, widths: &[usize], cells: &[String]) -> io::Result<()> {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                let width = widths.get(i).copied().unwrap_or(0);
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())
    }

    fn start_printing(&mut self) -> io::Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header = std::mem::take(&mut self.header);
        Self::print_row(&mut self.out, &widths, &header)?;
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w.max(1))).collect();
        Self::print_row(&mut self.out, &widths, &rule)?;
        for row in std::mem::take(&mut self.rows) {
            Self::print_row(&mut self.out, &widths, &row)?;
        }
        self.widths = Some(widths);
        Ok(())
    }
}

impl<W: Write> BatchWriter for TableWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        if self.widths.is_none() && self.header.is_empty() {
            self.header = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
        }
        let columns = readers(batch);
        let mut cell = Vec::new();
        for row in 0..batch.num_rows() {
            let mut cells = Vec::with_capacity(columns.len());
            for column in &columns {
                cell.clear();
                column.value(row).write_plain(&mut cell)?;
                cells.push(String::from_utf8_lossy(&cell).into_owned());
            }
            self.rows_written += 1;
            match &self.widths {
                Some(widths) => Self::print_row(&mut self.out, widths, &cells)?,
                None => {
                    self.rows.push(cells);
                    if self.rows.len() >= SIZING_ROWS {
                        self.start_printing()?;
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.widths.is_none() && !self.header.is_empty() {
            self.start_printing()?;
        }
        if self.rows_written == 0 {
            writeln!(self.out, "(no rows)")?;
        }
        self.out.flush()
    }
}
