//! The reference CSV files of SPEC §3.

use std::path::Path;

use anyhow::{Context, Result};

use super::agreements::AgreementRow;
use super::behaviour::{fmt_e4, ExemptionRow};
use super::catalogue::Catalogue;
use super::clock::Calendar;
use super::geography::{CITIES, PROVINCE};
use super::institutions::Population;

/// Column headers, exactly as the contract lists them (SPEC §3).
fn headers(file: &str) -> Result<&'static [&'static str]> {
    vbp_schemas::reference_files::layout(file)
        .map(|l| l.columns)
        .with_context(|| format!("{file} is not a reference file of SPEC §3"))
}

/// Base units ×100 as a short decimal: 2800 → "28", 350 → "3.5".
pub fn fmt_centi(v: i64) -> String {
    if v % 100 == 0 {
        format!("{}", v / 100)
    } else if v % 10 == 0 {
        format!("{}.{}", v / 100, (v % 100) / 10)
    } else {
        format!("{}.{:02}", v / 100, v % 100)
    }
}

struct Csv {
    w: csv::Writer<std::fs::File>,
    path: String,
}

impl Csv {
    fn create(dir: &Path, file: &str) -> Result<Csv> {
        let path = dir.join(file);
        let w =
            csv::WriterBuilder::new().from_path(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut c = Csv { w, path: path.display().to_string() };
        c.row(headers(file)?)?;
        Ok(c)
    }

    fn row<S: AsRef<[u8]>>(&mut self, fields: &[S]) -> Result<()> {
        self.w.write_record(fields).with_context(|| format!("cannot write {}", self.path))
    }

    fn finish(mut self) -> Result<()> {
        self.w.flush().with_context(|| format!("cannot write {}", self.path))
    }
}

pub struct ReferenceInput<'a> {
    pub cat: &'a Catalogue,
    pub pop: &'a Population,
    pub cal: &'a Calendar,
    pub agreements: &'a [AgreementRow],
    pub exemptions: &'a [ExemptionRow],
}

pub fn write(dir: &Path, x: &ReferenceInput<'_>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let mut c = Csv::create(dir, "divisions.csv")?;
    c.row(&[PROVINCE.0, PROVINCE.1])?;
    for city in CITIES {
        c.row(&[city.code, city.name])?;
        for (code, name) in city.districts {
            c.row(&[*code, *name])?;
        }
    }
    c.finish()?;

    let mut c = Csv::create(dir, "institutions.csv")?;
    for i in &x.pop.institutions {
        let d = &x.pop.districts[i.district];
        c.row(&[i.code.as_str(), i.name.as_str(), d.code, i.level.as_str()])?;
    }
    c.finish()?;

    let mut c = Csv::create(dir, "products.csv")?;
    for p in &x.cat.products {
        let group = &x.cat.groups[p.group];
        let batch = if p.selected { x.cat.batches[group.batch].name } else { "" };
        let family = p.family.map(|f| x.cat.families[f].id.as_str()).unwrap_or("");
        let price = p.selected_price_e4.map(fmt_e4).unwrap_or_default();
        c.row(&[
            p.code.as_str(),
            p.generic_name.as_str(),
            p.dosage_form.as_str(),
            p.spec.as_str(),
            p.enterprise.as_str(),
            p.category.as_str(),
            batch,
            group.id.as_str(),
            family,
            if p.selected { "true" } else { "false" },
            if p.backup { "true" } else { "false" },
            fmt_centi(p.bupp_c).as_str(),
            price.as_str(),
        ])?;
    }
    c.finish()?;

    let mut c = Csv::create(dir, "agreements.csv")?;
    for a in x.agreements {
        c.row(&[
            a.id.clone(),
            x.pop.institutions[a.inst as usize].code.clone(),
            x.cat.families[a.family as usize].id.clone(),
            a.start.to_string(),
            a.end.to_string(),
            a.agreed_units.to_string(),
        ])?;
    }
    c.finish()?;

    let mut c = Csv::create(dir, "calendar.csv")?;
    for (d, kind) in x.cal.rows() {
        c.row(&[d.to_string().as_str(), kind.as_str()])?;
    }
    c.finish()?;

    let mut c = Csv::create(dir, "exemptions.csv")?;
    for e in x.exemptions {
        c.row(&[
            e.id.clone(),
            x.pop.institutions[e.inst as usize].code.clone(),
            x.cat.groups[e.group as usize].id.clone(),
            e.from.to_string(),
            e.to.to_string(),
            e.reason.to_string(),
        ])?;
    }
    c.finish()
}
