//! The innermost service: continues the conversation's running flow, or runs the command's plugin handler,
//! and answers the built-in commands (`/help`, `/start`, `/cancel`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::Service;

use super::{DispatchError, Request, Response};
use crate::clock::SharedClock;
use crate::event::{CommandCall, EventKind};
use crate::flow::{FlowState, FlowStore, Step};
use crate::plugin::{Command, Ctx, Plugin, PluginError};
use crate::store::SharedStore;

/// Routes requests to plugins. Cheap to clone: the tables are shared.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

struct Inner {
    plugins: Vec<Arc<dyn Plugin>>,
    commands: HashMap<&'static str, (usize, Command)>,
    text: super::text::TextTable,
    flows: FlowStore,
    store: SharedStore,
    clock: SharedClock,
    idle_ms: u64,
    bot_name: String,
    // std RwLock: read per sensitive check, replaced by a reload; never held across an await.
    policy: std::sync::RwLock<Arc<crate::plugin::ScopePolicy>>,
    audit: Arc<dyn crate::services::AuditLog>,
    /// Namespaces each plugin's data manifest declares.
    declared: HashMap<&'static str, Arc<BTreeSet<String>>>,
    /// Each plugin's HTTP client (a refusing one for plugins with no allowed integrations).
    http: HashMap<&'static str, Arc<dyn crate::services::Http>>,
    jobs: Option<Arc<crate::jobs::Jobs>>,
    messenger: Option<Arc<dyn crate::services::Messenger>>,
    chats: Option<Arc<crate::chats::ChatBook>>,
    texts: Arc<palisade_core::texts::Texts>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("commands", &self.inner.commands.len()).finish_non_exhaustive()
    }
}

/// What a router needs besides its plugins.
pub struct RouterParts {
    /// State.
    pub store: SharedStore,
    /// Time.
    pub clock: SharedClock,
    /// Flow idle timeout in ms.
    pub idle_ms: u64,
    /// For greetings.
    pub bot_name: String,
    /// The operator's step-up policy (`[stepup] require_for`, `single_use`).
    pub policy: crate::plugin::ScopePolicy,
    /// The audit trail handlers write to.
    pub audit: Arc<dyn crate::services::AuditLog>,
    /// Plugins' HTTP clients, by plugin name (plugins without one get a client that refuses everything).
    pub http: HashMap<String, Arc<dyn crate::services::Http>>,
    /// Where jobs handlers schedule are kept (`None`: scheduling fails).
    pub jobs: Option<Arc<crate::jobs::Jobs>>,
    /// Where messages that are not replies go (`None`: `ctx.send_to` fails).
    pub messenger: Option<Arc<dyn crate::services::Messenger>>,
    /// Where the group chats the bot is written to in are recorded (`None`: not recorded).
    pub chats: Option<Arc<crate::chats::ChatBook>>,
    /// The built-in texts, in the operator's wording and languages.
    pub texts: Arc<palisade_core::texts::Texts>,
}

impl std::fmt::Debug for RouterParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterParts").finish_non_exhaustive()
    }
}

/// Built-in commands a plugin may not take.
pub const RESERVED: [&str; 3] = ["help", "start", "cancel"];

