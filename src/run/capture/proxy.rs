//! The recording reverse proxy: every request passed to the upstream server as it came, every
//! reply passed back chunk by chunk as it arrives (no buffering, so a client's time to first
//! token does not move), and one [`TraceEntry`] per request to a generation API, written when
//! its reply ends. Other paths pass through unrecorded; traffic that cannot be read is passed on
//! and noted, never a crash.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::channel::{Channel, Sender};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::manifest::Api;
use crate::run::server::{Exchange, describe, is_event_stream, take_event, take_whole};
use crate::traffic::{Answer, TraceEntry, forwarded_header, hop_by_hop, kept_header, recorded_api, redacted_path};

/// The body of a reply passed back: the upstream's chunks as they arrive.
type Streamed = Channel<Bytes, std::io::Error>;

/// A running proxy; [`Proxy::stop`] ends it and hands back what it recorded.
pub(crate) struct Proxy {
    pub address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    accepting: tokio::task::JoinHandle<()>,
    state: Arc<State>,
}

struct State {
    upstream: String,
    client: reqwest::Client,
    started: Instant,
    entries: Mutex<Vec<TraceEntry>>,
    /// Where each entry is appended as it is recorded, flushed line by line.
    out: Option<Mutex<std::fs::File>>,
    /// Replies still streaming: `stop` waits for them.
    in_flight: AtomicUsize,
}

impl Proxy {
    /// Listens on `listen` and passes requests on to `upstream` (`http://host:port`); recorded
    /// entries are appended to `out` as they land.
    pub(crate) async fn start(listen: SocketAddr, upstream: &str, out: Option<&Path>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let out = match out {
            Some(path) => {
                if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                // Whole prompts are in it: readable by its owner only.
                let file =
                    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
                Some(Mutex::new(file))
            }
            None => None,
        };
        // llama-server closes an idle connection after 5 s: one kept longer could be reused just
        // as it closes, and a request answered 502 for it.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .map_err(std::io::Error::other)?;
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client,
            started: Instant::now(),
            entries: Mutex::new(Vec::new()),
            out,
            in_flight: AtomicUsize::new(0),
        });
        let (shutdown, mut stopped) = oneshot::channel();
        let accepting = tokio::spawn({
            let state = Arc::clone(&state);
            async move {
                let mut connections = tokio::task::JoinSet::new();
                loop {
                    let accepted = tokio::select! {
                        accepted = listener.accept() => accepted,
                        _ = &mut stopped => break,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let state = Arc::clone(&state);
                    connections.spawn(async move {
                        let service = service_fn(move |request| handle(Arc::clone(&state), request));
                        // A client that goes away mid-request is its own business.
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                    while connections.try_join_next().is_some() {}
                }
                connections.abort_all();
            }
        });
        Ok(Self { address, shutdown: Some(shutdown), accepting, state })
    }

    /// The proxy's URL: `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops listening, waits up to `grace` for replies still streaming, and returns every
    /// recorded entry in the order the requests arrived.
    pub(crate) async fn stop(mut self, grace: Duration) -> Vec<TraceEntry> {
        let deadline = Instant::now() + grace;
        while self.state.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.accepting).await;
        let mut entries = std::mem::take(&mut *self.state.entries.lock().expect("no panic holds the lock"));
        entries.sort_by(|a, b| a.offset_ms.total_cmp(&b.offset_ms));
        entries
    }
}

impl State {
    fn record(&self, entry: TraceEntry) {
        if let Some(out) = &self.out {
            use std::io::Write;
            let line = serde_json::to_string(&entry).expect("a trace entry always serialises");
            let mut file = out.lock().expect("no panic holds the lock");
            // A full disk loses the line, not the session: the entry is still kept in memory.
            let _ = writeln!(file, "{line}").and_then(|()| file.flush());
        }
        self.entries.lock().expect("no panic holds the lock").push(entry);
    }
}

