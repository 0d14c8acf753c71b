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

/// `[plugins.echo]` in the configuration enables the plugin; the closure builds it from that table (an echo
/// has no settings, so it takes none).
fn registry() -> Registry {
    Registry::new().plugin("echo", |s| s.no_settings().map(|()| Echo))
}

fn main() -> ExitCode {
    palisade_cli::main(registry())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn echoes_through_the_whole_stack_and_its_configuration_checks() {
        palisade_testkit::examples::config_checks("examples/echo_bot.toml", &registry());
        let h = palisade_testkit::Harness::bot(
            vec![std::sync::Arc::new(Echo)],
            palisade_testkit::memory_store().await,
            Default::default(),
        )
        .await;
        assert_eq!(h.say("ann", "/echo hello there").await, ["hello there"]);
        assert!(h.say("ann", "/echo").await[0].starts_with("Usage: /echo <text…>"));
        h.stop().await;
    }
}
