//! The host facts that enter a cell's fingerprint.

use serde::{Deserialize, Serialize};

use super::facts::HostFacts;

/// The host facts that can change a result, and the host's id so that two machines never write
/// one record; the host's name and OS label do not enter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPrint {
    pub cpu: String,
    pub firmware: Option<String>,
    pub gpus: Vec<String>,
    /// Empty in fingerprints written before hosts had ids, which then still hash as they did.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub kernel: String,
    pub memory_bytes: u64,
}

impl HostPrint {
    pub fn of(facts: &HostFacts) -> Self {
        Self {
            cpu: facts.cpu.clone(),
            gpus: facts.gpu_list().to_vec(),
            id: facts.id.clone(),
            memory_bytes: facts.memory_bytes,
            kernel: facts.kernel.clone(),
            firmware: facts.firmware.clone(),
        }
    }
}

impl HostFacts {
    /// The key results are grouped by: the host id, or for records written before hosts had
    /// ids, a hash of the facts that matter.
    pub fn identity(&self) -> String {
        if self.id.is_empty() {
            let print = HostPrint::of(self);
            let json = serde_json::to_vec(&print).expect("host facts always serialise");
            crate::digest::hex(&<sha2::Sha256 as sha2::Digest>::digest(&json))[..16].to_owned()
        } else {
            self.id.clone()
        }
    }
}
