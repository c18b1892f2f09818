//! A project on disk and the steps every command shares: load manifests, get host facts,
//! inspect toolboxes and hash inputs, check the lock, expand, resolve and decide cells.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::fingerprint::{ResolvedCell, ToolboxState, resolve_cell};
use crate::host::HostFacts;
use crate::inputs::{ModelRoots, StatCache, gather, needed};
use crate::lock::{Found, LockDrift, LockFile};
use crate::manifest::{self, Experiment, Manifests, Toolbox};
use crate::matrix::{Cell, expand};
use crate::parallel;
use crate::plan::{History, PlannedCell, Selection, decide};
use crate::store::{CellRecord, Store};
use crate::suggest;
use crate::toolbox::toolbox_states;

pub struct Project {
    pub root: PathBuf,
    pub store: Store,
    pub lock_path: PathBuf,
    pub roots: ModelRoots,
    pub host_facts: Option<PathBuf>,
    /// `--host-name` or `BAKEOFF_HOST_NAME`: replaces the probed or given name.
    pub host_name: Option<String>,
    /// Inspect toolboxes afresh (`--no-cache`); what is found still refreshes the cache.
    pub no_cache: bool,
    /// The storage root, when the machine has one.
    pub storage: Option<crate::storage::Storage>,
    /// What podman said of the container toolboxes while the host was probed
    /// ([`Project::host_and_containers`]), for the next inspection to take.
    asked: std::sync::Mutex<crate::toolbox::Asked>,
}

/// Manifests and the experiments the command was asked about.
pub struct Loaded {
    pub manifests: Manifests,
    pub selected: Vec<String>,
}

impl Loaded {
    pub fn experiments(&self) -> Vec<&Experiment> {
        self.selected.iter().filter_map(|name| self.manifests.experiment(name)).collect()
    }
}

/// Where a project is and how this machine is described: what the global options say.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The project directory (experiments/, toolboxes/, results/, bakeoff.lock).
    pub project: PathBuf,
    /// The result store [default: PROJECT/results].
    pub results: Option<PathBuf>,
    /// Model roots (`BAKEOFF_MODELS` adds more).
    pub models: Vec<PathBuf>,
    /// Host facts from this JSON file instead of probing this machine.
    pub host_facts: Option<PathBuf>,
    /// How reports name this host (`BAKEOFF_HOST_NAME` too).
    pub host_name: Option<String>,
    /// Inspect toolboxes afresh instead of taking what the machine's inspection cache holds.
    pub no_cache: bool,
    /// The storage root (`--storage`, `BAKEOFF_STORAGE`), already checked.
    pub storage: Option<crate::storage::Storage>,
}

impl Project {
    pub fn new(settings: &Settings) -> Self {
        let root = settings.project.clone();
        Self {
            store: {
                let results = settings.results.clone().unwrap_or_else(|| root.join("results"));
                let bases = settings.storage.as_ref().map(|storage| storage.bases_dir(&results));
                let store = Store::new(results);
                match bases {
                    Some(bases) => store.with_bases_dir(bases),
                    None => store,
                }
            },
            storage: settings.storage.clone(),
            asked: std::sync::Mutex::default(),
            lock_path: root.join("bakeoff.lock"),
            roots: ModelRoots::new(&settings.models, std::env::var("BAKEOFF_MODELS").ok().as_deref()),
            host_facts: settings.host_facts.clone(),
            host_name: settings
                .host_name
                .clone()
                .or_else(|| std::env::var("BAKEOFF_HOST_NAME").ok())
                .filter(|name| !name.trim().is_empty()),
            no_cache: settings.no_cache,
            root,
        }
    }

