use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: ingest and link make many small short-lived
/// allocations (BENCHMARKS.md, "allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lets mimalloc back its arenas with 2 MiB transparent huge pages. For the batch graph
/// commands this cut `link`'s system time from 4.4 to 0.8 s at 1M accounts and its read step
/// from 4.1 to 1.5 s (page faults on hundreds of MB of freshly grown columns; BENCHMARKS.md).
/// Not for `ingest` (no gain measured) nor `serve` (it keeps memory for days, where huge
/// pages trade resident memory for little).
#[allow(unsafe_code)]
fn use_large_os_pages() {
    // SAFETY: `mi_option_set` is not thread safe; this runs at the start of `main`, before
    // any other thread exists. Option 6 is `mi_option_allow_large_os_pages` in mimalloc's
    // `mi_option_e` (the sys crate's legacy name `mi_option_large_os_pages`).
    unsafe {
        libmimalloc_sys::mi_option_set(libmimalloc_sys::mi_option_large_os_pages, 1);
    }
}

fn main() -> ExitCode {
    let args = ringfence::cli::Cli::parse();
    if matches!(
        args.command,
        ringfence::cli::Command::Link { .. } | ringfence::cli::Command::Dedupe { .. }
    ) {
        use_large_os_pages();
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
