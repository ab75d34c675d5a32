//! Name pools for invented enterprises, distributors, hospitals and
//! pharmacies.
//!
//! Enterprise names are composed from neutral parts so that no real
//! company is shown as failing to supply or being out-bought; the shapes
//! (省份 + 字号 + 制药有限公司) are what a reader of the national tables
//! expects.

use super::rng::Rng;

const REGIONS: &[&str] = &[
    "浙江", "江苏", "山东", "四川", "河北", "广东", "湖北", "陕西", "北京", "上海", "吉林", "安徽", "江西", "湖南",
    "河南", "重庆", "天津", "福建", "辽宁", "云南",
];
const BRANDS: &[&str] = &[
    "瑞康",
    "恒泽",
    "华晟",
    "博源",
    "康臻",
    "永衡",
    "泰和",
    "睿信",
    "德茂",
    "天沐",
    "安立",
    "嘉禾",
    "弘远",
    "景福",
    "鼎元",
    "明德",
    "益生",
    "信诺",
    "润泽",
    "齐昌",
    "海纳",
    "九和",
    "仁信",
    "同济安",
    "百川",
    "三秦康",
    "金城",
    "万邦信",
    "宏康",
    "宜生",
    "长松",
    "卓越康",
    "普华",
    "新元",
    "济民堂",
    "福寿康",
    "华岐",
    "汉唐",
    "天衡",
    "正源",
];
const DRUG_SUFFIX: &[&str] =
    &["制药有限公司", "药业股份有限公司", "药业集团有限公司", "医药科技有限公司", "制药股份有限公司"];
const DEVICE_SUFFIX: &[&str] =
    &["医疗器械有限公司", "医疗科技股份有限公司", "生物医学工程有限公司", "医用材料有限公司"];
const FOREIGN: &[&str] =
    &["诺维康", "安斯泰瑞", "百特美", "赛诺康", "雅培瑞", "默克森", "礼来康", "阿斯特朗", "拜尔康", "罗氏安"];

/// Enterprise name `n` of a category (deterministic, distinct for distinct `n` up to pool size).
pub fn enterprise(n: usize, consumable: bool) -> String {
    let region = REGIONS[n % REGIONS.len()];
    let brand = BRANDS[(n / REGIONS.len() + n * 7) % BRANDS.len()];
    if consumable {
        format!("{region}{brand}{}", DEVICE_SUFFIX[n % DEVICE_SUFFIX.len()])
    } else {
        format!("{region}{brand}{}", DRUG_SUFFIX[n % DRUG_SUFFIX.len()])
    }
}

/// An originator or imported brand (usually not selected, dearer).
pub fn foreign_enterprise(rng: &mut Rng, consumable: bool) -> String {
    let f = rng.pick(FOREIGN);
    if consumable {
        format!("{f}医疗器械（中国）有限公司")
    } else {
        format!("{f}制药（中国）有限公司")
    }
}

/// Distributors (配送企业) of a city.
pub fn distributor(city_name: &str, n: usize) -> String {
    const PARTS: &[&str] = &["医药有限公司", "医药物流有限公司", "医药配送有限公司", "药业连锁有限公司"];
    let brand = BRANDS[(n * 11 + city_name.len()) % BRANDS.len()];
    let short = city_name.trim_end_matches('市');
    format!("{short}{brand}{}", PARTS[n % PARTS.len()])
}

/// The provincial distributor that also serves rural counties.
pub fn provincial_distributor(n: usize) -> String {
    const BR: &[&str] = &["秦川", "华晟", "长安", "汉江"];
    format!("陕西{}医药物流有限公司", BR[n % BR.len()])
}

pub const PHARMACY_BRANDS: &[&str] =
    &["仁和堂", "百姓康", "益寿", "广济", "康宁", "万民", "众生", "惠民", "同心", "安康人"];
pub const PRIVATE_HOSPITAL: &[&str] =
    &["仁爱医院", "康复医院", "博爱医院", "华康医院", "中西医结合医院", "骨科医院", "眼科医院", "妇产医院"];
