//! Generic names for the simulated catalogue.
//!
//! The first list is hand-set (strength, selected price per base unit, who
//! uses it) and is all the small scale uses; the second only supplies names
//! for the province scale's 600 groups.

/// A hand-set drug group.
pub struct DrugStem {
    /// Generic name without the dosage form, e.g. 阿托伐他汀钙.
    pub stem: &'static str,
    /// Dosage form; `注射用` is a prefix (注射用头孢曲松钠), others a suffix.
    pub form: &'static str,
    /// ATC level 4 (5 characters), used in the product code.
    pub atc: &'static str,
    /// Reference strength ×1000 and its unit: the group's base unit.
    pub strength_e3: i64,
    pub unit: &'static str,
    /// 片, 粒, 支, 瓶.
    pub count_word: &'static str,
    /// Selected price per base unit, in 1/10000 yuan.
    pub price_e4: i64,
    /// Index into `catalogue::BATCHES`.
    pub batch: usize,
    /// Used by township health centres and village clinics.
    pub primary: bool,
    /// Relative order frequency.
    pub popularity: u32,
    pub families: usize,
    pub nonselected: usize,
    pub backup: bool,
    pub cheap: bool,
}

const fn d(
    stem: &'static str,
    form: &'static str,
    atc: &'static str,
    strength_e3: i64,
    unit: &'static str,
    count_word: &'static str,
    price_e4: i64,
    batch: usize,
    primary: bool,
    popularity: u32,
    families: usize,
    nonselected: usize,
    backup: bool,
    cheap: bool,
) -> DrugStem {
    DrugStem {
        stem,
        form,
        atc,
        strength_e3,
        unit,
        count_word,
        price_e4,
        batch,
        primary,
        popularity,
        families,
        nonselected,
        backup,
        cheap,
    }
}

/// Hand-set drug groups. Batches: 0 国采接续, 1 第十批国采 (started before
/// the window), 2 陕西省药品联盟集采.
pub const DRUGS: &[DrugStem] = &[
    d("阿托伐他汀钙", "片", "C10AA", 10_000, "mg", "片", 1200, 0, true, 10, 1, 2, false, true),
    d("瑞舒伐他汀钙", "片", "C10AA", 10_000, "mg", "片", 1500, 0, true, 8, 1, 2, false, false),
    d("苯磺酸氨氯地平", "片", "C08CA", 5_000, "mg", "片", 500, 0, true, 10, 2, 2, false, false),
    d("硝苯地平", "控释片", "C08CA", 30_000, "mg", "片", 9000, 1, true, 6, 1, 1, false, false),
    d("缬沙坦", "胶囊", "C09CA", 80_000, "mg", "粒", 2500, 0, true, 6, 2, 2, true, false),
    d("厄贝沙坦", "片", "C09CA", 150_000, "mg", "片", 1800, 2, true, 5, 1, 2, false, false),
    d("盐酸二甲双胍", "片", "A10BA", 500, "g", "片", 300, 0, true, 9, 2, 1, false, true),
    d("格列美脲", "片", "A10BB", 2_000, "mg", "片", 2000, 1, false, 4, 1, 2, false, false),
    d("阿卡波糖", "片", "A10BF", 50_000, "mg", "片", 2000, 0, true, 6, 1, 2, false, false),
    d("头孢呋辛酯", "片", "J01DC", 250, "g", "片", 5000, 0, false, 5, 2, 2, false, false),
    d("阿莫西林", "胶囊", "J01CA", 250, "g", "粒", 600, 2, true, 7, 1, 1, false, false),
    d("左氧氟沙星", "片", "J01MA", 500, "g", "片", 6000, 0, false, 5, 1, 2, true, false),
    d("奥美拉唑", "肠溶胶囊", "A02BC", 20_000, "mg", "粒", 1500, 0, true, 8, 1, 2, false, false),
    d("雷贝拉唑钠", "肠溶片", "A02BC", 10_000, "mg", "片", 4000, 1, false, 4, 1, 2, false, false),
    d("恩替卡韦", "片", "J05AF", 500, "mg", "片", 1800, 0, false, 5, 2, 2, false, false),
    d("硫酸氢氯吡格雷", "片", "B01AC", 75_000, "mg", "片", 5000, 0, true, 7, 1, 1, true, false),
    d("阿司匹林", "肠溶片", "B01AC", 100_000, "mg", "片", 400, 2, true, 9, 1, 1, false, false),
    d("孟鲁司特钠", "片", "R03DC", 10_000, "mg", "片", 9000, 1, false, 4, 1, 2, false, false),
    d("盐酸氨溴索", "注射液", "R05CB", 15_000, "mg", "支", 15000, 2, false, 5, 1, 2, false, false),
    d("头孢曲松钠", "注射用", "J01DD", 1_000, "g", "瓶", 25000, 0, false, 6, 2, 2, false, false),
    d("布洛芬", "缓释胶囊", "M01AE", 300, "g", "粒", 2000, 2, true, 6, 1, 2, false, false),
    d("甲钴胺", "片", "B03BA", 500, "mg", "片", 1000, 1, true, 5, 1, 1, false, false),
    d("替格瑞洛", "片", "B01AC", 90_000, "mg", "片", 11000, 0, false, 4, 1, 1, false, false),
    d("利伐沙班", "片", "B01AF", 10_000, "mg", "片", 10000, 1, false, 4, 1, 2, false, false),
    d("达格列净", "片", "A10BK", 10_000, "mg", "片", 6000, 2, false, 4, 1, 1, false, false),
    d("琥珀酸美托洛尔", "缓释片", "C07AB", 47_500, "mg", "片", 5000, 0, true, 6, 1, 2, false, false),
];

