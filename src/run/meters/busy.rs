//! The load on the host that is not of bakeoff's making: the CPU time the whole machine used
//! (`/proc/stat`) less that of bakeoff and everything it runs (its own threads, its
//! descendants, the cell's processes in a container), as a share of the machine's CPUs. A cell
//! measured beside a compile or another benchmark reads slow, and nothing in its figures says
//! why; this meter does.
//!
//! Readings are summed over windows of [`WINDOW`] and the foreign share taken per window, not
//! per reading: the kernel's counters advance in clock ticks, and one reading's jitter would
//! otherwise look like load.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::process::{Tree, cpu_ticks};

/// The share of the machine's CPUs that other processes may use before a cell is said to run
/// on a busy host, unless `run --busy-threshold` or `BAKEOFF_BUSY_THRESHOLD` says otherwise.
pub(crate) const DEFAULT_THRESHOLD: f64 = 0.2;

/// How long the load is read before a cell starts.
pub(crate) const BEFORE_CELL: Duration = Duration::from_millis(300);

/// The span over which the busiest moment of a cell is taken: a moment's spike is no busy host,
/// a compile that runs for seconds is.
const WINDOW: Duration = Duration::from_secs(2);

/// CPU time, in clock ticks, over some span.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    /// Used on the whole machine.
    machine: u64,
    /// Used by bakeoff and what it runs.
    own: u64,
    elapsed: Duration,
}

/// One reading: the machine's busy ticks and each own process's.
#[derive(Debug)]
struct Reading {
    at: Instant,
    machine: u64,
    /// By pid and start time.
    own: HashMap<(i32, u64), u64>,
}

/// Reads the foreign load from its start until the last [`ForeignLoad::sample`].
#[derive(Debug)]
pub(crate) struct ForeignLoad {
    cpus: u32,
    ticks_per_second: f64,
    /// The cell's processes, where they are not bakeoff's descendants (a container's).
    tree: Option<Tree>,
    last: Option<Reading>,
    window: Span,
    whole: Span,
    /// The foreign share of the busiest window that closed.
    busiest: Option<f64>,
}

impl ForeignLoad {
    /// Starts reading now. On a machine whose `/proc/stat` cannot be read it reads nothing.
    pub(crate) fn start() -> Self {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        #[expect(clippy::cast_precision_loss, reason = "clock ticks per second are around 100")]
        let ticks_per_second = if ticks > 0 { ticks as f64 } else { 100.0 };
        let mut load = Self {
            cpus: 0,
            ticks_per_second,
            tree: None,
            last: None,
            window: Span::default(),
            whole: Span::default(),
            busiest: None,
        };
        load.last = load.read();
        load
    }

    /// Counts `tree`'s processes as bakeoff's own from now on.
    pub(crate) fn watch(&mut self, tree: Tree) {
        self.tree = Some(tree);
    }

    /// Reads now, adding what was used since the last reading.
    pub(crate) fn sample(&mut self) {
        let Some(now) = self.read() else { return };
        if let Some(last) = &self.last {
            let own: u64 = now
                .own
                .iter()
                .map(|(process, ticks)| ticks.saturating_sub(last.own.get(process).copied().unwrap_or(0)))
                .sum();
            let span = Span {
                machine: now.machine.saturating_sub(last.machine),
                own,
                elapsed: now.at.duration_since(last.at),
            };
            for total in [&mut self.window, &mut self.whole] {
                total.machine += span.machine;
                total.own += span.own;
                total.elapsed += span.elapsed;
            }
            if self.window.elapsed >= WINDOW {
                let share = self.share(self.window);
                self.busiest = match (self.busiest, share) {
                    (Some(busiest), Some(share)) => Some(busiest.max(share)),
                    (busiest, share) => busiest.or(share),
                };
                self.window = Span::default();
            }
        }
        self.last = Some(now);
    }

