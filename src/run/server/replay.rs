//! Sending a `replay` workload: a captured session's requests, exactly as the client sent them
//! (body and headers, credentials never kept), one after another, each right after the previous
//! reply or, with `timing "recorded"`, after the client's captured pause; `repeat` sends the
//! whole trace again.

use std::time::{Duration, Instant};

use super::client::{Exchange, RequestError, read_reply, status_error};
use super::workload::Sent;
use crate::process::{StopSignal, wait_for_stop};
use crate::traffic::{TraceEntry, recorded_api};

/// The most requests one replay sends (its trace times `repeat`).
const MAX_REQUESTS: usize = 1 << 20;

/// How long one replayed request may take before the workload fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// Sends `entries`, `repeat` times, to the server on `port`. `None` when a stop request ended it.
pub(in crate::run) async fn send(
    client: &reqwest::Client,
    port: u16,
    entries: &[TraceEntry],
    recorded: bool,
    repeat: u64,
    mut stop: StopSignal,
) -> Option<Sent> {
    let total = entries.len().saturating_mul(usize::try_from(repeat).unwrap_or(1)).min(MAX_REQUESTS);
    let started = Instant::now();
    let mut sent =
        Sent { outcomes: vec![None; total], failure: None, turns: Vec::new(), wall: Duration::ZERO, cold: false };
    let pauses = crate::traffic::pauses(entries);
    for index in 0..total {
        let entry = &entries[index % entries.len()];
        if recorded {
            // The client's pause before this request, as captured, after the previous reply.
            tokio::select! {
                () = tokio::time::sleep(pauses[index % entries.len()]) => {}
                () = wait_for_stop(&mut stop) => return None,
            }
        }
        let result = tokio::select! {
            result = tokio::time::timeout(REQUEST_TIMEOUT, one(client, port, entry)) => result,
            () = wait_for_stop(&mut stop) => return None,
        };
        // What the client got an error for when it was captured (a context overflow it recovered
        // from) is part of the session: an error again is no failure of this configuration.
        let failed_before = entry.response.as_ref().is_some_and(|answer| !(200..300).contains(&answer.status));
        match result {
            Ok(Ok(exchange)) => sent.outcomes[index] = Some(exchange),
            Ok(Err(RequestError::Status { .. })) if failed_before => {}
            Ok(Err(error)) => {
                sent.failure = Some((index, error));
                break;
            }
            Err(_) => {
                sent.failure =
                    Some((index, RequestError::TimedOut { path: entry.path.clone(), timeout: REQUEST_TIMEOUT }));
                break;
            }
        }
    }
    sent.wall = started.elapsed();
    Some(sent)
}

/// One recorded request sent as it was, its reply read as it streams.
async fn one(client: &reqwest::Client, port: u16, entry: &TraceEntry) -> Result<Exchange, RequestError> {
    let path = entry.path.clone();
    let api = recorded_api(&path).unwrap_or(crate::manifest::Api::Completion);
    let body = match &entry.request {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let mut request = client
        .request(
            reqwest::Method::from_bytes(entry.method.as_bytes()).unwrap_or(reqwest::Method::POST),
            format!("http://127.0.0.1:{port}{path}"),
        )
        .header("content-type", "application/json");
    for (name, value) in &entry.headers {
        if name != "content-type" && crate::traffic::kept_header(name) {
            request = request.header(name, value);
        }
    }
    let started = Instant::now();
    let response =
        request.body(body).send().await.map_err(|source| RequestError::Send { path: path.clone(), source })?;
    if !response.status().is_success() {
        return Err(status_error(response, &path).await);
    }
    read_reply(response, api, started).await
}
