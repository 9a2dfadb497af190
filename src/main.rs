//! The `weave` command: the window by default, and everything it does as scriptable commands
//! (`weave::cli`, one file per command).

fn main() -> std::process::ExitCode {
    weave::cli::main()
}
