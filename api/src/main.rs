use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: ingest and link make many small short-lived
/// allocations (BENCHMARKS.md, the fourth end-to-end run).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The index of mimalloc's `purge_delay` option (its `mi_option_t`, version 3; the sys crate
/// names only the options that kept their index). A test checks that it holds the default
/// `options.c` gives the option (1,000 ms).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long, in ms, ingest lets memory it freed stay free before mimalloc returns it to the
/// kernel. At mimalloc's default (1 s) its timer returned every page free when it fired,
/// however recently freed, and ingest frees a chunk's buffers a few times a second: the next
/// chunks took them back as fresh pages, faulted in and zeroed by the kernel. 1M accounts,
/// three pairs: 79–102k page faults → 1.5k, wall medians 9.52 → 9.27 s, peak 1.10 → 1.17 GB
/// (BENCHMARKS.md, twenty-third session). Link (and so `demo`) keeps the default: no faster
/// with it, and its peak at 10M accounts is close to its bound.
const INGEST_PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// Sets mimalloc's purge delay unless `MIMALLOC_PURGE_DELAY` already did.
///
/// # Safety
/// mimalloc's options are not thread safe: call it while no other thread allocates.
#[allow(unsafe_code)]
unsafe fn set_purge_delay(ms: std::ffi::c_long) {
    // SAFETY: the call stores one number in mimalloc's option table: no pointers, nothing
    // freed; the caller rules out other threads.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, ms) }
}

fn main() -> ExitCode {
    let args = ringfence::cli::Cli::parse();
    if matches!(args.command, ringfence::cli::Command::Ingest { .. }) {
        // SAFETY: only this thread exists yet (argument parsing starts none).
        #[allow(unsafe_code)]
        unsafe {
            set_purge_delay(INGEST_PURGE_DELAY_MS)
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RINGFENCE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colour only for people: logs piped to files or collectors stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match ringfence::cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(ringfence::cli::exit_code(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_index_names_the_purge_delay() {
        // mimalloc reads its options from the environment, names in any case, the delay also
        // under its old name: a run that sets one is not the default this test knows.
        let set_outside = std::env::vars_os().any(|(k, _)| {
            let k = k.to_string_lossy().to_ascii_uppercase();
            k == "MIMALLOC_PURGE_DELAY" || k == "MIMALLOC_RESET_DELAY"
        });
        if set_outside {
            return;
        }
        // SAFETY: reads one number of mimalloc's option table.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1_000, "version 3's purge delay");
        // Set after mimalloc read its options, the delay takes. SAFETY: this is the binary's
        // only test, and the harness's other threads do not allocate meanwhile.
        unsafe { set_purge_delay(12_345) };
        // SAFETY: as the first read.
        let now = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(now, 12_345);
    }
}