/// A hand-set consumable group.
pub struct DeviceStem {
    pub name: &'static str,
    /// Shown in the `dosage_form` column: the product category.
    pub kind: &'static str,
    pub specs: &'static [&'static str],
    /// Pieces per pack.
    pub pack: i64,
    /// Selected price per piece, in 1/10000 yuan.
    pub price_e4: i64,
    pub batch: usize,
    pub primary: bool,
    pub popularity: u32,
    pub families: usize,
    pub nonselected: usize,
    pub backup: bool,
}

/// Batches: 3 冠脉支架接续, 4 人工晶体 (two-year period), 5 骨科创伤 (started
/// before the window), 6 陕西省医用耗材联盟.
pub const DEVICES: &[DeviceStem] = &[
    DeviceStem {
        name: "冠脉药物洗脱支架",
        kind: "冠脉支架",
        specs: &["2.5mm×18mm", "3.0mm×24mm", "3.5mm×29mm"],
        pack: 1,
        price_e4: 7_000_000,
        batch: 3,
        primary: false,
        popularity: 3,
        families: 2,
        nonselected: 1,
        backup: false,
    },
    DeviceStem {
        name: "冠脉球囊扩张导管",
        kind: "冠脉球囊",
        specs: &["2.0mm×15mm", "2.5mm×20mm", "3.0mm×15mm"],
        pack: 1,
        price_e4: 2_800_000,
        batch: 3,
        primary: false,
        popularity: 3,
        families: 1,
        nonselected: 1,
        backup: false,
    },
    DeviceStem {
        name: "人工晶状体",
        kind: "人工晶体",
        specs: &["单焦点 +20.0D", "单焦点 +22.0D", "非球面 +21.0D"],
        pack: 1,
        price_e4: 8_000_000,
        batch: 4,
        primary: false,
        popularity: 3,
        families: 2,
        nonselected: 1,
        backup: false,
    },
    DeviceStem {
        name: "锁定接骨板",
        kind: "骨科创伤类",
        specs: &["直型 6孔", "解剖型 8孔", "T型 4孔"],
        pack: 1,
        price_e4: 15_000_000,
        batch: 5,
        primary: false,
        popularity: 3,
        families: 1,
        nonselected: 2,
        backup: false,
    },
    DeviceStem {
        name: "静脉留置针",
        kind: "留置针",
        specs: &["22G", "24G"],
        pack: 50,
        price_e4: 30_000,
        batch: 6,
        primary: true,
        popularity: 6,
        families: 1,
        nonselected: 1,
        backup: true,
    },
    DeviceStem {
        name: "一次性使用输液器",
        kind: "输液器",
        specs: &["带针 0.7mm", "精密过滤型"],
        pack: 25,
        price_e4: 10_000,
        batch: 6,
        primary: true,
        popularity: 7,
        families: 1,
        nonselected: 1,
        backup: false,
    },
];

