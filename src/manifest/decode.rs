//! Helpers for decoding typed values out of KDL nodes, recording every problem they meet.

use kdl::{KdlEntry, KdlNode, KdlValue};

use super::error::{ErrorKind, ManifestError, Problems};
use super::source::{FileId, Location, SourceMap, Spanned};
use crate::suggest;

/// Decoding state for one file: where problems go and how to point at them.
pub(super) struct Decoder<'a> {
    pub(super) sources: &'a SourceMap,
    pub(super) file: FileId,
    pub(super) problems: &'a mut Problems,
}

/// A scalar value as text, the way it is passed on a command line.
pub(super) fn value_text(entry: &KdlEntry) -> Option<String> {
    match entry.value() {
        KdlValue::String(text) => Some(text.clone()),
        KdlValue::Integer(number) => Some(number.to_string()),
        KdlValue::Float(number) => {
            // Keep the written form (`1.0`, `0.70`) when it denotes the same number, since
            // Rust would print `1.0` as `1`.
            let written = entry.format().map(|format| format.value_repr.replace('_', ""));
            Some(match written {
                Some(text) if text.parse::<f64>().ok() == Some(*number) => text,
                _ => number.to_string(),
            })
        }
        KdlValue::Bool(flag) => Some(flag.to_string()),
        KdlValue::Null => None,
    }
}

pub(super) fn type_name(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "null",
    }
}

