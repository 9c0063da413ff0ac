//! The library's tutorial examples (`examples/`), built and run: each
//! server on port 0 against its client, to completion.
//!
//! Examples are not binaries, so cargo gives tests no `CARGO_BIN_EXE_` path
//! for them: the test builds them with the cargo that runs it, from this
//! package's own manifest (so it works in the workspace and in the packaged
//! crate alike), and reads their paths from cargo's JSON messages.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Builds the examples of this package with the cargo running this test,
/// in the target directory and profile of this test, and returns name ->
/// executable.
fn build_examples() -> HashMap<String, PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    // The target directory this test was built in (`CARGO_TARGET_TMPDIR` is
    // its `tmp`, absolute): a relative `CARGO_TARGET_DIR` in the
    // environment would otherwise be taken from this test's working
    // directory (the package), not from where cargo was run.
    let target_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--examples", "--message-format=json"])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    // The examples follow IOREADY_BACKEND: built with the features this
    // test was built with, so that `uring` names a backend they have.
    if cfg!(feature = "uring") {
        cmd.args(["--features", "uring"]);
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build --examples");
    assert!(out.status.success(), "building the examples failed");
    let mut exes = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // {"reason":"compiler-artifact",...,"target":{"kind":["example"],"name":"x",...},...,"executable":"/path"}
        if !line.contains("\"reason\":\"compiler-artifact\"") || !line.contains("\"example\"") {
            continue;
        }
        let field = |key: &str| -> Option<String> {
            let start = line.find(key)? + key.len();
            let end = start + line[start..].find('"')?;
            Some(line[start..end].to_string())
        };
        if let (Some(name), Some(exe)) = (field("\"name\":\""), field("\"executable\":\"")) {
            exes.insert(name, PathBuf::from(exe));
        }
    }
    exes
}

/// `... on 127.0.0.1 port 4321`: the address line the servers print first.
fn parse_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split(" on ").nth(1)?;
    let (host, port) = rest.split_once(" port ")?;
    format!("{host}:{}", port.trim()).parse().ok()
}

/// Waits for `child` to exit, at most `timeout`.
fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(exe: &PathBuf, args: &[&str]) -> Child {
    Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {exe:?}: {e}"))
}

/// Reads the server's first line for its address; the rest of its output
/// is collected by a thread.
fn server_addr(child: &mut Child) -> (SocketAddr, std::thread::JoinHandle<String>) {
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let addr = parse_addr(first.trim()).unwrap_or_else(|| panic!("no address in {first:?}"));
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = reader.read_to_string(&mut s);
        s
    });
    (addr, rest)
}

fn finish(child: &mut Child, what: &str) -> std::process::ExitStatus {
    wait_exit(child, Duration::from_secs(60)).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what} did not finish");
    })
}

fn run_client(exe: &PathBuf, args: &[&str]) -> String {
    let mut c = spawn(exe, args);
    let mut out = String::new();
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let status = finish(&mut c, "client");
    assert!(status.success(), "{exe:?} {args:?}:\n{out}");
    out
}

#[test]
fn the_examples_build_and_run() {
    let ex = build_examples();
    for name in [
        "select_echo_server",
        "poll_echo_server",
        "epoll_echo_server",
        "selector_echo_server",
        "hello_selector",
        "multiclient",
        "slow_client",
        "time_server",
        "nonblocking_connect",
        "timers_signals_children",
    ] {
        assert!(
            ex.contains_key(name),
            "example {name} was not built: {ex:?}"
        );
    }

    // The README's program: its own client, on the default backend (or
    // IOREADY_BACKEND's).
    let out = run_client(&ex["hello_selector"], &[]);
    assert!(out.contains("connection from 127.0.0.1:"), "{out}");
    assert!(out.contains("the client got \"HELLO\""), "{out}");

    let mut servers = vec![
        "select_echo_server",
        "poll_echo_server",
        "selector_echo_server",
    ];
    if cfg!(ioready_epoll) {
        servers.push("epoll_echo_server");
    }
    for server in servers {
        // Two sockets from the multiclient and one slow client: 3 connections.
        let mut s = spawn(&ex[server], &["127.0.0.1:0", "3"]);
        let (addr, rest) = server_addr(&mut s);
        let a = addr.to_string();
        let out = run_client(&ex["multiclient"], &[&a, "2"]);
        assert_eq!(
            out.matches("received \"in parts.\"").count(),
            2,
            "{server}:\n{out}"
        );
        let out = run_client(&ex["slow_client"], &[&a, "0.05"]);
        assert!(out.contains("closing socket"), "{server}:\n{out}");
        assert!(finish(&mut s, server).success(), "{server}");
        let log = rest.join().unwrap();
        assert!(
            log.contains("new connection from ('127.0.0.1', "),
            "{server}:\n{log}"
        );
        // The first part starts a read of its own; under load the second
        // may have arrived by then and come in the same read.
        assert!(
            log.contains("received \"Part one of the message."),
            "{server}:\n{log}"
        );
        assert_eq!(log.matches("closing").count(), 3, "{server}:\n{log}");
    }

    // The time server, one connection.
    let mut s = spawn(&ex["time_server"], &["127.0.0.1:0", "1"]);
    let (addr, _rest) = server_addr(&mut s);
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut answer = Vec::new();
    c.read_to_end(&mut answer).unwrap();
    assert_eq!(answer.len(), 4);
    let value = i64::from(u32::from_be_bytes(answer[..4].try_into().unwrap()));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((value - (now + 2_208_988_800) % (1 << 32)).abs() <= 2);
    assert!(finish(&mut s, "time_server").success());

    // The non-blocking connect: to a listener, and to a closed port.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().to_string();
    let out = run_client(&ex["nonblocking_connect"], &[&open, "5"]);
    assert_eq!(out.trim(), "connected");
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let mut c = spawn(&ex["nonblocking_connect"], &[&closed, "5"]);
    let mut out = String::new();
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert_eq!(finish(&mut c, "nonblocking_connect").code(), Some(1));
    assert_eq!(out.trim(), "refused");

    // Timers, signals and a child in one loop: by itself, on every backend
    // (it signals itself and spawns a short-lived child) ...
    let mut backends = vec!["select", "poll"];
    if cfg!(ioready_epoll) {
        backends.push("epoll");
    }
    if cfg!(all(feature = "uring", target_os = "linux")) {
        backends.push("uring");
    }
    for backend in backends {
        let mut c = Command::new(&ex["timers_signals_children"])
            .env("IOREADY_BACKEND", backend)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = String::new();
        c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let status = finish(&mut c, "timers_signals_children");
        assert!(status.success(), "{backend}: {status}\n{out}");
        for line in [
            &format!("backend: {backend}"),
            "tick 2 (",
            "connection from 127.0.0.1:",
            "child exited: exit status: 3",
            "received SIGTERM (1x): shutting down",
            "our client got: hello from the event loop",
            "bye",
        ] {
            assert!(out.contains(line), "{backend}: no {line:?} in\n{out}");
        }
    }
    // ... and as a server stopped by SIGINT from another process.
    let mut s = spawn(&ex["timers_signals_children"], &["127.0.0.1:0"]);
    let (addr, rest) = server_addr(&mut s);
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut greeting = String::new();
    c.read_to_string(&mut greeting).unwrap();
    assert_eq!(greeting, "hello from the event loop\n");
    let pid = rustix::process::Pid::from_child(&s);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    assert!(finish(&mut s, "timers_signals_children").success());
    let log = rest.join().unwrap();
    assert!(log.contains("received SIGINT (1x): shutting down"), "{log}");
}
