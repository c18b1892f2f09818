//! Supervising one child: its own process group, output streamed to its log and kept in
//! memory, a timeout (SIGTERM to the group, a grace period, SIGKILL), interruption, and reaping
//! what it left (its group, its container). What watches the child meanwhile (the run's
//! meters) is the caller's, passed in as a [`Sampler`].

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::command::Launch;
use super::exit::{Exit, status_exit};
use super::exit_usage::wait_without_reaping;
use super::sampler::Sampler;
use super::spawned::{Spawned, spawn};
use super::tracker::Tracker;

#[derive(Debug)]
pub(crate) struct ChildResult {
    pub exit: Exit,
    pub stdout: Vec<u8>,
    /// stdout and stderr interleaved as they arrived: what the log file holds.
    pub combined: Vec<u8>,
    pub duration: Duration,
}

/// Stop requests: 0 = none, 1 = stop gracefully, 2 or more = kill at once.
pub(crate) type StopSignal = watch::Receiver<u32>;

/// Runs `launch` to completion, writing its output to `log`; what it starts is written down
/// in `tracker` while it runs, and `sampler` (when there is one) is told where its processes
/// are and reads them until it ends.
pub(crate) async fn supervise(
    launch: &Launch,
    log: Option<&Path>,
    timeout: Duration,
    grace: Duration,
    mut stop: StopSignal,
    tracker: Option<&Arc<Tracker>>,
    mut sampler: Option<&mut dyn Sampler>,
) -> std::io::Result<ChildResult> {
    let started = Instant::now();
    let mut spawned = spawn(launch, log, tracker)?;
    if let Some(sampler) = sampler.as_deref_mut() {
        sampler.start(spawned.tree());
    }
    let exit = tokio::select! {
        status = wait_sampling(&mut spawned.child, sampler) => status_exit(status?),
        () = tokio::time::sleep(timeout) => {
            terminate(&mut spawned, grace, &mut stop).await?;
            Exit::TimedOut
        }
        () = wait_for_stop(&mut stop) => {
            terminate(&mut spawned, grace, &mut stop).await?;
            Exit::Interrupted
        }
    };
    reap(&mut spawned, grace).await;
    let stdout = (&mut spawned.stdout).await.unwrap_or_default();
    let _ = (&mut spawned.stderr).await;
    let combined = std::mem::take(&mut *spawned.combined.lock().expect("output lock"));
    Ok(ChildResult { exit, stdout, combined, duration: started.elapsed() })
}

/// Waits for the child, letting `sampler` read it meanwhile, and telling it what the kernel
/// says the child used once it has ended (before it is reaped, which loses that).
async fn wait_sampling(
    child: &mut tokio::process::Child,
    sampler: Option<&mut dyn Sampler>,
) -> std::io::Result<std::process::ExitStatus> {
    // A short question to another program is not measured: nothing to wake up for.
    let Some(sampler) = sampler else { return child.wait().await };
    let Some(pid) = child.id() else { return child.wait().await };
    // tokio reaps the child only when its `wait` is polled, so it is not polled until this
    // thread has read the usage of the ended, unreaped child. Should the timeout or a stop win
    // instead, the thread returns when the child is killed, and the reap is tokio's as before.
    let mut ended = tokio::task::spawn_blocking(move || wait_without_reaping(pid));
    loop {
        sampler.sample();
        tokio::select! {
            usage = &mut ended => {
                sampler.ended(usage.ok().flatten());
                return child.wait().await;
            }
            () = tokio::time::sleep(sampler.pause()) => {}
        }
    }
}

/// Runs `launch` within `timeout`, its output kept in memory only: for short questions to
/// other programs (a toolbox's llama.cpp build, podman's images and containers). Killed
/// (and its container removed) when the time is up.
pub(crate) async fn capture(launch: &Launch, timeout: Duration) -> std::io::Result<ChildResult> {
    let (_never, stop) = watch::channel(0u32);
    supervise(launch, None, timeout, Duration::from_secs(2), stop, None, None).await
}

/// After the child ended: whatever it left in its group (helpers, a daemonised server), in
/// its container (a command whose toolbox client was killed) or as a container (a killed
/// `podman run` client) is stopped, and the tracker forgets it.
pub(crate) async fn reap(spawned: &mut Spawned, grace: Duration) {
    if let Some(container) = spawned.stop_what_is_left(grace).await.map(str::to_owned) {
        // Boxed: removing a container is itself a supervised (podman) child.
        Box::pin(remove_container(spawned.program(), &container, grace)).await;
    }
    spawned.forget();
}

/// Returns once a stop is requested; never when nobody can request one any more.
pub(crate) async fn wait_for_stop(stop: &mut StopSignal) {
    while *stop.borrow_and_update() == 0 {
        if stop.changed().await.is_err() {
            // The sender is gone: nobody can ask for a stop any more.
            std::future::pending::<()>().await;
        }
    }
}

/// SIGTERM to the group, then SIGKILL after `grace` (or at once on a second stop request).
async fn terminate(spawned: &mut Spawned, grace: Duration, stop: &mut StopSignal) -> std::io::Result<()> {
    spawned.signal(libc::SIGTERM);
    let already = *stop.borrow();
    tokio::select! {
        status = spawned.child.wait() => { status?; }
        () = tokio::time::sleep(grace) => {}
        () = async {
            loop {
                if stop.changed().await.is_err() { std::future::pending::<()>().await; }
                if *stop.borrow() > already.max(1) { break; }
            }
        } => {}
    }
    spawned.signal(libc::SIGKILL);
    spawned.child.wait().await?;
    Ok(())
}

/// Removes the podman container `name`, stopping it first (SIGTERM, `grace`, SIGKILL): `true`
/// when there was one. The supervisor owns it because stopping a detached container is how it
/// ends a podman cell; podman's other questions build on the supervisor, not the reverse.
pub(crate) async fn remove_container(podman: &Path, name: &str, grace: Duration) -> bool {
    let seconds = grace.as_secs().to_string();
    let args = ["rm", "--force", "--time", &seconds, name].map(str::to_owned).to_vec();
    let removal = Launch::plain(podman, args);
    // podman waits up to `grace` for the container to stop, then kills it.
    matches!(capture(&removal, grace + Duration::from_secs(60)).await, Ok(ChildResult { exit: Exit::Code(0), .. }))
}
