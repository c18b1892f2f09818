//! `bakeoff capture`: record a client's session with llama-server through the proxy.

use super::CaptureArgs;
use super::out;
use crate::Error;
use crate::run::capture::{CaptureOptions, capture, summary};

pub(super) fn run(args: &CaptureArgs) -> Result<(), Error> {
    let upstream = args.upstream.trim_end_matches('/').to_owned();
    if !upstream.starts_with("http://") {
        return Err(Error::Usage {
            message: format!("`--upstream {upstream}` is not an http:// URL (llama-server speaks plain HTTP)"),
        });
    }
    let options = CaptureOptions { listen: args.listen, upstream, out: args.out.clone(), client: args.client.clone() };
    let captured =
        capture(&options).map_err(|source| Error::Io { what: "the capture session failed".to_owned(), source })?;
    out!("{}", summary(&captured.entries));
    eprintln!(
        "bakeoff capture: {} request(s) in {}, written to {}",
        captured.entries.len(),
        crate::units::format_duration(captured.session),
        args.out.display()
    );
    if let Some(signal) = captured.interrupted
        && captured.client_code.is_some()
    {
        return Err(Error::Interrupted { signal });
    }
    match captured.client_code {
        Some(0) | None => Ok(()),
        Some(code) => Err(Error::ClientFailed { program: args.client[0].clone(), code }),
    }
}
