//! Reference data (SPEC §3): divisions, institutions, products, agreements,
//! the calendar and exemptions, loaded whole or not at all.
//!
//! The pipeline loads a reference directory at start and on reload. Rules
//! compare events against it, so a half-loaded directory would raise false
//! alerts (an agreement whose family is missing is "not entered"); hence
//! [`ReferenceData::load`] returns either everything, checked across files,
//! or every problem found, each with its file, line and column.
//!
//! Codes become dense `u32` ids ([`InstitutionId`], [`ProductId`], …) that
//! index the vectors of [`ReferenceData`]; the lookups turn codes from events
//! into ids.

mod agreements;
mod calendar_file;
mod divisions;
mod enterprises;
mod error;
mod exemptions;
mod institutions;
mod keys;
mod model;
mod products;
mod registry;
mod substitutes;
mod table;

use std::collections::HashMap;
use std::path::Path;

use crate::calendar::Calendar;
use crate::FastMap;

pub use divisions::{city_code_of, is_division_code, province_code_of, Divisions};
pub use error::{ReferenceErrors, ReferenceProblem};
pub use keys::{AgreementKey, ProductKey, ReferenceKeys, Remap};
pub use model::{
    Agreement, AgreementId, Category, Enterprise, Exemption, ExemptionId, Family, FamilyId, Group,
    GroupId, Institution, InstitutionId, Level, Product, ProductId, Substitute, UnknownVariant,
};

use table::{Problems, Source};

/// The eight file names, in loading and reporting order (SPEC §3; the
/// layouts are the contract's, `vbp_schemas::reference_files`).
pub const FILES: [&str; 8] = {
    let l = vbp_schemas::reference_files::LAYOUTS;
    [l[0].file, l[1].file, l[2].file, l[3].file, l[4].file, l[5].file, l[6].file, l[7].file]
};

/// A loaded, consistent reference directory.
///
/// Every id in it indexes the matching vector: `data.institutions[id.index()]`
/// is the institution of an `InstitutionId` that this value issued.
#[derive(Debug, Clone)]
pub struct ReferenceData {
    /// Division names and hierarchy.
    pub divisions: Divisions,
    /// Indexed by [`InstitutionId`].
    pub institutions: Vec<Institution>,
    /// Indexed by [`ProductId`].
    pub products: Vec<Product>,
    /// Indexed by [`GroupId`], in order of first appearance in `products.csv`.
    pub groups: Vec<Group>,
    /// Indexed by [`FamilyId`], in order of first appearance in `products.csv`.
    pub families: Vec<Family>,
    /// Indexed by [`AgreementId`].
    pub agreements: Vec<Agreement>,
    /// Indexed by [`ExemptionId`].
    pub exemptions: Vec<Exemption>,
    /// Every (group, substituting product) pair, sorted.
    pub substitutes: Vec<Substitute>,
    /// One row per enterprise with a contact, in file order.
    pub enterprises: Vec<Enterprise>,
    /// The shipped State Council calendar with `calendar.csv` applied.
    pub calendar: Calendar,
    index: Index,
}

/// Code → dense id, for every kind of record.
#[derive(Debug, Clone, Default)]
struct Index {
    institutions: FastMap<String, InstitutionId>,
    products: FastMap<String, ProductId>,
    groups: FastMap<String, GroupId>,
    families: FastMap<String, FamilyId>,
    agreements: FastMap<String, AgreementId>,
    exemptions: FastMap<String, ExemptionId>,
    /// Enterprise name → position in `enterprises`.
    enterprises: FastMap<String, usize>,
    /// By [`ProductId`]: whether the product substitutes for some group.
    substitutes: Vec<bool>,
}

impl ReferenceData {
    /// Loads the CSV files of SPEC §3 from `dir`. `calendar.csv`,
    /// `exemptions.csv`, `substitutes.csv` and `enterprises.csv` may be
    /// absent (no overrides, exemptions, substitutes or contacts).
    ///
    /// # Errors
    /// Every problem found in any file — a missing file or column, a
    /// malformed row, a bad value, a duplicate or unknown code, an
    /// inconsistency between files — with file, line and column.
    pub fn load(dir: &Path) -> Result<Self, ReferenceErrors> {
        Self::load_from(&Source::Dir(dir))
    }

