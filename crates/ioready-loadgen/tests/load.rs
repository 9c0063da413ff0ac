//! The load generator against small in-process servers on 127.0.0.1:
//! an honest echo (no errors, exact counts), a server that corrupts a byte
//! (caught by the verification), one that closes early, and bad options.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use clap::Parser;
use ioready_loadgen::LoadArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    load: LoadArgs,
}

fn args(extra: &[&str]) -> LoadArgs {
    let mut v = vec!["loadgen", "--quiet"];
    v.extend_from_slice(extra);
    Cli::try_parse_from(v).expect("options parse").load
}

/// A thread per connection; `mangle` may alter what is echoed. Stops
/// accepting when `stop` is set (the accept loop is woken by a connect).
fn server(
    mangle: fn(&mut [u8], &mut u64) -> bool,
) -> (String, Arc<AtomicBool>, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let h = thread::spawn(move || {
        let mut workers = Vec::new();
        for conn in listener.incoming() {
            if s.load(Ordering::SeqCst) {
                break;
            }
            let Ok(mut conn) = conn else { continue };
            workers.push(thread::spawn(move || {
                conn.set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let mut buf = [0u8; 4096];
                let mut total = 0u64;
                loop {
                    let n = match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if !mangle(&mut buf[..n], &mut total) {
                        return; // close
                    }
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }));
        }
        for w in workers {
            let _ = w.join();
        }
    });
    (addr, stop, h)
}

fn stop(addr: &str, flag: Arc<AtomicBool>, h: thread::JoinHandle<()>) {
    flag.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect(addr);
    h.join().unwrap();
}

fn honest(_: &mut [u8], _: &mut u64) -> bool {
    true
}

#[test]
fn fixed_work_against_an_honest_echo_has_no_errors() {
    let (addr, flag, h) = server(honest);
    let a = args(&[
        "--addr", &addr, "-c", "8", "-n", "50", "-p", "3", "-s", "100",
    ]);
    assert_eq!(ioready_loadgen::run(&a).unwrap(), 0);
    stop(&addr, flag, h);
}

#[test]
fn isolated_and_timed_modes_finish_without_errors() {
    let (addr, flag, h) = server(honest);
    let iso = args(&[
        "--addr",
        &addr,
        "-c",
        "3",
        "-n",
        "10",
        "--isolated",
        "--gap-us",
        "10",
    ]);
    assert_eq!(ioready_loadgen::run(&iso).unwrap(), 0);
    let timed = args(&[
        "--addr", &addr, "-c", "4", "-d", "0.3", "-w", "0.1", "--json",
    ]);
    assert_eq!(ioready_loadgen::run(&timed).unwrap(), 0);
    stop(&addr, flag, h);
}

#[test]
fn a_corrupted_byte_is_counted_as_an_error() {
    fn flip_the_hundredth(b: &mut [u8], total: &mut u64) -> bool {
        for x in b.iter_mut() {
            if *total == 100 {
                *x ^= 0x40;
            }
            *total += 1;
        }
        true
    }
    let (addr, flag, h) = server(flip_the_hundredth);
    let a = args(&["--addr", &addr, "-c", "1", "-n", "20", "--timeout", "20"]);
    assert_eq!(ioready_loadgen::run(&a).unwrap(), 1);
    stop(&addr, flag, h);
}

#[test]
fn an_early_close_is_counted_as_an_error() {
    fn close_after_two_messages(b: &mut [u8], total: &mut u64) -> bool {
        *total += b.len() as u64;
        *total <= 128
    }
    let (addr, flag, h) = server(close_after_two_messages);
    let a = args(&["--addr", &addr, "-c", "2", "-n", "10", "--timeout", "20"]);
    assert_eq!(ioready_loadgen::run(&a).unwrap(), 1);
    stop(&addr, flag, h);
}

#[test]
fn bad_options_are_refused_with_their_name() {
    // Out of range: refused by the option's parser, as a usage error.
    for (opts, name) in [
        (vec!["-c", "0"], "--connections"),
        (vec!["-c", "1000001"], "--connections"),
        (vec!["-c", "18446744073709551616"], "--connections"),
        (vec!["-s", "0"], "--size"),
        (vec!["-s", "16777217"], "--size"),
        (vec!["-p", "0"], "--pipeline"),
        (vec!["-p", "4097"], "--pipeline"),
        (vec!["--duration=-1"], "--duration"),
        (vec!["--duration=86401"], "--duration"),
        (vec!["--warmup=nan"], "--warmup"),
        (vec!["--timeout=inf"], "--timeout"),
        (vec!["--gap-us=10000001"], "--gap-us"),
        (vec!["--backend", "nope"], "--backend"),
    ] {
        let mut v = vec!["loadgen"];
        v.extend_from_slice(&opts);
        let e = Cli::try_parse_from(&v)
            .err()
            .unwrap_or_else(|| panic!("{v:?} parsed"));
        assert_eq!(e.exit_code(), 2, "{v:?}");
        assert!(e.to_string().contains(name), "{v:?}: {e}");
    }
    // Combinations: refused by check() and by run(), naming the option.
    for (opts, name) in [
        (vec!["--isolated", "-p", "2"], "--pipeline"),
        (vec!["--duration", "0"], "--duration"),
        (vec!["--timeout", "0"], "--timeout"),
        (
            vec!["-c", "1000000", "-s", "16777216"],
            "connections x size",
        ),
    ] {
        let mut v = opts.clone();
        v.push("--addr=127.0.0.1:9");
        let a = args(&v);
        let msg = a.check().unwrap_err();
        assert!(msg.contains(name), "{v:?}: {msg}");
        let e = ioready_loadgen::run(&a).unwrap_err();
        assert!(e.to_string().contains(name), "{v:?}: {e}");
    }
    // The extremes that are accepted pass check().
    for opts in [
        vec!["-c", "1000000"],
        vec![
            "-c", "1", "-s", "16777216", "-p", "4", "--gap-us", "10000000",
        ],
        vec![
            "--duration",
            "86400",
            "--warmup",
            "86400",
            "--timeout",
            "86400",
        ],
        vec!["-n", "18446744073709551615", "--timeout", "0.001"],
        vec!["-n", "0"],
    ] {
        args(&opts)
            .check()
            .unwrap_or_else(|e| panic!("{opts:?}: {e}"));
    }
    // The address is only resolved by run().
    let a = args(&["--addr=not an address"]);
    a.check().unwrap();
    let e = ioready_loadgen::run(&a).unwrap_err();
    assert!(e.to_string().contains("--addr"), "{e}");
}

#[test]
fn no_server_is_an_error_not_a_panic() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let e = ioready_loadgen::run(&args(&["--addr", &addr, "-n", "1"])).unwrap_err();
    assert!(e.to_string().contains("cannot connect"), "{e}");
}
