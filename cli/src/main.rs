//! The `palisade` binary: the framework's command line with the built-in plugins and the platform adapters
//! registered.

use std::process::ExitCode;

use palisade::Registry;
use palisade_bank::Bank;
use palisade_echo::Echo;
use palisade_faq::Faq;
use palisade_notes::Notes;

fn main() -> ExitCode {
    let registry = Registry::new()
        .plugin("echo", |s| s.no_settings().map(|()| Echo))
        .plugin("notes", |s| Ok(Notes::new(s.parse()?)))
        .plugin("bank", |s| Ok(Bank::new(s.parse()?)))
        .plugin("faq", |s| Ok(Faq(s.parse()?)))
        .adapter("telegram", palisade_telegram::factory)
        .adapter("discord", palisade_discord::factory)
        .adapter("slack", palisade_slack::factory);
    palisade_cli::main(registry)
}
