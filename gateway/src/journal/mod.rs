//! The write-ahead journal: append-only, preallocated, memory-mapped segment files under `<data_dir>/journal/`.
//! One writer (the sequencer thread) appends records; a record's length is published last, so a reader never
//! sees half a record. Durability is a policy ([`Durability`]): `none` (page cache: survives a process crash),
//! `interval` (a flusher thread fdatasyncs every N ms), `sync` (pipelined group commit: the sequencer submits
//! each batch to a syncer thread with [`Journal::submit_sync`] and releases the batch's outputs and answers
//! only once [`Journal::durable_ticket`] covers it; [`Journal::commit`] does the same inline). Any write or sync failure is sticky: the journal refuses
//! further appends and the sequencer halts trading. Opening recovers: every CRC is verified, a torn tail is
//! truncated with a warning, and corruption inside a segment is a fail-stop error naming segment and offset.
#![allow(unsafe_code)]

pub mod format;
mod prefault;
mod prepare;

use bulwark_model::codec;
use bulwark_model::Event;
use format::*;
use memmap2::{MmapMut, MmapOptions};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How durable an appended record is before the sequencer answers for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Written to the page cache only: survives a process crash, not a power loss or kernel crash.
    None,
    /// Written to the page cache and fdatasync'ed by a flusher every `interval_ms`: a power loss loses at most
    /// the last interval; a process crash loses nothing.
    Interval { interval_ms: u64 },
    /// Group commit: every batch is msync'ed before any of its outputs or answers leave. Survives power loss.
    Sync,
}

impl Durability {
    pub fn name(self) -> &'static str {
        match self {
            Durability::None => "none",
            Durability::Interval { .. } => "interval",
            Durability::Sync => "sync",
        }
    }
}

#[derive(Clone, Debug)]
pub struct JournalOptions {
    pub dir: PathBuf,
    pub segment_bytes: u64,
    pub durability: Durability,
}

/// Operating errors of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("journal I/O error: {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal record of {0} bytes exceeds the maximum payload")]
    RecordTooLarge(usize),
    #[error("journal failed earlier and accepts no more writes: {0}")]
    Failed(String),
}

/// What recovery found.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    pub records: u64,
    pub segments: u64,
    pub torn_tail: Option<TornTail>,
}

struct Segment {
    index: u64,
    path: PathBuf,
    file: Arc<File>,
    map: MmapMut,
    /// Offset where the next record goes.
    write_offset: usize,
    /// Offset up to which data is known durable (sync policy).
    synced_offset: usize,
}

/// The journal writer. Owned by the sequencer thread; `Send` but used from one thread at a time.
pub struct Journal {
    options: JournalOptions,
    active: Segment,
    next_seq: u64,
    scratch: Vec<u8>,
    /// The file the interval flusher syncs, swapped on rollover.
    flush_target: Arc<Mutex<Arc<File>>>,
    /// Set by the flusher when a background sync fails.
    background_failed: Arc<AtomicBool>,
    failed: Option<String>,
    stop_flusher: Arc<AtomicBool>,
    flusher: Option<std::thread::JoinHandle<()>>,
    /// `sync` only: the pipelined group commit's syncer thread.
    pipe: Option<SyncPipe>,
    /// `none` only: faults the pages ahead of the writer in as writable (see [`prefault`]).
    prefault: Option<prefault::Prefaulter>,
    /// Makes the next segment while this one fills (see [`prepare`]).
    preparer: Option<prepare::Preparer>,
}

/// Pipelined group commit (`sync`): the sequencer hands "make everything so far durable" to a syncer thread as
/// a numbered ticket and goes on with the next batch while the disk works; the syncer coalesces waiting
/// tickets into one fdatasync and publishes the highest ticket that is durable. The sequencer holds each
/// batch's outputs and answers until its ticket is durable, so nothing leaves before it is on disk.
struct SyncPipe {
    tx: crossbeam_channel::Sender<(u64, Arc<File>)>,
    durable: Arc<AtomicU64>,
    done: crossbeam_channel::Receiver<()>,
    handle: Option<std::thread::JoinHandle<()>>,
    /// The last ticket handed to the syncer, and the (segment, offset) it covers.
    submitted: u64,
    submitted_at: (u64, usize),
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.options.dir)
            .field("segment", &self.active.index)
            .field("offset", &self.active.write_offset)
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> JournalError + 'a {
    move |source| JournalError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

