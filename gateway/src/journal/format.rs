//! The on-disk layout of journal segments (documented byte by byte in `docs/journal.md`) and the scanner that
//! reads it back. A segment is a preallocated file: a 64-byte header, then 8-byte-aligned records, then zeros.
//! A record's first four bytes are its payload length, written last: zero means "no record here yet".
//! The scanner classifies every failure: a bad record in the last segment followed only by zeros is a torn
//! tail (safe to truncate); anything else is corruption, reported with the segment and byte offset.

use bulwark_model::codec;
use bulwark_model::Event;
use std::path::{Path, PathBuf};

pub const SEGMENT_MAGIC: [u8; 8] = *b"BWJRNL\0\x01";
pub const FORMAT_VERSION: u16 = 1;
pub const SEGMENT_HEADER_BYTES: usize = 64;
pub const RECORD_HEADER_BYTES: usize = 32;
pub const RECORD_ALIGN_BYTES: usize = 8;
/// Bytes of the largest record of a fixed-size (non-boot) event.
pub const FIXED_RECORD_BYTES: usize = record_span(bulwark_model::codec::FIXED_PAYLOAD_BYTES_MAX);
/// Largest payload one record may carry.
pub const RECORD_PAYLOAD_BYTES_MAX: usize = 4 << 20;
/// Smallest segment size accepted by config (room for the header and the largest record).
pub const SEGMENT_BYTES_MIN: u64 = 64 << 10;
pub const SEGMENT_FILE_PREFIX: &str = "segment-";
pub const SEGMENT_FILE_SUFFIX: &str = ".bwj";

/// Bytes a record with `payload_len` bytes of payload occupies.
pub const fn record_span(payload_len: usize) -> usize {
    (RECORD_HEADER_BYTES + payload_len).div_ceil(RECORD_ALIGN_BYTES) * RECORD_ALIGN_BYTES
}

pub fn segment_file_name(index: u64) -> String {
    format!("{SEGMENT_FILE_PREFIX}{index:010}{SEGMENT_FILE_SUFFIX}")
}

/// The segment header, bytes 0..64 of every segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub index: u64,
    pub first_seq: u64,
    pub segment_bytes: u64,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        let mut h = [0u8; SEGMENT_HEADER_BYTES];
        h[0..8].copy_from_slice(&SEGMENT_MAGIC);
        h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        h[10..12].copy_from_slice(&(SEGMENT_HEADER_BYTES as u16).to_le_bytes());
        h[16..24].copy_from_slice(&self.index.to_le_bytes());
        h[24..32].copy_from_slice(&self.first_seq.to_le_bytes());
        h[32..40].copy_from_slice(&self.segment_bytes.to_le_bytes());
        let crc = crc32c::crc32c(&h[0..60]);
        h[60..64].copy_from_slice(&crc.to_le_bytes());
        h
    }

    pub fn decode(h: &[u8]) -> Result<SegmentHeader, String> {
        if h.len() < SEGMENT_HEADER_BYTES {
            return Err(format!(
                "file is {} bytes, shorter than a segment header",
                h.len()
            ));
        }
        if h[0..8] != SEGMENT_MAGIC {
            return Err("bad magic: not a Bulwark journal segment".into());
        }
        let crc = u32_at(h, 60);
        if crc != crc32c::crc32c(&h[0..60]) {
            return Err("segment header checksum mismatch".into());
        }
        let version = u16::from_le_bytes([h[8], h[9]]);
        if version != FORMAT_VERSION {
            return Err(format!("segment format version {version} is not supported (this build reads {FORMAT_VERSION})"));
        }
        Ok(SegmentHeader {
            index: u64_at(h, 16),
            first_seq: u64_at(h, 24),
            segment_bytes: u64_at(h, 32),
        })
    }
}

