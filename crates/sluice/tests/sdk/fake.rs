//! A fake app: a plain HTTP server whose answers break the SDK protocol in chosen ways, one per
//! path. Functions registered by hand (`POST /fn/register`) point at it.

use std::io::{BufRead, BufReader, Read, Write};

/// One answer: status, whether it carries `X-Inngest-SDK`, content type and body.
struct Answer {
    status: &'static str,
    sdk: bool,
    content_type: &'static str,
    body: &'static str,
}

/// What the fake app answers on `/{path}`; see [`serve`].
fn answer(path: &str) -> Answer {
    let (status, sdk, content_type, body) = match path {
        // A web server with no Inngest handler at that path.
        "not-found" => (
            "404 Not Found",
            false,
            "text/html",
            "<html><body>Cannot POST</body></html>",
        ),
        // Something else entirely answers, successfully.
        "html" => (
            "200 OK",
            false,
            "text/html",
            "<html><body>Welcome to my blog</body></html>",
        ),
        // An SDK-looking 206 whose body is cut short.
        "malformed" => (
            "206 Partial Content",
            true,
            "application/json",
            r#"[{"op": "StepRun", "id": "#,
        ),
        // An opcode no SDK has ever sent.
        "unknown-op" => (
            "206 Partial Content",
            true,
            "application/json",
            r#"[{"op":"Teleport","id":"9b0fc7c6a8b0a1e8d2b5c4e1f0a9b8c7d6e5f4a3","name":"beam-me-up"}]"#,
        ),
        // A newer opcode Sluice does not support yet.
        _ => (
            "206 Partial Content",
            true,
            "application/json",
            r#"[{"op":"AIGateway","id":"0a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b","name":"ask","displayName":"ask","opts":{"url":"http://127.0.0.1:9/v1/chat/completions","body":{}}}]"#,
        ),
    };
    Answer {
        status,
        sdk,
        content_type,
        body,
    }
}

/// Starts the fake app on a free port; it runs until the test process ends.
pub fn serve() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                // "POST /not-found?fnId=… HTTP/1.1" → "not-found"
                let target = request_line.split(' ').nth(1).unwrap_or("/");
                let path = target
                    .trim_start_matches('/')
                    .split('?')
                    .next()
                    .unwrap_or("");
                let a = answer(path);
                let sdk = if a.sdk {
                    "x-inngest-sdk: js:v4.24.0\r\nx-inngest-req-version: 1\r\n"
                } else {
                    ""
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {}\r\ncontent-type: {}\r\n{sdk}content-length: {}\r\nconnection: close\r\n\r\n{}",
                    a.status,
                    a.content_type,
                    a.body.len(),
                    a.body
                );
            });
        }
    });
    port
}
