//! Step ids as the Inngest SDKs put them on the wire.
//!
//! The SDKs never send a user's step id (`"insert-user"`) as a key; they send its hex SHA-1. A step
//! id used more than once in one run gets a counter suffix before hashing: the first use hashes
//! `id`, the second `id:1`, the third `id:2`, and so on. Both the JS and Python SDKs do this, so the
//! Rust SDK and the dashboard (which shows the readable id next to the hash) must do the same.

use std::borrow::Cow;
use std::collections::HashMap;

use sha1::{Digest, Sha1};

/// Hex SHA-1 of a step id, exactly as the SDKs compute it (UTF-8 bytes, lowercase hex).
pub fn hash_step_id(id: &str) -> String {
    hex::encode(Sha1::digest(id.as_bytes()))
}

/// The id actually hashed for the `occurrence`-th use (0-based) of `id` within one run:
/// `id` itself the first time, then `id:1`, `id:2`, ….
pub fn repeated_step_id(id: &str, occurrence: u32) -> Cow<'_, str> {
    if occurrence == 0 {
        Cow::Borrowed(id)
    } else {
        Cow::Owned(format!("{id}:{occurrence}"))
    }
}

/// Hands out hashed step ids in the order a run's code reaches its steps, applying the repeat rule.
///
/// One counter lives for one execution of a function body; the order of calls must be the
/// deterministic order the code reaches its steps, which is what makes the ids stable across
/// requests.
#[derive(Debug, Default, Clone)]
pub struct StepIdCounter {
    seen: HashMap<String, u32>,
}

impl StepIdCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The readable id (with any `:n` suffix) and its hash for the next use of `id`.
    pub fn next(&mut self, id: &str) -> (String, String) {
        let count = self.seen.entry(id.to_owned()).or_insert(0);
        let readable = repeated_step_id(id, *count).into_owned();
        *count += 1;
        let hashed = hash_step_id(&readable);
        (readable, hashed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_the_sdks() {
        assert_eq!(
            hash_step_id("my-step-id"),
            "e7d8a2f140845095749d60246ff1110c9d01d76a"
        );
        // SHA-1 of the empty string, to pin the encoding (lowercase hex, 40 chars).
        assert_eq!(hash_step_id(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn hashes_utf8_bytes() {
        assert_eq!(hash_step_id("é"), hex::encode(Sha1::digest("é".as_bytes())));
        assert_ne!(hash_step_id("é"), hash_step_id("e"));
    }

    #[test]
    fn repeat_rule_suffixes_from_one() {
        assert_eq!(repeated_step_id("a", 0), "a");
        assert_eq!(repeated_step_id("a", 1), "a:1");
        assert_eq!(repeated_step_id("a", 2), "a:2");
    }

    #[test]
    fn counter_applies_repeat_rule_per_id() {
        let mut c = StepIdCounter::new();
        assert_eq!(c.next("a"), ("a".to_owned(), hash_step_id("a")));
        assert_eq!(c.next("b").0, "b");
        assert_eq!(c.next("a"), ("a:1".to_owned(), hash_step_id("a:1")));
        assert_eq!(c.next("a").0, "a:2");
        assert_eq!(c.next("b").0, "b:1");
    }
}
