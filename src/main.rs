//! The `bakeoff` binary: parse arguments, run the library, render errors, exit with a code.

use std::io::Write as _;

use clap::Parser;

fn main() {
    let cli = bakeoff::cli::Cli::parse();
    // Escape codes only where a person reads them: never into a pipe or a log file.
    let color = cli.global.color.enabled();
    miette::set_hook(Box::new(move |_| {
        let mut options = miette::MietteHandlerOpts::new().color(color).unicode(color).terminal_links(false);
        // Diagnostics wrap at the terminal's width; `COLUMNS` sets it where there is no terminal.
        if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|columns| columns.parse().ok()) {
            options = options.width(columns);
        }
        Box::new(options.build())
    }))
    .expect("the miette hook is set once");
    if let Err(error) = bakeoff::cli::run(cli) {
        let code = error.exit_code();
        // The exit code says how it went even when nobody reads stderr any more.
        let _ = writeln!(std::io::stderr(), "{:?}", miette::Report::new(error));
        std::process::exit(code);
    }
}
