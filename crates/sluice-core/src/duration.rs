//! Durations and dates as the SDKs write them, turned into milliseconds.
//!
//! Two shapes reach us:
//! - a time string: the Inngest spec's Go-style composites (`"1h30m"`, `"300ms"`, `"1.5h"`,
//!   units `ns us µs ms s m h d w`), which the JS SDK produces with its `timeStr` helper
//!   (`"1d2h3m4s"`), plus the `ms` package forms users type into config (`"2 days"`,
//!   `"1y"`, `"90 minutes"`, a bare `"500"` meaning milliseconds);
//! - a date for `sleepUntil`: RFC 3339 / ISO 8601 (`Date.toISOString()` gives
//!   `"2030-01-01T00:00:00.000Z"`).
//!
//! `d` is 24 h and `w` 168 h with no daylight-saving adjustment, and `y` is 365.25 days, as in the
//! `ms` package. Sleeps and waits are limited to a year, the limit Inngest users already know.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

const MS_PER_SECOND: f64 = 1_000.0;
const MS_PER_MINUTE: f64 = 60.0 * MS_PER_SECOND;
const MS_PER_HOUR: f64 = 60.0 * MS_PER_MINUTE;
const MS_PER_DAY: f64 = 24.0 * MS_PER_HOUR;
const MS_PER_WEEK: f64 = 7.0 * MS_PER_DAY;
const MS_PER_YEAR: f64 = 365.25 * MS_PER_DAY;

/// The longest sleep or wait: one year. Counted as 366 days so that "one year from now" computed
/// by calendar arithmetic in the user's code is accepted in a leap year too.
pub const MAX_SLEEP_MS: i64 = 366 * 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("empty duration")]
    Empty,
    #[error("invalid duration {input:?}: {reason}")]
    InvalidDuration { input: String, reason: String },
    #[error(
        "invalid date {input:?}: expected an RFC 3339 / ISO 8601 date such as 2030-01-01T00:00:00Z"
    )]
    InvalidDate { input: String },
    #[error(
        "{input:?} is neither a duration (like \"30s\", \"1h30m\", \"2d\") nor an ISO 8601 date \
         (like \"2030-01-01T00:00:00Z\")"
    )]
    InvalidSleepTarget { input: String },
    #[error("{input:?} is too far in the future: sleeps and waits are limited to one year")]
    TooLong { input: String },
}

fn unit_ms(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" | "nanosecond" | "nanoseconds" => 1e-6,
        "us" | "µs" | "μs" | "microsecond" | "microseconds" => 1e-3,
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => MS_PER_SECOND,
        "m" | "min" | "mins" | "minute" | "minutes" => MS_PER_MINUTE,
        "h" | "hr" | "hrs" | "hour" | "hours" => MS_PER_HOUR,
        "d" | "day" | "days" => MS_PER_DAY,
        "w" | "week" | "weeks" => MS_PER_WEEK,
        "y" | "yr" | "yrs" | "year" | "years" => MS_PER_YEAR,
        _ => return None,
    })
}

/// Parses a time string into whole milliseconds (rounded to the nearest millisecond).
///
/// Accepts one or more `<number><unit>` parts (`"1h30m"`, `"1h 30m"`, `"2.5 days"`) or a bare
/// number of milliseconds (`"500"`). Units are case-insensitive. Negative durations are refused.
pub fn parse_duration_ms(input: &str) -> Result<i64, Error> {
    let text = input.trim();
    if text.is_empty() {
        return Err(Error::Empty);
    }
    let invalid = |reason: &str| Error::InvalidDuration {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    if text.starts_with('-') {
        return Err(invalid("durations cannot be negative"));
    }
    // The `ms` package reads a bare number as milliseconds.
    if let Some(ms) = parse_plain_number(text) {
        return to_whole_ms(ms).ok_or_else(|| invalid("too large"));
    }

    let lower = text.to_lowercase();
    let mut rest = lower.as_str();
    let mut total = 0.0_f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        let value = parse_plain_number(number)
            .ok_or_else(|| invalid("expected a number before each unit, as in \"1h30m\""))?;
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(invalid(
                "missing unit (use ms, s, m, h, d, w or y, as in \"30s\")",
            ));
        }
        let unit = &rest[..unit_len];
        let per_unit = unit_ms(unit).ok_or_else(|| {
            invalid(&format!(
                "unknown unit {unit:?} (use ns, us, ms, s, m, h, d, w or y)"
            ))
        })?;
        total += value * per_unit;
        rest = rest[unit_len..].trim_start();
    }
    to_whole_ms(total).ok_or_else(|| invalid("too large"))
}

