//! Hospitals, health centres, clinics and pharmacies, where they are, who
//! delivers to them, and what they buy (their basket of groups).

use super::catalogue::{Catalogue, Category};
use super::geography::{self, District, CITIES, TOWN_STEMS, VILLAGE_STEMS, VILLAGE_SUFFIX};
use super::names;
use super::rng::Rng;
use super::scale::ScaleConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Tertiary,
    Secondary,
    Primary,
    Private,
    Pharmacy,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Tertiary => "tertiary",
            Level::Secondary => "secondary",
            Level::Primary => "primary",
            Level::Private => "private",
            Level::Pharmacy => "pharmacy",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One group an institution buys, and how.
#[derive(Debug, Clone)]
pub struct BasketItem {
    pub group: u32,
    /// Cumulative order weight (for `Rng::weighted`).
    pub cum_weight: u32,
    /// The selected family it mostly buys (index into the group's families).
    pub family_slot: u8,
    /// Per mille of orders that go to the group's other selected family.
    pub other_family_pm: u16,
}

#[derive(Debug, Clone)]
pub struct Institution {
    pub code: String,
    pub name: String,
    pub district: usize,
    pub city: usize,
    pub level: Level,
    pub distributor: u16,
    /// Order lines per working day.
    pub lines_per_day: f64,
    pub basket: Vec<BasketItem>,
}

impl Institution {
    pub fn basket_slot(&self, group: u32) -> Option<usize> {
        self.basket.iter().position(|b| b.group == group)
    }
}

pub struct Population {
    pub districts: Vec<District>,
    pub institutions: Vec<Institution>,
    pub distributors: Vec<String>,
    /// Distributor indices per city (the first few of `distributors`).
    pub city_distributors: Vec<Vec<u16>>,
}

/// Splits `total` over `weights` by largest remainder (deterministic).
fn allocate(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    if sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut out: Vec<usize> = exact.iter().map(|x| *x as usize).collect();
    let mut rest = total - out.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (exact[a] - out[a] as f64, exact[b] - out[b] as f64);
        fb.partial_cmp(&fa).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b))
    });
    for &i in order.iter().cycle() {
        if rest == 0 {
            break;
        }
        out[i] += 1;
        rest -= 1;
    }
    out
}

/// Relative weight of the ten cities for tertiary hospitals (西安 has a
/// third of them).
const CITY_TERTIARY_WEIGHT: [f64; 10] = [30.0, 4.0, 10.0, 10.0, 9.0, 7.0, 8.0, 9.0, 7.0, 6.0];

const TERTIARY_NAMES: &[&str] = &[
    "中心医院",
    "中医医院",
    "妇幼保健院",
    "人民医院",
    "第一医院",
    "第二医院",
    "第三医院",
    "儿童医院",
    "胸科医院",
    "肿瘤医院",
    "红十字会医院",
    "中西医结合医院",
    "第四医院",
    "第五医院",
    "急救中心医院",
    "传染病医院",
];
const SECONDARY_NAMES: &[&str] = &["人民医院", "中医医院", "妇幼保健院", "第二人民医院", "中西医结合医院", "骨伤医院"];

struct Namer {
    seq: Vec<u32>,
    used_towns: Vec<usize>,
}

impl Namer {
    fn code(&mut self, district: &District, di: usize, rng: &mut Rng) -> String {
        // Codes are not dense: registrations come and go.
        self.seq[di] += 1 + rng.below(3) as u32;
        format!("H{}{:05}", district.code, self.seq[di])
    }

    fn town(&mut self, di: usize) -> &'static str {
        let n = self.used_towns[di];
        self.used_towns[di] += 1;
        TOWN_STEMS[(n * 7 + di * 3) % TOWN_STEMS.len()]
    }
}

