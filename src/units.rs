//! Formatting of sizes and durations for people.

/// The first `length` characters of an id or hash, or all of it when it is shorter (ids come
/// from files people write: a short one must not panic a command).
pub(crate) fn prefix(text: &str, length: usize) -> &str {
    text.char_indices().nth(length).map_or(text, |(end, _)| &text[..end])
}

/// `137438953472` → `128.0 GiB`.
#[expect(clippy::cast_precision_loss, reason = "one decimal of a size needs no more than 52 bits")]
pub(crate) fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A measured value with its unit as people read it: sizes in KiB…GiB, milliseconds as `ms`
/// or `s` from 10 s on, everything else with one decimal (`14.9 t/s`).
pub(crate) fn format_quantity(value: f64, unit: &str) -> String {
    match unit {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a size is a whole, positive number"
        )]
        "bytes" if value >= 0.0 => format_bytes(value.round() as u64),
        "ms" if value >= 10_000.0 => format!("{:.1} s", value / 1000.0),
        "ms" => format!("{value:.0} ms"),
        "" => format_plain(value),
        unit => format!("{value:.1} {unit}"),
    }
}

/// A figure with no unit (a perplexity, a divergence, a rate between 0 and 1) with the digits
/// that tell configurations apart: `284.2`, `1.007`, `0.334`, `0.00683`.
pub(crate) fn format_plain(value: f64) -> String {
    let size = value.abs();
    if size >= 100.0 || size == 0.0 {
        format!("{value:.1}")
    } else if size >= 1.0 {
        format!("{value:.3}")
    } else {
        // Three significant digits.
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a small digit count")]
        let decimals = (2.0 - size.log10().floor()) as usize;
        format!("{value:.decimals$}")
    }
}

/// `262144` → `262,144`.
pub(crate) fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A span of time as people read it: `850 ms`, `12.4 s`, `3m05s`, `2h04m`.
pub(crate) fn format_duration(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    if duration.as_millis() < 1000 {
        format!("{} ms", duration.as_millis())
    } else if seconds < 60 {
        format!("{:.1} s", duration.as_secs_f64())
    } else if seconds < 3600 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60)
    }
}

/// A path as a person at this working directory would type it: relative when it is below it.
pub(crate) fn shown_path(path: &std::path::Path) -> String {
    let relative =
        std::env::current_dir().ok().and_then(|here| path.strip_prefix(here).ok().map(std::path::Path::to_path_buf));
    relative.unwrap_or_else(|| path.to_path_buf()).display().to_string()
}

/// `268098176` → `268M`, `30532122624` → `30.5B`: a model's parameter count.
#[expect(clippy::cast_precision_loss, reason = "a parameter count is shown to three digits")]
pub(crate) fn format_parameters(count: u64) -> String {
    let value = count as f64;
    if value >= 1e9 {
        format!("{:.1}B", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.0}M", value / 1e6)
    } else {
        count.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_are_readable() {
        assert_eq!(super::format_bytes(512), "512 B");
        assert_eq!(super::format_bytes(137_438_953_472), "128.0 GiB");
        assert_eq!(super::format_bytes(253 * 1024 * 1024), "253.0 MiB");
    }

    #[test]
    fn quantities_are_readable() {
        assert_eq!(super::format_quantity(317_956_096.0, "bytes"), "303.2 MiB");
        assert_eq!(super::format_quantity(91_500.0, "ms"), "91.5 s");
        assert_eq!(super::format_quantity(141.4, "ms"), "141 ms");
        assert_eq!(super::format_quantity(14.94, "t/s"), "14.9 t/s");
    }

    #[test]
    fn durations_are_readable() {
        use std::time::Duration;
        assert_eq!(super::format_duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(super::format_duration(Duration::from_millis(12_449)), "12.4 s");
        assert_eq!(super::format_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(super::format_duration(Duration::from_secs(7440)), "2h04m");
    }

    #[test]
    fn parameter_counts_are_readable() {
        assert_eq!(super::format_parameters(268_098_176), "268M");
        assert_eq!(super::format_parameters(30_532_122_624), "30.5B");
        assert_eq!(super::format_parameters(4096), "4096");
    }

    #[test]
    fn prefixes_never_cut_past_the_end_or_inside_a_character() {
        assert_eq!(super::prefix("0123456789abcdef", 8), "01234567");
        assert_eq!(super::prefix("ab", 8), "ab");
        assert_eq!(super::prefix("äöü", 2), "äö");
    }
}

#[cfg(test)]
mod plain_tests {
    #[test]
    fn plain_figures_keep_the_digits_that_differ() {
        assert_eq!(super::format_plain(284.2366), "284.2");
        assert_eq!(super::format_plain(1.007_194), "1.007");
        assert_eq!(super::format_plain(0.334), "0.334");
        assert_eq!(super::format_plain(0.006_83), "0.00683");
        assert_eq!(super::format_plain(0.0), "0.0");
        assert_eq!(super::thousands(262_144), "262,144");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1_000_000), "1,000,000");
    }
}

/// `2026-11-22 18:30:05` for milliseconds since the Unix epoch (UTC).
pub(crate) fn utc(unix_ms: u64) -> String {
    let seconds = unix_ms / 1000;
    let (year, month, day) = civil_from_days(i64::try_from(seconds / 86_400).unwrap_or(i64::MAX / 2));
    let of_day = seconds % 86_400;
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", of_day / 3600, of_day / 60 % 60, of_day % 60)
}

/// Milliseconds since the Unix epoch for `2026-11-22`, `2026-11-22 18:30`, `2026-11-22T18:30:05`
/// (UTC); `None` for anything else.
pub(crate) fn parse_utc(text: &str) -> Option<u64> {
    let (date, time) = text.split_once(['T', ' ']).unwrap_or((text, "00:00"));
    let mut parts = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut clock = time.split(':').map(str::parse::<u64>);
    let hour = clock.next()?.ok()?;
    let minute = clock.next().unwrap_or(Ok(0)).ok()?;
    let second = clock.next().unwrap_or(Ok(0)).ok()?;
    if clock.next().is_some() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(((days * 86_400) + hour * 3600 + minute * 60 + second) * 1000)
}

/// Howard Hinnant's days-to-civil algorithm: the date of a day since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// The inverse: days since 1970-01-01 of a date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn utc_times_print_and_parse_back() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_305_600_000 + 66_605_000), "2026-11-22 18:30:05");
        assert_eq!(parse_utc("2026-11-22T18:30:05"), Some(1_795_305_600_000 + 66_605_000));
        assert_eq!(parse_utc("2026-11-22 18:30"), Some(1_795_305_600_000 + 66_600_000));
        assert_eq!(parse_utc("2000-02-29"), Some(951_782_400_000));
        for bad in ["yesterday", "2026-13-01", "2026-11-22T25:00", "2026-11", "2026-11-22T1:2:3:4"] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }
}
