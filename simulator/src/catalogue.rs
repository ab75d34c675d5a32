//! The product catalogue: procurement batches, generic groups (同品种),
//! selected families (one selected enterprise's specs and packs, merged for
//! assessment), and non-selected products.
//!
//! Money is kept in integers: prices per base unit in 1/10000 yuan (`_e4`),
//! pack prices in fen, base units per pack in hundredths (`_c`). Every
//! comparison the detectors make can then be reproduced exactly.

use std::collections::HashSet;

use anyhow::{ensure, Result};
use chrono::NaiveDate;

use super::clock::ymd;
use super::names;
use super::rng::Rng;
use super::stems::{self, DeviceStem, DrugStem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Drug,
    Consumable,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Drug => "drug",
            Category::Consumable => "consumable",
        }
    }
}

/// A procurement project and the agreement period it set.
#[derive(Debug, Clone)]
pub struct Batch {
    pub name: &'static str,
    pub category: Category,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// The period that ended before this one, for renewed (接续) batches:
    /// hospitals have an ended agreement for it too.
    pub prior: Option<(NaiveDate, NaiveDate)>,
}

/// The batches. Two started two months before the window, so that "not
/// entered two months after the start" can already hold on the first day
/// of the simulated window (the feed then starts with their history), and
/// one runs two years. The renewed (接续) batches' previous period ended on
/// 2025-09-30; the new one started with the year.
pub fn batches() -> Vec<Batch> {
    vec![
        Batch {
            name: "国采接续LC-YPJX-2026-1",
            category: Category::Drug,
            period_start: ymd(2026, 1, 1),
            period_end: ymd(2026, 12, 31),
            prior: Some((ymd(2024, 10, 1), ymd(2025, 9, 30))),
        },
        Batch {
            name: "第十批国采",
            category: Category::Drug,
            period_start: ymd(2025, 11, 1),
            period_end: ymd(2026, 10, 31),
            prior: None,
        },
        Batch {
            name: "陕西省药品联盟集采",
            category: Category::Drug,
            period_start: ymd(2026, 1, 1),
            period_end: ymd(2026, 12, 31),
            prior: None,
        },
        Batch {
            name: "国家组织冠脉支架集采接续",
            category: Category::Consumable,
            period_start: ymd(2026, 1, 1),
            period_end: ymd(2026, 12, 31),
            prior: Some((ymd(2024, 10, 1), ymd(2025, 9, 30))),
        },
        Batch {
            name: "国家组织人工晶体类集采",
            category: Category::Consumable,
            period_start: ymd(2026, 1, 1),
            period_end: ymd(2027, 12, 31),
            prior: None,
        },
        Batch {
            name: "陕西省骨科创伤类耗材联盟集采",
            category: Category::Consumable,
            period_start: ymd(2025, 11, 1),
            period_end: ymd(2026, 10, 31),
            prior: None,
        },
        Batch {
            name: "陕西省医用耗材联盟集采",
            category: Category::Consumable,
            period_start: ymd(2026, 1, 1),
            period_end: ymd(2026, 12, 31),
            prior: None,
        },
    ]
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub category: Category,
    pub generic_name: String,
    pub batch: usize,
    pub families: Vec<usize>,
    /// Ordinary non-selected products: dearer, not backup.
    pub regular_nonselected: Vec<usize>,
    pub backup: Vec<usize>,
    /// Non-selected products that are offered at or below the lowest
    /// selected price per base unit.
    pub cheap: Vec<usize>,
    pub lowest_price_e4: i64,
    pub popularity: u32,
    /// Township health centres, village clinics and pharmacies use it.
    pub primary: bool,
    /// Injections and most consumables are hospital-only.
    pub hospital_only: bool,
}

#[derive(Debug, Clone)]
pub struct Family {
    pub id: String,
    pub group: usize,
    pub enterprise: String,
    pub products: Vec<usize>,
    pub price_e4: i64,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub code: String,
    pub generic_name: String,
    pub dosage_form: String,
    pub spec: String,
    pub enterprise: String,
    pub category: Category,
    pub group: usize,
    pub family: Option<usize>,
    pub selected: bool,
    pub backup: bool,
    /// Base units per pack ×100.
    pub bupp_c: i64,
    pub selected_price_e4: Option<i64>,
    /// The usual price per pack, in fen.
    pub pack_price_fen: i64,
}

