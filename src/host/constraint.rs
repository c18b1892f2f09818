//! Toolbox requirements on the host (kernel, firmware, devices, …) and their evaluation.

use std::cmp::Ordering;
use std::fmt;

use super::facts::HostFacts;
use crate::glob::glob_match;

/// Which host fact a requirement is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    Kernel,
    Firmware,
    Memory,
    Device,
    Cpu,
    Gpu,
    Os,
    /// A parameter of the kernel command line (`kernel-param "amd_iommu" "off"`).
    KernelParam,
}

impl Fact {
    pub const NAMES: [&'static str; 8] = ["kernel", "firmware", "memory", "device", "cpu", "gpu", "os", "kernel-param"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "kernel" => Self::Kernel,
            "firmware" => Self::Firmware,
            "memory" => Self::Memory,
            "device" => Self::Device,
            "cpu" => Self::Cpu,
            "gpu" => Self::Gpu,
            "os" => Self::Os,
            "kernel-param" => Self::KernelParam,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Operator {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Equal => ordering == Ordering::Equal,
            Self::NotEqual => ordering != Ordering::Equal,
            Self::Less => ordering == Ordering::Less,
            Self::LessOrEqual => ordering != Ordering::Greater,
            Self::Greater => ordering == Ordering::Greater,
            Self::GreaterOrEqual => ordering != Ordering::Less,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Less => "<",
            Self::LessOrEqual => "<=",
            Self::Greater => ">",
            Self::GreaterOrEqual => ">=",
        }
    }
}

/// One comparison such as `>=6.18.4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub operator: Operator,
    pub version: String,
}

/// What the fact must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Every comparison holds (comma-joined in the manifest).
    Versions(Vec<Comparison>),
    /// Memory in bytes, compared numerically.
    Bytes(Vec<(Operator, u64)>),
    /// A glob that some value of the fact matches (device nodes, CPU, GPU, OS names).
    Pattern(String),
    /// Kernel parameter `name`: numbers compared (sizes as for memory), or a glob its value
    /// matches.
    Param { name: String, numbers: Vec<(Operator, u64)>, pattern: Option<String> },
}

/// Why a requirement's text cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementSyntax {
    #[error("name the parameter first: `kernel-param \"NAME\" \"VALUE\"`")]
    UnnamedParameter,
    #[error("the pattern is empty")]
    EmptyPattern,
    #[error("`{0}` is not a kernel parameter name")]
    ParameterName(String),
    #[error("`{0}` has no version after the operator")]
    NoVersion(String),
    #[error("`{0}` is not a version; join several comparisons with `,`")]
    NotVersion(String),
    #[error("`{0}` is not a size such as `64GiB`")]
    NotSize(String),
    #[error("unknown unit in `{0}`; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB")]
    UnknownUnit(String),
    #[error("`{0}` is too large")]
    TooLarge(String),
}

/// A parsed requirement, as written under a toolbox's `requires` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub fact: Fact,
    pub condition: Condition,
    pub reason: Option<String>,
}

impl Requirement {
    /// Parses the manifest text for `fact`; the error says what is wrong with it.
    pub fn parse(fact: Fact, text: &str, reason: Option<String>) -> Result<Self, RequirementSyntax> {
        let condition = match fact {
            Fact::Kernel | Fact::Firmware => Condition::Versions(parse_comparisons(text)?),
            Fact::Memory => Condition::Bytes(
                parse_comparisons(text)?
                    .into_iter()
                    .map(|comparison| Ok((comparison.operator, parse_bytes(&comparison.version)?)))
                    .collect::<Result<_, RequirementSyntax>>()?,
            ),
            Fact::KernelParam => return Err(RequirementSyntax::UnnamedParameter),
            Fact::Device | Fact::Cpu | Fact::Gpu | Fact::Os => {
                if text.trim().is_empty() {
                    return Err(RequirementSyntax::EmptyPattern);
                }
                Condition::Pattern(text.to_owned())
            }
        };
        Ok(Self { fact, condition, reason })
    }

