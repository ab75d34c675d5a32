//! `products.csv`: every product code, selected or not, with the generic
//! groups (同品种) and merged-assessment families it defines.
//!
//! Groups and families have no file of their own: they are the distinct
//! `group_id`s and `family_id`s of the products. What makes them meaningful
//! is checked here: a selected product has a batch, a family and a price; a
//! non-selected one has no family (or its orders would count toward an
//! agreement); a family is one enterprise's products of one group (seed 000
//! 三(四)), or progress would mix competitors.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::model::{Category, Family, FamilyId, Group, GroupId, Product, ProductId};
use super::registry::{next_id, Registry};
use super::table::{read_table, Problems, Row, Source, TableSpec};

pub(crate) const SPEC: TableSpec = TableSpec {
    layout: vbp_schemas::reference_files::PRODUCTS,
    required: true,
    comments: false,
};

/// `products.csv`, loaded, with the groups and families it defines.
pub(crate) struct Loaded {
    pub products: Vec<Product>,
    pub codes: Registry<ProductId>,
    pub groups: Vec<Group>,
    pub group_ids: Registry<GroupId>,
    pub families: Vec<Family>,
    pub family_ids: Registry<FamilyId>,
}

/// The first selected product seen for a family: the group and enterprise
/// every later product of the family must share.
struct FamilyOwner {
    group_id: String,
    enterprise: String,
    line: u64,
}

/// The fields of one row, before the cross-row checks.
struct Fields<'r> {
    code: &'r str,
    generic_name: &'r str,
    dosage_form: &'r str,
    spec: &'r str,
    enterprise: &'r str,
    category: Category,
    batch: Option<&'r str>,
    group_id: &'r str,
    family_id: Option<&'r str>,
    selected: bool,
    backup_supplier: bool,
    base_units_per_pack: Decimal,
    selected_price_per_base_unit: Option<Decimal>,
}

/// Reads `products.csv`.
pub(crate) fn read(source: &Source<'_>, problems: &mut Problems) -> Loaded {
    let mut builder = Builder {
        loaded: Loaded {
            products: Vec::new(),
            codes: Registry::new(SPEC.layout.file, "product_code"),
            groups: Vec::new(),
            group_ids: Registry::new(SPEC.layout.file, "group_id"),
            families: Vec::new(),
            family_ids: Registry::new(SPEC.layout.file, "family_id"),
        },
        family_owners: HashMap::new(),
    };
    let readable = read_table(source, &SPEC, problems, |row| builder.row(row));
    let mut loaded = builder.loaded;
    loaded.codes.set_readable(readable);
    loaded.group_ids.set_readable(readable);
    loaded.family_ids.set_readable(readable);
    loaded
}

struct Builder {
    loaded: Loaded,
    family_owners: HashMap<String, FamilyOwner>,
}

impl Builder {
    /// Parses, checks and (when valid) adds one row.
    fn row(&mut self, row: &mut Row<'_, '_>) {
        let before = row.problem_count();
        let fields = self.fields(row);
        if let Some(fields) = fields {
            if row.problem_count() == before {
                self.add(row, &fields);
            }
        }
    }

    /// Every field of the row, each checked on its own and against the
    /// `selected` flag and the family's other products.
    fn fields<'r>(&mut self, row: &mut Row<'r, '_>) -> Option<Fields<'r>> {
        let code = row.required("product_code");
        let claimed = code.is_some_and(|code| self.loaded.codes.claim(row, code));
        let generic_name = row.required("generic_name");
        let enterprise = row.required("enterprise");
        let category = row.parsed::<Category>("category");
        let group_id = row.required("group_id");
        let family_id = row.optional("family_id");
        let selected = row.boolean("selected");
        let backup_supplier = row.boolean("backup_supplier");
        let base_units_per_pack = positive(row, "base_units_per_pack", true).and_then(|v| at_most(row, "base_units_per_pack", v, MAX_BASE_UNITS_PER_PACK));
        let price = positive(row, "selected_price_per_base_unit", false)
            .and_then(|v| at_most(row, "selected_price_per_base_unit", v, MAX_PRICE_PER_BASE_UNIT));
        let batch = row.optional("batch");
        if let Some(group_id) = group_id {
            self.loaded.group_ids.note(group_id, row.line());
        }
        if let Some(family_id) = family_id {
            self.loaded.family_ids.note(family_id, row.line());
        }
        let selected = selected?;
        check_selection(row, selected, batch, family_id);
        if let (true, Some(family_id), Some(group_id), Some(enterprise)) =
            (selected, family_id, group_id, enterprise)
        {
            self.check_family(row, family_id, group_id, enterprise);
        }
        if !claimed {
            return None;
        }
        Some(Fields {
            code: code?,
            generic_name: generic_name?,
            dosage_form: row.text("dosage_form"),
            spec: row.text("spec"),
            enterprise: enterprise?,
            category: category?,
            batch,
            group_id: group_id?,
            family_id,
            selected,
            backup_supplier: backup_supplier?,
            base_units_per_pack: base_units_per_pack?,
            selected_price_per_base_unit: price,
        })
    }

