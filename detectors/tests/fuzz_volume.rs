//! Volume fuzzing of the reference loader (issue 16 part 5):
//! `ReferenceData::from_csv_texts` under a structure-aware generator, for
//! as many executions as `PROPTEST_CASES` asks (256 in CI's `cargo test`;
//! 10,000,000 in `tests/fuzz-volume.sh`).
//!
//! Every case starts from one of two valid reference directories (the rule
//! tests' tiny province and `tests/fixtures/reference-small`), parsed into
//! tables, and changes them in three layers:
//!
//! 1. neutral rewrites, which must not change what loads: columns in
//!    another order, an extra column, quoting, padding, CRLF, no final
//!    newline;
//! 2. edits of the tables: a cell set to a hostile value or to another
//!    cell's (a code of another file, so cross-file references break and
//!    mend), rows repeated, dropped, swapped, cloned under a new key, cut
//!    short or made long, columns dropped, repeated or renamed, files
//!    removed or emptied;
//! 3. edits of the text: characters inserted (quotes, commas, line
//!    breaks, `#`, a BOM), deleted, repeated, the file cut short.
//!
//! What is checked, beyond "never panics": a case with neutral rewrites
//! only loads, and loads exactly the data of its base; whatever loads is
//! consistent (every id indexes its vector, every lookup finds its record,
//! selected products have a family and a price, periods are ordered,
//! divisions are listed with their city and province); whatever is refused
//! says so in problems that each name a known file and fit on one line.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use rust_decimal::Decimal;
use vbp_detectors::reference::{ReferenceData, ReferenceErrors, ReferenceKeys, FILES};

/// Calls of `from_csv_texts`, across every thread of this binary.
static EXECUTIONS: AtomicU64 = AtomicU64::new(0);
/// Of which loaded, and were refused.
static LOADED: AtomicU64 = AtomicU64::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);

// ---------------------------------------------------------------------------
// The valid bases, as tables.

const SMALL: &str = "tests/fixtures/reference-small";

/// One CSV file as a header and rows of raw (untrimmed) cells.
#[derive(Debug, Clone, PartialEq)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn parse(text: &str, comments: bool) -> Table {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .comment(comments.then_some(b'#'))
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().expect("fixture header").iter().map(str::to_owned).collect();
    let rows = reader
        .records()
        .map(|r| r.expect("fixture row").iter().map(str::to_owned).collect())
        .collect();
    Table { header, rows }
}

/// A reference directory: by position in [`FILES`], the file's table when present.
type Tables = Vec<Option<Table>>;

fn tables_of(texts: &[(&str, String)]) -> Tables {
    FILES
        .iter()
        .map(|name| texts.iter().find(|(n, _)| n == name).map(|(_, text)| parse(text, *name == "calendar.csv")))
        .collect()
}

/// The two bases and what each loads as, computed once.
struct Base {
    tables: Tables,
    loaded: ReferenceData,
}

fn bases() -> &'static [Base] {
    static BASES: OnceLock<Vec<Base>> = OnceLock::new();
    BASES.get_or_init(|| {
        let province = vec![
            ("divisions.csv", support::DIVISIONS.to_owned()),
            ("institutions.csv", support::INSTITUTIONS.to_owned()),
            ("products.csv", support::PRODUCTS.to_owned()),
            ("agreements.csv", support::AGREEMENTS.to_owned()),
            ("exemptions.csv", support::EXEMPTIONS.to_owned()),
            ("calendar.csv", "# a comment line\ndate,kind\n2026-10-09,holiday\n2026-10-10,workday\n".to_owned()),
            ("substitutes.csv", support::SUBSTITUTES.to_owned()),
            ("enterprises.csv", support::ENTERPRISES.to_owned()),
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SMALL);
        let small: Vec<(&str, String)> = FILES
            .iter()
            .filter_map(|name| std::fs::read_to_string(dir.join(name)).ok().map(|text| (*name, text)))
            .collect();
        [province, small]
            .iter()
            .map(|texts| {
                let borrowed: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
                let loaded = ReferenceData::from_csv_texts(borrowed).unwrap_or_else(|e| panic!("a base does not load:\n{e}"));
                Base { tables: tables_of(texts), loaded }
            })
            .collect()
    })
}

