//! Results from several machines merge in git without conflicts. Records never collide (one
//! file per cell hash, and the host id is in the hash); reports are derived files that every
//! machine rewrites, so two machines that ran and committed would conflict on them. bakeoff
//! marks them, in `results/.gitattributes`, for a merge driver that keeps this checkout's
//! version (`true`), and configures that driver in the repository: a merge then succeeds and
//! the next `bakeoff run` or `bakeoff report` writes the report of the merged store.

use std::path::Path;

use crate::notice::Notice;
use crate::store::{REPORT_FILE, Store};

const DRIVER: &str = "bakeoff-report";

/// The attributes bakeoff keeps in `results/.gitattributes`.
fn attributes() -> String {
    format!(
        "# Written by bakeoff: reports are rewritten from the records after a merge (`bakeoff report`),\n\
         # so a merge keeps this checkout's report instead of stopping on a conflict.\n\
         */{REPORT_FILE} merge={DRIVER}\n*/*.svg merge={DRIVER}\nindex.html merge={DRIVER}\n"
    )
}

/// Makes sure reports under `store` merge without conflicts when the project is a git
/// checkout; returns a line to show when it changed something. Nothing happens outside git.
pub fn keep_reports_mergeable(project: &Path, store: &Store) -> Option<Notice> {
    let inside = git(project, &["rev-parse", "--is-inside-work-tree"]).is_some_and(|out| out.trim() == "true");
    if !inside {
        return None;
    }
    let mut changed = Vec::new();
    let path = store.gitattributes_path();
    let wanted = attributes();
    if std::fs::read_to_string(&path).ok().as_deref() != Some(wanted.as_str()) {
        if std::fs::create_dir_all(store.root()).and_then(|()| std::fs::write(&path, &wanted)).is_err() {
            return Some(Notice::warning(format!(
                "cannot write `{}`: reports may conflict in git merges",
                path.display()
            )));
        }
        changed.push(format!("wrote `{}`", path.display()));
    }
    let key = format!("merge.{DRIVER}.driver");
    if git(project, &["config", "--get", &key]).is_none_or(|value| value.trim() != "true") {
        let name = format!("merge.{DRIVER}.name");
        let configured = git(project, &["config", &name, "bakeoff report: keep this checkout's, rewrite after"])
            .and_then(|_| git(project, &["config", &key, "true"]));
        if configured.is_none() {
            return Some(Notice::warning("cannot configure git's merge driver: reports may conflict in merges"));
        }
        changed.push(format!("configured git's `{DRIVER}` merge driver in this repository"));
    }
    (!changed.is_empty()).then(|| {
        Notice::info(format!(
            "{} (reports merge without conflicts; `bakeoff report` rewrites them after a merge)",
            changed.join(", ")
        ))
    })
}

/// `git -C project ARGS`'s stdout when it succeeds.
fn git(project: &Path, args: &[&str]) -> Option<String> {
    let project = project.display().to_string();
    let mut words = vec!["-C", project.as_str()];
    words.extend(args);
    crate::process::ask("git", &words, std::time::Duration::from_secs(30))
}
