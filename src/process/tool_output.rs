//! What another program's output says when it fails: its error line (podman's `Error:`,
//! llama.cpp's `error: invalid parameter …`, a line logged at error level), else its last line.
//! One reading for cells, inspection and realisation.

/// The first line that says what went wrong: one starting with `error:` in any case or with
/// `Error ` (podman, toolbox), or holding `: error:`; else the first logged at error level
/// (`E …`, llama.cpp's logger). `None` when no line says so.
pub(crate) fn error_line(text: &str) -> Option<&str> {
    let lines = || text.lines().map(str::trim);
    let is_error = |line: &str| {
        line.get(..6).is_some_and(|start| start.eq_ignore_ascii_case("error:"))
            || line.get(..12).is_some_and(|start| start.eq_ignore_ascii_case("error while "))
            || line.starts_with("Error ")
            || line.contains(": error:")
    };
    lines().find(|line| is_error(line)).or_else(|| lines().find(|line| line.starts_with("E ") && line.len() > 2))
}

/// The last line that is not blank.
pub(crate) fn last_line(text: &str) -> &str {
    text.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_line_is_the_tools_own_words() {
        let usage = "error: invalid parameter for argument: --flash-attn-typo\n\nusage: llama-bench [options]\n  -h\n";
        assert_eq!(error_line(usage), Some("error: invalid parameter for argument: --flash-attn-typo"));
        let podman = "Trying to pull…\nError: container-init binary not found on the host\n";
        assert_eq!(error_line(podman), Some("Error: container-init binary not found on the host"));
        assert_eq!(
            error_line("load: fine\nE llama_model_load: cannot open\n"),
            Some("E llama_model_load: cannot open")
        );
        let server = "Error while handling argument \"--ctx-size\": stoi\n\nusage:\n-c, --ctx-size N\n";
        assert_eq!(error_line(server), Some("Error while handling argument \"--ctx-size\": stoi"));
        assert_eq!(error_line("all is well\n"), None);
        assert_eq!(last_line("one\ntwo\n\n"), "two");
    }
}