/// Every cell value of both bases, for edits that copy one: codes of one
/// file put into another, the way references break and mend.
fn pool() -> &'static [String] {
    static POOL: OnceLock<Vec<String>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut values: Vec<String> = bases()
            .iter()
            .flat_map(|b| b.tables.iter().flatten())
            .flat_map(|t| t.header.iter().chain(t.rows.iter().flatten()))
            .cloned()
            .collect();
        values.sort();
        values.dedup();
        values
    })
}

// ---------------------------------------------------------------------------
// Layer 1: neutral rewrites.

/// How one file is written; none of it may change what loads.
#[derive(Debug, Clone)]
struct Style {
    /// Seed of the column order (0: as in the base).
    permute: u64,
    /// An extra column at this position (its values are ignored).
    extra_column: Option<(usize, String)>,
    quote_all: bool,
    /// Spaces and tabs around every cell (the loader trims).
    pad: bool,
    crlf: bool,
    final_newline: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (
        prop_oneof![Just(0u64), any::<u64>()],
        prop::option::of((any::<usize>(), "\\PC{0,6}")),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(permute, extra_column, quote_all, pad, crlf, final_newline)| Style {
            permute,
            extra_column,
            quote_all,
            pad,
            crlf,
            final_newline,
        })
}

/// A permutation of `0..n` from `seed` (0: the identity).
fn permutation(n: usize, mut seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if seed == 0 {
        return order;
    }
    for i in (1..n).rev() {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        order.swap(i, (seed >> 33) as usize % (i + 1));
    }
    order
}

/// Applies the column order and the extra column (both neutral).
fn restyle(table: &mut Table, style: &Style) {
    let order = permutation(table.header.len(), style.permute);
    let reorder = |cells: &mut Vec<String>| {
        if cells.len() == order.len() {
            *cells = order.iter().map(|&i| cells[i].clone()).collect();
        }
    };
    reorder(&mut table.header);
    table.rows.iter_mut().for_each(reorder);
    if let Some((at, name)) = &style.extra_column {
        // A name no layout uses (the loader ignores unknown columns).
        let name = format!("extra {name}");
        let at = at % (table.header.len() + 1);
        let width = table.header.len();
        table.header.insert(at, name.clone());
        for row in table.rows.iter_mut().filter(|r| r.len() == width) {
            row.insert(at, name.clone());
        }
    }
}

fn render(table: &Table, style: &Style) -> String {
    let cell = |value: &str| {
        let value = if style.pad { format!(" \t{value} ") } else { value.to_owned() };
        let needs = value.contains([',', '"', '\n', '\r']) || value.starts_with('#');
        if style.quote_all || needs {
            format!("\"{}\"", value.replace('"', "\"\""))
        } else {
            value
        }
    };
    let newline = if style.crlf { "\r\n" } else { "\n" };
    let lines: Vec<String> = std::iter::once(&table.header)
        .chain(&table.rows)
        .map(|cells| cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","))
        .collect();
    let mut text = lines.join(newline);
    if style.final_newline {
        text.push_str(newline);
    }
    text
}

// ---------------------------------------------------------------------------
// Layer 2: edits of the tables.

/// Cell values that have broken, or could break, a CSV loader: empty,
/// signs, exponents, overflow, bad dates, wrong enumerations, quotes.
const VALUES: &[&str] = &[
    "", " ", "-", "0", "-0", "0.0", "-1", "1", "1e5", "1E-3", "+1", ".5", "5.", "1,000", "1_000", "0x10", "NaN", "inf",
    "１２", "0.0000000000000000000000000001", "0.00000000000000000000000000001", "79228162514264337593543950335",
    "79228162514264337593543950336", "1000000", "1000000.000001", "999999999999999999", "-79228162514264337593543950335",
    "1000000000000000", "1000000000000000.5", "2026-01-01", "2026-12-31", "2026-02-29", "2024-02-29", "2026-02-30",
    "2026-13-01", "2026-1-1", "0000-01-01", "9999-12-31", "+2026-01-01", "262143-01-01", "2026/01/01", "2026-01-01T00:00",
    "true", "false", "TRUE", "False", "yes", "1", "drug", "consumable", "DRUG", "tertiary", "secondary", "primary",
    "private", "pharmacy", "hospital", "holiday", "workday", "Holiday", "610000", "610300", "610305", "619900", "61030",
    "6103050", "61030a", "000000", "999999", "#", "#610000", "\"", "\"\"", "a\"b", ",", "a,b", "\n", "\r\n", "\t",
    "\u{feff}", "\u{feff}610000", "中", "陕西省", "😀", "\u{0}", "\u{7f}", "\u{2028}",
];

