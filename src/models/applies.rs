//! Whether a cell's flags can apply to its model. llama.cpp takes a mixture-of-experts flag or a
//! metadata override for a model it does not fit without a word: `--n-cpu-moe 8` on a dense model
//! moves nothing, and `--override-kv qwen3moe.expert_used_count=int:4` on a `gemma3` model names
//! a key the model does not read. A figure measured so is labelled with a change that did not
//! happen, so such a cell is blocked at plan with the model's own facts.

use serde::{Deserialize, Serialize};

/// What a model's GGUF header says about its shape, as far as flags depend on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ModelShape {
    /// `general.architecture` (`gemma3`, `qwen3moe`): the prefix of its own metadata keys.
    pub(crate) architecture: Option<String>,
    /// `ARCH.expert_count`: absent or 0 for a dense model.
    pub(crate) experts: Option<u64>,
    /// How many tokens its vocabulary has; absent where the header lists none (and in shapes
    /// kept before it was read, which are read again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) vocab: Option<u64>,
}

impl ModelShape {
    pub(crate) fn of(info: &super::gguf::GgufInfo) -> Self {
        Self { architecture: info.architecture.clone(), experts: info.expert_count, vocab: info.vocab_size }
    }

    fn has_experts(&self) -> bool {
        self.experts.is_some_and(|count| count > 0)
    }

    /// `architecture `gemma3`, no experts` / `architecture `qwen3moe`, 128 experts`.
    fn described(&self) -> String {
        let architecture = self
            .architecture
            .as_deref()
            .map_or_else(|| "no architecture".to_owned(), |a| format!("architecture `{a}`"));
        match self.experts.filter(|count| *count > 0) {
            Some(count) => format!("{architecture}, {count} experts"),
            None => format!("{architecture}, no experts"),
        }
    }
}

/// Options that place or count a mixture's experts, which a model without experts has none of.
const EXPERT_OPTIONS: [&str; 4] = ["--n-cpu-moe", "-ncmoe", "--cpu-moe", "-cmoe"];
/// Metadata keys (after the architecture's prefix) that only a mixture of experts reads.
const EXPERT_KEYS: [&str; 2] = ["expert_used_count", "expert_count"];

/// Why each of `argv`'s flags cannot apply to `model` (named `name`), if any does not.
pub(crate) fn inapplicable(argv: &[String], name: &str, model: &ModelShape) -> Vec<String> {
    let mut reasons = Vec::new();
    let mut words = argv.iter();
    while let Some(word) = words.next() {
        let (option, inline) = crate::tool_options::split_option(word);
        if EXPERT_OPTIONS.contains(&option) && !model.has_experts() {
            reasons.push(format!(
                "`{option}` places a mixture's experts, but model `{name}` has none ({}): llama.cpp would run it \
                 unchanged",
                model.described()
            ));
        }
        if option == "--override-kv" {
            let value = inline.or_else(|| words.next().map(String::as_str)).unwrap_or_default();
            for setting in value.split(',').filter(|setting| !setting.is_empty()) {
                reasons.extend(override_problem(setting, name, model));
            }
        }
    }
    reasons
}

/// Why `--override-kv KEY=TYPE:VALUE` does nothing to `model`: its key names another
/// architecture, or a mixture's key on a model without experts.
fn override_problem(setting: &str, name: &str, model: &ModelShape) -> Option<String> {
    let key = setting.split_once('=').map_or(setting, |(key, _)| key);
    let (prefix, rest) = key.split_once('.')?;
    // `general.*`, `tokenizer.*` and the like are every model's.
    if ["general", "tokenizer", "split", "quantize"].contains(&prefix) {
        return None;
    }
    let architecture = model.architecture.as_deref()?;
    if prefix != architecture {
        return Some(format!(
            "`--override-kv {setting}` names architecture `{prefix}`, but model `{name}` is `{architecture}`: \
             llama.cpp ignores the key; write `{architecture}.{rest}` if the model has it"
        ));
    }
    (EXPERT_KEYS.contains(&rest) && !model.has_experts()).then(|| {
        format!(
            "`--override-kv {setting}` sets a mixture's experts, but model `{name}` has none ({}): llama.cpp \
             would run it unchanged",
            model.described()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    fn dense() -> ModelShape {
        ModelShape { architecture: Some("gemma3".to_owned()), experts: None, vocab: None }
    }

    fn mixture() -> ModelShape {
        ModelShape { architecture: Some("qwen3moe".to_owned()), experts: Some(128), vocab: None }
    }

    #[test]
    fn expert_options_on_a_dense_model_cannot_apply() {
        let reasons = inapplicable(&argv(&["llama-bench", "--n-cpu-moe", "8", "-cmoe"]), "gemma", &dense());
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].starts_with("`--n-cpu-moe` places a mixture's experts, but model `gemma` has none"));
        assert!(reasons[0].contains("(architecture `gemma3`, no experts)"), "{}", reasons[0]);
        assert!(inapplicable(&argv(&["llama-bench", "--n-cpu-moe", "8"]), "qwen", &mixture()).is_empty());
    }

    #[test]
    fn an_override_must_name_the_models_architecture() {
        let kv = ["llama-server", "--override-kv", "qwen3moe.expert_used_count=int:4"];
        let [reason] = &inapplicable(&argv(&kv), "gemma", &dense())[..] else { panic!("one reason") };
        assert!(reason.contains("names architecture `qwen3moe`, but model `gemma` is `gemma3`"), "{reason}");
        assert!(reason.ends_with("write `gemma3.expert_used_count` if the model has it"), "{reason}");
        assert!(inapplicable(&argv(&kv), "qwen", &mixture()).is_empty());
        let inline = ["llama-server", "--override-kv=gemma3.expert_used_count=int:4"];
        let [reason] = &inapplicable(&argv(&inline), "gemma", &dense())[..] else { panic!("one reason") };
        assert!(reason.contains("sets a mixture's experts, but model `gemma` has none"), "{reason}");
        let general = ["llama-server", "--override-kv", "general.name=str:x,gemma3.context_length=int:512"];
        assert!(inapplicable(&argv(&general), "gemma", &dense()).is_empty());
    }

    #[test]
    fn a_model_whose_header_names_no_architecture_is_not_judged_by_key() {
        let unknown = ModelShape::default();
        let kv = ["llama-server", "--override-kv", "qwen3moe.expert_used_count=int:4"];
        assert!(inapplicable(&argv(&kv), "m", &unknown).is_empty());
    }
}
