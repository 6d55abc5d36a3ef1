use std::io::{self, Write};

use arrow_array::RecordBatch;

use crate::{BatchWriter, readers};

/// How many rows the table holds back to size its columns before it starts printing.
const SIZING_ROWS: usize = 1000;

/// The ANSI SGR code (`31`, `1;31`) a cell's value is coloured with, if any.
pub type Paint = fn(&str) -> Option<&'static str>;

/// How a table fits a screen.
#[derive(Clone, Debug, Default)]
pub struct Fit {
    /// The widest a line may be, in characters (`None`: no limit).
    pub width: Option<usize>,
    /// Columns that may be hidden to make room, the first to go first. The last column is
    /// never hidden: it is shortened with `…` to what is left.
    pub droppable: Vec<&'static str>,
    /// Colours the cells of one column: its name, and the ANSI SGR code for a value.
    pub colour: Option<(&'static str, Paint)>,
}

/// The last column (the reason, in a verdict table) keeps at least this many characters before
/// more columns are hidden: it says more than the columns that go.
const MIN_LAST: usize = 48;

/// The layout chosen from the first rows.
#[derive(Debug)]
struct Layout {
    widths: Vec<usize>,
    visible: Vec<bool>,
    /// The most characters of the last column that fit.
    last: Option<usize>,
    /// The column coloured, and how.
    colour: Option<(usize, Paint)>,
}

/// Writes an aligned, human-readable table. The first rows size the columns; later, wider
/// values overflow their column rather than hold the whole input in memory. With a [`Fit`],
/// no line is wider than its width: columns are hidden in the order given and the last one is
/// shortened.
#[derive(Debug)]
pub struct TableWriter<W: Write> {
    out: W,
    fit: Fit,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    layout: Option<Layout>,
    rows_written: usize,
}

impl<W: Write> TableWriter<W> {
    /// A writer to `out`, with no width limit and no colour.
    pub fn new(out: W) -> TableWriter<W> {
        TableWriter::with_fit(out, Fit::default())
    }

    /// A writer to `out` that fits `fit`.
    pub fn with_fit(out: W, fit: Fit) -> TableWriter<W> {
        TableWriter {
            out,
            fit,
            header: Vec::new(),
            rows: Vec::new(),
            layout: None,
            rows_written: 0,
        }
    }

    fn print_row(out: &mut W, layout: &Layout, cells: &[String], colour: bool) -> io::Result<()> {
        let mut line = String::new();
        let shown: Vec<usize> = (0..cells.len())
            .filter(|&i| layout.visible.get(i).copied().unwrap_or(true))
            .collect();
        for (k, &i) in shown.iter().enumerate() {
            let cell = &cells[i];
            if k + 1 == shown.len() {
                match layout.last {
                    Some(max) if cell.chars().count() > max => {
                        line.extend(cell.chars().take(max.saturating_sub(1)));
                        line.push('…');
                    }
                    _ => line.push_str(cell),
                }
                continue;
            }
            let width = layout.widths.get(i).copied().unwrap_or(0);
            let padded = format!("{cell:<width$}");
            match layout.colour {
                Some((column, paint)) if colour && column == i => match paint(cell) {
                    Some(code) => line.push_str(&format!("\x1b[{code}m{padded}\x1b[0m  ")),
                    None => line.push_str(&format!("{padded}  ")),
                },
                _ => line.push_str(&format!("{padded}  ")),
            }
        }
        writeln!(out, "{}", line.trim_end())
    }

    /// Chooses the layout: column widths, then what is hidden and how much of the last column
    /// fits.
    fn layout(&self) -> Layout {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let n = widths.len();
        let mut visible = vec![true; n];
        let position = |name: &str| self.header.iter().position(|h| h == name);
        let fixed = |visible: &[bool]| -> usize {
            (0..n.saturating_sub(1))
                .filter(|&i| visible[i])
                .map(|i| widths[i] + 2)
                .sum()
        };
        let mut last = None;
        if let Some(width) = self.fit.width {
            let last_width = widths.last().copied().unwrap_or(0);
            for name in &self.fit.droppable {
                if fixed(&visible) + last_width.min(MIN_LAST) <= width {
                    break;
                }
                if let Some(i) = position(name).filter(|&i| i + 1 < n) {
                    visible[i] = false;
                }
            }
            last = Some(width.saturating_sub(fixed(&visible)).max(1));
        }
        let colour = self
            .fit
            .colour
            .and_then(|(name, paint)| position(name).map(|i| (i, paint)));
        Layout {
            widths,
            visible,
            last,
            colour,
        }
    }

