//! A captured session on disk: one JSON line per request to llama-server's generation APIs,
//! with its offset from the session's start, the request as sent (headers without credentials,
//! the body) and what the server answered. `replay` reads these lines back, and plain lines of
//! `OpenAI` chat requests (`{"messages": […]}`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::Api;
use crate::secret::is_credential;

/// One request of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TraceEntry {
    /// When the request arrived, in ms after the session started.
    pub offset_ms: f64,
    pub method: String,
    /// The path with its query (`/v1/messages?beta=true`).
    pub path: String,
    /// The request's headers, credentials and hop-by-hop headers left out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body as sent: its JSON, or its text when it was not JSON.
    pub request: Value,
    /// What the server answered; `None` when no answer came (the server was unreachable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Answer>,
    /// What was odd about the exchange: a body that was not JSON, a stream cut short.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What the server answered one request, as the proxy saw it pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Answer {
    pub status: u16,
    /// Prompt tokens the server processed (not taken from its prompt cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_n: Option<f64>,
    /// Prompt tokens the server took from its prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_n: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_n: Option<f64>,
    /// From the request's arrival to the first generated text (streamed replies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// From the request's arrival to the reply's last byte.
    pub total_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gen_tps: Option<f64>,
}

/// A path with the values of query parameters named like credentials replaced by `REDACTED`.
pub(crate) fn redacted_path(path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else { return path.to_owned() };
    let parameters: Vec<String> = query
        .split('&')
        .map(|parameter| match parameter.split_once('=') {
            Some((name, _)) if is_credential(name) => {
                format!("{name}=REDACTED")
            }
            _ => parameter.to_owned(),
        })
        .collect();
    format!("{base}?{}", parameters.join("&"))
}

/// Headers never written to a trace: credentials, and what belongs to one connection.
pub(crate) fn kept_header(name: &str) -> bool {
    !is_credential(name) && forwarded_header(name)
}

/// Headers a proxy passes on to the server: not the connection's, nor what the client's HTTP
/// stack sets for it (`host`, `content-length`), nor `accept-encoding` (replies are read).
pub(crate) fn forwarded_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !hop_by_hop(&name) && !matches!(name.as_str(), "host" | "content-length" | "accept-encoding")
}

/// Headers that describe one connection, not the request: a proxy does not pass them on.
pub(crate) fn hop_by_hop(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "connection" | "keep-alive" | "transfer-encoding" | "te" | "trailer" | "upgrade" | "proxy-connection"
    ) || name.to_ascii_lowercase().starts_with("proxy-")
}

/// The generation API a path is, without its query: these requests are recorded; any other path
/// is passed through unrecorded.
pub(crate) fn recorded_api(path: &str) -> Option<Api> {
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    match path {
        "/v1/messages" => Some(Api::AnthropicMessages),
        "/v1/chat/completions" | "/chat/completions" => Some(Api::OpenaiChat),
        "/completion" | "/completions" | "/v1/completions" => Some(Api::Completion),
        _ => None,
    }
}

/// Why a trace cannot be read: the line and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub(crate) struct TraceError {
    pub line: usize,
    pub reason: String,
}

/// Reads a trace's text: captured lines, or plain `OpenAI` chat requests (`{"messages": […]}`,
/// sent to `/v1/chat/completions`). Blank lines are passed over; the first line that is neither
/// is an error naming it.
pub(crate) fn parse(text: &str) -> Result<Vec<TraceEntry>, TraceError> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|error| TraceError { line: line_number, reason: format!("not JSON ({error})") })?;
        let entry = if value.get("path").is_some() && value.get("request").is_some() {
            serde_json::from_value::<TraceEntry>(value).map_err(|error| TraceError {
                line: line_number,
                reason: format!("not a captured request ({error})"),
            })?
        } else if value.get("messages").is_some_and(Value::is_array) {
            TraceEntry {
                offset_ms: 0.0,
                method: "POST".to_owned(),
                path: "/v1/chat/completions".to_owned(),
                headers: BTreeMap::new(),
                request: value,
                response: None,
                notes: Vec::new(),
            }
        } else {
            return Err(TraceError {
                line: line_number,
                reason: "neither a captured request (`path`, `request`) nor an OpenAI chat request (`messages`)"
                    .to_owned(),
            });
        };
        if recorded_api(&entry.path).is_none() {
            return Err(TraceError {
                line: line_number,
                reason: format!("`{}` is not a generation API bakeoff can replay", entry.path),
            });
        }
        entries.push(entry);
    }
    if entries.is_empty() {
        return Err(TraceError { line: 0, reason: "the trace holds no request".to_owned() });
    }
    // A capture writes each line when its reply ends: requests that overlapped are put back in
    // the order they arrived.
    entries.sort_by(|a, b| a.offset_ms.total_cmp(&b.offset_ms));
    Ok(entries)
}

