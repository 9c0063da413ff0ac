//! The command line as clap users expect it: usage errors exit 2, the exit
//! statuses are in `--help`, shell completions, `IOREADY_BACKEND` and the
//! address variables as defaults, `--addr PORT` and `--addr :PORT`; and
//! every duration and count the command accepts, at its extremes, ending
//! with SIGTERM and status 0 (issue 10, item 2).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::{run, run_env, Proc};
use rustix::process::Signal;

const LONG: Duration = Duration::from_secs(60);
/// The largest number of seconds `parse_secs` takes: the largest f64 below
/// 2^64, about 584 billion years.
const MAX_SECS: &str = "18446744073709549568";

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

fn echo_once(addr: SocketAddr) {
    let mut c = connect(addr);
    c.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
}

/// SIGTERM, then status 0 within 30 s.
fn terminate(mut server: Proc, what: &str) {
    server.signal(Signal::TERM);
    let status = server
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{what}: still running 30 s after SIGTERM"));
    let errs: Vec<String> = server.stderr.try_iter().collect();
    assert_eq!(
        status.code(),
        Some(0),
        "{what}: {status:?}, stderr {errs:?}"
    );
}

/// Which descriptor kinds a process holds (`anon_inode:[eventpoll]`, ...).
fn holds_epoll(pid: i32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|l| l.to_string_lossy().contains("eventpoll"))
}

#[test]
fn every_usage_error_exits_2() {
    let mut cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["nope"],
        vec!["bench", "-c", "0"],
        vec!["bench", "-c", "1000001"],
        vec!["bench", "-s", "0"],
        vec!["bench", "-p", "4097"],
        vec!["bench", "--duration", "0"],
        vec!["bench", "--isolated", "-p", "2"],
        vec!["bench", "-c", "1000000", "-s", "16777216"],
        vec!["bench", "--backend", "nope"],
        vec!["bench", "--addr", "nonsense"],
        vec!["echo-server", "--backend", "nope"],
        vec!["echo-server", "--addr", "nonsense"],
        vec!["echo-server", "--addr", "65536"],
        vec!["echo-server", "--max-conns", "0"],
        vec!["echo-server", "--max-conns", "18446744073709551616"],
        vec!["echo-server", "--output-cap", "0"],
        vec!["echo-server", "--timeout", "0"],
        vec!["echo-server", "--idle-timeout", "0"],
        vec!["echo-server", "--shutdown-grace", "-1"],
        vec!["echo-server", "--shutdown-grace", "18446744073709551616"],
        vec!["echo-server", "--shutdown-grace", "inf"],
        vec!["client", "--sockets", "0"],
        vec!["client", "--sockets", "10001"],
        vec!["client", "--addr", ":"],
        vec!["slow-client", "--pause", "nan"],
        vec!["time-server", "--timeout", "0"],
        vec!["time-client", "--addr", "host"],
        vec!["connect"],
        vec!["connect", "127.0.0.1:1", "--timeout", "-1"],
        vec!["completions"],
        vec!["completions", "nope"],
        vec!["demo", "--backend", "x"],
    ];
    if !cfg!(any(target_os = "macos", target_os = "freebsd")) {
        // A backend this platform lacks is a usage error too.
        cases.push(vec!["echo-server", "--backend", "kqueue"]);
        cases.push(vec!["demo", "--backend", "kqueue"]);
        cases.push(vec!["bench", "--backend", "kqueue"]);
    }
    for args in &cases {
        let out = run(args, LONG);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error:") || stderr.contains("Usage:"),
            "{args:?}: {stderr}"
        );
    }
    // From the environment too.
    let out = run_env(&["demo"], &[("IOREADY_BACKEND", "nope")], LONG);
    assert_eq!(out.status.code(), Some(2));
    let out = run_env(&["echo-server"], &[("IOREADY_ADDR", "nonsense")], LONG);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_lists_the_exit_statuses() {
    let out = run(&["--help"], LONG);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Exit status:",
        "0  success",
        "1  failure",
        "2  usage error",
        "3  connect",
    ] {
        assert!(help.contains(line), "{line:?} not in:\n{help}");
    }
    for var in ["IOREADY_BACKEND", "IOREADY_ADDR", "IOREADY_TIME_ADDR"] {
        assert!(help.contains(var), "{var} not in:\n{help}");
    }
    for sub in [
        "demo",
        "echo-server",
        "client",
        "slow-client",
        "time-server",
        "time-client",
        "connect",
        "bench",
        "completions",
    ] {
        let out = run(&[sub, "--help"], LONG);
        assert!(out.status.success(), "{sub}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Exit status"), "{sub}:\n{help}");
        assert!(
            help.contains("2 on a usage error")
                || help.contains("2  usage error")
                || help.contains("or 2 for"),
            "{sub}:\n{help}"
        );
    }
    // The env fallbacks show in the options' help.
    let out = run(&["echo-server", "--help"], LONG);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("[env: IOREADY_BACKEND="), "{help}");
    assert!(help.contains("[env: IOREADY_ADDR="), "{help}");
    let out = run(&["bench", "--help"], LONG);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("[env: IOREADY_ADDR="), "{help}");
}

