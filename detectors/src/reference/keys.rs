//! What the dense ids of one version of the reference data stand for, and
//! how the ids of one version map onto another's (a reload).
//!
//! The state keys its tables by dense ids ([`InstitutionId`], [`ProductId`],
//! [`AgreementId`] …), positions in one [`ReferenceData`]'s vectors. A
//! province changes its files every month: a row added anywhere but at the
//! end shifts every id after it. [`ReferenceKeys`] keeps, for each id, the
//! codes it was issued for; a checkpoint carries them, so a state written
//! with last month's files can be carried onto this month's ([`Remap`]),
//! on restart as on a live reload.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AgreementId, GroupId, InstitutionId, ProductId, ReferenceData};

/// The codes behind every dense id of one version of the reference data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceKeys {
    /// By [`InstitutionId`]: `institution_code`.
    pub institutions: Vec<String>,
    /// By [`ProductId`].
    pub products: Vec<ProductKey>,
    /// By [`GroupId`]: `group_id`.
    pub groups: Vec<String>,
    /// By [`AgreementId`].
    pub agreements: Vec<AgreementKey>,
}

/// A product as the purchase sums counted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductKey {
    pub code: String,
    pub group_id: String,
    pub family_id: Option<String>,
    pub selected: bool,
    pub base_units_per_pack: Decimal,
}

/// An agreement as its purchase sum counted it: which institution's orders
/// of which family, placed in which period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementKey {
    pub agreement_id: String,
    /// Position in [`ReferenceKeys::institutions`].
    pub institution: u32,
    pub family_id: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
}

impl ReferenceKeys {
    /// The keys of `reference`'s ids.
    pub fn of(reference: &ReferenceData) -> Self {
        let family_id = |f: super::FamilyId| reference.families[f.index()].family_id.clone();
        ReferenceKeys {
            institutions: reference.institutions.iter().map(|i| i.code.clone()).collect(),
            products: reference
                .products
                .iter()
                .map(|p| ProductKey {
                    code: p.code.clone(),
                    group_id: reference.groups[p.group.index()].group_id.clone(),
                    family_id: p.family.map(family_id),
                    selected: p.selected,
                    base_units_per_pack: p.base_units_per_pack,
                })
                .collect(),
            groups: reference.groups.iter().map(|g| g.group_id.clone()).collect(),
            agreements: reference
                .agreements
                .iter()
                .map(|a| AgreementKey {
                    agreement_id: a.agreement_id.clone(),
                    institution: a.institution.0,
                    family_id: family_id(a.family),
                    period_start: a.period_start,
                    period_end: a.period_end,
                })
                .collect(),
        }
    }

    /// The institution code of an old id (`?` for an id it never issued).
    pub fn institution_code(&self, id: InstitutionId) -> &str {
        self.institutions.get(id.index()).map_or("?", String::as_str)
    }

    /// The product code of an old id (`?` for an id it never issued).
    pub fn product_code(&self, id: ProductId) -> &str {
        self.products.get(id.index()).map_or("?", |p| p.code.as_str())
    }
}

/// Old ids → new ids, by code; `None` where the new data no longer has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remap {
    pub institutions: Vec<Option<InstitutionId>>,
    pub products: Vec<Option<ProductId>>,
    pub groups: Vec<Option<GroupId>>,
    /// An old agreement → the new one with the same id, institution,
    /// family and period, whose purchase sum therefore carries over as it
    /// is (its agreed volume may have changed: the sum does not depend on it).
    pub agreements: Vec<Option<AgreementId>>,
    /// Products whose group, family, selection or base units per pack
    /// changed: what they added to the sums before stays as it was counted.
    pub changed_products: Vec<String>,
}

impl Remap {
    /// How the ids of `old` map onto `new`'s.
    pub fn between(old: &ReferenceKeys, new: &ReferenceData) -> Self {
        let institutions: Vec<Option<InstitutionId>> = old.institutions.iter().map(|code| new.institution(code)).collect();
        let products: Vec<Option<ProductId>> = old.products.iter().map(|p| new.product(&p.code)).collect();
        let now = ReferenceKeys::of(new);
        let changed_products = old
            .products
            .iter()
            .zip(&products)
            .filter_map(|(was, id)| id.filter(|id| now.products[id.index()] != *was).map(|_| was.code.clone()))
            .collect();
        let agreements = old
            .agreements
            .iter()
            .map(|was| {
                let id = new.agreement(&was.agreement_id)?;
                let is = &now.agreements[id.index()];
                let same_institution = old.institutions.get(was.institution as usize) == now.institutions.get(is.institution as usize);
                let same = same_institution
                    && is.family_id == was.family_id
                    && is.period_start == was.period_start
                    && is.period_end == was.period_end;
                same.then_some(id)
            })
            .collect();
        Remap {
            institutions,
            products,
            groups: old.groups.iter().map(|g| new.group(g)).collect(),
            agreements,
            changed_products,
        }
    }

    pub fn institution(&self, old: InstitutionId) -> Option<InstitutionId> {
        self.institutions.get(old.index()).copied().flatten()
    }

    pub fn product(&self, old: ProductId) -> Option<ProductId> {
        self.products.get(old.index()).copied().flatten()
    }

    pub fn group(&self, old: GroupId) -> Option<GroupId> {
        self.groups.get(old.index()).copied().flatten()
    }

    pub fn agreement(&self, old: AgreementId) -> Option<AgreementId> {
        self.agreements.get(old.index()).copied().flatten()
    }

    /// Both ids of a record still exist.
    pub fn both(&self, institution: InstitutionId, product: ProductId) -> Option<(InstitutionId, ProductId)> {
        Some((self.institution(institution)?, self.product(product)?))
    }
}
