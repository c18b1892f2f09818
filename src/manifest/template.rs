//! Argument templates: `{axis}`, `{variant}`, `{model}`, `{model:NAME}` and `{file:PATH}`.

use super::source::Location;

/// One piece of an argument template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// The cell's value of an axis.
    Axis(String),
    /// The variant's arguments, spliced in place of this argument.
    Variant,
    /// The path of the cell's model.
    Model,
    /// The path of another declared model.
    ModelRef(String),
    /// The path of a declared file, relative to the manifest that names it.
    File(String),
}

/// One argv element as written in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
    pub text: String,
    pub at: Location,
}

impl Template {
    /// Whether this argument is exactly `{variant}`.
    pub fn is_variant_splice(&self) -> bool {
        matches!(self.parts.as_slice(), [Part::Variant])
    }

    pub fn placeholders(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|part| !matches!(part, Part::Text(_)))
    }
}

/// Why an argument's placeholders cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum TemplateError {
    #[error("`{{{0}` is not closed; write `{{{{` for a literal brace")]
    Unclosed(String),
    #[error("a lone `}}`; write `}}}}` for a literal brace")]
    LoneClose,
    #[error("`{{}}` is empty; name an axis, `model`, `variant`, `model:NAME` or `file:PATH`")]
    Empty,
    #[error("`{{{0}:}}` needs a {1}")]
    NoReference(&'static str, &'static str),
    #[error("`{{{0}}}`: only `model:` and `file:` take a colon")]
    Colon(String),
}

/// Splits `text` into literal text and placeholders; `{{` and `}}` stand for braces.
pub(super) fn parse(text: &str) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '{' if characters.peek() == Some(&'{') => {
                characters.next();
                literal.push('{');
            }
            '}' if characters.peek() == Some(&'}') => {
                characters.next();
                literal.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match characters.next() {
                        Some('}') => break,
                        Some('{') | None => return Err(TemplateError::Unclosed(name)),
                        Some(inner) => name.push(inner),
                    }
                }
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(placeholder(name.trim())?);
            }
            '}' => return Err(TemplateError::LoneClose),
            other => literal.push(other),
        }
    }
    if !literal.is_empty() || parts.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(parts)
}

fn placeholder(name: &str) -> Result<Part, TemplateError> {
    if let Some(model) = name.strip_prefix("model:") {
        return if model.is_empty() {
            Err(TemplateError::NoReference("model", "model name"))
        } else {
            Ok(Part::ModelRef(model.to_owned()))
        };
    }
    if let Some(path) = name.strip_prefix("file:") {
        return if path.is_empty() {
            Err(TemplateError::NoReference("file", "path"))
        } else {
            Ok(Part::File(path.to_owned()))
        };
    }
    match name {
        "" => Err(TemplateError::Empty),
        "variant" => Ok(Part::Variant),
        "model" => Ok(Part::Model),
        axis if axis.contains(':') => Err(TemplateError::Colon(axis.to_owned())),
        axis => Ok(Part::Axis(axis.to_owned())),
    }
}

/// A request file's path (`prompt-file="prompts/p{plen}.txt"`) with each `{axis}` replaced by
/// `value(axis)`; `None` when the path cannot be read or names something other than an axis
/// with a value (the manifest check reports those).
pub fn fill_path(path: &str, value: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut filled = String::new();
    for part in parse(path).ok()? {
        match part {
            Part::Text(text) => filled.push_str(&text),
            Part::Axis(axis) => filled.push_str(&value(&axis)?),
            _ => return None,
        }
    }
    Some(filled)
}

/// The axes a request file's path names, in order, each once; empty for a plain path (and for
/// one that cannot be read: the check reports it).
pub(super) fn path_axes(path: &str) -> Vec<String> {
    let mut axes: Vec<String> = Vec::new();
    for part in parse(path).unwrap_or_default() {
        if let Part::Axis(axis) = part
            && !axes.contains(&axis)
        {
            axes.push(axis);
        }
    }
    axes
}

/// Whether a literal argument looks like a path to a file whose changes bakeoff would miss.
pub fn looks_like_path(text: &str) -> bool {
    const EXTENSIONS: [&str; 7] = [".gguf", ".txt", ".json", ".jinja", ".md", ".bin", ".csv"];
    if text.starts_with('-') || text.contains("://") || text.contains(char::is_whitespace) {
        return false;
    }
    let has_extension = EXTENSIONS.iter().any(|extension| text.to_ascii_lowercase().ends_with(extension));
    has_extension || (text.contains('/') && !text.starts_with("/dev/") && text.len() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_takes_the_cells_axis_values() {
        let value = |axis: &str| (axis == "plen").then(|| "64".to_owned());
        assert_eq!(fill_path("prompts/p{plen}.txt", value).as_deref(), Some("prompts/p64.txt"));
        assert_eq!(fill_path("prompts/plain.txt", value).as_deref(), Some("prompts/plain.txt"));
        assert_eq!(fill_path("p{{x}}.txt", value).as_deref(), Some("p{x}.txt"));
        assert_eq!(fill_path("p{ctx}.txt", value), None, "an axis without a value");
        assert_eq!(fill_path("{model}.txt", value), None, "only axes belong in a path");
        assert_eq!(fill_path("p{plen.txt", value), None);
        assert_eq!(path_axes("p{plen}-{ctx}-{plen}.txt"), ["plen", "ctx"]);
        assert!(path_axes("plain.txt").is_empty());
    }

    #[test]
    fn parses_placeholders_and_escapes() {
        assert_eq!(parse("-d").unwrap(), vec![Part::Text("-d".to_owned())]);
        assert_eq!(parse("{depth}").unwrap(), vec![Part::Axis("depth".to_owned())]);
        assert_eq!(
            parse("ctx={ctx},m={model:draft}").unwrap(),
            vec![
                Part::Text("ctx=".to_owned()),
                Part::Axis("ctx".to_owned()),
                Part::Text(",m=".to_owned()),
                Part::ModelRef("draft".to_owned()),
            ]
        );
        assert_eq!(parse("{{json}}").unwrap(), vec![Part::Text("{json}".to_owned())]);
        assert_eq!(parse("").unwrap(), vec![Part::Text(String::new())]);
        assert_eq!(parse("{file:prompts/a.txt}").unwrap(), vec![Part::File("prompts/a.txt".to_owned())]);
    }

    #[test]
    fn rejects_malformed_placeholders() {
        assert!(parse("{depth").unwrap_err().to_string().contains("not closed"));
        assert!(parse("a}b").unwrap_err().to_string().contains("lone"));
        assert!(parse("{}").unwrap_err().to_string().contains("empty"));
        assert!(parse("{model:}").unwrap_err().to_string().contains("needs a model"));
        assert!(parse("{env:HOME}").unwrap_err().to_string().contains("colon"));
    }

    #[test]
    fn path_heuristic() {
        assert!(looks_like_path("prompts/summarize.txt"));
        assert!(looks_like_path("model.gguf"));
        assert!(!looks_like_path("--jinja"));
        assert!(!looks_like_path("/dev/kfd"));
        assert!(!looks_like_path("qwen3moe.expert_used_count=int:4"));
        assert!(!looks_like_path("http://x/y"));
    }
}