impl Router {
    /// A router over `plugins`. Fails with a readable message when two plugins claim the same command or a
    /// plugin claims a built-in one.
    pub fn new(plugins: Vec<Arc<dyn Plugin>>, parts: RouterParts) -> Result<Self, String> {
        let RouterParts { store, clock, idle_ms, bot_name, policy, audit, http, jobs, messenger, chats, texts } = parts;
        let commands = Self::command_table(&plugins)?;
        let text = super::text::TextTable::new(&plugins)?;
        let flows = FlowStore::new(store.clone());
        let policy = std::sync::RwLock::new(Arc::new(policy));
        let declared = plugins
            .iter()
            .map(|p| (p.name(), Arc::new(p.manifest().namespaces.iter().map(|n| n.name.to_string()).collect())))
            .collect();
        let http = plugins
            .iter()
            .map(|p| {
                let client: Arc<dyn crate::services::Http> = match http.get(p.name()) {
                    Some(client) => client.clone(),
                    None => Arc::new(crate::services::Refusing { plugin: p.name().to_string() }),
                };
                (p.name(), client)
            })
            .collect();
        let inner = Inner {
            plugins,
            commands,
            text,
            flows,
            store,
            clock,
            idle_ms,
            bot_name,
            policy,
            audit,
            declared,
            http,
            jobs,
            messenger,
            chats,
            texts,
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Indexes every plugin's commands; fails when two plugins claim the same command or one claims a
    /// built-in.
    pub fn command_table(plugins: &[Arc<dyn Plugin>]) -> Result<HashMap<&'static str, (usize, Command)>, String> {
        let mut commands = HashMap::new();
        for (i, p) in plugins.iter().enumerate() {
            for c in p.commands() {
                if RESERVED.contains(&c.name) {
                    return Err(format!("plugin `{}` declares /{}, which is built in", p.name(), c.name));
                }
                if let Some((j, _)) = commands.insert(c.name, (i, c.clone())) {
                    let other: &Arc<dyn Plugin> = &plugins[j];
                    return Err(format!("plugins `{}` and `{}` both declare /{}", other.name(), p.name(), c.name));
                }
            }
        }
        Ok(commands)
    }

    /// The built-in texts the router answers with.
    pub fn texts(&self) -> &Arc<palisade_core::texts::Texts> {
        &self.inner.texts
    }

    /// The flow store the router keeps conversations in.
    pub fn flows(&self) -> &FlowStore {
        &self.inner.flows
    }

    /// Every command with its plugin name, in declaration order.
    pub fn commands(&self) -> Vec<(&'static str, Command)> {
        self.inner.plugins.iter().flat_map(|p| p.commands().into_iter().map(|c| (p.name(), c))).collect()
    }

    /// Runs a due job through its plugin's `job` handler; its replies (none when the plugin is gone or the
    /// job failed: that is logged).
    pub async fn run_job(&self, job: &crate::plugin::Job, caps: crate::adapter::Capabilities) -> Response {
        let Some(plugin) = self.inner.plugins.iter().find(|p| p.name() == job.plugin) else {
            tracing::warn!(plugin = %job.plugin, "a scheduled job's plugin is not in this bot; dropped");
            return Vec::new();
        };
        let mut event = crate::event::Event::text(job.user.clone(), job.chat.clone(), "");
        event.addressed = true;
        let mut req = Request::new(event, caps);
        req.texts = self.inner.texts.clone();
        let mut ctx = self.inner.ctx(&req, plugin).with_job(job.clone());
        let result = plugin.job(&job.name, &mut ctx).await;
        match self.inner.finish(&req, plugin, ctx, result, None).await {
            Ok(replies) => replies,
            Err(error) => {
                tracing::warn!(plugin = plugin.name(), job = %job.name, %error, "a scheduled job failed (jobs cannot pass step-up)");
                Vec::new()
            }
        }
    }

    /// Replaces the operator's step-up policy (a reload of `[stepup] require_for` and `single_use`); events
    /// already past the check keep the policy they were checked under.
    pub fn set_policy(&self, policy: crate::plugin::ScopePolicy) {
        *self.inner.policy.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(policy);
    }
}

impl Service<Request> for Router {
    type Response = Response;
    type Error = DispatchError;
    type Future = BoxFuture<'static, Result<Response, DispatchError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { inner.handle(req).await })
    }
}

