//! Exchange calendars as data. A [`CalendarSpec`] (loaded from `config/calendars/*.toml`) gives a venue's time
//! zone, its weekly session intervals in local time, full-day holidays, per-date overrides (early closes, early
//! halts) and extra sessions (NSE Muhurat). [`Calendar::new`] compiles it once into a sorted table of UTC
//! segments, so the hot-path lookup [`Calendar::session_at`] is a binary search with no time-zone arithmetic.
//! DST is handled when the table is built, from the IANA zone. Outside the covered years the answer is
//! [`Phase::Closed`] with `covered = false`: the engine fails closed rather than guessing.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Weekday};
use serde::Deserialize;

/// Trading phase of a venue at an instant (spec §2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Phase {
    Closed = 0,
    Pre = 1,
    Regular = 2,
    Post = 3,
    Overnight = 4,
    PreopenEntry = 5,
    PreopenMatch = 6,
    Maintenance = 7,
    Halt = 8,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Closed => "closed",
            Phase::Pre => "pre-market",
            Phase::Regular => "regular",
            Phase::Post => "post-market",
            Phase::Overnight => "overnight",
            Phase::PreopenEntry => "pre-open entry",
            Phase::PreopenMatch => "pre-open matching",
            Phase::Maintenance => "maintenance",
            Phase::Halt => "halted",
        }
    }
    pub fn from_u8(v: u8) -> Option<Phase> {
        use Phase::*;
        [
            Closed,
            Pre,
            Regular,
            Post,
            Overnight,
            PreopenEntry,
            PreopenMatch,
            Maintenance,
            Halt,
        ]
        .into_iter()
        .find(|p| *p as u8 == v)
    }
}

/// One interval of local time on a date: `start`..`end` ("HH:MM", end may be "24:00").
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IntervalSpec {
    pub start: String,
    pub end: String,
    pub phase: Phase,
    /// The trade date is the local date plus this many days (CME: evening sessions belong to the next day).
    #[serde(default)]
    pub trade_day_offset: i32,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeeklySpec {
    /// Lowercase three-letter weekday names.
    pub days: Vec<String>,
    pub intervals: Vec<IntervalSpec>,
}

/// Replaces the weekly intervals of one local date (early closes, early halts, special sessions).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DateOverride {
    pub date: String,
    pub intervals: Vec<IntervalSpec>,
    #[serde(default)]
    pub note: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    pub name: String,
    pub timezone: String,
    /// Years covered by the data, inclusive. Ignored when `always_open`.
    pub first_year: i32,
    pub last_year: i32,
    #[serde(default)]
    pub always_open: bool,
    #[serde(default)]
    pub weekly: Vec<WeeklySpec>,
    /// Local dates with no trading; a session whose trade date is a holiday is closed too.
    #[serde(default)]
    pub holidays: Vec<String>,
    #[serde(default)]
    pub overrides: Vec<DateOverride>,
    #[serde(default)]
    pub sources: Vec<String>,
}

/// What a calendar says about one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub phase: Phase,
    /// Trade date as days since 1970-01-01 (for closed periods: the local calendar date).
    pub trade_day: i32,
    /// False when the instant is outside the years the data covers.
    pub covered: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    start_ns: i64,
    end_ns: i64,
    phase: Phase,
    trade_day: i32,
}

/// A compiled calendar.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    name: String,
    tz: chrono_tz::Tz,
    always_open: bool,
    segments: Vec<Segment>,
    covered_from_ns: i64,
    covered_to_ns: i64,
    trading_days: Vec<i32>,
    /// The segment the last lookup landed in: orders arrive in time order, so the next lookup usually lands
    /// there too and skips the binary search.
    last_segment: SegmentHint,
}

/// A lookup cache, not state: cloning copies it, and two calendars compare equal whatever their hints. An
/// atomic (relaxed: a plain load and store on x86) so that a calendar stays shareable between threads.
#[derive(Debug, Default)]
struct SegmentHint(std::sync::atomic::AtomicUsize);

impl Clone for SegmentHint {
    fn clone(&self) -> Self {
        SegmentHint(std::sync::atomic::AtomicUsize::new(self.get()))
    }
}