/// One list of backend names: the one `IOREADY_BACKEND` takes in the
/// library (`Backend::names`) is the one `--help` gives and `--backend`
/// accepts; and no help text speaks of "seeds" (a word a user cannot know).
#[test]
fn one_list_of_backend_names_and_plain_words() {
    let names = ioready::Backend::names();
    let out = run(&["--help"], LONG);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains(&format!("IOREADY_BACKEND ({names})")),
        "{help}"
    );
    let out = run(&["echo-server", "--help"], LONG);
    let sub = String::from_utf8_lossy(&out.stdout);
    for name in names.split(", ") {
        assert!(sub.contains(&format!("- {name}:")), "{name} not in:\n{sub}");
    }
    for sub in [
        "",
        "demo",
        "echo-server",
        "client",
        "slow-client",
        "time-server",
        "bench",
    ] {
        let args: Vec<&str> = [sub, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let out = run(&args, LONG);
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
        assert!(
            !text.contains("seed"),
            "{sub} --help says \"seed\":\n{text}"
        );
    }
}

/// The README's `ioready ...` lines are commands this build accepts: each
/// is parsed with `--help` appended (which validates what precedes it and
/// runs nothing). In the published package, where the workspace README is
/// not, there is nothing to check.
#[test]
fn the_readmes_command_lines_parse() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let Ok(readme) = std::fs::read_to_string(path) else {
        eprintln!("no workspace README at {path}: skipped");
        return;
    };
    let mut checked = 0;
    for line in readme.lines() {
        let cmd = line.split(" #").next().unwrap_or("").trim();
        let Some(rest) = cmd.strip_prefix("ioready ") else {
            continue;
        };
        let mut args: Vec<&str> = rest.split_whitespace().collect();
        if !args.contains(&"--help") {
            args.push("--help");
        }
        let out = run(&args, LONG);
        assert!(
            out.status.success(),
            "README line {line:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 4, "the README's command lines were not found");
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell], LONG);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for word in [
            "ioready",
            "echo-server",
            "time-client",
            "completions",
            "shutdown-grace",
        ] {
            assert!(script.contains(word), "{shell}: no {word:?}");
        }
    }
    // bash accepts the script (when bash is here).
    let out = run(&["completions", "bash"], LONG);
    if let Ok(mut bash) = std::process::Command::new("bash")
        .args(["-c", "source /dev/stdin && complete -p ioready"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        bash.stdin.take().unwrap().write_all(&out.stdout).unwrap();
        let o = bash.wait_with_output().unwrap();
        assert!(o.status.success(), "bash refused the script");
        assert!(String::from_utf8_lossy(&o.stdout).contains("ioready"));
    }
}

#[test]
fn ioready_backend_sets_the_default_of_backend() {
    let demo_backend = |env: &[(&str, &str)], args: &[&str]| {
        let mut a = vec!["demo"];
        a.extend_from_slice(args);
        let out = run_env(&a, env, LONG);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{env:?} {args:?}: {stdout}");
        stdout
            .lines()
            .find_map(|l| {
                let l = l.strip_prefix("demo: echo server on ")?;
                let b = l.split('(').nth(1)?.split(' ').next()?;
                Some(b.to_string())
            })
            .unwrap_or_else(|| panic!("no backend line: {stdout}"))
    };
    assert_eq!(demo_backend(&[("IOREADY_BACKEND", "poll")], &[]), "poll");
    assert_eq!(
        demo_backend(&[("IOREADY_BACKEND", "SELECT")], &[]),
        "select"
    );
    // The option wins over the variable.
    assert_eq!(
        demo_backend(&[("IOREADY_BACKEND", "select")], &["--backend", "poll"]),
        "poll"
    );
    if cfg!(target_os = "linux") {
        // Empty or auto: the best, as for the library.
        assert_eq!(demo_backend(&[("IOREADY_BACKEND", "")], &[]), "epoll");
        assert_eq!(demo_backend(&[("IOREADY_BACKEND", "auto")], &[]), "epoll");
        // The servers: epoll holds an eventpoll descriptor, poll does not.
        for (sub, port_flag) in [("echo-server", ":0"), ("time-server", ":0")] {
            let server =
                Proc::spawn_env(&[sub, "--addr", port_flag], &[("IOREADY_BACKEND", "poll")]);
            assert!(
                !holds_epoll(server.pid()),
                "{sub} with IOREADY_BACKEND=poll"
            );
            terminate(server, sub);
            let server = Proc::spawn_env(&[sub, "--addr", port_flag], &[]);
            assert!(holds_epoll(server.pid()), "{sub} by default");
            terminate(server, sub);
        }
    }
}