pub struct Catalogue {
    pub batches: Vec<Batch>,
    pub groups: Vec<Group>,
    pub families: Vec<Family>,
    pub products: Vec<Product>,
}

/// Rounds `num / den` half up (both positive).
fn div_round(num: i64, den: i64) -> i64 {
    (num + den / 2) / den
}

fn div_ceil(num: i64, den: i64) -> i64 {
    (num + den - 1) / den
}

/// Formats a value ×1000 as a short decimal: 500 → "0.5", 47500 → "47.5".
fn fmt_e3(v: i64) -> String {
    let (int, frac) = (v / 1000, v % 1000);
    if frac == 0 {
        format!("{int}")
    } else {
        let s = format!("{frac:03}");
        format!("{int}.{}", s.trim_end_matches('0'))
    }
}

/// One spec of a drug: strength multiplier (‰ of the reference strength)
/// and pack size.
#[derive(Clone, Copy)]
struct DrugSpec {
    strength_pm: i64,
    pack: i64,
}

/// What the builder needs to know about a group, from a stem either way.
struct GroupPlan<'a> {
    generic_name: String,
    dosage_form: String,
    atc: &'a str,
    category: Category,
    strength_e3: i64,
    unit: &'a str,
    count_word: &'a str,
    price_e4: i64,
    batch: usize,
    primary: bool,
    popularity: u32,
    families: usize,
    nonselected: usize,
    backup: bool,
    cheap: bool,
    injection: bool,
    device: Option<DeviceSpecs<'a>>,
}

/// Spec texts and pieces per pack of a consumable group.
#[derive(Clone, Copy)]
struct DeviceSpecs<'a> {
    specs: &'a [&'a str],
    pack: i64,
}

struct Builder {
    cat: Catalogue,
    codes: HashSet<String>,
    next_enterprise: usize,
}

impl Builder {
    fn add_product(&mut self, p: Product) -> Result<usize> {
        let want = if p.category == Category::Drug { ('X', 23) } else { ('C', 27) };
        ensure!(
            p.code.starts_with(want.0) && p.code.len() == want.1,
            "internal: product code {} does not have the national shape",
            p.code
        );
        ensure!(self.codes.insert(p.code.clone()), "internal: duplicate product code {}", p.code);
        self.cat.products.push(p);
        Ok(self.cat.products.len() - 1)
    }

    fn drug_code(&self, atc: &str, gi: usize, form_code: usize, spec: usize, pack: i64, ent: usize) -> String {
        // X + ATC(5) + A + 通用名(3) + 剂型(A+3) + 规格(2) + 包装(2) + 企业(5) = 23
        let pack_code = match pack {
            1 => 1,
            7 => 7,
            10 => 10,
            12 => 12,
            14 => 14,
            20 => 20,
            24 => 24,
            28 => 28,
            30 => 30,
            36 => 36,
            48 => 48,
            50 => 50,
            60 => 60,
            _ => 99,
        };
        format!("X{atc}A{:03}A{:03}{:02}{:02}{:05}", gi % 1000, form_code % 1000, spec % 100, pack_code, ent % 100_000)
    }

    fn device_code(&self, gi: usize, variant: usize, spec: usize, ent: usize) -> String {
        // C + 类(2) + 子类(2) + 品目(2) + 通用名(3) + 材质特征(5) + 规格(6) + 企业(6) = 27
        format!(
            "C{:02}{:02}{:02}{:03}{:05}{:06}{:06}",
            3 + gi % 7,
            1 + gi % 13,
            1 + variant % 9,
            gi % 1000,
            10_000 + variant,
            spec,
            ent
        )
    }