    /// Loads from file name → CSV text pairs instead of a directory, with the
    /// same checks as [`ReferenceData::load`]; a file not given is absent.
    /// For tests and embedded demo data.
    ///
    /// # Errors
    /// As [`ReferenceData::load`].
    pub fn from_csv_texts<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ReferenceErrors> {
        let texts: HashMap<&str, &str> = files.into_iter().collect();
        Self::load_from(&Source::Texts(&texts))
    }

    /// Reads every file, each checked against those before it, and returns
    /// the data only when no file had a problem.
    fn load_from(source: &Source<'_>) -> Result<Self, ReferenceErrors> {
        let mut problems = Problems::default();
        let divisions = divisions::read(source, &mut problems);
        let institutions = institutions::read(source, &divisions.codes, &mut problems);
        let products = products::read(source, &mut problems);
        let agreements = agreements::read(
            source,
            &institutions.codes,
            &products.family_ids,
            &mut problems,
        );
        let calendar = calendar_file::read(source, &mut problems);
        let exemptions = exemptions::read(
            source,
            &institutions.codes,
            &products.group_ids,
            &mut problems,
        );
        let substitutes = substitutes::read(
            source,
            &products.products,
            &products.codes,
            &products.group_ids,
            &mut problems,
        );
        let enterprises = enterprises::read(source, &products.products, &mut problems);
        let substitute_products = substitute_products(&substitutes, products.products.len());
        if !problems.is_empty() {
            return Err(ReferenceErrors {
                problems: problems.into_sorted(&FILES),
            });
        }
        Ok(Self {
            divisions: divisions.divisions,
            institutions: institutions.institutions,
            products: products.products,
            groups: products.groups,
            families: products.families,
            agreements: agreements.agreements,
            exemptions: exemptions.exemptions,
            calendar,
            index: Index {
                enterprises: enterprises.iter().enumerate().map(|(i, e)| (e.name.clone(), i)).collect(),
                substitutes: substitute_products,
                institutions: institutions.codes.into_index(),
                products: products.codes.into_index(),
                groups: products.group_ids.into_index(),
                families: products.family_ids.into_index(),
                agreements: agreements.ids.into_index(),
                exemptions: exemptions.ids.into_index(),
            },
            substitutes,
            enterprises,
        })
    }

    /// The contact of the enterprise named `name` in `products.csv`, if
    /// `enterprises.csv` lists one.
    pub fn enterprise(&self, name: &str) -> Option<&Enterprise> {
        self.index.enterprises.get(name).and_then(|&i| self.enterprises.get(i))
    }

    /// Whether `product` substitutes for some group (`substitutes.csv`).
    pub fn is_substitute(&self, product: ProductId) -> bool {
        self.index.substitutes.get(product.index()).copied().unwrap_or(false)
    }

    /// The id of the institution with this `institution_code`.
    pub fn institution(&self, code: &str) -> Option<InstitutionId> {
        self.index.institutions.get(code).copied()
    }

    /// The id of the product with this `product_code`.
    pub fn product(&self, code: &str) -> Option<ProductId> {
        self.index.products.get(code).copied()
    }

    /// The id of the group with this `group_id`.
    pub fn group(&self, group_id: &str) -> Option<GroupId> {
        self.index.groups.get(group_id).copied()
    }

    /// The id of the family with this `family_id`.
    pub fn family(&self, family_id: &str) -> Option<FamilyId> {
        self.index.families.get(family_id).copied()
    }

    /// The id of the agreement with this `agreement_id`.
    pub fn agreement(&self, agreement_id: &str) -> Option<AgreementId> {
        self.index.agreements.get(agreement_id).copied()
    }

    /// The id of the exemption with this `exemption_id`.
    pub fn exemption(&self, exemption_id: &str) -> Option<ExemptionId> {
        self.index.exemptions.get(exemption_id).copied()
    }
}

/// By product position: whether the product substitutes for some group.
fn substitute_products(substitutes: &[Substitute], products: usize) -> Vec<bool> {
    let mut marked = vec![false; products];
    for s in substitutes {
        if let Some(m) = marked.get_mut(s.product.index()) {
            *m = true;
        }
    }
    marked
}
