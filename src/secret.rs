//! What holds a credential: headers, query parameters and environment variables named like one,
//! and the value of a command-line option named like one (`--api-key KEY`, `--token=KEY`). A
//! credential changes no measurement, so it is kept out of fingerprints, traces, logs and
//! records, which are checked into git or shared.

/// Words that make a header, query parameter or environment variable a credential's.
const CREDENTIAL_WORDS: [&str; 9] =
    ["auth", "key", "token", "cookie", "secret", "session", "credential", "password", "signature"];

/// What a command line shows in place of a credential.
pub(crate) const HIDDEN: &str = "(credential)";

/// Whether a header, query parameter or environment variable of this name holds a credential.
pub(crate) fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    CREDENTIAL_WORDS.iter().any(|word| name.contains(word))
}

/// Whether a command-line option of this name (`--api-key`, `--openai-api-key`, `--token`)
/// takes a credential. Narrower than [`is_credential`]: `--max-tokens` and `--cache-key-size`
/// take figures that change what is measured.
fn is_credential_option(option: &str) -> bool {
    let name = option.trim_start_matches('-').to_ascii_lowercase().replace('_', "-");
    ["api-key", "apikey", "password", "passwd", "secret"].iter().any(|word| name.contains(word))
        || name == "token"
        || name.ends_with("-token")
}

/// `args` with the value of every option that takes a credential replaced by [`HIDDEN`]: the
/// word after `--api-key`, or what follows `=` in `--api-key=KEY`.
pub(crate) fn redacted_args(args: &[String]) -> Vec<String> {
    let mut redacted = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for arg in args {
        if hide_next {
            redacted.push(HIDDEN.to_owned());
            hide_next = false;
            continue;
        }
        match arg.split_once('=') {
            Some((option, _)) if option.starts_with('-') && is_credential_option(option) => {
                redacted.push(format!("{option}={HIDDEN}"));
            }
            _ => {
                hide_next = arg.starts_with('-') && !arg.contains('=') && is_credential_option(arg);
                redacted.push(arg.clone());
            }
        }
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_values_that_are_credentials_are_hidden_and_figures_are_not() {
        let args: Vec<String> = [
            "--api-key",
            "sk-1",
            "--openai-api-key=sk-2",
            "--max-tokens",
            "64",
            "-ctk",
            "q8_0",
            "--token",
            "t-3",
            "--model",
            "gemma",
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect();
        assert_eq!(
            redacted_args(&args),
            [
                "--api-key",
                HIDDEN,
                &format!("--openai-api-key={HIDDEN}"),
                "--max-tokens",
                "64",
                "-ctk",
                "q8_0",
                "--token",
                HIDDEN,
                "--model",
                "gemma"
            ]
        );
        // An option at the end hides nothing after it.
        assert_eq!(redacted_args(&["--api-key".to_owned()]), ["--api-key"]);
        assert!(
            is_credential("ANTHROPIC_AUTH_TOKEN") && is_credential("x-api-key") && !is_credential("anthropic-beta")
        );
    }
}
