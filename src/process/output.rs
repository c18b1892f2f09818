//! A child's output: each stream copied into its log and into memory (bounded), and the pid a
//! command in a toolbox or distrobox container announces taken out of its stderr.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::command::PID_ANNOUNCEMENT;
use super::pids::process_start;
use super::tracker::{Started, Tracker};

/// Where a pid announced on stderr goes.
pub(super) struct Announcement {
    pub(super) announced: Arc<Mutex<Option<(i32, u64)>>>,
    pub(super) tracker: Option<Arc<Tracker>>,
    pub(super) what: String,
}

impl Announcement {
    /// Takes the announcement line off the front of `buffer` once it is complete: `true` when
    /// the question is settled (the line was there, or the output does not start with it).
    fn take(&self, buffer: &mut Vec<u8>) -> bool {
        let prefix = PID_ANNOUNCEMENT.as_bytes();
        let compared = buffer.len().min(prefix.len());
        if buffer[..compared] != prefix[..compared] {
            return true;
        }
        let Some(end) = buffer.iter().position(|&byte| byte == b'\n') else {
            // Not complete yet, unless it is far longer than a pid.
            return buffer.len() > prefix.len() + 24;
        };
        let pid = std::str::from_utf8(&buffer[prefix.len()..end]).ok().and_then(|text| text.trim().parse::<i32>().ok());
        if let Some(pid) = pid
            && let Some(start) = process_start(pid)
        {
            // The pid is a host pid only where the container shares the host's pid namespace;
            // a pid that is not running here is not trusted.
            *self.announced.lock().expect("announcement lock") = Some((pid, start));
            if let Some(tracker) = &self.tracker {
                tracker.add(Started::Process { pid, start, what: self.what.clone() });
            }
        }
        buffer.drain(..=end);
        true
    }
}

/// Copies one output stream into the log and the combined buffer; returns it when
/// `keep` (stdout, which llama-bench's JSON lines come on). With an `announcement`, a pid
/// announced at the start of the stream is taken out of it.
pub(super) async fn pump(
    stream: Option<impl AsyncRead + Unpin>,
    combined: Arc<Mutex<Vec<u8>>>,
    log: Arc<Mutex<Option<std::fs::File>>>,
    keep: bool,
    mut announcement: Option<Announcement>,
) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut stream) = stream else { return kept };
    let mut buffer = vec![0u8; 16 * 1024];
    let mut head = Vec::new();
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let mut chunk = &buffer[..read];
        if let Some(waiting) = &announcement {
            head.extend_from_slice(chunk);
            if !waiting.take(&mut head) {
                continue;
            }
            announcement = None;
            chunk = &head;
        }
        keep_bounded(&mut combined.lock().expect("output lock"), chunk);
        if let Some(log) = log.lock().expect("log lock").as_mut() {
            // A full disk must not kill the measurement; the output is still kept in memory.
            let _ = log.write_all(chunk);
        }
        if keep {
            kept.extend_from_slice(chunk);
        }
        if announcement.is_none() {
            head.clear();
        }
    }
    if !head.is_empty() {
        // The stream ended inside what looked like an announcement: it is output after all.
        combined.lock().expect("output lock").extend_from_slice(&head);
        if let Some(log) = log.lock().expect("log lock").as_mut() {
            let _ = log.write_all(&head);
        }
    }
    kept
}

/// Output kept in memory at most (the log file has all of it): a server that runs for hours
/// logs every request.
const COMBINED_LIMIT: usize = 64 << 20;
/// What is kept of the start of the output once it is cut (where llama.cpp names its devices).
const COMBINED_HEAD: usize = 4 << 20;

/// Appends `chunk` to `combined`; past [`COMBINED_LIMIT`], the middle goes (down to half the
/// limit, so that cutting is rare), keeping the start and the newest output.
fn keep_bounded(combined: &mut Vec<u8>, chunk: &[u8]) {
    combined.extend_from_slice(chunk);
    if combined.len() > COMBINED_LIMIT {
        let excess = combined.len() - COMBINED_LIMIT / 2;
        combined.drain(COMBINED_HEAD..COMBINED_HEAD + excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_in_memory_keeps_its_start_and_its_newest_bytes() {
        let mut combined = Vec::new();
        keep_bounded(&mut combined, b"device line\n");
        let chunk = vec![b'.'; 1 << 20];
        for _ in 0..70 {
            keep_bounded(&mut combined, &chunk);
        }
        keep_bounded(&mut combined, b"last line\n");
        assert!(combined.len() <= COMBINED_LIMIT);
        assert!(combined.starts_with(b"device line\n"));
        assert!(combined.ends_with(b"last line\n"));
    }
}
