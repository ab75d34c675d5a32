//! `institutions.csv`: hospitals, clinics and pharmacies, each placed in a
//! listed division so its alerts reach the right bureau.

use super::divisions::{city_code_of, is_division_code, province_code_of};
use super::model::{Institution, InstitutionId, Level};
use super::registry::{next_id, Registry};
use super::table::{read_table, Problems, Row, Source, TableSpec};

pub(crate) const SPEC: TableSpec = TableSpec {
    layout: vbp_schemas::reference_files::INSTITUTIONS,
    required: true,
    comments: false,
};

/// `institutions.csv`, loaded.
pub(crate) struct Loaded {
    pub institutions: Vec<Institution>,
    pub codes: Registry<InstitutionId>,
}

/// Reads `institutions.csv`; division codes must be listed in `divisions`.
pub(crate) fn read(
    source: &Source<'_>,
    divisions: &Registry<()>,
    problems: &mut Problems,
) -> Loaded {
    let mut codes = Registry::new(SPEC.layout.file, "institution_code");
    let mut institutions = Vec::new();
    let readable = read_table(source, &SPEC, problems, |row| {
        let before = row.problem_count();
        let code = row.required("institution_code");
        let claimed = code.is_some_and(|code| codes.claim(row, code));
        let name = row.required("name");
        let division = division(row, divisions);
        let level = row.parsed::<Level>("level");
        let (Some(code), true, Some(name), Some(division), Some(level)) =
            (code, claimed, name, division, level)
        else {
            return;
        };
        if row.problem_count() != before {
            return;
        }
        let Some(id) = next_id(row, "institution_code", institutions.len()) else {
            return;
        };
        let (Some(city_code), Some(province_code)) =
            (city_code_of(division), province_code_of(division))
        else {
            return;
        };
        codes.confirm(code, InstitutionId(id));
        institutions.push(Institution {
            code: code.to_owned(),
            name: name.to_owned(),
            division_code: division.to_owned(),
            city_code,
            province_code,
            level,
        });
    });
    codes.set_readable(readable);
    Loaded {
        institutions,
        codes,
    }
}

/// The institution's division code: 6 digits and listed in `divisions.csv`.
fn division<'r>(row: &mut Row<'r, '_>, divisions: &Registry<()>) -> Option<&'r str> {
    let code = row.required("division_code")?;
    if !is_division_code(code) {
        row.problem(
            "division_code",
            format!("expected a 6-digit GB/T 2260 code such as 610305, got {code:?}"),
        );
        return None;
    }
    divisions.resolve(row, "division_code", code).map(|()| code)
}