pub fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}
pub fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Writes a record's header and checksum at the start of `dst`, whose payload (`payload_len` bytes from
/// offset [`RECORD_HEADER_BYTES`]) is already in place: everything except the length field, which the caller
/// publishes last. Bytes past the payload up to the record span must be zero.
#[inline]
pub fn write_record_header(
    dst: &mut [u8],
    seq: u64,
    ts_ns: i64,
    kind: u16,
    version: u16,
    payload_len: usize,
) {
    let end = RECORD_HEADER_BYTES + payload_len;
    dst[8..16].copy_from_slice(&seq.to_le_bytes());
    dst[16..24].copy_from_slice(&ts_ns.to_le_bytes());
    dst[24..26].copy_from_slice(&kind.to_le_bytes());
    dst[26..28].copy_from_slice(&version.to_le_bytes());
    dst[28..32].copy_from_slice(&0u32.to_le_bytes());
    let crc = record_crc(&dst[8..end]);
    dst[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// CRC32C (Castagnoli) of a record's checksummed bytes, equal to `crc32c::crc32c`. Records are short (under
/// 130 bytes), where the crate's general routine (split into aligned parts, chunked three-way loops, a byte loop
/// for the tail) costs more than the data: this one feeds 8-byte words, then 4, 2, 1 (SSE4.2, inlined into the
/// append; detected once). Anything else uses the crate.
#[inline]
pub fn record_crc(bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU has SSE4.2 (checked just above).
        return unsafe { crc32c_sse42(bytes) };
    }
    crc32c::crc32c(bytes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(bytes: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u16, _mm_crc32_u32, _mm_crc32_u64, _mm_crc32_u8};
    let mut crc = u64::from(u32::MAX);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        crc = _mm_crc32_u64(crc, u64::from_le_bytes(w.try_into().expect("8 bytes")));
    }
    let mut crc = crc as u32;
    let mut rest = words.remainder();
    if rest.len() >= 4 {
        crc = _mm_crc32_u32(
            crc,
            u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")),
        );
        rest = &rest[4..];
    }
    if rest.len() >= 2 {
        crc = _mm_crc32_u16(
            crc,
            u16::from_le_bytes(rest[..2].try_into().expect("2 bytes")),
        );
        rest = &rest[2..];
    }
    if let Some(&b) = rest.first() {
        crc = _mm_crc32_u8(crc, b);
    }
    !crc
}

/// One committed record as the scanner found it.
#[derive(Debug, Clone)]
pub struct RecordRef<'a> {
    pub segment: u64,
    pub offset: u64,
    pub seq: u64,
    pub ts_ns: i64,
    pub kind: u16,
    pub version: u16,
    pub payload: &'a [u8],
}

impl RecordRef<'_> {
    pub fn decode(&self) -> Result<Event, codec::CodecError> {
        codec::decode(self.kind, self.version, self.payload)
    }
}

/// Where the valid data of the journal ends and what lies beyond it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEnd {
    /// Index of the last segment, and the offset just past its last valid record.
    pub segment: u64,
    pub offset: u64,
    pub next_seq: u64,
    /// A torn final record that recovery truncates: (segment path, offset, why).
    pub torn_tail: Option<TornTail>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub segment: PathBuf,
    pub offset: u64,
    pub reason: String,
}

/// Scanner failures. Every variant names the file, and the byte offset where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("journal I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal segment {path} is corrupt: {reason}")]
    BadSegment { path: PathBuf, reason: String },
    #[error("journal segment {path} is corrupt at byte offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error(
        "journal segments are not contiguous: expected segment index {expected}, found {path}"
    )]
    MissingSegment { expected: u64, path: PathBuf },
    #[error("{0}")]
    Visitor(String),
}

/// Lists segment files in `dir` in index order.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, ScanError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ScanError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ScanError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(index) = name
            .strip_prefix(SEGMENT_FILE_PREFIX)
            .and_then(|n| n.strip_suffix(SEGMENT_FILE_SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        segments.push((index, entry.path()));
    }
    segments.sort();
    Ok(segments)
}

