//! The next segment, made ahead of need. Creating a segment (fallocate, writing its zeros, fdatasync, mapping
//! and populating it) takes tens of milliseconds for the default 64 MiB (about 45 ms of it the zero-fill on this
//! machine's disk); done at rollover, that stalled the sequencer, and every edge behind it, once per segment.
//! This thread prepares segment `index + 1` as `….bwj.tmp` while the writer fills segment `index`; at rollover
//! the writer only writes and syncs the header, renames the file into place (syncing the file and the
//! directory too unless the policy is `none`) and goes on. A `.tmp` file is not a segment to recovery or the journal tools; one left by a crash is
//! recreated. The thread also unmaps the segments the writer leaves (under `none` the prefault thread does,
//! after its queued ranges).

use super::{prepare_segment_file, JournalError, PreparedSegment};
use memmap2::MmapMut;
use std::path::PathBuf;

enum Job {
    Prepare(u64),
    Unmap(MmapMut),
}

/// The writer's handle on the preparing thread.
pub(super) struct Preparer {
    tx: Option<crossbeam_channel::Sender<Job>>,
    done: crossbeam_channel::Receiver<(u64, Result<PreparedSegment, JournalError>)>,
    handle: Option<std::thread::JoinHandle<()>>,
    /// The segment index asked for and not yet taken.
    outstanding: Option<u64>,
}

impl Preparer {
    pub(super) fn start(dir: PathBuf, segment_bytes: u64) -> std::io::Result<Preparer> {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let handle = std::thread::Builder::new()
            .name("journal-prepare".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Prepare(index) => {
                            let made = prepare_segment_file(&dir, index, segment_bytes);
                            if done_tx.send((index, made)).is_err() {
                                break;
                            }
                        }
                        Job::Unmap(map) => drop(map),
                    }
                }
            })?;
        Ok(Preparer {
            tx: Some(tx),
            done,
            handle: Some(handle),
            outstanding: None,
        })
    }

    /// Asks for segment `index` to be prepared (one at a time).
    pub(super) fn request(&mut self, index: u64) {
        if self.outstanding.is_some() {
            return;
        }
        if let Some(tx) = &self.tx {
            if tx.send(Job::Prepare(index)).is_ok() {
                self.outstanding = Some(index);
            }
        }
    }

    /// The prepared segment `index`, waiting for it if it is still being made. `None` if it was not asked for,
    /// or if preparing it failed (logged; the caller then creates it itself and reports the error precisely).
    pub(super) fn take(&mut self, index: u64) -> Option<PreparedSegment> {
        let asked = self.outstanding.take()?;
        let (made_index, made) = self.done.recv().ok()?;
        debug_assert_eq!(asked, made_index);
        match made {
            Ok(p) if made_index == index => Some(p),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("journal: preparing segment {made_index} ahead failed: {e}");
                None
            }
        }
    }

    /// Whether the segment asked for is made (or its making failed) and waits to be taken.
    pub(super) fn ready(&self) -> bool {
        self.outstanding.is_some() && !self.done.is_empty()
    }

    /// Unmaps `map` on the preparing thread.
    pub(super) fn unmap_later(&self, map: MmapMut) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Unmap(map));
        }
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        drop(self.tx.take());
        // Unblock a preparation waiting to hand its result over.
        while self.done.try_recv().is_ok() {}
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
