//! Spawning the real `ioready` binary and reading what it prints.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ioready");

/// The backends every end-to-end scenario runs on.
pub fn backends() -> Vec<&'static str> {
    let mut b = vec!["select", "poll"];
    if cfg!(target_os = "linux") {
        b.push("epoll");
        // The io_uring engine (where the kernel refuses io_uring it falls
        // back to epoll, which these tests then check instead).
        b.push("uring");
    }
    b
}

/// A spawned server, killed on drop if still running.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Receiver<String>,
    pub stderr: Receiver<String>,
}

fn lines(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `... on 127.0.0.1 port 4321` (both "starting up on" and "listening on").
pub fn parse_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split(" on ").nth(1)?;
    let (host, port) = rest.split_once(" port ")?;
    format!("{host}:{}", port.trim()).parse().ok()
}

/// The variables that give the command's options defaults: unset for
/// every run unless a test sets them, so that the caller's environment
/// cannot change what a test checks.
pub const ENV_VARS: [&str; 3] = ["IOREADY_BACKEND", "IOREADY_ADDR", "IOREADY_TIME_ADDR"];

/// Spawns `ioready ARGS` with stdin closed, the environment `env` (over the
/// test's own, without [`ENV_VARS`]) and its output read line by line.
fn start(args: &[&str], env: &[(&str, &str)]) -> (Child, Receiver<String>, Receiver<String>) {
    start_with(args, env, |_| {})
}

/// [`start`], with `setup` applied to the command last (a seccomp filter,
/// a descriptor limit set before `exec`, ...).
fn start_with(
    args: &[&str],
    env: &[(&str, &str)],
    setup: impl FnOnce(&mut Command),
) -> (Child, Receiver<String>, Receiver<String>) {
    let mut cmd = Command::new(BIN);
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    setup(&mut cmd);
    let mut child = cmd.spawn().expect("spawn ioready");
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    (child, stdout, stderr)
}

impl Proc {
    /// Spawns `ioready ARGS` and waits (at most 30 s) for its address line.
    pub fn spawn(args: &[&str]) -> Proc {
        Proc::spawn_env(args, &[])
    }

    /// [`Proc::spawn`] with environment variables.
    pub fn spawn_env(args: &[&str], env: &[(&str, &str)]) -> Proc {
        Proc::spawn_with(args, env, |_| {})
    }

    /// [`Proc::spawn_env`], with `setup` applied to the command last.
    pub fn spawn_with(
        args: &[&str],
        env: &[(&str, &str)],
        setup: impl FnOnce(&mut Command),
    ) -> Proc {
        let (mut child, stdout, stderr) = start_with(args, env, setup);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match stdout.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = parse_addr(&line) {
                        return Proc {
                            child,
                            addr,
                            stdout,
                            stderr,
                        };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let errs: Vec<String> = stderr.try_iter().collect();
                    panic!("ioready {args:?} printed no address; stderr: {errs:?}");
                }
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits up to `timeout` for a stdout line matching `pred`.
    pub fn wait_line(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        wait_line(&self.stdout, timeout, pred)
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, timeout)
    }

    /// Sends a signal.
    pub fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid()).unwrap();
        rustix::process::kill_process(pid, sig).expect("kill");
    }

    /// `VmHWM` (peak resident set) in bytes, from /proc.
    pub fn vm_hwm(&self) -> u64 {
        status_kb(self.pid(), "VmHWM:") * 1024
    }

    /// While the server is out of descriptors: echoes ten rounds, 200 ms
    /// apart, on each of `served`, then checks that the server did not spin
    /// (a server retrying accept in a loop burns a whole core, 100 ticks a
    /// second; one that backs off uses next to nothing) and logged no
    /// further "accept failed" warning.
    pub fn served_keep_working_without_spinning(
        &self,
        served: &mut [std::net::TcpStream],
        what: &str,
    ) {
        use std::io::{Read, Write};
        let before = self.cpu_ticks();
        let t0 = Instant::now();
        for round in 0..10 {
            for c in served.iter_mut() {
                let msg = format!("round {round}");
                c.write_all(msg.as_bytes()).unwrap();
                let mut got = vec![0u8; msg.len()];
                c.read_exact(&mut got).unwrap();
                assert_eq!(got, msg.as_bytes());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let ticks = self.cpu_ticks() - before;
        let secs = t0.elapsed().as_secs_f64();
        assert!(
            (ticks as f64) < 30.0 * secs,
            "{what}: {ticks} CPU ticks in {secs:.1} s while out of descriptors"
        );
        let warnings: Vec<String> = self
            .stderr
            .try_iter()
            .filter(|l| l.contains("accept failed"))
            .collect();
        assert!(
            warnings.is_empty(),
            "{what}: repeated warnings {warnings:?}"
        );
    }

    /// User + system CPU time in clock ticks, from /proc/PID/stat.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the ")" of the command name: state is field 3; utime
        // and stime are fields 14 and 15.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn status_kb(pid: i32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"));
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

pub fn wait_line(
    rx: &Receiver<String>,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match rx.recv_timeout(left) {
            Ok(l) if pred(&l) => return Some(l),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
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

/// Runs `ioready ARGS` to completion (killed and failed after `timeout`).
pub fn run(args: &[&str], timeout: Duration) -> Output {
    run_env(args, &[], timeout)
}

/// [`run`] with environment variables.
pub fn run_env(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Output {
    let (mut child, out, err) = start(args, env);
    let status = match wait_exit(&mut child, timeout) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ioready {args:?} did not finish within {timeout:?}");
        }
    };
    // The reader threads end at end of file, which follows the exit.
    let collect = |rx: Receiver<String>| {
        let mut s = String::new();
        while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
            s.push_str(&l);
            s.push('\n');
        }
        s.into_bytes()
    };
    Output {
        status,
        stdout: collect(out),
        stderr: collect(err),
    }
}

/// The text between the first pair of double quotes of a line.
pub fn quoted(line: &str) -> Option<&str> {
    let start = line.find('"')? + 1;
    let end = start + line[start..].rfind('"')?;
    Some(&line[start..end])
}
