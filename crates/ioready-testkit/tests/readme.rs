//! The README's one Rust program is the library's example
//! `hello_selector.rs`, byte for byte, and so is the program in the
//! library's own README (the example is run by `ioready`'s
//! `tests/examples.rs`; the README's copy is a doctest of this crate).

use std::path::Path;

/// The first ```` ```rust ```` block of a Markdown file.
fn first_rust_block(markdown: &str) -> &str {
    let start = markdown.find("```rust\n").expect("a ```rust block") + "```rust\n".len();
    let len = markdown[start..].find("```\n").expect("the block's end");
    &markdown[start..start + len]
}

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_readmes_program_is_the_example() {
    let example = read("crates/ioready/examples/hello_selector.rs");
    for readme in ["README.md", "crates/ioready/README.md"] {
        assert!(
            first_rust_block(&read(readme)) == example,
            "the first ```rust block of {readme} differs from \
             crates/ioready/examples/hello_selector.rs: copy the example into it"
        );
    }
}

/// The README's "Use it" steps, run as written, the way a newcomer would:
/// a new cargo project next to the clone, the path dependency added with
/// `cargo add`, the example copied in, `cargo run`. Offline, in a target
/// directory of its own (about 30 s the first time).
#[test]
fn the_readmes_steps_make_a_running_program() {
    let readme = read("README.md");
    let start = readme
        .find("```sh\ncargo new ")
        .expect("the \"Use it\" block")
        + "```sh\n".len();
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    // The README's paths are relative to the directory that holds the clone.
    let dir = std::env::temp_dir().join(format!("ioready-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::os::unix::fs::symlink(root.canonicalize().unwrap(), dir.join("ioready")).unwrap();
    // A target directory of its own (kept between runs): built as a path
    // dependency of another package, `ioready` gets other compiler flags
    // (no workspace lints), and its rlib would replace the workspace's
    // under the same name, which the workspace's other crates were built
    // against.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-newcomer");
    let out = std::process::Command::new("sh")
        .arg("-ec")
        .arg(block)
        .current_dir(&dir)
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_TARGET_DIR", target)
        .env_remove("IOREADY_BACKEND")
        .output()
        .expect("run sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{block}\n{stdout}\n{stderr}");
    assert!(stdout.contains("connection from 127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("the client got \"HELLO\""), "{stdout}");
}
