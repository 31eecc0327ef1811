//! Cron triggers: parsing a function's `cron` spec and computing when it next fires.
//!
//! Specs are what the SDKs send in a trigger: five-field Unix cron (`"0 9 * * 1-5"`), the
//! `@hourly`/`@daily`/… nicknames, and an optional time-zone prefix (`"TZ=Europe/Paris 0 9 * * *"`,
//! also spelled `CRON_TZ=`). Without a prefix, schedules run in UTC. Day-of-month and day-of-week
//! combine with OR, as in Vixie cron.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("cron {spec:?}: {message}")]
    Invalid { spec: String, message: String },
    #[error("cron {spec:?}: unknown time zone {zone:?} (use an IANA name such as Europe/Paris)")]
    UnknownTimeZone { spec: String, zone: String },
    #[error("cron {spec:?} never fires (no real date matches it)")]
    NeverFires { spec: String },
    #[error("cron {spec:?}: no next time after {after_ms} ms")]
    NoNextTime { spec: String, after_ms: i64 },
}

/// A parsed, validated cron spec. Cheap to clone; parse once and keep it.
#[derive(Debug, Clone)]
pub struct Schedule {
    spec: String,
    cron: Cron,
    zone: Option<Tz>,
}

impl Schedule {
    /// Parses and validates a spec, including checking that it can fire at all.
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let text = spec.trim();
        let (zone, pattern) = split_zone(spec, text)?;
        let invalid = |message: String| Error::Invalid {
            spec: spec.to_owned(),
            message,
        };
        if pattern.is_empty() {
            return Err(invalid("empty schedule".to_owned()));
        }
        let field_count = pattern.split_whitespace().count();
        if !pattern.starts_with('@') && field_count != 5 {
            return Err(invalid(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {field_count}"
            )));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(pattern).map_err(|e| invalid(e.to_string()))?;
        let schedule = Self {
            spec: spec.to_owned(),
            cron,
            zone,
        };
        // A pattern such as "0 0 30 2 *" parses but never matches; refuse it at sync time rather
        // than discovering it when the scheduler asks for the next run. 2000-01-01 is an arbitrary
        // fixed start, keeping this pure; eight years cover every leap-year pattern.
        let probe = 946_684_800_000;
        if schedule.next_after(probe).is_err() {
            return Err(Error::NeverFires {
                spec: spec.to_owned(),
            });
        }
        Ok(schedule)
    }

    /// The spec as given.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The time zone from a `TZ=` prefix, if any.
    pub fn zone(&self) -> Option<Tz> {
        self.zone
    }

    /// The first firing time strictly after `after_ms`, in ms since the epoch.
    pub fn next_after(&self, after_ms: i64) -> Result<i64, Error> {
        let no_next = || Error::NoNextTime {
            spec: self.spec.clone(),
            after_ms,
        };
        // Croner works in whole seconds; should it ever answer at or before `after_ms`, ask again
        // from its answer, which it then excludes.
        let mut from = after_ms;
        for _ in 0..3 {
            let next = self.occurrence_after(from).ok_or_else(no_next)?;
            if next > after_ms {
                return Ok(next);
            }
            from = next;
        }
        Err(no_next())
    }

    fn occurrence_after(&self, from_ms: i64) -> Option<i64> {
        let from = Utc.timestamp_millis_opt(from_ms).single()?;
        match self.zone {
            Some(zone) => self
                .cron
                .find_next_occurrence(&from.with_timezone(&zone), false)
                .ok()
                .map(|t| t.timestamp_millis()),
            None => self
                .cron
                .find_next_occurrence(&from, false)
                .ok()
                .map(|t: DateTime<Utc>| t.timestamp_millis()),
        }
    }
}

/// Splits an optional `TZ=` / `CRON_TZ=` prefix off a spec.
fn split_zone<'a>(spec: &str, text: &'a str) -> Result<(Option<Tz>, &'a str), Error> {
    let Some(rest) = text
        .strip_prefix("TZ=")
        .or_else(|| text.strip_prefix("CRON_TZ="))
    else {
        return Ok((None, text));
    };
    let (zone_name, pattern) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let zone = Tz::from_str(zone_name).map_err(|_| Error::UnknownTimeZone {
        spec: spec.to_owned(),
        zone: zone_name.to_owned(),
    })?;
    Ok((Some(zone), pattern.trim()))
}

/// Checks a spec without keeping the result.
pub fn validate(spec: &str) -> Result<(), Error> {
    Schedule::parse(spec).map(|_| ())
}

