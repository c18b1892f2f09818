//! The `bakeoff` binary: parse arguments, run the library, render errors, exit with a code.

use clap::Parser;

fn main() {
    let cli = bakeoff::cli::Cli::parse();
    let color = std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
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
        eprintln!("{:?}", miette::Report::new(error));
        std::process::exit(code);
    }
}
