//! The report's two file formats: the `.xlsx` a city system imports (the
//! 23 headers in a frozen, filtered header row, column widths, dates as
//! date cells, percentages as percent-formatted fractions) and a CSV in
//! UTF-8 with a BOM, so that Excel opens the Chinese right (SPEC §10).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, XlsxError};
use vbp_detectors::report::{Cell, ReportRow, HEADERS};

/// The byte-order mark that tells Excel a CSV is UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Width of each column, in characters (the Chinese headers are wide).
const WIDTHS: [f64; 23] =
    [30.0, 16.0, 12.0, 26.0, 12.0, 12.0, 10.0, 10.0, 10.0, 10.0, 12.0, 12.0, 10.0, 10.0, 10.0, 10.0, 12.0, 12.0, 12.0, 12.0, 12.0, 12.0, 16.0];

/// The report as a CSV: BOM, the 23 headers, one line per row.
pub fn csv(rows: &[ReportRow]) -> Vec<u8> {
    let mut out = BOM.to_vec();
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        // Writing into a Vec cannot fail but for a bug in csv.
        let _ = writer.write_record(HEADERS);
        for row in rows {
            let _ = writer.write_record(row.cells().iter().map(Cell::text));
        }
        let _ = writer.flush();
    }
    out
}

/// The report as an `.xlsx` workbook, one sheet named `title`.
pub fn xlsx(rows: &[ReportRow], title: &str) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(title)?;
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_background_color(Color::RGB(0xDDE7F3))
        .set_border(FormatBorder::Thin);
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let percent = Format::new().set_num_format("0.00%");
    sheet.set_row_height(0, 36)?;
    for (column, (name, width)) in HEADERS.iter().zip(WIDTHS).enumerate() {
        sheet.write_string_with_format(0, column as u16, *name, &header)?;
        sheet.set_column_width(column as u16, width)?;
    }
    for (index, row) in rows.iter().enumerate() {
        let r = index as u32 + 1;
        for (column, cell) in row.cells().into_iter().enumerate() {
            let c = column as u16;
            match cell {
                Cell::Text(text) => sheet.write_string(r, c, text)?,
                Cell::Date(d) => {
                    use chrono::Datelike;
                    let day = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)?;
                    sheet.write_date_with_format(r, c, day, &date)?
                }
                Cell::Count(n) => sheet.write_number(r, c, n)?,
                Cell::Percent(p) => sheet.write_number_with_format(r, c, fraction(p), &percent)?,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, rows.len() as u32, HEADERS.len() as u16 - 1)?;
    workbook.save_to_buffer()
}

/// A percentage of 100 as the fraction a percent-formatted cell holds
/// (74.79 → 0.7479; exact in decimal, then the nearest f64).
fn fraction(pct: Decimal) -> f64 {
    (pct / Decimal::ONE_HUNDRED).to_f64().unwrap_or(0.0)
}