impl Inner {
    fn policy(&self) -> Arc<crate::plugin::ScopePolicy> {
        self.policy.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    async fn handle(&self, mut req: Request) -> Result<Response, DispatchError> {
        if let Some(chats) = &self.chats
            && let Err(error) = chats.remember(&req.event.chat).await
        {
            tracing::warn!(%error, "could not record a group chat the bot was written to in");
        }
        // A pressed button must have been shown to this user; its origin command is checked again.
        let mut origin = None;
        if let EventKind::Button(sealed) = &req.event.kind {
            let (data, from) = match super::buttons::open(&*self.store, &req.event.user, sealed) {
                super::buttons::Pressed::Bound { data, origin } => (data.to_string(), origin.map(str::to_string)),
                super::buttons::Pressed::NotYours => return Ok(vec![req.answer_with("router.button_not_yours", &[])]),
                super::buttons::Pressed::Unbound => return Ok(vec![req.answer_with("router.button_inactive", &[])]),
            };
            if let Some(refused) = self.recheck(&req, from.as_deref()).await? {
                return Ok(vec![refused]);
            }
            req.event.kind = EventKind::Button(data);
            origin = from;
        }
        let conv = req.event.conversation();
        let mut out = Vec::new();
        let mut active = self.flows.load(&conv).await?;
        if let Some(state) = active.take_if(|s| s.is_expired(self.clock.now_ms(), self.idle_ms)) {
            self.flows.remove(&conv).await?;
            out.push(req.answer_with("router.flow_timed_out", &[("flow", state.flow.name())]));
            out.append(&mut self.cancelled(&req, &state).await);
        }
        if let Some(interest) = crate::plugin::Interest::of(&req.event.kind) {
            out.append(&mut self.broadcast(&req, interest).await);
            return Ok(out);
        }
        let mut rest = match (&req.event.kind, active) {
            (EventKind::Command(c), active) if c.name == "cancel" => match active {
                Some(state) => {
                    self.flows.remove(&conv).await?;
                    let mut out = vec![req.answer_with("router.flow_cancelled", &[("flow", state.flow.name())])];
                    out.append(&mut self.cancelled(&req, &state).await);
                    out
                }
                None => vec![req.answer_with("router.nothing_to_cancel", &[])],
            },
            (EventKind::Command(c), _) if c.name == "help" || c.name == "start" => vec![self.help(&req, c)],
            (EventKind::Command(c), Some(state)) => {
                vec![req.answer_with("router.flow_busy", &[("flow", state.flow.name()), ("command", &c.name)])]
            }
            (_, Some(state)) => self.step(&req, state).await?,
            (EventKind::Command(c), None) => self.command(&req, c).await?,
            (EventKind::Button(data), None) => self.button(&req, data, origin.as_deref()).await?,
            (EventKind::Text(text), None) => self.free_text(&req, text).await?,
            // A kind this runtime does not know yet: nothing takes it.
            _ => Vec::new(),
        };
        out.append(&mut rest);
        Ok(out)
    }

    fn ctx(&self, req: &Request, plugin: &Arc<dyn Plugin>) -> Ctx {
        let http = match self.http.get(plugin.name()) {
            Some(client) => client.clone(),
            None => Arc::new(crate::services::Refusing { plugin: plugin.name().to_string() }),
        };
        let parts = crate::plugin::CtxParts {
            plugin: plugin.name(),
            capabilities: req.capabilities,
            roles: req.roles.clone(),
            grants: req.grants.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            policy: self.policy(),
            audit: self.audit.clone(),
            declared: self.declared.get(plugin.name()).cloned().unwrap_or_default(),
            http,
            messenger: self.messenger.clone(),
            texts: req.texts.clone(),
        };
        Ctx::new(req.event.clone(), parts)
    }

    /// Tells the flow's plugin that its flow ended without completing; its replies (or none, if it fails:
    /// the flow is gone either way).
    async fn cancelled(&self, req: &Request, state: &FlowState) -> Response {
        let Some(plugin) = self.plugins.iter().find(|p| p.name() == state.plugin) else { return Vec::new() };
        let mut ctx = self.ctx(req, plugin);
        match plugin.flow_cancelled(&state.flow, &mut ctx).await {
            Ok(()) => ctx.into_output().0,
            Err(e) => {
                tracing::warn!(plugin = plugin.name(), error = %e, "a plugin failed while its flow was cancelled");
                Vec::new()
            }
        }
    }

    fn help(&self, req: &Request, call: &CommandCall) -> crate::Reply {
        let mut lines = Vec::new();
        if call.name == "start" {
            lines.push(req.say("help.hello", &[("bot", &self.bot_name)]));
        }
        lines.push(req.say("help.intro", &[]));
        let asks = req.say("help.asks_verification", &[]);
        for p in &self.plugins {
            for c in p.commands() {
                if c.role.is_none_or(|r| req.roles.contains(r)) {
                    let scope = format!("{}.{}", p.name(), c.name);
                    let sensitive = c.sensitive || self.policy().require_for.contains(&scope);
                    let lock = if sensitive { asks.as_str() } else { "" };
                    lines.push(format!("{} — {}{lock}", c.usage(), c.help));
                }
            }
        }
        lines.push(req.say("help.cancel", &[]));
        lines.push(req.say("help.help", &[]));
        req.answer(lines.join("\n"))
    }

    async fn command(&self, req: &Request, call: &CommandCall) -> Result<Response, DispatchError> {
        let Some((idx, cmd)) = self.commands.get(call.name.as_str()) else {
            return Ok(vec![req.answer_with("router.unknown_command", &[("command", &call.name)])]);
        };
        if cmd.role.is_some_and(|r| !req.roles.contains(r)) {
            // Refusals are audited (under the user's pseudonym) like other refused attempts: someone probing
            // staff commands shows up in the trail.
            let details = [("command", cmd.name.to_string()), ("role", cmd.role.unwrap_or_default().to_string())];
            self.audit.note("access.refused", Some(&req.event.user), crate::services::Outcome::Denied, &details).await;
            return Ok(vec![req.answer_with("router.not_allowed", &[("command", cmd.name)])]);
        }
        if let Some(problem) = cmd.arg_problem(&crate::plugin::Args::new(call.raw_args.clone())) {
            let usage = cmd.usage();
            let answer = match problem {
                crate::plugin::ArgProblem::Count => req.say("args.usage", &[("usage", &usage), ("help", cmd.help)]),
                crate::plugin::ArgProblem::Value { name, kind } => {
                    let expected = req.say(kind.text_key(), &[]);
                    let values = [("name", name), ("expected", &expected), ("usage", &usage), ("help", cmd.help)];
                    req.say("args.wrong_value", &values)
                }
            };
            return Ok(vec![req.answer(answer)]);
        }
        let plugin = &self.plugins[*idx];
        let scope = format!("{}.{}", plugin.name(), cmd.name);
        if cmd.sensitive || self.policy().require_for.contains(&scope) {
            let approval = self.policy().approval(&scope);
            if !approval.is_granted(&req.grants) {
                return Err(DispatchError::StepUpRequired(approval));
            }
        }
        tracing::debug!(plugin = plugin.name(), command = cmd.name, "running command");
        let mut ctx = self.ctx(req, plugin).with_command(cmd.clone());
        let result = plugin.command(cmd.name, &mut ctx).await;
        self.finish(req, plugin, ctx, result, Some(cmd.name)).await
    }

    /// An event beyond text, commands and buttons goes to every plugin that asked for its kind. Plugins
    /// that ask users for consent get none (their consent is asked at their commands). One plugin failing
    /// does not keep it from the others.
    async fn broadcast(&self, req: &Request, interest: crate::plugin::Interest) -> Response {
        let mut out = Vec::new();
        for plugin in self.plugins.iter().filter(|p| p.events().contains(&interest) && p.manifest().consent.is_none()) {
            let mut ctx = self.ctx(req, plugin);
            let result = plugin.event(&mut ctx).await;
            match self.finish(req, plugin, ctx, result, None).await {
                Ok(mut replies) => out.append(&mut replies),
                Err(error) => {
                    tracing::warn!(plugin = plugin.name(), kind = req.event.kind_label(), %error, "an event handler failed")
                }
            }
        }
        out
    }

    /// Text outside any flow: the first matcher that takes it, or (in a direct chat) a pointer to /help.
    async fn free_text(&self, req: &Request, text: &str) -> Result<Response, DispatchError> {
        let private = req.event.chat.is_private();
        let said = super::text::Said { text, private, addressed: req.event.addressed, roles: &req.roles };
        let Some((idx, matcher, matched)) = self.text.find(&said) else {
            return Ok(if private { vec![req.answer_with("router.only_commands", &[])] } else { Vec::new() });
        };
        let plugin = &self.plugins[idx];
        let scope = format!("{}.{}", plugin.name(), matcher.name);
        if matcher.sensitive || self.policy().require_for.contains(&scope) {
            let approval = self.policy().approval(&scope);
            if !approval.is_granted(&req.grants) {
                return Err(DispatchError::StepUpRequired(approval));
            }
        }
        tracing::debug!(plugin = plugin.name(), matcher = matcher.name, "free text matched");
        let mut ctx = self.ctx(req, plugin).with_match(matched);
        let result = plugin.text(matcher.name, &mut ctx).await;
        self.finish(req, plugin, ctx, result, None).await
    }

    /// Checks a pressed button's origin command again: the presser must still hold its role, and a
    /// sensitive command's scope must be granted now. Returns the refusal, if any.
    async fn recheck(&self, req: &Request, origin: Option<&str>) -> Result<Option<crate::Reply>, DispatchError> {
        let Some((idx, cmd)) = origin.and_then(|o| self.commands.get(o)) else { return Ok(None) };
        if cmd.role.is_some_and(|r| !req.roles.contains(r)) {
            let details = [("command", cmd.name.to_string()), ("role", cmd.role.unwrap_or_default().to_string())];
            self.audit.note("access.refused", Some(&req.event.user), crate::services::Outcome::Denied, &details).await;
            return Ok(Some(req.answer_with("router.no_longer_allowed", &[("command", cmd.name)])));
        }
        let scope = format!("{}.{}", self.plugins[*idx].name(), cmd.name);
        if cmd.sensitive || self.policy().require_for.contains(&scope) {
            let approval = self.policy().approval(&scope);
            if !approval.is_granted(&req.grants) {
                return Err(DispatchError::StepUpRequired(approval));
            }
        }
        Ok(None)
    }

    /// Seals the buttons of `replies` for the users they are for, with the command they came from.
    fn seal(&self, replies: &mut [crate::Reply], origin: Option<&str>) {
        for reply in replies {
            if let crate::ReplyBody::Text { buttons, .. } = &mut reply.body {
                for b in buttons {
                    if let Some(sealed) = super::buttons::seal(&*self.store, &reply.user, origin, &b.data) {
                        b.data = sealed;
                    }
                }
            }
        }
    }

    async fn button(&self, req: &Request, data: &str, origin: Option<&str>) -> Result<Response, DispatchError> {
        let owner = data.split_once(':').map(|(p, _)| p);
        let Some(plugin) = self.plugins.iter().find(|p| Some(p.name()) == owner) else {
            return Ok(vec![req.answer_with("router.button_inactive", &[])]);
        };
        let mut ctx = self.ctx(req, plugin);
        let value = crate::plugin::button_value(plugin.name(), data).unwrap_or_default().to_string();
        let result = plugin.button(&value, &mut ctx).await;
        self.finish(req, plugin, ctx, result, origin).await
    }

    async fn step(&self, req: &Request, mut state: FlowState) -> Result<Response, DispatchError> {
        let conv = req.event.conversation();
        let Some(plugin) = self.plugins.iter().find(|p| p.name() == state.plugin) else {
            self.flows.remove(&conv).await?;
            return Ok(vec![req.answer_with("router.flow_turned_off", &[("flow", state.flow.name())])]);
        };
        if let EventKind::Button(data) = &req.event.kind
            && crate::plugin::button_value(plugin.name(), data).is_none()
        {
            return Ok(vec![req.answer_with("router.button_inactive", &[])]);
        }
        let mut ctx = self.ctx(req, plugin);
        let origin = state.origin.clone();
        match plugin.flow_step(&mut state.flow, &mut ctx).await {
            Ok(step) => {
                match step {
                    Step::Next(next) => {
                        state.flow.go_to(next);
                        self.touch(state).await?;
                    }
                    Step::Repeat => self.touch(state).await?,
                    Step::Done | Step::Cancel => {
                        self.flows.remove(&conv).await?;
                    }
                }
                self.finish(req, plugin, ctx, Ok(()), origin.as_deref()).await
            }
            Err(PluginError::User(msg)) => {
                self.touch(state).await?;
                ctx.reply(msg);
                let mut replies = ctx.into_output().0;
                self.seal(&mut replies, origin.as_deref());
                Ok(replies)
            }
            Err(e) => self.finish(req, plugin, ctx, Err(e), origin.as_deref()).await,
        }
    }

    async fn touch(&self, mut state: FlowState) -> Result<(), DispatchError> {
        state.updated_at_ms = self.clock.now_ms();
        Ok(self.flows.save(&state).await?)
    }

    /// Turns a handler's outcome into replies (their buttons sealed, see `buttons`), persisting a flow the
    /// handler started; `origin` is the command the handling goes back to.
    async fn finish(
        &self,
        req: &Request,
        plugin: &Arc<dyn Plugin>,
        mut ctx: Ctx,
        result: Result<(), PluginError>,
        origin: Option<&str>,
    ) -> Result<Response, DispatchError> {
        let scheduled = if result.is_ok() { ctx.take_scheduled() } else { Vec::new() };
        for job in scheduled {
            match &self.jobs {
                Some(jobs) => jobs.add(plugin.name(), job, &req.event.user, &req.event.chat).await?,
                None => tracing::warn!(plugin = plugin.name(), "this dispatcher keeps no jobs; one was dropped"),
            }
        }
        match result {
            Ok(()) => {}
            Err(PluginError::User(msg)) => ctx.reply(msg),
            Err(PluginError::StepUp(approval)) => return Err(DispatchError::StepUpRequired(approval)),
            Err(e) => {
                return Err(DispatchError::Plugin { plugin: plugin.name(), message: e.to_string() });
            }
        }
        let (mut replies, started) = ctx.into_output();
        self.seal(&mut replies, origin);
        if let Some(flow) = started {
            let state = FlowState {
                plugin: plugin.name().to_string(),
                user: req.event.user.clone(),
                chat: req.event.chat.clone(),
                flow,
                updated_at_ms: self.clock.now_ms(),
                origin: origin.map(str::to_string),
            };
            self.flows.save(&state).await?;
        }
        Ok(replies)
    }
}
