//! Time arithmetic the state machine needs: retry delays and "when does this sleep end".
//!
//! These are deliberately small stand-ins with the same signatures as `crate::backoff`
//! (`retry_delay_ms`, `parse_retry_after` clamping) and `crate::duration` (`parse_sleep_target`),
//! which are being written alongside this module. Once those land, replace the bodies here with
//! calls to them; the state machine only calls the functions below.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// The longest sleep or wait: one year, counted as 366 days.
pub(crate) const MAX_SLEEP_MS: i64 = 366 * 24 * 60 * 60 * 1000;
const MIN_RETRY_AFTER_MS: i64 = 1_000;
const MAX_RETRY_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
const BASE_DELAY_MS: i64 = 10_000;
const MAX_DELAY_MS: i64 = 60 * 60 * 1000;

/// Delay before retrying after attempt `attempt` (0-based) failed: exponential from 10 s, capped
/// at 1 h, ±25 % jitter (`jitter` in `0..1`, 0.5 = none). An SDK's `Retry-After` wins, clamped to
/// 1 s – 24 h.
pub(crate) fn retry_delay_ms(attempt: u32, jitter: f64, retry_after_ms: Option<i64>) -> i64 {
    if let Some(ms) = retry_after_ms {
        return ms.clamp(MIN_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS);
    }
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
    (base as f64 * (0.75 + 0.5 * jitter)).round() as i64
}

/// When a sleep or timeout given as a time string (`"1h30m"`) or an ISO 8601 date ends, in ms
/// since the epoch. A date in the past ends now; more than a year ahead is an error.
pub(crate) fn parse_sleep_target(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_owned());
    }
    let at = match parse_duration_ms(text) {
        Some(ms) => now_ms.saturating_add(ms),
        None => parse_date_ms(text)
            .ok_or_else(|| {
                format!(
                    "{text:?} is neither a duration (like \"30s\", \"1h30m\", \"2d\") nor an ISO \
                     8601 date (like \"2030-01-01T00:00:00Z\")"
                )
            })?
            .max(now_ms),
    };
    if at - now_ms > MAX_SLEEP_MS {
        return Err(format!(
            "{text:?} is too far in the future: sleeps and waits are limited to one year"
        ));
    }
    Ok(at)
}

fn parse_duration_ms(text: &str) -> Option<i64> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1e-6,
            "us" | "µs" | "μs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            "d" => 86_400e3,
            "w" => 7.0 * 86_400e3,
            _ => return None,
        };
        total += number * unit;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && total <= i64::MAX as f64).then(|| total.round() as i64)
}

fn parse_date_ms(text: &str) -> Option<i64> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| {
        d.and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_dates() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_sleep_target("1h30m", now), Ok(now + 5_400_000));
        assert_eq!(parse_sleep_target("1.5s", now), Ok(now + 1_500));
        assert_eq!(parse_sleep_target("2d", now), Ok(now + 172_800_000));
        assert_eq!(parse_sleep_target("250", now), Ok(now + 250));
        assert_eq!(
            parse_sleep_target("2023-11-14T22:13:30.000Z", now),
            Ok(1_700_000_010_000)
        );
        assert_eq!(parse_sleep_target("2000-01-01T00:00:00Z", now), Ok(now));
        assert!(parse_sleep_target("400d", now)
            .unwrap_err()
            .contains("one year"));
        assert!(parse_sleep_target("soon", now)
            .unwrap_err()
            .contains("neither"));
        assert!(parse_sleep_target("", now).is_err());
    }

    #[test]
    fn retry_delays() {
        assert_eq!(retry_delay_ms(0, 0.5, None), 10_000);
        assert_eq!(retry_delay_ms(1, 0.5, None), 20_000);
        assert_eq!(retry_delay_ms(0, 0.0, None), 7_500);
        assert_eq!(retry_delay_ms(30, 0.5, None), 3_600_000);
        assert_eq!(retry_delay_ms(0, 0.5, Some(5)), 1_000);
        assert_eq!(retry_delay_ms(0, 0.5, Some(90_000)), 90_000);
        assert_eq!(retry_delay_ms(0, 0.5, Some(i64::MAX)), 86_400_000);
    }
}
