//! Why a prompt cache missed: each request after the first is compared with the one before it.
//! llama-server reuses the longest common prefix of the new prompt and what its slot holds, so
//! two prompts that share most of their content but differ early (an attribution header with a
//! per-request hash as the first system block) reuse almost nothing. The comparison is of the
//! request as sent: system blocks, tools and messages, in the order a chat template renders them.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::trace::{TraceEntry, recorded_api};
use crate::manifest::Api;

/// How request `index` (from 0) compares with the one before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Comparison {
    /// The request, from 1.
    pub request: usize,
    /// How much of its prompt's text the previous request also held, as a share from 0 to 1
    /// (parts repeated whole, by their length).
    pub shared: f64,
    /// How much of its prompt's text the two have in common from the start, as a share.
    pub prefix: f64,
    /// What the server reused from its prompt cache, when it said.
    pub cache_n: Option<f64>,
    /// Where the prompts first differ: the part (`system[0]`, `tools[3]`, `messages[2]`) and a
    /// short excerpt of each side from there. `None` when one prompt starts with the other.
    pub differ_at: Option<Difference>,
    /// Most of the content was shared but the common prefix, and so what the cache can reuse,
    /// was short: the cache missed for a reason in the prompts.
    pub missed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Difference {
    pub part: String,
    pub previous: String,
    pub this: String,
}

/// A prompt's parts in the order they are rendered, each with its label and its text.
fn parts(entry: &TraceEntry) -> Vec<(String, String)> {
    let body = &entry.request;
    let mut parts = Vec::new();
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match recorded_api(&entry.path) {
        Some(Api::AnthropicMessages) => {
            match body.get("system") {
                Some(Value::Array(blocks)) => {
                    for (index, block) in blocks.iter().enumerate() {
                        let content = block.get("text").map_or_else(|| text(block), text);
                        parts.push((format!("system[{index}]"), content));
                    }
                }
                Some(system) => parts.push(("system".to_owned(), text(system))),
                None => {}
            }
            push_list(&mut parts, body, "tools");
            push_list(&mut parts, body, "messages");
        }
        Some(Api::OpenaiChat) => {
            push_list(&mut parts, body, "tools");
            push_list(&mut parts, body, "messages");
        }
        Some(Api::Completion) | None => {
            if let Some(prompt) = body.get("prompt") {
                parts.push(("prompt".to_owned(), text(prompt)));
            }
        }
    }
    parts
}

fn push_list(parts: &mut Vec<(String, String)>, body: &Value, key: &str) {
    for (index, item) in body.get(key).and_then(Value::as_array).into_iter().flatten().enumerate() {
        parts.push((format!("{key}[{index}]"), item.to_string()));
    }
}

/// The share of prompt text a cache hit needs before a short prefix counts as a miss.
const MOSTLY_SHARED: f64 = 0.5;

/// Compares each request with the one before it.
pub(crate) fn compare(entries: &[TraceEntry]) -> Vec<Comparison> {
    entries.windows(2).enumerate().map(|(index, pair)| compare_pair(&pair[0], &pair[1], index + 2)).collect()
}

fn compare_pair(previous: &TraceEntry, this: &TraceEntry, request: usize) -> Comparison {
    let (before, after) = (parts(previous), parts(this));
    let total: usize = after.iter().map(|(_, text)| text.len()).sum();
    let held: std::collections::HashSet<&str> = before.iter().map(|(_, text)| text.as_str()).collect();
    let shared_bytes: usize =
        after.iter().filter(|(_, text)| held.contains(text.as_str())).map(|(_, text)| text.len()).sum();
    // The common prefix, part by part, then within the first part that differs.
    let mut prefix_bytes = 0;
    let mut differ_at = None;
    for (index, (label, text)) in after.iter().enumerate() {
        match before.get(index) {
            Some((other_label, other)) if other_label == label && other == text => prefix_bytes += text.len(),
            Some((_, other)) => {
                let common = common_prefix(other, text);
                prefix_bytes += common;
                differ_at = Some(Difference {
                    part: label.clone(),
                    previous: excerpt(other, common),
                    this: excerpt(text, common),
                });
                break;
            }
            None => break,
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "a prompt is far below 2^52 bytes")]
    let share = |bytes: usize| if total == 0 { 0.0 } else { bytes as f64 / total as f64 };
    let (shared, prefix) = (share(shared_bytes), share(prefix_bytes));
    let cache_n = this.response.as_ref().and_then(|answer| answer.cache_n);
    let missed = shared >= MOSTLY_SHARED && prefix < shared / 2.0;
    Comparison { request, shared, prefix, cache_n, differ_at, missed }
}

