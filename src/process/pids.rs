//! Processes as /proc sees them: start times that tell a process from a later one with the same
//! pid, process groups and their members. A leaf: the supervisor, the leftovers' clean-up and
//! the run's memory meter all ask it, and it asks none of them.

/// A process's start time in clock ticks after boot (`/proc/PID/stat` field 22), or `None`
/// when there is no such process (or it is a zombie, which is as good as gone).
pub(crate) fn process_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields = stat_fields(&stat)?;
    // After `pid (comm)`: state is field 3, pgrp 5, starttime 22.
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The CPU a process used, in clock ticks: its own threads' user and system time, and that of
/// the children it waited for. A zombie's still counts: it is what the process used, and it
/// moves to its parent's children's time only once reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuTicks {
    /// The start time, which tells this process from a later one with the same pid.
    pub(crate) start: u64,
    pub(crate) own: u64,
    pub(crate) children: u64,
}

/// [`CpuTicks`] of `pid`, from `/proc/PID/stat`.
pub(crate) fn cpu_ticks(pid: i32) -> Option<CpuTicks> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields = stat_fields(&stat)?;
    // After `pid (comm)`: utime is field 14, stime 15, cutime 16, cstime 17, starttime 22.
    let number = |field: usize| -> Option<u64> { fields.get(field - 3)?.parse().ok() };
    Some(CpuTicks { start: number(22)?, own: number(14)? + number(15)?, children: number(16)? + number(17)? })
}

/// The process group of `pid`.
pub(super) fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_fields(&stat)?.get(2)?.parse().ok()
}

/// The fields after `pid (comm)`, whose comm may hold spaces and parentheses.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// The live (not zombie) processes in process group `group`.
pub(super) fn group_members(group: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| process_group(*pid) == Some(group) && process_start(*pid).is_some())
        .collect()
}

pub(super) fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|id| id.trim().to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_lines_whose_command_has_spaces_and_parentheses() {
        let stat = "4242 (llama server (x)) S 1 4240 4240 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        let fields = stat_fields(stat).unwrap();
        assert_eq!(fields[0], "S");
        assert_eq!(fields[2], "4240");
        assert_eq!(fields[19], "987654");
    }

    #[test]
    fn this_process_has_used_cpu_since_its_start() {
        let pid = i32::try_from(std::process::id()).unwrap();
        let ticks = cpu_ticks(pid).unwrap();
        assert_eq!(Some(ticks.start), process_start(pid));
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(100) {
            std::hint::black_box(spin.elapsed());
        }
        assert!(cpu_ticks(pid).unwrap().own > ticks.own);
    }

    #[test]
    fn this_process_has_a_start_time_and_a_group() {
        let pid = i32::try_from(std::process::id()).unwrap();
        assert!(process_start(pid).is_some());
        // SAFETY: getpgrp(2) has no preconditions.
        assert_eq!(process_group(pid), Some(unsafe { libc::getpgrp() }));
    }
}