#[derive(Debug, Clone)]
enum Edit {
    SetCell { file: usize, row: usize, col: usize, value: String },
    /// Another cell's value (from either base), into this one.
    CopyCell { file: usize, row: usize, col: usize, from: usize },
    DuplicateRow { file: usize, row: usize },
    RemoveRow { file: usize, row: usize },
    SwapRows { file: usize, a: usize, b: usize },
    /// A copy of the row with one cell (the key, often) given a suffix: a
    /// new record that refers to everything the old one does.
    CloneRow { file: usize, row: usize, col: usize, suffix: String },
    /// The row without its last cell, or with one more.
    ShortRow { file: usize, row: usize },
    LongRow { file: usize, row: usize, value: String },
    RemoveColumn { file: usize, col: usize },
    DuplicateColumn { file: usize, col: usize },
    RenameColumn { file: usize, col: usize, name: String },
    RemoveFile { file: usize },
    /// Nothing at all, or the header alone.
    EmptyFile { file: usize },
    HeaderOnly { file: usize },
    /// A file the base lacks, made of another file's header and rows.
    AddFile { file: usize, from: usize },
}

fn value() -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::sample::select(VALUES).prop_map(str::to_owned),
        2 => "-?[0-9]{1,32}(\\.[0-9]{0,32})?",
        1 => "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        1 => "\\PC{0,12}",
        1 => (1usize..3000).prop_map(|n| "9".repeat(n)),
    ]
    .boxed()
}

fn edit() -> BoxedStrategy<Edit> {
    let i = any::<usize>();
    prop_oneof![
        8 => (i, i, i, value()).prop_map(|(file, row, col, value)| Edit::SetCell { file, row, col, value }),
        6 => (i, i, i, i).prop_map(|(file, row, col, from)| Edit::CopyCell { file, row, col, from }),
        2 => (i, i).prop_map(|(file, row)| Edit::DuplicateRow { file, row }),
        2 => (i, i).prop_map(|(file, row)| Edit::RemoveRow { file, row }),
        1 => (i, i, i).prop_map(|(file, a, b)| Edit::SwapRows { file, a, b }),
        4 => (i, i, i, "[A-Z0-9]{1,3}").prop_map(|(file, row, col, suffix)| Edit::CloneRow { file, row, col, suffix }),
        1 => (i, i).prop_map(|(file, row)| Edit::ShortRow { file, row }),
        1 => (i, i, value()).prop_map(|(file, row, value)| Edit::LongRow { file, row, value }),
        1 => (i, i).prop_map(|(file, col)| Edit::RemoveColumn { file, col }),
        1 => (i, i).prop_map(|(file, col)| Edit::DuplicateColumn { file, col }),
        1 => (i, i, value()).prop_map(|(file, col, name)| Edit::RenameColumn { file, col, name }),
        1 => i.prop_map(|file| Edit::RemoveFile { file }),
        1 => i.prop_map(|file| Edit::EmptyFile { file }),
        1 => i.prop_map(|file| Edit::HeaderOnly { file }),
        1 => (i, i).prop_map(|(file, from)| Edit::AddFile { file, from }),
    ]
    .boxed()
}