/// Reads every segment in order and calls `visit` for each committed record. Returns where the data ends.
/// Sequence numbers must run without gaps from 1; segment indices without gaps from 0.
pub fn scan(
    dir: &Path,
    mut visit: impl FnMut(&RecordRef<'_>) -> Result<(), String>,
) -> Result<ScanEnd, ScanError> {
    let segments = list_segments(dir)?;
    let mut next_seq = 1u64;
    let mut end = ScanEnd {
        segment: 0,
        offset: SEGMENT_HEADER_BYTES as u64,
        next_seq,
        torn_tail: None,
    };
    let count = segments.len();
    for (i, (index, path)) in segments.into_iter().enumerate() {
        if index != i as u64 {
            return Err(ScanError::MissingSegment {
                expected: i as u64,
                path,
            });
        }
        let is_last = i + 1 == count;
        let data = std::fs::read(&path).map_err(|source| ScanError::Io {
            path: path.clone(),
            source,
        })?;
        let header = SegmentHeader::decode(&data).map_err(|reason| ScanError::BadSegment {
            path: path.clone(),
            reason,
        })?;
        if header.index != index {
            return Err(ScanError::BadSegment {
                path,
                reason: format!("header says index {}, file name says {index}", header.index),
            });
        }
        let mut offset = SEGMENT_HEADER_BYTES;
        loop {
            if offset + RECORD_HEADER_BYTES > data.len() {
                break;
            }
            let len = u32_at(&data, offset) as usize;
            if len == 0 {
                // Nothing committed here. Anything nonzero beyond is an uncommitted write (len is written last).
                if let Some(junk) = first_nonzero(&data[offset..]) {
                    let reason = "uncommitted bytes after the last record".to_string();
                    if !is_last {
                        return Err(ScanError::Corrupt {
                            path,
                            offset: (offset + junk) as u64,
                            reason: format!("{reason} in a segment that is not the last"),
                        });
                    }
                    end.torn_tail = Some(TornTail {
                        segment: path.clone(),
                        offset: offset as u64,
                        reason,
                    });
                }
                break;
            }
            match check_record(&data, offset, len, next_seq) {
                Ok(rec) => {
                    let rec = RecordRef {
                        segment: index,
                        ..rec
                    };
                    visit(&rec).map_err(ScanError::Visitor)?;
                    next_seq += 1;
                    offset += record_span(len);
                }
                Err(reason) => {
                    // A torn tail: the last segment, and nothing but zeros past the bad record's extent.
                    let extent = if offset + record_span(len) <= data.len()
                        && len <= RECORD_PAYLOAD_BYTES_MAX
                    {
                        offset + record_span(len)
                    } else {
                        offset + RECORD_HEADER_BYTES
                    };
                    if is_last && first_nonzero(&data[extent..]).is_none() {
                        end.torn_tail = Some(TornTail {
                            segment: path.clone(),
                            offset: offset as u64,
                            reason,
                        });
                        break;
                    }
                    return Err(ScanError::Corrupt {
                        path,
                        offset: offset as u64,
                        reason,
                    });
                }
            }
        }
        end.segment = index;
        end.offset = offset as u64;
    }
    end.next_seq = next_seq;
    Ok(end)
}

fn check_record(
    data: &[u8],
    offset: usize,
    len: usize,
    expected_seq: u64,
) -> Result<RecordRef<'_>, String> {
    if len > RECORD_PAYLOAD_BYTES_MAX {
        return Err(format!(
            "record length {len} exceeds the maximum {RECORD_PAYLOAD_BYTES_MAX}"
        ));
    }
    let end = offset + RECORD_HEADER_BYTES + len;
    if end > data.len() {
        return Err(format!(
            "record length {len} runs past the end of the segment"
        ));
    }
    let stored = u32_at(data, offset + 4);
    let actual = record_crc(&data[offset + 8..end]);
    if stored != actual {
        return Err(format!(
            "record checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        ));
    }
    let seq = u64_at(data, offset + 8);
    if seq != expected_seq {
        return Err(format!("sequence {seq} where {expected_seq} was expected"));
    }
    Ok(RecordRef {
        segment: 0,
        offset: offset as u64,
        seq,
        ts_ns: u64_at(data, offset + 16) as i64,
        kind: u16::from_le_bytes([data[offset + 24], data[offset + 25]]),
        version: u16::from_le_bytes([data[offset + 26], data[offset + 27]]),
        payload: &data[offset + RECORD_HEADER_BYTES..end],
    })
}

fn first_nonzero(b: &[u8]) -> Option<usize> {
    b.iter().position(|&x| x != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_crc_equals_the_crc32c_crate_for_every_length_and_alignment() {
        let mut data = vec![0u8; 512];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for b in &mut data {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        for start in 0..8 {
            for len in 0..300 {
                let bytes = &data[start..start + len];
                assert_eq!(
                    record_crc(bytes),
                    crc32c::crc32c(bytes),
                    "start {start} len {len}"
                );
            }
        }
    }
}
