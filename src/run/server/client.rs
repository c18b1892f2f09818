//! Requests to llama-server over HTTP, streamed so that time to first token is measured on
//! the client: the native `/completion`, `OpenAI` `/v1/chat/completions` and `Anthropic`
//! `/v1/messages` APIs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::manifest::Api;

/// One request, with its files already read.
#[derive(Debug, Clone)]
pub(in crate::run) struct RequestSpec {
    pub api: Api,
    pub prompt: String,
    pub system: Option<String>,
    /// `max-tokens`, sampling settings, `timeout` (seconds) as written in the manifest.
    pub fields: BTreeMap<String, String>,
    /// Ask the server not to reuse its prompt cache (`cache_prompt: false`).
    pub cold: bool,
    /// A conversation's earlier turns, (user, the server's reply), sent before `prompt`.
    pub history: Vec<(String, String)>,
}

/// What one request measured.
#[derive(Debug, Clone, Default)]
pub(in crate::run) struct Exchange {
    pub ttft_ms: Option<f64>,
    pub e2e_ms: f64,
    /// llama-server's `timings` object, when the API streams it.
    pub timings: Option<Value>,
    /// Anthropic usage counters (`cache_read_input_tokens`, `input_tokens`, `output_tokens`).
    pub usage: BTreeMap<String, f64>,
    pub text: String,
    /// When each streamed chunk with text arrived, in ms after the request was sent: the gaps
    /// are the inter-token latencies.
    pub chunk_ms: Vec<f64>,
}

const DEFAULT_REQUEST_TIMEOUT: u64 = 600;

fn number(fields: &BTreeMap<String, String>, key: &str) -> Option<Value> {
    let text = fields.get(key)?;
    text.parse::<i64>().map(Value::from).ok().or_else(|| text.parse::<f64>().ok().map(Value::from))
}

/// The path and JSON body of `spec` for its API.
fn body(spec: &RequestSpec) -> (&'static str, Value) {
    let mut sampling = serde_json::Map::new();
    for (field, key) in [
        ("temperature", "temperature"),
        ("top-p", "top_p"),
        ("top-k", "top_k"),
        ("min-p", "min_p"),
        ("seed", "seed"),
        ("repeat-penalty", "repeat_penalty"),
    ] {
        if let Some(value) = number(&spec.fields, field) {
            sampling.insert(key.to_owned(), value);
        }
    }
    let max_tokens = number(&spec.fields, "max-tokens").unwrap_or_else(|| Value::from(128));
    let (path, mut body) = match spec.api {
        Api::Completion => {
            // The transcript so far, then the new turn: each turn's prompt starts with the
            // last one's, so the server's prompt cache can serve it.
            let mut prompt = String::new();
            if let Some(system) = &spec.system {
                prompt.push_str(system);
                prompt.push_str("\n\n");
            }
            for (user, assistant) in &spec.history {
                prompt.push_str(user);
                prompt.push('\n');
                prompt.push_str(assistant);
                prompt.push('\n');
            }
            prompt.push_str(&spec.prompt);
            ("/completion", json!({ "prompt": prompt, "n_predict": max_tokens, "cache_prompt": true }))
        }
        Api::OpenaiChat => {
            let mut messages = Vec::new();
            if let Some(system) = &spec.system {
                messages.push(json!({ "role": "system", "content": system }));
            }
            messages.extend(turns(spec));
            ("/v1/chat/completions", json!({ "messages": messages, "max_tokens": max_tokens }))
        }
        Api::AnthropicMessages => {
            let mut body = json!({
                "model": "bakeoff",
                "max_tokens": max_tokens,
                "messages": turns(spec),
            });
            if let Some(system) = &spec.system {
                body["system"] = Value::from(system.clone());
            }
            ("/v1/messages", body)
        }
    };
    body["stream"] = Value::Bool(true);
    if spec.cold {
        body["cache_prompt"] = Value::Bool(false);
    }
    for (key, value) in sampling {
        body[key] = value;
    }
    (path, body)
}

/// The chat messages of `spec`: its earlier turns with the server's replies, then its prompt.
fn turns(spec: &RequestSpec) -> Vec<Value> {
    let mut messages: Vec<Value> = spec
        .history
        .iter()
        .flat_map(|(user, assistant)| {
            [json!({ "role": "user", "content": user }), json!({ "role": "assistant", "content": assistant })]
        })
        .collect();
    messages.push(json!({ "role": "user", "content": spec.prompt }));
    messages
}

