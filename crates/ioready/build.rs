//! Names the kernel mechanisms of the target once, so the source can say
//! `#[cfg(ioready_epoll)]` instead of repeating lists of operating systems.
//!
//! `IOREADY_TEST_NO_EPOLL=1` builds the library as on a system without
//! epoll (a pipe notifier, plain event records, poll as the best backend),
//! so that CI runs those code paths on Linux too (`.ci/run`, in its own
//! target directory). It is for testing only.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ioready_epoll)");
    println!("cargo::rustc-check-cfg=cfg(ioready_kqueue)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=IOREADY_TEST_NO_EPOLL");
    testkit_cfg();
    let no_epoll = std::env::var_os("IOREADY_TEST_NO_EPOLL").is_some_and(|v| v == "1");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "linux" | "android" if !no_epoll => println!("cargo::rustc-cfg=ioready_epoll"),
        "macos" | "ios" | "tvos" | "watchos" | "visionos" | "freebsd" | "openbsd" | "netbsd"
        | "dragonfly" => println!("cargo::rustc-cfg=ioready_kqueue"),
        _ => {}
    }
}

/// `ioready_testkit` where the path-only dev-dependency `ioready-testkit`
/// is there: in the workspace, not in the published package (cargo drops a
/// dev-dependency that has no version), whose tests must still build. The
/// tests that need it (io_uring refused under a seccomp filter) are gated
/// on it. The same few lines are in the server's and the command's build
/// scripts.
fn testkit_cfg() {
    println!("cargo::rustc-check-cfg=cfg(ioready_testkit)");
    println!("cargo::rerun-if-changed=../ioready-testkit/Cargo.toml");
    if std::path::Path::new("../ioready-testkit/Cargo.toml").exists() {
        println!("cargo::rustc-cfg=ioready_testkit");
    }
}