    /// A family's products share the group and enterprise of its first one.
    fn check_family(
        &mut self,
        row: &mut Row<'_, '_>,
        family_id: &str,
        group_id: &str,
        enterprise: &str,
    ) {
        let Some(owner) = self.family_owners.get(family_id) else {
            let owner = FamilyOwner {
                group_id: group_id.to_owned(),
                enterprise: enterprise.to_owned(),
                line: row.line(),
            };
            self.family_owners.insert(family_id.to_owned(), owner);
            return;
        };
        if owner.group_id != group_id {
            let message = format!(
                "family {family_id:?} spans several groups: {:?} (line {}) and {group_id:?}; a family is one group's products",
                owner.group_id, owner.line
            );
            row.problem("group_id", message);
        }
        if owner.enterprise != enterprise {
            let message = format!(
                "family {family_id:?} spans several enterprises: {:?} (line {}) and {enterprise:?}; a family is one enterprise's products",
                owner.enterprise, owner.line
            );
            row.problem("enterprise", message);
        }
    }

    /// Adds a valid row, creating its group and family on first use.
    fn add(&mut self, row: &mut Row<'_, '_>, f: &Fields<'_>) {
        let Some(group) = self.group(row, f.group_id) else {
            return;
        };
        let family = match f.family_id {
            Some(family_id) => match self.family(row, family_id, group) {
                Some(family) => Some(family),
                None => return,
            },
            None => None,
        };
        let Some(id) = next_id(row, "product_code", self.loaded.products.len()) else {
            return;
        };
        if let (true, Some(price), Some(g)) = (
            f.selected,
            f.selected_price_per_base_unit,
            self.loaded.groups.get_mut(group.index()),
        ) {
            let lowest = g.lowest_selected_price_per_base_unit.get_or_insert(price);
            *lowest = (*lowest).min(price);
        }
        self.loaded.codes.confirm(f.code, ProductId(id));
        self.loaded.products.push(Product {
            code: f.code.to_owned(),
            generic_name: f.generic_name.to_owned(),
            dosage_form: f.dosage_form.to_owned(),
            spec: f.spec.to_owned(),
            enterprise: f.enterprise.to_owned(),
            category: f.category,
            batch: f.batch.map(str::to_owned),
            group,
            family,
            selected: f.selected,
            backup_supplier: f.backup_supplier,
            base_units_per_pack: f.base_units_per_pack,
            selected_price_per_base_unit: f.selected_price_per_base_unit,
        });
    }

    /// The id of group `group_id`, created on first use.
    fn group(&mut self, row: &mut Row<'_, '_>, group_id: &str) -> Option<GroupId> {
        if let Some(id) = self.loaded.group_ids.valid(group_id) {
            return Some(id);
        }
        let id = GroupId(next_id(row, "group_id", self.loaded.groups.len())?);
        self.loaded.group_ids.confirm(group_id, id);
        self.loaded.groups.push(Group {
            group_id: group_id.to_owned(),
            lowest_selected_price_per_base_unit: None,
        });
        Some(id)
    }

    /// The id of family `family_id` (of `group`), created on first use.
    fn family(
        &mut self,
        row: &mut Row<'_, '_>,
        family_id: &str,
        group: GroupId,
    ) -> Option<FamilyId> {
        if let Some(id) = self.loaded.family_ids.valid(family_id) {
            return Some(id);
        }
        let id = FamilyId(next_id(row, "family_id", self.loaded.families.len())?);
        self.loaded.family_ids.confirm(family_id, id);
        self.loaded.families.push(Family {
            family_id: family_id.to_owned(),
            group,
        });
        Some(id)
    }
}

/// What `selected` implies: a selected product has a batch, a family and a
/// selected price; a non-selected one has neither family nor selected price.
fn check_selection(
    row: &mut Row<'_, '_>,
    selected: bool,
    batch: Option<&str>,
    family_id: Option<&str>,
) {
    let has_price = row.optional("selected_price_per_base_unit").is_some();
    if selected {
        if batch.is_none() {
            row.problem(
                "batch",
                "a selected product needs its batch, the procurement project it was selected in"
                    .to_owned(),
            );
        }
        if family_id.is_none() {
            row.problem(
                "family_id",
                "a selected product needs a family_id, the unit its agreements are assessed on"
                    .to_owned(),
            );
        }
        if !has_price {
            row.problem(
                "selected_price_per_base_unit",
                "a selected product needs its selected price per base unit".to_owned(),
            );
        }
    } else {
        if family_id.is_some() {
            row.problem(
                "family_id",
                "a non-selected product belongs to no family: leave family_id empty, or set selected to true".to_owned(),
            );
        }
        if has_price {
            row.problem(
                "selected_price_per_base_unit",
                "only selected products have a selected price: leave it empty, or set selected to true".to_owned(),
            );
        }
    }
}

/// The most base units a pack may hold: with at most
/// [`MAX_PACKS`](crate::state::MAX_PACKS) packs an order, an order's base
/// units stay far inside an exact decimal's range.
pub const MAX_BASE_UNITS_PER_PACK: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// The dearest selected price per base unit, in yuan.
pub const MAX_PRICE_PER_BASE_UNIT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// `value` when it is at most `max`; else a problem at its column.
pub(crate) fn at_most(row: &mut Row<'_, '_>, column: &str, value: Decimal, max: Decimal) -> Option<Decimal> {
    if value > max {
        row.problem(column, format!("must be at most {max}, got {value}"));
        return None;
    }
    Some(value)
}

/// A decimal > 0 in `column`; required or, when not, `None` if empty.
fn positive(row: &mut Row<'_, '_>, column: &str, required: bool) -> Option<Decimal> {
    let value = if required {
        row.decimal(column)
    } else {
        row.optional_decimal(column)
    }?;
    if value <= Decimal::ZERO {
        row.problem(column, format!("must be greater than 0, got {value}"));
        return None;
    }
    Some(value)
}