impl Journal {
    /// Opens (creating if needed) the journal in `options.dir`, calling `replay` for every committed event in
    /// order. A torn tail is zeroed (and reported); corruption is an error and nothing is opened.
    pub fn open(
        options: JournalOptions,
        mut replay: impl FnMut(u64, i64, Event) -> Result<(), String>,
    ) -> Result<(Journal, RecoveryReport), JournalError> {
        assert!(
            options.segment_bytes >= SEGMENT_BYTES_MIN,
            "segment_bytes below SEGMENT_BYTES_MIN"
        );
        std::fs::create_dir_all(&options.dir).map_err(io("create directory", &options.dir))?;
        let mut records = 0u64;
        let end = scan(&options.dir, |rec| {
            let event = rec.decode().map_err(|e| {
                format!(
                    "journal record seq {} in segment {} at byte offset {} does not decode: {e}",
                    rec.seq,
                    segment_file_name(rec.segment),
                    rec.offset
                )
            })?;
            records += 1;
            replay(rec.seq, rec.ts_ns, event)
        })?;
        let segments = list_segments(&options.dir)?;
        let active = if segments.is_empty() {
            create_segment(&options.dir, 0, 1, options.segment_bytes)?
        } else {
            let seg = open_segment(&options.dir, end.segment, end.offset as usize)?;
            if end.torn_tail.is_some() {
                // Zero everything past the last good record so that later records never meet stale bytes.
                let mut seg = seg;
                let from = seg.write_offset;
                seg.map[from..].fill(0);
                seg.map.flush().map_err(io("msync", &seg.path))?;
                seg
            } else {
                seg
            }
        };
        let flush_target = Arc::new(Mutex::new(active.file.clone()));
        let mut journal = Journal {
            options: options.clone(),
            active,
            next_seq: end.next_seq,
            scratch: Vec::with_capacity(4096),
            flush_target,
            background_failed: Arc::new(AtomicBool::new(false)),
            failed: None,
            stop_flusher: Arc::new(AtomicBool::new(false)),
            flusher: None,
            pipe: None,
            prefault: None,
            preparer: None,
        };
        match options.durability {
            Durability::Interval { interval_ms } => journal.start_flusher(interval_ms),
            Durability::Sync => journal.start_syncer(),
            Durability::None => match prefault::Prefaulter::start() {
                Ok(mut p) => {
                    p.advance(&journal.active.map, journal.active.write_offset);
                    journal.prefault = Some(p);
                }
                Err(e) => tracing::warn!("journal write prefaulting is off (no thread: {e})"),
            },
        }
        match prepare::Preparer::start(options.dir.clone(), options.segment_bytes) {
            Ok(mut p) => {
                p.request(journal.active.index + 1);
                journal.preparer = Some(p);
            }
            Err(e) => tracing::warn!("journal segments are not prepared ahead (no thread: {e})"),
        }
        let report = RecoveryReport {
            records,
            segments: segments.len().max(1) as u64,
            torn_tail: end.torn_tail,
        };
        Ok((journal, report))
    }

