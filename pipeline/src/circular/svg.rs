//! Charts drawn server-side as SVG for the circular: horizontal bars for a
//! ranking, stacked bars for the report's four outcomes, columns for a
//! weekly trend. Plain SVG elements (no script, no fonts embedded), so
//! they print as crisply as the text around them.

use maud::{html, Markup};
use vbp_detectors::report::Outcome;

/// Colours of the four outcomes, as the report page shows them.
pub const OUTCOME_COLOURS: [&str; 4] = ["#c0392b", "#e67e22", "#8e44ad", "#27ae60"];

const WIDTH: f64 = 640.0;
const LABEL: f64 = 190.0;
const ROW: f64 = 22.0;

/// One bar per item (label, value, value as shown, colour), in the order
/// given; `max` is the full width's value.
pub fn bars(items: &[(String, f64, String, &str)], max: f64) -> Markup {
    let height = ROW * items.len() as f64 + 8.0;
    let scale = if max > 0.0 { (WIDTH - LABEL - 80.0) / max } else { 0.0 };
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(height) viewBox={ "0 0 " (WIDTH) " " (height) } role="img" {
            @for (i, (label, value, shown, colour)) in items.iter().enumerate() {
                @let y = 4.0 + ROW * i as f64;
                text x=(LABEL - 6.0) y=(y + 15.0) text-anchor="end" font-size="12" { (clip(label, 16)) }
                rect x=(LABEL) y=(y + 3.0) width=((value * scale).max(1.0)) height=(ROW - 6.0) fill=(*colour) {}
                text x=(LABEL + (value * scale).max(1.0) + 4.0) y=(y + 15.0) font-size="12" { (shown) }
            }
        }
    }
}

/// One stacked bar per division: the shares of the four outcomes.
pub fn outcomes(items: &[(String, [u32; 4])]) -> Markup {
    let height = ROW * items.len() as f64 + 30.0;
    let span = WIDTH - LABEL - 20.0;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(height) viewBox={ "0 0 " (WIDTH) " " (height) } role="img" {
            @for (i, (label, counts)) in items.iter().enumerate() {
                @let y = 4.0 + ROW * i as f64;
                @let total: u32 = counts.iter().sum();
                text x=(LABEL - 6.0) y=(y + 15.0) text-anchor="end" font-size="12" { (clip(label, 16)) }
                @for (k, (x, w)) in segments(counts, total, span).into_iter().enumerate() {
                    rect x=(LABEL + x) y=(y + 3.0) width=(w) height=(ROW - 6.0) fill=(OUTCOME_COLOURS[k]) {}
                }
            }
            @let legend_y = height - 10.0;
            @for (k, outcome) in Outcome::ALL.iter().enumerate() {
                rect x=(LABEL + 110.0 * k as f64) y=(legend_y - 9.0) width="10" height="10" fill=(OUTCOME_COLOURS[k]) {}
                text x=(LABEL + 14.0 + 110.0 * k as f64) y=(legend_y) font-size="11" { (outcome.chinese()) }
            }
        }
    }
}

/// One column per week, with its count above it. Where the columns are
/// too narrow for their counts (more than 16), only the labelled ones say
/// theirs; every column keeps it as a tooltip.
pub fn weekly(items: &[(String, u32)]) -> Markup {
    let height = 150.0;
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let slot = (WIDTH - 20.0) / items.len().max(1) as f64;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(height) viewBox={ "0 0 " (WIDTH) " " (height) } role="img" {
            line x1="10" y1="120" x2=(WIDTH - 10.0) y2="120" stroke="#999" {}
            @for (i, (label, n)) in items.iter().enumerate() {
                @let h = 95.0 * f64::from(*n) / f64::from(max);
                @let x = 10.0 + slot * i as f64;
                rect x=(x + 2.0) y=(120.0 - h) width=(slot - 4.0) height=(h) fill="#2a5d9f" { title { (label) " " (n) } }
                @if items.len() <= 16 || !label.is_empty() {
                    text x=(x + slot / 2.0) y=(115.0 - h) text-anchor="middle" font-size="10" { (n) }
                }
                text x=(x + slot / 2.0) y="136" text-anchor="middle" font-size="9" { (label) }
            }
        }
    }
}

/// (start, width) of each outcome's segment in a bar `span` wide.
fn segments(counts: &[u32; 4], total: u32, span: f64) -> Vec<(f64, f64)> {
    let widths = counts.map(|n| if total > 0 { span * f64::from(n) / f64::from(total) } else { 0.0 });
    widths.iter().enumerate().map(|(k, w)| (widths[..k].iter().sum(), *w)).collect()
}

fn clip(label: &str, chars: usize) -> String {
    if label.chars().count() <= chars {
        return label.to_string();
    }
    let mut s: String = label.chars().take(chars - 1).collect();
    s.push('…');
    s
}
