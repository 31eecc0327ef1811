//! A lean HTTP/1.1 load generator: keep-alive connections on one thread, each sending a
//! request, reading the whole response, and sending the next. Requests are built as bytes up
//! front (or per request by a closure), so the generator spends little of the machine's CPU on
//! itself, like `wrk` does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::report::new_histogram;

/// What one load run saw.
pub struct Outcome {
    /// Latency in microseconds of every response with a 2xx status.
    pub ok: Histogram<u64>,
    /// Responses by status and the tag the caller's classifier gave them, with the first body
    /// seen for each.
    pub statuses: Statuses,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn ok_per_sec(&self) -> f64 {
        self.ok.len() as f64 / self.elapsed.as_secs_f64()
    }
    pub fn p50_ms(&self) -> f64 {
        self.ok.value_at_quantile(0.5) as f64 / 1000.0
    }
    pub fn p99_ms(&self) -> f64 {
        self.ok.value_at_quantile(0.99) as f64 / 1000.0
    }
    pub fn count(&self, status: u16, tag: &'static str) -> u64 {
        self.statuses.get(&(status, tag)).map_or(0, |(n, _)| *n)
    }
    /// Fails with a sample body when any response was tagged, or was not 2xx, unless its
    /// (status, tag) is in `allowed`.
    pub fn ensure_only(&self, allowed: &[(u16, &str)]) -> anyhow::Result<()> {
        for ((status, tag), (n, body)) in &self.statuses {
            let plain_ok = (200..300).contains(status) && tag.is_empty();
            if !plain_ok && !allowed.contains(&(*status, *tag)) {
                anyhow::bail!("{n} responses with status {status} {tag}, e.g. {body}");
            }
        }
        Ok(())
    }
}

/// A POST request with a JSON body, as bytes on the wire.
pub fn post_json(path: &str, extra_headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in extra_headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Gives a response a tag from its status and body; `""` for an ordinary one.
pub type Classify = fn(u16, &[u8]) -> &'static str;

/// Any response is ordinary; only its status counts.
pub fn by_status(_: u16, _: &[u8]) -> &'static str {
    ""
}

/// Runs `conns` connections to `addr` for `dur`. `request(conn, n)` gives the bytes of the
/// `n`-th request on connection `conn`. Runs on its own single-threaded runtime.
pub fn run(
    addr: SocketAddr,
    conns: usize,
    dur: Duration,
    classify: Classify,
    request: impl Fn(usize, u64) -> Vec<u8> + 'static,
) -> anyhow::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let request = Rc::new(request);
    local.block_on(&rt, async move {
        let start = Instant::now();
        let deadline = start + dur;
        let mut tasks = Vec::new();
        for conn in 0..conns {
            let request = request.clone();
            tasks.push(tokio::task::spawn_local(async move {
                connection(addr, deadline, classify, |n| request(conn, n)).await
            }));
        }
        let mut outcome = Outcome {
            ok: new_histogram(),
            statuses: BTreeMap::new(),
            elapsed: Duration::ZERO,
        };
        for t in tasks {
            let (hist, statuses) = t.await??;
            outcome.ok.add(hist)?;
            for (status, (n, body)) in statuses {
                let entry = outcome.statuses.entry(status).or_insert((0, body));
                entry.0 += n;
            }
        }
        outcome.elapsed = start.elapsed();
        Ok(outcome)
    })
}

pub type Statuses = BTreeMap<(u16, &'static str), (u64, String)>;

async fn connection(
    addr: SocketAddr,
    deadline: Instant,
    classify: Classify,
    request: impl Fn(u64) -> Vec<u8>,
) -> anyhow::Result<(Histogram<u64>, Statuses)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut hist = new_histogram();
    let mut statuses = Statuses::new();
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut n = 0u64;
    while Instant::now() < deadline {
        let req = request(n);
        n += 1;
        let t = Instant::now();
        stream.write_all(&req).await?;
        let (status, body) = read_response(&mut stream, &mut buf).await?;
        let micros = t.elapsed().as_micros().max(1) as u64;
        if (200..300).contains(&status) {
            hist.record(micros)?;
        }
        let entry = statuses
            .entry((status, classify(status, &body)))
            .or_insert_with(|| (0, String::from_utf8_lossy(&body).into_owned()));
        entry.0 += 1;
    }
    Ok((hist, statuses))
}

/// Reads one response with a `content-length` body. Returns its status and body.
async fn read_response(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> anyhow::Result<(u16, Vec<u8>)> {
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end])?;
            let status: u16 = head
                .get(9..12)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("bad status line in {head:?}"))?;
            let len = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .ok_or_else(|| anyhow::anyhow!("response without content-length: {head:?}"))?;
            let total = end + 4 + len;
            while buf.len() < total {
                let n = stream.read(&mut chunk).await?;
                anyhow::ensure!(n > 0, "connection closed mid-body");
                buf.extend_from_slice(&chunk[..n]);
            }
            anyhow::ensure!(buf.len() == total, "bytes after the response body");
            return Ok((status, buf[end + 4..total].to_vec()));
        }
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed before a response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