    fn start_flusher(&mut self, interval_ms: u64) {
        let target = self.flush_target.clone();
        let failed = self.background_failed.clone();
        let stop = self.stop_flusher.clone();
        let handle = std::thread::Builder::new()
            .name("journal-flusher".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(interval_ms));
                    let file = match target.lock() {
                        Ok(f) => f.clone(),
                        Err(_) => break,
                    };
                    if let Err(e) = file.sync_data() {
                        tracing::error!("journal background fdatasync failed: {e}; trading halts");
                        failed.store(true, Ordering::SeqCst);
                        break;
                    }
                }
            })
            .expect("spawn the journal flusher thread");
        self.flusher = Some(handle);
    }

    fn start_syncer(&mut self) {
        let (tx, rx) = crossbeam_channel::unbounded::<(u64, Arc<File>)>();
        let (done_tx, done) = crossbeam_channel::bounded::<()>(1);
        let durable = Arc::new(AtomicU64::new(0));
        let published = durable.clone();
        let failed = self.background_failed.clone();
        let handle = std::thread::Builder::new()
            .name("journal-syncer".into())
            .spawn(move || {
                while let Ok((mut ticket, mut file)) = rx.recv() {
                    // Every ticket waiting now is covered by one sync of the newest file (a rollover syncs the
                    // old segment itself before the new one takes records).
                    while let Ok((t, f)) = rx.try_recv() {
                        ticket = t;
                        file = f;
                    }
                    if let Err(e) = file.sync_data() {
                        tracing::error!("journal fdatasync failed: {e}; trading halts");
                        failed.store(true, Ordering::SeqCst);
                        let _ = done_tx.try_send(());
                        break;
                    }
                    published.store(ticket, Ordering::Release);
                    let _ = done_tx.try_send(());
                }
            })
            .expect("spawn the journal syncer thread");
        self.pipe = Some(SyncPipe {
            tx,
            durable,
            done,
            handle: Some(handle),
            submitted: 0,
            submitted_at: (self.active.index, self.active.write_offset),
        });
    }

    /// `sync`: hands everything appended so far to the syncer and returns its ticket (the previous one when
    /// nothing was appended since). Other policies: 0, which [`Journal::durable_ticket`] always covers.
    pub fn submit_sync(&mut self) -> Result<u64, JournalError> {
        if let Some(f) = self.failure() {
            return Err(JournalError::Failed(f.to_string()));
        }
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(0);
        };
        let seg = &self.active;
        let at = (seg.index, seg.write_offset);
        if at != pipe.submitted_at {
            pipe.submitted += 1;
            if pipe.tx.send((pipe.submitted, seg.file.clone())).is_err() {
                let path = seg.path.clone();
                return Err(self.fail(JournalError::Io {
                    op: "fdatasync",
                    path,
                    source: std::io::Error::other("the journal syncer thread stopped"),
                }));
            }
            pipe.submitted_at = at;
        }
        Ok(pipe.submitted)
    }

    /// Whether the next segment, prepared in the background, is ready for the rollover (benches wait for it
    /// before timing, so that they time appends and not the zero-fill of a fresh journal's spare segment).
    pub fn next_segment_ready(&self) -> bool {
        self.preparer.as_ref().is_some_and(|p| p.ready())
    }

    /// The highest ticket known durable (`u64::MAX` when the policy has no syncer).
    pub fn durable_ticket(&self) -> u64 {
        self.pipe
            .as_ref()
            .map_or(u64::MAX, |p| p.durable.load(Ordering::Acquire))
    }

    /// Signals (coalesced) each time the syncer finishes a sync; `None` without a syncer.
    pub fn sync_done(&self) -> Option<&crossbeam_channel::Receiver<()>> {
        self.pipe.as_ref().map(|p| &p.done)
    }

    /// Whether [`Journal::submit_sync`] pipelines (the `sync` policy).
    pub fn pipelined(&self) -> bool {
        self.pipe.is_some()
    }

    pub fn durability(&self) -> Durability {
        self.options.durability
    }
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
    pub fn dir(&self) -> &Path {
        &self.options.dir
    }

    /// The sticky failure, if a write or sync ever failed.
    pub fn failure(&mut self) -> Option<&str> {
        if self.failed.is_none() && self.background_failed.load(Ordering::SeqCst) {
            self.failed = Some("background fdatasync failed".into());
        }
        self.failed.as_deref()
    }

    fn fail(&mut self, e: JournalError) -> JournalError {
        self.failed = Some(e.to_string());
        e
    }

    /// For the sequencer's idle spin, under `none`: takes the write fault of one page just ahead of the write
    /// offset, so that a later append does not (see `prefault::Prefaulter::step_on_writer`). Returns whether
    /// there was one to take; a no-op under the other policies.
    pub fn prefault_idle_step(&mut self) -> bool {
        match &mut self.prefault {
            Some(p) => p.step_on_writer(&self.active.map, self.active.write_offset),
            None => false,
        }
    }

    /// For the sequencer about to park: its next idle steps check the pages ahead again from the write offset
    /// (see `prefault::Prefaulter::rewind_steps`).
    pub fn prefault_rewind(&mut self) {
        if let Some(p) = &mut self.prefault {
            p.rewind_steps();
        }
    }

    /// Appends one event with its edge timestamp; returns its sequence number. Not yet durable under `sync`
    /// until [`Journal::commit`]. A fixed-size event is encoded and checksummed in a stack buffer (reading
    /// the record back from the mapping for the checksum stalled on the stores' cache misses), copied into the
    /// mapping in one constant-size piece (past the record it writes only zeros over zeros: segments are
    /// zero-filled and a torn tail is zeroed at recovery), and committed by publishing its length last; the
    /// next records' cache lines are prefetched. Boot and audit records (variable length) are assembled in a
    /// reusable scratch buffer.
    pub fn append(&mut self, ts_ns: i64, event: &Event) -> Result<u64, JournalError> {
        if let Some(f) = self.failure() {
            return Err(JournalError::Failed(f.to_string()));
        }
        let at = self.active.write_offset;
        if event.is_variable_length() || at + FIXED_RECORD_BYTES > self.active.map.len() {
            return self.append_slow(ts_ns, event);
        }
        let mut record = [0u8; FIXED_RECORD_BYTES];
        let len = codec::encode_into(event, &mut record[RECORD_HEADER_BYTES..]);
        let seq = self.seal(&mut record, ts_ns, event, len);
        // The whole buffer, a constant size the compiler copies inline (no call to memmove): past the record it
        // only writes zeros over the zeros after the write offset.
        let dst: &mut [u8; FIXED_RECORD_BYTES] = (&mut self.active.map
            [at..at + FIXED_RECORD_BYTES])
            .try_into()
            .expect("a fixed-size record");
        dst[4..].copy_from_slice(&record[4..]);
        self.publish(len);
        Ok(seq)
    }

    /// Writes the header of `record` (payload of `len` bytes in place) with the next sequence number, which it
    /// returns. The caller then copies `record` but its length field to the write offset and calls
    /// [`Journal::publish`].
    #[inline]
    fn seal(&self, record: &mut [u8], ts_ns: i64, event: &Event, len: usize) -> u64 {
        write_record_header(
            record,
            self.next_seq,
            ts_ns,
            event.kind() as u16,
            codec::CODEC_VERSION,
            len,
        );
        self.next_seq
    }

    /// Commits the record copied at the write offset by publishing its length (`len` bytes of payload), and
    /// moves on. The caller has made sure the record fits the active segment.
    #[inline]
    fn publish(&mut self, len: usize) {
        let at = self.active.write_offset;
        publish_length(&mut self.active.map[at..at + 4], len);
        self.active.write_offset = at + record_span(len);
        self.next_seq += 1;
        prefetch_for_write(&self.active.map, self.active.write_offset);
        if let Some(p) = &mut self.prefault {
            p.advance(&self.active.map, self.active.write_offset);
        }
    }

    /// [`Journal::append`] for variable-length records and for a record that may not fit the active segment.
    #[cold]
    fn append_slow(&mut self, ts_ns: i64, event: &Event) -> Result<u64, JournalError> {
        let mut fixed = [0u8; FIXED_RECORD_BYTES];
        let mut scratch = std::mem::take(&mut self.scratch);
        let boot = event.is_variable_length();
        let len = if boot {
            scratch.clear();
            scratch.resize(RECORD_HEADER_BYTES, 0);
            codec::encode(event, &mut scratch);
            scratch.len() - RECORD_HEADER_BYTES
        } else {
            codec::encode_into(event, &mut fixed[RECORD_HEADER_BYTES..])
        };
        let span = record_span(len);
        if len > RECORD_PAYLOAD_BYTES_MAX || span + SEGMENT_HEADER_BYTES > self.active.map.len() {
            self.scratch = scratch;
            return Err(JournalError::RecordTooLarge(len));
        }
        if self.active.write_offset + span > self.active.map.len() {
            if let Err(e) = self.roll() {
                self.scratch = scratch;
                return Err(self.fail(e));
            }
        }
        let record: &mut [u8] = if boot {
            scratch.resize(span, 0);
            &mut scratch[..]
        } else {
            &mut fixed[..span]
        };
        let seq = self.seal(record, ts_ns, event, len);
        let at = self.active.write_offset;
        self.active.map[at + 4..at + record.len()].copy_from_slice(&record[4..]);
        self.publish(len);
        self.scratch = scratch;
        Ok(seq)
    }

    /// Makes everything appended so far as durable as the policy promises (msync under `sync`; nothing to do
    /// under `none` and `interval`).
    pub fn commit(&mut self) -> Result<(), JournalError> {
        if let Some(f) = self.failure() {
            return Err(JournalError::Failed(f.to_string()));
        }
        if self.options.durability != Durability::Sync {
            return Ok(());
        }
        let seg = &mut self.active;
        if seg.write_offset > seg.synced_offset {
            let r = seg
                .map
                .flush_range(seg.synced_offset, seg.write_offset - seg.synced_offset);
            if let Err(source) = r {
                let path = seg.path.clone();
                return Err(self.fail(JournalError::Io {
                    op: "msync",
                    path,
                    source,
                }));
            }
            seg.synced_offset = seg.write_offset;
        }
        Ok(())
    }

    /// Flushes everything (used at shutdown, whatever the policy).
    pub fn sync_all(&mut self) -> Result<(), JournalError> {
        let path = self.active.path.clone();
        self.active.map.flush().map_err(io("msync", &path))?;
        self.active.synced_offset = self.active.write_offset;
        Ok(())
    }

    fn roll(&mut self) -> Result<(), JournalError> {
        // The old segment is made durable before the new one takes records, under every policy but `none`.
        let durable = self.options.durability != Durability::None;
        if durable {
            let path = self.active.path.clone();
            self.active.map.flush().map_err(io("msync", &path))?;
        }
        let index = self.active.index + 1;
        let prepared = self.preparer.as_mut().and_then(|p| p.take(index));
        let next = match prepared {
            Some(p) => finish_segment(
                &self.options.dir,
                p,
                self.next_seq,
                self.options.segment_bytes,
                durable,
            )?,
            None => create_segment(
                &self.options.dir,
                index,
                self.next_seq,
                self.options.segment_bytes,
            )?,
        };
        if let Ok(mut target) = self.flush_target.lock() {
            *target = next.file.clone();
        }
        let old = std::mem::replace(&mut self.active, next);
        if let Some(p) = &mut self.prefault {
            p.retire(old.map);
            p.advance(&self.active.map, self.active.write_offset);
        } else if let Some(p) = &self.preparer {
            p.unmap_later(old.map);
        }
        if let Some(p) = &mut self.preparer {
            p.request(index + 1);
        }
        Ok(())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // First: the prefault thread may be working inside the active mapping, which drops with the fields.
        drop(self.prefault.take());
        drop(self.preparer.take());
        self.stop_flusher.store(true, Ordering::Relaxed);
        if let Some(h) = self.flusher.take() {
            let _ = h.join();
        }
        if let Some(mut pipe) = self.pipe.take() {
            let (dead, _) = crossbeam_channel::bounded(1);
            drop(std::mem::replace(&mut pipe.tx, dead));
            if let Some(h) = pipe.handle.take() {
                let _ = h.join();
            }
        }
    }
}

