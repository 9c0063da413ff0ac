//! Turns the raw results of `bench/compare.sh` into a markdown table and
//! charts, and splices generated sections into `BENCHMARKS.md`.
//!
//! Raw format: one line per measured point, tab-separated:
//! `server  connections  repetition  peak_rss_kib  cpu_ticks  clk_tck  json`
//! where `json` is the load generator's `--json` report and `cpu_ticks` the
//! server's utime+stime spent during that load (from /proc/PID/stat).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// One measured point.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The server's name (`ioready-epoll`, `mio`, ...).
    pub server: String,
    /// Concurrent connections of the load.
    pub connections: u64,
    /// The server's peak resident set during the load, KiB.
    pub peak_rss_kib: u64,
    /// Server CPU seconds (user + system) spent during the load.
    pub cpu_s: f64,
    /// Measured throughput.
    pub round_trips_per_s: f64,
    /// Every round trip of the run, warm-up included (the CPU divisor).
    pub all_round_trips: u64,
    /// 99th percentile round-trip latency, microseconds.
    pub p99_us: f64,
    /// Failed round trips or connections.
    pub errors: u64,
}

/// The median of each quantity over the repetitions of one point.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The server's name.
    pub server: String,
    /// Concurrent connections of the load.
    pub connections: u64,
    /// Repetitions the medians are taken over.
    pub runs: usize,
    /// Median throughput.
    pub round_trips_per_s: f64,
    /// Lowest and highest throughput among the repetitions.
    pub spread: (f64, f64),
    /// Median 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Median peak resident set, KiB.
    pub peak_rss_kib: u64,
    /// Server CPU time per round trip, in microseconds.
    pub cpu_us_per_rt: f64,
    /// Errors, summed over the repetitions.
    pub errors: u64,
}

fn bad(line: usize, msg: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("raw results, line {line}: {msg}"),
    )
}

/// The number after `"key":` in a flat JSON text (the load generator's
/// report has unique key names).
fn json_number(json: &str, key: &str) -> Option<f64> {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat)? + pat.len();
    let rest = &json[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Parses the raw results.
///
/// # Errors
///
/// `InvalidData` naming the line of a malformed record.
pub fn parse_raw(text: &str) -> io::Result<Vec<Sample>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.splitn(7, '\t').collect();
        if f.len() != 7 {
            return Err(bad(n, "expected 7 tab-separated fields"));
        }
        let int = |i: usize, what: &str| -> io::Result<u64> {
            f[i].trim()
                .parse()
                .map_err(|_| bad(n, format!("{what}: not a number: {:?}", f[i])))
        };
        let connections = int(1, "connections")?;
        let peak_rss_kib = int(3, "peak_rss_kib")?;
        let ticks = int(4, "cpu_ticks")?;
        let clk = int(5, "clk_tck")?.max(1);
        let json = f[6];
        let num = |key: &str| json_number(json, key).ok_or_else(|| bad(n, format!("no {key}")));
        out.push(Sample {
            server: f[0].to_string(),
            connections,
            peak_rss_kib,
            cpu_s: ticks as f64 / clk as f64,
            round_trips_per_s: num("round_trips_per_s")?,
            all_round_trips: num("all_round_trips")? as u64,
            p99_us: num("p99")?,
            errors: num("total")? as u64,
        });
    }
    Ok(out)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Groups samples by (server, connections) and takes medians. The servers
/// keep the order of their first appearance.
pub fn aggregate(samples: &[Sample]) -> Vec<Point> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<(usize, u64), Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        let i = match order.iter().position(|x| *x == s.server) {
            Some(i) => i,
            None => {
                order.push(s.server.clone());
                order.len() - 1
            }
        };
        groups.entry((i, s.connections)).or_default().push(s);
    }
    let mut points: Vec<Point> = groups
        .into_iter()
        .map(|((i, connections), g)| {
            let rates: Vec<f64> = g.iter().map(|s| s.round_trips_per_s).collect();
            let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = rates.iter().copied().fold(0.0, f64::max);
            Point {
                server: order[i].clone(),
                connections,
                runs: g.len(),
                round_trips_per_s: median(rates),
                spread: (lo, hi),
                p99_us: median(g.iter().map(|s| s.p99_us).collect()),
                peak_rss_kib: median(g.iter().map(|s| s.peak_rss_kib as f64).collect()) as u64,
                cpu_us_per_rt: median(
                    g.iter()
                        .filter(|s| s.all_round_trips > 0)
                        .map(|s| s.cpu_s * 1e6 / s.all_round_trips as f64)
                        .collect(),
                ),
                errors: g.iter().map(|s| s.errors).sum(),
            }
        })
        .collect();
    points.sort_by_key(|p| p.connections);
    points
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "n/a".to_string()
    }
}

fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The comparison table: one row per (connections, server), ratios to the
/// `baseline` server (mio) at the same connection count.
pub fn markdown_table(points: &[Point], baseline: &str) -> String {
    let mut s = String::from(
        "| connections | server | round trips/s | vs mio | p99 latency (us) | p99 vs mio | server peak RSS (MiB) | server CPU per round trip (us) | runs (min..max round trips/s) | errors |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---|---:|\n",
    );
    for p in points {
        let base = points
            .iter()
            .find(|b| b.server == baseline && b.connections == p.connections);
        let (r, l) = match base {
            Some(b) => (
                ratio(p.round_trips_per_s, b.round_trips_per_s),
                ratio(p.p99_us, b.p99_us),
            ),
            None => ("n/a".into(), "n/a".into()),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {} | {:.1} | {:.2} | {} ({}..{}) | {} |\n",
            thousands(p.connections as f64),
            p.server,
            thousands(p.round_trips_per_s),
            r,
            p.p99_us,
            l,
            p.peak_rss_kib as f64 / 1024.0,
            p.cpu_us_per_rt,
            p.runs,
            thousands(p.spread.0),
            thousands(p.spread.1),
            p.errors
        ));
    }
    s
}

/// Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
/// in `doc` with `body`; appends the marked section if it is missing.
pub fn splice(doc: &str, name: &str, body: &str) -> String {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let block = format!("{begin}\n{}\n{end}", body.trim_end());
    if let (Some(b), Some(e)) = (doc.find(&begin), doc.find(&end)) {
        if b < e {
            return format!("{}{}{}", &doc[..b], block, &doc[e + end.len()..]);
        }
    }
    let mut out = doc.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&block);
    out.push('\n');
    out
}

/// Registers a sans-serif font for the charts (plotters draws text itself).
fn load_font() -> io::Result<()> {
    use std::sync::OnceLock;
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = DONE.get_or_init(|| {
        let candidates = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        ];
        for path in candidates {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(
                    "sans-serif",
                    plotters::style::FontStyle::Normal,
                    bytes,
                )
                .is_ok()
                {
                    return Ok(());
                }
            }
        }
        Err(format!(
            "no font for the charts: install fonts-dejavu-core (looked in {})",
            candidates.join(", ")
        ))
    });
    r.clone()
        .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))
}

const COLORS: [plotters::style::RGBColor; 8] = [
    plotters::style::RGBColor(0x1f, 0x77, 0xb4),
    plotters::style::RGBColor(0xff, 0x7f, 0x0e),
    plotters::style::RGBColor(0x2c, 0xa0, 0x2c),
    plotters::style::RGBColor(0xd6, 0x27, 0x28),
    plotters::style::RGBColor(0x94, 0x67, 0xbd),
    plotters::style::RGBColor(0x8c, 0x56, 0x4b),
    plotters::style::RGBColor(0xe3, 0x77, 0xc2),
    plotters::style::RGBColor(0x7f, 0x7f, 0x7f),
];

/// Which quantity a chart shows.
#[derive(Clone, Copy, Debug)]
pub enum Metric {
    /// Round trips per second.
    Throughput,
    /// 99th percentile latency.
    P99,
}

