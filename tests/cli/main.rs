//! CLI tests: the real `bakeoff` binary against scratch projects and fixture manifests.

mod backends;
mod clients;
mod containers;
mod diagnostics;
mod hardening;
mod host;
mod lock;
mod log;
mod manifests;
mod models;
mod newcomer;
mod page;
mod plan;
mod produces;
mod quality;

mod report;
mod reproduce;
mod rounds;
mod run;
mod schedule;
mod search;
mod serve;
mod shared;
mod slurm;
mod storage;
mod support;
mod sweeps;
mod why;