    /// [`HostLoad`] of the span read so far, from before the cell (`before`) on.
    pub(crate) fn during(&self, before: HostLoad) -> HostLoad {
        HostLoad { cpus: self.cpus, busiest: self.busiest(), average: self.average(), ..before }
    }

    /// The foreign share of the machine's CPUs over the whole span read (0.5: other processes
    /// kept half of them busy).
    pub(crate) fn average(&self) -> Option<f64> {
        self.share(self.whole)
    }

    /// The foreign share of the busiest [`WINDOW`], or of the whole span when it was shorter.
    pub(crate) fn busiest(&self) -> Option<f64> {
        self.busiest.or_else(|| self.average())
    }

    /// The machine's CPUs.
    pub(crate) fn cpus(&self) -> u32 {
        self.cpus
    }

    fn share(&self, span: Span) -> Option<f64> {
        // Too short a span holds too few ticks to tell anything.
        if self.cpus == 0 || span.elapsed < Duration::from_millis(100) {
            return None;
        }
        #[expect(clippy::cast_precision_loss, reason = "tick counts of a span are far below 2^52")]
        let foreign = span.machine.saturating_sub(span.own) as f64;
        let capacity = span.elapsed.as_secs_f64() * self.ticks_per_second * f64::from(self.cpus);
        Some((foreign / capacity).clamp(0.0, 1.0))
    }

    fn read(&mut self) -> Option<Reading> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let (machine, cpus) = machine_busy(&stat)?;
        self.cpus = cpus;
        let at = Instant::now();
        let mut own = HashMap::new();
        let bakeoff = i32::try_from(std::process::id()).ok()?;
        for pid in Tree::Spawned(bakeoff).processes() {
            let Some(ticks) = cpu_ticks(pid) else { continue };
            // bakeoff's own threads only: what it reaped is counted in its descendants before
            // they ended, and would be counted twice.
            let used = if pid == bakeoff { ticks.own } else { ticks.own + ticks.children };
            own.insert((pid, ticks.start), used);
        }
        for pid in self.tree.as_mut().map(Tree::processes).unwrap_or_default() {
            if let Some(ticks) = cpu_ticks(pid) {
                own.insert((pid, ticks.start), ticks.own + ticks.children);
            }
        }
        Some(Reading { at, machine, own })
    }
}

/// The machine's busy ticks (user, nice, system and steal: a hypervisor giving the CPU to
/// another guest is load too; interrupts are charged to whatever they interrupted) and its
/// number of online CPUs, from the text of `/proc/stat`.
fn machine_busy(stat: &str) -> Option<(u64, u32)> {
    let mut lines = stat.lines();
    let total = lines.next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = total.split_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is in user.
    let busy = fields.first()? + fields.get(1)? + fields.get(2)? + fields.get(7).copied().unwrap_or(0);
    let cpus = lines
        .filter(|line| line.strip_prefix("cpu").is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())))
        .count();
    Some((busy, u32::try_from(cpus).ok().filter(|cpus| *cpus > 0)?))
}

/// How busy the host was around one cell, and what `--quiet-host` waited for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct HostLoad {
    /// The share above which the host is busy; `None` when the check is off.
    pub(crate) threshold: Option<f64>,
    /// The machine's CPUs.
    pub(crate) cpus: u32,
    /// The foreign share just before the cell started.
    pub(crate) before: Option<f64>,
    /// During it: its busiest window, and its average.
    pub(crate) busiest: Option<f64>,
    pub(crate) average: Option<f64>,
    /// How long `--quiet-host` waited, and whether the host settled in that time.
    pub(crate) waited: Option<(Duration, bool)>,
}

