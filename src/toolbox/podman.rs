//! What bakeoff asks of the podman CLI: images and containers (what runs, by id and digest),
//! pulls and removal. Every call goes through the supervisor with a timeout.

use std::path::Path;
use std::time::Duration;

use super::error::ToolboxError;
use crate::process::{Exit, Launch, capture};

/// How long a question to podman may take; a pull may take much longer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
const PULL_TIMEOUT: Duration = Duration::from_secs(3600);

/// An image in podman's storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Image {
    /// `sha256:…`, the image's config digest: what `podman run` runs.
    pub id: String,
    /// The manifest digest, when podman knows one (pulled, built and imported images do).
    pub digest: Option<String>,
}

/// A container, as `podman container inspect` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Container {
    /// The container's own id: a container made anew under the same name has another.
    pub id: String,
    /// The id of the image it was created from (which its tag may no longer point at).
    pub image_id: String,
    /// The image reference it was created with.
    pub image_name: String,
    pub created: String,
}

/// Podman's answers about images, each asked once however many toolboxes name the image (a
/// podman start costs tens of milliseconds of CPU): for one round of questions, not kept, as
/// a pull or a build changes the answer.
#[derive(Debug, Default)]
pub(super) struct ImageAnswers {
    asked: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Answer>>>,
}

/// One image's answer, once it is in.
type Answer = tokio::sync::OnceCell<Result<Option<Image>, ToolboxError>>;

impl ImageAnswers {
    /// [`image`], asked once per reference; concurrent askers wait for the one answer.
    pub(super) async fn image(&self, podman: &Path, reference: &str) -> Result<Option<Image>, ToolboxError> {
        let cell = {
            let mut asked = self.asked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            std::sync::Arc::clone(asked.entry(reference.to_owned()).or_default())
        };
        cell.get_or_init(|| image(podman, reference)).await.clone()
    }
}

/// A podman call's stdout, `Ok(None)` when podman says the object does not exist.
async fn query(podman: &Path, args: &[&str]) -> Result<Option<String>, ToolboxError> {
    let launch = Launch::plain(podman, args.iter().map(|arg| (*arg).to_owned()).collect());
    let command = launch.display();
    let result = capture(&launch, QUERY_TIMEOUT)
        .await
        .map_err(|error| ToolboxError::CannotRun { command: command.clone(), reason: error.to_string() })?;
    let output = String::from_utf8_lossy(&result.combined).into_owned();
    match result.exit {
        Exit::Code(0) => Ok(Some(String::from_utf8_lossy(&result.stdout).trim().to_owned())),
        _ if is_missing(&output) => Ok(None),
        Exit::TimedOut => Err(ToolboxError::NoAnswer { command, seconds: QUERY_TIMEOUT.as_secs() }),
        exit => Err(ToolboxError::Failed { command, how: exit.to_string(), line: last_line(&output) }),
    }
}

/// podman's words for "no such image / container".
fn is_missing(output: &str) -> bool {
    let output = output.to_ascii_lowercase();
    ["no such image", "image not known", "no such container", "no such object", "not found in local storage"]
        .iter()
        .any(|words| output.contains(words))
}

/// The line of a tool's output that says what went wrong, else its last line.
pub(super) fn error_line(output: &str) -> String {
    crate::process::error_line(output).unwrap_or_else(|| crate::process::last_line(output)).to_owned()
}

pub(super) fn last_line(output: &str) -> String {
    crate::process::last_line(output).to_owned()
}

/// The image `reference` (a tag or an id) names in podman's storage.
pub(super) async fn image(podman: &Path, reference: &str) -> Result<Option<Image>, ToolboxError> {
    let Some(text) = query(podman, &["image", "inspect", "--format", "{{.Id}}\t{{.Digest}}", reference]).await? else {
        return Ok(None);
    };
    let mut fields = text.lines().next().unwrap_or("").split('\t');
    let id = fields.next().unwrap_or("").trim();
    if id.is_empty() {
        return Err(ToolboxError::Unreadable { what: format!("image `{reference}` without an id") });
    }
    let id = if id.starts_with("sha256:") { id.to_owned() } else { format!("sha256:{id}") };
    let digest = fields.next().map(str::trim).filter(|digest| digest.starts_with("sha256:")).map(str::to_owned);
    Ok(Some(Image { id, digest }))
}

/// The container called `name`.
pub(super) async fn container(podman: &Path, name: &str) -> Result<Option<Container>, ToolboxError> {
    let Some(text) =
        query(podman, &["container", "inspect", "--format", "{{.Image}}\t{{.ImageName}}\t{{.Created}}\t{{.Id}}", name])
            .await?
    else {
        return Ok(None);
    };
    let mut fields = text.lines().next().unwrap_or("").split('\t');
    let image_id = fields.next().unwrap_or("").trim();
    if image_id.is_empty() {
        return Err(ToolboxError::Unreadable { what: format!("container `{name}` without its image") });
    }
    Ok(Some(Container {
        image_id: if image_id.starts_with("sha256:") { image_id.to_owned() } else { format!("sha256:{image_id}") },
        image_name: fields.next().unwrap_or("").trim().to_owned(),
        created: fields.next().unwrap_or("").trim().to_owned(),
        id: fields.next().unwrap_or("").trim().to_owned(),
    }))
}

/// `podman pull reference`, its progress on stderr.
pub(super) async fn pull(podman: &Path, reference: &str) -> Result<(), ToolboxError> {
    let launch = Launch::plain(podman, vec!["pull".to_owned(), reference.to_owned()]);
    let command = format!("podman pull {reference}");
    let result = capture(&launch, PULL_TIMEOUT)
        .await
        .map_err(|error| ToolboxError::CannotRun { command: command.clone(), reason: error.to_string() })?;
    match result.exit {
        Exit::Code(0) => Ok(()),
        exit => Err(ToolboxError::Failed {
            command,
            how: exit.to_string(),
            line: last_line(&String::from_utf8_lossy(&result.combined)),
        }),
    }
}

/// Images that only exist where they were built: nothing to pull them from.
pub(super) fn is_local(reference: &str) -> bool {
    reference.starts_with("localhost/") || reference.starts_with("sha256:")
}

#[cfg(test)]
mod tests {
    #[test]
    fn knows_podman_words_for_a_missing_object() {
        assert!(super::is_missing("Error: localhost/x:1: image not known"));
        assert!(super::is_missing("Error: no such container bakeoff-1"));
        assert!(!super::is_missing("Error: cannot connect to the Podman socket"));
    }
}
