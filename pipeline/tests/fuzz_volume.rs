//! Volume fuzzing of the checkpoint reader (issue 16 part 5):
//! `CheckpointStore::read` under a structure-aware generator, for as many
//! executions as `PROPTEST_CASES` asks (256 in CI's `cargo test`;
//! 10,000,000 in `tests/fuzz-volume.sh`), and exhaustive checks of plain
//! damage: every truncation and every flipped byte of a small checkpoint,
//! and a checkpoint of the previous format version.
//!
//! The seeds are real checkpoint bodies, written from engines that took a
//! few months of a tiny province's business (orders, deliveries, payments,
//! complaints, repeats, events still waiting) and evaluated it: what
//! `footprint` reads (`EngineSnapshot<LineOrigin>`) and what `run` reads
//! (the live checkpoint: Kafka positions, an `EngineSnapshot<KafkaOrigin>`
//! of two shards, the outbox, what Alertmanager is owed, the triage
//! history). A random change to a file is caught by its checksum before
//! anything is decoded, so the fuzzer changes the BODY — bits flipped,
//! bytes inserted, deleted, repeated, cut, spliced from another seed, a
//! length prefix set to a huge or overlong varint, a string replaced by a
//! hostile decimal or date — and seals it again with a valid checksum, as
//! a crafted or miscomputed file would be: so the postcard decoder and
//! every `Deserialize` under it run on every case. A tenth of the cases
//! are not sealed again, and must be refused by the checksum.
//!
//! What is checked, beyond "never panics": a read either gives the value
//! or an error whose message is one line naming the way out ("move it
//! away …"); no allocation while reading is larger than a bound
//! proportional to the body (the maps' pre-allocation is bounded by
//! `vbp_detectors::presized::within`); an unchanged seed reads (and, for
//! the replay seeds, restores into an engine).

#[path = "../../schemas/tests/byte_edit/mod.rs"]
mod byte_edit;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use byte_edit::ByteEdit;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde::{Deserialize, Serialize};
use vbp_detectors::config::DetectorConfig;
use vbp_detectors::reference::ReferenceData;
use vbp_schemas::{decode, DecodeLimits, Event};
use vbp_watch::checkpoint::{CheckpointError, CheckpointStore};
use vbp_watch::engine::{event_order, Engine, EngineSnapshot, EngineSnapshotRef, Routes};
use vbp_watch::sinks::alertmanager::Owed;
use vbp_watch::sources::kafka::{KafkaOrigin, Positions};
use vbp_watch::sources::ndjson::LineOrigin;
use vbp_watch::triage::Triage;

// ---------------------------------------------------------------------------
// The largest allocation made while reading, on this thread.

/// The system allocator, noting the largest single request of the thread
/// while `TRACKING` is set.
struct Watching;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = TRACKING.try_with(|tracking| {
        if tracking.get() {
            let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
        }
    });
}

// SAFETY: every call is passed on to `System` unchanged; the notes only
// read and write thread-local cells, which allocate nothing.
unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

/// Runs `read` and returns its result with the largest allocation it made.
fn watched<R>(read: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    TRACKING.with(|t| t.set(true));
    let result = read();
    TRACKING.with(|t| t.set(false));
    (result, LARGEST.with(Cell::get))
}

/// The largest allocation a read of a body of `body` bytes may make. Two
/// bounds by design: serde reserves at most 1 MiB of elements for any
/// sequence or map whose length it reads (a hash table of them is up to
/// about 2.3 times that, with its control bytes), and the maps read with
/// `presized` reserve at most one entry per byte of the body
/// (`presized::within`), entries of at most a few hundred bytes. Anything
/// above is a length trusted where it should not be.
fn allocation_bound(body: usize) -> usize {
    (8 << 20) + 1024 * body
}

// ---------------------------------------------------------------------------
// The seeds: real checkpoints.

/// The checkpoint `vbp-watch run` reads, field for field as in
/// `pipeline/src/live/mod.rs` (private there): change both together.
#[derive(Serialize)]
struct LiveCheckpointRef<'a> {
    reference_fingerprint: u64,
    positions: &'a Positions,
    engine: EngineSnapshotRef<'a, KafkaOrigin>,
    outbox: &'a [(u64, String)],
    next_seq: u64,
    alertmanager: Owed,
    triage: &'a Triage,
}

