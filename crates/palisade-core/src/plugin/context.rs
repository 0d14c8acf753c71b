//! What a handler sees and uses: the event, its arguments, the user's scoped store and a reply builder.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::adapter::Capabilities;
use crate::clock::SharedClock;
use crate::event::{ChatRef, CommandCall, Event, EventKind, UserRef};
use crate::flow::Flow;
use crate::plugin::{Approval, Args, PluginError, ScopePolicy};
use crate::reply::{Button, Reply, ReplyBody, Retract};
use crate::services::{AuditLog, Http, Outcome};
use crate::store::{ScopedStore, SharedStore, Subject};

/// The user's input as a flow step sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Typed text.
    Text(&'a str),
    /// A press on one of this plugin's buttons, carrying the value the plugin attached.
    Button(&'a str),
    /// A command. Only command handlers see this: during a flow the router answers commands itself
    /// (`/cancel`, `/help`) or asks the user to finish the flow first, so `flow_step` never gets one.
    Command(&'a CommandCall),
}

impl<'a> Input<'a> {
    /// The typed text, if the input is text.
    pub fn text(&self) -> Option<&'a str> {
        match self {
            Self::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// The handler's context for one event.
pub struct Ctx {
    event: Event,
    args: Args,
    plugin: &'static str,
    store: SharedStore,
    clock: SharedClock,
    roles: Arc<BTreeSet<String>>,
    grants: Arc<BTreeSet<String>>,
    policy: Arc<ScopePolicy>,
    capabilities: Capabilities,
    audit: Arc<dyn AuditLog>,
    declared: Arc<BTreeSet<String>>,
    http: Arc<dyn Http>,
    messenger: Option<Arc<dyn crate::services::Messenger>>,
    texts: Arc<crate::texts::Texts>,
    replies: Vec<Reply>,
    started_flow: Option<Flow>,
    matched: Option<crate::plugin::Matched>,
    scheduled: Vec<crate::plugin::JobRequest>,
    job: Option<crate::plugin::Job>,
    command: Option<crate::plugin::Command>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("plugin", &self.plugin).finish_non_exhaustive()
    }
}

/// Everything a runtime hands a handler's context besides the event. Plugins never build one; runtimes
/// (and test kits) do.
pub struct CtxParts {
    /// The plugin the context is for (its name scopes store namespaces and step-up scopes).
    pub plugin: &'static str,
    /// What the user's platform can do.
    pub capabilities: Capabilities,
    /// Roles the user holds.
    pub roles: Arc<BTreeSet<String>>,
    /// Step-up grants held for this event: scopes granted in this conversation, and the single-use grant of
    /// an action that was just verified ([`Approval::grant`]).
    pub grants: Arc<BTreeSet<String>>,
    /// The store behind [`Ctx::store`].
    pub store: SharedStore,
    /// Wall time.
    pub clock: SharedClock,
    /// The operator's step-up policy (`[stepup] require_for`, `single_use`).
    pub policy: Arc<ScopePolicy>,
    /// The audit trail behind [`Ctx::audit`].
    pub audit: Arc<dyn AuditLog>,
    /// Namespaces the plugin's data manifest declares.
    pub declared: Arc<BTreeSet<String>>,
    /// The plugin's HTTP client.
    pub http: Arc<dyn Http>,
    /// Where messages that are not replies go (`None`: [`Ctx::send_to`] fails).
    pub messenger: Option<Arc<dyn crate::services::Messenger>>,
    /// The built-in texts, in the operator's wording and languages.
    pub texts: Arc<crate::texts::Texts>,
}

impl std::fmt::Debug for CtxParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtxParts").field("plugin", &self.plugin).finish_non_exhaustive()
    }
}

impl Ctx {
    /// The context for handling `event` (built by runtimes).
    pub fn new(event: Event, parts: CtxParts) -> Self {
        let CtxParts {
            plugin,
            capabilities,
            roles,
            grants,
            store,
            clock,
            policy,
            audit,
            declared,
            http,
            messenger,
            texts,
        } = parts;
        let args = match &event.kind {
            EventKind::Command(call) => Args::new(call.raw_args.clone()),
            _ => Args::default(),
        };
        Self {
            event,
            args,
            plugin,
            store,
            clock,
            roles,
            grants,
            policy,
            capabilities,
            audit,
            declared,
            http,
            messenger,
            texts,
            replies: Vec::new(),
            started_flow: None,
            matched: None,
            scheduled: Vec::new(),
            job: None,
            command: None,
        }
    }

    /// The user's language as their platform names it (`de`, `pt-BR`), when it does: for a plugin that
    /// answers in several languages.
    pub fn language(&self) -> Option<&str> {
        self.event.language.as_deref()
    }

    /// The built-in text `key` ([`crate::texts::CATALOGUE`]) in the user's language and the operator's
    /// wording, with each `{name}` in `values` filled in.
    pub fn text(&self, key: &str, values: &[(&str, &str)]) -> String {
        self.texts.fill(self.language(), key, values)
    }

    /// The built-in texts, for a text in another language than this event's user's (`fill(None, …)`: the
    /// operator's default language, for a notice to someone else).
    pub fn texts(&self) -> &crate::texts::Texts {
        &self.texts
    }

    /// Sends `text` privately to `user` now — not as a reply: to someone this plugin knows (the user of this
    /// event, or one it keeps data about), through the same send pacing as replies, audited. Returns a
    /// handle for [`Ctx::edit_sent`] and [`Ctx::delete_sent`].
    pub async fn send_to(&self, user: &UserRef, text: impl Into<String>) -> Result<crate::services::Sent, PluginError> {
        let messenger =
            self.messenger.as_ref().ok_or_else(|| PluginError::internal("this runtime sends no messages"))?;
        if user != &self.event.user && !self.knows(user).await? {
            return Err(PluginError::internal(format!(
                "plugin `{}` may only write first to people it keeps data about",
                self.plugin
            )));
        }
        messenger.send(self.plugin, user, text.into()).await.map_err(|e| PluginError::internal(e.to_string()))
    }

    /// Posts `text` in the group chat or channel `chat` now — not as a reply: in this event's chat (any
    /// thread of it) or another group chat the bot has been written to in, never in a chat the bot never
    /// heard from. For one person, use [`Ctx::send_to`]: direct chats are refused here. Paced like replies and
    /// audited (`message.posted`, under the pseudonym of this event's user); returns a handle for
    /// [`Ctx::edit_sent`] and [`Ctx::delete_sent`].
    pub async fn post_to(&self, chat: &ChatRef, text: impl Into<String>) -> Result<crate::services::Sent, PluginError> {
        let messenger =
            self.messenger.as_ref().ok_or_else(|| PluginError::internal("this runtime sends no messages"))?;
        if chat.is_private() {
            return Err(PluginError::internal(format!(
                "plugin `{}` posts in group chats only; a person is written to with send_to",
                self.plugin
            )));
        }
        messenger
            .post(self.plugin, &self.event.user, chat, text.into())
            .await
            .map_err(|e| PluginError::internal(e.to_string()))
    }

    /// Replaces the text of a message this plugin sent.
    pub async fn edit_sent(&self, sent: &crate::services::Sent, text: impl Into<String>) -> Result<(), PluginError> {
        let messenger = self.own(sent)?;
        messenger.edit(sent, text.into()).await.map_err(|e| PluginError::internal(e.to_string()))
    }

    /// Deletes a message this plugin sent.
    pub async fn delete_sent(&self, sent: &crate::services::Sent) -> Result<(), PluginError> {
        let messenger = self.own(sent)?;
        messenger.delete(sent).await.map_err(|e| PluginError::internal(e.to_string()))
    }

    fn own(&self, sent: &crate::services::Sent) -> Result<&Arc<dyn crate::services::Messenger>, PluginError> {
        if sent.plugin != self.plugin {
            return Err(PluginError::internal(format!(
                "plugin `{}` may not change another plugin's messages",
                self.plugin
            )));
        }
        self.messenger.as_ref().ok_or_else(|| PluginError::internal("this runtime sends no messages"))
    }

    /// Whether this plugin keeps any record about `user`.
    async fn knows(&self, user: &UserRef) -> Result<bool, PluginError> {
        let subject = Subject::user(user);
        for namespace in self.declared.iter() {
            if !self.store.list(namespace, Some(&subject)).await?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The context for a command, with its declaration (built by runtimes).
    #[must_use]
    pub fn with_command(mut self, command: crate::plugin::Command) -> Self {
        self.command = Some(command);
        self
    }

    /// Argument `name` of the command as `T` (declared with [`crate::Arg::typed`]). The router has checked
    /// the value against the declaration before the handler runs; a missing or unreadable one here is a user
    /// error naming the argument, with the usage line.
    pub fn arg<T: crate::plugin::ArgValue>(&self, name: &str) -> Result<T, PluginError> {
        self.opt_arg(name)?.ok_or_else(|| self.usage_error(name, "is missing"))
    }

    /// Optional argument `name` as `T`: `None` when it was not given.
    pub fn opt_arg<T: crate::plugin::ArgValue>(&self, name: &str) -> Result<Option<T>, PluginError> {
        let Some(command) = &self.command else {
            return Err(PluginError::internal(format!("`ctx.arg(\"{name}\")` outside a command")));
        };
        let Some((i, decl)) = command.args.iter().enumerate().find(|(_, a)| a.name == name) else {
            return Err(PluginError::internal(format!("/{} declares no argument `{name}`", command.name)));
        };
        let word = if decl.rest { self.args.rest_from(i) } else { self.args.get(i) };
        match word {
            None => Ok(None),
            Some(w) => {
                T::parse_arg(w).map(Some).ok_or_else(|| self.usage_error(name, &format!("must be {}", T::expected())))
            }
        }
    }

    fn usage_error(&self, name: &str, what: &str) -> PluginError {
        match &self.command {
            Some(c) => PluginError::user(format!("`{name}` {what}. Usage: {} — {}", c.usage(), c.help)),
            None => PluginError::user(format!("`{name}` {what}.")),
        }
    }

    /// The context for running a due job (built by runtimes).
    #[must_use]
    pub fn with_job(mut self, job: crate::plugin::Job) -> Self {
        self.job = Some(job);
        self
    }

    /// The job being run, in a [`crate::Plugin::job`] handler.
    pub fn job(&self) -> Option<&crate::plugin::Job> {
        self.job.as_ref()
    }

    /// Schedules job `name` of this plugin to run once after `after` (at most a year), in this chat, with
    /// `data` (kept encrypted under this user until it runs; erased with the user). It is stored when the
    /// handler succeeds.
    pub fn schedule(
        &mut self,
        name: &'static str,
        after: std::time::Duration,
        data: impl serde::Serialize,
    ) -> Result<(), PluginError> {
        self.schedule_job(name, after, None, data)
    }

    /// Schedules job `name` to run every `every` (at least a minute), first after one period.
    pub fn schedule_every(
        &mut self,
        name: &'static str,
        every: std::time::Duration,
        data: impl serde::Serialize,
    ) -> Result<(), PluginError> {
        if every < crate::plugin::job::SHORTEST_PERIOD {
            return Err(PluginError::internal(format!("job `{name}`: a period shorter than a minute")));
        }
        self.schedule_job(name, every, Some(every), data)
    }

    fn schedule_job(
        &mut self,
        name: &'static str,
        after: std::time::Duration,
        every: Option<std::time::Duration>,
        data: impl serde::Serialize,
    ) -> Result<(), PluginError> {
        if after > crate::plugin::job::LONGEST_WAIT {
            return Err(PluginError::internal(format!("job `{name}`: more than a year ahead")));
        }
        let data = serde_json::to_value(data).map_err(|e| PluginError::internal(e.to_string()))?;
        self.scheduled.push(crate::plugin::JobRequest { name, after, every, data });
        Ok(())
    }

    /// The jobs the handler scheduled (taken by runtimes).
    pub fn take_scheduled(&mut self) -> Vec<crate::plugin::JobRequest> {
        std::mem::take(&mut self.scheduled)
    }

    /// The context for text a matcher took (built by runtimes).
    #[must_use]
    pub fn with_match(mut self, matched: crate::plugin::Matched) -> Self {
        self.matched = Some(matched);
        self
    }

    /// What matched, in a [`crate::Plugin::text`] handler.
    pub fn matched(&self) -> Option<&crate::plugin::Matched> {
        self.matched.as_ref()
    }

    /// What the handler produced: its replies, and the flow it started, if any (taken by runtimes).
    pub fn into_output(self) -> (Vec<Reply>, Option<Flow>) {
        (self.replies, self.started_flow)
    }

    /// Records a successful sensitive action of this plugin in the audit trail (flushed before it returns),
    /// as `plugin.event`-style names. `details` must hold no secrets and no personal data.
    pub async fn audit(&self, event: &str, details: &[(&str, String)]) {
        self.audit.note(event, Some(&self.event.user), Outcome::Success, details).await;
    }

    /// The plugin's HTTP client: HTTPS only, to hosts the plugin declared and the operator allowed.
    pub fn http(&self) -> &dyn Http {
        &*self.http
    }

    /// What the user's platform can do (images, private input, deleting messages…).
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// Requires step-up verification for `action` (scope `plugin.action`) before going on: returns `Ok`
    /// when the user holds a fresh grant, otherwise an error to return with `?`, which suspends this event
    /// until the user sends a valid code and then runs it again. Call it before any side effect.
    ///
    /// The grant lasts `[stepup] grant_ttl` in this conversation, unless the operator listed the scope in
    /// `[stepup] single_use`: then it covers this one execution.
    pub fn sensitive(&self, action: &str) -> Result<(), PluginError> {
        self.require(self.policy.approval(&format!("{}.{action}", self.plugin)))
    }

    /// Requires a verification that approves exactly this execution of `action` with these `details`
    /// (PSD2-style dynamic linking): the prompt shows them (`amount: €50.00, to: Bob`), the code approves them
    /// and nothing else, and it covers one execution. If the details differ when the verified event runs
    /// again (the balance or the recipient changed meanwhile), a new code is asked. Compute the details from
    /// the state the action will use, then call this before any side effect. Details are shown to the user
    /// in their private chat; they are not written to the audit trail.
    pub fn sensitive_once(&self, action: &str, details: &[(&str, String)]) -> Result<(), PluginError> {
        self.require(Approval::once(format!("{}.{action}", self.plugin), details))
    }

    fn require(&self, approval: Approval) -> Result<(), PluginError> {
        if approval.is_granted(&self.grants) { Ok(()) } else { Err(PluginError::StepUp(approval)) }
    }

    /// Like [`Ctx::sensitive`], but only when the operator listed `plugin.action` in `[stepup] require_for`.
    pub fn checkpoint(&self, action: &str) -> Result<(), PluginError> {
        if self.policy.require_for.contains(&format!("{}.{action}", self.plugin)) {
            self.sensitive(action)
        } else {
            Ok(())
        }
    }

    /// The user (immutable platform id).
    pub fn user(&self) -> &UserRef {
        &self.event.user
    }

    /// The user's display name, if the platform sent one. For greetings only.
    pub fn display_name(&self) -> Option<&str> {
        self.event.display_name.as_deref()
    }

    /// The chat.
    pub fn chat(&self) -> &ChatRef {
        &self.event.chat
    }

    /// The whole event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The command's arguments (empty outside commands).
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// The input as a flow step sees it; button values are stripped of the plugin prefix.
    pub fn input(&self) -> Input<'_> {
        match &self.event.kind {
            EventKind::Text(t) => Input::Text(t.trim()),
            EventKind::Command(c) => Input::Command(c),
            EventKind::Button(data) => Input::Button(button_value(self.plugin, data).unwrap_or("")),
            EventKind::Edited { text, .. } => Input::Text(text.trim()),
            EventKind::File(f) => Input::Text(f.caption.as_deref().unwrap_or_default().trim()),
            _ => Input::Text(""),
        }
    }

    /// The bytes of a file the user sent (an [`EventKind::File`]), fetched through the platform's adapter;
    /// refused beyond the operator's size cap (`[dispatch] max_file_bytes`).
    pub async fn fetch_file(&self, file: &crate::event::FileInfo) -> Result<Vec<u8>, PluginError> {
        let messenger =
            self.messenger.as_ref().ok_or_else(|| PluginError::internal("this runtime fetches no files"))?;
        messenger.fetch(self.event.chat.platform, file).await.map_err(|e| PluginError::user(e.to_string()))
    }

    /// True when the user holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// Wall-clock now, ms since the Unix epoch (follows tokio's clock in tests).
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// This plugin's records about the current user, in the namespace named like the plugin. Writes fail
    /// unless the plugin's [`crate::DataManifest`] declares that namespace.
    pub fn store(&self) -> ScopedStore {
        self.store_named(self.plugin.to_string())
    }

    /// Records about the current user in the plugin's namespace `plugin.part` (declared in its manifest).
    pub fn store_in(&self, part: &str) -> ScopedStore {
        self.store_named(format!("{}.{part}", self.plugin))
    }

    fn store_named(&self, namespace: String) -> ScopedStore {
        let declared = self.declared.contains(&namespace);
        ScopedStore::new(self.store.clone(), namespace, Subject::user(&self.event.user)).declared(declared)
    }

    fn push(&mut self, private: bool, body: ReplyBody) {
        let (chat, user) = (self.event.chat.clone(), self.event.user.clone());
        self.replies.push(Reply { chat, user, private, body, retract: None });
    }

    /// Replies in the chat.
    pub fn reply(&mut self, text: impl Into<String>) {
        self.push(false, ReplyBody::Text { text: text.into(), buttons: Vec::new() });
    }

    /// Replies so only this user sees it (a DM, or an ephemeral message).
    pub fn reply_private(&mut self, text: impl Into<String>) {
        self.push(true, ReplyBody::Text { text: text.into(), buttons: Vec::new() });
    }

    /// Replies with buttons given as `(label, value)`; a press comes back as [`Input::Button`] with `value`.
    pub fn reply_buttons(&mut self, text: impl Into<String>, buttons: &[(&str, &str)]) {
        let buttons = buttons.iter().map(|(label, value)| Button::new(*label, format!("{}:{value}", self.plugin)));
        self.push(false, ReplyBody::Text { text: text.into(), buttons: buttons.collect() });
    }

    /// Sends a PNG image with a caption; `private` delivers it to this user only.
    pub fn reply_image(&mut self, png: Vec<u8>, caption: Option<String>, private: bool) {
        self.push(private, ReplyBody::Image { png, caption });
    }

    /// Sends a file (e.g. a data export); `private` delivers it to this user only.
    pub fn reply_file(&mut self, name: impl Into<String>, bytes: Vec<u8>, caption: Option<String>, private: bool) {
        self.push(private, ReplyBody::File { name: name.into(), bytes, caption });
    }

    /// Sends `body` (privately when `private`) and remembers where it landed, so that it can be taken back
    /// with [`Ctx::retract`] — or is deleted after `retract.within` at the latest. For messages that must not
    /// stay in the chat: a second factor, a copy of someone's data.
    pub fn reply_retractable(&mut self, private: bool, body: ReplyBody, retract: Retract) {
        let (chat, user) = (self.event.chat.clone(), self.event.user.clone());
        self.replies.push(Reply { chat, user, private, body, retract: Some(retract) });
    }

    /// Deletes every message sent to this user with a [`Retract`] tagged `tag`.
    pub fn retract(&mut self, tag: impl Into<String>) {
        self.push(false, ReplyBody::Retract { tag: tag.into() });
    }

    /// Deletes the message that triggered this event (e.g. a typed code) on platforms where the bot may
    /// delete users' messages; elsewhere does nothing.
    pub fn delete_user_message_if_possible(&mut self) {
        if let Some(id) = self.event.message_id.clone().filter(|_| self.capabilities.can_delete_user_messages) {
            self.push(false, ReplyBody::Delete(id));
        }
    }

    /// Starts a flow for this user in this chat once the handler returns; its first question should be
    /// among the replies.
    pub fn start_flow(&mut self, flow: Flow) {
        self.started_flow = Some(flow);
    }

    /// The replies gathered so far.
    pub fn replies(&self) -> &[Reply] {
        &self.replies
    }
}

/// The plugin-attached value of button `data` if it belongs to `plugin`.
pub fn button_value<'a>(plugin: &str, data: &'a str) -> Option<&'a str> {
    data.strip_prefix(plugin).and_then(|rest| rest.strip_prefix(':'))
}
