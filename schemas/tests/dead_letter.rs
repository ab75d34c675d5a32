//! Dead-letter lines round-trip and validate against
//! `json/dead-letter.schema.json`, for UTF-8 and non-UTF-8 input alike.

mod common;

use proptest::prelude::*;
use vbp_schemas::{decode, DeadLetter, DecodeLimits, Reason, Source};

use common::Schemas;

fn source_strategy() -> impl Strategy<Value = Source> {
    prop_oneof![
        ("\\PC{1,30}", 1u64..u64::MAX).prop_map(|(file, line)| Source::File { file, line }),
        ("[a-z.-]{1,20}", 0i32..i32::MAX, 0i64..i64::MAX).prop_map(|(topic, partition, offset)| {
            Source::Kafka {
                topic,
                partition,
                offset,
            }
        }),
    ]
}

fn letter_strategy() -> impl Strategy<Value = DeadLetter> {
    let raw = prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..200),
    ];
    (
        proptest::sample::select(Reason::ALL.to_vec()),
        any::<String>(),
        source_strategy(),
        raw,
    )
        .prop_map(|(reason, detail, source, raw)| DeadLetter {
            reason,
            detail,
            source,
            raw,
        })
}

fn check(schemas: &Schemas, letter: &DeadLetter) {
    let line = letter.to_json_line();
    assert!(!line.contains('\n'), "one line: {line:?}");
    let value: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert!(
        schemas.is_valid("dead-letter.schema.json", &value),
        "{line}: {:?}",
        schemas.errors("dead-letter.schema.json", &value)
    );
    let utf8 = std::str::from_utf8(&letter.raw).is_ok();
    assert_eq!(value.get("raw").is_some(), utf8, "{line}");
    assert_eq!(value.get("raw_base64").is_some(), !utf8, "{line}");
    assert_eq!(&DeadLetter::from_json_line(&line).unwrap(), letter);
}

#[test]
fn rejected_corpus_inputs_become_valid_dead_letters() {
    let schemas = Schemas::load();
    let mut count = 0;
    for entry in std::fs::read_dir(common::invalid_dir()).unwrap() {
        let path = entry.unwrap().path();
        let raw = std::fs::read(&path).unwrap();
        let rejection = decode(&raw, &DecodeLimits::default()).unwrap_err();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let letter = DeadLetter::new(rejection, Source::File { file, line: 1 }, raw);
        check(&schemas, &letter);
        count += 1;
    }
    assert!(count > 20);
}

#[test]
fn kafka_source_and_binary_raw() {
    let schemas = Schemas::load();
    let letter = DeadLetter {
        reason: Reason::MalformedJson,
        detail: "not UTF-8: invalid byte sequence at byte offset 0".into(),
        source: Source::Kafka {
            topic: "vbp.orders".into(),
            partition: 11,
            offset: 9_876_543_210,
        },
        raw: vec![0xc3, 0x28, 0x00, 0x7f, 0xff],
    };
    check(&schemas, &letter);
}

#[test]
fn schema_refuses_broken_records() {
    let schemas = Schemas::load();
    let valid = r#"{"reason":"orphan","detail":"","source":{"file":"a","line":1},"raw":"x"}"#;
    let ok =
        |s: &str| schemas.is_valid("dead-letter.schema.json", &serde_json::from_str(s).unwrap());
    assert!(ok(valid));
    assert!(!ok(&valid.replace("orphan", "lost")), "unknown reason");
    assert!(!ok(&valid.replace(r#","raw":"x""#, "")), "raw missing");
    assert!(
        !ok(&valid.replace(r#""raw":"x""#, r#""raw":"x","raw_base64":"eA==""#)),
        "both raws"
    );
    assert!(
        !ok(&valid.replace(r#""raw":"x""#, r#""raw_base64":"not base64!""#)),
        "bad base64"
    );
    assert!(
        !ok(&valid.replace(r#""line":1"#, r#""line":0"#)),
        "lines count from 1"
    );
    assert!(
        !ok(&valid.replace(
            r#""file":"a","line":1"#,
            r#""file":"a","line":1,"topic":"t""#
        )),
        "mixed source"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn any_dead_letter_round_trips_and_validates(letter in letter_strategy()) {
        thread_local!(static SCHEMAS: Schemas = Schemas::load());
        SCHEMAS.with(|schemas| check(schemas, &letter));
    }
}
