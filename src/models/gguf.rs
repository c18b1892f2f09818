//! A reader of GGUF headers: the metadata a model inventory shows (architecture, file type,
//! context length, experts) and the parameter count from the tensor table, without reading
//! any weights.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use serde::Serialize;

/// Limits that keep a corrupt header from asking for absurd allocations or loops.
const MOST_KEYS: u64 = 1 << 20;
const MOST_TENSORS: u64 = 1 << 24;
const LONGEST_STRING: u64 = 1 << 24;
const MOST_DIMENSIONS: u32 = 8;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GgufInfo {
    pub version: u32,
    pub architecture: Option<String>,
    pub name: Option<String>,
    /// `general.file_type` as llama.cpp names it (`Q4_K_M`), or its number when unknown.
    pub file_type: Option<String>,
    /// Weights in this file (all shards, when the caller adds them up).
    pub parameters: u64,
    pub tensors: u64,
    pub context_length: Option<u64>,
    pub expert_count: Option<u64>,
    pub expert_used_count: Option<u64>,
    /// `(split.no, split.count)` for a shard of a split model.
    pub split: Option<(u64, u64)>,
    /// How many tokens its vocabulary has (`tokenizer.ggml.tokens`): two models compare their
    /// next-token distributions only over one vocabulary.
    pub vocab_size: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum GgufError {
    #[error("not a GGUF file (it starts with {0})")]
    NotGguf(String),
    #[error("GGUF version {0} is not supported (versions 2 and 3 are)")]
    UnsupportedVersion(u32),
    #[error("truncated: the file ends inside its header, at byte {0}")]
    Truncated(u64),
    #[error("corrupt header at byte {offset}: {what}")]
    Corrupt { offset: u64, what: String },
    #[error("cannot read it: {0}")]
    Io(String),
}

/// Reads the header of the GGUF file at `path`.
pub(crate) fn read(path: &Path) -> Result<GgufInfo, GgufError> {
    let file = File::open(path).map_err(|error| GgufError::Io(error.to_string()))?;
    parse(BufReader::with_capacity(1 << 16, file))
}

/// Parses a GGUF header from `input`.
pub(crate) fn parse(input: impl Read) -> Result<GgufInfo, GgufError> {
    let mut reader = Reader { input, offset: 0 };
    let mut magic = [0u8; 4];
    reader
        .bytes(&mut magic)
        .map_err(|_| GgufError::NotGguf(hex_bytes(&magic[..usize::try_from(reader.offset).unwrap_or(0)])))?;
    if &magic != b"GGUF" {
        return Err(GgufError::NotGguf(hex_bytes(&magic)));
    }
    let version = reader.u32()?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion(version));
    }
    let tensors = reader.u64()?;
    let keys = reader.u64()?;
    if tensors > MOST_TENSORS || keys > MOST_KEYS {
        return Err(reader.corrupt(format!("{tensors} tensors and {keys} metadata keys")));
    }
    let mut info = GgufInfo { version, tensors, ..GgufInfo::default() };
    let mut numbers: Vec<(String, u64)> = Vec::new();
    for _ in 0..keys {
        let key = reader.string()?;
        let kind = reader.u32()?;
        match reader.value(kind)? {
            Value::Text(text) => match key.as_str() {
                "general.architecture" => info.architecture = Some(text),
                "general.name" => info.name = Some(text),
                _ => {}
            },
            Value::Number(number) => numbers.push((key, number)),
            Value::Array(count) if key == "tokenizer.ggml.tokens" => info.vocab_size = Some(count),
            Value::Array(_) | Value::Other => {}
        }
    }
    let number = |key: &str| numbers.iter().find(|(name, _)| name == key).map(|(_, value)| *value);
    info.file_type = number("general.file_type").map(file_type_name);
    if let Some(architecture) = &info.architecture {
        info.context_length = number(&format!("{architecture}.context_length"));
        info.expert_count = number(&format!("{architecture}.expert_count")).filter(|count| *count > 0);
        info.expert_used_count = number(&format!("{architecture}.expert_used_count")).filter(|count| *count > 0);
    }
    info.split = number("split.no").zip(number("split.count")).filter(|(_, count)| *count > 1);
    for _ in 0..tensors {
        reader.string()?;
        let dimensions = reader.u32()?;
        if dimensions > MOST_DIMENSIONS {
            return Err(reader.corrupt(format!("a tensor with {dimensions} dimensions")));
        }
        let mut elements: u64 = 1;
        for _ in 0..dimensions {
            elements = elements.saturating_mul(reader.u64()?);
        }
        reader.u32()?; // the tensor's type
        reader.u64()?; // its offset in the data
        info.parameters = info.parameters.saturating_add(elements);
    }
    Ok(info)
}

