//! How long to wait before retrying a failed attempt.
//!
//! Retries back off exponentially from 10 seconds, doubling each time, capped at one hour, with
//! ±25 % jitter so that many runs failing together (a database outage) do not all come back in
//! the same second. The caller supplies the jitter fraction, keeping this module free of
//! randomness and therefore testable.
//!
//! | failed attempt | base delay | with jitter |
//! |---:|---:|---|
//! | 0 | 10 s | 7.5 – 12.5 s |
//! | 1 | 20 s | 15 – 25 s |
//! | 2 | 40 s | 30 – 50 s |
//! | 3 | 80 s | 60 – 100 s |
//! | 4 | 2 min 40 s | 2 – 3 min 20 s |
//! | 5 | 5 min 20 s | 4 – 6 min 40 s |
//! | 6 | 10 min 40 s | 8 – 13 min 20 s |
//! | 7 | 21 min 20 s | 16 – 26 min 40 s |
//! | 8 | 42 min 40 s | 32 – 53 min 20 s |
//! | 9 and later | 1 h (cap) | 45 – 75 min |
//!
//! With Inngest's default of 4 retries, a step that keeps failing is given up about two and a half
//! minutes after its first failure (10 + 20 + 40 + 80 s); with the maximum of 20 retries, after
//! roughly 12 hours.
//!
//! An SDK can ask for a specific delay with `Retry-After`; [`parse_retry_after`] reads it.

use chrono::{DateTime, NaiveDateTime};

/// Delay before the first retry.
pub const BASE_DELAY_MS: i64 = 10_000;
/// No computed delay is longer than this (before jitter).
pub const MAX_DELAY_MS: i64 = 60 * 60 * 1000;
/// Smallest delay `Retry-After` can ask for.
pub const MIN_RETRY_AFTER_MS: i64 = 1_000;
/// Largest delay `Retry-After` can ask for.
pub const MAX_RETRY_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// Delay before retrying after attempt number `attempt` (0-based, as in the SDK's
/// `ctx.attempt`) failed. `jitter` is a uniform random number in `0..1` from the caller; values
/// outside that range are clamped, and 0.5 gives the plain base delay.
pub fn retry_delay_ms(attempt: u32, jitter: f64) -> i64 {
    // 10 s · 2^9 already exceeds the cap, so larger exponents need not be computed.
    let base = if attempt >= 9 {
        MAX_DELAY_MS
    } else {
        (BASE_DELAY_MS << attempt).min(MAX_DELAY_MS)
    };
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let factor = 0.75 + 0.5 * jitter;
    (base as f64 * factor).round() as i64
}

/// Reads a `Retry-After` header value into a delay in milliseconds from `now_ms`.
///
/// Accepts delay-seconds (`"120"`, also fractional `"1.5"`), an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"` and its obsolete RFC 850 and asctime forms), or an RFC 3339
/// date, which the Inngest SDK spec allows in place of an HTTP-date. The result is clamped to
/// 1 s – 24 h; a date in the past gives 1 s. Anything unreadable gives `None`, meaning "use the
/// normal backoff".
pub fn parse_retry_after(header_value: &str, now_ms: i64) -> Option<i64> {
    let text = header_value.trim();
    if text.is_empty() {
        return None;
    }
    let delay_ms = if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let seconds: f64 = text.parse().ok()?;
        if !seconds.is_finite() {
            return None;
        }
        // Saturates on absurd values; the clamp below brings them back to 24 h.
        (seconds * 1000.0).round() as i64
    } else {
        parse_http_or_rfc3339_date(text)?.saturating_sub(now_ms)
    };
    Some(delay_ms.clamp(MIN_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS))
}

fn parse_http_or_rfc3339_date(text: &str) -> Option<i64> {
    // IMF-fixdate is a subset of RFC 2822 (which also accepts "GMT").
    if let Ok(dt) = DateTime::parse_from_rfc2822(text) {
        return Some(dt.timestamp_millis());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp_millis());
    }
    // RFC 850 and asctime forms that RFC 9110 says recipients must still accept; both are UTC.
    for format in ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc().timestamp_millis());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_ten_seconds_up_to_an_hour() {
        let plain: Vec<i64> = (0..12).map(|a| retry_delay_ms(a, 0.5)).collect();
        assert_eq!(
            plain,
            [
                10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 1_280_000, 2_560_000,
                3_600_000, 3_600_000, 3_600_000
            ]
        );
        assert_eq!(retry_delay_ms(u32::MAX, 0.5), MAX_DELAY_MS);
    }

    #[test]
    fn jitter_spreads_a_quarter_either_way() {
        assert_eq!(retry_delay_ms(0, 0.0), 7_500);
        assert_eq!(retry_delay_ms(0, 1.0), 12_500);
        assert_eq!(retry_delay_ms(20, 0.0), 2_700_000);
        assert_eq!(retry_delay_ms(20, 1.0), 4_500_000);
        // Out-of-range jitter is clamped rather than trusted.
        assert_eq!(retry_delay_ms(0, -3.0), 7_500);
        assert_eq!(retry_delay_ms(0, 7.0), 12_500);
        assert_eq!(retry_delay_ms(0, f64::NAN), 10_000);
        for a in 0..30 {
            assert!(retry_delay_ms(a, 0.3) <= retry_delay_ms(a + 1, 0.3));
        }
    }

    #[test]
    fn retry_after_seconds() {
        let now = 1_000_000;
        assert_eq!(parse_retry_after("120", now), Some(120_000));
        assert_eq!(parse_retry_after(" 5 ", now), Some(5_000));
        assert_eq!(parse_retry_after("1.5", now), Some(1_500));
        // Clamped to 1 s .. 24 h.
        assert_eq!(parse_retry_after("0", now), Some(1_000));
        assert_eq!(
            parse_retry_after("999999999", now),
            Some(MAX_RETRY_AFTER_MS)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999999", now),
            Some(MAX_RETRY_AFTER_MS)
        );
    }

    #[test]
    fn retry_after_dates() {
        // 2015-10-21T07:28:00Z
        let at = 1_445_412_480_000;
        let now = at - 90_000;
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(90_000)
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now),
            Some(90_000)
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:00 2015", now),
            Some(90_000)
        );
        assert_eq!(parse_retry_after("2015-10-21T07:28:00Z", now), Some(90_000));
        // Past dates retry after the minimum; far-future ones after the maximum.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", at + 5_000),
            Some(MIN_RETRY_AFTER_MS)
        );
        assert_eq!(
            parse_retry_after("2016-10-21T07:28:00Z", now),
            Some(MAX_RETRY_AFTER_MS)
        );
    }

    #[test]
    fn retry_after_garbage_is_ignored() {
        for v in [
            "",
            "soon",
            "-5",
            "1e3",
            "Wed, 99 Oct 2015 07:28:00 GMT",
            ".",
        ] {
            assert_eq!(parse_retry_after(v, 0), None, "{v:?}");
        }
    }
}
