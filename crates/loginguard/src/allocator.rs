//! The binary's heap profile, when built with `--features dhat-heap`.
//!
//! The feature swaps in dhat's profiling allocator and writes
//! `dhat-heap-PID.json` (live bytes per allocation site at the heap's peak)
//! when `serve` returns; `scripts/dhat-sites` reads it. That is how the bytes
//! per idle socket in BENCHMARKS.md were found. Without the feature this is
//! the system allocator and a no-op. Only `main` uses it; nothing here knows
//! the app.

#[cfg(feature = "dhat-heap")]
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Keep it alive for as long as the heap should be profiled; dropping it
/// writes the profile. Empty without the `dhat-heap` feature.
pub struct HeapProfile {
    #[cfg(feature = "dhat-heap")]
    _profiler: dhat::Profiler,
}

/// Starts the heap profile (with the `dhat-heap` feature; nothing otherwise).
pub fn profile() -> HeapProfile {
    HeapProfile {
        // One file per process: a benchmark runs several instances in one directory.
        #[cfg(feature = "dhat-heap")]
        _profiler: dhat::Profiler::builder()
            .file_name(format!("dhat-heap-{}.json", std::process::id()))
            .build(),
    }
}
