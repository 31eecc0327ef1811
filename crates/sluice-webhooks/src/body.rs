//! Request bodies turned into JSON values, by content type.
//!
//! - `application/json`, `text/json` and any `+json` type: parsed as JSON. A missing content type
//!   is treated as JSON too, since many senders omit it and JSON is the overwhelming norm.
//! - `application/x-www-form-urlencoded`: an object whose values are arrays of strings, in the
//!   order fields first appear (`a=1&a=2&b=x` gives `{"a":["1","2"],"b":["x"]}`), the shape
//!   Inngest transforms receive.
//! - `multipart/form-data`: the same shape. A file part contributes its content as a string: the
//!   text itself when the bytes are valid UTF-8, otherwise standard base64 (padded). There is no
//!   marker telling the two apart, because the Inngest shape has none; a transform that expects a
//!   binary upload decodes it itself. Parts without a name are skipped.
//!
//! Anything else is [`BodyError::UnsupportedMediaType`], which the server answers with 415.

use base64::Engine;
use serde_json::{Map, Value};

/// How the body was encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
    Multipart,
}

/// A parsed body.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBody {
    pub kind: BodyKind,
    /// The JSON value; key order and number text are preserved as sent.
    pub value: Value,
}

/// Why a body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("unsupported content type {content_type:?}; expected JSON, form-urlencoded or multipart/form-data")]
    UnsupportedMediaType { content_type: String },
    #[error("body is empty; expected JSON")]
    Empty,
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("malformed multipart body: {0}")]
    Multipart(String),
    /// The body parsed, but lacks what the preset needs (for example a Clerk envelope's `type`).
    #[error("{0}")]
    Shape(String),
}

impl BodyError {
    pub(crate) fn json(e: &serde_json::Error) -> Self {
        let message = e.to_string();
        // serde_json appends " at line L column C"; it is reported separately.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        BodyError::Json {
            line: e.line(),
            column: e.column(),
            message,
        }
    }
}

/// Parses `body` according to `content_type` (the full header value, parameters included).
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<ParsedBody, BodyError> {
    let essence = content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match essence.as_str() {
        "" | "application/json" | "text/json" => parse_json(body),
        s if s.starts_with("application/") && s.ends_with("+json") => parse_json(body),
        "application/x-www-form-urlencoded" => Ok(ParsedBody {
            kind: BodyKind::Form,
            value: parse_query(body),
        }),
        "multipart/form-data" => parse_multipart(content_type.unwrap_or_default(), body),
        _ => Err(BodyError::UnsupportedMediaType {
            content_type: content_type.unwrap_or_default().to_owned(),
        }),
    }
}

/// Parses a query string or form-urlencoded body into `{"key": ["v1", "v2"], ...}`.
/// Invalid UTF-8 in escapes is replaced with U+FFFD.
pub fn parse_query(input: &[u8]) -> Value {
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(input) {
        push(&mut map, k.into_owned(), v.into_owned());
    }
    Value::Object(map)
}

fn push(map: &mut Map<String, Value>, key: String, value: String) {
    match map.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(items) => items.push(Value::String(value)),
        _ => unreachable!("every value inserted here is an array"),
    }
}

fn parse_json(body: &[u8]) -> Result<ParsedBody, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let value = serde_json::from_slice(body).map_err(|e| BodyError::json(&e))?;
    Ok(ParsedBody {
        kind: BodyKind::Json,
        value,
    })
}

fn parse_multipart(content_type: &str, body: &[u8]) -> Result<ParsedBody, BodyError> {
    let boundary =
        multer::parse_boundary(content_type).map_err(|e| BodyError::Multipart(e.to_string()))?;
    let chunk = bytes::Bytes::copy_from_slice(body);
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(chunk) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    // The whole body is already in memory, so every poll is ready and this never blocks.
    futures::executor::block_on(async move {
        let mut map = Map::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| BodyError::Multipart(e.to_string()))?
        {
            let Some(name) = field.name().map(str::to_owned) else {
                continue;
            };
            let data = field
                .bytes()
                .await
                .map_err(|e| BodyError::Multipart(e.to_string()))?;
            let text = match String::from_utf8(data.to_vec()) {
                Ok(text) => text,
                Err(_) => base64::engine::general_purpose::STANDARD.encode(&data),
            };
            push(&mut map, name, text);
        }
        Ok(ParsedBody {
            kind: BodyKind::Multipart,
            value: Value::Object(map),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_variants() {
        for ct in [
            None,
            Some("application/json"),
            Some("Application/JSON; charset=utf-8"),
            Some("application/vnd.api+json"),
            Some("application/cloudevents+json"),
        ] {
            let p = parse(ct, br#"{"b":1,"a":12345678901234567890123}"#).unwrap();
            assert_eq!(p.kind, BodyKind::Json);
            // Key order and big numbers survive.
            assert_eq!(
                serde_json::to_string(&p.value).unwrap(),
                r#"{"b":1,"a":12345678901234567890123}"#
            );
        }
    }

    #[test]
    fn malformed_json_names_position() {
        let err = parse(Some("application/json"), b"{\n  \"a\": 1,\n  \"b\": }").unwrap_err();
        match &err {
            BodyError::Json { line, column, .. } => assert_eq!((*line, *column), (3, 8)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("line 3, column 8"), "{err}");
        assert_eq!(parse(None, b"  ").unwrap_err(), BodyError::Empty);
    }

    #[test]
    fn form_values_are_arrays() {
        let p = parse(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"a=1&a=2&b=x&c=hello+world%21&empty=",
        )
        .unwrap();
        assert_eq!(p.kind, BodyKind::Form);
        assert_eq!(
            p.value,
            serde_json::json!({"a":["1","2"],"b":["x"],"c":["hello world!"],"empty":[""]})
        );
        assert_eq!(parse_query(b""), serde_json::json!({}));
    }

    #[test]
    fn multipart_text_and_files() {
        let body = b"--XyZ\r\n\
Content-Disposition: form-data; name=\"a\"\r\n\r\n\
1\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"a\"\r\n\r\n\
2\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"doc\"; filename=\"n.txt\"\r\n\
Content-Type: text/plain\r\n\r\n\
hello\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"bin\"; filename=\"b.bin\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\
\xff\x00\xfe\r\n\
--XyZ--\r\n";
        let p = parse(Some("multipart/form-data; boundary=XyZ"), body).unwrap();
        assert_eq!(p.kind, BodyKind::Multipart);
        assert_eq!(
            p.value,
            serde_json::json!({"a":["1","2"],"doc":["hello"],"bin":["/wD+"]})
        );
    }

    #[test]
    fn multipart_errors() {
        assert!(matches!(
            parse(Some("multipart/form-data"), b"x"),
            Err(BodyError::Multipart(_))
        ));
        assert!(matches!(
            parse(Some("multipart/form-data; boundary=q"), b"garbage"),
            Err(BodyError::Multipart(_))
        ));
    }

    #[test]
    fn unsupported_types() {
        for ct in ["text/plain", "application/xml", "image/png"] {
            let err = parse(Some(ct), b"x").unwrap_err();
            assert_eq!(
                err,
                BodyError::UnsupportedMediaType {
                    content_type: ct.into()
                }
            );
        }
    }
}
