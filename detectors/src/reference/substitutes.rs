//! `substitutes.csv`: products outside a group that can replace its products
//! (可替代药品/耗材, seeds 002 二(九), 003 三(五); SPEC §3, §6.6). Optional:
//! absent means no group has substitutes.

use std::collections::HashMap;

use super::model::{GroupId, Product, ProductId, Substitute};
use super::registry::Registry;
use super::table::{read_table, Problems, Source, TableSpec};

pub(crate) const SPEC: TableSpec = TableSpec {
    layout: vbp_schemas::reference_files::SUBSTITUTES,
    required: false,
    comments: false,
};

/// Reads `substitutes.csv`; groups and products must be defined, a product
/// may not substitute for its own group, and a pair is listed once.
pub(crate) fn read(
    source: &Source<'_>,
    products: &[Product],
    product_codes: &Registry<ProductId>,
    groups: &Registry<GroupId>,
    problems: &mut Problems,
) -> Vec<Substitute> {
    let mut seen: HashMap<Substitute, u64> = HashMap::new();
    let mut substitutes = Vec::new();
    read_table(source, &SPEC, problems, |row| {
        let group = row.required("group_id").and_then(|g| groups.resolve(row, "group_id", g));
        let product = row
            .required("product_code")
            .and_then(|code| product_codes.resolve(row, "product_code", code));
        let (Some(group), Some(product)) = (group, product) else {
            return;
        };
        let Some(own) = products.get(product.index()).map(|p| p.group) else {
            return;
        };
        if own == group {
            let message = format!(
                "product {:?} is in group {:?} itself: a substitute must be outside the group it replaces",
                row.text("product_code"),
                row.text("group_id")
            );
            row.problem("product_code", message);
            return;
        }
        let pair = Substitute { group, product };
        if let Some(first) = seen.get(&pair) {
            row.problem("product_code", format!("duplicate row: this pair is already listed on line {first}"));
            return;
        }
        seen.insert(pair, row.line());
        substitutes.push(pair);
    });
    substitutes.sort_unstable();
    substitutes
}
