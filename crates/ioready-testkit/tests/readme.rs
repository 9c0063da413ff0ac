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
