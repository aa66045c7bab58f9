//! The summary heat map: one row per account × Region, one column per control, each cell
//! coloured by its worst status and showing how many resources are in each status.
//! Inline SVG; its colours are the page's CSS classes (`st-<status>`).

use super::{by_severity, esc, label, rank, worst};
use crate::change::plan::{Cell, PlanStatus};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The controls people look for first, in this order; any other follows by name.
const FIRST: [&str; 3] = ["sse-kms", "public-access-block", "tls-only"];

const LABEL_W: usize = 210;
const COL_W: usize = 172;
const HEAD_H: usize = 34;
const ROW_H: usize = 62;
const LEGEND_H: usize = 44;
const CHIP_W: usize = 30;

/// The columns: the known controls that appear, then the others by name.
fn columns(cells: &[Cell]) -> Vec<&str> {
    let mut others: Vec<&str> = cells
        .iter()
        .map(|c| c.control.as_str())
        .filter(|c| !FIRST.contains(c))
        .collect();
    others.sort_unstable();
    others.dedup();
    FIRST
        .iter()
        .copied()
        .filter(|f| cells.iter().any(|c| c.control == *f))
        .chain(others)
        .collect()
}

/// The rows: each (account, Region) once, sorted.
fn rows(cells: &[Cell]) -> Vec<(&str, &str)> {
    let mut rows: Vec<(&str, &str)> = cells
        .iter()
        .map(|c| (c.account.as_str(), c.region.as_str()))
        .collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}

/// Counts in severity order, zeros left out.
fn present(counts: &BTreeMap<PlanStatus, usize>) -> Vec<(PlanStatus, usize)> {
    let mut list: Vec<(PlanStatus, usize)> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| (*s, *n))
        .collect();
    list.sort_by_key(|(s, _)| std::cmp::Reverse(rank(*s)));
    list
}

/// The heat map of `cells` (an empty plan gets the frame and legend).
pub(super) fn svg(cells: &[Cell]) -> String {
    let cols = columns(cells);
    let rows = rows(cells);
    let width = LABEL_W + cols.len().max(1) * COL_W;
    let height = HEAD_H + rows.len().max(1) * ROW_H + LEGEND_H;
    let mut out = format!(
        "<div class=\"hm-wrap\"><svg class=\"hm\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Heat map: worst status per account, Region and control\">\n"
    );
    for (i, col) in cols.iter().enumerate() {
        let x = LABEL_W + i * COL_W + COL_W / 2;
        let _ = writeln!(
            out,
            "<text class=\"col\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            HEAD_H - 12,
            esc(col)
        );
    }
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "<text class=\"nothing\" x=\"{}\" y=\"{}\">Nothing was planned.</text>",
            12,
            HEAD_H + ROW_H / 2
        );
    }
    let by_place: BTreeMap<(&str, &str, &str), &Cell> = cells
        .iter()
        .map(|c| {
            (
                (c.account.as_str(), c.region.as_str(), c.control.as_str()),
                c,
            )
        })
        .collect();
    for (r, (account, region)) in rows.iter().enumerate() {
        let y = HEAD_H + r * ROW_H;
        let _ = writeln!(
            out,
            "<text class=\"acct\" x=\"8\" y=\"{}\">{}</text><text class=\"region\" x=\"8\" y=\"{}\">{}</text>",
            y + 27,
            esc(account),
            y + 45,
            esc(region)
        );
        for (i, col) in cols.iter().enumerate() {
            let found = by_place.get(&(*account, *region, *col)).copied();
            out.push_str(&cell(LABEL_W + i * COL_W, y, (account, region, col), found));
        }
    }
    out.push_str(&legend(HEAD_H + rows.len().max(1) * ROW_H + 14));
    out.push_str("</svg></div>\n");
    out
}

