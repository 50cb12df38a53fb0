//! The page layouts that most screens share: a scrolling text page and a selection list.

use practicebox_hardware::Frame;

use super::render::{BODY_ROWS, Canvas, body_row_top};

/// Returns the highest first row that still fills the body with `rows` rows.
pub fn last_first_row(rows: usize) -> usize {
    rows.saturating_sub(BODY_ROWS)
}

/// Draws `rows` under `title` from row `first`, with a scroll bar when they do not fit and
/// `hint` at the bottom.
pub fn text_page(title: &str, rows: &[String], first: usize, hint: &str) -> Frame {
    let mut canvas = Canvas::new();
    canvas.title(title);
    let first = first.min(last_first_row(rows.len()));
    canvas.body(&rows[first..]);
    canvas.scroll_bar(first, BODY_ROWS, rows.len());
    canvas.hint(hint);
    canvas.into_frame()
}

/// Draws `items` under `title` with `selected` inverted and kept in view, and `hint` at the
/// bottom.
pub fn list_page(title: &str, items: &[String], selected: usize, hint: &str) -> Frame {
    let mut canvas = Canvas::new();
    canvas.title(title);
    let first = (selected + 1).saturating_sub(BODY_ROWS);
    for (row, (index, item)) in items
        .iter()
        .enumerate()
        .skip(first)
        .take(BODY_ROWS)
        .enumerate()
    {
        let top = body_row_top(row);
        if index == selected {
            canvas.inverted_row(top, item);
        } else {
            canvas.text(0, top, item);
        }
    }
    canvas.scroll_bar(first, BODY_ROWS, items.len());
    canvas.hint(hint);
    canvas.into_frame()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keeps_selection_in_view() {
        let items: Vec<String> = (0..8).map(|index| format!("item {index}")).collect();
        let first = list_page("T", &items, 0, "h");
        let last = list_page("T", &items, 7, "h");

        assert_ne!(first, last);
        // The selected row is inverted: its bar lights the right edge of the body row.
        assert!(last.pixel(120, body_row_top(3) as u32 + 5));
        assert!(!last.pixel(120, body_row_top(0) as u32 + 5));
    }

    #[test]
    fn text_page_clamps_first_row() {
        let rows: Vec<String> = (0..3).map(|index| format!("row {index}")).collect();

        assert_eq!(text_page("T", &rows, 5, "h"), text_page("T", &rows, 0, "h"));
    }
}