#[derive(Deserialize)]
#[allow(dead_code)] // read, never looked into: the reader is under test
struct LiveCheckpoint {
    reference_fingerprint: u64,
    positions: Positions,
    engine: EngineSnapshot<KafkaOrigin>,
    outbox: Vec<(u64, String)>,
    next_seq: u64,
    alertmanager: Owed,
    triage: Triage,
}

/// Which type a body is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `EngineSnapshot<LineOrigin>`, as `footprint` reads.
    Replay,
    /// [`LiveCheckpoint`], as `run` reads.
    Live,
}

struct Seed {
    name: &'static str,
    kind: Kind,
    body: Vec<u8>,
    /// Where a length prefix of a string probably sits: a byte `n < 128`
    /// followed by `n` bytes of printable UTF-8 (ids, codes, decimals and
    /// dates, which serde writes as strings).
    strings: Vec<usize>,
}

/// Positions of probable string length prefixes in `body`.
fn string_prefixes(body: &[u8]) -> Vec<usize> {
    (0..body.len())
        .filter(|&i| {
            let n = usize::from(body[i]);
            (1..128).contains(&n)
                && body.get(i + 1..i + 1 + n).is_some_and(|s| std::str::from_utf8(s).is_ok_and(|s| s.chars().all(|c| !c.is_control())))
        })
        .collect()
}

struct World {
    reference: Arc<ReferenceData>,
    seeds: Vec<Seed>,
    /// The raw line of each `LineOrigin::line` the replay seeds used.
    lines: Vec<Vec<u8>>,
    store: CheckpointStore,
}

const MAGIC: &[u8] = b"vbp-watch checkpoint v9\n";

/// MAGIC, the body's SipHash-1-3 under the store's keys, the body.
fn seal(body: &[u8]) -> Vec<u8> {
    let sum = siphasher::sip::SipHasher13::new_with_keys(0x7662_702d_636b_7074, 0x626f_6479_2073_756d).hash(body);
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&sum.to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// A scratch directory in memory when the machine has one.
fn scratch(name: &str) -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let root = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    root.join(format!("vbp-fuzz-{name}-{}", std::process::id()))
}

/// A tiny province (the rule tests' fixture): five institutions, eight
/// products, three agreements, an exemption, a substitute; small, so that
/// a checkpoint of it is a few kilobytes and a mutation lands in the
/// structure rather than in one long list.
const REFERENCE: [(&str, &str); 8] = [
    ("divisions.csv", "division_code,name\n610000,陕西省\n610300,宝鸡市\n610302,渭滨区\n610305,凤翔区\n610100,西安市\n610113,雁塔区\n"),
    (
        "institutions.csv",
        "institution_code,name,division_code,level\nH61030500001,凤翔区人民医院,610305,secondary\nH61030500002,凤翔区中医医院,610305,secondary\nH61030200003,渭滨区人民医院,610302,secondary\nH61030200004,宝鸡市中心医院,610302,tertiary\nH61011300005,雁塔区医院,610113,secondary\n",
    ),
    (
        "products.csv",
        "product_code,generic_name,dosage_form,spec,enterprise,category,batch,group_id,family_id,selected,backup_supplier,base_units_per_pack,selected_price_per_base_unit
SEL,阿托伐他汀钙片,片剂,20mg*10,甲制药,drug,第十批国采,G1,F1,true,false,10,0.50
SEL28,阿托伐他汀钙片,片剂,20mg*28,甲制药,drug,第十批国采,G1,F1,true,false,28,0.50
NS,阿托伐他汀钙片,片剂,20mg*10,乙制药,drug,,G1,,false,false,10,
BAK,阿托伐他汀钙片,片剂,20mg*10,丙制药,drug,,G1,,false,true,10,
CHEAP,阿托伐他汀钙片,片剂,20mg*10,丁制药,drug,,G1,,false,false,10,
STENT,冠脉支架,支架,3.0*18mm,戊医疗,consumable,国家组织冠脉支架集采,G2,F2,true,false,1,700
SUB,瑞舒伐他汀钙片,片剂,10mg*10,己制药,drug,,G3,,false,false,10,
PEN,注射用青霉素钠,注射剂,0.5g*10,庚制药,drug,第九批国采,G4,F4,true,false,10,0.0125
",
    ),
    (
        "agreements.csv",
        "agreement_id,institution_code,family_id,period_start,period_end,agreed_base_units\nA1,H61030500001,F1,2026-01-01,2026-12-31,36500\nA2,H61030500002,F1,2026-01-01,2026-12-30,1000\nA3,H61030200003,F2,2026-01-01,2026-12-31,100\n",
    ),
    ("exemptions.csv", "exemption_id,institution_code,group_id,valid_from,valid_to,reason\nE1,H61030500001,G1,2026-03-10,2026-03-12,中选企业供应不足经核实\n"),
    ("calendar.csv", "date,kind\n"),
    ("substitutes.csv", "group_id,product_code\nG1,SUB\n"),
    ("enterprises.csv", "enterprise,contact,phone\n甲制药,王经理,029-88886666\n"),
];

