//! `roster`: the one binary. `roster serve` runs the server; the other
//! commands administer the directory directly, and work while it runs.
//! The command line itself is in `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}

// glibc's malloc took an eighth of the server's CPU in profiles of the
// look-up path; mimalloc's thread-local free lists cost much less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