/// More generic names (stem, default form, ATC level 4) for province scale.
pub const MORE_DRUGS: &[(&str, &str, &str)] = &[
    ("苯磺酸左氨氯地平", "片", "C08CA"), ("非洛地平", "缓释片", "C08CA"), ("替米沙坦", "片", "C09CA"),
    ("培哚普利叔丁胺", "片", "C09AA"), ("马来酸依那普利", "片", "C09AA"), ("富马酸比索洛尔", "片", "C07AB"),
    ("卡维地洛", "片", "C07AG"), ("吲达帕胺", "片", "C03BA"), ("氢氯噻嗪", "片", "C03AA"), ("螺内酯", "片", "C03DA"),
    ("辛伐他汀", "片", "C10AA"), ("匹伐他汀钙", "片", "C10AA"), ("依折麦布", "片", "C10AX"), ("非诺贝特", "胶囊", "C10AB"),
    ("格列齐特", "缓释片", "A10BB"), ("格列吡嗪", "片", "A10BB"), ("瑞格列奈", "片", "A10BX"), ("盐酸吡格列酮", "片", "A10BG"),
    ("磷酸西格列汀", "片", "A10BH"), ("维格列汀", "片", "A10BH"), ("沙格列汀", "片", "A10BH"), ("利格列汀", "片", "A10BH"),
    ("恩格列净", "片", "A10BK"), ("卡格列净", "片", "A10BK"), ("伏格列波糖", "片", "A10BF"), ("兰索拉唑", "肠溶胶囊", "A02BC"),
    ("泮托拉唑钠", "肠溶片", "A02BC"), ("艾司奥美拉唑镁", "肠溶片", "A02BC"), ("法莫替丁", "片", "A02BA"),
    ("铝碳酸镁", "咀嚼片", "A02AD"), ("枸橼酸莫沙必利", "片", "A03FA"), ("多潘立酮", "片", "A03FA"),
    ("头孢克肟", "胶囊", "J01DD"), ("头孢地尼", "胶囊", "J01DD"), ("头孢丙烯", "片", "J01DC"), ("头孢克洛", "胶囊", "J01DC"),
    ("阿奇霉素", "片", "J01FA"), ("克拉霉素", "片", "J01FA"), ("盐酸莫西沙星", "片", "J01MA"), ("盐酸环丙沙星", "片", "J01MA"),
    ("甲硝唑", "片", "P01AB"), ("氟康唑", "胶囊", "J02AC"), ("伏立康唑", "片", "J02AC"), ("阿昔洛韦", "片", "J05AB"),
    ("盐酸伐昔洛韦", "片", "J05AB"), ("磷酸奥司他韦", "胶囊", "J05AH"), ("拉米夫定", "片", "J05AF"), ("阿德福韦酯", "片", "J05AF"),
    ("替比夫定", "片", "J05AF"), ("利巴韦林", "片", "J05AP"), ("对乙酰氨基酚", "片", "N02BE"), ("塞来昔布", "胶囊", "M01AH"),
    ("双氯芬酸钠", "缓释片", "M01AB"), ("美洛昔康", "片", "M01AC"), ("洛索洛芬钠", "片", "M01AE"), ("依托考昔", "片", "M01AH"),
    ("盐酸曲马多", "缓释片", "N02AX"), ("加巴喷丁", "胶囊", "N03AX"), ("普瑞巴林", "胶囊", "N03AX"), ("卡马西平", "片", "N03AF"),
    ("丙戊酸钠", "缓释片", "N03AG"), ("左乙拉西坦", "片", "N03AX"), ("拉莫三嗪", "片", "N03AX"), ("奥卡西平", "片", "N03AF"),
    ("托吡酯", "片", "N03AX"), ("盐酸舍曲林", "片", "N06AB"), ("盐酸帕罗西汀", "片", "N06AB"), ("草酸艾司西酞普兰", "片", "N06AB"),
    ("盐酸氟西汀", "胶囊", "N06AB"), ("盐酸文拉法辛", "缓释胶囊", "N06AX"), ("盐酸度洛西汀", "肠溶胶囊", "N06AX"),
    ("米氮平", "片", "N06AX"), ("阿立哌唑", "片", "N05AX"), ("奥氮平", "片", "N05AH"), ("富马酸喹硫平", "片", "N05AH"),
    ("利培酮", "片", "N05AX"), ("盐酸齐拉西酮", "胶囊", "N05AE"), ("右佐匹克隆", "片", "N05CF"), ("酒石酸唑吡坦", "片", "N05CF"),
    ("阿普唑仑", "片", "N05BA"), ("艾司唑仑", "片", "N05CD"), ("盐酸多奈哌齐", "片", "N06DA"), ("盐酸美金刚", "片", "N06DX"),
    ("盐酸普拉克索", "片", "N04BC"), ("甲磺酸雷沙吉兰", "片", "N04BD"), ("左甲状腺素钠", "片", "H03AA"), ("甲巯咪唑", "片", "H03BB"),
    ("阿仑膦酸钠", "片", "M05BA"), ("骨化三醇", "软胶囊", "A11CC"), ("别嘌醇", "片", "M04AA"), ("非布司他", "片", "M04AA"),
    ("秋水仙碱", "片", "M04AC"), ("非那雄胺", "片", "G04CB"), ("度他雄胺", "软胶囊", "G04CB"), ("枸橼酸西地那非", "片", "G04BE"),
    ("他达拉非", "片", "G04BE"), ("琥珀酸索利那新", "片", "G04BD"), ("酒石酸托特罗定", "片", "G04BD"), ("氯雷他定", "片", "R06AX"),
    ("盐酸西替利嗪", "片", "R06AE"), ("地氯雷他定", "片", "R06AX"), ("依巴斯汀", "片", "R06AX"), ("茶碱", "缓释片", "R03DA"),
    ("多索茶碱", "片", "R03DA"), ("羧甲司坦", "片", "R05CB"), ("乙酰半胱氨酸", "泡腾片", "R05CB"), ("来曲唑", "片", "L02BG"),
    ("阿那曲唑", "片", "L02BG"), ("依西美坦", "片", "L02BG"), ("枸橼酸他莫昔芬", "片", "L02BA"), ("比卡鲁胺", "片", "L02BB"),
    ("醋酸阿比特龙", "片", "L02BX"), ("卡培他滨", "片", "L01BC"), ("替吉奥", "胶囊", "L01BC"), ("吉非替尼", "片", "L01EB"),
    ("盐酸厄洛替尼", "片", "L01EB"), ("甲磺酸伊马替尼", "片", "L01EA"), ("达沙替尼", "片", "L01EA"), ("甲磺酸奥希替尼", "片", "L01EB"),
    ("甲苯磺酸索拉非尼", "片", "L01EX"), ("甲氨蝶呤", "片", "L04AX"), ("来氟米特", "片", "L04AA"), ("硫酸羟氯喹", "片", "P01BA"),
    ("吗替麦考酚酯", "胶囊", "L04AA"), ("他克莫司", "胶囊", "L04AD"), ("醋酸泼尼松", "片", "H02AB"), ("甲泼尼龙", "片", "H02AB"),
    ("华法林钠", "片", "B01AA"), ("达比加群酯", "胶囊", "B01AE"), ("阿哌沙班", "片", "B01AF"), ("西洛他唑", "片", "B01AC"),
    ("贝前列素钠", "片", "B01AC"), ("单硝酸异山梨酯", "缓释片", "C01DA"), ("尼可地尔", "片", "C01DX"),
    ("盐酸曲美他嗪", "缓释片", "C01EB"), ("盐酸伊伐布雷定", "片", "C01EB"), ("地高辛", "片", "C01AA"), ("盐酸胺碘酮", "片", "C01BD"),
    ("沙库巴曲缬沙坦钠", "片", "C09DX"), ("托拉塞米", "片", "C03CA"), ("呋塞米", "片", "C03CA"), ("奥美沙坦酯", "片", "C09CA"),
    ("头孢唑林钠", "注射用", "J01DB"), ("头孢呋辛钠", "注射用", "J01DC"), ("头孢他啶", "注射用", "J01DD"),
    ("头孢哌酮钠舒巴坦钠", "注射用", "J01DD"), ("哌拉西林钠他唑巴坦钠", "注射用", "J01CR"), ("美罗培南", "注射用", "J01DH"),
    ("亚胺培南西司他丁钠", "注射用", "J01DH"), ("阿奇霉素", "注射用", "J01FA"), ("左氧氟沙星", "注射液", "J01MA"),
    ("更昔洛韦", "注射用", "J05AB"), ("伏立康唑", "注射用", "J02AC"), ("泮托拉唑钠", "注射用", "A02BC"),
    ("艾司奥美拉唑钠", "注射用", "A02BC"), ("依诺肝素钠", "注射液", "B01AB"), ("比伐芦定", "注射用", "B01AE"),
    ("替加环素", "注射用", "J01AA"), ("盐酸帕洛诺司琼", "注射液", "A04AA"), ("盐酸昂丹司琼", "注射液", "A04AA"),
    ("盐酸右美托咪定", "注射液", "N05CM"), ("丙泊酚中/长链脂肪乳", "注射液", "N01AX"), ("盐酸罗哌卡因", "注射液", "N01BB"),
    ("氟比洛芬酯", "注射液", "M01AE"), ("帕瑞昔布钠", "注射用", "M01AH"), ("培美曲塞二钠", "注射用", "L01BA"),
    ("多西他赛", "注射液", "L01CD"), ("奥沙利铂", "注射液", "L01XA"), ("盐酸吉西他滨", "注射用", "L01BC"),
    ("盐酸伊立替康", "注射液", "L01CE"), ("乌司他丁", "注射用", "B02AB"), ("硝酸甘油", "注射液", "C01DA"),
];

