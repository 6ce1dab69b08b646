//! Damaged journals, through the real binary: a torn final record starts with a warning and loses nothing
//! acknowledged; a flipped byte inside a segment refuses to start, naming the segment and the byte offset.
mod common;
use common::*;
use std::path::{Path, PathBuf};

/// Offsets of the committed records in a segment file (header 64 bytes, 8-aligned records, length first).
fn record_offsets(data: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 64;
    while at + 32 <= data.len() {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        offsets.push(at);
        at += (32 + len + 7) / 8 * 8;
    }
    offsets
}

fn last_segment(journal_dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(journal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bwj"))
        .collect();
    segs.sort();
    segs.pop().expect("a segment exists")
}

/// Starts a gateway, places a few acknowledged orders, stops it cleanly; returns the acknowledged order ids.
fn prepare(cfg: &Path) -> Vec<u64> {
    let gw = Gateway::start(cfg);
    let a = agent();
    let mut ids = Vec::new();
    for i in 0..20 {
        let body = format!(
            r#"{{"account":"DEMO-1","symbol":"AAPL","side":"buy","qty":{},"type":"limit","limit_price":"10.00","tif":"gtc","client_order_id":"dmg-{i}"}}"#,
            i + 1
        );
        let (s, j) = post(&a, &format!("{}/api/v1/orders", gw.base), &body);
        assert_eq!(s, 201, "{j}");
        ids.push(j["order_id"].as_u64().unwrap());
    }
    assert!(gw.terminate());
    ids
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    std::fs::write(&cfg, test_config(&dir.path().join("data"), "sync")).unwrap();
    let journal = dir.path().join("data/journal");
    (dir, cfg, journal)
}

#[test]
fn torn_final_record_starts_with_a_warning_and_loses_nothing_acknowledged() {
    let (_dir, cfg, journal) = setup();
    let ids = prepare(&cfg);
    // A power loss mid-write: the length of one more record reached the disk, half of its body did not.
    let seg = last_segment(&journal);
    let mut data = std::fs::read(&seg).unwrap();
    let offsets = record_offsets(&data);
    let last = *offsets.last().unwrap();
    let last_len = u32::from_le_bytes(data[last..last + 4].try_into().unwrap()) as usize;
    let torn_at = last + (32 + last_len + 7) / 8 * 8;
    data[torn_at..torn_at + 4].copy_from_slice(&40u32.to_le_bytes());
    data[torn_at + 4..torn_at + 20].fill(0xA5);
    std::fs::write(&seg, &data).unwrap();

    let (ok, lines) = journal_tool("verify", &journal);
    assert!(ok, "a torn tail is not corruption: {lines:?}");
    assert_eq!(lines.last().unwrap()["torn_tail"]["offset"], torn_at as u64);

    let gw = Gateway::start(&cfg);
    let log = gw.log();
    assert!(
        log.contains("torn final record") && log.contains(&format!("byte offset {torn_at}")),
        "{log}"
    );
    let a = agent();
    for id in &ids {
        let (s, j) = get(&a, &format!("{}/api/v1/orders/{id}", gw.base));
        assert_eq!(s, 200, "acknowledged order {id} lost: {j}");
        assert_eq!(j["status"], "new");
    }
    // The gateway keeps journaling after the truncation point.
    let (s, _) = post(
        &a,
        &format!("{}/api/v1/orders", gw.base),
        r#"{"account":"DEMO-1","symbol":"AAPL","side":"buy","qty":1,"type":"limit","limit_price":"9.00"}"#,
    );
    assert_eq!(s, 201);
    assert!(gw.terminate());
    let (ok, lines) = journal_tool("verify", &journal);
    assert!(
        ok && lines.last().unwrap()["torn_tail"].is_null(),
        "{lines:?}"
    );
}

#[test]
fn flipped_byte_inside_a_segment_refuses_to_start_naming_segment_and_offset() {
    let (_dir, cfg, journal) = setup();
    prepare(&cfg);
    let seg = last_segment(&journal);
    let mut data = std::fs::read(&seg).unwrap();
    let offsets = record_offsets(&data);
    assert!(offsets.len() > 10);
    let victim = offsets[offsets.len() / 2];
    data[victim + 36] ^= 0x01;
    std::fs::write(&seg, &data).unwrap();
    let name = seg.file_name().unwrap().to_str().unwrap().to_string();

    let log = match Gateway::try_start(&cfg) {
        Ok(_) => panic!("the gateway started on a corrupt journal"),
        Err(log) => log,
    };
    assert!(
        log.contains(&name) && log.contains(&format!("byte offset {victim}")),
        "{log}"
    );
    assert!(log.contains("checksum mismatch"), "{log}");

    let (ok, lines) = journal_tool("verify", &journal);
    assert!(!ok);
    let err = lines.last().unwrap()["error"].as_str().unwrap().to_string();
    assert!(
        err.contains(&name) && err.contains(&format!("byte offset {victim}")),
        "{err}"
    );
}
