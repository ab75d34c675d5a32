//! `agreements.csv`: each institution's agreed volume (约定采购量) for one
//! family over one period, the basis of 序时进度 (SPEC §6.1).

use rust_decimal::Decimal;

use super::model::{Agreement, AgreementId, FamilyId, InstitutionId};
use super::registry::{next_id, Registry};
use super::table::{read_table, Problems, Row, Source, TableSpec};

pub(crate) const SPEC: TableSpec = TableSpec {
    layout: vbp_schemas::reference_files::AGREEMENTS,
    required: true,
    comments: false,
};

/// `agreements.csv`, loaded.
pub(crate) struct Loaded {
    pub agreements: Vec<Agreement>,
    pub ids: Registry<AgreementId>,
}

/// Reads `agreements.csv`; institutions and families must be defined.
pub(crate) fn read(
    source: &Source<'_>,
    institutions: &Registry<InstitutionId>,
    families: &Registry<FamilyId>,
    problems: &mut Problems,
) -> Loaded {
    let mut ids = Registry::new(SPEC.layout.file, "agreement_id");
    let mut agreements = Vec::new();
    read_table(source, &SPEC, problems, |row| {
        let before = row.problem_count();
        let id = row.required("agreement_id");
        let claimed = id.is_some_and(|id| ids.claim(row, id));
        let institution = row
            .required("institution_code")
            .and_then(|code| institutions.resolve(row, "institution_code", code));
        let family = row
            .required("family_id")
            .and_then(|family| families.resolve(row, "family_id", family));
        let period = period(row, "period_start", "period_end");
        let agreed = agreed_base_units(row);
        let (Some(id), true, Some(institution), Some(family), Some((start, end)), Some(agreed)) =
            (id, claimed, institution, family, period, agreed)
        else {
            return;
        };
        if row.problem_count() != before {
            return;
        }
        let Some(dense) = next_id(row, "agreement_id", agreements.len()) else {
            return;
        };
        ids.confirm(id, AgreementId(dense));
        agreements.push(Agreement {
            agreement_id: id.to_owned(),
            institution,
            family,
            period_start: start,
            period_end: end,
            agreed_base_units: agreed,
        });
    });
    Loaded { agreements, ids }
}

/// The agreed volume: a decimal ≥ 0. Zero is accepted (an agreement signed
/// without volume cannot fall behind); a negative volume is a typing error.
fn agreed_base_units(row: &mut Row<'_, '_>) -> Option<Decimal> {
    let value = row.decimal("agreed_base_units")?;
    if value < Decimal::ZERO {
        row.problem(
            "agreed_base_units",
            format!("must not be negative, got {value}"),
        );
        return None;
    }
    super::products::at_most(row, "agreed_base_units", value, MAX_AGREED_BASE_UNITS)
}

/// The largest agreed volume: a billion packs of a million base units,
/// the most orders can add up to in any plausible period (and within what
/// the SQL tables' decimal columns show exactly).
pub const MAX_AGREED_BASE_UNITS: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// Two dates forming an inclusive period; the end must not precede the start.
/// Shared with `exemptions.csv`.
pub(crate) fn period(
    row: &mut Row<'_, '_>,
    start_column: &str,
    end_column: &str,
) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    let start = row.date(start_column);
    let end = row.date(end_column);
    let (start, end) = (start?, end?);
    if end < start {
        row.problem(
            end_column,
            format!("{end} is before {start_column} {start}; both ends are inclusive, so a one-day period has equal dates"),
        );
        return None;
    }
    Some((start, end))
}