/// Digits with an optional fraction (`"12"`, `"1.5"`, `".5"`), nothing else.
fn parse_plain_number(text: &str) -> Option<f64> {
    let valid = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.chars().filter(|&c| c == '.').count() <= 1
        && text.chars().any(|c| c.is_ascii_digit());
    if valid {
        text.parse().ok()
    } else {
        None
    }
}

fn to_whole_ms(ms: f64) -> Option<i64> {
    let rounded = ms.round();
    // 2^62 ms is ~146 million years: far past any limit, and safely inside i64.
    (rounded.is_finite() && (0.0..4.6e18).contains(&rounded)).then_some(rounded as i64)
}

/// Parses an RFC 3339 / ISO 8601 date into milliseconds since the Unix epoch.
///
/// A date-time without an offset, or a bare date, is taken as UTC.
pub fn parse_date_ms(input: &str) -> Result<i64, Error> {
    let text = input.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Ok(dt.timestamp_millis());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(naive.and_utc().timestamp_millis());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc().timestamp_millis());
        }
    }
    Err(Error::InvalidDate {
        input: input.to_owned(),
    })
}

/// When a sleep given as a duration or a date should wake, in ms since the epoch.
///
/// A date in the past wakes at `now_ms`. Anything more than [`MAX_SLEEP_MS`] ahead is refused.
pub fn parse_sleep_target(duration_or_date: &str, now_ms: i64) -> Result<i64, Error> {
    let wake_at = match parse_duration_ms(duration_or_date) {
        Ok(ms) => {
            check_within_limit(duration_or_date, ms)?;
            now_ms.saturating_add(ms)
        }
        Err(Error::Empty) => return Err(Error::Empty),
        Err(_) => match parse_date_ms(duration_or_date) {
            Ok(at) => at.max(now_ms),
            Err(_) => {
                return Err(Error::InvalidSleepTarget {
                    input: duration_or_date.to_owned(),
                })
            }
        },
    };
    check_within_limit(duration_or_date, wake_at.saturating_sub(now_ms))?;
    Ok(wake_at)
}