impl Decoder<'_> {
    pub(super) fn at(&self, span: miette::SourceSpan) -> Location {
        Location { file: self.file, span }
    }

    pub(super) fn error(&self, span: miette::SourceSpan, kind: ErrorKind) -> ManifestError {
        ManifestError::new(self.sources, self.at(span), kind)
    }

    pub(super) fn push(&mut self, problem: ManifestError) {
        self.problems.push(problem);
    }

    pub(super) fn report(&mut self, span: miette::SourceSpan, kind: ErrorKind, help: impl Into<String>) {
        let problem = self.error(span, kind).help(help);
        self.problems.push(problem);
    }

    /// The positional entries of a node.
    pub(super) fn arguments<'n>(&self, node: &'n KdlNode) -> Vec<&'n KdlEntry> {
        node.entries().iter().filter(|entry| entry.name().is_none()).collect()
    }

    /// Reports every property not in `allowed`, with a did-you-mean.
    pub(super) fn check_properties(&mut self, node: &KdlNode, allowed: &[&str]) {
        for entry in node.entries() {
            let Some(name) = entry.name() else { continue };
            if !allowed.contains(&name.value()) {
                let help = if allowed.is_empty() {
                    format!("`{}` takes no properties", node.name().value())
                } else {
                    suggest::help_for(name.value(), allowed.iter().copied(), "properties")
                };
                self.report(
                    entry.span(),
                    ErrorKind::UnknownProperty { name: name.value().to_owned(), node: node.name().value().to_owned() },
                    help,
                );
            }
        }
    }

    /// Reports positional arguments on a node that takes none.
    pub(super) fn check_no_arguments(&mut self, node: &KdlNode) {
        if let Some(extra) = self.arguments(node).first() {
            self.report(
                extra.span(),
                ErrorKind::TooManyValues {
                    node: node.name().value().to_owned(),
                    expected: "no positional values".to_owned(),
                },
                "remove the value, or use the node form the documentation shows",
            );
        }
    }

    /// Reports children on a node that takes none.
    pub(super) fn check_no_children(&mut self, node: &KdlNode) {
        if let Some(children) = node.children() {
            self.report(
                children.span(),
                ErrorKind::Inconsistent(format!("`{}` takes no children block", node.name().value())),
                "remove the `{ … }` block",
            );
        }
    }

    /// Reports a node name that is not allowed in this context.
    pub(super) fn unknown_node(&mut self, node: &KdlNode, context: &str, allowed: &[&str]) {
        let name = node.name().value();
        self.report(
            node.name().span(),
            ErrorKind::UnknownNode { name: name.to_owned(), context: context.to_owned() },
            suggest::help_for(name, allowed.iter().copied(), "nodes here"),
        );
    }

    /// Exactly one positional string, like `image "…"`.
    pub(super) fn single_string(&mut self, node: &KdlNode) -> Option<Spanned<String>> {
        let entry = self.single_argument(node, "one string")?;
        match entry.value() {
            KdlValue::String(text) => Some(Spanned::new(text.clone(), self.at(entry.span()))),
            other => {
                self.wrong_type(node, entry, "one string", other);
                None
            }
        }
    }

    /// Exactly one positional non-negative integer, like `timeout 1800`.
    pub(super) fn single_count(&mut self, node: &KdlNode) -> Option<Spanned<u64>> {
        let entry = self.single_argument(node, "one whole number")?;
        match entry.value() {
            KdlValue::Integer(number) => match u64::try_from(*number) {
                Ok(count) => Some(Spanned::new(count, self.at(entry.span()))),
                Err(_) => {
                    self.report(
                        entry.span(),
                        ErrorKind::InvalidValue {
                            what: format!("`{}`", node.name().value()),
                            value: number.to_string(),
                            reason: "it cannot be negative".to_owned(),
                        },
                        "use 0 or a positive whole number",
                    );
                    None
                }
            },
            other => {
                self.wrong_type(node, entry, "one whole number", other);
                None
            }
        }
    }

    fn single_argument<'n>(&mut self, node: &'n KdlNode, expected: &str) -> Option<&'n KdlEntry> {
        let arguments = self.arguments(node);
        match arguments.as_slice() {
            [] => {
                self.report(
                    node.span(),
                    ErrorKind::MissingValue { node: format!("`{}`", node.name().value()), what: expected.to_owned() },
                    format!("write it as `{} <value>`", node.name().value()),
                );
                None
            }
            [entry] => Some(entry),
            [_, extra, ..] => {
                self.report(
                    extra.span(),
                    ErrorKind::TooManyValues { node: node.name().value().to_owned(), expected: expected.to_owned() },
                    "remove the extra values",
                );
                None
            }
        }
    }

    pub(super) fn wrong_type(&mut self, node: &KdlNode, entry: &KdlEntry, expected: &str, found: &KdlValue) {
        let help = match found {
            KdlValue::Integer(_) | KdlValue::Float(_) if expected.contains("string") => {
                "put the value in double quotes".to_owned()
            }
            KdlValue::String(text) if text.trim().parse::<f64>().is_ok() => "remove the double quotes".to_owned(),
            _ if expected.contains("number") => "write a whole number without quotes".to_owned(),
            _ => format!("`{}` takes {expected}", node.name().value()),
        };
        self.report(
            entry.span(),
            ErrorKind::WrongType {
                node: node.name().value().to_owned(),
                expected: expected.to_owned(),
                found: type_name(found).to_owned(),
            },
            help,
        );
    }

    /// A string property, reporting a value of another type.
    pub(super) fn string_property(&mut self, node: &KdlNode, name: &str) -> Option<Spanned<String>> {
        let entry = node.entries().iter().find(|entry| entry.name().is_some_and(|key| key.value() == name))?;
        match entry.value() {
            KdlValue::String(text) => Some(Spanned::new(text.clone(), self.at(entry.span()))),
            other => {
                let found = type_name(other).to_owned();
                self.report(
                    entry.span(),
                    ErrorKind::WrongType {
                        node: format!("{}.{name}", node.name().value()),
                        expected: "a string".to_owned(),
                        found,
                    },
                    "put the value in double quotes",
                );
                None
            }
        }
    }

    /// A scalar entry as text; null is reported.
    pub(super) fn scalar(&mut self, node: &KdlNode, entry: &KdlEntry) -> Option<Spanned<String>> {
        if let Some(text) = value_text(entry) {
            Some(Spanned::new(text, self.at(entry.span())))
        } else {
            self.wrong_type(node, entry, "a string, number or boolean", entry.value());
            None
        }
    }

    /// The node's children, or an empty slice.
    pub(super) fn children<'n>(&self, node: &'n KdlNode) -> &'n [KdlNode] {
        node.children().map_or(&[], |children| children.nodes())
    }
}
