//! `ioready_testkit` where the path-only dev-dependency `ioready-testkit`
//! is there: in the workspace, not in the published package (cargo drops a
//! dev-dependency that has no version), whose tests must still build. The
//! tests that need it (io_uring refused under a seccomp filter) are gated
//! on it; the library's build script does the same.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ioready_testkit)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../ioready-testkit/Cargo.toml");
    if std::path::Path::new("../ioready-testkit/Cargo.toml").exists() {
        println!("cargo::rustc-cfg=ioready_testkit");
    }
}
