//! A small table model rendered to GitHub Markdown (aligned columns) or HTML,
//! plus number formatting helpers that render NaN and infinities sensibly.
//!
//! Columns whose non-empty cells all look like numbers are right-aligned
//! automatically ([`Align::Auto`]); this can be overridden per column.
use serde::{Deserialize, Serialize};

use super::escape::escape_html;

/// Horizontal alignment of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Align {
    /// Right if every non-empty cell is a number, else left.
    #[default]
    Auto,
    /// Left-aligned.
    Left,
    /// Centred.
    Center,
    /// Right-aligned.
    Right,
}

/// A titled table of strings. Rows shorter than the header are padded with
/// empty cells; longer rows are shown in full (extra columns get no header).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Caption shown above the table ("" for none).
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Body rows.
    pub rows: Vec<Vec<String>>,
    /// Per-column alignment; missing entries are [`Align::Auto`].
    #[serde(default)]
    pub align: Vec<Align>,
}

/// True if `s` reads as a number as printed by the `fmt_*` helpers.
fn is_numeric(s: &str) -> bool {
    let t = s.trim().trim_end_matches('%');
    matches!(t, "NaN" | "inf" | "-inf" | "+inf") || (!t.is_empty() && t.parse::<f64>().is_ok())
}

/// Escapes a cell for a Markdown table: `|` and `\` are backslash-escaped,
/// line breaks become `<br>`.
fn escape_md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