/// One cell at (`x`, `y`): tinted by the worst status, its count in words, then a chip
/// per status present.
fn cell(x: usize, y: usize, at: (&str, &str, &str), found: Option<&Cell>) -> String {
    let (account, region, control) = at;
    let (w, h) = (COL_W - 6, ROW_H - 6);
    let counts = found.map(|c| present(&c.counts)).unwrap_or_default();
    let Some(worst) = worst(counts.iter().map(|(s, _)| s)) else {
        return format!(
            "<g class=\"cell none\"><title>{} {} {}: not evaluated</title>\
             <rect x=\"{}\" y=\"{}\" width=\"{w}\" height=\"{h}\" rx=\"6\"/>\
             <text class=\"dash\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">not evaluated</text></g>\n",
            esc(account),
            esc(region),
            esc(control),
            x + 3,
            y + 3,
            x + COL_W / 2,
            y + ROW_H / 2 + 4
        );
    };
    let words: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{n} {}", label(*s)))
        .collect();
    let n_worst = counts.first().map_or(0, |(_, n)| *n);
    let mut chips = String::new();
    for (i, (s, n)) in counts.iter().enumerate() {
        let cx = x + 14 + i * (CHIP_W + 4);
        let _ = write!(
            chips,
            "<rect class=\"chip st-{}\" x=\"{cx}\" y=\"{}\" width=\"{CHIP_W}\" height=\"18\" rx=\"9\"/>\
             <text class=\"chip-n\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{n}</text>",
            s.as_str(),
            y + 34,
            cx + CHIP_W / 2,
            y + 47
        );
    }
    format!(
        "<g class=\"cell st-{status}\" data-account=\"{account}\" data-worst=\"{status}\" tabindex=\"0\">\
         <title>{account} {region} {control}: {words}</title>\
         <rect class=\"bg\" x=\"{}\" y=\"{}\" width=\"{w}\" height=\"{h}\" rx=\"6\"/>\
         <text class=\"worst\" x=\"{}\" y=\"{}\">{n_worst} {}</text>{chips}</g>\n",
        x + 3,
        y + 3,
        x + 14,
        y + 24,
        label(worst),
        status = worst.as_str(),
        account = esc(account),
        region = esc(region),
        control = esc(control),
        words = words.join(", "),
    )
}

fn legend(y: usize) -> String {
    let mut out = format!(
        "<g class=\"legend\"><text class=\"legend-t\" x=\"8\" y=\"{}\">worst first:</text>",
        y + 13
    );
    let mut x = 92;
    for s in by_severity() {
        let text = label(s);
        let _ = write!(
            out,
            "<rect class=\"chip st-{}\" x=\"{x}\" y=\"{y}\" width=\"16\" height=\"16\" rx=\"4\"/>\
             <text class=\"legend-t\" x=\"{}\" y=\"{}\">{text}</text>",
            s.as_str(),
            x + 22,
            y + 13
        );
        // Width of the label at the legend's size, and a gap.
        x += 22 + text.len() * 7 + 22;
    }
    out.push_str("</g>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(account: &str, control: &str, counts: &[(PlanStatus, usize)]) -> Cell {
        Cell {
            account: account.into(),
            region: "us-east-1".into(),
            control: control.into(),
            counts: counts.iter().copied().collect(),
        }
    }

    #[test]
    fn known_controls_come_first_then_the_rest_by_name() {
        let cells = [
            cell("1", "kms-key-spec", &[]),
            cell("1", "tls-only", &[]),
            cell("1", "ai-opt-out", &[]),
            cell("2", "sse-kms", &[]),
        ];
        assert_eq!(
            columns(&cells),
            ["sse-kms", "tls-only", "ai-opt-out", "kms-key-spec"]
        );
        assert_eq!(rows(&cells), [("1", "us-east-1"), ("2", "us-east-1")]);
    }

    #[test]
    fn a_cell_is_coloured_by_its_worst_status_and_shows_every_count() {
        let cells = [
            cell(
                "111111111111",
                "sse-kms",
                &[
                    (PlanStatus::Compliant, 5),
                    (PlanStatus::Held, 1),
                    (PlanStatus::WouldChange, 2),
                ],
            ),
            cell("222222222222", "tls-only", &[(PlanStatus::Failed, 1)]),
        ];
        let svg = svg(&cells);
        assert!(svg.contains(
            "<g class=\"cell st-held\" data-account=\"111111111111\" data-worst=\"held\""
        ));
        assert!(svg.contains(
            "<title>111111111111 us-east-1 sse-kms: 1 held, 2 would change, 5 compliant</title>"
        ));
        assert!(svg.contains(">1 held</text>"));
        assert!(svg.contains("data-worst=\"failed\""));
        // The rows without a cell for a column say so instead of looking compliant.
        assert_eq!(svg.matches("not evaluated</text>").count(), 2);
        assert_eq!(svg.matches("<g class=\"cell").count(), 4);
    }
}
