//! `bulwark journal verify | dump | stats`: read-only journal tools that print JSON lines, so that people can
//! grep and jq them. They read the segment files directly (no lock needed, nothing is modified) and use the
//! same scanner as recovery, so `verify` passes exactly when the gateway would start.

use crate::journal::format::{self, ScanEnd};
use bulwark_model::EventKind;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

fn torn_json(end: &ScanEnd) -> serde_json::Value {
    match &end.torn_tail {
        Some(t) => {
            json!({"segment": t.segment.display().to_string(), "offset": t.offset, "reason": t.reason})
        }
        None => serde_json::Value::Null,
    }
}

/// A missing directory is an error for the tools (a mistyped path must not "verify" as an empty journal).
fn require_dir(dir: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    if dir.is_dir() {
        return Ok(true);
    }
    writeln!(
        out,
        "{}",
        json!({"ok": false, "error": format!("journal directory {} does not exist", dir.display())})
    )?;
    Ok(false)
}

/// Checks every record (checksum, sequence, decodability). Returns whether the journal is sound.
pub fn verify(dir: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    if !require_dir(dir, out)? {
        return Ok(false);
    }
    let mut per_segment: BTreeMap<u64, (u64, u64, u64)> = BTreeMap::new();
    let mut decode_error = None;
    let result = format::scan(dir, |rec| {
        if let Err(e) = rec.decode() {
            decode_error.get_or_insert_with(|| {
                format!(
                    "record seq {} in {} at byte offset {} does not decode: {e}",
                    rec.seq,
                    format::segment_file_name(rec.segment),
                    rec.offset
                )
            });
        }
        let e = per_segment
            .entry(rec.segment)
            .or_insert((0, rec.seq, rec.seq));
        e.0 += 1;
        e.2 = rec.seq;
        Ok(())
    });
    for (segment, (records, first, last)) in &per_segment {
        writeln!(
            out,
            "{}",
            json!({"segment": format::segment_file_name(*segment), "records": records, "first_seq": first, "last_seq": last})
        )?;
    }
    match (result, decode_error) {
        (Ok(end), None) => {
            let records = end.next_seq - 1;
            let warning = end
                .torn_tail
                .as_ref()
                .map(|_| "torn final record: the gateway truncates it at start");
            writeln!(
                out,
                "{}",
                json!({"ok": true, "records": records, "next_seq": end.next_seq, "torn_tail": torn_json(&end), "warning": warning})
            )?;
            Ok(true)
        }
        (Ok(_), Some(e)) | (Err(format::ScanError::Visitor(e)), _) => {
            writeln!(out, "{}", json!({"ok": false, "error": e}))?;
            Ok(false)
        }
        (Err(e), _) => {
            writeln!(out, "{}", json!({"ok": false, "error": e.to_string()}))?;
            Ok(false)
        }
    }
}

/// Prints every record as one JSON object per line.
pub fn dump(dir: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    if !require_dir(dir, out)? {
        return Ok(false);
    }
    let mut io_error = None;
    let result = format::scan(dir, |rec| {
        let line = match rec.decode() {
            Ok(event) => json!({
                "seq": rec.seq,
                "ts_ns": rec.ts_ns,
                "kind": EventKind::from_u16(rec.kind).map_or("unknown", |k| k.as_str()),
                "event": event,
            }),
            Err(e) => {
                json!({"seq": rec.seq, "ts_ns": rec.ts_ns, "kind": rec.kind, "error": e.to_string()})
            }
        };
        if let Err(e) = writeln!(out, "{line}") {
            io_error = Some(e);
            return Err("output closed".into());
        }
        Ok(())
    });
    if let Some(e) = io_error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(true);
        }
        return Err(e);
    }
    match result {
        Ok(_) => Ok(true),
        Err(e) => {
            writeln!(out, "{}", json!({"ok": false, "error": e.to_string()}))?;
            Ok(false)
        }
    }
}

/// Prints counts by kind, sizes and the time range.
pub fn stats(dir: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    if !require_dir(dir, out)? {
        return Ok(false);
    }
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut payload_bytes = 0u64;
    let mut first_ts = None;
    let mut last_ts = None;
    let result = format::scan(dir, |rec| {
        *kinds
            .entry(EventKind::from_u16(rec.kind).map_or("unknown", |k| k.as_str()))
            .or_default() += 1;
        payload_bytes += rec.payload.len() as u64;
        first_ts.get_or_insert(rec.ts_ns);
        last_ts = Some(rec.ts_ns);
        Ok(())
    });
    let segments = format::list_segments(dir).map(|s| s.len()).unwrap_or(0);
    let file_bytes: u64 = format::list_segments(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|(_, p)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    match result {
        Ok(end) => {
            writeln!(
                out,
                "{}",
                json!({
                    "ok": true,
                    "segments": segments,
                    "records": end.next_seq - 1,
                    "kinds": kinds,
                    "payload_bytes": payload_bytes,
                    "segment_file_bytes": file_bytes,
                    "first_ts_ns": first_ts,
                    "last_ts_ns": last_ts,
                    "torn_tail": torn_json(&end),
                })
            )?;
            Ok(true)
        }
        Err(e) => {
            writeln!(out, "{}", json!({"ok": false, "error": e.to_string()}))?;
            Ok(false)
        }
    }
}
