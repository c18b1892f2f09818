//! The model inventory of a project: each GGUF file under the model roots with the manifest
//! models that name it and how many results they have.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::pipeline::Project;
use crate::manifest::Manifests;
use crate::models::{ModelFile, WalkProblem, scan};

#[derive(Debug, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub file: ModelFile,
    /// The manifest models whose `file` is this one.
    pub declared_as: Vec<String>,
    /// Results in the store of cells with those models.
    pub results: usize,
}

impl Project {
    /// Every GGUF file under the model roots, with the models of `manifests` (when there are
    /// any) that name it and their results in the store; and what could not be walked.
    pub fn model_inventory(&self, manifests: Option<&Manifests>) -> (Vec<Listed>, Vec<WalkProblem>) {
        let (files, problems) = scan(&self.roots.roots);
        let mut declared: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
        for (name, model) in manifests.iter().flat_map(|manifests| &manifests.models) {
            if let Ok(path) = self.roots.find(&model.file.value) {
                declared.entry(path.canonicalize().unwrap_or(path)).or_default().push(name.clone());
            }
        }
        let records = self.records();
        let mut measured: BTreeMap<&str, usize> = BTreeMap::new();
        for record in &records {
            if let Some(model) = record.axes.get("model") {
                *measured.entry(model.as_str()).or_default() += 1;
            }
        }
        let listed: Vec<Listed> = files
            .into_iter()
            .map(|file| {
                let key = file.path.canonicalize().unwrap_or_else(|_| file.path.clone());
                let declared_as = declared.get(&key).cloned().unwrap_or_default();
                let results = declared_as.iter().map(|name| measured.get(name.as_str()).copied().unwrap_or(0)).sum();
                Listed { file, declared_as, results }
            })
            .collect();
        (listed, problems)
    }
}