/// The first time `spec` fires strictly after `after_ms`. Parses on every call; keep a
/// [`Schedule`] when asking repeatedly.
pub fn next_fire(spec: &str, after_ms: i64) -> Result<i64, Error> {
    Schedule::parse(spec)?.next_after(after_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn every_minute_is_strictly_after() {
        let spec = "* * * * *";
        assert_eq!(
            next_fire(spec, ms("2024-01-15T10:00:00Z")),
            Ok(ms("2024-01-15T10:01:00Z"))
        );
        assert_eq!(
            next_fire(spec, ms("2024-01-15T10:00:30.500Z")),
            Ok(ms("2024-01-15T10:01:00Z"))
        );
        assert_eq!(
            next_fire(spec, ms("2024-01-15T09:59:59.999Z")),
            Ok(ms("2024-01-15T10:00:00Z"))
        );
    }

    #[test]
    fn common_schedules_in_utc() {
        let after = ms("2024-01-15T10:17:00Z"); // a Monday
        assert_eq!(
            next_fire("0 * * * *", after),
            Ok(ms("2024-01-15T11:00:00Z"))
        );
        assert_eq!(
            next_fire("*/15 * * * *", after),
            Ok(ms("2024-01-15T10:30:00Z"))
        );
        assert_eq!(
            next_fire("0 9 * * 1-5", after),
            Ok(ms("2024-01-16T09:00:00Z"))
        );
        assert_eq!(
            next_fire("0 0 1 * *", after),
            Ok(ms("2024-02-01T00:00:00Z"))
        );
        assert_eq!(next_fire("@daily", after), Ok(ms("2024-01-16T00:00:00Z")));
        assert_eq!(next_fire("@hourly", after), Ok(ms("2024-01-15T11:00:00Z")));
        assert_eq!(
            next_fire("0 12 * * SUN", after),
            Ok(ms("2024-01-21T12:00:00Z"))
        );
        assert_eq!(
            next_fire("0 0 29 2 *", after),
            Ok(ms("2024-02-29T00:00:00Z"))
        );
    }

    #[test]
    fn time_zone_prefix_follows_local_time_across_dst() {
        // Paris is UTC+1 in winter and UTC+2 in summer.
        let spec = "TZ=Europe/Paris 0 9 * * *";
        assert_eq!(
            next_fire(spec, ms("2024-01-15T00:00:00Z")),
            Ok(ms("2024-01-15T08:00:00Z"))
        );
        assert_eq!(
            next_fire(spec, ms("2024-07-15T00:00:00Z")),
            Ok(ms("2024-07-15T07:00:00Z"))
        );
        assert_eq!(
            next_fire(
                "CRON_TZ=America/New_York 30 8 * * *",
                ms("2024-01-15T00:00:00Z")
            ),
            Ok(ms("2024-01-15T13:30:00Z"))
        );
        let schedule = Schedule::parse(spec).unwrap();
        assert_eq!(schedule.zone(), Some(chrono_tz::Europe::Paris));
        assert_eq!(schedule.spec(), spec);
    }

    #[test]
    fn clear_errors() {
        let err = validate("* * * *").unwrap_err();
        assert!(err.to_string().contains("expected 5 fields"), "{err}");
        assert!(
            validate("0 0 0 * * *").is_err(),
            "six fields (seconds) are refused"
        );
        assert!(matches!(validate("61 * * * *"), Err(Error::Invalid { .. })));
        assert!(matches!(validate("* * * 13 *"), Err(Error::Invalid { .. })));
        assert!(matches!(validate("hello"), Err(Error::Invalid { .. })));
        assert!(matches!(validate(""), Err(Error::Invalid { .. })));
        assert!(matches!(
            validate("TZ=Europe/Paris"),
            Err(Error::Invalid { .. })
        ));
        let err = validate("TZ=Mars/Olympus 0 9 * * *").unwrap_err();
        assert!(matches!(err, Error::UnknownTimeZone { .. }));
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
        assert!(matches!(
            validate("0 0 30 2 *"),
            Err(Error::NeverFires { .. })
        ));
    }

    #[test]
    fn schedule_is_send_sync_and_reusable() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Schedule>();
        let s = Schedule::parse("*/5 * * * *").unwrap();
        let a = s.next_after(ms("2024-01-15T10:00:00Z")).unwrap();
        let b = s.next_after(a).unwrap();
        assert_eq!(b - a, 5 * 60_000);
    }
}
