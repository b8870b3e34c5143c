//! The process's allocator, and how it hands memory back to the kernel.
//!
//! Workers allocate and free small objects (messages, events, documents) on several
//! threads at a high rate; glibc's allocator spent a third of the scorer's time in
//! malloc/free and consolidation. mimalloc's thread-local heaps avoid that.
//!
//! Two of mimalloc's defaults cost a worker more than they save it, as measured in
//! `sightline bench pipeline` (docs/benchmarks.md, fifth session):
//! - it returned memory freed for a second back to the kernel, and every batch then
//!   took it back page fault by page fault, each page zeroed again;
//! - it asked for transparent huge pages, so each of those faults zeroed 2 MB.
//!
//! A worker's memory is bounded by its batch sizes, so it now keeps what it freed
//! (its resident size stays at its high-water mark) and uses 4 KiB pages
//! (`no_thp`, a build feature).

use std::ffi::c_int;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (include/mimalloc.h), which
/// libmimalloc-sys does not name. The test below fails if an upgrade moves it.
const PURGE_DELAY: c_int = 15;
/// No purging at all.
const NEVER: std::ffi::c_long = -1;

/// Call first thing in `main`: the delay is read on every purge, so memory freed
/// before this call is kept as well.
pub fn configure() {
    // SAFETY: sets one of mimalloc's options, which it reads atomically.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, NEVER) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resident pages of this process (Linux).
    fn resident_pages() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        statm.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn freed_memory_stays_with_the_process() {
        configure();
        // SAFETY: reads an option.
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) },
            NEVER
        );
        // Small blocks, as workers allocate them, freed, then a forced collection:
        // with mimalloc's default delay that hands their pages back to the kernel.
        let blocks: Vec<Vec<u8>> = (0..64 * 1024).map(|i| vec![i as u8; 1024]).collect();
        let before = resident_pages();
        drop(blocks);
        // SAFETY: asks mimalloc to collect this thread's free memory.
        unsafe { libmimalloc_sys::mi_collect(true) };
        let returned = before.saturating_sub(resident_pages());
        let freed = 64 * 1024 * 1024 / 4096;
        assert!(
            returned < freed / 4,
            "{returned} of the {freed} pages freed went back to the kernel"
        );
    }
}