/// The client's pause before each request, as captured: from the end of the previous request's
/// reply to this request's arrival (its "think time": reading the reply, running a tool). Zero
/// for the first request, for one the client sent before the previous reply ended, and where
/// the trace has no timing (plain chat lines).
pub(crate) fn pauses(entries: &[TraceEntry]) -> Vec<std::time::Duration> {
    let mut pauses = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let ended = index
            .checked_sub(1)
            .and_then(|previous| entries[previous].response.as_ref().map(|answer| (previous, answer.total_ms)))
            .map(|(previous, total_ms)| entries[previous].offset_ms + total_ms);
        let pause = ended.map_or(0.0, |ended| (entry.offset_ms - ended).max(0.0));
        pauses.push(std::time::Duration::from_secs_f64(pause / 1000.0));
    }
    pauses
}

/// How many requests the client sent before the previous request's reply ended: a replay sends
/// them one after another, as it sends every request.
pub(crate) fn overlapping(entries: &[TraceEntry]) -> usize {
    entries
        .windows(2)
        .filter(|pair| {
            pair[0].response.as_ref().is_some_and(|answer| pair[1].offset_ms < pair[0].offset_ms + answer.total_ms)
        })
        .count()
}

/// Reads and parses the trace at `path`.
pub(crate) fn read(path: &Path) -> Result<Vec<TraceEntry>, TraceError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| TraceError { line: 0, reason: format!("cannot read {}: {error}", path.display()) })?;
    parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_connection_headers_are_never_kept() {
        for name in ["Authorization", "x-api-key", "Cookie", "Proxy-Authorization", "anthropic-auth-token", "Host"] {
            assert!(!kept_header(name), "{name}");
        }
        for name in ["anthropic-beta", "anthropic-version", "content-type", "user-agent"] {
            assert!(kept_header(name), "{name}");
        }
        assert_eq!(redacted_path("/v1/messages?beta=true&api_key=sk-1"), "/v1/messages?beta=true&api_key=REDACTED");
        assert_eq!(redacted_path("/completion"), "/completion");
    }

    #[test]
    fn pauses_are_the_clients_think_time_and_overlaps_are_counted() {
        let entry = |offset_ms: f64, total_ms: Option<f64>| TraceEntry {
            offset_ms,
            method: "POST".to_owned(),
            path: "/v1/messages".to_owned(),
            headers: BTreeMap::new(),
            request: Value::Null,
            response: total_ms.map(|total_ms| Answer { status: 200, total_ms, ..Answer::default() }),
            notes: Vec::new(),
        };
        // A reply of 1 s, a 2 s pause; a request sent 0.5 s into the previous reply; a request
        // after one with no answer.
        let entries =
            [entry(0.0, Some(1000.0)), entry(3000.0, Some(1000.0)), entry(3500.0, None), entry(9000.0, Some(10.0))];
        let seconds: Vec<f64> = pauses(&entries).iter().map(std::time::Duration::as_secs_f64).collect();
        assert_eq!(seconds, [0.0, 2.0, 0.0, 0.0]);
        assert_eq!(overlapping(&entries), 1);
        assert_eq!(pauses(&[]), Vec::<std::time::Duration>::new());
    }

    #[test]
    fn a_trace_reads_captured_and_plain_chat_lines_and_names_a_bad_line() {
        let captured = r#"{"offset_ms":0,"method":"POST","path":"/v1/messages?beta=true","request":{"messages":[]}}"#;
        let plain = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
        let later = captured.replace("\"offset_ms\":0", "\"offset_ms\":900");
        let entries = parse(&format!("{later}\n\n{plain}\n")).unwrap();
        assert_eq!(entries.len(), 2);
        // Back in arrival order: the plain line (offset 0) first.
        assert_eq!(entries[0].path, "/v1/chat/completions");
        assert!((entries[1].offset_ms - 900.0).abs() < 1e-9);
        let error = parse(&format!("{captured}\n{{not json\n")).unwrap_err();
        assert_eq!(error.line, 2, "{error}");
        assert!(error.to_string().starts_with("line 2: not JSON"), "{error}");
        let error = parse(r#"{"prompt":"x"}"#).unwrap_err();
        assert!(error.reason.contains("neither a captured request"), "{error}");
        let error = parse(r#"{"offset_ms":0,"method":"GET","path":"/health","request":null}"#).unwrap_err();
        assert!(error.reason.contains("`/health` is not a generation API"), "{error}");
        assert!(parse("\n").unwrap_err().reason.contains("no request"));
    }
}