/// How far ahead of the write offset the next records' cache lines are prefetched, in bytes.
const PREFETCH_AHEAD_BYTES: usize = 512;

/// Asks the CPU to bring the two cache lines at `offset` of the mapping in, so that the record written there
/// a few appends later does not wait for memory. Also across a page boundary: there the prefetch makes the
/// page walk for the next page early, off the append that first writes it (measured on an Intel VM, where the
/// nested page walk had put about 1 append in 51 past 150 ns: p99 147-190 ns without it, 95-129 ns with it).
#[inline]
fn prefetch_for_write(map: &MmapMut, write_offset: usize) {
    let offset = write_offset + PREFETCH_AHEAD_BYTES;
    #[cfg(target_arch = "x86_64")]
    if offset + 128 <= map.len() {
        // SAFETY: both addresses are inside the mapping (checked above); a prefetch has no architectural effect.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0};
            let p = map.as_ptr().add(offset).cast::<i8>();
            _mm_prefetch::<_MM_HINT_ET0>(p);
            _mm_prefetch::<_MM_HINT_ET0>(p.add(64));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (map, offset);
}

/// Commits a record whose body is in place: stores its length in its first 4 bytes, last.
#[inline]
fn publish_length(dst: &mut [u8], len: usize) {
    assert!(dst.len() >= 4);
    let len_ptr = dst.as_mut_ptr().cast::<u32>();
    // SAFETY: `len_ptr` points at the first 4 bytes of this record inside the live mapping (checked above);
    // record offsets are multiples of 8 from a page-aligned base, so it is 4-aligned. Only this thread writes
    // the mapping. The Release store orders the body before the length, which is what makes the length the
    // commit marker.
    unsafe { AtomicU32::from_ptr(len_ptr) }.store(len as u32, Ordering::Release);
}

fn map_file(file: &File, path: &Path) -> Result<MmapMut, JournalError> {
    // Populate: fault every page in now, so appends never take a page fault on the sequencer's hot path.
    // SAFETY: the segment file is owned by this process (one journal writer per data dir, guarded by the lock
    // file the gateway takes) and is never truncated while mapped, so the mapping stays valid for its lifetime.
    unsafe { MmapOptions::new().populate().map_mut(file) }.map_err(io("mmap", path))
}

/// A segment file made but not yet in place: `….bwj.tmp`, preallocated, zero-filled and synced, mapped.
pub(crate) struct PreparedSegment {
    index: u64,
    tmp: PathBuf,
    file: File,
    map: MmapMut,
}

/// Makes segment `index` as a `.tmp` file: blocks reserved, zeros written and synced, mapped and populated.
pub(crate) fn prepare_segment_file(
    dir: &Path,
    index: u64,
    segment_bytes: u64,
) -> Result<PreparedSegment, JournalError> {
    let tmp = dir.join(format!("{}.tmp", segment_file_name(index)));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io("create", &tmp))?;
    // Reserve real blocks now, so a full disk fails here and not as SIGBUS on a later write into the map.
    match rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, segment_bytes) {
        Ok(()) => {}
        Err(rustix::io::Errno::OPNOTSUPP) => {
            file.set_len(segment_bytes).map_err(io("set_len", &tmp))?
        }
        Err(e) => {
            return Err(JournalError::Io {
                op: "fallocate",
                path: tmp,
                source: e.into(),
            })
        }
    }
    // Write the zeros for real: fallocate leaves "unwritten" extents, and the first sync of each page written
    // through the map would then also convert its extent, a synchronous metadata write per sync (measured:
    // most of the cost of a group commit on ext4). Written once here, every later sync is data only.
    zero_fill(&file, segment_bytes).map_err(io("zero-fill", &tmp))?;
    let map = map_file(&file, &tmp)?;
    Ok(PreparedSegment {
        index,
        tmp,
        file,
        map,
    })
}

