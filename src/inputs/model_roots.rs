//! Model roots: the directories a relative model `file` is looked up under on this machine.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct ModelRoots {
    pub roots: Vec<PathBuf>,
}

impl ModelRoots {
    /// `--models DIR` flags first, then `BAKEOFF_MODELS=dir1:dir2`.
    pub fn new(flags: &[PathBuf], environment: Option<&str>) -> Self {
        let mut roots: Vec<PathBuf> = flags.to_vec();
        if let Some(list) = environment {
            roots.extend(list.split(':').filter(|part| !part.is_empty()).map(PathBuf::from));
        }
        Self { roots }
    }

    /// The path of a model file, or where it was looked for.
    pub fn find(&self, file: &str) -> Result<PathBuf, ModelNotFound> {
        let path = Path::new(file);
        if path.is_absolute() {
            return if path.is_file() {
                Ok(path.to_path_buf())
            } else {
                Err(ModelNotFound::Absent { file: file.to_owned() })
            };
        }
        if let Some(found) = self.roots.iter().map(|root| root.join(path)).find(|candidate| candidate.is_file()) {
            return Ok(found);
        }
        if self.roots.is_empty() {
            return Err(ModelNotFound::NoRoots { file: file.to_owned() });
        }
        Err(ModelNotFound::NotUnderRoots {
            file: file.to_owned(),
            roots: self.roots.clone(),
            hints: self.roots.iter().filter_map(|root| root_hint(root, path)).collect(),
        })
    }
}

/// A model `file` that is not on this machine, and where it was looked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelNotFound {
    #[error("`{file}` does not exist")]
    Absent { file: String },
    #[error("`{file}` is relative and no model root is set; pass `--models DIR` or set BAKEOFF_MODELS")]
    NoRoots { file: String },
    /// `hints` say what is wrong with a root that might have been meant to hold it.
    #[error("`{file}` is not under any model root (looked in {}){}", listed(roots), hinted(hints))]
    NotUnderRoots { file: String, roots: Vec<PathBuf>, hints: Vec<String> },
}

fn listed(roots: &[PathBuf]) -> String {
    roots.iter().map(|root| format!("`{}`", root.display())).collect::<Vec<_>>().join(", ")
}

fn hinted(hints: &[String]) -> String {
    hints.iter().fold(String::new(), |mut text, hint| {
        text.push_str("; ");
        text.push_str(hint);
        text
    })
}

/// What is wrong with a model root that does not hold `file`, when something is: it does not
/// exist, it is a file (perhaps the model itself), or the model is one folder further down.
fn root_hint(root: &Path, file: &Path) -> Option<String> {
    let shown = root.display();
    if !root.exists() {
        return Some(format!("model root `{shown}` does not exist"));
    }
    if root.is_file() {
        let parent = root.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
        return Some(if root.file_name() == file.file_name() {
            format!(
                "model root `{shown}` is the model file itself: a root is the folder models are under \
                 (`--models {}`)",
                parent.display()
            )
        } else {
            format!("model root `{shown}` is a file, not a folder")
        });
    }
    let entries = std::fs::read_dir(root).ok()?;
    let below = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|folder| folder.is_dir())
        .find(|folder| folder.join(file).is_file())?;
    let folder = below.file_name().map(|name| Path::new(name).join(file)).unwrap_or_default();
    Some(format!(
        "it is one folder down, at `{}`: pass `--models {}`, or write `file \"{}\"`",
        below.join(file).display(),
        below.display(),
        folder.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_in_each_root_in_order() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::write(second.path().join("m.gguf"), "x").unwrap();
        let roots = ModelRoots::new(&[first.path().to_path_buf()], second.path().to_str());
        assert_eq!(roots.find("m.gguf").unwrap(), second.path().join("m.gguf"));
        let missing = roots.find("other.gguf").unwrap_err().to_string();
        assert!(missing.contains("not under any model root"), "{missing}");
        assert!(ModelRoots::default().find("m.gguf").unwrap_err().to_string().contains("--models"));
    }

    #[test]
    fn a_root_that_cannot_hold_the_model_says_why() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        std::fs::create_dir(root.join("gemma")).unwrap();
        std::fs::write(root.join("gemma/m.gguf"), "x").unwrap();
        let find = |root: PathBuf| ModelRoots::new(&[root], None).find("m.gguf").unwrap_err().to_string();
        let missing = find(root.join("nowhere"));
        assert!(
            missing.ends_with(&format!("model root `{}` does not exist", root.join("nowhere").display())),
            "{missing}"
        );
        let itself = find(root.join("gemma/m.gguf"));
        assert!(
            itself.contains(&format!(
                "is the model file itself: a root is the folder models are under (`--models {}`)",
                root.join("gemma").display()
            )),
            "{itself}"
        );
        let down = find(root.to_path_buf());
        assert!(
            down.contains(&format!(
                "it is one folder down, at `{}`: pass `--models {}`, or write `file \"gemma/m.gguf\"`",
                root.join("gemma/m.gguf").display(),
                root.join("gemma").display()
            )),
            "{down}"
        );
    }
}