#[test]
fn addr_takes_a_bare_port_or_colon_port_and_the_environment() {
    // A free port, to listen on by number.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let server = Proc::spawn(&["echo-server", "--quiet", "--addr", &port]);
    assert_eq!(server.addr.to_string(), format!("127.0.0.1:{port}"));
    let p = server.addr.port().to_string();
    let colon = format!(":{p}");
    for args in [
        vec!["client", "--addr", &p],
        vec!["client", "--addr", &colon],
        vec!["slow-client", "--pause", "0", "--addr", &colon],
        vec!["bench", "-c", "1", "-n", "3", "--addr", &colon],
        vec!["connect", &p],
    ] {
        let out = run(&args, LONG);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    // IOREADY_ADDR: the same, for the server and its clients and bench.
    for args in [vec!["client"], vec!["bench", "-c", "1", "-n", "3"]] {
        let out = run_env(&args, &[("IOREADY_ADDR", &p)], LONG);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    // The option wins over the variable (port 1: nothing listens there).
    let out = run_env(
        &["client", "--addr", &colon],
        &[("IOREADY_ADDR", ":1")],
        LONG,
    );
    assert!(out.status.success(), "{out:?}");
    terminate(server, "echo-server --addr PORT");

    let server = Proc::spawn_env(&["echo-server", "--quiet"], &[("IOREADY_ADDR", ":0")]);
    assert!(server.addr.ip().is_loopback());
    echo_once(server.addr);
    terminate(server, "IOREADY_ADDR=:0 echo-server");

    // IOREADY_TIME_ADDR for the time server and its client.
    let server = Proc::spawn_env(&["time-server"], &[("IOREADY_TIME_ADDR", ":0")]);
    let p = server.addr.port().to_string();
    let out = run_env(&["time-client"], &[("IOREADY_TIME_ADDR", &p)], LONG);
    assert!(out.status.success(), "{out:?}");
    let out = run(&["time-client", "--addr", &format!(":{p}")], LONG);
    assert!(out.status.success(), "{out:?}");
    terminate(server, "time-server");
}

#[test]
fn server_durations_and_counts_at_their_extremes_then_sigterm_exits_0() {
    let cases: Vec<Vec<&str>> = vec![
        vec!["--shutdown-grace", MAX_SECS],
        vec!["--shutdown-grace", "0"],
        vec!["--shutdown-grace", "1e-9"],
        vec!["--timeout", MAX_SECS],
        vec!["--timeout", "1e-9", "--quiet"],
        vec!["--idle-timeout", MAX_SECS],
        vec!["--max-conns", "18446744073709551615"],
        vec!["--max-conns", "1"],
        vec!["--output-cap", "18446744073709551615"],
        vec!["--output-cap", "1"],
        vec![
            "--shutdown-grace",
            MAX_SECS,
            "--timeout",
            MAX_SECS,
            "--idle-timeout",
            MAX_SECS,
            "--max-conns",
            "18446744073709551615",
            "--output-cap",
            "18446744073709551615",
        ],
    ];
    for extra in &cases {
        let mut args = vec!["echo-server", "--addr", ":0"];
        args.extend_from_slice(extra);
        let server = Proc::spawn(&args);
        echo_once(server.addr);
        // A connection still open, with traffic, when the signal comes.
        let mut live = connect(server.addr);
        live.write_all(b"live").unwrap();
        let mut got = [0u8; 4];
        if extra.contains(&"--max-conns") && extra.contains(&"1") {
            // The second connection is past the limit: closed at once.
            let mut rest = Vec::new();
            let _ = live.read_to_end(&mut rest);
        } else {
            live.read_exact(&mut got).unwrap();
        }
        terminate(server, &format!("echo-server {extra:?}"));
    }
    // An idle timeout of 1 ns closes every connection at once, and still
    // ends with status 0.
    let server = Proc::spawn(&["echo-server", "--addr", ":0", "--idle-timeout", "1e-9"]);
    let mut c = connect(server.addr);
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    terminate(server, "echo-server --idle-timeout 1e-9");

    // The time server's only duration.
    for t in [MAX_SECS, "1e-9"] {
        let server = Proc::spawn(&["time-server", "--addr", ":0", "--timeout", t]);
        let mut c = connect(server.addr);
        let mut four = Vec::new();
        c.read_to_end(&mut four).unwrap();
        assert_eq!(four.len(), 4, "time-server --timeout {t}");
        terminate(server, &format!("time-server --timeout {t}"));
    }
}

#[test]
fn client_durations_and_counts_at_their_extremes() {
    let limit = ioready_server::raise_fd_limit().expect("raise RLIMIT_NOFILE");
    assert!(
        limit >= 10_100,
        "need 10100 descriptors per process, hard limit is {limit}"
    );
    let server = Proc::spawn(&["echo-server", "--quiet", "--addr", ":0"]);
    let addr = server.addr.to_string();
    for sockets in ["1", "10000"] {
        let out = run(&["client", "--addr", &addr, "--sockets", sockets], LONG);
        assert!(out.status.success(), "client --sockets {sockets}: {out:?}");
    }
    let out = run(&["slow-client", "--addr", &addr, "--pause", "0"], LONG);
    assert!(out.status.success(), "slow-client --pause 0: {out:?}");
    // The largest pause is accepted and slept (not a panic): still running
    // after a moment, then stopped.
    let mut slow = std::process::Command::new(common::BIN)
        .args(["slow-client", "--addr", &addr, "--pause", MAX_SECS])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let early = slow.try_wait().unwrap();
    let _ = slow.kill();
    let _ = slow.wait();
    assert!(early.is_none(), "slow-client exited: {early:?}");
    // connect: the largest timeout to a listening port and to a closed one.
    let out = run(&["connect", &addr, "--timeout", MAX_SECS], LONG);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = run(
        &["connect", &closed.to_string(), "--timeout", MAX_SECS],
        LONG,
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // A zero timeout: connected at once or timed out, never a panic.
    let out = run(&["connect", &addr, "--timeout", "0"], LONG);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{out:?}");
    // bench: the largest round-trip count, bounded by a short timeout; the
    // largest message.
    let out = run(
        &[
            "bench",
            "--addr",
            &addr,
            "-c",
            "1",
            "-n",
            "18446744073709551615",
            "--timeout",
            "0.5",
        ],
        LONG,
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let out = run(
        &[
            "bench", "--addr", &addr, "-c", "1", "-n", "1", "-s", "16777216",
        ],
        LONG,
    );
    assert!(out.status.success(), "{out:?}");
    // The other counts and durations of bench at their largest, each run
    // bounded by --timeout: a result or a clear error, never a panic.
    for (extra, codes) in [
        (vec!["-c", "1", "-p", "4096", "-n", "3"], &[0][..]),
        (
            vec!["-c", "1", "-d", "86400", "-w", "86400", "--timeout", "0.5"],
            &[0, 1][..],
        ),
        (
            vec![
                "-c",
                "1",
                "--isolated",
                "--gap-us",
                "10000000",
                "-n",
                "1",
                "--timeout",
                "0.5",
            ],
            &[0, 1][..],
        ),
        (
            vec![
                "-c",
                "1",
                "--isolated",
                "--server-pid",
                "4294967295",
                "-n",
                "1",
            ],
            &[1][..],
        ),
    ]
    .into_iter()
    // More connections than the descriptor limit allows: refused before
    // connecting, with the reason (where the hard limit is below that).
    .chain((limit < 1_000_032).then(|| (vec!["-c", "1000000", "-n", "1"], &[1][..])))
    {
        let mut args = vec!["bench", "--addr", &addr];
        args.extend_from_slice(&extra);
        let out = run(&args, LONG);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code().is_some_and(|c| codes.contains(&c)),
            "{args:?}: {:?} {stderr}",
            out.status
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        if codes == [1] {
            assert!(
                stderr.contains("ioready: error: bench: "),
                "{args:?}: {stderr}"
            );
        }
    }
    terminate(server, "echo-server after the clients");
}
