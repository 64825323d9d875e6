//! The Dockerfile: it builds with the Makefile's `build` command, on the workspace's Rust
//! version, and runs as a non-root user with configs/config.yaml beside it.

use crate::files::{self, Instruction};

/// The `cargo build ...` commands of the Dockerfile's RUN instructions, as written.
fn docker_cargo_builds(instructions: &[Instruction]) -> Vec<String> {
    instructions
        .iter()
        .filter(|i| i.keyword == "RUN")
        .flat_map(|i| {
            i.args
                .split("&&")
                .map(|c| c.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .map(|command| {
            // Drop BuildKit's `--mount=...` options in front of the command.
            let words: Vec<&str> = command
                .split_whitespace()
                .skip_while(|w| w.starts_with("--mount="))
                .collect();
            words.join(" ")
        })
        .filter(|command| command.starts_with("cargo build"))
        .collect()
}

#[test]
fn the_dockerfile_builds_with_the_makefiles_build_command() {
    let make = files::make_recipe("build");
    assert_eq!(
        make,
        vec!["cargo build --release --locked -p fileproc --bin fileproc"]
    );
    assert_eq!(docker_cargo_builds(&files::dockerfile()), make);
}

#[test]
fn the_builder_uses_the_workspaces_rust_version() {
    let instructions = files::dockerfile();
    let arg = instructions
        .iter()
        .find(|i| i.keyword == "ARG" && i.args.starts_with("RUST_VERSION="))
        .expect("ARG RUST_VERSION");
    assert_eq!(
        arg.args,
        format!("RUST_VERSION={}", workspace_rust_version())
    );
    let froms: Vec<&str> = instructions
        .iter()
        .filter(|i| i.keyword == "FROM")
        .map(|i| i.args.as_str())
        .collect();
    assert_eq!(
        froms,
        vec![
            "rust:${RUST_VERSION}-bookworm AS builder",
            "builder AS test",
            "debian:bookworm-slim AS runtime"
        ]
    );
}

#[test]
fn the_runtime_image_runs_as_a_user_with_its_config_and_a_healthcheck() {
    let instructions = files::dockerfile();
    let runtime: Vec<&Instruction> = instructions
        .iter()
        .skip_while(|i| !(i.keyword == "FROM" && i.args.ends_with("AS runtime")))
        .collect();
    let user = runtime
        .iter()
        .rev()
        .find(|i| i.keyword == "USER")
        .expect("the runtime stage sets USER");
    let uid = user.args.split(':').next().unwrap_or_default();
    assert!(uid != "0" && uid != "root", "USER {}", user.args);
    assert!(
        runtime.iter().any(
            |i| i.keyword == "COPY" && i.args == "configs/config.yaml /app/configs/config.yaml"
        ),
        "configs/config.yaml is in the image"
    );
    let workdir = runtime
        .iter()
        .rev()
        .find(|i| i.keyword == "WORKDIR")
        .expect("WORKDIR");
    assert_eq!(
        workdir.args, "/app",
        "configs/config.yaml is found from the WORKDIR"
    );
    let setup = runtime
        .iter()
        .find(|i| i.keyword == "RUN")
        .expect("the runtime stage's RUN");
    assert!(setup.args.contains("ca-certificates"), "{}", setup.args);
    assert!(
        setup.args.contains("chown -R fileproc:fileproc /app/data"),
        "the data directory belongs to the user: {}",
        setup.args
    );
    assert!(runtime.iter().any(|i| i.keyword == "HEALTHCHECK"));
    let ignore = files::read(".dockerignore");
    for entry in ["target", ".git", "data"] {
        assert!(
            ignore.lines().any(|l| l.trim() == entry),
            ".dockerignore has {entry}"
        );
    }
}

/// The workspace's `rust-version`, read from the root Cargo.toml without a TOML parser: the
/// `rust-version = "..."` line of `[workspace.package]`.
fn workspace_rust_version() -> String {
    let text = files::read("Cargo.toml");
    let section = text
        .split("[workspace.package]")
        .nth(1)
        .expect("[workspace.package]");
    section
        .lines()
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| l.strip_prefix("rust-version"))
        .and_then(|rest| rest.split_once('='))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .expect("rust-version = \"...\" in [workspace.package]")
}