/// One request: passed on, its reply streamed back, and recorded when it is a generation API's.
async fn handle(state: Arc<State>, request: hyper::Request<Incoming>) -> Result<hyper::Response<Streamed>, Infallible> {
    let arrived = Instant::now();
    let offset_ms = state.started.elapsed().as_secs_f64() * 1000.0;
    // Counted from arrival, so that `stop` waits for a request still in prompt processing too.
    let guard = InFlight::new(&state);
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), |path| path.as_str().to_owned());
    let api = recorded_api(&path);
    let mut notes = Vec::new();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            // Nothing whole to pass on: the client is told, and the server never sees it.
            let body = serde_json::json!({ "error": { "message": format!("bakeoff capture: the request's body broke off: {error}") } });
            return Ok(whole(hyper::StatusCode::BAD_REQUEST, body.to_string()));
        }
    };
    let mut entry = api.map(|_| TraceEntry {
        offset_ms,
        method: parts.method.to_string(),
        path: redacted_path(&path),
        headers: parts
            .headers
            .iter()
            .filter(|(name, _)| kept_header(name.as_str()))
            .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        request: serde_json::from_slice(&body).unwrap_or_else(|_| {
            notes.push("the request's body is not JSON".to_owned());
            Value::String(String::from_utf8_lossy(&body).into_owned())
        }),
        response: None,
        notes: Vec::new(),
    });
    let mut forwarded = state.client.request(parts.method.clone(), format!("{}{path}", state.upstream));
    for (name, value) in &parts.headers {
        if forwarded_header(name.as_str()) {
            forwarded = forwarded.header(name, value);
        }
    }
    let upstream = match forwarded.body(body).send().await {
        Ok(upstream) => upstream,
        Err(error) => {
            let message = format!("the upstream server did not answer: {}", describe(&error));
            if let Some(mut entry) = entry.take() {
                entry.notes = notes;
                entry.notes.push(message.clone());
                state.record(entry);
            }
            let body = serde_json::json!({ "error": { "message": format!("bakeoff capture: {message}") } });
            return Ok(whole(hyper::StatusCode::BAD_GATEWAY, body.to_string()));
        }
    };
    let status = upstream.status();
    let mut response = hyper::Response::builder().status(status);
    for (name, value) in upstream.headers() {
        if !hop_by_hop(name.as_str()) {
            response = response.header(name, value);
        }
    }
    let streamed = is_event_stream(upstream.headers());
    let (sender, channel) = Channel::new(16);
    tokio::spawn(pump(
        guard,
        Arc::clone(&state),
        upstream,
        sender,
        entry.map(|entry| Pending {
            entry,
            api: api.unwrap_or(Api::Completion),
            streamed,
            status: status.as_u16(),
            notes,
        }),
        arrived,
    ));
    Ok(response.body(channel).unwrap_or_else(|_| whole(hyper::StatusCode::BAD_GATEWAY, String::new())))
}

/// A recorded request whose reply is still streaming.
struct Pending {
    entry: TraceEntry,
    api: Api,
    streamed: bool,
    status: u16,
    notes: Vec<String>,
}

/// Passes the upstream's reply on chunk by chunk, reading what it says on the way, and records
/// the entry when it ends.
async fn pump(
    guard: InFlight,
    state: Arc<State>,
    mut upstream: reqwest::Response,
    mut sender: Sender<Bytes, std::io::Error>,
    mut pending: Option<Pending>,
    arrived: Instant,
) {
    let mut exchange = Exchange::default();
    let mut line = Vec::new();
    let mut whole = Vec::new();
    let mut client_gone = false;
    let mut broke = None;
    loop {
        let chunk = match upstream.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(error) => {
                broke = Some(describe(&error));
                break;
            }
        };
        // Forwarded first, read second: the client gets each byte as soon as it came.
        if sender.send_data(chunk.clone()).await.is_err() {
            // The client went away (an interrupted reply): dropping the upstream reply closes
            // its connection, and llama-server stops generating for it.
            client_gone = true;
            break;
        }
        let Some(pending) = pending.as_mut() else { continue };
        if pending.streamed {
            for &byte in &chunk {
                line.push(byte);
                if byte == b'\n' {
                    if let Err(error) = take_event(&mut exchange, pending.api, &String::from_utf8_lossy(&line), arrived)
                    {
                        pending.notes.push(error.to_string());
                    }
                    line.clear();
                }
            }
        } else if whole.len() < MAX_WHOLE_REPLY {
            whole.extend_from_slice(&chunk);
        }
    }
    if let Some(error) = &broke {
        sender.abort(std::io::Error::other(error.clone()));
    } else {
        drop(sender);
    }
    if let Some(mut pending) = pending {
        if pending.streamed && !line.is_empty() {
            let _ = take_event(&mut exchange, pending.api, &String::from_utf8_lossy(&line), arrived);
        }
        if !pending.streamed {
            pending.notes.extend(take_whole(&mut exchange, &whole).map(|problem| problem.to_string()));
        }
        exchange.e2e_ms = arrived.elapsed().as_secs_f64() * 1000.0;
        if let Some(error) = broke {
            pending.notes.push(format!("the reply broke off: {error}"));
        }
        if client_gone {
            pending.notes.push("the client closed the connection before the reply ended".to_owned());
        }
        let mut entry = pending.entry;
        entry.response = Some(Answer {
            status: pending.status,
            prompt_n: exchange.processed_n(),
            cache_n: exchange.cache_n(),
            generated_n: exchange.generated_n(),
            ttft_ms: exchange.ttft_ms,
            total_ms: exchange.e2e_ms,
            gen_tps: exchange.gen_tps(),
        });
        entry.notes = pending.notes;
        state.record(entry);
    }
    drop(guard);
}

/// A request being answered: counted in [`State::in_flight`] until dropped.
struct InFlight(Arc<State>);

impl InFlight {
    fn new(state: &Arc<State>) -> Self {
        state.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(state))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The most of a reply that is not streamed kept to read its counts: the body is passed on whole
/// whatever its size.
const MAX_WHOLE_REPLY: usize = 64 << 20;

/// A reply made here, whole: an error the proxy answers itself.
fn whole(status: hyper::StatusCode, text: String) -> hyper::Response<Streamed> {
    let (mut sender, channel) = Channel::new(1);
    let _ = sender.try_send(hyper::body::Frame::data(Bytes::from(text)));
    drop(sender);
    let mut response = hyper::Response::new(channel);
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    response
}
