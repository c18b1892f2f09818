//! What bakeoff has to say beside a result or an error: a line of text with a severity. The
//! console prints it as `warning: …`, a record keeps it as a value, a report as a marked
//! paragraph; none of them reads the severity back out of the text.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How much a notice matters to the figures it is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// What happened, said in passing (`report: results/x/README.md`): no word in front.
    Info,
    /// Worth knowing; the figures stand as they are.
    Note,
    /// The figures may mislead, or something did not happen that was asked for.
    Warning,
    /// Part of a command failed (one toolbox of several could not be realised); the command
    /// goes on and its exit code says so.
    Error,
}

impl Severity {
    /// The word the console and the reports put before the text (none for `Info`).
    pub fn word(self) -> Option<&'static str> {
        match self {
            Self::Info => None,
            Self::Note => Some("note"),
            Self::Warning => Some("warning"),
            Self::Error => Some("error"),
        }
    }
}

/// One thing to say, and how much it matters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Notice {
    pub severity: Severity,
    /// A lowercase fragment, user values in backticks, with no severity word in front.
    pub text: String,
}

impl Notice {
    pub fn warning(text: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, text: text.into() }
    }

    pub fn note(text: impl Into<String>) -> Self {
        Self { severity: Severity::Note, text: text.into() }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self { severity: Severity::Error, text: text.into() }
    }

    pub fn info(text: impl Into<String>) -> Self {
        Self { severity: Severity::Info, text: text.into() }
    }

    /// The same notice about `subject` (a cell id, a toolbox): `subject: text`.
    #[must_use]
    pub fn about(self, subject: &str) -> Self {
        Self { text: format!("{subject}: {}", self.text), ..self }
    }
}

impl fmt::Display for Notice {
    /// `warning: text`, as the console shows it; an `Info` line as it is.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity.word() {
            Some(word) => write!(formatter, "{word}: {}", self.text),
            None => formatter.write_str(&self.text),
        }
    }
}

/// In a record: a warning is its bare text, as records have always held warnings, so that an
/// older bakeoff reads the record; any other severity is `{"severity": "note", "text": "…"}`.
#[derive(Serialize, Deserialize)]
struct Stored {
    severity: Severity,
    text: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Read {
    Stored(Stored),
    Text(String),
}

impl Serialize for Notice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.severity {
            Severity::Warning => serializer.serialize_str(&self.text),
            severity => Stored { severity, text: self.text.clone() }.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Notice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Read::deserialize(deserializer)? {
            Read::Stored(Stored { severity, text }) => Self { severity, text },
            Read::Text(text) => Self::warning(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_shows_the_severity_word_once() {
        assert_eq!(Notice::warning("`-md` drafted nothing").to_string(), "warning: `-md` drafted nothing");
        assert_eq!(Notice::note("ready").about("host/a").to_string(), "note: host/a: ready");
        assert_eq!(Notice::info("report: results/a/README.md").to_string(), "report: results/a/README.md");
    }

    #[test]
    fn records_keep_the_severity_and_a_warning_as_older_records_hold_it() {
        let notice = Notice::note("one round of two was recorded");
        let json = serde_json::to_string(&notice).unwrap();
        assert_eq!(json, r#"{"severity":"note","text":"one round of two was recorded"}"#);
        assert_eq!(serde_json::from_str::<Notice>(&json).unwrap(), notice);
        // A warning is written as the bare text records of format 1 hold, and read back as one.
        let warning = Notice::warning("speculative decoding did not happen");
        assert_eq!(serde_json::to_string(&warning).unwrap(), r#""speculative decoding did not happen""#);
        let old: Notice = serde_json::from_str(r#""speculative decoding did not happen""#).unwrap();
        assert_eq!(old, warning);
    }
}
