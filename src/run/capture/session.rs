//! `bakeoff capture`: the proxy by itself, with a client it runs pointed at it (stopping when
//! the client exits) or until interrupted, and what the session's requests measured.

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::proxy::Proxy;
use crate::process::Interrupts;
use crate::traffic::{TraceEntry, compare};

pub(crate) struct CaptureOptions {
    pub listen: SocketAddr,
    pub upstream: String,
    pub out: PathBuf,
    /// The client and its arguments (`{proxy}` is the proxy's URL); empty: none.
    pub client: Vec<String>,
}

pub(crate) struct Captured {
    pub entries: Vec<TraceEntry>,
    /// How the client ended: its exit code, or the signal that ended it (as 128 + signal).
    pub client_code: Option<i32>,
    pub session: Duration,
    /// The signal that ended a session without a client, or interrupted one with a client.
    pub interrupted: Option<i32>,
}

/// The environment that points a client at the proxy on `url`: the Anthropic and `OpenAI` SDKs'
/// base URLs (the `OpenAI` one with its `/v1`).
pub(crate) fn client_env(url: &str) -> Vec<(String, String)> {
    vec![
        ("ANTHROPIC_BASE_URL".to_owned(), url.to_owned()),
        ("OPENAI_BASE_URL".to_owned(), format!("{url}/v1")),
        ("OPENAI_API_BASE".to_owned(), format!("{url}/v1")),
    ]
}

/// Runs a capture session; messages for the user go to stderr as it goes.
pub(crate) fn capture(options: &CaptureOptions) -> std::io::Result<Captured> {
    let runtime = crate::process::runtime()?;
    runtime.block_on(session(options))
}

async fn session(options: &CaptureOptions) -> std::io::Result<Captured> {
    // Heard from the start: a Ctrl-C before the session is set up ends it, not bakeoff outright.
    let mut interrupt = Interrupts::new()?;
    let proxy = Proxy::start(options.listen, &options.upstream, Some(&options.out)).await?;
    let url = proxy.url();
    eprintln!(
        "bakeoff capture: listening on {url}, passing requests on to {}, recording to {}",
        options.upstream,
        options.out.display()
    );
    if let Some(problem) = unreachable(&options.upstream).await {
        eprintln!("warning: {problem}; requests will be answered 502 until it is up");
    }
    let started = Instant::now();
    let (client_code, interrupted) = match options.client.split_first() {
        None => {
            eprintln!("bakeoff capture: press Ctrl-C to end the session");
            (None, Some(interrupt.next().await))
        }
        Some((program, args)) => {
            let args: Vec<String> = args.iter().map(|arg| arg.replace("{proxy}", &url)).collect();
            let mut command = tokio::process::Command::new(program);
            command.args(&args).envs(client_env(&url)).kill_on_drop(true);
            // An interactive client keeps the terminal: it stays in bakeoff's foreground process
            // group, so that it can read the terminal and Ctrl-C reaches it first. Otherwise it
            // leads its own group, and what it starts goes with it.
            // SAFETY: isatty(3) only asks about a file descriptor.
            let interactive = unsafe { libc::isatty(0) } == 1;
            if !interactive {
                command.process_group(0);
            }
            let mut child = command.spawn().map_err(|error| {
                std::io::Error::new(error.kind(), format!("cannot start the client `{program}`: {error}"))
            })?;
            let pid = child.id().and_then(|pid| i32::try_from(pid).ok());
            let group = pid.filter(|_| !interactive);
            tokio::select! {
                status = child.wait() => {
                    // What the client started and left behind goes with it.
                    if let Some(group) = group {
                        crate::process::kill_group(group, libc::SIGTERM);
                    }
                    (Some(code_of(status?)), None)
                }
                signal = interrupt.next() => {
                    // The client's whole process group: what it started goes with it.
                    // An interactive client had the terminal's Ctrl-C itself.
                    if let Some(group) = group {
                        crate::process::kill_group(group, libc::SIGTERM);
                    }
                    let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
                        Ok(status) => status?,
                        Err(_) => {
                            match (group, pid) {
                                (Some(group), _) => crate::process::kill_group(group, libc::SIGKILL),
                                (None, Some(pid)) => {
                                    // SAFETY: kill(2) only sends a signal to the client's pid.
                                    unsafe { libc::kill(pid, libc::SIGKILL) };
                                }
                                (None, None) => {}
                            }
                            child.wait().await?
                        }
                    };
                    (Some(code_of(status)), Some(signal))
                }
            }
        }
    };
    let session = started.elapsed();
    let entries = proxy.stop(Duration::from_secs(2)).await;
    Ok(Captured { entries, client_code, session, interrupted })
}

/// An exit status as a shell reports it: the code, or 128 + the signal.
fn code_of(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Why the upstream server does not look reachable, if it does not.
async fn unreachable(upstream: &str) -> Option<String> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().ok()?;
    match client.get(format!("{}/health", upstream.trim_end_matches('/'))).send().await {
        Ok(_) => None,
        Err(error) => Some(format!("the upstream {upstream} does not answer ({error})")),
    }
}

/// A table of the session's requests and the cache diagnosis under it.
pub(crate) fn summary(entries: &[TraceEntry]) -> String {
    use crate::units::thousands;
    let mut text = String::new();
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a token count")]
    let figure =
        |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |count| thousands(count.max(0.0).round() as u64));
    let _ = writeln!(
        text,
        "{:>3}  {:<28} {:>6} {:>8} {:>8} {:>10} {:>10} {:>8}",
        "#", "request", "status", "prompt", "cached", "ttft", "total", "gen t/s"
    );
    for (index, entry) in entries.iter().enumerate() {
        let answer = entry.response.as_ref();
        let path: String = entry.path.chars().take(23).collect();
        let _ = writeln!(
            text,
            "{:>3}  {:<28} {:>6} {:>8} {:>8} {:>10} {:>10} {:>8}",
            index + 1,
            format!("{} {path}", entry.method),
            answer.map_or_else(|| "none".to_owned(), |answer| answer.status.to_string()),
            figure(answer.and_then(|answer| answer.prompt_n)),
            figure(answer.and_then(|answer| answer.cache_n)),
            answer.and_then(|answer| answer.ttft_ms).map_or_else(|| "-".to_owned(), format_ms),
            answer.map_or_else(|| "-".to_owned(), |answer| format_ms(answer.total_ms)),
            answer.and_then(|answer| answer.gen_tps).map_or_else(|| "-".to_owned(), |rate| format!("{rate:.1}")),
        );
        for note in &entry.notes {
            let _ = writeln!(text, "     note: {note}");
        }
    }
    for comparison in compare(entries) {
        if let Some(sentence) = comparison.sentence() {
            let _ = writeln!(text, "cache: {sentence}");
        }
    }
    text
}

fn format_ms(ms: f64) -> String {
    crate::units::format_duration(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
}
