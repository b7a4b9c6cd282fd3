//! How the bot's memory goes back to the system: a service that runs for months must
//! not keep the peak of every burst (glibc's defaults suit short, fast programs).

/// Large blocks (files sent, big screens) are mapped and unmapped on their own instead
/// of kept in the allocator's heaps once freed. glibc raises its mmap threshold each
/// time such a block is freed, so later ones of that size stay in a heap: the bot held
/// 49 MB more after sending twelve 16 MB files it no longer used; with the threshold
/// fixed, 0.2 MB. (Setting it turns the raising off.)
pub fn return_large_blocks() {
    #[cfg(target_env = "gnu")]
    {
        /// Blocks from this size up are their own mapping (glibc's starting value).
        const THRESHOLD: libc::c_int = 128 * 1024;
        // SAFETY: mallopt(3) takes two integers; called before the runtime's threads.
        if unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD) } != 1 {
            tracing::warn!("cannot set the allocator's mmap threshold: memory may stay high");
        }
    }
}
