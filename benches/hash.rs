//! Benchmark: cold sha256 of a 1 GB file by bakeoff's hasher against `openssl dgst -sha256`
//! on the same file, interleaved in one run. Goal: at least 0.95× OpenSSL's throughput.
//! "Cold" means no cached digest; the file itself is in the page cache for both, so the
//! comparison is of hashing, not of the disk.
//!
//! Run: `cargo bench --bench hash` (`BAKEOFF_BENCH_FILE=path` to hash an existing file).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

const SIZE: u64 = 1 << 30;
const ROUNDS: usize = 5;

fn main() {
    let (path, _keep) = match std::env::var_os("BAKEOFF_BENCH_FILE") {
        Some(path) => (PathBuf::from(path), None),
        None => {
            let directory = tempfile::tempdir().expect("a temporary directory");
            let path = directory.path().join("model.bin");
            write_pseudo_random(&path, SIZE);
            (path, Some(directory))
        }
    };
    let size = std::fs::metadata(&path).expect("the file exists").len();
    // Warm the page cache so both hashers read from memory.
    bakeoff::inputs::hash_file(&path).expect("readable");
    let mut ours = Vec::new();
    let mut openssl = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let (digest, _) = bakeoff::inputs::hash_file(&path).expect("readable");
        ours.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let output = Command::new("openssl").arg("dgst").arg("-sha256").arg(&path).output().expect("openssl runs");
        openssl.push(start.elapsed().as_secs_f64());
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.trim_end().ends_with(&digest), "digests differ: {text} vs {digest}");
    }
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    #[expect(clippy::cast_precision_loss, reason = "sizes are far below 2^52")]
    let gigabytes = size as f64 / 1e9;
    let ours = gigabytes / median(&mut ours);
    let openssl = gigabytes / median(&mut openssl);
    println!("file: {} ({gigabytes:.2} GB), median of {ROUNDS} interleaved rounds", path.display());
    println!("bakeoff hash_file: {ours:.3} GB/s");
    println!("openssl dgst -sha256: {openssl:.3} GB/s");
    println!("ratio: {:.3}× OpenSSL", ours / openssl);
}

fn write_pseudo_random(path: &std::path::Path, size: u64) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("writable"));
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..size / block.len() as u64 {
        for chunk in block.chunks_mut(8) {
            // xorshift64: cheap bytes that do not compress or repeat.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&block).expect("writable");
    }
}
