//! llama-bench's test names: `pp{N}`, `tg{N}`, `pp{N}+tg{M}`, a depth `@d{D}` and a repeat
//! `#{R}` (a comma list such as `-t 1,2` runs one test several times), composed and parsed here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::family::Family;

/// One llama-bench test: tokens of prompt processed, tokens generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BenchTest {
    pub(crate) prompt: u64,
    pub(crate) generated: u64,
}

impl BenchTest {
    /// The family of its metric: `pp`, `tg` or `pp+tg`.
    pub(crate) fn family(self) -> &'static Family {
        Family::get(match (self.prompt, self.generated) {
            (0, _) => "tg",
            (_, 0) => "pp",
            _ => "pp+tg",
        })
    }
}

impl fmt::Display for BenchTest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.prompt, self.generated) {
            (0, tokens) => write!(formatter, "tg{tokens}"),
            (tokens, 0) => write!(formatter, "pp{tokens}"),
            (prompt, generated) => write!(formatter, "pp{prompt}+tg{generated}"),
        }
    }
}

/// A llama-bench metric's name: its test, the depth it ran at (kept only where one cell measured
/// several), and which repeat of the test it is (from 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BenchName {
    pub(crate) test: BenchTest,
    pub(crate) depth: Option<u64>,
    pub(crate) repeat: Option<u32>,
}

impl BenchName {
    /// The name of a record's test: depth 0 has no suffix.
    pub(crate) fn new(prompt: u64, generated: u64, depth: u64) -> Self {
        Self { test: BenchTest { prompt, generated }, depth: (depth > 0).then_some(depth), repeat: None }
    }

    /// `tg128@d4096#2` → test `tg128`, depth 4096, repeat 2; `None` for any other name.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        let (rest, repeat) = match name.split_once('#') {
            Some((rest, repeat)) => (rest, Some(digits(repeat)?.try_into().ok()?)),
            None => (name, None),
        };
        let (test, depth) = match rest.split_once("@d") {
            Some((test, depth)) => (test, Some(digits(depth)?)),
            None => (rest, None),
        };
        let test = if let Some((prompt, generated)) = test.split_once('+') {
            BenchTest { prompt: digits(prompt.strip_prefix("pp")?)?, generated: digits(generated.strip_prefix("tg")?)? }
        } else if let Some(prompt) = test.strip_prefix("pp") {
            BenchTest { prompt: digits(prompt)?, generated: 0 }
        } else {
            BenchTest { prompt: 0, generated: digits(test.strip_prefix("tg")?)? }
        };
        Some(Self { test, depth, repeat })
    }

    /// The name without its depth.
    #[must_use]
    pub(crate) fn plain(self) -> Self {
        Self { depth: None, ..self }
    }

    /// The same test's `index`th repeat (from 2).
    #[must_use]
    pub(crate) fn repeated(self, index: u32) -> Self {
        Self { repeat: Some(index), ..self }
    }
}

impl fmt::Display for BenchName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.test)?;
        if let Some(depth) = self.depth {
            write!(formatter, "@d{depth}")?;
        }
        if let Some(repeat) = self.repeat {
            write!(formatter, "#{repeat}")?;
        }
        Ok(())
    }
}

