//! The `fileproc` binary; see [`fileproc::cli`].

fn main() -> std::process::ExitCode {
    fileproc::cli::main()
}
