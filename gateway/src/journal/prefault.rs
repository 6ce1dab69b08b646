//! Write-prefaulting ahead of the journal writer (durability `none`). A shared file mapping stays
//! write-protected even when populated, so the kernel can track dirty pages: the first store into each 4 KiB
//! page traps into the filesystem's `page_mkwrite` (about 5 µs on ext4, once every 51 records of 80 bytes,
//! measured in `bench/`'s `journal_append`). This thread takes that fault off the sequencer: it asks the kernel
//! with `madvise(MADV_POPULATE_WRITE)` to fault the pages just ahead of the write offset in as writable, which
//! changes no byte of the mapping. It also unmaps the segments the writer has left, so a rollover does not
//! stall the sequencer on `munmap` either. Under `interval` and `sync` every fdatasync cleans and
//! write-protects the pages again (and would write the prefaulted zeros out), so the journal runs it only under
//! `none`.
//!
//! The thread runs under `SCHED_IDLE`, the lowest weight: it never preempts a normal thread on wakeup, and a
//! woken sequencer preempts it at once. At normal priority it woke with a fresh request and, being owed CPU time
//! by the fair scheduler, preempted the sequencer for the whole request (64 page faults, about 330 µs at the
//! median and up to 4.4 ms in a `sched_switch` trace of `bench/`'s pipeline, 1,580 times in one run). On a core
//! it shares with a loaded sequencer, which spins for its next input instead of parking, the idle-policy thread
//! gets only a sliver of time: 1.9% of appends took their own fault in `bench/`'s `journal_paced`. So the writer
//! also faults pages in itself, one per idle moment of its spin ([`Prefaulter::step_on_writer`], called through
//! `Journal::prefault_idle_step`), up to 64 KiB ahead: 0.15-0.17% of appends then took longer than 2 µs, and the
//! appends' mean lateness from their intended time was lower than with the thread at normal priority
//! (RESULTS §1). Requests to the thread are small (64 KiB) and at most [`POPULATE_QUEUED_MAX`] wait at a time,
//! so a starved thread never holds the memory-map lock for long nor leaves a full queue for the blocking
//! hand-over of a retired segment at rollover.

use memmap2::MmapMut;

/// How far ahead of the write offset pages are kept writable, in bytes.
pub const PREFAULT_AHEAD_BYTES: usize = 1 << 20;
/// How much one request faults in, in bytes (16 pages: about 80 µs of faults, the longest the thread holds the
/// memory-map lock for reading in one request).
pub const PREFAULT_CHUNK_BYTES: usize = 64 << 10;
/// Requests that may wait for the thread at once; further ones are skipped (left to the writer's idle steps).
pub const POPULATE_QUEUED_MAX: usize = 4;
/// How far ahead of the write offset the writer's own idle steps keep pages writable, in bytes (at 80 MB/s of
/// records, 0.8 ms of appends).
pub const IDLE_PREFAULT_AHEAD_BYTES: usize = 64 << 10;

enum Job {
    /// Fault `len` bytes at address `addr` (inside the active segment's mapping) in as writable.
    Populate { addr: usize, len: usize },
    /// A segment the writer has left: unmapped here, after every job queued before it.
    Retire(MmapMut),
}

/// The writer's handle on the prefault thread.
pub struct Prefaulter {
    tx: Option<crossbeam_channel::Sender<Job>>,
    handle: Option<std::thread::JoinHandle<()>>,
    /// Offset in the active segment up to which pages have been requested.
    requested_to: usize,
    /// Offset in the active segment up to which the writer's own idle steps have faulted pages in.
    stepped_to: usize,
    /// Whether the kernel takes `MADV_POPULATE_WRITE` (from the writer's thread; the thread keeps its own).
    step_supported: bool,
    /// The system's page size, in bytes (4 KiB on x86-64; 16 or 64 KiB on some arm64 and ppc64le kernels).
    page_bytes: usize,
}

impl Prefaulter {
    pub fn start() -> std::io::Result<Prefaulter> {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(256);
        let handle = std::thread::Builder::new()
            .name("journal-prefault".into())
            .spawn(move || {
                lower_to_idle_policy();
                let mut supported = true;
                for job in rx {
                    match job {
                        Job::Populate { addr, len } if supported => {
                            // SAFETY: the range lies inside a live mapping: the writer only sends ranges of its
                            // active segment, hands a segment it leaves to this thread (`Retire`, queued after
                            // every range of it), and joins this thread before its active segment is dropped.
                            // MADV_POPULATE_WRITE changes no content; it only takes the write faults.
                            let r = unsafe {
                                rustix::mm::madvise(
                                    addr as *mut std::ffi::c_void,
                                    len,
                                    rustix::mm::Advice::LinuxPopulateWrite,
                                )
                            };
                            if let Err(e) = r {
                                supported = false;
                                tracing::warn!(
                                    "journal write prefaulting is off ({e}; needs Linux 5.14): appends take \
                                     their own page faults"
                                );
                            }
                        }
                        Job::Populate { .. } => {}
                        Job::Retire(map) => drop(map),
                    }
                }
            })?;
        Ok(Prefaulter {
            tx: Some(tx),
            handle: Some(handle),
            requested_to: 0,
            stepped_to: 0,
            step_supported: true,
            page_bytes: rustix::param::page_size(),
        })
    }

