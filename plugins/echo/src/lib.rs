//! The echo plugin: `/echo <text>` repeats the text. Also the smallest complete plugin to copy from: a name,
//! the commands with their help and arguments, and a handler.

use palisade_core::prelude::*;

/// Repeats what it is given.
pub struct Echo;

#[async_trait]
impl Plugin for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn commands(&self) -> Vec<Command> {
        vec![Command::new("echo", "Repeat what you say").arg(Arg::text("text"))]
    }

    async fn command(&self, _command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        ctx.reply(ctx.args().raw().to_string());
        Ok(())
    }
}