/// Puts a prepared segment in place as the segment starting at `first_seq`: its header (always synced), then
/// the rename (file and directory synced too when `durable`).
fn finish_segment(
    dir: &Path,
    prepared: PreparedSegment,
    first_seq: u64,
    segment_bytes: u64,
    durable: bool,
) -> Result<Segment, JournalError> {
    let PreparedSegment {
        index,
        tmp,
        file,
        mut map,
    } = prepared;
    let path = dir.join(segment_file_name(index));
    let header = SegmentHeader {
        index,
        first_seq,
        segment_bytes,
    };
    map[..SEGMENT_HEADER_BYTES].copy_from_slice(&header.encode());
    // The header is on disk before the name, under every policy: a power loss must never leave a segment file
    // whose header is zeros (recovery would refuse to start), only a `.tmp` file or a complete header.
    map.flush_range(0, SEGMENT_HEADER_BYTES)
        .map_err(io("msync", &tmp))?;
    if durable {
        file.sync_all().map_err(io("fsync", &tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
    if durable {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync directory", dir))?;
    }
    Ok(Segment {
        index,
        path,
        file: Arc::new(file),
        map,
        write_offset: SEGMENT_HEADER_BYTES,
        synced_offset: SEGMENT_HEADER_BYTES,
    })
}

/// Makes segment `index` in place, synced, at once (the first segment, or when none was prepared).
fn create_segment(
    dir: &Path,
    index: u64,
    first_seq: u64,
    segment_bytes: u64,
) -> Result<Segment, JournalError> {
    finish_segment(
        dir,
        prepare_segment_file(dir, index, segment_bytes)?,
        first_seq,
        segment_bytes,
        true,
    )
}

fn zero_fill(file: &File, bytes: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let chunk = vec![0u8; 1 << 20];
    let mut f = file;
    f.seek(SeekFrom::Start(0))?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    f.sync_data()
}

fn open_segment(dir: &Path, index: u64, write_offset: usize) -> Result<Segment, JournalError> {
    let path = dir.join(segment_file_name(index));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io("open", &path))?;
    let map = map_file(&file, &path)?;
    Ok(Segment {
        index,
        path,
        file: Arc::new(file),
        map,
        write_offset,
        synced_offset: write_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_model::{Control, PriceUpdate, Px, SymbolId, LEVEL_ADMIN};

    fn opts(dir: &Path, durability: Durability) -> JournalOptions {
        JournalOptions {
            dir: dir.to_path_buf(),
            segment_bytes: SEGMENT_BYTES_MIN,
            durability,
        }
    }

    fn price(i: i64) -> Event {
        Event::Price(PriceUpdate {
            symbol: SymbolId(1),
            px: Px::from_units(i),
        })
    }

    fn read_all(dir: &Path) -> Vec<(u64, i64, Event)> {
        let mut v = Vec::new();
        let (_j, _) = Journal::open(opts(dir, Durability::None), |s, t, e| {
            v.push((s, t, e));
            Ok(())
        })
        .expect("opens");
        v
    }

    /// Idle steps until there is nothing within reach, with where the last one ended.
    fn steps_until_idle(j: &mut Journal) -> (usize, usize) {
        let n = (0..100_000).take_while(|_| j.prefault_idle_step()).count();
        (n, j.prefault.as_ref().map_or(0, |p| p.stepped_to()))
    }

    /// The pages idle steps should take from the write offset `at` in a segment of `len` bytes: whole pages from
    /// the first page boundary at or after `at`, while they start within the 64 KiB reach and inside the segment.
    fn expected_steps(at: usize, len: usize, page: usize) -> usize {
        let first = at.div_ceil(page) * page;
        (first..len)
            .step_by(page)
            .take_while(|p| *p < at + prefault::IDLE_PREFAULT_AHEAD_BYTES)
            .count()
    }

    #[test]
    fn idle_prefault_steps_stay_ahead_of_the_writer_and_change_no_record() {
        // A segment that is not a whole number of pages: there the segment's end stops the steps, and the last
        // one is a partial page.
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(dir.path(), Durability::None);
        o.segment_bytes = SEGMENT_BYTES_MIN + 1000;
        let (mut j, _) = Journal::open(o, |_, _, _| Ok(())).unwrap();
        let page = j.prefault.as_ref().unwrap().page_bytes();
        let (at, len) = (j.active.write_offset, j.active.map.len());
        let (n, to) = steps_until_idle(&mut j);
        if !j.prefault.as_ref().unwrap().step_supported() {
            // A kernel without MADV_POPULATE_WRITE: one refused step turns stepping off, appends still work.
            assert_eq!(n, 1);
            assert!(!j.prefault_idle_step());
            j.append(0, &price(0)).unwrap();
            return;
        }
        assert_eq!(n, expected_steps(at, len, page));
        assert_eq!(to, len, "the last step ends at the segment's end");
        assert!(!j.prefault_idle_step(), "nothing left within reach");
        // Fill past a rollover: every step stays ahead of the writer and within reach; after the rollover the
        // steps start again on the new segment.
        let mut n = 0i64;
        let mut stepped_after_roll = 0;
        while j.active.index == 0 || n < 2_000 {
            j.append(n, &price(n)).unwrap();
            n += 1;
            let (steps, to) = steps_until_idle(&mut j);
            if j.active.index > 0 {
                stepped_after_roll += steps;
            }
            let at = j.active.write_offset;
            assert!(
                to == 0 || to > at,
                "steps end ahead of the write offset ({to} <= {at})"
            );
            assert!(to <= (at + prefault::IDLE_PREFAULT_AHEAD_BYTES).div_ceil(page) * page + page);
        }
        assert!(j.active.index >= 1);
        assert!(stepped_after_roll > 0, "steps resumed on the new segment");
        // Parking rewinds: the pages within reach are checked again.
        j.prefault_rewind();
        let (again, _) = steps_until_idle(&mut j);
        assert_eq!(
            again,
            expected_steps(j.active.write_offset, j.active.map.len(), page)
        );
        drop(j);
        let back = read_all(dir.path());
        assert_eq!(back.len() as i64, n);
        assert!(back
            .iter()
            .enumerate()
            .all(|(i, (_, t, e))| *t == i as i64 && *e == price(i as i64)));

        // A segment longer than the reach: the 64 KiB reach stops the steps, not the segment's end.
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(dir.path(), Durability::None);
        o.segment_bytes = 1 << 20;
        let (mut j, _) = Journal::open(o, |_, _, _| Ok(())).unwrap();
        let (at, len) = (j.active.write_offset, j.active.map.len());
        let (n, to) = steps_until_idle(&mut j);
        assert_eq!(n, expected_steps(at, len, page));
        assert!(to < len && to >= at + prefault::IDLE_PREFAULT_AHEAD_BYTES - page);

        // Under the other policies there is no prefaulting, and a step or a rewind changes nothing.
        for durability in [Durability::Interval { interval_ms: 5 }, Durability::Sync] {
            let dir = tempfile::tempdir().unwrap();
            let (mut s, _) = Journal::open(opts(dir.path(), durability), |_, _, _| Ok(())).unwrap();
            assert!(!s.prefault_idle_step());
            s.prefault_rewind();
            assert!(!s.prefault_idle_step());
        }
    }

    #[test]
    fn pipelined_sync_tickets_become_durable_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) =
            Journal::open(opts(dir.path(), Durability::Sync), |_, _, _| Ok(())).unwrap();
        assert!(j.pipelined());
        assert_eq!(j.submit_sync().unwrap(), 0, "nothing appended, no ticket");
        let mut last = 0;
        for i in 0..2000 {
            j.append(i, &price(i)).unwrap();
            let t = j.submit_sync().unwrap();
            assert_eq!(t, last + 1, "one new ticket per batch with records");
            last = t;
            // Tickets for segments left behind by a rollover are covered too.
        }
        assert_eq!(
            j.submit_sync().unwrap(),
            last,
            "no new records, same ticket"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while j.durable_ticket() < last {
            assert!(
                std::time::Instant::now() < deadline,
                "syncer never caught up"
            );
            let _ = j
                .sync_done()
                .unwrap()
                .recv_timeout(Duration::from_millis(100));
        }
        assert_eq!(j.durable_ticket(), last);
        let (j2, _) = Journal::open(opts(dir.path(), Durability::None), |_, _, _| Ok(())).unwrap();
        assert!(!j2.pipelined());
        assert_eq!(j2.durable_ticket(), u64::MAX);
        drop(j);
        assert_eq!(read_all(dir.path()).len(), 2000);
    }

    #[test]
    fn the_next_segment_is_prepared_ahead_and_a_stale_prepared_file_is_no_segment() {
        let dir = tempfile::tempdir().unwrap();
        for policy in [Durability::None, Durability::Sync] {
            let sub = dir.path().join(policy.name());
            let (mut j, _) = Journal::open(opts(&sub, policy), |_, _, _| Ok(())).unwrap();
            for i in 0..3000 {
                j.append(i, &price(i)).unwrap();
            }
            let last = j.active.index;
            assert!(last >= 2, "the test needs rollovers");
            drop(j);
            let tmp = sub.join(format!("{}.tmp", segment_file_name(last + 1)));
            assert!(tmp.exists(), "segment {} was prepared ahead", last + 1);
            // A crash while preparing leaves a half-made file: it is not a segment, and is made again.
            std::fs::write(&tmp, b"half-made segment").unwrap();
            assert_eq!(read_all(&sub).len(), 3000);
            let (mut j, rep) = Journal::open(opts(&sub, policy), |_, _, _| Ok(())).unwrap();
            assert_eq!(rep.records, 3000);
            for i in 3000..6000 {
                j.append(i, &price(i)).unwrap();
            }
            assert!(j.active.index > last + 1, "rolled onto the remade segment");
            drop(j);
            let all = read_all(&sub);
            assert_eq!(all.len(), 6000);
            assert!(all
                .iter()
                .enumerate()
                .all(|(k, (seq, ts, _))| *seq == k as u64 + 1 && *ts == k as i64));
        }
    }

    #[test]
    fn appends_survive_reopen_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        for policy in [
            Durability::None,
            Durability::Sync,
            Durability::Interval { interval_ms: 1 },
        ] {
            let sub = dir.path().join(policy.name());
            let (mut j, rep) = Journal::open(opts(&sub, policy), |_, _, _| Ok(())).unwrap();
            assert_eq!(rep.records, 0);
            for i in 0..5000 {
                j.append(i, &price(i)).unwrap();
                j.commit().unwrap();
            }
            drop(j);
            let all = read_all(&sub);
            assert_eq!(all.len(), 5000);
            assert!(
                list_segments(&sub).unwrap().len() > 1,
                "5000 records span several 64 KiB segments"
            );
            for (i, (seq, ts, ev)) in all.iter().enumerate() {
                assert_eq!(*seq, i as u64 + 1);
                assert_eq!(*ts, i as i64);
                assert_eq!(*ev, price(i as i64));
            }
            // Appending after reopen continues the sequence.
            let (mut j, _) = Journal::open(opts(&sub, policy), |_, _, _| Ok(())).unwrap();
            assert_eq!(j.append(0, &price(1)).unwrap(), 5001);
        }
    }

    #[test]
    fn torn_tail_is_truncated_with_a_report() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) =
            Journal::open(opts(dir.path(), Durability::Sync), |_, _, _| Ok(())).unwrap();
        for i in 0..10 {
            j.append(i, &price(i)).unwrap();
        }
        j.commit().unwrap();
        let last_offset = j.active.write_offset - record_span(12);
        drop(j);
        // Tear the last record: its length is on disk but half its payload is not.
        let path = dir.path().join(segment_file_name(0));
        let mut data = std::fs::read(&path).unwrap();
        data[last_offset + RECORD_HEADER_BYTES + 6..last_offset + RECORD_HEADER_BYTES + 12].fill(0);
        std::fs::write(&path, &data).unwrap();
        let mut n = 0;
        let (mut j, rep) = Journal::open(opts(dir.path(), Durability::Sync), |_, _, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 9);
        let torn = rep.torn_tail.expect("torn tail reported");
        assert_eq!(torn.offset, last_offset as u64);
        assert_eq!(
            j.append(0, &price(0)).unwrap(),
            10,
            "the torn record's sequence is reused"
        );
        j.commit().unwrap();
        drop(j);
        assert_eq!(read_all(dir.path()).len(), 10);
    }

    #[test]
    fn flipped_byte_inside_is_fail_stop_with_segment_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) =
            Journal::open(opts(dir.path(), Durability::Sync), |_, _, _| Ok(())).unwrap();
        for i in 0..10 {
            j.append(i, &price(i)).unwrap();
        }
        j.commit().unwrap();
        drop(j);
        let path = dir.path().join(segment_file_name(0));
        let mut data = std::fs::read(&path).unwrap();
        let third = SEGMENT_HEADER_BYTES + 2 * record_span(12);
        data[third + RECORD_HEADER_BYTES + 3] ^= 0x40;
        std::fs::write(&path, &data).unwrap();
        let err = Journal::open(opts(dir.path(), Durability::Sync), |_, _, _| Ok(())).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&segment_file_name(0)), "{msg}");
        assert!(msg.contains(&format!("byte offset {third}")), "{msg}");
        assert!(msg.contains("checksum"), "{msg}");
    }

    #[test]
    fn write_failure_is_sticky() {
        let dir = tempfile::tempdir().unwrap();
        let jdir = dir.path().join("j");
        let (mut j, _) = Journal::open(opts(&jdir, Durability::Sync), |_, _, _| Ok(())).unwrap();
        // Replace the directory with a file: the next segment cannot be created.
        std::fs::rename(&jdir, dir.path().join("moved")).unwrap();
        std::fs::write(&jdir, b"not a directory").unwrap();
        let ev = Event::Control(Control::halt_all(LEVEL_ADMIN));
        let mut failed = None;
        for i in 0..10_000 {
            if let Err(e) = j.append(i, &ev) {
                failed = Some(e);
                break;
            }
        }
        // Failing where the next segment is put in place: its creation, or (if the segment prepared ahead was
        // made before the directory moved) its rename.
        assert!(
            matches!(
                failed,
                Some(JournalError::Io {
                    op: "create" | "rename",
                    ..
                })
            ),
            "{failed:?}"
        );
        assert!(matches!(j.append(0, &ev), Err(JournalError::Failed(_))));
        assert!(j.failure().is_some());
    }
}
