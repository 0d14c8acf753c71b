//! Commands declared together with their handlers, so a command's name, help, arguments and handler live in
//! one place and cannot drift apart: [`Commands`] gives the router the declarations
//! ([`Plugin::commands`](crate::Plugin::commands)) and runs the handler bound to the name it is asked for
//! ([`Plugin::command`](crate::Plugin::command)).
//!
//! ```
//! use std::sync::LazyLock;
//! use palisade_core::plugin::{Arg, Command, Commands, Ctx, Plugin, PluginError};
//!
//! struct Greeter;
//!
//! impl Greeter {
//!     async fn hello(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
//!         let name = ctx.arg::<String>("name")?;
//!         ctx.reply(format!("Hello, {name}!"));
//!         Ok(())
//!     }
//! }
//!
//! static COMMANDS: LazyLock<Commands<Greeter>> = LazyLock::new(|| {
//!     Commands::<Greeter>::new().add(Command::new("hello", "Say hello").arg(Arg::required("name")), |p, ctx| {
//!         Box::pin(p.hello(ctx))
//!     })
//! });
//!
//! #[palisade_core::async_trait]
//! impl Plugin for Greeter {
//!     fn name(&self) -> &'static str {
//!         "greeter"
//!     }
//!     fn commands(&self) -> Vec<Command> {
//!         COMMANDS.declarations()
//!     }
//!     async fn command(&self, name: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
//!         COMMANDS.run(self, name, ctx).await
//!     }
//! }
//!
//! assert_eq!(Greeter.commands()[0].name, "hello");
//! ```

use std::future::Future;
use std::pin::Pin;

use super::{Command, Ctx, PluginError};

/// What a bound handler returns: the handler's future, boxed.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), PluginError>> + Send + 'a>>;

type Handler<P> = Box<dyn for<'a> Fn(&'a P, &'a mut Ctx) -> HandlerFuture<'a> + Send + Sync>;

/// A plugin's commands, each with its handler (`P` is the plugin's type).
pub struct Commands<P> {
    entries: Vec<(Command, Handler<P>)>,
}

impl<P> std::fmt::Debug for Commands<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|(c, _)| c.name)).finish()
    }
}

impl<P> Default for Commands<P> {
    fn default() -> Self {
        Self { entries: Vec::new() }
    }
}

impl<P: Sync + 'static> Commands<P> {
    /// No commands yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `command`, handled by `handler` (typically `|plugin, ctx| Box::pin(plugin.method(ctx))`).
    #[must_use]
    pub fn add<F>(mut self, command: Command, handler: F) -> Self
    where
        F: for<'a> Fn(&'a P, &'a mut Ctx) -> HandlerFuture<'a> + Send + Sync + 'static,
    {
        self.entries.push((command, Box::new(handler)));
        self
    }

    /// The declarations, for [`Plugin::commands`](crate::Plugin::commands).
    pub fn declarations(&self) -> Vec<Command> {
        self.entries.iter().map(|(c, _)| c.clone()).collect()
    }

    /// Runs the handler bound to `name`, for [`Plugin::command`](crate::Plugin::command). A name no
    /// declaration has (which the router never asks for) is an internal error naming it.
    pub async fn run(&self, plugin: &P, name: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        match self.entries.iter().find(|(c, _)| c.name == name) {
            Some((_, handler)) => handler(plugin, ctx).await,
            None => Err(PluginError::internal(format!("no handler is bound to the command `{name}`"))),
        }
    }
}
