//! The plugin contract: what a plugin declares (commands with help, arguments, sensitivity and role) and the
//! handlers the router calls.

mod approval;
mod args;
mod bound;
mod command;
mod context;
mod error;
pub mod job;
pub mod manifest;
mod matcher;

use async_trait::async_trait;

pub use approval::{Approval, ScopePolicy};
pub use args::Args;
pub use bound::{Commands, HandlerFuture};
pub use command::{Arg, ArgKind, ArgProblem, ArgValue, Command};
pub use context::{Ctx, Input};
pub use context::{CtxParts, button_value};
pub use error::PluginError;
pub use job::{Job, JobRequest};

/// Kinds of events a plugin can ask for ([`Plugin::events`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Interest {
    /// Members joining or leaving chats.
    Members,
    /// Reactions to messages.
    Reactions,
    /// Edited messages.
    Edits,
    /// Files and images sent.
    Files,
}

impl Interest {
    /// The interest an event kind falls under, if it is one of these.
    pub fn of(kind: &crate::event::EventKind) -> Option<Self> {
        use crate::event::EventKind;
        match kind {
            EventKind::MemberJoined | EventKind::MemberLeft => Some(Self::Members),
            EventKind::Reaction { .. } => Some(Self::Reactions),
            EventKind::Edited { .. } => Some(Self::Edits),
            EventKind::File(_) => Some(Self::Files),
            _ => None,
        }
    }
}
pub use manifest::{ConsentRequest, DataManifest, Field, LegalBasis, Namespace, days};
pub use matcher::{InGroups, Matched, Matcher, Rule, words_of};

use crate::flow::{Flow, Step};

/// A bot feature: a set of commands, optionally multi-step flows and buttons.
///
/// Handlers receive a [`Ctx`] with the event, the parsed arguments, a store scoped to the plugin and the
/// user, and a reply builder. Return [`PluginError::user`] for problems the user should read; any other
/// error is logged and the user gets a short apology.
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// Unique name; also the plugin's store namespace and its `[plugins.<name>]` table.
    fn name(&self) -> &'static str;

    /// The commands this plugin answers, with their help text.
    fn commands(&self) -> Vec<Command>;

    /// The personal data this plugin keeps. A plugin that stores nothing about users keeps the default (empty);
    /// writes to undeclared namespaces are refused.
    fn manifest(&self) -> DataManifest {
        DataManifest::default()
    }

    /// Outside hosts this plugin calls (exact names). The operator must also allow each in
    /// `[integrations.<plugin>] allow`; [`Ctx::http`] refuses anything else.
    fn integrations(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Runs command `command` (one of [`Plugin::commands`]).
    async fn command(&self, command: &str, ctx: &mut Ctx) -> Result<(), PluginError>;

    /// Runs job `name`, which this plugin scheduled ([`Ctx::schedule`]) and which is now due; [`Ctx::job`]
    /// has it (with its data), and replies go to the chat it was scheduled in. A job runs without roles and
    /// cannot pass step-up verification: a sensitive action in a job fails.
    async fn job(&self, name: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        let _ = ctx;
        Err(PluginError::internal(format!("plugin `{}` scheduled job `{name}` but has no job handler", self.name())))
    }

    /// The kinds of events beyond text, commands and buttons this plugin wants ([`Interest`]); none by
    /// default.
    fn events(&self) -> Vec<Interest> {
        Vec::new()
    }

    /// Handles an event of a kind it asked for in [`Plugin::events`]: `ctx.event().kind` says which (a member
    /// joined or left, a reaction, an edited message, a file). Every plugin that asked gets it.
    async fn event(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        let _ = ctx;
        Ok(())
    }

    /// The free text this plugin answers (see [`Matcher`]); none by default.
    fn matchers(&self) -> Vec<Matcher> {
        Vec::new()
    }

    /// Answers text that matcher `matcher` (one of [`Plugin::matchers`]) matched; [`Ctx::matched`] has the
    /// pattern's captures and [`Ctx::input`] the text.
    async fn text(&self, matcher: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        let _ = ctx;
        Err(PluginError::internal(format!(
            "plugin `{}` declares matcher `{matcher}` but has no text handler",
            self.name()
        )))
    }

    /// Handles the user's answer to the current step of one of this plugin's flows.
    async fn flow_step(&self, flow: &mut Flow, ctx: &mut Ctx) -> Result<Step, PluginError> {
        let _ = (flow, ctx);
        Err(PluginError::internal(format!("plugin `{}` started a flow but has no flow_step", self.name())))
    }

    /// Called when one of this plugin's flows ends without completing: the user sent `/cancel`, or it was
    /// idle past `[flows] idle_timeout`. Replies go to the user; use it to take back what the flow showed.
    async fn flow_cancelled(&self, flow: &Flow, ctx: &mut Ctx) -> Result<(), PluginError> {
        let _ = (flow, ctx);
        Ok(())
    }

    /// Handles a press on one of this plugin's buttons outside a flow; `value` is what the plugin attached.
    async fn button(&self, value: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        let _ = value;
        ctx.reply("That button is no longer active.");
        Ok(())
    }
}
