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