    fn build_group(&mut self, rng: &mut Rng, plan: GroupPlan<'_>) -> Result<()> {
        let gi = self.cat.groups.len();
        ensure!(
            self.cat.batches[plan.batch].category == plan.category,
            "internal: {} assigned to a batch of the other category",
            plan.generic_name
        );
        let prefix = if plan.category == Category::Drug { "YP" } else { "HC" };
        let group_id = format!("{prefix}{:04}", gi + 1);
        let mut group = Group {
            id: group_id.clone(),
            category: plan.category,
            generic_name: plan.generic_name.clone(),
            batch: plan.batch,
            families: Vec::new(),
            regular_nonselected: Vec::new(),
            backup: Vec::new(),
            cheap: Vec::new(),
            lowest_price_e4: plan.price_e4,
            popularity: plan.popularity,
            primary: plan.primary,
            hospital_only: plan.injection || (plan.device.is_some() && !plan.primary),
        };
        let form_code = 1 + (plan.dosage_form.len() * 7 + gi) % 900;
        // Selected families: the first enterprise at the base price (the
        // lowest in the group), a second one dearer by 5–30 %.
        for f in 0..plan.families {
            let ent = self.next_enterprise;
            self.next_enterprise += 1;
            let enterprise = names::enterprise(ent, plan.category == Category::Consumable);
            let price_e4 = if f == 0 { plan.price_e4 } else { plan.price_e4 * rng.range(105, 130) / 100 / 10 * 10 };
            let fi = self.cat.families.len();
            let family_id = format!("{group_id}-F{:02}", f + 1);
            let mut family =
                Family { id: family_id, group: gi, enterprise: enterprise.clone(), products: Vec::new(), price_e4 };
            let n_specs = 1 + rng.below(3) as usize;
            let specs = self.specs(rng, &plan, n_specs);
            for (si, (spec, bupp_c)) in specs.into_iter().enumerate() {
                let code = match plan.device {
                    None => self.drug_code(plan.atc, gi, form_code, si + 1, bupp_c / 100, ent),
                    Some(_) => self.device_code(gi, si, 100 + si, ent),
                };
                let pack_price_fen = div_round(price_e4 * bupp_c, 10_000).max(1);
                let pi = self.add_product(Product {
                    code,
                    generic_name: plan.generic_name.clone(),
                    dosage_form: plan.dosage_form.clone(),
                    spec,
                    enterprise: enterprise.clone(),
                    category: plan.category,
                    group: gi,
                    family: Some(fi),
                    selected: true,
                    backup: false,
                    bupp_c,
                    selected_price_e4: Some(price_e4),
                    pack_price_fen,
                })?;
                family.products.push(pi);
            }
            group.families.push(fi);
            self.cat.families.push(family);
        }
        group.lowest_price_e4 =
            group.families.iter().map(|&f| self.cat.families[f].price_e4).min().unwrap_or(plan.price_e4);
        let lowest = group.lowest_price_e4;
        // Non-selected products: originators and generics that lost the
        // tender, dearer per base unit (1.4–6×).
        let mut kinds: Vec<u8> = vec![0; plan.nonselected];
        if plan.backup {
            kinds.push(1);
        }
        if plan.cheap {
            kinds.push(2);
        }
        for (k, kind) in kinds.into_iter().enumerate() {
            let ent = self.next_enterprise;
            self.next_enterprise += 1;
            let consumable = plan.category == Category::Consumable;
            let enterprise = if kind == 0 && k == 0 {
                names::foreign_enterprise(rng, consumable)
            } else {
                names::enterprise(ent, consumable)
            };
            let (spec, bupp_c) = if kind == 2 && plan.device.is_none() {
                // Packs of 50 so that the lowest selected price per base unit
                // times the pack is a whole number of fen: the "equal to the
                // lowest price" order price is then exact.
                let strength = fmt_e3(plan.strength_e3);
                (format!("{strength}{}×50{}", plan.unit, plan.count_word), 5_000)
            } else {
                self.specs(rng, &plan, 1).remove(0)
            };
            let pack_price_fen = match kind {
                0 => div_ceil(lowest * bupp_c * rng.range(1400, 6000), 10_000_000),
                1 => div_ceil(lowest * bupp_c * rng.range(1200, 1600), 10_000_000),
                _ => (lowest * bupp_c * rng.range(700, 900) / 10_000_000).max(1),
            };
            let code = match plan.device {
                None => self.drug_code(plan.atc, gi, form_code, 50 + k, bupp_c / 100, ent),
                Some(_) => self.device_code(gi, 5 + k, 200 + k, ent),
            };
            let pi = self.add_product(Product {
                code,
                generic_name: plan.generic_name.clone(),
                dosage_form: plan.dosage_form.clone(),
                spec,
                enterprise,
                category: plan.category,
                group: gi,
                family: None,
                selected: false,
                backup: kind == 1,
                bupp_c,
                selected_price_e4: None,
                pack_price_fen,
            })?;
            // Keep every regular non-selected product well above the lowest
            // selected price and every cheap one at or below it, so no
            // detector decision hangs on a rounding.
            let per_unit_vs_lowest = |fen: i64| fen * 10_000 * 100; // ×1e6 yuan·centi-units
            match kind {
                0 | 1 => {
                    ensure!(per_unit_vs_lowest(pack_price_fen) >= lowest * bupp_c * 120, "internal: price margin");
                    if kind == 0 {
                        group.regular_nonselected.push(pi)
                    } else {
                        group.backup.push(pi)
                    }
                }
                _ => {
                    ensure!(pack_price_fen * 10_000 <= lowest * bupp_c, "internal: cheap price");
                    group.cheap.push(pi);
                }
            }
        }
        self.cat.groups.push(group);
        Ok(())
    }