enum Value {
    Text(String),
    Number(u64),
    /// An array, skipped: how many elements it has.
    Array(u64),
    Other,
}

struct Reader<R> {
    input: R,
    offset: u64,
}

impl<R: Read> Reader<R> {
    fn bytes(&mut self, buffer: &mut [u8]) -> Result<(), GgufError> {
        let mut filled = 0;
        while filled < buffer.len() {
            match self.input.read(&mut buffer[filled..]) {
                Ok(0) => return Err(GgufError::Truncated(self.offset)),
                Ok(count) => {
                    filled += count;
                    self.offset += count as u64;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(GgufError::Io(error.to_string())),
            }
        }
        Ok(())
    }

    fn skip(&mut self, count: u64) -> Result<(), GgufError> {
        let copied = io::copy(&mut (&mut self.input).take(count), &mut io::sink())
            .map_err(|error| GgufError::Io(error.to_string()))?;
        self.offset += copied;
        if copied < count { Err(GgufError::Truncated(self.offset)) } else { Ok(()) }
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        let mut buffer = [0u8; 4];
        self.bytes(&mut buffer)?;
        Ok(u32::from_le_bytes(buffer))
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        let mut buffer = [0u8; 8];
        self.bytes(&mut buffer)?;
        Ok(u64::from_le_bytes(buffer))
    }

    fn corrupt(&self, what: String) -> GgufError {
        GgufError::Corrupt { offset: self.offset, what }
    }

    fn string(&mut self) -> Result<String, GgufError> {
        let length = self.u64()?;
        if length > LONGEST_STRING {
            return Err(self.corrupt(format!("a string of {length} bytes")));
        }
        let mut buffer = vec![0u8; usize::try_from(length).unwrap_or(0)];
        self.bytes(&mut buffer)?;
        String::from_utf8(buffer).map_err(|_| self.corrupt("a string that is not UTF-8".to_owned()))
    }

    /// Reads a value of GGUF type `kind`; arrays (token lists, mostly) are skipped.
    fn value(&mut self, kind: u32) -> Result<Value, GgufError> {
        let mut buffer = [0u8; 8];
        Ok(match kind {
            0 | 1 | 7 => {
                self.bytes(&mut buffer[..1])?;
                Value::Number(u64::from(buffer[0]))
            }
            2 | 3 => {
                self.bytes(&mut buffer[..2])?;
                Value::Number(u64::from(u16::from_le_bytes([buffer[0], buffer[1]])))
            }
            4 | 5 => Value::Number(u64::from(self.u32()?)),
            10 | 11 => Value::Number(self.u64()?),
            6 => {
                self.skip(4)?;
                Value::Other
            }
            12 => {
                self.skip(8)?;
                Value::Other
            }
            8 => Value::Text(self.string()?),
            9 => {
                let element = self.u32()?;
                let count = self.u64()?;
                match element_size(element) {
                    Some(size) => self.skip(count.saturating_mul(size))?,
                    None if element == 8 => {
                        for _ in 0..count {
                            let length = self.u64()?;
                            if length > LONGEST_STRING {
                                return Err(self.corrupt(format!("a string of {length} bytes")));
                            }
                            self.skip(length)?;
                        }
                    }
                    None => return Err(self.corrupt(format!("an array of unknown type {element}"))),
                }
                Value::Array(count)
            }
            other => return Err(self.corrupt(format!("a value of unknown type {other}"))),
        })
    }
}

fn element_size(kind: u32) -> Option<u64> {
    match kind {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

fn hex_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing: it is empty".to_owned();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" ")
}

/// llama.cpp's `llama_ftype` names.
fn file_type_name(number: u64) -> String {
    let name = match number {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        other => return format!("file type {other}"),
    };
    name.to_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small GGUF header: two strings, a number, an array of strings, two tensors.
    pub(crate) fn header() -> Vec<u8> {
        let mut bytes = b"GGUF".to_vec();
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(2u64.to_le_bytes());
        bytes.extend(5u64.to_le_bytes());
        let string = |bytes: &mut Vec<u8>, text: &str| {
            bytes.extend((text.len() as u64).to_le_bytes());
            bytes.extend(text.as_bytes());
        };
        string(&mut bytes, "general.architecture");
        bytes.extend(8u32.to_le_bytes());
        string(&mut bytes, "qwen3moe");
        string(&mut bytes, "general.file_type");
        bytes.extend(4u32.to_le_bytes());
        bytes.extend(15u32.to_le_bytes());
        string(&mut bytes, "tokenizer.ggml.tokens");
        bytes.extend(9u32.to_le_bytes());
        bytes.extend(8u32.to_le_bytes());
        bytes.extend(2u64.to_le_bytes());
        string(&mut bytes, "<s>");
        string(&mut bytes, "</s>");
        string(&mut bytes, "qwen3moe.context_length");
        bytes.extend(4u32.to_le_bytes());
        bytes.extend(40_960u32.to_le_bytes());
        string(&mut bytes, "qwen3moe.expert_count");
        bytes.extend(4u32.to_le_bytes());
        bytes.extend(128u32.to_le_bytes());
        for (name, dimensions) in [("token_embd.weight", [2048u64, 151_936]), ("output.weight", [2048, 10])] {
            string(&mut bytes, name);
            bytes.extend(2u32.to_le_bytes());
            for dimension in dimensions {
                bytes.extend(dimension.to_le_bytes());
            }
            bytes.extend(12u32.to_le_bytes());
            bytes.extend(0u64.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn reads_metadata_and_counts_parameters() {
        let info = parse(header().as_slice()).unwrap();
        assert_eq!(info.architecture.as_deref(), Some("qwen3moe"));
        assert_eq!(info.file_type.as_deref(), Some("Q4_K_M"));
        assert_eq!(info.context_length, Some(40_960));
        assert_eq!(info.expert_count, Some(128));
        assert_eq!(info.vocab_size, Some(2));
        assert_eq!(info.parameters, 2048 * 151_936 + 2048 * 10);
        assert_eq!(info.tensors, 2);
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let bytes = header();
        for length in 0..bytes.len() {
            let error = parse(&bytes[..length]).unwrap_err();
            assert!(matches!(error, GgufError::Truncated(_) | GgufError::NotGguf(_)), "{length} bytes: {error}");
        }
    }

    #[test]
    fn garbage_is_named_as_such() {
        assert_eq!(parse(&b"junk and more"[..]).unwrap_err(), GgufError::NotGguf("6a 75 6e 6b".to_owned()));
        assert_eq!(parse(&b""[..]).unwrap_err(), GgufError::NotGguf("nothing: it is empty".to_owned()));
        let mut huge = b"GGUF".to_vec();
        huge.extend(3u32.to_le_bytes());
        huge.extend(u64::MAX.to_le_bytes());
        huge.extend(1u64.to_le_bytes());
        assert!(matches!(parse(huge.as_slice()).unwrap_err(), GgufError::Corrupt { .. }));
        let mut version = b"GGUF".to_vec();
        version.extend(1u32.to_le_bytes());
        assert_eq!(parse(version.as_slice()).unwrap_err(), GgufError::UnsupportedVersion(1));
    }
}
