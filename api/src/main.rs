use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: ingest and link make many small short-lived
/// allocations (BENCHMARKS.md, the fourth end-to-end run).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The index of mimalloc's `purge_delay` option (its `mi_option_t`, version 3; the sys crate
/// names only the options that kept their index). A test checks that it holds the option's
/// documented default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long, in ms, ingest lets memory it freed stay free before mimalloc returns it to the
/// kernel. At mimalloc's default (1 s) its timer returned every page free when it fired,
/// however recently freed, and ingest frees a chunk's buffers a few times a second: the next
/// chunks took them back as fresh pages, faulted in and zeroed by the kernel. 1M accounts,
/// three pairs: 79–102k page faults → 1.5k, wall medians 9.52 → 9.27 s, peak 1.10 → 1.17 GB
/// (BENCHMARKS.md, twenty-third session). Link is left at the default: no faster with it,
/// and its peak at 10M accounts is close to its bound.
const INGEST_PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// Sets mimalloc's purge delay unless `MIMALLOC_PURGE_DELAY` already did.
#[allow(unsafe_code)]
fn set_purge_delay(ms: std::ffi::c_long) {
    // SAFETY: the call stores one number in mimalloc's option table: no pointers, nothing
    // freed. It is made before this process starts any thread.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, ms) }
}

fn main() -> ExitCode {
    let args = ringfence::cli::Cli::parse();
    if matches!(
        args.command,
        ringfence::cli::Command::Ingest { .. } | ringfence::cli::Command::Demo { .. }
    ) {
        set_purge_delay(INGEST_PURGE_DELAY_MS);
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
        // SAFETY: reads one number of mimalloc's option table.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        // Version 3's default, unless the environment of the test sets it.
        let expected = std::env::var("MIMALLOC_PURGE_DELAY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000);
        assert_eq!(default, expected);
        // Set after mimalloc read its options, the delay takes (but not over the environment).
        set_purge_delay(12_345);
        // SAFETY: as above.
        let now = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        let set = std::env::var_os("MIMALLOC_PURGE_DELAY").is_none();
        assert_eq!(now, if set { 12_345 } else { expected });
    }
}
