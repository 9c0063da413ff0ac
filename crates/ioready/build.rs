//! Names the kernel mechanisms of the target once, so the source can say
//! `#[cfg(ioready_epoll)]` instead of repeating lists of operating systems.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ioready_epoll)");
    println!("cargo::rustc-check-cfg=cfg(ioready_kqueue)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "linux" | "android" => println!("cargo::rustc-cfg=ioready_epoll"),
        "macos" | "ios" | "tvos" | "watchos" | "visionos" | "freebsd" | "openbsd" | "netbsd"
        | "dragonfly" => println!("cargo::rustc-cfg=ioready_kqueue"),
        _ => {}
    }
}
