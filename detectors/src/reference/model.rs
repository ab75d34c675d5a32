//! The loaded reference records (SPEC §3) and their dense ids.
//!
//! Codes are strings at the edges (CSV, events, alerts), but the engine keeps
//! state for millions of order lines keyed by institution, product, family:
//! dense `u32` ids make those keys 4 bytes and let tables index vectors
//! instead of hashing strings.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// The value is the position in the matching vector of
        /// [`ReferenceData`](super::ReferenceData), so it is only meaningful
        /// for the reference data that issued it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub struct $name(pub u32);

        impl $name {
            /// The position in the matching vector of `ReferenceData`.
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

dense_id!(
    /// Index into `ReferenceData::institutions`.
    InstitutionId
);
dense_id!(
    /// Index into `ReferenceData::products`.
    ProductId
);
dense_id!(
    /// Index into `ReferenceData::groups` (同品种).
    GroupId
);
dense_id!(
    /// Index into `ReferenceData::families` (merged-assessment unit).
    FamilyId
);
dense_id!(
    /// Index into `ReferenceData::agreements`.
    AgreementId
);
dense_id!(
    /// Index into `ReferenceData::exemptions`.
    ExemptionId
);

/// The text is not one of an enumeration's spellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariant {
    /// The rejected text.
    pub found: String,
    /// The accepted spellings, for the message.
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected one of {}, got {:?}",
            self.expected.join(", "),
            self.found
        )
    }
}

impl std::error::Error for UnknownVariant {}

/// Kind of institution (`institutions.csv` `level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// 三级医院.
    Tertiary,
    /// 二级医院.
    Secondary,
    /// 基层医疗机构 (township and community health centres, village clinics).
    Primary,
    /// 民营医疗机构 taking part voluntarily.
    Private,
    /// 定点零售药店.
    Pharmacy,
}

impl Level {
    /// Every spelling accepted in `institutions.csv`.
    pub const SPELLINGS: &'static [&'static str] =
        &["tertiary", "secondary", "primary", "private", "pharmacy"];

    /// The spelling used in CSV files and labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tertiary => "tertiary",
            Self::Secondary => "secondary",
            Self::Primary => "primary",
            Self::Private => "private",
            Self::Pharmacy => "pharmacy",
        }
    }
}

impl FromStr for Level {
    type Err = UnknownVariant;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "tertiary" => Ok(Self::Tertiary),
            "secondary" => Ok(Self::Secondary),
            "primary" => Ok(Self::Primary),
            "private" => Ok(Self::Private),
            "pharmacy" => Ok(Self::Pharmacy),
            _ => Err(UnknownVariant {
                found: text.to_owned(),
                expected: Self::SPELLINGS,
            }),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Drug or medical consumable (`products.csv` `category`); delivery deadlines
/// may differ by category (SPEC §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// 药品.
    Drug,
    /// 医用耗材.
    Consumable,
}

impl Category {
    /// Every spelling accepted in `products.csv`.
    pub const SPELLINGS: &'static [&'static str] = &["drug", "consumable"];

    /// The spelling used in CSV files and labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Drug => "drug",
            Self::Consumable => "consumable",
        }
    }
}

impl FromStr for Category {
    type Err = UnknownVariant;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "drug" => Ok(Self::Drug),
            "consumable" => Ok(Self::Consumable),
            _ => Err(UnknownVariant {
                found: text.to_owned(),
                expected: Self::SPELLINGS,
            }),
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A medical institution or pharmacy (`institutions.csv`), with the city and
/// province its alerts are routed to (SPEC §2, §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Institution {
    /// 定点机构编码, opaque.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The district/county (or city) code, as listed in `divisions.csv`.
    pub division_code: String,
    /// First 4 digits of `division_code` + `00`.
    pub city_code: String,
    /// First 2 digits of `division_code` + `0000`.
    pub province_code: String,
    /// Kind of institution.
    pub level: Level,
}

impl Institution {
    /// Whether the institution lies in the division `code`: its district,
    /// its city or its province (what a bureau of that division sees).
    pub fn is_in(&self, code: &str) -> bool {
        self.division_code == code || self.city_code == code || self.province_code == code
    }
}