/// Why a request to the server did not give a whole response; its text becomes the cell's
/// failure reason.
#[derive(Debug, thiserror::Error)]
pub(in crate::run) enum RequestError {
    #[error("request to {path} failed: {}", describe(source))]
    Send {
        path: String,
        #[source]
        source: reqwest::Error,
    },
    /// `message` is the server's `error.message`, or its whole body.
    #[error("HTTP {status} from {path}: {message}")]
    Status { path: String, status: u16, message: String },
    #[error("no complete response from {path} within {} s", timeout.as_secs())]
    TimedOut { path: String, timeout: Duration },
    #[error("the stream broke: {}", describe(source))]
    Stream {
        #[source]
        source: reqwest::Error,
    },
    #[error("the server reported an error mid-stream: {0}")]
    MidStream(String),
    /// A `cache "cold"` workload's request that the server answered from its prompt cache.
    #[error(
        "the server reused its prompt cache (cache_n = {cached}) in a `cache \"cold\"` workload; its requests \
         ask for no cache reuse (`cache_prompt: false`), so this server ignores that"
    )]
    CacheReused { cached: f64 },
}

/// Sends `spec` to the server on `port` and reads the whole stream.
pub(super) async fn exchange(
    client: &reqwest::Client,
    port: u16,
    spec: &RequestSpec,
) -> Result<Exchange, RequestError> {
    let (path, body) = body(spec);
    let timeout = Duration::from_secs(
        spec.fields.get("timeout").and_then(|text| text.parse().ok()).unwrap_or(DEFAULT_REQUEST_TIMEOUT),
    );
    let started = Instant::now();
    let work = async {
        let response = client
            .post(format!("http://127.0.0.1:{port}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|source| RequestError::Send { path: path.to_owned(), source })?;
        if !response.status().is_success() {
            return Err(status_error(response, path).await);
        }
        read_reply(response, spec.api, started).await
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(RequestError::TimedOut { path: path.to_owned(), timeout }),
    }
}

/// A reply with an error status as the failure it is: the server's `error.message`, or its
/// whole body.
pub(in crate::run) async fn status_error(response: reqwest::Response, path: &str) -> RequestError {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|error| error.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or(text);
    RequestError::Status { path: path.to_owned(), status, message }
}

/// Whether a reply is a server-sent event stream (a streamed generation) by its content type.
pub(in crate::run) fn is_event_stream(headers: &reqwest::header::HeaderMap) -> bool {
    headers.get("content-type").is_some_and(|kind| kind.as_bytes().starts_with(b"text/event-stream"))
}

/// Reads a reply as it arrives: a server-sent event stream line by line, or a whole JSON body
/// (a recorded request that did not ask to stream).
pub(in crate::run) async fn read_reply(
    mut response: reqwest::Response,
    api: Api,
    started: Instant,
) -> Result<Exchange, RequestError> {
    let streamed = is_event_stream(response.headers());
    let mut exchange = Exchange::default();
    let mut pending = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|source| RequestError::Stream { source })?;
        let Some(chunk) = chunk else { break };
        pending.extend_from_slice(&chunk);
        while streamed && let Some(newline) = pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=newline).collect();
            take_event(&mut exchange, api, &String::from_utf8_lossy(&line), started)?;
        }
    }
    if streamed {
        take_event(&mut exchange, api, &String::from_utf8_lossy(&pending), started)?;
    } else if let Some(problem @ WholeProblem::ServerError(_)) = take_whole(&mut exchange, &pending) {
        return Err(RequestError::MidStream(problem.to_string()));
    }
    exchange.e2e_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(exchange)
}

impl Exchange {
    /// A number from llama-server's `timings` (`prompt_n`, `predicted_per_second`, …).
    pub(in crate::run) fn timing(&self, key: &str) -> Option<f64> {
        self.timings.as_ref().and_then(|timings| timings.get(key)).and_then(Value::as_f64)
    }

    /// How many prompt tokens the server took from its cache, as it reports them.
    pub(in crate::run) fn cache_n(&self) -> Option<f64> {
        self.timing("cache_n").or_else(|| self.usage.get("cache_read_input_tokens").copied())
    }

    /// How many prompt tokens the server processed (not from its cache). The Anthropic API
    /// streams no `timings`; its usage counts the same tokens.
    pub(in crate::run) fn processed_n(&self) -> Option<f64> {
        self.timing("prompt_n").or_else(|| self.usage.get("input_tokens").copied())
    }