/// A number written in ASCII digits only (no sign, no spaces).
fn digits(text: &str) -> Option<u64> {
    (!text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

/// `tg128@d4096` → `tg128` when every metric was measured at that one depth: a cell whose depth
/// is a matrix axis has it as its axis value, and a table of `tg128` against `depth` then finds
/// a number in every cell. `@dN` stays where one cell measured several depths.
pub(crate) fn plain_depth_names<V>(metrics: BTreeMap<String, V>) -> BTreeMap<String, V> {
    let depths: Option<BTreeSet<u64>> =
        metrics.keys().map(|name| BenchName::parse(name).and_then(|parsed| parsed.depth)).collect();
    match depths {
        Some(depths) if depths.len() == 1 => metrics
            .into_iter()
            .map(|(name, value)| match BenchName::parse(&name) {
                Some(parsed) => (parsed.plain().to_string(), value),
                None => (name, value),
            })
            .collect(),
        _ => metrics,
    }
}

/// Which llama-bench test sizes a matrix axis sets (`-p {plen}`, `-n {glen}`): each cell then
/// measures one size, the axis's value, and its metric takes the family's plain name (`pp`,
/// `tg`) so that a table of `pp` against `plen` finds a number in every cell, as depth does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SweptSizes {
    pub(crate) prompt: bool,
    pub(crate) generated: bool,
}

/// `pp64` → `pp` where the prompt size is swept (`tg16` → `tg` where the generation size is)
/// and the cell measured that one test once, at one depth; any other name stays as it is.
pub(crate) fn plain_size_names<V>(metrics: BTreeMap<String, V>, swept: SweptSizes) -> BTreeMap<String, V> {
    let single = |prompt_side: bool| {
        let tests: Vec<&String> = metrics
            .keys()
            .filter(|name| {
                BenchName::parse(name).is_some_and(|parsed| {
                    let test = parsed.test;
                    if prompt_side { test.generated == 0 } else { test.prompt == 0 }
                })
            })
            .collect();
        match tests.as_slice() {
            [name]
                if BenchName::parse(name).is_some_and(|parsed| parsed.depth.is_none() && parsed.repeat.is_none()) =>
            {
                Some((*name).clone())
            }
            _ => None,
        }
    };
    let renames: Vec<(String, &str)> = [
        swept.prompt.then(|| single(true).map(|name| (name, "pp"))).flatten(),
        swept.generated.then(|| single(false).map(|name| (name, "tg"))).flatten(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut metrics = metrics;
    for (name, plain) in renames {
        if let Some(value) = metrics.remove(&name) {
            metrics.insert(plain.to_owned(), value);
        }
    }
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swept_size_takes_the_plain_name_when_the_cell_measured_it_once() {
        let names =
            |list: &[&str]| -> BTreeMap<String, u8> { list.iter().map(|name| ((*name).to_owned(), 0)).collect() };
        let swept = SweptSizes { prompt: true, generated: false };
        let plain = plain_size_names(names(&["pp64", "tg16"]), swept);
        assert_eq!(plain.keys().collect::<Vec<_>>(), ["pp", "tg16"]);
        let both = plain_size_names(names(&["pp64", "tg16"]), SweptSizes { prompt: true, generated: true });
        assert_eq!(both.keys().collect::<Vec<_>>(), ["pp", "tg"]);
        // Two prompt sizes in one cell, a repeat or a depth: the sizes tell them apart.
        for kept in [&["pp64", "pp128"][..], &["pp64", "pp64#2"], &["pp64@d512", "pp64@d1024"], &["pp64+tg16"]] {
            assert_eq!(plain_size_names(names(kept), swept), names(kept), "{kept:?}");
        }
        assert_eq!(plain_size_names(names(&["pp64"]), SweptSizes::default()), names(&["pp64"]));
    }

    #[test]
    fn names_compose_and_parse_back() {
        for (name, prompt, generated, depth, repeat) in [
            ("pp512", 512, 0, None, None),
            ("tg128", 0, 128, None, None),
            ("pp512+tg128", 512, 128, None, None),
            ("tg16@d4096", 0, 16, Some(4096), None),
            ("tg16#2", 0, 16, None, Some(2)),
            ("pp64+tg8@d512#3", 64, 8, Some(512), Some(3)),
        ] {
            let parsed = BenchName::parse(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(parsed, BenchName { test: BenchTest { prompt, generated }, depth, repeat }, "{name}");
            assert_eq!(parsed.to_string(), name);
        }
        for other in ["ttft_ms", "pp", "tgx", "tg16@d", "tg16#", "pp-1", "tg16@dx", "ppl", "pp64+tg", "tg 16"] {
            assert_eq!(BenchName::parse(other), None, "{other}");
        }
        assert_eq!(BenchName::new(64, 0, 0).to_string(), "pp64");
        assert_eq!(BenchName::new(0, 16, 4096).repeated(2).to_string(), "tg16@d4096#2");
    }

    #[test]
    fn one_depth_leaves_the_names_and_several_keep_it() {
        let names =
            |list: &[&str]| -> BTreeMap<String, u8> { list.iter().map(|name| ((*name).to_owned(), 0)).collect() };
        let plain = plain_depth_names(names(&["pp64@d4096", "tg16@d4096", "tg16@d4096#2"]));
        assert_eq!(plain.keys().collect::<Vec<_>>(), ["pp64", "tg16", "tg16#2"]);
        let several = names(&["pp64", "tg16@d4096"]);
        assert_eq!(plain_depth_names(several.clone()), several);
    }
}
