//! Fixture loading shared by the test modules.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// `/work/shared/fixtures/webhooks` in development, `../shared/...` beside the clone in CI: both
/// are three levels up from this crate.
pub fn shared_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/webhooks")
}

pub fn shared_fixture(name: &str) -> Vec<u8> {
    let path = shared_fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn vectors() -> Value {
    serde_json::from_slice(&shared_fixture("signature-vectors.json")).expect("vectors are JSON")
}

pub fn crate_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Headers as owned pairs from a JSON object of strings.
pub fn headers_of(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .expect("headers object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("header string").to_owned()))
        .collect()
}

/// Signs `cases` with the senders' npm libraries (tests/js/sign.mjs) when Node.js and the
/// packages are installed; `None` otherwise.
pub fn sign_with_npm(cases: &Value) -> Option<Value> {
    let dir = crate_file("tests/js");
    if !dir.join("node_modules/svix").exists() {
        return None;
    }
    let mut child = Command::new("node")
        .arg("sign.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(cases.to_string().as_bytes())
            .expect("writing cases to node");
    }
    let out = child.wait_with_output().expect("node ran");
    assert!(out.status.success(), "sign.mjs failed: {:?}", out.status);
    Some(serde_json::from_slice(&out.stdout).expect("sign.mjs prints JSON"))
}

/// The text of the value under `key` in a JSON object, sliced out by scanning the source text
/// (independent of serde_json, so it can check what the crate slices with `RawValue`).
pub fn slice_member<'a>(json: &'a str, key: &str) -> &'a str {
    let needle = format!("\"{key}\"");
    let at = json.find(&needle).expect("key present") + needle.len();
    let rest = &json[at..];
    let start = at + rest.find(|c: char| c != ':' && !c.is_whitespace()).unwrap();
    let bytes = json.as_bytes();
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return &json[start..=i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced JSON");
}
