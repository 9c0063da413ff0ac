//! `echo-server --backend uring` where it differs from the readiness
//! engines: refused by a seccomp filter (as under Docker's default profile)
//! it says so in one line and serves on epoll; and out of descriptors it
//! warns once and backs off, with the limit set before it starts (io_uring's
//! accept reads the limit when it is armed).

#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::process::CommandExt;
use std::time::Duration;

use common::{run, Proc};
use rustix::process::Signal;

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Sends `len` patterned bytes from a thread and checks every echoed one.
#[cfg(ioready_testkit)]
fn echo_checked(addr: std::net::SocketAddr, len: usize) {
    let s = connect(addr);
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        w.write_all(&data).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut got = Vec::with_capacity(len);
    (&s).read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    assert_eq!(got.len(), len, "bytes lost");
    assert!(
        got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8),
        "bytes changed"
    );
}

// Needs the path-only `ioready-testkit`: see build.rs.
#[cfg(ioready_testkit)]
#[test]
fn refused_by_seccomp_it_says_so_once_and_serves_on_epoll() {
    for (errno, why) in [(libc::EPERM, "seccomp"), (libc::ENOSYS, "ENOSYS")] {
        let mut server = Proc::spawn_with(
            &[
                "echo-server",
                "--backend",
                "uring",
                "--addr",
                "127.0.0.1:0",
                "--quiet",
            ],
            &[],
            |cmd| {
                ioready_testkit::seccomp::deny_io_uring_in(cmd, errno);
            },
        );
        let line = common::wait_line(&server.stderr, Duration::from_secs(20), |l| {
            l.contains("--backend uring")
        })
        .unwrap_or_else(|| panic!("{why}: no fallback line"));
        assert!(
            line.starts_with("warning: --backend uring: io_uring unavailable: ")
                && line.contains(why)
                && line.ends_with("; serving on epoll instead"),
            "{why}: {line}"
        );
        // The seeds' client, then 4 MiB checked byte by byte.
        let out = run(
            &[
                "client",
                "--addr",
                &server.addr.to_string(),
                "--sockets",
                "2",
            ],
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "{why}: client failed");
        echo_checked(server.addr, 4 << 20);
        server.signal(Signal::TERM);
        let status = server
            .wait_exit(Duration::from_secs(30))
            .expect("still running after SIGTERM");
        assert_eq!(status.code(), Some(0), "{why}");
        // Exactly one line of explanation, and no other warning.
        let rest: Vec<String> = server.stderr.try_iter().collect();
        assert!(rest.is_empty(), "{why}: more on stderr: {rest:?}");
    }
}

#[test]
fn out_of_descriptors_it_warns_once_backs_off_and_keeps_serving() {
    use rustix::process::{setrlimit, Resource, Rlimit};
    const LIMIT: u64 = 64;
    let mut server = Proc::spawn_with(
        &[
            "echo-server",
            "--backend",
            "uring",
            "--addr",
            "127.0.0.1:0",
            "--quiet",
        ],
        &[],
        |cmd: &mut std::process::Command| {
            // SAFETY: runs between fork and exec; setrlimit is one system
            // call on a value on the stack (async-signal-safe).
            unsafe {
                cmd.pre_exec(|| {
                    let l = Rlimit {
                        current: Some(LIMIT),
                        maximum: Some(LIMIT),
                    };
                    setrlimit(Resource::Nofile, l).map_err(std::io::Error::from)
                });
            }
        },
    );
    let open = std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .unwrap()
        .count() as u64;
    assert!(open + 2 <= LIMIT, "{open} descriptors open at start");
    let room = (LIMIT - open) as usize;
    let mut served: Vec<TcpStream> = (0..room).map(|_| connect(server.addr)).collect();
    for c in &mut served {
        c.write_all(b"in").unwrap();
        let mut got = [0u8; 2];
        c.read_exact(&mut got).unwrap();
    }
    // These complete in the kernel's backlog; accepting them fails.
    let mut waiting: Vec<TcpStream> = (0..5).map(|_| connect(server.addr)).collect();
    assert!(
        common::wait_line(&server.stderr, Duration::from_secs(20), |l| l
            .contains("accept failed"))
        .is_some(),
        "no warning on EMFILE"
    );
    let n = served.len().min(4);
    server.served_keep_working_without_spinning(&mut served[..n], "uring");
    // Free descriptors: the waiting clients are served.
    served.clear();
    let c = &mut waiting[0];
    c.write_all(b"finally").unwrap();
    let mut got = [0u8; 7];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"finally");
    server.signal(Signal::TERM);
    assert_eq!(
        server
            .wait_exit(Duration::from_secs(30))
            .and_then(|s| s.code()),
        Some(0)
    );
}
