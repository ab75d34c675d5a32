//! Decoder throughput on NDJSON files, one core.
//!
//! ```text
//! cargo run -p vbp-schemas --release --example decode_throughput -- FILE.ndjson...
//! cargo run -p vbp-schemas --release --example decode_throughput -- --synthetic 1000000
//! ```
//!
//! Files are read into memory first, so only decoding is timed. Prints
//! events/s, MB/s and the count of each outcome (accepted, or the reason).
//! `--synthetic N` decodes N generated lines (~250 bytes, all five types,
//! 1 in 100 deliberately bad) instead of files.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use vbp_schemas::{decode, DecodeLimits};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let input = match load(&args) {
        Ok(input) => input,
        Err(message) => {
            eprintln!("decode_throughput: {message}");
            eprintln!("usage: decode_throughput FILE.ndjson... | --synthetic N");
            return ExitCode::FAILURE;
        }
    };
    let lines: Vec<&[u8]> = input
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let limits = DecodeLimits::default();

    let mut outcomes: BTreeMap<&'static str, u64> = BTreeMap::new();
    let started = Instant::now();
    for line in &lines {
        let outcome = match decode(line, &limits) {
            Ok(event) => {
                std::hint::black_box(&event);
                "accepted"
            }
            Err(rejection) => rejection.reason.code(),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    let seconds = started.elapsed().as_secs_f64().max(f64::EPSILON);

    let n = lines.len() as f64;
    println!("lines      {}", lines.len());
    println!(
        "bytes      {bytes} (mean {:.0} per line)",
        bytes as f64 / n.max(1.0)
    );
    println!("elapsed    {seconds:.3} s");
    println!("events/s   {:.0}", n / seconds);
    println!("MB/s       {:.1}", bytes as f64 / seconds / 1e6);
    for (outcome, count) in outcomes {
        println!("  {outcome:<16} {count}");
    }
    ExitCode::SUCCESS
}

fn load(args: &[String]) -> Result<Vec<u8>, String> {
    match args {
        [] => Err("no input".to_owned()),
        [flag, n] if flag == "--synthetic" => {
            let n: usize = n.parse().map_err(|e| format!("--synthetic {n}: {e}"))?;
            Ok(synthetic(n))
        }
        files => {
            let mut all = Vec::new();
            for file in files {
                let mut bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
                if !bytes.ends_with(b"\n") {
                    bytes.push(b'\n');
                }
                all.extend_from_slice(&bytes);
            }
            Ok(all)
        }
    }
}

/// N lines cycling through the five types, with realistic codes and a
/// mix of decimal strings and numbers; every 100th line has a negative
/// payment amount (`bad_value`).
fn synthetic(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 260);
    for i in 0..n {
        let inst = format!("H6103{:07}", i % 20_000);
        let order = format!("ORD-{inst}-{:08}", i / 5);
        let delivery = format!("DLV-20260303-61-{:08}", i / 5);
        let at = format!(
            "2026-03-{:02}T{:02}:{:02}:{:02}+08:00",
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 60) % 60
        );
        let line = match i % 5 {
            0 => format!(
                r#"{{"event_id":"evt-{i:010}","type":"order.placed","occurred_at":"{at}","order_id":"{order}","institution_code":"{inst}","product_code":"XC10AAA124A001010100874","quantity_packs":"{}","unit_price":"{}.{:02}","special_service":false}}"#,
                1 + i % 500,
                1 + i % 90,
                i % 100
            ),
            1 => format!(
                r#"{{"event_id":"evt-{i:010}","type":"order.cancelled","occurred_at":"{at}","order_id":"{order}","quantity_packs":{}}}"#,
                1 + i % 7
            ),
            2 => format!(
                r#"{{"event_id":"evt-{i:010}","type":"delivery.received","occurred_at":"{at}","delivery_id":"{delivery}","order_id":"{order}","quantity_packs":"{}","distributor":"国药控股陕西有限公司"}}"#,
                1 + i % 500
            ),
            3 => format!(
                r#"{{"event_id":"evt-{i:010}","type":"delivery.accepted","occurred_at":"{at}","delivery_id":"{delivery}","order_id":"{order}","accepted_quantity_packs":{},"amount":"{}.{:02}"}}"#,
                i % 500,
                i % 9000,
                i % 100
            ),
            _ => format!(
                r#"{{"event_id":"evt-{i:010}","type":"payment.made","occurred_at":"{at}","payment_id":"PAY-{i:010}","institution_code":"{inst}","delivery_id":"{delivery}","amount":{}.{:02}}}"#,
                1 + i % 9000,
                i % 100
            ),
        };
        let line = if i % 100 == 99 {
            line.replacen("\"amount\":", "\"amount\":-", 1)
        } else {
            line
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}
