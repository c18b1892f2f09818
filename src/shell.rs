//! Command lines as a POSIX shell reads them: the one quoter, for commands bakeoff hands to a
//! shell (distrobox's `--additional-flags`, a Slurm batch script) and for the commands it shows
//! people, who can paste them into one.

/// `word` as one shell word: as it is when it holds nothing a shell would split or expand,
/// else in single quotes.
pub(crate) fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|character| character.is_ascii_alphanumeric() || "-_=/.:,+@%".contains(character));
    if plain { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// The words joined into a command line.
pub(crate) fn words<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> String {
    words.into_iter().map(|word| quote(word.as_ref())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_only_what_a_shell_would_split() {
        assert_eq!(super::words(["--device", "/dev/kfd", "--label", "a b's"]), r"--device /dev/kfd --label 'a b'\''s'");
        assert_eq!(super::words(["-p", "", "$HOME", "*.gguf"]), "-p '' '$HOME' '*.gguf'");
    }
}