    /// How many tokens the server generated.
    pub(in crate::run) fn generated_n(&self) -> Option<f64> {
        self.timing("predicted_n").or_else(|| self.usage.get("output_tokens").copied())
    }

    /// The generation speed in tokens per second: the server's `predicted_per_second`, or, from
    /// the Anthropic API (no `timings`), the tokens it says it generated over the time from the
    /// first streamed text to the last, as the server counts its own. `None` for a reply of one
    /// token, which has no rate (the server says 0 t/s for it).
    pub(in crate::run) fn gen_tps(&self) -> Option<f64> {
        let generated = self.generated_n()?;
        if generated < 2.0 {
            return None;
        }
        let rate = match self.timings {
            Some(_) => self.timing("predicted_per_second")?,
            None => {
                let span_ms = self.chunk_ms.last()? - self.chunk_ms.first()?;
                generated / (span_ms / 1000.0)
            }
        };
        (rate.is_finite() && rate > 0.0).then_some(rate)
    }
}

/// One line of a server-sent event stream: text, `timings`, `usage` or an error into
/// `exchange`. Lines that are not `data:` with a JSON object are passed over.
pub(in crate::run) fn take_event(
    exchange: &mut Exchange,
    api: Api,
    line: &str,
    started: Instant,
) -> Result<(), RequestError> {
    let Some(data) = line.trim().strip_prefix("data:") else { return Ok(()) };
    let Ok(event) = serde_json::from_str::<Value>(data.trim()) else { return Ok(()) };
    let text = match api {
        Api::Completion => event.get("content").and_then(Value::as_str),
        Api::OpenaiChat => event.pointer("/choices/0/delta/content").and_then(Value::as_str),
        Api::AnthropicMessages => event.pointer("/delta/text").and_then(Value::as_str),
    };
    // Generated tokens that are not reply text: reasoning, and a tool call's arguments (an
    // agent's reply often starts with one). They are the first token as much as text is.
    let other = match api {
        Api::Completion => false,
        Api::OpenaiChat => {
            event
                .pointer("/choices/0/delta/reasoning_content")
                .and_then(Value::as_str)
                .is_some_and(|text| !text.is_empty())
                || event.pointer("/choices/0/delta/tool_calls").is_some_and(|calls| !calls.is_null())
        }
        Api::AnthropicMessages => ["/delta/thinking", "/delta/partial_json"]
            .iter()
            .any(|pointer| event.pointer(pointer).and_then(Value::as_str).is_some_and(|text| !text.is_empty())),
    };
    let text = text.filter(|text| !text.is_empty());
    if text.is_some() || other {
        let now = started.elapsed().as_secs_f64() * 1000.0;
        if exchange.ttft_ms.is_none() {
            exchange.ttft_ms = Some(now);
        }
        exchange.chunk_ms.push(now);
    }
    if let Some(text) = text {
        exchange.text.push_str(text);
    }
    if let Some(timings) = event.get("timings") {
        exchange.timings = Some(timings.clone());
    }
    for usage in [event.pointer("/message/usage"), event.get("usage")] {
        take_usage(exchange, usage);
    }
    if let Some(message) = event.pointer("/error/message").and_then(Value::as_str) {
        return Err(RequestError::MidStream(message.to_owned()));
    }
    Ok(())
}

/// What was odd about a reply that was not streamed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(in crate::run) enum WholeProblem {
    #[error("the reply is not JSON")]
    NotJson,
    #[error("the server answered an error: {0}")]
    ServerError(String),
}

/// A reply that was not streamed into `exchange`: its `timings` (llama-server) and `usage` (either
/// API), and what was odd about it.
pub(in crate::run) fn take_whole(exchange: &mut Exchange, body: &[u8]) -> Option<WholeProblem> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return (!body.is_empty()).then_some(WholeProblem::NotJson);
    };
    if let Some(timings) = value.get("timings") {
        exchange.timings = Some(timings.clone());
    }
    take_usage(exchange, value.get("usage"));
    value.pointer("/error/message").and_then(Value::as_str).map(|message| WholeProblem::ServerError(message.to_owned()))
}

/// A `usage` object's counters into `exchange`.
fn take_usage(exchange: &mut Exchange, usage: Option<&Value>) {
    for (key, value) in usage.and_then(Value::as_object).into_iter().flatten() {
        if let Some(value) = value.as_f64() {
            exchange.usage.insert(key.clone(), value);
        }
    }
}

pub(in crate::run) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