/// Refuses a delay longer than a year, naming the offending input.
pub fn check_within_limit(input: &str, delay_ms: i64) -> Result<(), Error> {
    if delay_ms > MAX_SLEEP_MS {
        Err(Error::TooLong {
            input: input.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Writes milliseconds as a compact time string (`"1d2h3m4s"`, `"250ms"`, `"0ms"`), the form the
/// SDKs send, for display and for round-trips through [`parse_duration_ms`].
pub fn format_duration_ms(ms: i64) -> String {
    if ms <= 0 {
        return "0ms".to_owned();
    }
    let mut rest = ms;
    let mut out = String::new();
    for (suffix, size) in [
        ("w", 604_800_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        let count = rest / size;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(suffix);
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    #[test]
    fn parses_sdk_time_strings() {
        let cases = [
            ("30s", 30_000),
            ("1h30m", HOUR + 30 * 60_000),
            ("2d", 2 * DAY),
            ("1w", 7 * DAY),
            ("500ms", 500),
            ("1d2h3m4s", DAY + 2 * HOUR + 3 * 60_000 + 4_000),
            ("2h3010s", 2 * HOUR + 3_010_000),
            ("1.5h", 5_400_000),
            ("300ms", 300),
            ("1500us", 2),
            ("1500µs", 2),
            ("10ns", 0),
            ("0s", 0),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration_ms(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn parses_ms_package_forms() {
        let cases = [
            ("1y", (365.25 * DAY as f64) as i64),
            ("2 days", 2 * DAY),
            ("90 minutes", 90 * 60_000),
            ("1 hour", HOUR),
            ("10 secs", 10_000),
            ("1H", HOUR),
            ("500", 500),
            (" 5m ", 300_000),
            ("1h 30m", HOUR + 30 * 60_000),
            (".5s", 500),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration_ms(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_bad_durations_with_reasons() {
        assert_eq!(parse_duration_ms(""), Err(Error::Empty));
        assert_eq!(parse_duration_ms("   "), Err(Error::Empty));
        for input in [
            "-5s",
            "abc",
            "5x",
            "1h30",
            "1..5s",
            "h",
            "5 fortnights",
            "1e3s",
        ] {
            let err = parse_duration_ms(input).unwrap_err();
            assert!(
                matches!(err, Error::InvalidDuration { .. }),
                "{input}: {err:?}"
            );
            assert!(err.to_string().contains(input), "{err}");
        }
        assert!(parse_duration_ms("99999999999999999999y").is_err());
    }

    #[test]
    fn parses_iso_dates() {
        assert_eq!(parse_date_ms("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_date_ms("2030-01-01T00:00:00.000Z"),
            Ok(1_893_456_000_000)
        );
        assert_eq!(
            parse_date_ms("2030-01-01T01:00:00+01:00"),
            Ok(1_893_456_000_000)
        );
        assert_eq!(parse_date_ms("2030-01-01T00:00:00"), Ok(1_893_456_000_000));
        assert_eq!(parse_date_ms("2030-01-01"), Ok(1_893_456_000_000));
        assert_eq!(parse_date_ms("1970-01-01T00:00:00.123Z"), Ok(123));
        assert!(matches!(
            parse_date_ms("tomorrow"),
            Err(Error::InvalidDate { .. })
        ));
    }

    #[test]
    fn sleep_target_accepts_duration_or_date() {
        let now = 1_893_456_000_000; // 2030-01-01
        assert_eq!(parse_sleep_target("1h", now), Ok(now + HOUR));
        assert_eq!(
            parse_sleep_target("2030-01-02T00:00:00.000Z", now),
            Ok(now + DAY)
        );
        // A date already past wakes immediately.
        assert_eq!(parse_sleep_target("2020-01-01T00:00:00Z", now), Ok(now));
        assert!(matches!(
            parse_sleep_target("soon", now),
            Err(Error::InvalidSleepTarget { .. })
        ));
        assert_eq!(parse_sleep_target("", now), Err(Error::Empty));
    }

    #[test]
    fn sleep_target_is_limited_to_a_year() {
        let now = 1_893_456_000_000;
        assert_eq!(
            parse_sleep_target("1y", now),
            Ok(now + (365.25 * DAY as f64) as i64)
        );
        assert_eq!(parse_sleep_target("366d", now), Ok(now + 366 * DAY));
        let err = parse_sleep_target("367d", now).unwrap_err();
        assert!(matches!(err, Error::TooLong { .. }));
        assert!(err.to_string().contains("one year"), "{err}");
        assert!(matches!(
            parse_sleep_target("2y", now),
            Err(Error::TooLong { .. })
        ));
        assert!(matches!(
            parse_sleep_target("2032-01-01T00:00:00Z", now),
            Err(Error::TooLong { .. })
        ));
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_duration_ms(0), "0ms");
        assert_eq!(format_duration_ms(250), "250ms");
        assert_eq!(format_duration_ms(HOUR + 30 * 60_000), "1h30m");
        assert_eq!(format_duration_ms(8 * DAY + 1), "1w1d1ms");
        for ms in [1, 999, 1_000, 61_000, DAY + 5, 3 * 604_800_000 + 7] {
            assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Ok(ms));
        }
    }
}
