//! Digests as text: the lowercase hex that names cells, models and hosts.

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 15)] as char);
    }
    text
}

/// Hex digits that name a cell, a server, a load group or an image where a person or podman
/// reads them (`why` output, container names, image ids).
const SHORT: usize = 12;

/// Hex digits in a list (the plan's hash column, hosts and configurations told apart): enough
/// to tell a project's cells apart, and what `why` accepts.
const LISTED: usize = 8;

/// The first 12 hex digits of `hash`.
pub(crate) fn short(hash: &str) -> &str {
    crate::units::prefix(hash, SHORT)
}

/// The first 8 hex digits of `hash`.
pub(crate) fn listed(hash: &str) -> &str {
    crate::units::prefix(hash, LISTED)
}

/// `sha256:0123456789ab`: an image id or digest, as people compare them.
pub(crate) fn short_id(id: &str) -> String {
    format!("sha256:{}", short(id.strip_prefix("sha256:").unwrap_or(id)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_are_shortened_one_way() {
        let hash = "0123456789abcdef0123456789abcdef";
        assert_eq!(super::short(hash), "0123456789ab");
        assert_eq!(super::listed(hash), "01234567");
        assert_eq!(super::short_id("sha256:0123456789abcdef0123"), "sha256:0123456789ab");
        assert_eq!(super::short_id("abc"), "sha256:abc");
    }
}