    /// `n` distinct specs (text, base units per pack ×100).
    fn specs(&self, rng: &mut Rng, plan: &GroupPlan<'_>, n: usize) -> Vec<(String, i64)> {
        if let Some(dev) = plan.device {
            let start = rng.below(dev.specs.len() as u64) as usize;
            return (0..n.min(dev.specs.len()))
                .map(|i| {
                    let s = dev.specs[(start + i) % dev.specs.len()];
                    let text = if dev.pack > 1 { format!("{s} {}支/盒", dev.pack) } else { s.to_string() };
                    (text, dev.pack * 100)
                })
                .collect();
        }
        let candidates: &[DrugSpec] = if plan.injection {
            &[
                DrugSpec { strength_pm: 1000, pack: 1 },
                DrugSpec { strength_pm: 1000, pack: 10 },
                DrugSpec { strength_pm: 2000, pack: 1 },
                DrugSpec { strength_pm: 500, pack: 10 },
            ]
        } else {
            &[
                DrugSpec { strength_pm: 1000, pack: 28 },
                DrugSpec { strength_pm: 1000, pack: 14 },
                DrugSpec { strength_pm: 2000, pack: 14 },
                DrugSpec { strength_pm: 1000, pack: 30 },
                DrugSpec { strength_pm: 500, pack: 48 },
                DrugSpec { strength_pm: 1000, pack: 7 },
                DrugSpec { strength_pm: 2000, pack: 28 },
                DrugSpec { strength_pm: 1000, pack: 60 },
            ]
        };
        let start = rng.below(candidates.len() as u64) as usize;
        (0..n)
            .map(|i| {
                let s = candidates[(start + i) % candidates.len()];
                let strength = fmt_e3(plan.strength_e3 * s.strength_pm / 1000);
                let bupp_c = s.strength_pm * s.pack / 10;
                let text = if plan.injection {
                    let container = if plan.dosage_form.contains("注射用") { "瓶" } else { "支" };
                    format!("{strength}{}×{}{container}", plan.unit, s.pack)
                } else {
                    format!("{strength}{}×{}{}", plan.unit, s.pack, plan.count_word)
                };
                (text, bupp_c)
            })
            .collect()
    }
}

fn drug_name(stem: &str, form: &str) -> (String, String) {
    if form == "注射用" {
        (format!("注射用{stem}"), "注射剂".to_string())
    } else if form.contains("注射液") {
        (format!("{stem}{form}"), "注射剂".to_string())
    } else {
        (format!("{stem}{form}"), form.to_string())
    }
}

fn curated_drug(s: &DrugStem) -> GroupPlan<'_> {
    let (generic_name, dosage_form) = drug_name(s.stem, s.form);
    GroupPlan {
        generic_name,
        dosage_form,
        atc: s.atc,
        category: Category::Drug,
        strength_e3: s.strength_e3,
        unit: s.unit,
        count_word: s.count_word,
        price_e4: s.price_e4,
        batch: s.batch,
        primary: s.primary,
        popularity: s.popularity,
        families: s.families,
        nonselected: s.nonselected,
        backup: s.backup,
        cheap: s.cheap,
        injection: s.form.contains('注'),
        device: None,
    }
}

fn curated_device(s: &DeviceStem) -> GroupPlan<'_> {
    GroupPlan {
        generic_name: s.name.to_string(),
        dosage_form: s.kind.to_string(),
        atc: "",
        category: Category::Consumable,
        strength_e3: 1000,
        unit: "",
        count_word: "个",
        price_e4: s.price_e4,
        batch: s.batch,
        primary: s.primary,
        popularity: s.popularity,
        families: s.families,
        nonselected: s.nonselected,
        backup: s.backup,
        cheap: false,
        injection: false,
        device: Some(DeviceSpecs { specs: s.specs, pack: s.pack }),
    }
}