    /// `kernel-param "name" "text"`: `text` starting with a comparison (`>=33554432`, `<=64G`)
    /// compares the value as a number; anything else is a glob the value must match (`off`).
    pub fn kernel_param(name: &str, text: &str, reason: Option<String>) -> Result<Self, RequirementSyntax> {
        if name.trim().is_empty() || name.contains(char::is_whitespace) || name.contains('=') {
            return Err(RequirementSyntax::ParameterName(name.to_owned()));
        }
        let text = text.trim();
        let (numbers, pattern) = if text.starts_with(['<', '>', '=', '!']) {
            let numbers = parse_comparisons(text)?
                .into_iter()
                .map(|comparison| Ok((comparison.operator, parse_bytes(&comparison.version)?)))
                .collect::<Result<_, RequirementSyntax>>()?;
            (numbers, None)
        } else {
            (Vec::new(), Some(text.to_owned()))
        };
        Ok(Self {
            fact: Fact::KernelParam,
            condition: Condition::Param { name: name.to_owned(), numbers, pattern },
            reason,
        })
    }

    /// Whether `facts` satisfy this requirement; `Err` says why not.
    pub fn check(&self, facts: &HostFacts) -> Result<(), String> {
        let fact = self.fact.name();
        let failure = |have: &str| {
            let mut message = format!("requires {fact} {self}, host has {have}");
            if let Some(reason) = &self.reason {
                message.push_str(": ");
                message.push_str(reason);
            }
            Err(message)
        };
        match &self.condition {
            Condition::Versions(comparisons) => {
                let value = match self.fact {
                    Fact::Kernel => Some(facts.kernel.as_str()).filter(|kernel| !kernel.is_empty()),
                    _ => facts.firmware.as_deref(),
                };
                let Some(value) = value else {
                    return failure(&format!("no known {fact} version"));
                };
                if comparisons
                    .iter()
                    .all(|comparison| comparison.operator.holds(compare_versions(value, &comparison.version)))
                {
                    Ok(())
                } else {
                    failure(&format!("`{value}`"))
                }
            }
            Condition::Bytes(comparisons) => {
                let memory = facts.memory_bytes;
                if comparisons.iter().all(|(operator, bytes)| operator.holds(memory.cmp(bytes))) {
                    Ok(())
                } else {
                    failure(&crate::units::format_bytes(memory))
                }
            }
            Condition::Param { name, numbers, pattern } => {
                if facts.cmdline.is_empty() {
                    return failure("no known kernel command line");
                }
                let Some(value) = facts.kernel_param(name) else {
                    return failure(&format!("no `{name}` on its kernel command line"));
                };
                let holds = match pattern {
                    Some(pattern) => glob_match(pattern, value),
                    None => parse_bytes(value)
                        .is_ok_and(|number| numbers.iter().all(|(operator, bound)| operator.holds(number.cmp(bound)))),
                };
                if holds { Ok(()) } else { failure(&format!("`{name}={value}`")) }
            }
            Condition::Pattern(pattern) => {
                let values: Vec<&str> = match self.fact {
                    Fact::Device => facts.devices.iter().map(String::as_str).collect(),
                    Fact::Gpu => facts.gpu_list().iter().map(String::as_str).collect(),
                    Fact::Cpu => vec![facts.cpu.as_str()],
                    _ => vec![facts.os.as_str()],
                };
                if values.iter().any(|value| glob_match(pattern, value)) {
                    Ok(())
                } else if values.is_empty() {
                    failure("none")
                } else {
                    let listed: Vec<String> = values.iter().map(|value| format!("`{value}`")).collect();
                    failure(&listed.join(", "))
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.condition {
            Condition::Versions(comparisons) => {
                let parts: Vec<String> = comparisons
                    .iter()
                    .map(|comparison| format!("{} {}", comparison.operator.symbol(), comparison.version))
                    .collect();
                formatter.write_str(&parts.join(", "))
            }
            Condition::Bytes(comparisons) => {
                let parts: Vec<String> = comparisons
                    .iter()
                    .map(|(operator, bytes)| format!("{} {}", operator.symbol(), crate::units::format_bytes(*bytes)))
                    .collect();
                formatter.write_str(&parts.join(", "))
            }
            Condition::Pattern(pattern) => write!(formatter, "`{pattern}`"),
            Condition::Param { name, numbers, pattern } => {
                write!(formatter, "`{name}` ")?;
                match pattern {
                    Some(pattern) => write!(formatter, "`{pattern}`"),
                    None => {
                        let parts: Vec<String> = numbers
                            .iter()
                            .map(|(operator, number)| format!("{} {number}", operator.symbol()))
                            .collect();
                        formatter.write_str(&parts.join(", "))
                    }
                }
            }
        }
    }
}

fn parse_comparisons(text: &str) -> Result<Vec<Comparison>, RequirementSyntax> {
    let mut comparisons = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (operator, rest) = [
            (">=", Operator::GreaterOrEqual),
            ("<=", Operator::LessOrEqual),
            ("!=", Operator::NotEqual),
            ("==", Operator::Equal),
            ("=", Operator::Equal),
            (">", Operator::Greater),
            ("<", Operator::Less),
        ]
        .iter()
        .find_map(|(symbol, operator)| part.strip_prefix(symbol).map(|rest| (*operator, rest)))
        .unwrap_or((Operator::Equal, part));
        let version = rest.trim();
        if version.is_empty() {
            return Err(RequirementSyntax::NoVersion(part.to_owned()));
        }
        if version.contains(['<', '>', '=', '!', ' ']) {
            return Err(RequirementSyntax::NotVersion(version.to_owned()));
        }
        comparisons.push(Comparison { operator, version: version.to_owned() });
    }
    Ok(comparisons)
}

/// `64GiB`, `128G`, `1000000` → bytes.
fn parse_bytes(text: &str) -> Result<u64, RequirementSyntax> {
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number: u64 = number.parse().map_err(|_| RequirementSyntax::NotSize(text.to_owned()))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(RequirementSyntax::UnknownUnit(text.to_owned())),
    };
    number.checked_mul(multiplier).ok_or_else(|| RequirementSyntax::TooLarge(text.to_owned()))
}

/// Compares versions component by component: runs of digits numerically, other runs as text.
/// Only as many components as `wanted` has are compared, so `6.18` matches `6.18.9-200.fc43`.
pub fn compare_versions(have: &str, wanted: &str) -> Ordering {
    let have = components(have);
    let wanted = components(wanted);
    for (index, want) in wanted.iter().enumerate() {
        let Some(got) = have.get(index) else {
            return Ordering::Less;
        };
        let ordering = match (got.parse::<u128>(), want.parse::<u128>()) {
            (Ok(got), Ok(want)) => got.cmp(&want),
            _ => got.cmp(want),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

fn components(version: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = None;
    let mut numeric = false;
    for (index, character) in version.char_indices() {
        let is_digit = character.is_ascii_digit();
        let is_part = character.is_ascii_alphanumeric();
        match start {
            Some(begin) if !is_part || is_digit != numeric => {
                parts.push(&version[begin..index]);
                start = is_part.then_some(index);
                numeric = is_digit;
            }
            None if is_part => {
                start = Some(index);
                numeric = is_digit;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        parts.push(&version[begin..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> HostFacts {
        HostFacts {
            kernel: "6.18.9-200.fc43.x86_64".to_owned(),
            firmware: Some("20251125".to_owned()),
            memory_bytes: 128 << 30,
            devices: vec!["/dev/kfd".to_owned(), "/dev/dri/renderD128".to_owned()],
            gpus: Some(vec!["AMD Radeon 8060S (gfx1151)".to_owned()]),
            cmdline: "BOOT_IMAGE=/vmlinuz-6.18.9 root=UUID=1 amd_iommu=off amdgpu.gttsize=131072 \
                      ttm.pages_limit=33554432 quiet -- init-arg=1"
                .to_owned(),
            ..HostFacts::default()
        }
    }

    #[test]
    fn versions_compare_numerically_and_by_prefix() {
        assert_eq!(compare_versions("6.18.9-200.fc43", "6.18.4"), Ordering::Greater);
        assert_eq!(compare_versions("6.9", "6.18"), Ordering::Less);
        assert_eq!(compare_versions("6.18.9-200", "6.18"), Ordering::Equal);
        assert_eq!(compare_versions("20230210-5", "20251125"), Ordering::Less);
        assert_eq!(compare_versions("6", "6.1"), Ordering::Less);
    }

    #[test]
    fn kernel_and_firmware_requirements() {
        let facts = facts();
        let kernel = Requirement::parse(Fact::Kernel, ">=6.18.4, <6.20", None).unwrap();
        assert!(kernel.check(&facts).is_ok());
        let firmware = Requirement::parse(Fact::Firmware, "!=20251125", Some("breaks ROCm".to_owned())).unwrap();
        assert_eq!(
            firmware.check(&facts).unwrap_err(),
            "requires firmware != 20251125, host has `20251125`: breaks ROCm"
        );
        let unknown = HostFacts { firmware: None, ..facts };
        assert_eq!(
            firmware.check(&unknown).unwrap_err(),
            "requires firmware != 20251125, host has no known firmware version: breaks ROCm"
        );
    }

    #[test]
    fn devices_gpus_and_memory() {
        let facts = facts();
        assert!(Requirement::parse(Fact::Device, "/dev/kfd", None).unwrap().check(&facts).is_ok());
        assert!(Requirement::parse(Fact::Device, "/dev/dri/render*", None).unwrap().check(&facts).is_ok());
        assert!(Requirement::parse(Fact::Device, "/dev/nvidia0", None).unwrap().check(&facts).is_err());
        assert!(Requirement::parse(Fact::Gpu, "*gfx1151*", None).unwrap().check(&facts).is_ok());
        assert!(Requirement::parse(Fact::Memory, ">=64GiB", None).unwrap().check(&facts).is_ok());
        assert!(Requirement::parse(Fact::Memory, ">=256GiB", None).unwrap().check(&facts).is_err());
    }

    #[test]
    fn malformed_requirements_say_why() {
        assert!(Requirement::parse(Fact::Kernel, ">=", None).unwrap_err().to_string().contains("no version"));
        assert!(Requirement::parse(Fact::Kernel, ">=6 <7", None).unwrap_err().to_string().contains("join several"));
        assert!(
            Requirement::parse(Fact::Memory, ">=64parsecs", None).unwrap_err().to_string().contains("unknown unit")
        );
    }

    #[test]
    fn kernel_params_compare_as_numbers_or_match_a_glob() {
        let check = |name: &str, text: &str| Requirement::kernel_param(name, text, None).unwrap().check(&facts());
        assert_eq!(check("amd_iommu", "off"), Ok(()));
        assert_eq!(check("ttm.pages_limit", ">=33554432"), Ok(()));
        assert_eq!(check("amdgpu.gttsize", ">=64K, <1M"), Ok(()));
        assert_eq!(check("quiet", ""), Ok(()), "a flag without a value has the empty value");
        assert_eq!(
            check("ttm.pages_limit", ">33554432"),
            Err("requires kernel-param `ttm.pages_limit` > 33554432, host has `ttm.pages_limit=33554432`".to_owned())
        );
        assert_eq!(
            check("iommu", "pt"),
            Err("requires kernel-param `iommu` `pt`, host has no `iommu` on its kernel command line".to_owned())
        );
        // What follows `--` is init's, not the kernel's.
        assert!(check("init-arg", "1").is_err());
        let unknown = HostFacts { cmdline: String::new(), ..facts() };
        let reason = Requirement::kernel_param("amd_iommu", "off", Some("Strix Halo guides".to_owned()))
            .unwrap()
            .check(&unknown)
            .unwrap_err();
        assert_eq!(
            reason,
            "requires kernel-param `amd_iommu` `off`, host has no known kernel command line: Strix Halo guides"
        );
        assert!(Requirement::kernel_param("bad name", "1", None).is_err());
        assert!(Requirement::kernel_param("ttm.pages_limit", ">=lots", None).is_err());
    }
}