fn apply_edit(tables: &mut Tables, edit: &Edit) {
    let n = tables.len();
    let row_of = |t: &Table, row: usize| if t.rows.is_empty() { None } else { Some(row % t.rows.len()) };
    match edit {
        Edit::SetCell { file, row, col, value } => {
            if let Some(t) = tables[file % n].as_mut() {
                if let Some(r) = row_of(t, *row) {
                    let cells = &mut t.rows[r];
                    if !cells.is_empty() {
                        let c = col % cells.len();
                        cells[c] = value.clone();
                    }
                }
            }
        }
        Edit::CopyCell { file, row, col, from } => {
            let pool = pool();
            let value = pool[from % pool.len()].clone();
            apply_edit(tables, &Edit::SetCell { file: *file, row: *row, col: *col, value });
        }
        Edit::DuplicateRow { file, row } => {
            if let Some(t) = tables[file % n].as_mut() {
                if let Some(r) = row_of(t, *row) {
                    let copy = t.rows[r].clone();
                    t.rows.insert(r + 1, copy);
                }
            }
        }
        Edit::RemoveRow { file, row } => {
            if let Some(t) = tables[file % n].as_mut() {
                if let Some(r) = row_of(t, *row) {
                    t.rows.remove(r);
                }
            }
        }
        Edit::SwapRows { file, a, b } => {
            if let Some(t) = tables[file % n].as_mut() {
                if let (Some(a), Some(b)) = (row_of(t, *a), row_of(t, *b)) {
                    t.rows.swap(a, b);
                }
            }
        }
        Edit::CloneRow { file, row, col, suffix } => {
            if let Some(t) = tables[file % n].as_mut() {
                if let Some(r) = row_of(t, *row) {
                    let mut copy = t.rows[r].clone();
                    if !copy.is_empty() {
                        let c = col % copy.len();
                        copy[c].push_str(suffix);
                    }
                    t.rows.push(copy);
                }
            }
        }
        Edit::ShortRow { file, row } => {
            if let Some(t) = tables[file % n].as_mut() {
                if let Some(r) = row_of(t, *row) {
                    t.rows[r].pop();
                }
            }
        }
        Edit::LongRow { file, row, value } => {
            if let Some(t) = tables[file % n].as_mut() {
                if let Some(r) = row_of(t, *row) {
                    t.rows[r].push(value.clone());
                }
            }
        }
        Edit::RemoveColumn { file, col } => {
            if let Some(t) = tables[file % n].as_mut() {
                if !t.header.is_empty() {
                    let c = col % t.header.len();
                    t.header.remove(c);
                    t.rows.iter_mut().filter(|r| r.len() > c).for_each(|r| {
                        r.remove(c);
                    });
                }
            }
        }
        Edit::DuplicateColumn { file, col } => {
            if let Some(t) = tables[file % n].as_mut() {
                if !t.header.is_empty() {
                    let c = col % t.header.len();
                    let name = t.header[c].clone();
                    t.header.push(name);
                    t.rows.iter_mut().for_each(|r| {
                        let v = r.get(c).cloned().unwrap_or_default();
                        r.push(v);
                    });
                }
            }
        }
        Edit::RenameColumn { file, col, name } => {
            if let Some(t) = tables[file % n].as_mut() {
                if !t.header.is_empty() {
                    let c = col % t.header.len();
                    t.header[c] = name.clone();
                }
            }
        }
        Edit::RemoveFile { file } => tables[file % n] = None,
        Edit::EmptyFile { file } => {
            if let Some(t) = tables[file % n].as_mut() {
                t.header.clear();
                t.rows.clear();
            }
        }
        Edit::HeaderOnly { file } => {
            if let Some(t) = tables[file % n].as_mut() {
                t.rows.clear();
            }
        }
        Edit::AddFile { file, from } => {
            if tables[file % n].is_none() {
                tables[file % n] = tables[from % n].clone();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Layer 3: edits of the text.

/// Text inserted at random places.
const INSERTS: &[&str] = &[
    "\"", ",", "\n", "\r", "\r\n", "\n\n", "#", "\u{feff}", " ", "\t", "中", "\"\"", ",,", "\",\"", "\n#", "\0",
];

#[derive(Debug, Clone)]
enum TextEdit {
    Insert { file: usize, at: usize, text: String },
    Delete { file: usize, at: usize, len: usize },
    Repeat { file: usize, at: usize, len: usize },
    Truncate { file: usize, at: usize },
}

fn text_edit() -> BoxedStrategy<TextEdit> {
    let i = any::<usize>();
    prop_oneof![
        3 => (i, i, prop_oneof![prop::sample::select(INSERTS).prop_map(str::to_owned), "\\PC{1,4}"])
            .prop_map(|(file, at, text)| TextEdit::Insert { file, at, text }),
        2 => (i, i, 1usize..12).prop_map(|(file, at, len)| TextEdit::Delete { file, at, len }),
        1 => (i, i, 1usize..80).prop_map(|(file, at, len)| TextEdit::Repeat { file, at, len }),
        1 => (i, i).prop_map(|(file, at)| TextEdit::Truncate { file, at }),
    ]
    .boxed()
}

fn apply_text_edit(texts: &mut [Option<String>], edit: &TextEdit) {
    let n = texts.len();
    let (file, at) = match edit {
        TextEdit::Insert { file, at, .. } | TextEdit::Delete { file, at, .. } | TextEdit::Repeat { file, at, .. } | TextEdit::Truncate { file, at } => (file % n, *at),
    };
    let Some(text) = texts[file].as_mut() else { return };
    let mut chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    let at = at % (len + 1);
    match edit {
        TextEdit::Insert { text: inserted, .. } => {
            chars.splice(at..at, inserted.chars());
        }
        TextEdit::Delete { len: cut, .. } => {
            chars.drain(at..(at + cut).min(len));
        }
        TextEdit::Repeat { len: span, .. } => {
            let copy: Vec<char> = chars[at..(at + span).min(len)].to_vec();
            chars.splice(at..at, copy);
        }
        TextEdit::Truncate { .. } => chars.truncate(at),
    }
    *text = chars.into_iter().collect();
}

// ---------------------------------------------------------------------------
// One case.

#[derive(Debug, Clone)]
struct Case {
    base: usize,
    styles: Vec<Style>,
    edits: Vec<Edit>,
    text_edits: Vec<TextEdit>,
}

fn case() -> impl Strategy<Value = Case> {
    // A fifth neutral only (checked against the base); most of the rest
    // edit tables only, so that they reach the checks across rows and
    // files: a damaged line mostly stops at its own row.
    let changes = prop_oneof![
        1 => Just((Vec::new(), Vec::new())),
        3 => (prop::collection::vec(edit(), 1..=4), Just(Vec::new())),
        1 => (prop::collection::vec(edit(), 0..=2), prop::collection::vec(text_edit(), 1..=3)),
    ];
    (0usize..2, prop::collection::vec(style(), FILES.len()), changes)
        .prop_map(|(base, styles, (edits, text_edits))| Case { base, styles, edits, text_edits })
}

/// The texts of a case, by position in [`FILES`].
fn texts_of(case: &Case) -> Vec<Option<String>> {
    let base = &bases()[case.base];
    let mut tables = base.tables.clone();
    for (table, style) in tables.iter_mut().zip(&case.styles) {
        if let Some(table) = table.as_mut() {
            restyle(table, style);
        }
    }
    for edit in &case.edits {
        apply_edit(&mut tables, edit);
    }
    let mut texts: Vec<Option<String>> =
        tables.iter().zip(&case.styles).map(|(t, style)| t.as_ref().map(|t| render(t, style))).collect();
    for edit in &case.text_edits {
        apply_text_edit(&mut texts, edit);
    }
    texts
}

/// Whether two loads hold the same data.
fn same(a: &ReferenceData, b: &ReferenceData) -> bool {
    a.divisions == b.divisions
        && a.institutions == b.institutions
        && a.products == b.products
        && a.groups == b.groups
        && a.families == b.families
        && a.agreements == b.agreements
        && a.exemptions == b.exemptions
        && a.substitutes == b.substitutes
        && a.enterprises == b.enterprises
        && a.calendar == b.calendar
}

/// What any loaded reference data satisfies.
fn check_loaded(data: &ReferenceData) -> Result<(), TestCaseError> {
    let (institutions, products, groups, families) =
        (data.institutions.len(), data.products.len(), data.groups.len(), data.families.len());
    for (i, institution) in data.institutions.iter().enumerate() {
        prop_assert_eq!(data.institution(&institution.code).map(|id| id.index()), Some(i));
        prop_assert!(data.divisions.contains(&institution.division_code), "{:?}", institution);
        prop_assert!(data.divisions.contains(&institution.city_code) && data.divisions.contains(&institution.province_code));
        prop_assert!(!institution.code.is_empty() && !institution.name.is_empty());
    }
    let max_units = Decimal::from(1_000_000);
    for (i, product) in data.products.iter().enumerate() {
        prop_assert_eq!(data.product(&product.code).map(|id| id.index()), Some(i));
        prop_assert!(product.group.index() < groups);
        prop_assert_eq!(product.selected, product.family.is_some(), "{:?}", product);
        prop_assert_eq!(product.selected, product.selected_price_per_base_unit.is_some(), "{:?}", product);
        prop_assert!(!product.selected || product.batch.is_some());
        prop_assert!(product.base_units_per_pack > Decimal::ZERO && product.base_units_per_pack <= max_units);
        if let Some(price) = product.selected_price_per_base_unit {
            prop_assert!(price > Decimal::ZERO && price <= max_units);
            let _ = product.selected_price_per_pack();
        }
        if let Some(family) = product.family {
            prop_assert!(family.index() < families);
            prop_assert_eq!(data.families[family.index()].group, product.group);
        }
    }
    for (i, group) in data.groups.iter().enumerate() {
        prop_assert_eq!(data.group(&group.group_id).map(|id| id.index()), Some(i));
    }
    for (i, family) in data.families.iter().enumerate() {
        prop_assert_eq!(data.family(&family.family_id).map(|id| id.index()), Some(i));
        prop_assert!(family.group.index() < groups);
    }
    for (i, agreement) in data.agreements.iter().enumerate() {
        prop_assert_eq!(data.agreement(&agreement.agreement_id).map(|id| id.index()), Some(i));
        prop_assert!(agreement.institution.index() < institutions && agreement.family.index() < families);
        prop_assert!(agreement.period_start <= agreement.period_end);
        prop_assert!(agreement.agreed_base_units >= Decimal::ZERO);
    }
    for (i, exemption) in data.exemptions.iter().enumerate() {
        prop_assert_eq!(data.exemption(&exemption.exemption_id).map(|id| id.index()), Some(i));
        prop_assert!(exemption.institution.index() < institutions && exemption.group.index() < groups);
        prop_assert!(exemption.valid_from <= exemption.valid_to);
    }
    for s in &data.substitutes {
        prop_assert!(s.group.index() < groups && s.product.index() < products);
        prop_assert!(data.products[s.product.index()].group != s.group);
        prop_assert!(data.is_substitute(s.product));
    }
    for e in &data.enterprises {
        prop_assert_eq!(data.enterprise(&e.name), Some(e));
    }
    // What a checkpoint keeps of the data: indexes families and groups.
    let keys = ReferenceKeys::of(data);
    prop_assert_eq!(keys.products.len(), products);
    Ok(())
}

/// What any refusal satisfies: every problem in a known file, at a line,
/// on one line of text.
fn check_refused(errors: &ReferenceErrors) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty());
    for problem in errors {
        prop_assert!(FILES.contains(&problem.file.as_str()), "{}", problem);
        prop_assert!(problem.line.is_none_or(|l| l >= 1), "{}", problem);
        let shown = problem.to_string();
        prop_assert!(!shown.contains(['\n', '\r']), "a problem on more than one line: {:?}", shown);
    }
    let shown = errors.to_string();
    prop_assert!(shown.lines().count() <= ReferenceErrors::DISPLAY_LIMIT + 1);
    Ok(())
}

fn execute(case: &Case) -> Result<(), TestCaseError> {
    let texts = texts_of(case);
    let files: Vec<(&str, &str)> =
        FILES.iter().zip(&texts).filter_map(|(name, text)| text.as_deref().map(|t| (*name, t))).collect();
    EXECUTIONS.fetch_add(1, Ordering::Relaxed);
    let result = ReferenceData::from_csv_texts(files);
    match &result {
        Ok(data) => {
            LOADED.fetch_add(1, Ordering::Relaxed);
            check_loaded(data)?;
        }
        Err(errors) => {
            REFUSED.fetch_add(1, Ordering::Relaxed);
            check_refused(errors)?;
        }
    }
    if case.edits.is_empty() && case.text_edits.is_empty() {
        // Neutral rewrites only: the base's data, exactly.
        match result {
            Ok(data) => prop_assert!(same(&data, &bases()[case.base].loaded), "a neutral rewrite changed the data: {:?}", texts),
            Err(errors) => return Err(TestCaseError::fail(format!("a neutral rewrite was refused:\n{errors}\n{texts:?}"))),
        }
    }
    Ok(())
}

#[test]
fn reference_loader_under_volume_fuzzing() {
    let config = Config {
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::default()
    };
    let cases = config.cases;
    let _ = bases();
    let mut runner = TestRunner::new(config);
    let started = Instant::now();
    let slowest_nanos = AtomicU64::new(0);
    let result = runner.run(&case(), |case| {
        let t = Instant::now();
        let outcome = execute(&case);
        slowest_nanos.fetch_max(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        outcome
    });
    let seconds = started.elapsed().as_secs_f64();
    let executions = EXECUTIONS.load(Ordering::Relaxed);
    println!(
        "fuzz-volume reference: executions={executions} cases={cases} seconds={seconds:.3} rate={:.0}/s slowest_ms={:.2} (loaded={} refused={})",
        executions as f64 / seconds.max(1e-9),
        Duration::from_nanos(slowest_nanos.load(Ordering::Relaxed)).as_secs_f64() * 1e3,
        LOADED.load(Ordering::Relaxed),
        REFUSED.load(Ordering::Relaxed),
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(executions >= u64::from(cases), "{executions} executions for {cases} cases");
}