impl Table {
    /// A table with a title and column headers, and no rows yet.
    pub fn new<S: Into<String>>(
        title: impl Into<String>,
        headers: impl IntoIterator<Item = S>,
    ) -> Self {
        Table {
            title: title.into(),
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
            align: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push_row<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) -> &mut Self {
        self.rows.push(row.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the alignment of column `col`.
    pub fn set_align(&mut self, col: usize, align: Align) -> &mut Self {
        if self.align.len() <= col {
            self.align.resize(col + 1, Align::Auto);
        }
        self.align[col] = align;
        self
    }

    /// Number of columns (the longest of the header and the rows).
    pub fn n_cols(&self) -> usize {
        self.rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0)
    }

    fn cell(row: &[String], col: usize) -> &str {
        row.get(col).map_or("", String::as_str)
    }

    /// The effective (never `Auto`) alignment of each column.
    pub fn alignments(&self) -> Vec<Align> {
        (0..self.n_cols())
            .map(|c| match self.align.get(c).copied().unwrap_or_default() {
                Align::Auto => {
                    let mut cells = self
                        .rows
                        .iter()
                        .map(|r| Self::cell(r, c).trim())
                        .filter(|s| !s.is_empty());
                    let mut any = false;
                    let all = cells.all(|s| {
                        any = true;
                        is_numeric(s)
                    });
                    if any && all {
                        Align::Right
                    } else {
                        Align::Left
                    }
                }
                a => a,
            })
            .collect()
    }

    /// Renders a GitHub-flavoured Markdown table with padded, aligned
    /// columns, preceded by the title in bold (if any).
    pub fn to_markdown(&self) -> String {
        let n = self.n_cols();
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&format!("**{}**\n\n", escape_md(&self.title)));
        }
        if n == 0 {
            return out;
        }
        let aligns = self.alignments();
        let header: Vec<String> = (0..n)
            .map(|c| escape_md(Self::cell(&self.headers, c)))
            .collect();
        let body: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| (0..n).map(|c| escape_md(Self::cell(r, c))).collect())
            .collect();
        let width = |s: &str| s.chars().count();
        let widths: Vec<usize> = (0..n)
            .map(|c| {
                body.iter()
                    .map(|r| width(&r[c]))
                    .chain([width(&header[c]), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let pad = |s: &str, w: usize, a: Align| {
            let gap = w.saturating_sub(width(s));
            match a {
                Align::Right => format!("{}{s}", " ".repeat(gap)),
                Align::Center => format!("{}{s}{}", " ".repeat(gap / 2), " ".repeat(gap - gap / 2)),
                _ => format!("{s}{}", " ".repeat(gap)),
            }
        };
        let line = |cells: &[String]| {
            let parts: Vec<String> = (0..n)
                .map(|c| pad(&cells[c], widths[c], aligns[c]))
                .collect();
            format!("| {} |\n", parts.join(" | "))
        };
        out.push_str(&line(&header));
        let rule: Vec<String> = (0..n)
            .map(|c| {
                let w = widths[c];
                match aligns[c] {
                    Align::Right => format!("{}:", "-".repeat(w - 1)),
                    Align::Center => format!(":{}:", "-".repeat(w - 2)),
                    _ => "-".repeat(w),
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for r in &body {
            out.push_str(&line(r));
        }
        out
    }

    /// Renders an HTML `<table>` (title as `<caption>`), all text escaped.
    pub fn to_html(&self) -> String {
        let n = self.n_cols();
        let aligns = self.alignments();
        let style = |c: usize| match aligns.get(c) {
            Some(Align::Right) => " class=\"r\"",
            Some(Align::Center) => " class=\"c\"",
            _ => "",
        };
        let mut out = String::from("<table>\n");
        if !self.title.is_empty() {
            out.push_str(&format!(
                "<caption>{}</caption>\n",
                escape_html(&self.title)
            ));
        }
        if !self.headers.is_empty() {
            out.push_str("<thead><tr>");
            for c in 0..n {
                out.push_str(&format!(
                    "<th{}>{}</th>",
                    style(c),
                    escape_html(Self::cell(&self.headers, c))
                ));
            }
            out.push_str("</tr></thead>\n");
        }
        out.push_str("<tbody>\n");
        for r in &self.rows {
            out.push_str("<tr>");
            for c in 0..n {
                out.push_str(&format!(
                    "<td{}>{}</td>",
                    style(c),
                    escape_html(Self::cell(r, c))
                ));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

/// Non-finite values as text: `NaN`, `inf`, `-inf`.
fn non_finite(x: f64) -> Option<String> {
    if x.is_nan() {
        Some("NaN".into())
    } else if x.is_infinite() {
        Some(if x > 0.0 { "inf" } else { "-inf" }.into())
    } else {
        None
    }
}

/// Formats `x` with `digits` digits after the decimal point. Very large
/// (≥ 1e6) or very small (< 1e-3, non-zero) magnitudes switch to scientific
/// notation with `digits` decimals (e.g. `1.23e-5`); a rounded negative zero
/// prints as `0`; NaN/inf print as `NaN`, `inf`, `-inf`.
pub fn fmt_num(x: f64, digits: usize) -> String {
    if let Some(s) = non_finite(x) {
        return s;
    }
    let a = x.abs();
    let s = if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{x:.digits$e}")
    } else {
        format!("{x:.digits$}")
    };
    strip_negative_zero(s)
}

/// Turns `-0.00` into `0.00`.
fn strip_negative_zero(s: String) -> String {
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Formats `x` with `sig` significant digits (at least 1), using scientific
/// notation outside 1e-3..1e6; NaN/inf as in [`fmt_num`].
pub fn fmt_sig(x: f64, sig: usize) -> String {
    if let Some(s) = non_finite(x) {
        return s;
    }
    let sig = sig.max(1);
    if x == 0.0 {
        return format!("{:.*}", sig - 1, 0.0);
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.*e}", sig - 1);
    }
    let mag = a.log10().floor() as i64;
    let decimals = (sig as i64 - 1 - mag).max(0) as usize;
    let s = format!("{x:.decimals$}");
    // Rounding may have added a digit (9.99 → 10.0); that's fine to show.
    strip_negative_zero(s)
}

/// Formats a fraction as a percentage: `fmt_pct(0.1234, 1)` = `12.3%`.
pub fn fmt_pct(frac: f64, digits: usize) -> String {
    if let Some(s) = non_finite(frac) {
        return s;
    }
    format!(
        "{}%",
        strip_negative_zero(format!("{:.digits$}", frac * 100.0))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(1.23456, 2), "1.23");
        assert_eq!(fmt_num(f64::NAN, 2), "NaN");
        assert_eq!(fmt_num(f64::INFINITY, 2), "inf");
        assert_eq!(fmt_num(f64::NEG_INFINITY, 2), "-inf");
        assert_eq!(fmt_num(-0.0001, 2), "-1.00e-4");
        assert_eq!(fmt_num(-0.004, 2), "0.00");
        assert_eq!(fmt_num(0.0, 3), "0.000");
        assert_eq!(fmt_num(2.5e7, 1), "2.5e7");
        assert_eq!(fmt_sig(0.012345, 3), "0.0123");
        assert_eq!(fmt_sig(123456.0, 2), "123456");
        assert_eq!(fmt_sig(1234.4, 2), "1234");
        assert_eq!(fmt_sig(0.0, 3), "0.00");
        assert_eq!(fmt_sig(3.0e-9, 2), "3.0e-9");
        assert_eq!(fmt_pct(0.1234, 1), "12.3%");
        assert_eq!(fmt_pct(f64::NAN, 1), "NaN");
    }

    fn sample() -> Table {
        let mut t = Table::new("Results | MNIST", ["layer", "spread", "note"]);
        t.push_row(["fc1", "0.25", "a|b"]);
        t.push_row(["fc2", "NaN", "<x> & \"y\""]);
        t.push_row(["fc3", "12.5"]);
        t
    }

    #[test]
    fn markdown_is_aligned_and_escaped() {
        let md = sample().to_markdown();
        // Widths count characters of the escaped text.
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "**Results \\| MNIST**");
        assert_eq!(lines[3], "| ----- | -----: | --------- |");
        assert_eq!(lines[4], "| fc1   |   0.25 | a\\|b      |");
        assert_eq!(lines[5], "| fc2   |    NaN | <x> & \"y\" |");
        assert_eq!(lines[6], "| fc3   |   12.5 |           |");
        // Every body line has the same length.
        let lens: Vec<usize> = lines[2..].iter().map(|l| l.chars().count()).collect();
        assert!(lens.windows(2).all(|w| w[0] == w[1]), "{md}");
    }

    #[test]
    fn html_is_escaped() {
        let html = sample().to_html();
        assert!(html.contains("<caption>Results | MNIST</caption>"));
        assert!(html.contains("<td>&lt;x&gt; &amp; &quot;y&quot;</td>"));
        assert!(html.contains("<td class=\"r\">0.25</td>"));
        assert!(html.contains("<th class=\"r\">spread</th>"));
        assert!(!html.contains("<x>"));
        assert_eq!(html.matches("<tr>").count(), 4);
    }

    #[test]
    fn alignment_override_and_empty() {
        let mut t = sample();
        t.set_align(1, Align::Center).set_align(0, Align::Right);
        assert_eq!(
            t.alignments(),
            vec![Align::Right, Align::Center, Align::Left]
        );
        assert!(t.to_markdown().contains("| ----: | :----: |"));
        let empty = Table::new("", Vec::<String>::new());
        assert_eq!(empty.to_markdown(), "");
        assert!(empty.to_html().contains("<tbody>"));
    }
}
