//! Sending a server workload: its requests (`repeat` in all, up to `concurrency` in flight),
//! or a conversation's turns one after another, each with the earlier turns and the server's
//! replies; a cold workload is checked to have found nothing in the prompt cache.

use std::time::{Duration, Instant};

use super::client::{Exchange, RequestError, RequestSpec, exchange};
use super::serve_metrics::Turned;
use crate::manifest::Workload;
use crate::process::{StopSignal, wait_for_stop};

/// What sending a workload gave.
pub(in crate::run) struct Sent {
    /// Each request's exchange, in order; `None` where it was not sent or failed.
    pub(in crate::run) outcomes: Vec<Option<Exchange>>,
    /// The first failure: which request, and why.
    pub(in crate::run) failure: Option<(usize, RequestError)>,
    /// For a conversation, each request's turn (1-based) and the earlier turns it was sent with.
    pub(in crate::run) turns: Vec<(usize, Vec<(String, String)>)>,
    pub(in crate::run) wall: Duration,
    /// A `cache "cold"` workload: every request asked for no cache reuse.
    pub(in crate::run) cold: bool,
}

/// Sends `workload` (its requests read into `specs`) to the server on `port`. `None` when a
/// stop request ended it.
pub(in crate::run) async fn send(
    client: &reqwest::Client,
    port: u16,
    workload: &Workload,
    specs: &[RequestSpec],
    mut stop: StopSignal,
) -> Option<Sent> {
    let conversation = workload.requests.first().map(|request| &request.turns).filter(|turns| !turns.is_empty());
    let per_round = conversation.map_or(specs.len(), Vec::len);
    let total = per_round * usize::try_from(workload.repeat).unwrap_or(1);
    let concurrency = usize::try_from(workload.concurrency).unwrap_or(1).clamp(1, total.max(1));
    let started = Instant::now();
    let mut sent = Sent {
        outcomes: vec![None; total],
        failure: None,
        turns: Vec::new(),
        wall: Duration::ZERO,
        cold: workload.cold,
    };
    let mut history: Vec<(String, String)> = Vec::new();
    // Up to `concurrency` requests in flight, each next one sent as one finishes; the first
    // failure ends the workload (the requests in flight are dropped).
    let mut in_flight = tokio::task::JoinSet::new();
    let mut next = 0;
    loop {
        while sent.failure.is_none() && next < total && in_flight.len() < concurrency {
            let mut spec = match conversation {
                Some(turns) => {
                    let turn = next % turns.len();
                    if turn == 0 {
                        history.clear();
                    }
                    sent.turns.push((turn + 1, history.clone()));
                    RequestSpec { prompt: turns[turn].clone(), history: history.clone(), ..specs[0].clone() }
                }
                None => specs[next % specs.len()].clone(),
            };
            // The cold figures are the first request's: it asks the server not to reuse its prompt
            // cache, which a shared server may hold from an earlier workload with the same prefix.
            // It still fills the cache for the requests after it.
            if next == 0 {
                spec.cold = true;
            }
            let (client, index) = (client.clone(), next);
            in_flight.spawn(async move { (index, exchange(&client, port, &spec).await) });
            next += 1;
        }
        let joined = tokio::select! {
            joined = in_flight.join_next() => joined,
            () = wait_for_stop(&mut stop) => return None,
        };
        match joined {
            None => break,
            Some(Ok((index, Ok(exchange)))) => {
                if let Some(turns) = conversation {
                    history.push((turns[index % turns.len()].clone(), exchange.text.clone()));
                }
                sent.outcomes[index] = Some(exchange);
            }
            Some(Ok((index, Err(reason)))) => {
                sent.failure.get_or_insert((index, reason));
                in_flight.abort_all();
            }
            // Aborted after a failure.
            Some(Err(_)) => {}
        }
    }
    sent.wall = started.elapsed();
    // A cold workload must be cold: a request the server answered from its prompt cache
    // would measure something else.
    if workload.cold && sent.failure.is_none() {
        let warm = sent.outcomes.iter().enumerate().find_map(|(index, exchange)| {
            let cached = exchange.as_ref()?.cache_n()?;
            (cached > 0.0).then_some((index, cached))
        });
        if let Some((index, cached)) = warm {
            sent.failure = Some((index, RequestError::CacheReused { cached }));
        }
    }
    Some(sent)
}

impl Sent {
    /// Each exchanged request's raw entry: client times, the server's timings and usage, and
    /// for a conversation its turn, reply and the history it was sent with.
    pub(in crate::run) fn raw(&self) -> Vec<serde_json::Value> {
        self.outcomes
            .iter()
            .enumerate()
            .filter_map(|(index, exchange)| Some((index, exchange.as_ref()?)))
            .enumerate()
            .map(|(position, (index, exchange))| {
                let mut raw = serde_json::json!({
                    "request": position + 1,
                    "ttft_ms": exchange.ttft_ms,
                    "e2e_ms": exchange.e2e_ms,
                    "timings": exchange.timings,
                    "usage": exchange.usage,
                });
                // Which requests asked for no cache reuse: the record says how a cold figure was
                // made cold.
                if index == 0 || self.cold {
                    raw["cache_prompt"] = serde_json::json!(false);
                }
                if let Some((turn, history)) = self.turns.get(index) {
                    raw["turn"] = serde_json::json!(turn);
                    raw["reply"] = serde_json::json!(exchange.text);
                    raw["history"] = history
                        .iter()
                        .map(|(user, assistant)| serde_json::json!({ "user": user, "assistant": assistant }))
                        .collect();
                }
                raw
            })
            .collect()
    }

    /// Each exchanged request of a conversation with its session and turn: a session begins at
    /// each turn 1.
    pub(in crate::run) fn by_turn(&self) -> Vec<Turned<'_>> {
        let mut session = None;
        self.turns
            .iter()
            .zip(&self.outcomes)
            .filter_map(|((turn, _), exchange)| {
                if *turn == 1 {
                    session = Some(session.map_or(0, |session| session + 1));
                }
                Some(Turned { session: session.unwrap_or(0), turn: *turn, exchange: exchange.as_ref()? })
            })
            .collect()
    }
}
