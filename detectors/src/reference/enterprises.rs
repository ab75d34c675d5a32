//! `enterprises.csv`: whom to call at an enterprise about a supply problem
//! (中选企业联系人; SPEC §3). Optional: absent means no contacts. Every
//! enterprise listed must be one that `products.csv` names, so a typo
//! cannot leave a supply break without its contact unnoticed.

use std::collections::{HashMap, HashSet};

use super::model::{Enterprise, Product};
use super::table::{read_table, Problems, Source, TableSpec};

pub(crate) const SPEC: TableSpec = TableSpec {
    layout: vbp_schemas::reference_files::ENTERPRISES,
    required: false,
    comments: false,
};

/// Reads `enterprises.csv`: one row per enterprise named in `products.csv`.
pub(crate) fn read(source: &Source<'_>, products: &[Product], problems: &mut Problems) -> Vec<Enterprise> {
    let named: HashSet<&str> = products.iter().map(|p| p.enterprise.as_str()).collect();
    let mut lines: HashMap<String, u64> = HashMap::new();
    let mut enterprises = Vec::new();
    read_table(source, &SPEC, problems, |row| {
        let before = row.problem_count();
        let name = row.required("enterprise");
        let contact = row.required("contact");
        let phone = row.required("phone");
        let (Some(name), Some(contact), Some(phone)) = (name, contact, phone) else {
            return;
        };
        if let Some(first) = lines.get(name) {
            row.problem("enterprise", format!("duplicate enterprise {name:?}: already listed on line {first}"));
        } else if !products.is_empty() && !named.contains(name) {
            row.problem("enterprise", format!("enterprise {name:?} is named by no product in products.csv"));
        }
        if row.problem_count() != before {
            return;
        }
        lines.insert(name.to_owned(), row.line());
        enterprises.push(Enterprise { name: name.to_owned(), contact: contact.to_owned(), phone: phone.to_owned() });
    });
    enterprises
}