const INSTITUTIONS: [&str; 5] = ["H61030500001", "H61030500002", "H61030200003", "H61030200004", "H61011300005"];
const PRODUCTS: [&str; 8] = ["SEL", "SEL28", "NS", "BAK", "CHEAP", "STENT", "SUB", "PEN"];

/// Raw lines of a few months of business in the tiny province: orders of
/// every product, deliveries (some late, some never), acceptances,
/// payments (some in full, which folds the line, some overdue),
/// cancellations, complaints filed, replied and resolved, a repeated
/// event, and events whose order, delivery or complaint never comes (they
/// wait, and the checkpoint keeps them).
fn business(orders: usize) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let at = |day: usize, hour: usize| format!("2026-{:02}-{:02}T{:02}:00:00+08:00", 3 + day / 28, 1 + day % 28, 8 + hour % 10);
    for i in 0..orders {
        let (inst, product) = (INSTITUTIONS[i % 5], PRODUCTS[(i * 3) % 8]);
        let day = i * 2;
        lines.push(format!(r#"{{"event_id":"o{i}","type":"order.placed","occurred_at":"{}","order_id":"O{i}","institution_code":"{inst}","product_code":"{product}","quantity_packs":"{}","unit_price":"{}.{:02}","special_service":{}}}"#, at(day, i), 10 + i, 3 + i % 40, i % 100, i % 9 == 4));
        match i % 6 {
            0 | 1 | 2 => {
                lines.push(format!(r#"{{"event_id":"r{i}","type":"delivery.received","occurred_at":"{}","delivery_id":"D{i}","order_id":"O{i}","quantity_packs":"{}","distributor":"国药控股{}"}}"#, at(day + 1 + i % 9, i), 10 + i, i % 3));
                lines.push(format!(r#"{{"event_id":"a{i}","type":"delivery.accepted","occurred_at":"{}","delivery_id":"D{i}","order_id":"O{i}","accepted_quantity_packs":"{}","amount":"{}.50"}}"#, at(day + 2 + i % 9, i), 10 + i, 100 + i));
                if i % 6 != 2 {
                    let amount = if i % 6 == 0 { format!("{}.50", 100 + i) } else { "1.00".to_owned() };
                    lines.push(format!(r#"{{"event_id":"p{i}","type":"payment.made","occurred_at":"{}","payment_id":"P{i}","institution_code":"{inst}","delivery_id":"D{i}","amount":"{amount}"}}"#, at(day + 20, i)));
                }
            }
            3 => lines.push(format!(r#"{{"event_id":"c{i}","type":"order.cancelled","occurred_at":"{}","order_id":"O{i}","quantity_packs":"{}"}}"#, at(day + 1, i), 1 + i % 5)),
            4 => {
                lines.push(format!(r#"{{"event_id":"f{i}","type":"complaint.filed","occurred_at":"{}","complaint_id":"K{i}","institution_code":"{inst}","product_code":"{product}","kind":"not_delivered","text":"断供 {i}"}}"#, at(day + 3, i)));
                lines.push(format!(r#"{{"event_id":"y{i}","type":"complaint.replied","occurred_at":"{}","complaint_id":"K{i}","promised_by":"2026-05-0{}"}}"#, at(day + 4, i), 1 + i % 9));
                if i % 12 == 4 {
                    lines.push(format!(r#"{{"event_id":"z{i}","type":"complaint.resolved","occurred_at":"{}","complaint_id":"K{i}"}}"#, at(day + 6, i)));
                }
            }
            _ => {}
        }
    }
    if orders > 0 {
        let inst = INSTITUTIONS[0];
        lines.push(lines[0].clone());
        lines.push(r#"{"event_id":"w1","type":"delivery.received","occurred_at":"2026-03-05T10:00:00+08:00","delivery_id":"D-NEVER","order_id":"O-NEVER","quantity_packs":"3","distributor":"国药控股"}"#.to_owned());
        lines.push(format!(r#"{{"event_id":"w2","type":"payment.made","occurred_at":"2026-03-06T10:00:00+08:00","payment_id":"P-NEVER","institution_code":"{inst}","delivery_id":"D-NONE","amount":"12.50"}}"#));
        lines.push(r#"{"event_id":"w3","type":"complaint.replied","occurred_at":"2026-03-07T10:00:00+08:00","complaint_id":"K-NEVER","promised_by":"2026-04-20"}"#.to_owned());
    }
    lines.into_iter().map(String::into_bytes).collect()
}

/// The lines decoded, in event order, with their raw bytes.
fn decoded(lines: Vec<Vec<u8>>) -> Vec<(Event, Vec<u8>)> {
    let mut events: Vec<(Event, Vec<u8>)> = lines
        .into_iter()
        .map(|raw| (decode(&raw, &DecodeLimits::default()).unwrap_or_else(|r| panic!("{r}: {}", String::from_utf8_lossy(&raw))), raw))
        .collect();
    events.sort_by(|a, b| event_order(&a.0, &b.0));
    events
}

/// When the seeds are evaluated: alerts fire (behind schedule, orders
/// undelivered, payments overdue).
fn evaluated_at() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339("2026-06-30T23:00:00+08:00").expect("instant")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn replay_seed(reference: &Arc<ReferenceData>, events: &[(Event, Vec<u8>)], lines: &mut Vec<Vec<u8>>) -> Vec<u8> {
    let mut engine = Engine::<LineOrigin>::new(Arc::clone(reference), DetectorConfig::default()).expect("engine");
    let input: Vec<(Event, LineOrigin)> = events
        .iter()
        .map(|(event, raw)| {
            lines.push(raw.clone());
            let line = lines.len() as u64;
            (event.clone(), LineOrigin { file: 0, line, offset: line * 300, len: raw.len() as u32 })
        })
        .collect();
    engine.ingest_all(input);
    if !events.is_empty() {
        runtime().block_on(engine.evaluate(evaluated_at())).expect("evaluate");
    }
    postcard::to_stdvec(&engine.snapshot()).expect("encode")
}

fn live_seed(reference: &Arc<ReferenceData>, events: &[(Event, Vec<u8>)]) -> Vec<u8> {
    let mut engine = Engine::<KafkaOrigin>::new(Arc::clone(reference), DetectorConfig::default()).expect("engine");
    engine.shard(Routes::new(2));
    let mut positions = Positions::default();
    let input: Vec<(Event, KafkaOrigin)> = events
        .iter()
        .enumerate()
        .map(|(i, (event, raw))| {
            let topic = event.body.event_type().topic().to_owned();
            let partition = (i % 3) as i32;
            positions.advance(&topic, partition, i as i64);
            let origin = KafkaOrigin { topic, partition, offset: i as i64, key: Some(format!("k{}", i % 7).into_bytes()), raw: raw.clone() };
            (event.clone(), origin)
        })
        .collect();
    engine.ingest_all(input);
    let mut triage = Triage::default();
    if !events.is_empty() {
        let transitions = runtime().block_on(engine.evaluate(evaluated_at())).expect("evaluate");
        triage.observe(evaluated_at(), &transitions, engine.book(), chrono::Duration::days(90));
    }
    let outbox = vec![(7u64, r#"{"alertname":"OrderUndelivered","status":"firing"}"#.to_owned()), (8, "中".to_owned())];
    let checkpoint = LiveCheckpointRef {
        reference_fingerprint: 0x1234_5678_9abc_def0,
        positions: &positions,
        engine: engine.snapshot(),
        outbox: &outbox,
        next_seq: 9,
        alertmanager: Owed::default(),
        triage: &triage,
    };
    postcard::to_stdvec(&checkpoint).expect("encode")
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let texts = REFERENCE.iter().map(|(name, text)| (*name, *text));
        let reference = Arc::new(ReferenceData::from_csv_texts(texts).unwrap_or_else(|e| panic!("the tiny province does not load:\n{e}")));
        let mut lines = Vec::new();
        let seeds = vec![
            Seed { name: "replay-empty", kind: Kind::Replay, body: replay_seed(&reference, &[], &mut lines), strings: Vec::new() },
            Seed { name: "replay-12", kind: Kind::Replay, body: replay_seed(&reference, &decoded(business(12)), &mut lines), strings: Vec::new() },
            Seed { name: "replay-36", kind: Kind::Replay, body: replay_seed(&reference, &decoded(business(36)), &mut lines), strings: Vec::new() },
            Seed { name: "live-24", kind: Kind::Live, body: live_seed(&reference, &decoded(business(24))), strings: Vec::new() },
        ];
        let seeds = seeds.into_iter().map(|s| Seed { strings: string_prefixes(&s.body), ..s }).collect();
        let dir = scratch("checkpoint");
        let _ = std::fs::remove_dir_all(&dir);
        let store = CheckpointStore::open(&dir, "fuzz.ckpt").expect("store");
        World { reference, seeds, lines, store }
    })
}

/// The seal above is the store's: a value written by the store is exactly
/// MAGIC, the checksum computed here, and the body.
fn check_seal(world: &World) {
    let value = vec![3u32, 1, 4, 1, 5];
    world.store.write(&value).expect("write");
    let written = std::fs::read(world.store.path()).expect("read back");
    let body = postcard::to_stdvec(&value).expect("encode");
    assert_eq!(written, seal(&body), "the store seals differently: update seal() and MAGIC here");
}

fn read_as(store: &CheckpointStore, kind: Kind) -> Result<bool, CheckpointError> {
    match kind {
        Kind::Replay => store.read::<EngineSnapshot<LineOrigin>>().map(|v| v.is_some()),
        Kind::Live => store.read::<LiveCheckpoint>().map(|v| v.is_some()),
    }
}

/// An error the operator reads: one line, with the way out.
fn check_error(error: &CheckpointError) -> Result<(), TestCaseError> {
    let shown = error.to_string();
    prop_assert!(!shown.contains(['\n', '\r']), "more than one line: {:?}", shown);
    prop_assert!(shown.contains("move it away"), "no way out: {}", shown);
    Ok(())
}

// ---------------------------------------------------------------------------
// Mutations of a body.

/// Varints that mean a huge length, an overflow or an overlong encoding.
fn varint(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = n;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

const HUGE: &[u64] = &[
    0,
    1,
    127,
    128,
    255,
    256,
    65_535,
    1 << 20,
    (1 << 26) + 1,
    (1 << 31) - 1,
    u32::MAX as u64,
    1 << 32,
    (1 << 53) + 1,
    i64::MAX as u64,
    u64::MAX,
];

/// Strings put where a string was: decimals (serde-str) and dates that
/// the types behind them must refuse or hold, and a few that merely differ.
const STRINGS: &[&str] = &[
    "",
    "0",
    "-0",
    "-1",
    "1e5",
    "NaN",
    ".5",
    "5.",
    "79228162514264337593543950335",
    "79228162514264337593543950336",
    "-79228162514264337593543950336",
    "0.0000000000000000000000000001",
    "0.00000000000000000000000000001",
    "1.0000000000000000000000000000001",
    "99999999999999999999999999999999999999999999999999",
    "2026-02-30",
    "2026-13-01",
    "0000-01-01",
    "+262143-12-31",
    "-262144-01-01",
    "262144-01-01",
    "9999-12-31",
    "2026-01-01T00:00:00Z",
    "not_delivered",
    "bogus_kind",
    "中",
    "\u{0}",
];

#[derive(Debug, Clone)]
enum Mutation {
    Bytes(ByteEdit),
    /// This body up to `at`, then another seed's from `from`.
    Splice { at: usize, seed: usize, from: usize },
    /// The varint at `at` (any byte) replaced by a huge or overlong one.
    Varint { at: usize, value: u64, overlong: bool },
    /// The `which`th probable string length prefix set to `value`.
    StringLength { which: usize, value: u64 },
    /// The `which`th probable string replaced, prefix and bytes.
    StringValue { which: usize, text: String },
}

fn mutation() -> BoxedStrategy<Mutation> {
    let i = any::<usize>();
    prop_oneof![
        11 => ByteEdit::strategy(prop::collection::vec(any::<u8>(), 1..9).boxed(), 31, 199).prop_map(Mutation::Bytes),
        1 => (i, i, i).prop_map(|(at, seed, from)| Mutation::Splice { at, seed, from }),
        3 => (i, prop::sample::select(HUGE), prop::bool::weighted(0.2)).prop_map(|(at, value, overlong)| Mutation::Varint { at, value, overlong }),
        3 => (i, prop::sample::select(HUGE)).prop_map(|(which, value)| Mutation::StringLength { which, value }),
        3 => (i, prop_oneof![prop::sample::select(STRINGS).prop_map(str::to_owned), "-?[0-9]{1,40}(\\.[0-9]{0,40})?", "[0-9+-]{4,8}-[0-9]{2}-[0-9]{2}"])
            .prop_map(|(which, text)| Mutation::StringValue { which, text }),
    ]
    .boxed()
}

/// The position and length of the `which`th probable string of `seed`,
/// when `body` still has it where the seed had it.
fn seed_string(body: &[u8], seed: &Seed, which: usize) -> Option<(usize, usize)> {
    if seed.strings.is_empty() || body.len() != seed.body.len() {
        return None;
    }
    let at = seed.strings[which % seed.strings.len()];
    let old = usize::from(*body.get(at)?);
    (body[at] == seed.body[at] && at + 1 + old <= body.len()).then_some((at, old))
}

/// Applies `m` to `body`, a copy of seed `seed`'s.
fn apply(body: &mut Vec<u8>, m: &Mutation, seed: &Seed, seeds: &[Seed]) {
    let n = body.len();
    let clamp = |at: usize| at % (n + 1);
    match m {
        Mutation::Bytes(edit) => edit.apply(body),
        Mutation::Splice { at, seed: other, from } => {
            let other = &seeds[other % seeds.len()].body;
            body.truncate(clamp(*at));
            body.extend_from_slice(&other[from % (other.len() + 1)..]);
        }
        Mutation::Varint { at, value, overlong } if n > 0 => {
            let at = at % n;
            // The varint starting there, however long it was.
            let old = body[at..].iter().position(|b| b & 0x80 == 0).map_or(n - at, |p| p + 1);
            let mut new = varint(*value);
            if *overlong {
                new.iter_mut().for_each(|b| *b |= 0x80);
                new.extend_from_slice(&[0x80, 0x80, 0x80, 0x01]);
            }
            body.splice(at..at + old, new);
        }
        // String edits only where the seed's string still is: same length,
        // same prefix byte, and the string inside the body.
        Mutation::StringLength { which, value } => {
            if let Some((at, _)) = seed_string(body, seed, *which) {
                body.splice(at..at + 1, varint(*value));
            }
        }
        Mutation::StringValue { which, text } => {
            if let Some((at, old)) = seed_string(body, seed, *which) {
                let mut new = varint(text.len() as u64);
                new.extend_from_slice(text.as_bytes());
                body.splice(at..at + 1 + old, new);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// The volume run.

static EXECUTIONS: AtomicU64 = AtomicU64::new(0);
static READ_OK: AtomicU64 = AtomicU64::new(0);
static DAMAGED: AtomicU64 = AtomicU64::new(0);
static CORRUPT: AtomicU64 = AtomicU64::new(0);
static LARGEST_RATIO: AtomicU64 = AtomicU64::new(0);
static LARGEST_BYTES: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone)]
struct Case {
    seed: usize,
    mutations: Vec<Mutation>,
    /// Sealed again with a valid checksum (else the checksum must refuse it).
    reseal: bool,
    /// Read as the other seed kind's type.
    other_type: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (any::<usize>(), prop::collection::vec(mutation(), 0..=4), prop::bool::weighted(0.9), prop::bool::weighted(0.05))
        .prop_map(|(seed, mutations, reseal, other_type)| Case { seed, mutations, reseal, other_type })
}

fn execute(world: &World, case: &Case) -> Result<(), TestCaseError> {
    let seed = &world.seeds[case.seed % world.seeds.len()];
    let mut body = seed.body.clone();
    for m in &case.mutations {
        apply(&mut body, m, seed, &world.seeds);
    }
    let file = if case.reseal || body == seed.body {
        seal(&body)
    } else {
        // The seed's checksum over the changed body.
        let mut file = seal(&seed.body);
        file.truncate(MAGIC.len() + 8);
        file.extend_from_slice(&body);
        file
    };
    std::fs::write(world.store.path(), &file).map_err(|e| TestCaseError::fail(format!("cannot write: {e}")))?;
    let kind = match (seed.kind, case.other_type) {
        (kind, false) => kind,
        (Kind::Replay, true) => Kind::Live,
        (Kind::Live, true) => Kind::Replay,
    };
    EXECUTIONS.fetch_add(1, Ordering::Relaxed);
    let (result, largest) = watched(|| read_as(&world.store, kind));
    let bound = allocation_bound(body.len());
    prop_assert!(largest <= bound, "an allocation of {} bytes reading a body of {} bytes", largest, body.len());
    LARGEST_RATIO.fetch_max((largest / body.len().max(1)) as u64, Ordering::Relaxed);
    LARGEST_BYTES.fetch_max(largest as u64, Ordering::Relaxed);
    match &result {
        Ok(found) => {
            prop_assert!(*found, "the file was there");
            READ_OK.fetch_add(1, Ordering::Relaxed);
        }
        Err(error) => {
            check_error(error)?;
            match error {
                CheckpointError::Corrupt { .. } => CORRUPT.fetch_add(1, Ordering::Relaxed),
                _ => DAMAGED.fetch_add(1, Ordering::Relaxed),
            };
        }
    }
    let resealed = case.reseal || body == seed.body;
    if !resealed {
        prop_assert!(matches!(result, Err(CheckpointError::Corrupt { .. })), "a changed body passed the old checksum");
    }
    if body == seed.body && kind == seed.kind {
        prop_assert!(matches!(result, Ok(true)), "a seed does not read back: {:?}", result.err().map(|e| e.to_string()));
    }
    Ok(())
}

#[test]
fn checkpoint_reader_under_volume_fuzzing() {
    let world = world();
    check_seal(world);
    // Each seed reads back, and a replay seed restores into an engine.
    for seed in &world.seeds {
        std::fs::write(world.store.path(), seal(&seed.body)).expect("write");
        match seed.kind {
            Kind::Replay => {
                let (snapshot, _) = world.store.read::<EngineSnapshot<LineOrigin>>().expect(seed.name).expect(seed.name);
                let mut engine = Engine::<LineOrigin>::new(Arc::clone(&world.reference), DetectorConfig::default()).expect("engine");
                let lines = &world.lines;
                engine
                    .restore(snapshot, vbp_watch::checkpoint::VERSION, |origin| decode(&lines[origin.line as usize - 1], &DecodeLimits::default()))
                    .expect(seed.name);
            }
            Kind::Live => {
                world.store.read::<LiveCheckpoint>().expect(seed.name).expect(seed.name);
            }
        }
        println!("seed {}: {} bytes, {} probable strings", seed.name, seed.body.len(), seed.strings.len());
    }
    let config = Config {
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::default()
    };
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let started = Instant::now();
    let slowest_nanos = AtomicU64::new(0);
    let result = runner.run(&case(), |case| {
        let t = Instant::now();
        let outcome = execute(world, &case);
        slowest_nanos.fetch_max(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        outcome
    });
    let seconds = started.elapsed().as_secs_f64();
    let executions = EXECUTIONS.load(Ordering::Relaxed);
    println!(
        "fuzz-volume checkpoint: executions={executions} cases={cases} seconds={seconds:.3} rate={:.0}/s slowest_ms={:.2} (read={} damaged={} checksum={} largest_allocation={} bytes, largest per body byte={})",
        executions as f64 / seconds.max(1e-9),
        Duration::from_nanos(slowest_nanos.load(Ordering::Relaxed)).as_secs_f64() * 1e3,
        READ_OK.load(Ordering::Relaxed),
        DAMAGED.load(Ordering::Relaxed),
        CORRUPT.load(Ordering::Relaxed),
        LARGEST_BYTES.load(Ordering::Relaxed),
        LARGEST_RATIO.load(Ordering::Relaxed),
    );
    let _ = std::fs::remove_file(world.store.path());
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(executions >= u64::from(cases), "{executions} executions for {cases} cases");
}

// ---------------------------------------------------------------------------
// Plain damage, exhaustively, on the smaller seeds.

/// A store of its own in a fresh scratch directory (the tests run at once).
fn store_for(test: &str) -> CheckpointStore {
    let dir = scratch(test);
    let _ = std::fs::remove_dir_all(&dir);
    CheckpointStore::open(&dir, "test.ckpt").expect("store")
}

/// Reads `file` as `kind` and returns the error, checked for one line and
/// the way out.
fn refusal(store: &CheckpointStore, file: &[u8], kind: Kind) -> CheckpointError {
    std::fs::write(store.path(), file).expect("write");
    let (result, largest) = watched(|| read_as(store, kind));
    assert!(largest <= allocation_bound(file.len()), "an allocation of {largest} bytes reading {} bytes", file.len());
    let error = match result {
        Ok(_) => panic!("a damaged file of {} bytes was read", file.len()),
        Err(error) => error,
    };
    check_error(&error).unwrap_or_else(|e| panic!("{e}"));
    error
}

fn small_seeds() -> impl Iterator<Item = &'static Seed> {
    world().seeds.iter().filter(|s| s.body.len() <= 12_000)
}

#[test]
fn a_checkpoint_cut_short_at_any_length_is_refused_in_one_line_with_the_way_out() {
    let store = store_for("cut");
    for seed in small_seeds() {
        let file = seal(&seed.body);
        for keep in 0..file.len() {
            let error = refusal(&store, &file[..keep], seed.kind);
            if keep < MAGIC.len() {
                assert!(matches!(error, CheckpointError::NotACheckpoint { .. }), "{}: {keep}: {error}", seed.name);
            } else {
                assert!(matches!(error, CheckpointError::Corrupt { .. }), "{}: {keep}: {error}", seed.name);
            }
        }
    }
}

#[test]
fn a_body_cut_short_and_sealed_again_is_refused_as_damaged_in_one_line_with_the_way_out() {
    let store = store_for("cut-sealed");
    for seed in small_seeds() {
        for keep in 0..seed.body.len() {
            let error = refusal(&store, &seal(&seed.body[..keep]), seed.kind);
            assert!(matches!(error, CheckpointError::Damaged { .. }), "{}: {keep}: {error}", seed.name);
        }
    }
}

#[test]
fn a_checkpoint_with_any_byte_flipped_is_refused_in_one_line_with_the_way_out() {
    let store = store_for("flip");
    for seed in small_seeds() {
        let file = seal(&seed.body);
        for at in 0..file.len() {
            let mut damaged = file.clone();
            damaged[at] ^= 0x20;
            let error = refusal(&store, &damaged, seed.kind);
            if at < MAGIC.len() {
                assert!(matches!(error, CheckpointError::NotACheckpoint { .. }), "{}: {at}: {error}", seed.name);
            } else {
                assert!(matches!(error, CheckpointError::Corrupt { .. }), "{}: {at}: {error}", seed.name);
            }
        }
    }
}

#[test]
fn a_checkpoint_of_the_previous_format_is_refused_in_one_line_with_the_way_out() {
    let store = store_for("v7");
    for seed in &world().seeds {
        let mut file = b"vbp-watch checkpoint v7\n".to_vec();
        file.extend_from_slice(&seal(&seed.body)[MAGIC.len()..]);
        let error = refusal(&store, &file, seed.kind);
        assert!(matches!(error, CheckpointError::NotACheckpoint { .. }), "{}: {error}", seed.name);
        assert!(error.to_string().contains("not a vbp-watch checkpoint of this version"), "{error}");
    }
}
