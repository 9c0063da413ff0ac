//! The report tool of `bench/compare.sh` and `bench/counts.sh`.
//!
//! * `bench-report compare RAW OUT_DIR DOC COMMAND`: reads the raw results,
//!   writes `OUT_DIR/compare.md`, `OUT_DIR/throughput.{png,svg}` and
//!   `OUT_DIR/p99.{png,svg}`, prints the table, and replaces the `compare`
//!   section of DOC (BENCHMARKS.md) with the table, the charts and COMMAND.
//! * `bench-report splice DOC NAME FILE`: replaces the `NAME` section of DOC
//!   with the contents of FILE.

use std::io;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use ioready_bench::report;

#[derive(Parser)]
#[command(about = "Tables and charts of the ioready benchmarks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Table and charts from bench/compare.sh's raw results.
    Compare {
        /// The raw results (tab-separated, see the report module).
        raw: PathBuf,
        /// Where the table and charts go.
        out_dir: PathBuf,
        /// The markdown document whose `compare` section is replaced.
        doc: PathBuf,
        /// The command that reproduces the run, quoted in the document.
        command: String,
        /// The server the ratios are taken against.
        #[arg(long, default_value = "mio")]
        baseline: String,
        /// A line about the machine and placement, quoted in the document.
        #[arg(long, default_value = "")]
        setup: String,
    },
    /// Replaces a marked section of a document with a file's contents.
    Splice {
        doc: PathBuf,
        name: String,
        file: PathBuf,
    },
}

fn read(p: &Path) -> io::Result<String> {
    std::fs::read_to_string(p)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
}

fn write(p: &Path, s: &str) -> io::Result<()> {
    std::fs::write(p, s).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
}

fn read_doc(p: &Path) -> io::Result<String> {
    match std::fs::read_to_string(p) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", p.display()))),
    }
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("bench-report: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> io::Result<()> {
    match cli.cmd {
        Cmd::Compare {
            raw,
            out_dir,
            doc,
            command,
            baseline,
            setup,
        } => {
            let samples = report::parse_raw(&read(&raw)?)?;
            if samples.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: no results", raw.display()),
                ));
            }
            let points = report::aggregate(&samples);
            let table = report::markdown_table(&points, &baseline);
            std::fs::create_dir_all(&out_dir)?;
            write(&out_dir.join("compare.md"), &table)?;
            report::chart(&points, report::Metric::Throughput, &out_dir, "throughput")?;
            report::chart(&points, report::Metric::P99, &out_dir, "p99")?;
            print!("{table}");
            // Paths in the document are relative to the document's folder.
            let base = match doc.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let rel = pathdiff(&out_dir, base);
            let body = format!(
                "Reproduce with:\n\n```sh\n{command}\n```\n\n{setup}\n\n{table}\n\
                 ![throughput against connections]({rel}/throughput.svg)\n\n\
                 ![p99 latency against connections]({rel}/p99.svg)\n\n\
                 (PNG versions: [{rel}/throughput.png]({rel}/throughput.png), [{rel}/p99.png]({rel}/p99.png);\n\
                 raw results: [{rel}/{raw_name}]({rel}/{raw_name}).)\n",
                raw_name = raw.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            );
            let text = report::splice(&read_doc(&doc)?, "compare", &body);
            write(&doc, &text)
        }
        Cmd::Splice { doc, name, file } => {
            let body = read(&file)?;
            let text = report::splice(&read_doc(&doc)?, &name, &body);
            write(&doc, &text)
        }
    }
}

/// `path` relative to `base` when it lies inside it (else as given).
fn pathdiff(path: &Path, base: &Path) -> String {
    let p = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let b = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    match p.strip_prefix(&b) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}
