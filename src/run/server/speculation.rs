//! Speculative decoding that was asked for and did not happen. In current llama.cpp,
//! llama-server drafts only with `--spec-type` (`draft-simple` with a draft model, `ngram-*`
//! without one); `-md` alone loads the draft model and drafts nothing, and the cell's numbers
//! are ordinary ones. A server cell that asked for speculation and whose responses report no
//! drafting says so, so that a slowdown is not read as the verdict on speculative decoding.

use std::collections::BTreeMap;

use crate::store::MetricValue;

/// Options that name a draft model.
const DRAFT_MODEL: [&str; 3] = ["-md", "--model-draft", "--spec-draft-model"];

/// The warning for a server cell of `argv` whose `metrics` show no drafting though the argv
/// asks for it; `None` when it drafted or did not ask.
pub(in crate::run) fn undrafted(argv: &[String], metrics: &BTreeMap<String, MetricValue>) -> Option<String> {
    let mut draft_model = None;
    let mut spec_type = None;
    let mut words = argv.iter();
    while let Some(word) = words.next() {
        let (name, inline) = crate::tool_options::split_option(word);
        if DRAFT_MODEL.contains(&name) {
            draft_model = Some(name.to_owned());
            if inline.is_none() {
                words.next();
            }
        } else if name == "--spec-type" {
            spec_type = inline.or_else(|| words.next().map(String::as_str)).map(str::to_owned);
        }
    }
    let speculating = spec_type.as_deref().is_some_and(|kind| kind != "none");
    if draft_model.is_none() && !speculating {
        return None;
    }
    let drafted = metrics.get("draft_n");
    if drafted.is_some_and(|drafted| drafted.samples.iter().any(|count| *count > 0.0)) {
        return None;
    }
    let seen = if drafted.is_some() {
        "every response reports `draft_n` 0"
    } else {
        "no response reports drafting (`draft_n`)"
    };
    if let Some(kind) = spec_type.filter(|kind| kind != "none") {
        return Some(format!(
            "speculative decoding did not happen: the server was given `--spec-type {kind}`, but {seen}: the \
             numbers are those of ordinary decoding"
        ));
    }
    draft_model.map(|option| {
        format!(
            "speculative decoding did not happen: the server was given a draft model (`{option}`), but {seen}; in \
             this llama.cpp `--spec-type` defaults to `none`, so the draft model is loaded and never used: add \
             `--spec-type draft-simple`"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    fn drafted(counts: &[f64]) -> BTreeMap<String, MetricValue> {
        let metric = MetricValue { samples: counts.to_vec(), ..MetricValue::single(counts[0], "tokens") };
        BTreeMap::from([("draft_n".to_owned(), metric)])
    }

    #[test]
    fn a_draft_model_alone_drafts_nothing_and_says_what_to_add() {
        let warning = undrafted(&argv(&["-m", "big.gguf", "-md", "small.gguf"]), &BTreeMap::new()).unwrap();
        assert!(warning.contains("(`-md`)") && warning.ends_with("add `--spec-type draft-simple`"), "{warning}");
        let warning = undrafted(&argv(&["--model-draft=small.gguf"]), &drafted(&[0.0, 0.0])).unwrap();
        assert!(warning.contains("every response reports `draft_n` 0"), "{warning}");
    }

    #[test]
    fn drafting_or_not_asking_is_no_warning() {
        let asked = argv(&["-md", "small.gguf", "--spec-type", "draft-simple"]);
        assert_eq!(undrafted(&asked, &drafted(&[0.0, 12.0])), None);
        assert_eq!(undrafted(&argv(&["-m", "big.gguf", "--spec-type", "none"]), &BTreeMap::new()), None);
        assert_eq!(undrafted(&argv(&["-m", "big.gguf"]), &BTreeMap::new()), None);
        let ngram = undrafted(&argv(&["--spec-type=ngram-simple"]), &BTreeMap::new()).unwrap();
        assert!(ngram.contains("`--spec-type ngram-simple`"), "{ngram}");
    }
}