    fn start_printing(&mut self) -> io::Result<()> {
        let layout = self.layout();
        let header = std::mem::take(&mut self.header);
        Self::print_row(&mut self.out, &layout, &header, false)?;
        let last = layout.widths.len().saturating_sub(1);
        let rule: Vec<String> = (0..layout.widths.len())
            .map(|i| {
                let w = layout.widths[i].max(1);
                // The last column's rule ends at the edge, with no `…`.
                let w = if i == last {
                    layout.last.map_or(w, |l| w.min(l))
                } else {
                    w
                };
                "-".repeat(w)
            })
            .collect();
        Self::print_row(&mut self.out, &layout, &rule, false)?;
        for row in std::mem::take(&mut self.rows) {
            Self::print_row(&mut self.out, &layout, &row, true)?;
        }
        self.layout = Some(layout);
        Ok(())
    }
}

impl<W: Write> BatchWriter for TableWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        if self.layout.is_none() && self.header.is_empty() {
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
            match &self.layout {
                Some(layout) => Self::print_row(&mut self.out, layout, &cells, true)?,
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
        if self.layout.is_none() && !self.header.is_empty() {
            self.start_printing()?;
        }
        if self.rows_written == 0 {
            writeln!(self.out, "(no rows)")?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, StringArray};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let col = |v: &[&str]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        RecordBatch::try_from_iter([
            ("verdict", col(&["blocked", "allowed"])),
            ("first_seen", col(&["2026-11-20T09:02:03Z", "2026-11-20T09:08:03Z"])),
            ("client", col(&["10.0.1.10", "10.0.1.11"])),
            ("reason", col(&["REJECTed inbound at eni-085da82d3ccb0f0ad: no security group or NACL rule admits 10.0.1.10 on tcp/3306", "2 of 2 attempts connected"])),
        ])
        .unwrap()
    }

    fn table(fit: Fit) -> String {
        let mut out = Vec::new();
        let mut t = TableWriter::with_fit(&mut out, fit);
        t.write(&batch()).unwrap();
        t.finish().unwrap();
        drop(t);
        String::from_utf8(out).unwrap()
    }

    fn paint(v: &str) -> Option<&'static str> {
        (v == "blocked").then_some("31")
    }

    #[test]
    fn lines_fit_the_width_by_hiding_then_shortening() {
        for width in [40, 60, 80, 100, 200] {
            let text = table(Fit {
                width: Some(width),
                droppable: vec!["first_seen"],
                colour: None,
            });
            for line in text.lines() {
                assert!(line.chars().count() <= width, "{width}: {line:?}");
            }
            let wide = width >= 150;
            // 42 characters of fixed columns and 48 of the reason fit from 90 on.
            assert_eq!(text.contains("first_seen"), width >= 90, "{width}:\n{text}");
            assert!(
                !text.contains("-…"),
                "the rule is not shortened with an ellipsis"
            );
            assert_eq!(text.contains("tcp/3306"), wide, "{width}:\n{text}");
            assert!(text.contains("10.0.1.10"), "{width}:\n{text}");
        }
        // No limit: everything, whole.
        let text = table(Fit::default());
        assert!(text.contains("first_seen") && text.contains("tcp/3306"));
    }

    #[test]
    fn colour_wraps_the_padded_cell_and_keeps_the_columns_aligned() {
        let text = table(Fit {
            width: None,
            droppable: vec![],
            colour: Some(("verdict", paint)),
        });
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[2].starts_with("\x1b[31mblocked\x1b[0m  "), "{text}");
        assert!(lines[3].starts_with("allowed  "), "{text}");
        let plain = lines[2].replace("\x1b[31m", "").replace("\x1b[0m", "");
        assert_eq!(plain.find("10.0.1.10"), lines[3].find("10.0.1.11"));
        assert!(!lines[0].contains('\x1b'), "the header is never coloured");
    }
}