fn draw<DB: plotters::prelude::DrawingBackend>(
    root: plotters::drawing::DrawingArea<DB, plotters::coord::Shift>,
    points: &[Point],
    metric: Metric,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    use plotters::prelude::*;
    let value = |p: &Point| match metric {
        Metric::Throughput => p.round_trips_per_s / 1000.0,
        Metric::P99 => p.p99_us,
    };
    let mut servers: Vec<&str> = Vec::new();
    for p in points {
        if !servers.contains(&p.server.as_str()) {
            servers.push(&p.server);
        }
    }
    let xmax = points.iter().map(|p| p.connections).max().unwrap_or(1) as f64 * 1.5;
    let vmax = points.iter().map(value).fold(0.0, f64::max).max(1.0);
    let vmin = points
        .iter()
        .map(value)
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min)
        .min(vmax);
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (title, ylabel) = match metric {
        Metric::Throughput => (
            "Echo throughput (64-byte messages)",
            "thousand round trips/s",
        ),
        Metric::P99 => ("p99 latency (64-byte messages)", "p99 latency (us)"),
    };
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70);
    let x = (0.7f64..xmax).log_scale();
    let fmt_x = |v: &f64| {
        let r = v.round();
        if (v - r).abs() < 1e-6 {
            thousands(r)
        } else {
            String::new()
        }
    };
    macro_rules! finish {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc("connections")
                .y_desc(ylabel)
                .x_label_formatter(&fmt_x)
                .draw()
                .map_err(|e| e.to_string())?;
            for (k, server) in servers.iter().enumerate() {
                let color = COLORS[k % COLORS.len()];
                let series: Vec<(f64, f64)> = points
                    .iter()
                    .filter(|p| p.server == *server && value(p) > 0.0)
                    .map(|p| (p.connections as f64, value(p)))
                    .collect();
                chart
                    .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))
                    .map_err(|e| e.to_string())?
                    .label(*server)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(
                        series
                            .iter()
                            .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
                    )
                    .map_err(|e| e.to_string())?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(|e| e.to_string())?;
        }};
    }
    match metric {
        Metric::Throughput => finish!(builder
            .build_cartesian_2d(x, 0.0..vmax * 1.15)
            .map_err(|e| e.to_string())?),
        Metric::P99 => finish!(builder
            .build_cartesian_2d(x, (vmin * 0.7..vmax * 1.5).log_scale())
            .map_err(|e| e.to_string())?),
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Draws `NAME.png` and `NAME.svg` of one metric against connections.
///
/// # Errors
///
/// `NotFound` if no font can be loaded; `Other` with plotters' message if
/// drawing or writing fails.
pub fn chart(points: &[Point], metric: Metric, dir: &Path, name: &str) -> io::Result<()> {
    use plotters::prelude::*;
    load_font()?;
    let png = dir.join(format!("{name}.png"));
    let svg = dir.join(format!("{name}.svg"));
    draw(
        BitMapBackend::new(&png, (900, 560)).into_drawing_area(),
        points,
        metric,
    )
    .map_err(|e| io::Error::other(format!("{}: {e}", png.display())))?;
    draw(
        SVGBackend::new(&svg, (900, 560)).into_drawing_area(),
        points,
        metric,
    )
    .map_err(|e| io::Error::other(format!("{}: {e}", svg.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "mio\t64\t1\t2048\t300\t100\t{\"round_trips_per_s\":100000.0,\"all_round_trips\":400000,\"latency_us\":{\"p50\":1,\"p99\":50.5},\"errors\":{\"total\":0}}\n\
                       ioready-epoll\t64\t1\t1024\t250\t100\t{\"round_trips_per_s\":120000.0,\"all_round_trips\":500000,\"latency_us\":{\"p50\":1,\"p99\":40.0},\"errors\":{\"total\":2}}\n\
                       mio\t64\t2\t2048\t300\t100\t{\"round_trips_per_s\":110000.0,\"all_round_trips\":400000,\"latency_us\":{\"p50\":1,\"p99\":60.5},\"errors\":{\"total\":0}}\n";

    #[test]
    fn parses_and_aggregates() {
        let s = parse_raw(RAW).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].p99_us, 50.5);
        assert_eq!(s[1].errors, 2);
        assert_eq!(s[0].cpu_s, 3.0);
        let p = aggregate(&s);
        assert_eq!(p.len(), 2);
        let mio = p.iter().find(|p| p.server == "mio").unwrap();
        assert_eq!(mio.runs, 2);
        assert_eq!(mio.round_trips_per_s, 105000.0);
        assert_eq!(mio.spread, (100000.0, 110000.0));
        assert_eq!(mio.p99_us, 55.5);
        assert!((mio.cpu_us_per_rt - 7.5).abs() < 1e-9);
        let table = markdown_table(&p, "mio");
        assert!(
            table.contains("| 64 | ioready-epoll | 120,000 | 1.14x | 40 | 0.72x |"),
            "{table}"
        );
    }

    #[test]
    fn malformed_lines_are_named() {
        let e = parse_raw("mio\t64\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = parse_raw("mio\tx\t1\t1\t1\t100\t{}\n").unwrap_err();
        assert!(e.to_string().contains("connections"), "{e}");
        let e = parse_raw("mio\t1\t1\t1\t1\t100\t{\"p99\":1}\n").unwrap_err();
        assert!(e.to_string().contains("round_trips_per_s"), "{e}");
    }

    #[test]
    fn splice_replaces_or_appends() {
        let doc = "# T\n<!-- a:begin -->\nold\n<!-- a:end -->\ntail\n";
        let out = splice(doc, "a", "new\n");
        assert_eq!(out, "# T\n<!-- a:begin -->\nnew\n<!-- a:end -->\ntail\n");
        let out = splice("# T\n", "b", "x");
        assert_eq!(out, "# T\n\n<!-- b:begin -->\nx\n<!-- b:end -->\n");
    }

    #[test]
    fn charts_are_written() {
        if load_font().is_err() {
            eprintln!("no system font: chart test skipped");
            return;
        }
        let dir = std::env::temp_dir().join(format!("ioready-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = aggregate(&parse_raw(RAW).unwrap());
        chart(&p, Metric::Throughput, &dir, "t").unwrap();
        chart(&p, Metric::P99, &dir, "l").unwrap();
        for f in ["t.png", "t.svg", "l.png", "l.svg"] {
            let len = std::fs::metadata(dir.join(f)).unwrap().len();
            assert!(len > 1000, "{f}: {len} bytes");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