/// A product code (`products.csv`), selected or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// 医保药品代码 or 医用耗材代码, opaque.
    pub code: String,
    /// 通用名.
    pub generic_name: String,
    /// 剂型; may be empty for consumables.
    pub dosage_form: String,
    /// 规格; may be empty.
    pub spec: String,
    /// The manufacturer or marketing-authorisation holder.
    pub enterprise: String,
    /// Drug or consumable.
    pub category: Category,
    /// The procurement project the product was selected in; always `Some`
    /// for selected products.
    pub batch: Option<String>,
    /// The generic group (同品种) it competes in.
    pub group: GroupId,
    /// The merged-assessment family; `Some` exactly for selected products.
    pub family: Option<FamilyId>,
    /// 中选产品.
    pub selected: bool,
    /// A backup supplier's product (备供), left out of the non-selected share.
    pub backup_supplier: bool,
    /// Base units per ordered pack, > 0.
    pub base_units_per_pack: Decimal,
    /// The selected price per base unit; `Some` exactly for selected products.
    pub selected_price_per_base_unit: Option<Decimal>,
}

impl Product {
    /// The selected price per pack (SPEC 6.8): the price per base unit ×
    /// base units per pack, rounded half-up to the fen (0.0125 × 10 →
    /// 0.13). `None` for a non-selected product, or one whose product does
    /// not fit a decimal.
    pub fn selected_price_per_pack(&self) -> Option<Decimal> {
        let exact = self.selected_price_per_base_unit?.checked_mul(self.base_units_per_pack)?;
        Some(exact.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
    }
}

/// A generic group (同品种), derived from the `group_id`s of `products.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The `group_id` text.
    pub group_id: String,
    /// The lowest `selected_price_per_base_unit` among the group's selected
    /// products: non-selected orders priced at or below it do not count
    /// against the institution (seed 002 二(四), SPEC §6.2). `None` when the
    /// group has no selected product.
    pub lowest_selected_price_per_base_unit: Option<Decimal>,
}

/// A merged-assessment family (seed 000 三(四)), derived from the
/// `family_id`s of selected products: one enterprise, one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The `family_id` text.
    pub family_id: String,
    /// The group all its products belong to.
    pub group: GroupId,
}

/// An institution's purchase agreement (购销协议) for one family
/// (`agreements.csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// Opaque id.
    pub agreement_id: String,
    /// The buying institution.
    pub institution: InstitutionId,
    /// The family whose products count toward it.
    pub family: FamilyId,
    /// First day of the period, inclusive.
    pub period_start: NaiveDate,
    /// Last day of the period, inclusive; ≥ `period_start`.
    pub period_end: NaiveDate,
    /// 约定采购量 in base units, ≥ 0 (may be 0: such an agreement has no
    /// schedule to fall behind).
    pub agreed_base_units: Decimal,
}

impl Agreement {
    /// Whether `d` is within the period, both ends included (SPEC §3).
    pub fn covers(&self, d: NaiveDate) -> bool {
        self.period_start <= d && d <= self.period_end
    }
}

/// A supply problem verified by a bureau (`exemptions.csv`): orders of the
/// institution for non-selected products of the group, placed on a covered
/// date, do not count against it (SPEC §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    /// Opaque id.
    pub exemption_id: String,
    /// The exempted institution.
    pub institution: InstitutionId,
    /// The group whose non-selected purchases are excused.
    pub group: GroupId,
    /// First covered date, inclusive.
    pub valid_from: NaiveDate,
    /// Last covered date, inclusive; ≥ `valid_from`.
    pub valid_to: NaiveDate,
    /// Why, as recorded by the bureau.
    pub reason: String,
}

impl Exemption {
    /// Whether `d` is within the exemption, both ends included.
    pub fn covers(&self, d: NaiveDate) -> bool {
        self.valid_from <= d && d <= self.valid_to
    }
}

/// A product that can replace a group's products (`substitutes.csv`): another
/// generic name for the same use (可替代药品/耗材, SPEC §6.6), outside the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Substitute {
    /// The group it can replace.
    pub group: GroupId,
    /// The substituting product; never a product of `group`.
    pub product: ProductId,
}

/// An enterprise's contact for supply problems (`enterprises.csv`,
/// 中选企业联系人, seeds 000 三(二), 001 三(二)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enterprise {
    /// As written in `products.csv`.
    pub name: String,
    /// The person to call.
    pub contact: String,
    pub phone: String,
}
