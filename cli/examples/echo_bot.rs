//! The smallest complete bot: one inline plugin that repeats what it is told, run by the `palisade` command line.
//!
//! ```text
//! cargo run -p palisade-cli --example echo_bot -- chat --config cli/examples/echo_bot.toml
//! ```

use std::process::ExitCode;

use palisade::Registry;
use palisade_core::prelude::*;

/// `/echo <text>` repeats the text.
struct Echo;

#[async_trait]
impl Plugin for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn commands(&self) -> Vec<Command> {
        vec![Command::new("echo", "Repeat what you say").arg(Arg::text("text"))]
    }

    async fn command(&self, _command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        let text = ctx.args().raw().to_string();
        ctx.reply(text);
        Ok(())
    }
}

fn main() -> ExitCode {
    // `[plugins.echo]` in the configuration enables the plugin; the closure builds it from that table
    // (an echo has no settings, so it ignores the table).
    let registry = Registry::new().plugin("echo", |_| Ok(Echo));
    palisade_cli::main(registry)
}
