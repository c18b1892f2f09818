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

    /// The path of a model file, or a message saying where it was looked for.
    pub fn find(&self, file: &str) -> Result<PathBuf, String> {
        let path = Path::new(file);
        if path.is_absolute() {
            return if path.is_file() { Ok(path.to_path_buf()) } else { Err(format!("`{file}` does not exist")) };
        }
        if let Some(found) = self.roots.iter().map(|root| root.join(path)).find(|candidate| candidate.is_file()) {
            return Ok(found);
        }
        if self.roots.is_empty() {
            Err(format!("`{file}` is relative and no model root is set; pass `--models DIR` or set BAKEOFF_MODELS"))
        } else {
            let roots: Vec<String> = self.roots.iter().map(|root| format!("`{}`", root.display())).collect();
            Err(format!("`{file}` is not under any model root (looked in {})", roots.join(", ")))
        }
    }
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
        let missing = roots.find("other.gguf").unwrap_err();
        assert!(missing.contains("not under any model root"), "{missing}");
        assert!(ModelRoots::default().find("m.gguf").unwrap_err().contains("--models"));
    }
}
