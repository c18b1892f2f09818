//! `bakeoff models`: the GGUF files under the model roots, their metadata, and which no
//! manifest declares or no result has measured.

use std::fmt::Write;

use super::ModelsArgs;
use super::{out, outln};
use crate::Error;
use crate::models::WalkProblem;
use crate::project::{Listed, Project};
use crate::units::{format_bytes, format_parameters};

pub(super) fn run(project: &Project, args: &ModelsArgs) -> Result<(), Error> {
    if project.roots.roots.is_empty() {
        return Err(Error::NoModelRoots);
    }
    // Without manifests every file is simply undeclared.
    let manifests = match project.load(&args.targets.targets) {
        Ok(loaded) => Some(loaded.manifests),
        Err(Error::NoExperiments { .. }) => None,
        Err(error) => return Err(error),
    };
    let (listed, problems) = project.model_inventory(manifests.as_ref());
    if args.json {
        let json = serde_json::json!({ "models": listed, "problems": problems });
        outln!("{}", serde_json::to_string_pretty(&json).expect("JSON values always serialise"));
    } else {
        out!("{}", text(&listed, &problems, project.roots.roots.len()));
    }
    Ok(())
}

fn text(listed: &[Listed], problems: &[WalkProblem], roots: usize) -> String {
    let mut rows: Vec<[String; 8]> = vec![[
        "file".to_owned(),
        "size".to_owned(),
        "architecture".to_owned(),
        "type".to_owned(),
        "parameters".to_owned(),
        "context".to_owned(),
        "experts".to_owned(),
        "manifests".to_owned(),
    ]];
    let mut errors = Vec::new();
    for entry in listed {
        let file = &entry.file;
        let mut name = file.relative.clone();
        if file.shards > 1 {
            let _ = write!(name, " ({} shards)", file.shards);
        }
        let coverage = match (entry.declared_as.is_empty(), entry.results) {
            (true, _) => "not declared".to_owned(),
            (false, 0) => format!("{}, untested", entry.declared_as.join(", ")),
            (false, 1) => format!("{}, 1 result", entry.declared_as.join(", ")),
            (false, results) => format!("{}, {results} results", entry.declared_as.join(", ")),
        };
        let Some(info) = &file.metadata else {
            errors.push(format!("{}: {}", file.path.display(), file.error.as_deref().unwrap_or("unreadable")));
            rows.push([
                name,
                format_bytes(file.size),
                "unreadable".to_owned(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                coverage,
            ]);
            continue;
        };
        let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
        rows.push([
            name,
            format_bytes(file.size),
            or_dash(info.architecture.clone()),
            or_dash(info.file_type.clone()),
            format_parameters(info.parameters),
            or_dash(info.context_length.map(|length| length.to_string())),
            or_dash(info.expert_count.map(|count| match info.expert_used_count {
                Some(used) => format!("{used}/{count}"),
                None => count.to_string(),
            })),
            coverage,
        ]);
    }
    let widths: Vec<usize> =
        (0..8).map(|column| rows.iter().map(|row| row[column].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<width$}  ", width = widths[column]);
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    for error in &errors {
        let _ = writeln!(out, "error: {error}");
    }
    for problem in problems {
        let _ = writeln!(out, "error: {}: {}", problem.path.display(), problem.error);
    }
    let undeclared = listed.iter().filter(|entry| entry.declared_as.is_empty()).count();
    let untested = listed.iter().filter(|entry| !entry.declared_as.is_empty() && entry.results == 0).count();
    let _ = writeln!(
        out,
        "{} GGUF model(s) under {roots} root(s): {undeclared} not declared in any manifest, {untested} untested, {} unreadable",
        listed.len(),
        errors.len()
    );
    out
}
