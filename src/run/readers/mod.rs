//! Readers of a tool's output: llama-bench's JSON lines and a `command`'s regexes into metrics,
//! llama-perplexity's statistics into quality metrics, and llama.cpp's own lines into what it
//! ran on.

pub(in crate::run) mod metrics;
pub(in crate::run) mod perplexity;
pub(in crate::run) mod ran_on;