impl HostLoad {
    /// What a cell measured on a host busier than its threshold carries: how busy, and when.
    pub(crate) fn warning(&self) -> Option<String> {
        let threshold = self.threshold?;
        let over = |share: Option<f64>| share.is_some_and(|share| share > threshold);
        if !over(self.before) && !over(self.busiest) {
            return None;
        }
        let percent = |share: f64| format!("{:.0}%", share * 100.0);
        let mut when = Vec::new();
        if let Some(before) = self.before {
            when.push(format!("{} just before this cell", percent(before)));
        }
        if let (Some(busiest), Some(average)) = (self.busiest, self.average) {
            let seconds = WINDOW.as_secs();
            when.push(format!(
                "up to {} during it ({seconds} s at its busiest; {} on average)",
                percent(busiest),
                percent(average)
            ));
        }
        let waited = match self.waited {
            Some((waited, false)) => {
                format!("; `--quiet-host` waited {} s for the host to settle, then ran it anyway", waited.as_secs())
            }
            _ => String::new(),
        };
        Some(format!(
            "busy host: other processes used {} of its {} CPUs (threshold {}){waited}: this cell's figures may be low",
            when.join(" and "),
            self.cpus,
            percent(threshold)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_machines_busy_ticks_and_cpus() {
        let stat = "cpu  100 20 30 1000 5 6 7 8 0 0\ncpu0 50 10 15 500 2 3 3 4 0 0\ncpu1 50 10 15 500 3 3 4 4 0 0\n\
                    intr 12345\nctxt 99\n";
        assert_eq!(machine_busy(stat), Some((158, 2)));
        assert_eq!(machine_busy("intr 1\n"), None);
    }

    /// Reads a spinning process for 0.6 s: the load's own and foreign ticks, and the
    /// process's own count of what it used meanwhile.
    fn beside(pid: i32) -> (Span, u64) {
        let before = cpu_ticks(pid).unwrap().own;
        let mut load = ForeignLoad::start();
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(60));
            load.sample();
        }
        let used = cpu_ticks(pid).unwrap().own - before;
        (load.whole, used)
    }

    fn spin() -> &'static str {
        "while :; do :; done"
    }

    #[test]
    fn a_spinning_process_beside_bakeoff_is_foreign_and_bakeoffs_own_children_are_not() {
        // Compared with what each process says it used, so that other load on the machine
        // (other tests) changes nothing.
        let mut child = std::process::Command::new("sh").args(["-c", spin()]).spawn().unwrap();
        let (span, used) = beside(i32::try_from(child.id()).unwrap());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(used > 0 && span.own + 3 >= used, "own {} of a child that used {used}", span.own);
        // Not a descendant: a grandchild made an orphan (reparented away from this process).
        let orphan = std::process::Command::new("sh")
            .args(["-c", &format!("sh -c '{}' >/dev/null 2>&1 & echo $!", spin())])
            .output()
            .unwrap();
        let orphan: i32 = String::from_utf8_lossy(&orphan.stdout).trim().parse().unwrap();
        let (span, used) = beside(orphan);
        // SAFETY: kill(2) of the process this test started.
        unsafe {
            libc::kill(orphan, libc::SIGKILL);
        }
        // A tick or two of jitter between the machine's counters and the process's.
        let foreign = span.machine.saturating_sub(span.own);
        assert!(used > 0 && foreign + 3 >= used, "foreign {foreign} beside an orphan that used {used}");
    }

    #[test]
    fn a_busy_host_is_told_with_when_and_how_busy() {
        let load = HostLoad {
            threshold: Some(0.2),
            cpus: 2,
            before: Some(0.52),
            busiest: Some(0.48),
            average: Some(0.31),
            waited: None,
        };
        assert_eq!(
            load.warning().as_deref(),
            Some(
                "busy host: other processes used 52% just before this cell and up to 48% during it (2 s at its \
                 busiest; 31% on average) of its 2 CPUs (threshold 20%): this cell's figures may be low"
            )
        );
        assert_eq!(HostLoad { threshold: Some(0.6), ..load }.warning(), None);
        assert_eq!(HostLoad { threshold: None, ..load }.warning(), None);
        let waited = HostLoad { waited: Some((Duration::from_secs(600), false)), busiest: None, ..load };
        assert!(waited.warning().unwrap().contains("`--quiet-host` waited 600 s"), "{waited:?}");
    }
}