/// The length in bytes of the common prefix of `a` and `b`, at a character boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices().zip(b.chars()).find(|((_, x), y)| x != y).map_or_else(|| a.len().min(b.len()), |((at, _), _)| at)
}

/// A short excerpt of `text` from a little before `at`, with `…` where it is cut.
fn excerpt(text: &str, at: usize) -> String {
    const BEFORE: usize = 12;
    const LENGTH: usize = 40;
    let start = text[..at].char_indices().rev().nth(BEFORE - 1).map_or(0, |(index, _)| index);
    let rest: String = text[start..].chars().take(LENGTH).collect();
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(&rest.replace('\n', "\\n").replace('`', "'"));
    if start + rest.len() < text.len() {
        out.push('…');
    }
    out
}

impl Comparison {
    /// What a reader is told: "request 2 repeats 97% of request 1's prompt but reused 0 cached
    /// tokens: they first differ at system[0], `…cch=4f2a…` / `…cch=91c0…`". `None` when the
    /// cache did not miss for a reason in the prompts.
    pub(crate) fn sentence(&self) -> Option<String> {
        if !self.missed {
            return None;
        }
        let reused = match self.cache_n {
            #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a token count")]
            Some(cached) => format!("reused {} cached tokens", crate::units::thousands(cached.max(0.0).round() as u64)),
            None => format!("has only {:.0}% in common from the start", self.prefix * 100.0),
        };
        let mut sentence = format!(
            "request {} repeats {:.0}% of request {}'s prompt but {reused}",
            self.request,
            self.shared * 100.0,
            self.request - 1
        );
        if let Some(difference) = &self.differ_at {
            let _ = write!(
                sentence,
                ": they first differ at {}, `{}` / `{}`",
                difference.part, difference.previous, difference.this
            );
        }
        Some(sentence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(system: &[&str], user: &str) -> TraceEntry {
        let system: Vec<Value> =
            system.iter().map(|text| serde_json::json!({ "type": "text", "text": text })).collect();
        TraceEntry {
            offset_ms: 0.0,
            method: "POST".to_owned(),
            path: "/v1/messages?beta=true".to_owned(),
            headers: std::collections::BTreeMap::default(),
            request: serde_json::json!({
                "system": system,
                "tools": [{ "name": "Read", "description": "x".repeat(2000) }],
                "messages": [{ "role": "user", "content": user }],
            }),
            response: Some(super::super::trace::Answer { status: 200, cache_n: Some(0.0), ..Default::default() }),
            notes: Vec::new(),
        }
    }

    #[test]
    fn an_early_difference_in_a_mostly_shared_prompt_is_named() {
        let long = "You are a coding agent. ".repeat(200);
        let first = messages(&["x-attribution: cch=4f2a9b; version 2", &long], "What does hello.py do?");
        let second = messages(&["x-attribution: cch=91c0de; version 2", &long], "What does hello.py do?");
        let comparison = &compare(&[first, second])[0];
        assert!(comparison.missed, "{comparison:?}");
        assert!(comparison.shared > 0.9 && comparison.prefix < 0.01, "{comparison:?}");
        let sentence = comparison.sentence().unwrap();
        assert!(
            sentence.starts_with("request 2 repeats 99% of request 1's prompt but reused 0 cached tokens"),
            "{sentence}"
        );
        assert!(
            sentence.ends_with(
                "they first differ at system[0], `…bution: cch=4f2a9b; version 2` / `…bution: cch=91c0de; version 2`"
            ),
            "{sentence}"
        );
    }

    #[test]
    fn a_growing_conversation_is_no_miss() {
        let long = "You are a coding agent. ".repeat(200);
        let first = messages(&[&long], "What does hello.py do?");
        let mut second = first.clone();
        second.request["messages"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({ "role": "assistant", "content": "It prints." }));
        let comparison = &compare(&[first, second])[0];
        assert!(!comparison.missed, "{comparison:?}");
        assert!(comparison.prefix > 0.9, "{comparison:?}");
        assert_eq!(comparison.differ_at, None);
        assert_eq!(comparison.sentence(), None);
    }

    #[test]
    fn excerpts_cut_at_characters_and_mark_the_cut() {
        assert_eq!(excerpt("short", 2), "short");
        let text = format!("{}é-difference{}", "a".repeat(30), "b".repeat(60));
        let at = text.find('é').unwrap();
        let cut = excerpt(&text, at);
        assert!(cut.starts_with('…') && cut.ends_with('…') && cut.contains("é-difference"), "{cut}");
        assert_eq!(common_prefix("abcé", "abcè"), 3);
    }
}
