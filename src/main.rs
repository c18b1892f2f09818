//! The `bakeoff` binary: parse arguments, run the library, render errors, exit with a code.

use clap::Parser;

fn main() {
    quiet_on_closed_stderr();
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
        eprintln!("{:?}", miette::Report::new(error));
        std::process::exit(code);
    }
}

/// Progress and diagnostics to a stderr that was closed (`2>&1 | head`) end the program
/// quietly instead of with a panic's backtrace; stdout goes through `cli::write_out`, which
/// does the same.
fn quiet_on_closed_stderr() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