impl PartialEq for SegmentHint {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl SegmentHint {
    fn get(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn set(&self, i: usize) {
        self.0.store(i, std::sync::atomic::Ordering::Relaxed);
    }
}

const NS_PER_S: i64 = 1_000_000_000;
const NS_PER_DAY: i64 = 86_400 * NS_PER_S;

pub fn days_from_epoch(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch")).num_days() as i32
}

pub fn date_from_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch") + Duration::days(i64::from(days))
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date like 2026-07-03"))
}

/// Minutes after local midnight; "24:00" is 1440.
fn parse_hhmm(s: &str) -> Result<u32, String> {
    let bad = || format!("`{s}` is not a time like 09:30 (00:00 to 24:00)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn weekday(s: &str) -> Result<Weekday, String> {
    Ok(match s {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => {
            return Err(format!(
                "`{s}` is not a weekday (mon, tue, wed, thu, fri, sat, sun)"
            ))
        }
    })
}

/// One session interval of a weekday as the config file gives it: start and end in minutes after local
/// midnight, its phase, and the trade-day offset (-1, 0 or 1).
type ParsedInterval = (u32, u32, Phase, i32);

impl Calendar {
    /// Compiles `spec`, or lists every problem in it.
    pub fn new(spec: &CalendarSpec) -> Result<Calendar, Vec<String>> {
        let mut errors = Vec::new();
        let tz: chrono_tz::Tz = match spec.timezone.parse() {
            Ok(tz) => tz,
            Err(_) => {
                errors.push(format!(
                    "timezone `{}` is not an IANA zone name",
                    spec.timezone
                ));
                chrono_tz::UTC
            }
        };
        if !spec.always_open
            && (spec.first_year > spec.last_year || spec.first_year < 1971 || spec.last_year > 2200)
        {
            errors.push(format!(
                "years {}..{} are not a valid range",
                spec.first_year, spec.last_year
            ));
        }
        let mut weekly: Vec<(Weekday, Vec<ParsedInterval>)> = Vec::new();
        let parse_intervals =
            |list: &[IntervalSpec], errors: &mut Vec<String>| -> Vec<ParsedInterval> {
                let mut out = Vec::new();
                let mut last_end = 0;
                for iv in list {
                    match (parse_hhmm(&iv.start), parse_hhmm(&iv.end)) {
                        (Ok(a), Ok(b)) if a < b && a >= last_end => {
                            out.push((a, b, iv.phase, iv.trade_day_offset));
                            last_end = b;
                        }
                        (Ok(_), Ok(_)) => errors.push(format!(
                        "interval {}-{} must end after it starts and not overlap the one before",
                        iv.start, iv.end
                    )),
                        (a, b) => errors.extend(a.err().into_iter().chain(b.err())),
                    }
                    if !(-1..=1).contains(&iv.trade_day_offset) {
                        errors.push(format!(
                            "trade_day_offset {} must be -1, 0 or 1",
                            iv.trade_day_offset
                        ));
                    }
                }
                out
            };
        for w in &spec.weekly {
            let ivs = parse_intervals(&w.intervals, &mut errors);
            for d in &w.days {
                match weekday(d) {
                    Ok(wd) if weekly.iter().any(|(x, _)| *x == wd) => {
                        errors.push(format!("weekday `{d}` is listed twice"))
                    }
                    Ok(wd) => weekly.push((wd, ivs.clone())),
                    Err(e) => errors.push(e),
                }
            }
        }
        let mut holidays = Vec::new();
        for h in &spec.holidays {
            match parse_date(h) {
                Ok(d) => holidays.push(d),
                Err(e) => errors.push(format!("holidays: {e}")),
            }
        }
        let mut overrides = Vec::new();
        for o in &spec.overrides {
            match parse_date(&o.date) {
                Ok(d) => overrides.push((d, parse_intervals(&o.intervals, &mut errors))),
                Err(e) => errors.push(format!("overrides: {e}")),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (first, last) = if spec.always_open {
            (1971, 2200)
        } else {
            (spec.first_year, spec.last_year)
        };
        let from = NaiveDate::from_ymd_opt(first, 1, 1).expect("valid year");
        let to = NaiveDate::from_ymd_opt(last, 12, 31).expect("valid year");
        let local_ns = |date: NaiveDate, minutes: u32| -> i64 {
            let (date, minutes) = if minutes == 1440 {
                (date + Duration::days(1), 0)
            } else {
                (date, minutes)
            };
            let t = NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).expect("valid time");
            let local = date.and_time(t);
            // A local time skipped by a DST change maps to the first instant after the gap.
            let instant = tz
                .from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    tz.from_local_datetime(&(local + Duration::hours(1)))
                        .earliest()
                })
                .expect("a local time exists within an hour of any wall-clock time");
            instant.timestamp() * NS_PER_S
        };
        let mut segments = Vec::new();
        let mut trading_days = Vec::new();
        if !spec.always_open {
            let mut date = from - Duration::days(1);
            while date <= to + Duration::days(1) {
                let intervals = match overrides.iter().find(|(d, _)| *d == date) {
                    Some((_, ivs)) => Some(ivs.clone()),
                    None if holidays.contains(&date) => None,
                    None => weekly
                        .iter()
                        .find(|(wd, _)| *wd == date.weekday())
                        .map(|(_, ivs)| ivs.clone()),
                };
                for (a, b, phase, offset) in intervals.unwrap_or_default() {
                    let trade_date = date + Duration::days(i64::from(offset));
                    let phase = if offset != 0 && holidays.contains(&trade_date) {
                        Phase::Closed
                    } else {
                        phase
                    };
                    if phase == Phase::Closed {
                        continue;
                    }
                    segments.push(Segment {
                        start_ns: local_ns(date, a),
                        end_ns: local_ns(date, b),
                        phase,
                        trade_day: days_from_epoch(trade_date),
                    });
                    if matches!(phase, Phase::Regular)
                        && !trading_days.contains(&days_from_epoch(trade_date))
                    {
                        trading_days.push(days_from_epoch(trade_date));
                    }
                }
                date += Duration::days(1);
            }
            segments.sort_by_key(|s| s.start_ns);
            trading_days.sort_unstable();
        }
        Ok(Calendar {
            name: spec.name.clone(),
            tz,
            always_open: spec.always_open,
            segments,
            covered_from_ns: local_ns(from, 0),
            covered_to_ns: local_ns(to, 1440),
            trading_days,
            last_segment: SegmentHint::default(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.tz
    }

    /// The local calendar date of an instant, as days since 1970-01-01.
    pub fn local_day(&self, ts_ns: i64) -> i32 {
        let dt = self.tz.timestamp_nanos(ts_ns);
        days_from_epoch(dt.date_naive())
    }

    /// The phase and trade date at `ts_ns` (UTC ns). Binary search over precomputed segments.
    pub fn session_at(&self, ts_ns: i64) -> SessionInfo {
        if self.always_open {
            return SessionInfo {
                phase: Phase::Regular,
                trade_day: ts_ns.div_euclid(NS_PER_DAY) as i32,
                covered: true,
            };
        }
        let covered = ts_ns >= self.covered_from_ns && ts_ns < self.covered_to_ns;
        if covered {
            let hint = self.last_segment.get();
            if let Some(s) = self.segments.get(hint) {
                // The segment the binary search below would pick: the last one starting at or before `ts_ns`.
                let last_started = self
                    .segments
                    .get(hint + 1)
                    .is_none_or(|next| next.start_ns > ts_ns);
                if s.start_ns <= ts_ns && ts_ns < s.end_ns && last_started {
                    return SessionInfo {
                        phase: s.phase,
                        trade_day: s.trade_day,
                        covered,
                    };
                }
            }
        }
        let idx = self.segments.partition_point(|s| s.start_ns <= ts_ns);
        if covered && idx > 0 {
            let s = self.segments[idx - 1];
            if ts_ns < s.end_ns {
                self.last_segment.set(idx - 1);
                return SessionInfo {
                    phase: s.phase,
                    trade_day: s.trade_day,
                    covered,
                };
            }
        }
        SessionInfo {
            phase: Phase::Closed,
            trade_day: if covered { self.local_day(ts_ns) } else { 0 },
            covered,
        }
    }

    /// A daily trading window as UTC intervals: local `start_min`..`end_min` (minutes after midnight in the
    /// calendar's time zone) on every trading day it covers (an always-open calendar: every day of 2024-2030).
    /// A local time that does not exist (a DST gap) moves to the first instant after it.
    pub fn window_intervals(&self, start_min: u32, end_min: u32) -> Vec<(i64, i64)> {
        use chrono::TimeZone;
        let days: Vec<i32> = if self.always_open {
            let from = days_from_epoch(NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date"));
            let to = days_from_epoch(NaiveDate::from_ymd_opt(2031, 1, 1).expect("valid date"));
            (from..to).collect()
        } else {
            self.trading_days.clone()
        };
        let at = |day: i32, minute: u32| -> Option<i64> {
            let date = date_from_days(day);
            let mut local = date.and_hms_opt(minute / 60, minute % 60, 0)?;
            for _ in 0..4 {
                if let Some(t) = self.tz.from_local_datetime(&local).earliest() {
                    return t.timestamp_nanos_opt();
                }
                local += chrono::Duration::minutes(30);
            }
            None
        };
        days.into_iter()
            .filter_map(|d| Some((at(d, start_min)?, at(d, end_min)?)))
            .filter(|(s, e)| s < e)
            .collect()
    }

    /// Whether `day` (days since epoch) is a trading day (has a regular session).
    pub fn is_trading_day(&self, day: i32) -> bool {
        if self.always_open {
            return true;
        }
        self.trading_days.binary_search(&day).is_ok()
    }

    /// The `n` trading days ending with `day` (inclusive when `day` is a trading day), oldest first.
    /// A slice of the precomputed table: no allocation.
    pub fn trading_days_back(&self, day: i32, n: usize) -> &[i32] {
        let idx = self.trading_days.partition_point(|d| *d <= day);
        &self.trading_days[idx.saturating_sub(n)..idx]
    }
}

/// Whether the session policy of spec §2.6 lets a new order in. Cancels are never checked here.
pub fn hours_allow(phase: Phase, is_limit: bool, extended_hours: bool) -> bool {
    match phase {
        Phase::Regular | Phase::PreopenEntry => true,
        Phase::Pre | Phase::Post | Phase::Overnight => is_limit && extended_hours,
        Phase::Closed | Phase::PreopenMatch | Phase::Maintenance | Phase::Halt => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> Calendar {
        let path = format!(
            "{}/../config/calendars/{name}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let spec: CalendarSpec = toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        Calendar::new(&spec).unwrap_or_else(|e| panic!("{path}: {e:?}"))
    }

    /// UTC ns of a local wall-clock time in `tz`.
    fn at(tz: &str, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        let tz: chrono_tz::Tz = tz.parse().unwrap();
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp() * NS_PER_S
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        at("UTC", y, mo, d, h, mi)
    }

    fn allows(cal: &Calendar, ts: i64, limit: bool, ext: bool) -> bool {
        hours_allow(cal.session_at(ts).phase, limit, ext)
    }

    const ET: &str = "America/New_York";
    const CT: &str = "America/Chicago";
    const IST: &str = "Asia/Kolkata";

    #[test]
    fn a_trading_window_follows_the_calendars_days_and_zone() {
        let x = load("XNYS");
        let risk = crate::limits::AccountRisk {
            trading_window: Some(x.window_intervals(9 * 60 + 30, 16 * 60).into()),
            ..Default::default()
        };
        // Tuesday 2026-12-01: inside 09:30-16:00 ET, not before or after (end exclusive).
        assert!(risk.in_trading_window(at(ET, 2026, 12, 1, 9, 30)));
        assert!(risk.in_trading_window(at(ET, 2026, 12, 1, 15, 59)));
        assert!(!risk.in_trading_window(at(ET, 2026, 12, 1, 9, 29)));
        assert!(!risk.in_trading_window(at(ET, 2026, 12, 1, 16, 0)));
        // Thanksgiving 2026-11-26 and a Saturday pause; the window moves with DST (EDT in July).
        assert!(!risk.in_trading_window(at(ET, 2026, 11, 26, 12, 0)));
        assert!(!risk.in_trading_window(at(ET, 2026, 12, 5, 12, 0)));
        assert!(
            risk.in_trading_window(utc(2026, 7, 14, 13, 30)),
            "09:30 EDT is 13:30 UTC"
        );
        assert!(
            !risk.in_trading_window(utc(2026, 7, 14, 20, 0)),
            "16:00 EDT is 20:00 UTC"
        );
        assert!(
            crate::limits::AccountRisk::default().in_trading_window(0),
            "no window: always"
        );
    }

    #[test]
    fn h_1() {
        // Early close: 13:05 ET is the post session; a regular-hours limit order is refused.
        let x = load("XNYS");
        let t = at(ET, 2026, 11, 27, 13, 5);
        assert_eq!(x.session_at(t).phase, Phase::Post);
        assert!(!allows(&x, t, true, false));
        assert!(
            allows(&x, t, true, true),
            "with the extended-hours flag it may enter"
        );
    }

    #[test]
    fn h_2() {
        // The late session closes at 17:00 on early-close days.
        let x = load("XNYS");
        assert!(!allows(&x, at(ET, 2026, 11, 27, 17, 30), true, true));
        assert!(allows(&x, at(ET, 2026, 11, 27, 16, 30), true, true));
    }

    #[test]
    fn h_3() {
        let x = load("XNYS");
        assert_eq!(x.session_at(at(ET, 2025, 1, 9, 10, 0)).phase, Phase::Closed);
        assert_eq!(
            load("XNAS").session_at(at(ET, 2025, 1, 9, 10, 0)).phase,
            Phase::Closed
        );
    }

    #[test]
    fn h_4() {
        assert_eq!(
            load("XNYS").session_at(at(ET, 2026, 7, 3, 10, 0)).phase,
            Phase::Closed
        );
    }

    #[test]
    fn h_5() {
        let x = load("XNYS");
        // 2026-03-09 is the first Monday of EDT: 13:30 UTC = 09:30 EDT, the open.
        assert_eq!(x.session_at(utc(2026, 3, 9, 13, 30)).phase, Phase::Regular);
        assert!(allows(&x, utc(2026, 3, 9, 13, 30), false, false));
        // 2026-03-06 is EST: 13:30 UTC = 08:30 pre-market, no market orders.
        assert_eq!(x.session_at(utc(2026, 3, 6, 13, 30)).phase, Phase::Pre);
        assert!(!allows(&x, utc(2026, 3, 6, 13, 30), false, false));
        assert!(
            !allows(&x, utc(2026, 3, 6, 13, 30), false, true),
            "market orders never in extended hours"
        );
    }

    #[test]
    fn h_6() {
        let c = load("CMES");
        let maint = c.session_at(at(ET, 2026, 11, 18, 17, 30));
        assert_eq!(maint.phase, Phase::Maintenance);
        let open = c.session_at(at(ET, 2026, 11, 18, 18, 0));
        assert_eq!(open.phase, Phase::Regular);
        assert_eq!(
            date_from_days(open.trade_day),
            NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(),
            "new trade date Thu"
        );
    }

    #[test]
    fn h_7() {
        let c = load("CMES");
        assert!(!allows(&c, at(ET, 2026, 11, 20, 17, 30), true, false));
        assert!(!allows(&c, at(ET, 2026, 11, 22, 17, 59), true, false));
        let sun = c.session_at(at(ET, 2026, 11, 22, 18, 0));
        assert_eq!(sun.phase, Phase::Regular);
        assert_eq!(
            date_from_days(sun.trade_day),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            "Sunday evening trades for Monday"
        );
    }

    #[test]
    fn h_8() {
        let c = load("CMES");
        assert_eq!(
            c.session_at(at(CT, 2026, 11, 26, 12, 30)).phase,
            Phase::Halt
        );
        assert_eq!(
            c.session_at(at(CT, 2026, 11, 26, 11, 30)).phase,
            Phase::Regular
        );
    }

    #[test]
    fn h_9() {
        assert_eq!(
            load("XNSE").session_at(at(IST, 2026, 1, 15, 10, 0)).phase,
            Phase::Closed
        );
    }

    #[test]
    fn h_10() {
        let n = load("XNSE");
        assert_eq!(
            n.session_at(at(IST, 2026, 1, 16, 9, 10)).phase,
            Phase::PreopenMatch
        );
        assert!(!allows(&n, at(IST, 2026, 1, 16, 9, 10), true, false));
        assert_eq!(
            n.session_at(at(IST, 2026, 1, 16, 9, 5)).phase,
            Phase::PreopenEntry
        );
        assert!(allows(&n, at(IST, 2026, 1, 16, 9, 5), true, false));
        assert!(allows(&n, at(IST, 2026, 1, 16, 9, 15), true, false));
    }

    #[test]
    fn nyse_calendar_matches_the_spec_tables() {
        let x = load("XNYS");
        let closed = |y, m, d| x.session_at(at(ET, y, m, d, 12, 0)).phase == Phase::Closed;
        for (y, m, d) in [
            (2025, 1, 1),
            (2025, 1, 9),
            (2025, 1, 20),
            (2025, 2, 17),
            (2025, 4, 18),
            (2025, 5, 26),
            (2025, 6, 19),
            (2025, 7, 4),
            (2025, 9, 1),
            (2025, 11, 27),
            (2025, 12, 25),
            (2026, 1, 1),
            (2026, 1, 19),
            (2026, 2, 16),
            (2026, 4, 3),
            (2026, 5, 25),
            (2026, 6, 19),
            (2026, 7, 3),
            (2026, 9, 7),
            (2026, 11, 26),
            (2026, 12, 25),
            (2027, 1, 1),
            (2027, 1, 18),
            (2027, 2, 15),
            (2027, 3, 26),
            (2027, 5, 31),
            (2027, 6, 18),
            (2027, 7, 5),
            (2027, 9, 6),
            (2027, 11, 25),
            (2027, 12, 24),
        ] {
            assert!(closed(y, m, d), "{y}-{m}-{d} should be a holiday");
        }
        for (y, m, d) in [
            (2025, 7, 3),
            (2025, 11, 28),
            (2025, 12, 24),
            (2026, 11, 27),
            (2026, 12, 24),
            (2027, 11, 26),
        ] {
            assert_eq!(
                x.session_at(at(ET, y, m, d, 12, 59)).phase,
                Phase::Regular,
                "{y}-{m}-{d}"
            );
            assert_eq!(
                x.session_at(at(ET, y, m, d, 13, 0)).phase,
                Phase::Post,
                "{y}-{m}-{d} closes at 13:00"
            );
        }
        assert_eq!(
            x.session_at(at(ET, 2026, 7, 2, 15, 0)).phase,
            Phase::Regular,
            "no Jul 2 early close in 2026"
        );
        assert_eq!(
            x.session_at(at(ET, 2026, 1, 17, 12, 0)).phase,
            Phase::Closed,
            "Saturday"
        );
        assert!(
            !x.session_at(at(ET, 2028, 3, 1, 12, 0)).covered,
            "outside the data: fail closed"
        );
    }

    #[test]
    fn trading_day_window_skips_good_friday() {
        let x = load("XNYS");
        let d = |y, m, dd| days_from_epoch(NaiveDate::from_ymd_opt(y, m, dd).unwrap());
        assert_eq!(
            x.trading_days_back(d(2026, 4, 6), 5),
            [
                d(2026, 3, 30),
                d(2026, 3, 31),
                d(2026, 4, 1),
                d(2026, 4, 2),
                d(2026, 4, 6)
            ]
        );
    }

    #[test]
    fn crypto_is_always_open_and_bad_specs_list_every_error() {
        let c = load("CRYPTO");
        assert_eq!(c.session_at(utc(2026, 12, 25, 3, 0)).phase, Phase::Regular);
        let spec = CalendarSpec {
            name: "BAD".into(),
            timezone: "Mars/Olympus".into(),
            first_year: 2026,
            last_year: 2025,
            always_open: false,
            weekly: vec![WeeklySpec {
                days: vec!["mon".into(), "funday".into()],
                intervals: vec![IntervalSpec {
                    start: "10:00".into(),
                    end: "09:00".into(),
                    phase: Phase::Regular,
                    trade_day_offset: 0,
                }],
            }],
            holidays: vec!["2026-02-30".into()],
            overrides: vec![],
            sources: vec![],
        };
        let errs = Calendar::new(&spec).unwrap_err();
        assert_eq!(errs.len(), 5, "{errs:?}");
    }
}
