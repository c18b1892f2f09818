//! Real agent clients: the Claude Code CLI and aider (`scripts/clients.sh` installs the pinned
//! versions) captured through `bakeoff capture` against the real llama-server on the Gemma model,
//! one after the other on one server; Claude Code's trace replayed through bakeoff on two
//! configurations, and an edited copy whose second request changes early, which the cache
//! diagnosis must name; Claude Code as a `client` workload.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bakeoff::store::Status;
use serde_json::Value;

use crate::support::{Llama, project, records, unwrapped};

/// The Claude Code CLI the set-up installed.
fn claude() -> PathBuf {
    let path = PathBuf::from(std::env::var_os("BAKEOFF_TEST_CLAUDE").unwrap_or_else(|| {
        panic!("BAKEOFF_TEST_CLAUDE is not set: run the tests with scripts/test.sh, which installs Claude Code (scripts/clients.sh)")
    }));
    assert!(path.is_file(), "no Claude Code at {}", path.display());
    path
}

/// A llama-server this test started, stopped by its pid when dropped.
struct Served {
    child: Child,
    port: u16,
}

impl Served {
    fn start(llama: &Llama, ctx: u32) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(llama.bin_dir.join("llama-server"))
            .args(["-m", llama.model.to_str().unwrap(), "--host", "127.0.0.1", "--port", &port.to_string()])
            // aider sends no `max_tokens`: the server's own cap keeps its replies short (Claude
            // Code sends one, which the server honours instead).
            .args(["-t", "2", "--ctx-size", &ctx.to_string(), "-np", "1", "-n", "96"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let served = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !served.healthy() {
            assert!(Instant::now() < deadline, "llama-server on port {port} did not come up in 120 s");
            std::thread::sleep(Duration::from_millis(200));
        }
        served
    }

    fn healthy(&self) -> bool {
        crate::support::answers_health(self.port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The secret the client is given: it must reach no file bakeoff writes.
const SECRET: &str = "sk-bakeoff-test-secret-4f2a";

fn trace_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// One HTTP/1.1 exchange over a plain socket, as a client would send it (`Connection: close`):
/// the reply as read, when its first byte after the headers came, and when it ended.
struct Reply {
    text: String,
    first_body_byte: Option<Duration>,
    total: Duration,
}

fn exchange(port: u16, head: &str, body: &[u8]) -> Reply {
    use std::io::{Read, Write};
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let (mut text, mut first_body_byte) = (Vec::new(), None);
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                text.extend_from_slice(&buffer[..read]);
                if first_body_byte.is_none()
                    && let Some(end) = text.windows(4).position(|window| window == b"\r\n\r\n")
                    && text.len() > end + 4
                {
                    first_body_byte = Some(started.elapsed());
                }
            }
        }
    }
    Reply { text: String::from_utf8_lossy(&text).into_owned(), first_body_byte, total: started.elapsed() }
}

fn post(port: u16, path: &str, headers: &str, body: &str) -> Reply {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    exchange(port, &head, body.as_bytes())
}

/// `bakeoff capture` by itself, with no client, in front of the real llama-server: a streamed
/// reply passes through as it is generated (its first event long before its end), other paths
/// pass unrecorded, credentials are never written, a body that is not JSON and a body that breaks
/// off are passed on or answered and noted, never a crash; a server that dies mid-reply is noted;
/// Ctrl-C ends the session with the trace written and the summary printed.
#[test]
fn capture_by_itself_passes_traffic_through_and_records_what_it_should() {
    let llama = Llama::get();
    let server = Served::start(&llama, 2048);
    let work = tempfile::tempdir().unwrap();
    let trace = work.path().join("session.jsonl");
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let capture = Command::new(env!("CARGO_BIN_EXE_bakeoff"))
        .args(["capture", "--upstream", &format!("http://127.0.0.1:{}", server.port), "--out"])
        .arg(&trace)
        .args(["--listen", &format!("127.0.0.1:{listen}")])
        .current_dir(work.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", listen)).is_err() {
        assert!(Instant::now() < deadline, "bakeoff capture did not listen on {listen}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Not a generation API: passed through, not recorded.
    let health = exchange(listen, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    assert!(health.text.starts_with("HTTP/1.1 200"), "{}", health.text);
    // A streamed chat reply, with credentials in its headers.
    let chat = r#"{"messages":[{"role":"user","content":"Count from one to forty in words."}],"max_tokens":64,"stream":true,"temperature":0}"#;
    let credentials = format!("Authorization: Bearer {SECRET}\r\nx-api-key: {SECRET}\r\nCookie: session={SECRET}\r\n");
    let streamed = post(listen, &format!("/v1/chat/completions?api_key={SECRET}"), &credentials, chat);
    assert!(streamed.text.starts_with("HTTP/1.1 200"), "{}", streamed.text);
    assert!(streamed.text.contains("data: ") && streamed.text.contains("[DONE]"), "{}", streamed.text);
    let first = streamed.first_body_byte.unwrap();
    assert!(
        first * 3 < streamed.total,
        "the reply was held back: its first byte after {first:?}, its end after {:?}",
        streamed.total
    );
    // A body that is not JSON: the server's own answer passes back; the trace notes it.
    let broken = post(listen, "/completion", "", "{\"prompt\": \"unclosed");
    assert!(!broken.text.starts_with("HTTP/1.1 200"), "{}", broken.text);
    // A body that breaks off: the client is told; the proxy carries on.
    {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", listen)).unwrap();
        let head = "POST /completion HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"prompt\": \"hal";
        stream.write_all(head.as_bytes()).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let again = post(listen, "/completion", "", r#"{"prompt":"Hello","n_predict":2}"#);
    assert!(again.text.starts_with("HTTP/1.1 200"), "the proxy did not carry on: {}", again.text);
    // The server dies while it streams a long reply: the client's reply ends, the trace says so.
    let long =
        r#"{"prompt":"Write a long story about a lighthouse.","n_predict":2000,"stream":true,"ignore_eos":true}"#;
    let dying = std::thread::spawn(move || post(listen, "/completion", "", long));
    std::thread::sleep(Duration::from_millis(1500));
    drop(server);
    let cut = dying.join().unwrap();
    assert!(cut.text.starts_with("HTTP/1.1 200") && cut.text.contains("data: "), "{}", cut.text);

    crate::support::interrupt(&capture);
    let output = capture.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines = trace_lines(&trace);
    let paths: Vec<&str> = lines.iter().map(|line| line["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        ["/v1/chat/completions?api_key=REDACTED", "/completion", "/completion", "/completion"],
        "{lines:#?}"
    );
    let answer = &lines[0]["response"];
    assert_eq!(answer["status"], 200);
    assert!(answer["generated_n"].as_f64().unwrap() > 10.0 && answer["ttft_ms"].as_f64().unwrap() > 0.0, "{answer}");
    assert_eq!(lines[0]["request"]["max_tokens"], 64, "the body as sent");
    assert!(lines[1]["notes"][0].as_str().unwrap().contains("not JSON"), "{}", lines[1]);
    assert!(lines[1]["request"].is_string(), "{}", lines[1]);
    assert!(lines[2]["notes"].is_null(), "{}", lines[2]);
    let notes = lines[3]["notes"].to_string();
    assert!(notes.contains("the reply broke off"), "{}", lines[3]);
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(!text.contains(SECRET), "a credential is in the trace: {text}");
    assert!(stdout.contains("POST /v1/chat/completions"), "{stdout}");
    assert!(stderr.contains("4 request(s)"), "{stderr}");
}

/// Claude Code run once through `bakeoff capture`: the trace's lines, each checked: every
/// request recorded with what the server answered, no credential written.
fn capture_claude(port: u16, work: &Path) -> Vec<Value> {
    let claude = claude();
    let repo = work.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("hello.py"), "print('hello')\n").unwrap();
    let home = work.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let trace = work.join("claude.jsonl");

    let outcome = Command::new(env!("CARGO_BIN_EXE_bakeoff"))
        .args(["capture", "--upstream", &format!("http://127.0.0.1:{port}"), "--out"])
        .arg(&trace)
        .arg("--")
        .arg(&claude)
        .args(["-p", "What does hello.py do? Answer in one sentence.", "--model", "gemma", "--output-format", "json"])
        .current_dir(&repo)
        .env("HOME", &home)
        .env("ANTHROPIC_AUTH_TOKEN", SECRET)
        .env("CLAUDE_CODE_MAX_OUTPUT_TOKENS", "48")
        .env("DISABLE_TELEMETRY", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env_remove("ANTHROPIC_API_KEY")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&outcome.stdout), String::from_utf8_lossy(&outcome.stderr));
    // The small model may run past the client's own output cap, and Claude Code then exits 1:
    // capture ends with the client's exit code, and says so.
    match outcome.status.code() {
        Some(0) => {}
        Some(1) => assert!(stderr.contains("exited with 1"), "{stderr}"),
        other => panic!("capture exited with {other:?}\n{stdout}\n{stderr}"),
    }
    let lines = trace_lines(&trace);
    assert!(!lines.is_empty(), "{stdout}\n{stderr}");
    let first = &lines[0];
    assert!(first["path"].as_str().unwrap().starts_with("/v1/messages"), "{first}");
    assert_eq!(first["method"], "POST");
    assert!(first["request"]["tools"].as_array().is_some_and(|tools| !tools.is_empty()), "no tools sent");
    assert!(first["headers"]["anthropic-version"].is_string(), "{}", first["headers"]);
    let answer = &first["response"];
    assert_eq!(answer["status"], 200, "{first}");
    assert!(answer["prompt_n"].as_f64().unwrap() > 3000.0, "{answer}");
    assert!(answer["ttft_ms"].as_f64().unwrap() > 0.0 && answer["total_ms"].as_f64().unwrap() > 0.0, "{answer}");
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(!text.contains(SECRET), "the client's token is in the trace");
    assert!(!text.to_ascii_lowercase().contains("\"authorization\""), "an authorization header is in the trace");
    // The summary: a row per request.
    assert!(stdout.contains("POST /v1/messages"), "{stdout}");
    assert!(stderr.contains(&format!("{} request(s)", lines.len())), "{stderr}");

    lines
}

/// aider, an `OpenAI`-API client, through `bakeoff capture` on the same server: its requests go
/// to `/v1/chat/completions`, streamed through the proxy.
fn capture_aider(port: u16, work: &Path) -> Vec<Value> {
    let aider = PathBuf::from(std::env::var_os("BAKEOFF_TEST_AIDER").unwrap_or_else(|| {
        panic!("BAKEOFF_TEST_AIDER is not set: run the tests with scripts/test.sh, which installs aider (scripts/clients.sh)")
    }));
    let repo = work.join("repo");
    let trace = work.join("aider.jsonl");
    let outcome = Command::new(env!("CARGO_BIN_EXE_bakeoff"))
        .args(["capture", "--upstream", &format!("http://127.0.0.1:{port}"), "--out"])
        .arg(&trace)
        .arg("--")
        .arg(&aider)
        .args(["--model", "openai/gemma", "--openai-api-base", "{proxy}/v1", "--openai-api-key", SECRET])
        .args(["--message", "What does hello.py do? Answer in one sentence.", "--yes-always", "--no-git"])
        .args(["--no-check-update", "--no-analytics", "--no-show-model-warnings", "--map-tokens", "0"])
        .arg("hello.py")
        .current_dir(&repo)
        .env("HOME", work.join("home"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&outcome.stdout), String::from_utf8_lossy(&outcome.stderr));
    assert_eq!(outcome.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines = trace_lines(&trace);
    assert!(!lines.is_empty(), "{stdout}\n{stderr}");
    let first = &lines[0];
    assert!(first["path"].as_str().unwrap().ends_with("/chat/completions"), "{first}");
    assert_eq!(first["response"]["status"], 200, "{first}");
    assert!(first["response"]["ttft_ms"].as_f64().is_some_and(|ttft| ttft > 0.0), "not streamed: {first}");
    assert!(!std::fs::read_to_string(&trace).unwrap().contains(SECRET), "aider's key is in the trace");
    lines
}

/// Claude Code through `bakeoff capture`, then its trace replayed through bakeoff on two
/// context sizes, and an edited copy whose second request's first system block changes early.
#[test]
fn claude_code_is_captured_and_its_trace_replayed_with_the_cache_miss_named() {
    let llama = Llama::get();
    let work = tempfile::tempdir().unwrap();
    // Two clients on one server, as a user compares Claude Code with an OpenAI-API client.
    let server = Served::start(&llama, 16384);
    let lines = capture_claude(server.port, work.path());
    let aider = capture_aider(server.port, work.path());
    drop(server);
    let (claude_prompt, aider_prompt) =
        (lines[0]["response"]["prompt_n"].as_f64().unwrap(), aider[0]["response"]["prompt_n"].as_f64().unwrap());
    assert!(aider_prompt > 100.0 && claude_prompt > aider_prompt, "claude {claude_prompt}, aider {aider_prompt}");
    // The first two requests replayed through bakeoff on two context sizes, and an edited copy
    // whose second request's first system block differs from its third character on.
    let generation: Vec<&Value> = lines.iter().filter(|line| line["response"]["prompt_n"].is_number()).collect();
    assert!(generation.len() >= 2, "Claude Code made fewer than two generation requests: {}", lines.len());
    let replayed = jsonl(generation[..2].iter().copied());
    let mut edited: Vec<Value> = generation[..2].iter().map(|line| (*line).clone()).collect();
    let system = &mut edited[1]["request"]["system"];
    let first_block = match system {
        Value::Array(blocks) => &mut blocks[0]["text"],
        other => other,
    };
    let original = first_block.as_str().unwrap().to_owned();
    *first_block = Value::String(format!("{}#edited#{}", &original[..2], &original[2..]));
    let edited = jsonl(edited.iter());
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "agent" {
    matrix {
        model "gemma"
        ctx 8192 16384
    }
    server {
        args "-t" 2 "--ctx-size" "{ctx}" "-np" 1
        ready-timeout 120
    }
    workload "replay" {
        replay "traces/claude.jsonl"
    }
    timeout 900
}
experiment "edited" {
    matrix {
        model "gemma"
        ctx 8192
    }
    server {
        args "-t" 2 "--ctx-size" "{ctx}" "-np" 1
        ready-timeout 120
    }
    workload "edited" {
        replay "traces/edited.jsonl"
    }
    timeout 900
}
"#;
    let directory = project(&[
        ("experiments/agent.kdl", manifest),
        ("experiments/traces/claude.jsonl", &replayed),
        ("experiments/traces/edited.jsonl", &edited),
    ]);
    let root = directory.path();
    let outcome = llama.bakeoff(root).args(["run", "agent", "edited"]).run();
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    let records = records(root);
    assert_eq!(records.len(), 3, "{records:#?}");
    for record in &records {
        assert_eq!(record.status, Status::Ok, "{record:#?}");
        for name in ["ttft_ms_req1", "prompt_n_req1", "ttft_ms_req2", "session_ms", "requests"] {
            assert!(record.metrics.contains_key(name), "{} lacks {name}: {:?}", record.cell, record.metrics.keys());
        }
        assert!((record.metrics["requests"].mean - 2.0).abs() < 1e-9, "{:?}", record.metrics["requests"]);
        assert!(record.metrics["prompt_n_req1"].mean > 3000.0, "{}", record.metrics["prompt_n_req1"].mean);
    }
    let edited_record = records.iter().find(|record| record.cell.contains("edited")).unwrap();
    let warnings: Vec<String> = edited_record.warnings.iter().map(|notice| notice.text.clone()).collect();
    let named =
        warnings.iter().find(|text| text.starts_with("request 2 repeats")).unwrap_or_else(|| panic!("{warnings:?}"));
    assert!(named.contains("first differ at system[0]") && named.contains("#edited#"), "{named}");
    // The unedited trace reuses its first request's prefix: no miss named.
    for record in records.iter().filter(|record| record.cell.contains("replay")) {
        assert!(
            record.metrics.get("cache_n_req2").is_some_and(|cached| cached.mean > 1000.0)
                || record.warnings.iter().any(|notice| notice.text.starts_with("request 2 repeats")),
            "request 2 neither reused the cache nor was the miss explained: {:?}",
            record.warnings
        );
    }
    let report = std::fs::read_to_string(root.join("results/edited/README.md")).unwrap();
    assert!(unwrapped(&report).contains("request 2 repeats"), "{report}");
    // No credential anywhere under results/.
    for entry in walkdir(&root.join("results")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(SECRET), "{}", entry.display());
    }
}

fn jsonl<'a>(lines: impl Iterator<Item = &'a Value>) -> String {
    lines.map(|line| line.to_string() + "\n").collect()
}

fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(directory) = stack.pop() {
        for entry in std::fs::read_dir(&directory).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() { stack.push(path) } else { files.push(path) }
        }
    }
    files
}

/// What cannot be replayed is said at plan, with the line.
#[test]
fn a_trace_line_that_is_not_json_blocks_at_plan_with_its_line() {
    let llama = Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "agent" {
    matrix {
        model "gemma"
    }
    server {
        args "-t" 2
    }
    workload "replay" {
        replay "traces/broken.jsonl"
        timing "recorded"
    }
}
"#;
    let good = r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#;
    let directory = project(&[
        ("experiments/agent.kdl", manifest),
        ("experiments/traces/broken.jsonl", &format!("{good}\n{{oops\n")),
    ]);
    let outcome = llama.bakeoff(directory.path()).args(["plan", "agent"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let plan = unwrapped(&outcome.stdout);
    assert!(plan.contains("trace `traces/broken.jsonl` line 2: not JSON"), "{plan}");
    assert!(plan.contains("1 blocked"), "{plan}");
    // A timing without a replay, and a replay beside requests, are manifest errors.
    let wrong = manifest.replace("replay \"traces/broken.jsonl\"\n", "request api=\"openai-chat\" prompt=\"hi\"\n");
    let directory = project(&[("experiments/agent.kdl", &wrong)]);
    let outcome = llama.bakeoff(directory.path()).args(["check"]).run();
    assert_ne!(outcome.code, 0, "{}", outcome.stdout);
    assert!(outcome.stderr.contains("has a `timing` but no `replay`"), "{}", outcome.stderr);
}

/// `timing "recorded"` keeps the client's captured pause between a reply and its next request
/// (2.5 s here), where the default sends each request right after the previous reply; requests
/// the client sent together are sent one after another, and the record says so.
#[test]
fn a_recorded_timing_keeps_the_clients_pauses() {
    let llama = Llama::get();
    let line = |offset_ms: u32, total_ms: u32, question: &str| {
        serde_json::json!({
            "offset_ms": offset_ms,
            "method": "POST",
            "path": "/v1/chat/completions",
            "request": {"messages": [{"role": "user", "content": question}], "max_tokens": 4},
            "response": {"status": 200, "total_ms": total_ms},
        })
    };
    // Request 2 comes 2.5 s after request 1's reply ended; request 3 while request 2's reply was
    // still streaming.
    let trace = jsonl(
        [line(0, 200, "Name a colour."), line(2700, 500, "Name a fruit."), line(2800, 100, "Name a tree.")].iter(),
    );
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "paced" {
    matrix { model "gemma" }
    server { args "-t" 2 "--ctx-size" 1024 "-np" 1 "--temp" 0.0 }
    workload "recorded" {
        replay "traces/paced.jsonl"
        timing "recorded"
    }
    workload "back-to-back" {
        replay "traces/paced.jsonl"
    }
}
"#;
    let directory = project(&[("experiments/paced.kdl", manifest), ("experiments/traces/paced.jsonl", &trace)]);
    let outcome = llama.bakeoff(directory.path()).args(["run", "--no-progress"]).run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let records = records(directory.path());
    let session = |workload: &str| {
        let record = records.iter().find(|record| record.workload == workload).unwrap();
        assert_eq!(record.status, Status::Ok, "{record:#?}");
        assert!((record.metrics["requests"].mean - 3.0).abs() < 1e-9, "{:?}", record.metrics["requests"]);
        let note =
            record.warnings.iter().find(|notice| notice.text.starts_with("1 of the trace's 3 requests came before"));
        assert!(note.is_some(), "{:?}", record.warnings);
        // The session's time beside its requests' own: what is left is the time between them.
        let busy: f64 = record.raw.iter().map(|raw| raw["e2e_ms"].as_f64().unwrap()).sum();
        record.metrics["session_ms"].mean - busy
    };
    let (paced, flat) = (session("recorded"), session("back-to-back"));
    assert!((2500.0..3500.0).contains(&paced), "recorded: {paced} ms between requests, not the captured 2.5 s");
    assert!(flat < 500.0, "back-to-back: {flat} ms between requests");
}

/// A client's working folder is an input like a prompt file: `lock` pins it (one digest over
/// its files), and an edit to a file in it is another measurement.
#[test]
fn a_clients_working_folder_is_locked_and_an_edit_reruns_its_cell() {
    let llama = Llama::get();
    let manifest = r#"model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "agent" {
    matrix { model "gemma" }
    server { args "-t" 2 }
    workload "session" {
        client "sh" "-c" "cat hello.py"
        workdir "repos/sample"
    }
}
"#;
    let directory =
        project(&[("experiments/agent.kdl", manifest), ("experiments/repos/sample/hello.py", "print('hello')\n")]);
    let root = directory.path();
    let hash = || {
        let plan = llama.bakeoff(root).args(["plan", "--json"]).run();
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
        plan["cells"][0]["hash"].as_str().unwrap().to_owned()
    };
    let locked = |root: &Path| {
        let lock = llama.bakeoff(root).args(["lock"]).run();
        assert_eq!(lock.code, 0, "{}", lock.stderr);
        let lock: Value = serde_json::from_str(&std::fs::read_to_string(root.join("bakeoff.lock")).unwrap()).unwrap();
        lock["files"]["experiments/repos/sample/"]["sha256"].as_str().unwrap_or_else(|| panic!("{lock}")).to_owned()
    };
    let (before, pinned) = (hash(), locked(root));
    assert_eq!(hash(), before, "an unchanged folder is the same measurement");
    std::fs::write(root.join("experiments/repos/sample/hello.py"), "print('bye')\n").unwrap();
    assert_ne!(hash(), before, "an edited file in the working folder must be another measurement");
    assert_ne!(locked(root), pinned);
    // A new file in it, too.
    let edited = hash();
    std::fs::write(root.join("experiments/repos/sample/notes.md"), "# notes\n").unwrap();
    assert_ne!(hash(), edited);
}

/// Claude Code as a `client` workload on two context sizes: each configuration's server gets the
/// client through the recording proxy, in a fresh copy of the working folder; every request is
/// recorded, the trace is kept beside the record, and no credential reaches `results/`.
#[test]
fn claude_code_runs_as_a_client_workload_on_two_context_sizes() {
    let llama = Llama::get();
    let claude = claude();
    let home = tempfile::tempdir().unwrap();
    let manifest = format!(
        r#"model "gemma" {{ file "gemma-3-270m-q4_k_m.gguf" }}
experiment "agent" {{
    matrix {{
        model "gemma"
        ctx 8192 16384
    }}
    server {{
        args "-t" 2 "--ctx-size" "{{ctx}}" "-np" 1
        ready-timeout 120
    }}
    workload "claude-code" {{
        client "{claude}" "-p" "What does hello.py do? Answer in one sentence." "--model" "{{model}}" "--output-format" "json"
        client-env CLAUDE_CODE_MAX_OUTPUT_TOKENS="48" DISABLE_TELEMETRY="1" CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1" HOME="{home}" ANTHROPIC_API_KEY="{SECRET}-in-manifest"
        workdir "repos/sample"
    }}
    timeout 900
}}
"#,
        claude = claude.display(),
        home = home.path().display(),
    );
    let directory =
        project(&[("experiments/agent.kdl", &manifest), ("experiments/repos/sample/hello.py", "print('hello')\n")]);
    let root = directory.path();
    let outcome = llama.bakeoff(root).env("ANTHROPIC_AUTH_TOKEN", SECRET).args(["run", "agent"]).run();
    let records = records(root);
    assert_eq!(records.len(), 2, "{}\n{}", outcome.stdout, outcome.stderr);
    for record in &records {
        // The small model may run past the client's own output cap, and Claude Code then exits 1:
        // the cell fails with the client's own last line, and keeps what was measured.
        if record.status != Status::Ok {
            let reason = &record.failure.as_ref().unwrap().reason;
            assert!(reason.starts_with("the client ended with exit code 1: API Error: "), "{reason}");
        }
        assert!(record.metrics["requests"].mean >= 1.0, "{:?}", record.metrics);
        assert!(record.metrics["prompt_n_req1"].mean > 3000.0, "{:?}", record.metrics.get("prompt_n_req1"));
        for name in ["ttft_ms_req1", "session_ms", "ttft_ms_first"] {
            assert!(record.metrics.contains_key(name), "{} lacks {name}", record.cell);
        }
        let trace = root.join("results/cells").join(&record.hash[..2]).join(format!("{}.trace.jsonl", record.hash));
        let lines = trace_lines(&trace);
        #[expect(clippy::cast_precision_loss, reason = "a handful of requests")]
        let count = lines.len() as f64;
        assert!((record.metrics["requests"].mean - count).abs() < 1e-9, "{} lines in {}", lines.len(), trace.display());
    }
    let report = std::fs::read_to_string(root.join("results/agent/README.md")).unwrap();
    if records.iter().any(|record| record.status == Status::Ok) {
        assert!(report.contains("### `claude-code, request by request`"), "{report}");
    }
    for entry in walkdir(&root.join("results")) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
        assert!(!text.contains(SECRET), "a credential is in {}", entry.display());
    }
}

/// A client that exits 1 fails its cell with its own last line; one that hangs is ended, with
/// what it started, by the experiment's timeout.
#[test]
fn a_failing_or_hanging_client_is_a_result_and_leaves_nothing_running() {
    let llama = Llama::get();
    // A sleep this test alone starts: its length is the marker looked for afterwards.
    let marker = format!("sleep 600.{}", std::process::id());
    let manifest = format!(
        r#"model "gemma" {{ file "gemma-3-270m-q4_k_m.gguf" }}
experiment "failing" {{
    matrix {{
        model "gemma"
    }}
    server {{
        args "-t" 2 "--ctx-size" 1024
        ready-timeout 120
    }}
    workload "exits" {{
        client "sh" "-c" "echo working; echo 'no model answered at {{proxy}}' >&2; exit 1" "sh" "--api-key" "{SECRET}"
    }}
    workload "hangs" {{
        client "sh" "-c" "{marker} & {marker}"
    }}
    timeout 8
}}
"#
    );
    let directory = project(&[("experiments/failing.kdl", &manifest)]);
    let root = directory.path();
    let started = Instant::now();
    let outcome = llama.bakeoff(root).args(["run", "failing"]).run();
    assert_eq!(outcome.code, 4, "{}\n{}", outcome.stdout, outcome.stderr);
    assert!(started.elapsed() < Duration::from_secs(120), "the hanging client was not ended");
    let records = records(root);
    let exits = records.iter().find(|record| record.cell.ends_with("/exits")).unwrap();
    assert_eq!(exits.status, Status::Failed);
    let failure = exits.failure.as_ref().unwrap();
    assert!(
        failure.reason.starts_with("the client ended with exit code 1: no model answered at http://127.0.0.1:"),
        "{}",
        failure.reason
    );
    // Its exit code and its last lines, as a command cell's failure keeps them.
    assert_eq!(failure.exit_code, Some(1));
    assert_eq!(failure.log_tail.len(), 2, "{:?}", failure.log_tail);
    assert_eq!(failure.log_tail[0], "working");
    // A credential in the client's arguments reaches no file: not its log, not its record.
    for entry in walkdir(&root.join("results")) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
        assert!(!text.contains(SECRET), "a credential is in {}", entry.display());
    }
    let hangs = records.iter().find(|record| record.cell.ends_with("/hangs")).unwrap();
    assert_eq!(hangs.status, Status::TimedOut, "{hangs:#?}");
    assert!(hangs.failure.as_ref().unwrap().reason.contains("timeout"), "{:?}", hangs.failure);
    let left = Command::new("pgrep").args(["-f", &marker]).output().unwrap();
    assert!(
        left.stdout.is_empty(),
        "the client's processes are still running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}