    /// The default manifests: every `.kdl` directly in `experiments/` and `toolboxes/`.
    fn default_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for directory in ["experiments", "toolboxes"] {
            let Ok(entries) = std::fs::read_dir(self.root.join(directory)) else {
                continue;
            };
            files.extend(
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("kdl"))),
            );
        }
        files.sort();
        files
    }

    /// Loads the manifests that `targets` name (files, or experiment names found in the
    /// default files) and prints their warnings to stderr.
    pub fn load(&self, targets: &[String]) -> Result<Loaded, Error> {
        let loaded = self.load_quietly(targets)?;
        for warning in &loaded.manifests.warnings {
            crate::console::errln!("{:?}", miette::Report::new(warning.clone()));
        }
        Ok(loaded)
    }

    /// [`Project::load`], or no manifests at all (only the built-in `host` toolbox) when the
    /// project has none yet: for commands that are about this machine, not an experiment.
    pub fn load_if_any(&self, targets: &[String]) -> Result<Loaded, Error> {
        if targets.is_empty() && self.default_files().is_empty() {
            return Ok(Loaded { manifests: manifest::load(&self.root, &[])?, selected: Vec::new() });
        }
        self.load(targets)
    }

    /// [`Project::load`] without printing the warnings (for a second load in one command).
    pub fn load_quietly(&self, targets: &[String]) -> Result<Loaded, Error> {
        let (files, names): (Vec<&String>, Vec<&String>) = targets.iter().partition(|target| {
            let path = Path::new(target);
            path.is_file() || path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("kdl"))
        });
        let given = !files.is_empty();
        let files: Vec<PathBuf> = if given { files.iter().map(PathBuf::from).collect() } else { self.default_files() };
        if files.is_empty() {
            return Err(Error::NoExperiments { directory: self.root.join("experiments").display().to_string() });
        }
        // Experiments named from the default files: a broken file none of them depends on is
        // left out with a warning, so that it does not stop work on the others.
        let manifests = if given {
            manifest::load(&self.root, &files)?
        } else {
            let named: Vec<String> = names.iter().map(|name| (*name).clone()).collect();
            manifest::load_for(&self.root, &files, &named)?
        };
        let selected = if names.is_empty() {
            let named: Vec<PathBuf> = files.iter().filter_map(|file| file.canonicalize().ok()).collect();
            manifests
                .experiments
                .iter()
                .filter(|experiment| targets.is_empty() || named.contains(&manifests.sources.get(experiment.file).path))
                .map(|experiment| experiment.name.value.clone())
                .collect()
        } else {
            let mut selected = Vec::new();
            for name in names {
                if manifests.experiment(name).is_none() {
                    let known = manifests.experiments.iter().map(|experiment| experiment.name.value.as_str());
                    return Err(Error::UnknownExperiment {
                        name: name.clone(),
                        help: suggest::help_for(name, known, "experiments"),
                    });
                }
                selected.push(name.clone());
            }
            selected
        };
        Ok(Loaded { manifests, selected })
    }

    /// This host's facts (probed, or from `--host-facts`), named as `--host-name` says.
    pub fn host(&self) -> Result<HostFacts, Error> {
        let mut facts = match &self.host_facts {
            Some(path) => HostFacts::load(path)?,
            None => HostFacts::probe(),
        };
        if let Some(name) = &self.host_name {
            name.trim().clone_into(&mut facts.name);
        }
        facts.storage = self.storage.as_ref().map(|storage| storage.root().display().to_string());
        Ok(facts)
    }

    /// [`Project::host`], with podman asked meanwhile about the container toolboxes the
    /// experiments use (both wait on other processes, and the host's Vulkan probe takes as long
    /// as podman's answers): the next resolve's inspection takes those answers instead of
    /// asking again. Nothing is asked when planning for another machine.
    pub fn host_and_containers(&self, loaded: &Loaded) -> Result<HostFacts, Error> {
        if self.host_facts.is_some() {
            return self.host();
        }
        let toolboxes = used_toolboxes(loaded, &loaded.experiments());
        let (host, asked) = std::thread::scope(|scope| {
            let asked = scope.spawn(|| crate::toolbox::Asked::ask(&toolboxes));
            (self.host(), asked.join().unwrap_or_default())
        });
        *self.asked.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = asked;
        host
    }

    pub fn lock(&self) -> Result<Option<LockFile>, Error> {
        Ok(LockFile::load(&self.lock_path)?)
    }

    /// Every cell of the selected experiments, fingerprinted against this host and the inputs.
    pub fn resolve(&self, loaded: &Loaded, host: &HostFacts) -> Result<Vec<ResolvedCell>, Error> {
        Ok(self.resolve_with(loaded, host, true)?.0)
    }

    /// [`Project::resolve`], also returning what inspection found in each toolbox (the image
    /// ids a run launches).
    pub fn resolve_with_toolboxes(
        &self,
        loaded: &Loaded,
        host: &HostFacts,
    ) -> Result<(Vec<ResolvedCell>, BTreeMap<String, ToolboxState>), Error> {
        self.resolve_with(loaded, host, true)
    }

    /// [`Project::resolve`] without running anything in a toolbox: image digests and llama.cpp
    /// builds are taken from the lock. Enough to find each cell's results in the store.
    pub fn resolve_uninspected(&self, loaded: &Loaded, host: &HostFacts) -> Result<Vec<ResolvedCell>, Error> {
        Ok(self.resolve_with(loaded, host, false)?.0)
    }

    fn resolve_with(
        &self,
        loaded: &Loaded,
        host: &HostFacts,
        inspect: bool,
    ) -> Result<(Vec<ResolvedCell>, BTreeMap<String, ToolboxState>), Error> {
        let experiments = loaded.experiments();
        let lock = self.lock()?;
        let mut cache = StatCache::open(StatCache::default_path());
        let toolboxes = if inspect { self.inspectable(loaded, &experiments, host) } else { Vec::new() };
        // Hashing models and inspecting toolboxes both wait on other processes and disks.
        let (digests, inspected) = std::thread::scope(|scope| {
            // The llama.cpp tools command cells run, whose options are checked like llama-bench's.
            let mut programs: std::collections::BTreeSet<String> = experiments
                .iter()
                .filter_map(|experiment| experiment.command.as_ref()?.args.first())
                .map(|program| program.text.clone())
                .filter(|program| program.starts_with("llama-") && !program.contains(['{', '/']))
                .collect();
            if experiments.iter().any(|experiment| experiment.quality.is_some()) {
                programs.insert("llama-perplexity".to_owned());
            }
            let asked = std::mem::take(&mut *self.asked.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            let inspection = scope.spawn(move || toolbox_states(&toolboxes, self.no_cache, &programs, asked));
            let needed = needed(&loaded.manifests, &experiments);
            let digests = gather(&loaded.manifests, &needed, &self.roots, &mut cache, lock.as_ref());
            (digests, inspection.join().expect("the inspection thread panicked"))
        });
        // A cache that cannot be saved only costs a rehash next time.
        let _ = cache.save();
        let mut digests = digests.map_err(Error::LockMismatches)?;
        let mut mismatches = Vec::new();
        let mut drift: Vec<LockDrift> = Vec::new();
        for (name, found) in inspected {
            if let Some(lock) = &lock {
                let seen = Found { digest: found.digest.as_deref(), llama_cpp: found.llama_cpp.as_deref() };
                let check = lock.check_toolbox(&name, seen, &host.id);
                mismatches.extend(check.mismatches);
                drift.extend(check.drift);
            }
            let pinned = digests.toolboxes.entry(name).or_default();
            *pinned = ToolboxState {
                digest: found.digest.or(pinned.digest.take()),
                llama_cpp: found.llama_cpp.or(pinned.llama_cpp.take()),
                ..found
            };
        }
        if !mismatches.is_empty() {
            return Err(Error::LockMismatches(mismatches));
        }
        let cells: Vec<(&Experiment, Cell)> = experiments
            .iter()
            .flat_map(|experiment| expand(experiment).into_iter().map(move |cell| (*experiment, cell)))
            .collect();
        drift.sort();
        let mut resolved = parallel::map_owned(cells, |(experiment, cell)| {
            let mut resolved = resolve_cell(&loaded.manifests, experiment, cell, &digests, host);
            resolved.drift = drift.iter().filter(|drift| drift.toolbox == resolved.toolbox).cloned().collect();
            resolved
        });
        crate::fingerprint::link_quality(&loaded.manifests, &mut resolved, &digests);
        Ok((resolved, digests.toolboxes))
    }

    /// The toolboxes the experiments use that can be inspected here: none when planning for
    /// another machine (`--host-facts`), and only those whose requirements this host meets.
    pub fn inspectable<'a>(
        &self,
        loaded: &'a Loaded,
        experiments: &[&Experiment],
        host: &HostFacts,
    ) -> Vec<&'a Toolbox> {
        if self.host_facts.is_some() {
            return Vec::new();
        }
        used_toolboxes(loaded, experiments)
            .into_iter()
            .filter(|toolbox| toolbox.requires.iter().all(|requirement| requirement.value.check(host).is_ok()))
            .collect()
    }

    /// Every record in the store; a corrupt one is reported on stderr and skipped, so that one
    /// bad file does not hide the rest.
    pub fn records(&self) -> Vec<CellRecord> {
        let (records, errors) = self.store.scan();
        for error in errors {
            crate::console::errln!("{:?}", miette::Report::new(error));
        }
        records
    }

    /// Decides each cell against the store. Earlier records are read only when some cell has
    /// no result, to explain what changed.
    pub fn plan(&self, cells: Vec<ResolvedCell>, selection: &Selection) -> Result<Vec<PlannedCell>, Error> {
        Ok(self.plan_with_history(cells, selection)?.0)
    }

    /// [`Project::plan`], also returning the earlier records it read (empty when every cell
    /// had a result), so that a run can estimate durations without reading the store again.
    pub fn plan_with_history(
        &self,
        cells: Vec<ResolvedCell>,
        selection: &Selection,
    ) -> Result<(Vec<PlannedCell>, Vec<CellRecord>), Error> {
        selection
            .check(&cells)
            .map_err(|unmatched| Error::UnmatchedSelector { message: unmatched.message, help: unmatched.help })?;
        let mut heads = HashMap::new();
        let mut cells = cells;
        let found = parallel::map(&cells, |cell| self.store.head(&cell.hash));
        for (cell, head) in cells.iter_mut().zip(found) {
            match head {
                Ok(Some(head)) => {
                    heads.insert(cell.hash.clone(), head);
                }
                Ok(None) => {}
                // Not run over: running the cell would replace a file someone may restore.
                Err(error) => {
                    let reason = format!("{error}: restore it from git, or delete it so that the cell runs again");
                    cell.blocked.push(reason);
                }
            }
        }
        let history: Vec<CellRecord> =
            if cells.iter().any(|cell| !heads.contains_key(&cell.hash)) { self.records() } else { Vec::new() };
        let current: Vec<String> = cells.iter().map(|cell| cell.hash.clone()).collect();
        // A quality reference `--only` leaves out still writes a base a selected candidate needs.
        let references: Vec<ResolvedCell> =
            cells.iter().filter(|cell| cell.base.as_ref().is_some_and(|base| base.writes)).cloned().collect();
        let mut planned = decide(cells, &heads, &History::new(&history, current.iter().map(String::as_str)), selection);
        if planned.iter().any(|planned| planned.cell.base.is_some()) {
            let store = &self.store;
            let present = |hash: &str| store.base_path(hash).is_file();
            crate::plan::settle_bases(&mut planned, &references, present, store.free_bytes());
        }
        Ok((planned, history))
    }
}

/// The toolboxes `experiments` run in, as `loaded`'s manifests declare them.
fn used_toolboxes<'a>(loaded: &'a Loaded, experiments: &[&Experiment]) -> Vec<&'a Toolbox> {
    let used: BTreeSet<&str> = experiments.iter().flat_map(|experiment| experiment.axis_values("toolbox")).collect();
    loaded.manifests.toolboxes.values().filter(|toolbox| used.contains(toolbox.name.value.as_str())).collect()
}