/// Alternative dosage forms, for the province scale's extra groups (同品种
/// is generic name *and* dosage form, so each is its own group).
pub const ORAL_FORMS: &[&str] = &["片", "胶囊", "分散片", "缓释片", "颗粒", "口服溶液", "肠溶片", "干混悬剂"];
pub const INJECTION_FORMS: &[&str] = &["注射液", "注射用", "氯化钠注射液"];

/// More consumable groups for province scale: (name, kind).
pub const MORE_DEVICES: &[(&str, &str)] = &[
    ("冠脉切割球囊", "冠脉球囊"), ("冠脉导引导丝", "导丝"), ("冠脉导引导管", "导管"), ("心脏起搏器", "起搏器"),
    ("人工全膝关节", "人工关节"), ("人工全髋关节", "人工关节"), ("脊柱椎弓根钉棒系统", "骨科脊柱类"),
    ("髓内钉", "骨科创伤类"), ("空心螺钉", "骨科创伤类"), ("腔镜切割吻合器", "吻合器"), ("管型吻合器", "吻合器"),
    ("超声刀头", "超声刀"), ("可吸收止血纱", "止血材料"), ("疝修补补片", "补片"), ("输尿管支架", "泌尿导管"),
    ("一次性使用导尿管", "导尿管"), ("中心静脉导管", "静脉导管"), ("血液透析器", "透析器"), ("血液透析管路", "透析管路"),
    ("人工晶状体（多焦点）", "人工晶体"), ("眼科粘弹剂", "眼科耗材"), ("可吸收缝线", "缝线"), ("医用外科口罩", "防护用品"),
    ("一次性使用注射器", "注射器"), ("胰岛素注射笔用针头", "注射针"), ("血糖试纸", "检测试剂"), ("医用敷料", "敷料"),
    ("气管插管", "麻醉耗材"), ("喉罩", "麻醉耗材"), ("神经介入弹簧圈", "神经介入类"), ("外周血管支架", "外周介入类"),
    ("电生理标测导管", "电生理类"), ("冠脉药物涂层球囊", "冠脉球囊"), ("人工椎间盘", "骨科脊柱类"),
];
