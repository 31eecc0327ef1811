//! The time arithmetic the state machine needs, as it needs it: retry delays that honour an SDK's
//! `Retry-After`, and when a sleep or timeout ends. Thin adapters over [`crate::backoff`] and
//! [`crate::duration`].

use crate::{backoff, duration};

/// The longest sleep or wait: one year, counted as 366 days.
pub(crate) const MAX_SLEEP_MS: i64 = duration::MAX_SLEEP_MS;

/// Delay before retrying after attempt `attempt` (0-based) failed: the SDK's `Retry-After` delay
/// clamped to 1 s – 24 h when it gave one, otherwise the exponential backoff with `jitter`.
pub(crate) fn retry_delay_ms(attempt: u32, jitter: f64, retry_after_ms: Option<i64>) -> i64 {
    match retry_after_ms {
        Some(ms) => ms.clamp(backoff::MIN_RETRY_AFTER_MS, backoff::MAX_RETRY_AFTER_MS),
        None => backoff::retry_delay_ms(attempt, jitter),
    }
}

/// When a sleep or timeout given as a time string (`"1h30m"`) or an ISO 8601 date ends, in ms
/// since the epoch. A date in the past ends now; more than a year ahead is an error.
pub(crate) fn parse_sleep_target(text: &str, now_ms: i64) -> Result<i64, String> {
    duration::parse_sleep_target(text.trim(), now_ms).map_err(|e| e.to_string())
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
