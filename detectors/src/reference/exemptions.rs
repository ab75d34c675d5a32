//! `exemptions.csv`: supply problems verified by a bureau. During an
//! exemption an institution's non-selected purchases in the group are
//! excused (seed 002 二(四), SPEC §6.2). Optional: absent means none.

use super::agreements::period;
use super::model::{Exemption, ExemptionId, GroupId, InstitutionId};
use super::registry::{next_id, Registry};
use super::table::{read_table, Problems, Source, TableSpec};

pub(crate) const SPEC: TableSpec = TableSpec {
    layout: vbp_schemas::reference_files::EXEMPTIONS,
    required: false,
    comments: false,
};

/// `exemptions.csv`, loaded.
pub(crate) struct Loaded {
    pub exemptions: Vec<Exemption>,
    pub ids: Registry<ExemptionId>,
}

/// Reads `exemptions.csv`; institutions and groups must be defined.
pub(crate) fn read(
    source: &Source<'_>,
    institutions: &Registry<InstitutionId>,
    groups: &Registry<GroupId>,
    problems: &mut Problems,
) -> Loaded {
    let mut ids = Registry::new(SPEC.layout.file, "exemption_id");
    let mut exemptions = Vec::new();
    read_table(source, &SPEC, problems, |row| {
        let before = row.problem_count();
        let id = row.required("exemption_id");
        let claimed = id.is_some_and(|id| ids.claim(row, id));
        let institution = row
            .required("institution_code")
            .and_then(|code| institutions.resolve(row, "institution_code", code));
        let group = row
            .required("group_id")
            .and_then(|group| groups.resolve(row, "group_id", group));
        let validity = period(row, "valid_from", "valid_to");
        let reason = row.required("reason");
        let (Some(id), true, Some(institution), Some(group), Some((from, to)), Some(reason)) =
            (id, claimed, institution, group, validity, reason)
        else {
            return;
        };
        if row.problem_count() != before {
            return;
        }
        let Some(dense) = next_id(row, "exemption_id", exemptions.len()) else {
            return;
        };
        ids.confirm(id, ExemptionId(dense));
        exemptions.push(Exemption {
            exemption_id: id.to_owned(),
            institution,
            group,
            valid_from: from,
            valid_to: to,
            reason: reason.to_owned(),
        });
    });
    Loaded { exemptions, ids }
}