/// Spec texts for generated consumable groups.
const GENERATED_DEVICE_SPECS: &[&str] = &["标准型", "加长型", "小号"];

/// Builds the catalogue: the hand-set groups, then (for province scale)
/// generated groups up to `target_groups`.
pub fn build(seed: u64, target_groups: usize) -> Result<Catalogue> {
    let mut rng = Rng::for_stream(seed, 1, 0);
    let mut b = Builder {
        cat: Catalogue { batches: batches(), groups: Vec::new(), families: Vec::new(), products: Vec::new() },
        codes: HashSet::new(),
        next_enterprise: 1 + rng.below(500) as usize,
    };
    for s in stems::DRUGS {
        b.build_group(&mut rng, curated_drug(s))?;
    }
    for s in stems::DEVICES {
        b.build_group(&mut rng, curated_device(s))?;
    }
    // Province scale: 90 % drugs, 10 % consumables, names from the longer
    // lists, cycling through other dosage forms once the names run out.
    let extra = target_groups.saturating_sub(b.cat.groups.len());
    let device_target = extra / 10;
    let drug_target = extra - device_target;
    let mut used: HashSet<String> = b.cat.groups.iter().map(|g| g.generic_name.clone()).collect();
    let mut made = 0;
    'outer: for round in 0..20 {
        for &(stem, form, atc) in stems::MORE_DRUGS {
            if made >= drug_target {
                break 'outer;
            }
            let injection = form.contains('注');
            let forms = if injection { stems::INJECTION_FORMS } else { stems::ORAL_FORMS };
            let form = if round == 0 { form } else { forms[(round + stem.len()) % forms.len()] };
            let (generic_name, dosage_form) = drug_name(stem, form);
            if !used.insert(generic_name.clone()) {
                continue;
            }
            let price_e4 = if injection { rng.range(200, 4000) * 10 } else { rng.range(5, 300) * 10 };
            let (strength_e3, unit) =
                if injection { (rng.range(1, 4) * 250, "g") } else { (rng.range(1, 20) * 5_000, "mg") };
            let batch_roll = rng.below(10);
            let plan = GroupPlan {
                generic_name,
                dosage_form,
                atc,
                category: Category::Drug,
                strength_e3,
                unit,
                count_word: if form.contains("胶囊") {
                    "粒"
                } else if form.contains("颗粒") {
                    "袋"
                } else {
                    "片"
                },
                price_e4,
                batch: if batch_roll < 7 {
                    0
                } else if batch_roll < 8 {
                    1
                } else {
                    2
                },
                primary: !injection && rng.chance(0.25),
                popularity: 1 + rng.below(5) as u32,
                families: 1 + usize::from(rng.chance(0.4)),
                nonselected: 1 + rng.below(3) as usize,
                backup: rng.chance(0.15),
                cheap: rng.chance(0.1),
                injection,
                device: None,
            };
            b.build_group(&mut rng, plan)?;
            made += 1;
        }
    }
    let variants = ["", "（Ⅱ型）", "（可降解）", "（钛合金）"];
    let mut made_dev = 0;
    'dev: for v in variants {
        for &(name, kind) in stems::MORE_DEVICES {
            if made_dev >= device_target {
                break 'dev;
            }
            let generic_name = format!("{name}{v}");
            if !used.insert(generic_name.clone()) {
                continue;
            }
            let plan = GroupPlan {
                generic_name,
                dosage_form: kind.to_string(),
                atc: "",
                category: Category::Consumable,
                strength_e3: 1000,
                unit: "",
                count_word: "个",
                price_e4: rng.range(50, 20_000) * 10_000,
                batch: 3 + rng.below(4) as usize,
                primary: false,
                popularity: 1,
                families: 1 + usize::from(rng.chance(0.3)),
                nonselected: 1 + rng.below(2) as usize,
                backup: rng.chance(0.1),
                cheap: false,
                injection: false,
                device: Some(DeviceSpecs { specs: GENERATED_DEVICE_SPECS, pack: 1 }),
            };
            b.build_group(&mut rng, plan)?;
            made_dev += 1;
        }
    }
    Ok(b.cat)
}