pub fn build(seed: u64, scale: &ScaleConfig, cat: &Catalogue) -> Population {
    let mut rng = Rng::for_stream(seed, 2, 0);
    let districts = geography::districts();
    let mut namer = Namer { seq: vec![0; districts.len()], used_towns: vec![0; districts.len()] };

    let mut distributors = Vec::new();
    let mut city_distributors = Vec::new();
    for c in CITIES {
        let mut mine = Vec::new();
        for n in 0..3 {
            mine.push(distributors.len() as u16);
            distributors.push(names::distributor(c.name, n));
        }
        city_distributors.push(mine);
    }
    let provincial: Vec<u16> = (0..4)
        .map(|n| {
            distributors.push(names::provincial_distributor(n));
            (distributors.len() - 1) as u16
        })
        .collect();

    let mut institutions = Vec::new();
    for lc in &scale.levels {
        let weights: Vec<f64> = districts
            .iter()
            .map(|d| match lc.level {
                Level::Tertiary => {
                    if d.is_urban() {
                        let urban_in_city = districts.iter().filter(|x| x.city == d.city && x.is_urban()).count();
                        CITY_TERTIARY_WEIGHT[d.city] / urban_in_city as f64
                    } else {
                        0.0
                    }
                }
                Level::Secondary => 1.0,
                Level::Primary => {
                    if d.is_urban() {
                        1.0
                    } else {
                        1.5
                    }
                }
                Level::Private | Level::Pharmacy => {
                    if d.is_urban() {
                        3.0
                    } else {
                        1.0
                    }
                }
            })
            .collect();
        let per_district = allocate(lc.count, &weights);
        let mut tertiary_in_city = [0usize; 10];
        for (di, &n) in per_district.iter().enumerate() {
            let d = districts[di];
            let city = &CITIES[d.city];
            for k in 0..n {
                let name = match lc.level {
                    Level::Tertiary => {
                        let i = tertiary_in_city[d.city];
                        tertiary_in_city[d.city] += 1;
                        if i < TERTIARY_NAMES.len() {
                            format!("{}{}", city.name, TERTIARY_NAMES[i])
                        } else {
                            format!(
                                "{}{}{}区域医疗中心{}院区",
                                city.name,
                                d.name,
                                namer.town(di),
                                1 + i / TERTIARY_NAMES.len()
                            )
                        }
                    }
                    Level::Secondary => {
                        if let Some(kind) = SECONDARY_NAMES.get(k) {
                            format!("{}{}{}", city.name, d.name, kind)
                        } else {
                            format!("{}{}{}中心医院", city.name, d.name, namer.town(di))
                        }
                    }
                    Level::Primary => {
                        let town = namer.town(di);
                        let round = namer.used_towns[di] / TOWN_STEMS.len();
                        let town = if round > 0 { format!("{town}{}", round + 1) } else { town.to_string() };
                        match k % 4 {
                            0 if d.is_urban() => format!("{}{}{}街道社区卫生服务中心", city.name, d.name, town),
                            0 | 1 => format!("{}{}{}镇卫生院", city.name, d.name, town),
                            _ => {
                                let v = format!(
                                    "{}{}",
                                    VILLAGE_STEMS[rng.below(VILLAGE_STEMS.len() as u64) as usize],
                                    VILLAGE_SUFFIX[rng.below(VILLAGE_SUFFIX.len() as u64) as usize]
                                );
                                format!("{}{}镇{}村卫生室", d.name, town, v)
                            }
                        }
                    }
                    Level::Private => {
                        format!("{}{}{}", city.name.trim_end_matches('市'), d.name, rng.pick(names::PRIVATE_HOSPITAL))
                    }
                    Level::Pharmacy => {
                        format!("{}大药房（{}{}店）", rng.pick(names::PHARMACY_BRANDS), d.name, k + 1)
                    }
                };
                let code = namer.code(&d, di, &mut rng);
                let distributor = if matches!(lc.level, Level::Tertiary | Level::Secondary) && rng.chance(0.3) {
                    *rng.pick(&provincial)
                } else {
                    *rng.pick(&city_distributors[d.city])
                };
                let basket = build_basket(&mut rng, cat, lc.level, lc.basket);
                let lines_per_day = lc.lines_per_day * (0.7 + 0.6 * rng.unit());
                institutions.push(Institution {
                    code,
                    name,
                    district: di,
                    city: d.city,
                    level: lc.level,
                    distributor,
                    lines_per_day,
                    basket,
                });
            }
        }
    }
    Population { districts, institutions, distributors, city_distributors }
}

/// Which groups a level buys at all.
fn eligible(cat: &Catalogue, level: Level, g: usize) -> bool {
    let group = &cat.groups[g];
    match level {
        Level::Tertiary => true,
        // Coronary stents and balloons are for PCI centres (tertiary).
        Level::Secondary => !(group.category == Category::Consumable && cat.batches[group.batch].name.contains("冠脉")),
        Level::Primary => group.primary,
        Level::Private => !group.hospital_only || group.primary,
        Level::Pharmacy => group.primary && group.category == Category::Drug,
    }
}

fn build_basket(rng: &mut Rng, cat: &Catalogue, level: Level, size: usize) -> Vec<BasketItem> {
    let mut candidates: Vec<usize> = (0..cat.groups.len()).filter(|&g| eligible(cat, level, g)).collect();
    let mut chosen = Vec::new();
    if candidates.len() <= size {
        chosen = candidates;
    } else {
        // Weighted sampling without replacement: popular groups first.
        let mut keys: Vec<(u64, usize)> = candidates
            .drain(..)
            .map(|g| {
                let w = cat.groups[g].popularity as u64;
                (rng.below(1_000_000) / w, g)
            })
            .collect();
        keys.sort();
        chosen.extend(keys.into_iter().take(size).map(|(_, g)| g));
        chosen.sort();
    }
    let mut cum = 0u32;
    chosen
        .into_iter()
        .map(|g| {
            let group = &cat.groups[g];
            cum += group.popularity * (1 + rng.below(3) as u32);
            let nfam = group.families.len() as u64;
            BasketItem {
                group: g as u32,
                cum_weight: cum,
                family_slot: rng.below(nfam) as u8,
                other_family_pm: if nfam > 1 && rng.chance(0.25) { 300 } else { 0 },
            }
        })
        .collect()
}
