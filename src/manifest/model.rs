//! `model` declarations: named GGUF files, found under the machine's model roots.

use kdl::KdlNode;

use super::decode::Decoder;
use super::error::ErrorKind;
use super::source::Spanned;

#[derive(Debug, Clone)]
pub struct Model {
    pub name: Spanned<String>,
    /// Relative to a model root, or absolute.
    pub file: Spanned<String>,
}

pub(super) fn decode(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<Model> {
    decoder.check_properties(node, &["file"]);
    let name = decoder.single_string(node)?;
    let mut file = decoder.string_property(node, "file");
    for child in decoder.children(node) {
        match child.name().value() {
            "file" => {
                decoder.check_properties(child, &[]);
                file = decoder.single_string(child).or(file);
            }
            _ => decoder.unknown_node(child, &format!("model `{}`", name.value), &["file"]),
        }
    }
    let Some(file) = file else {
        decoder.report(
            node.name().span(),
            ErrorKind::MissingValue { node: format!("model `{}`", name.value), what: "a `file`".to_owned() },
            "add `file \"dir/model.gguf\"`, relative to a model root (`--models` or BAKEOFF_MODELS)",
        );
        return None;
    };
    if file.value.trim().is_empty() {
        decoder.report(
            file.at.span,
            ErrorKind::InvalidValue {
                what: "model file".to_owned(),
                value: String::new(),
                reason: "the path is empty".to_owned(),
            },
            "name the GGUF file, relative to a model root",
        );
        return None;
    }
    Some(Model { name, file })
}