    /// Called after each append with the active segment's mapping and write offset: requests the next chunk once
    /// the writer is within [`PREFAULT_AHEAD_BYTES`] of the end of what was requested. Never blocks: with
    /// [`POPULATE_QUEUED_MAX`] requests already waiting the chunk is skipped, and the writer's idle steps (or
    /// its appends) take those faults.
    #[inline]
    pub fn advance(&mut self, map: &MmapMut, write_offset: usize) {
        if write_offset + PREFAULT_AHEAD_BYTES <= self.requested_to
            || self.requested_to >= map.len()
        {
            return;
        }
        let from = self.requested_to.max(write_offset & !(self.page_bytes - 1));
        let to = (from + PREFAULT_CHUNK_BYTES).min(map.len());
        self.requested_to = to;
        if let Some(tx) = self.tx.as_ref().filter(|tx| tx.len() < POPULATE_QUEUED_MAX) {
            let _ = tx.try_send(Job::Populate {
                addr: map.as_ptr() as usize + from,
                len: to - from,
            });
        }
    }

    /// For the writer's idle moments (the sequencer spinning for its next input): faults in the next page within
    /// [`IDLE_PREFAULT_AHEAD_BYTES`] past the write offset that this has not faulted in yet, on the writer's own
    /// thread. Returns whether it asked the kernel: false when every page within reach is done, or once the
    /// kernel has refused (stepping then stays off, with one warning). One page costs about 5 µs when it was not
    /// writable yet and well under 1 µs when the prefault thread got there first.
    pub fn step_on_writer(&mut self, map: &MmapMut, write_offset: usize) -> bool {
        let page = self.page_bytes;
        let from = self.stepped_to.max((write_offset + page - 1) & !(page - 1));
        if !self.step_supported
            || from >= map.len()
            || from >= write_offset + IDLE_PREFAULT_AHEAD_BYTES
        {
            return false;
        }
        // A segment's size need not be a whole number of pages: the last step stops at its end.
        let len = page.min(map.len() - from);
        // SAFETY: `from..from + len` lies inside `map`, the live mapping the writer borrows for this call, and
        // `from` is a multiple of the page size from the mapping's start, which is page-aligned (file offset 0);
        // MADV_POPULATE_WRITE changes no content, it only takes the write faults.
        let r = unsafe {
            rustix::mm::madvise(
                map.as_ptr().add(from) as *mut std::ffi::c_void,
                len,
                rustix::mm::Advice::LinuxPopulateWrite,
            )
        };
        if let Err(e) = r {
            self.step_supported = false;
            tracing::warn!(
                "the sequencer's journal prefault steps are off ({e}; MADV_POPULATE_WRITE needs Linux 5.14): \
                 appends take their own page faults"
            );
        }
        self.stepped_to = from + len;
        true
    }

    /// The writer is about to park: its next idle steps start again from the write offset. Pages faulted in
    /// long ago may have been written back by the kernel since, which makes them write-protected again; checking
    /// one that is still writable costs well under 1 µs.
    pub fn rewind_steps(&mut self) {
        self.stepped_to = 0;
    }

    #[cfg(test)]
    pub(super) fn stepped_to(&self) -> usize {
        self.stepped_to
    }

    #[cfg(test)]
    pub(super) fn step_supported(&self) -> bool {
        self.step_supported
    }

    #[cfg(test)]
    pub(super) fn page_bytes(&self) -> usize {
        self.page_bytes
    }

    /// The writer moved to a new segment: `old` is unmapped on the prefault thread, requests restart at 0.
    pub fn retire(&mut self, old: MmapMut) {
        self.requested_to = 0;
        self.stepped_to = 0;
        if let Some(tx) = &self.tx {
            // A blocking send: the old mapping must not be dropped here while a range of it may still be queued.
            if let Err(crossbeam_channel::SendError(Job::Retire(map))) = tx.send(Job::Retire(old)) {
                drop(map);
            }
        }
    }
}

/// Moves the calling thread to `SCHED_IDLE` (Linux; lowering one's own policy needs no privilege). A failure
/// is logged and changes nothing else: the thread then competes at normal priority.
fn lower_to_idle_policy() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `sched_setscheduler` with pid 0 acts on the calling thread and only reads `param`, which lives
    // across the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        tracing::warn!(
            "the journal's prefault thread stays at normal priority (SCHED_IDLE refused: {e}); it may \
             preempt the sequencer"
        );
    }
}

impl Drop for Prefaulter {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
