//! The step-up gate: a layer just outside the router that suspends sensitive actions until the user sends a
//! valid code, then runs them exactly as asked.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service, ServiceExt};

use super::{Outcome, Pending, StepUp, Verified};
use crate::config::Unenrolled;
use crate::dispatch::{DispatchError, EventService, Request, Response};
use crate::event::{ChatKind, EventKind};
use crate::reply::{Reply, ReplyBody};

/// Layer adding [`Gate`].
#[derive(Clone, Debug)]
pub struct GateLayer {
    stepup: Arc<StepUp>,
    identities: Option<Arc<crate::identity::Identities>>,
    cross: bool,
}

impl GateLayer {
    /// A gate using `stepup`.
    pub fn new(stepup: Arc<StepUp>) -> Self {
        Self { stepup, identities: None, cross: false }
    }

    /// Knows linked identities: a code sent on one linked platform for an action suspended on another is
    /// taken when `confirm` is set (`[identity] cross_platform_confirm`), and otherwise pointed there.
    #[must_use]
    pub fn across_platforms(mut self, identities: Arc<crate::identity::Identities>, confirm: bool) -> Self {
        self.identities = Some(identities);
        self.cross = confirm;
        self
    }
}

impl Layer<EventService> for GateLayer {
    type Service = Gate;
    fn layer(&self, inner: EventService) -> Gate {
        Gate { inner, stepup: self.stepup.clone(), identities: self.identities.clone(), cross: self.cross }
    }
}

/// Suspends events that need step-up and resumes them after verification.
#[derive(Clone)]
pub struct Gate {
    inner: EventService,
    stepup: Arc<StepUp>,
    identities: Option<Arc<crate::identity::Identities>>,
    cross: bool,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

impl Service<Request> for Gate {
    type Response = Response;
    type Error = DispatchError;
    type Future = BoxFuture<'static, Result<Response, DispatchError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let gate = self.clone();
        Box::pin(async move { gate.handle(req).await })
    }
}

fn private(req: &Request, body: ReplyBody) -> Reply {
    Reply { chat: req.event.chat.clone(), user: req.event.user.clone(), private: true, body, retract: None }
}

fn text(req: &Request, t: impl Into<String>) -> Reply {
    private(req, ReplyBody::Text { text: t.into(), buttons: Vec::new() })
}

/// A failed attempt's answer: where the code came from a private form (a modal), ask again with a new one.
fn retry(req: &Request, t: impl Into<String>) -> Reply {
    if req.event.private_input { private(req, ReplyBody::CodePrompt { text: t.into() }) } else { text(req, t) }
}

impl Gate {
    async fn handle(&self, mut req: Request) -> Result<Response, DispatchError> {
        let mut out = Vec::new();
        if let Some(pending) = self.stepup.pending().load(&req.event.user).await? {
            let age = self.stepup.now_ms().saturating_sub(pending.created_at_ms);
            if age > crate::clock::millis(self.stepup.settings().code_timeout) {
                self.stepup.pending().clear(&req.event.user).await?;
                let scope = &pending.approval.scope;
                out.push(text(&req, req.say("stepup.timed_out", &[("scope", scope)])));
            } else if is_code_channel(&req, &pending) {
                return self.answer(req, pending).await;
            } else if looks_like_code(&req) {
                let burned = match &req.event.kind {
                    EventKind::Text(posted) => self.stepup.burn(&req.event.user, posted).await?,
                    _ => super::Burned::Nothing,
                };
                // A code posted where others can read it: take it down where possible and say so privately.
                if let Some(id) = req.event.message_id.clone().filter(|_| req.capabilities.can_delete_user_messages) {
                    let (chat, user) = (req.event.chat.clone(), req.event.user.clone());
                    out.push(Reply { chat, user, private: false, body: ReplyBody::Delete(id), retract: None });
                }
                out.push(text(
                    &req,
                    match burned {
                        super::Burned::Recovery { left } => {
                            req.say("stepup.code_in_group_recovery", &[("left", &left.to_string())])
                        }
                        _ => req.say("stepup.code_in_group", &[]),
                    },
                ));
                return Ok(out);
            } else if req.event.conversation() == pending.event.conversation() {
                // The conversation the action was asked in is frozen until it is verified or cancelled, so
                // the state the user approved (a flow's amount and recipient) cannot change under the code.
                if matches!(&req.event.kind, EventKind::Command(c) if c.name == "cancel") {
                    self.stepup.pending().clear(&req.event.user).await?;
                    out.push(text(&req, req.say("stepup.cancelled", &[("scope", &pending.approval.scope)])));
                } else {
                    return Ok(vec![req.answer_with("stepup.finish_first", &[])]);
                }
            }
        } else if let Some(answer) = self.elsewhere(&req).await? {
            return Ok(answer);
        }
        req.grants = Arc::new(self.stepup.grants(&req.event.conversation()).await?);
        if let Some(approval) = self.stepup.take_resuming(&req.event.conversation()) {
            out.append(&mut self.run_verified(req, approval).await?);
            return Ok(out);
        }
        match self.inner.clone().oneshot(req.clone()).await {
            Err(DispatchError::StepUpRequired(approval)) => out.append(&mut self.suspend(&req, approval).await?),
            Ok(mut replies) => out.append(&mut replies),
            Err(e) => return Err(e),
        }
        Ok(out)
    }

    /// A code sent privately with nothing waiting for it here, while an action waits on a linked platform:
    /// taken for that action when cross-platform confirmation is on, otherwise pointed there.
    async fn elsewhere(&self, req: &Request) -> Result<Option<Response>, DispatchError> {
        let Some(identities) = &self.identities else { return Ok(None) };
        let private = req.event.chat.kind == ChatKind::Direct || req.event.private_input;
        if !private || !looks_like_code(req) {
            return Ok(None);
        }
        for other in identities.linked(&req.event.user).await? {
            if other == req.event.user {
                continue;
            }
            let Some(pending) = self.stepup.pending().load(&other).await? else { continue };
            let age = self.stepup.now_ms().saturating_sub(pending.created_at_ms);
            if age > crate::clock::millis(self.stepup.settings().code_timeout) {
                continue;
            }
            if self.cross {
                return self.answer(req.clone(), pending).await.map(Some);
            }
            let scope = &pending.approval.scope;
            let platform = other.platform.to_string();
            return Ok(Some(vec![text(
                req,
                req.say("stepup.elsewhere", &[("scope", scope), ("platform", &platform)]),
            )]));
        }
        Ok(None)
    }

    /// Suspends `req` until the user proves possession, or explains why it cannot be.
    async fn suspend(&self, req: &Request, approval: crate::plugin::Approval) -> Result<Response, DispatchError> {
        let user = &req.event.user;
        let scope = approval.scope.clone();
        let enrolment = self.stepup.enrolment(user).await?.filter(|e| e.active);
        let Some(enrolment) = enrolment else {
            let key = match self.stepup.settings().unenrolled {
                Unenrolled::Enrol => "stepup.needs_enrolment",
                Unenrolled::Deny => "stepup.needs_operator",
            };
            let msg = req.say(key, &[("scope", &scope)]);
            return Ok(vec![req.answer(msg)]);
        };
        // The details are shown to the user only; the trail records that they were bound, not what they are.
        let mut details = vec![("scope", scope.clone())];
        if approval.single_use {
            details.push(("single_use", "true".into()));
        }
        self.stepup.audit().record("stepup.challenge", Some(user), crate::audit::Outcome::Info, &details).await?;
        let ask = req.say(if enrolment.locked_for_good { "stepup.ask_recovery" } else { "stepup.ask_code" }, &[]);
        let prompt = if approval.details.is_empty() {
            let key = if approval.single_use { "stepup.prompt_once" } else { "stepup.prompt" };
            req.say(key, &[("scope", &scope), ("ask", &ask)])
        } else {
            // One detail per line, so the user reads exactly what the code will approve.
            let lines: Vec<String> = approval.details.iter().map(|(k, v)| format!("• {k}: {v}")).collect();
            let mut chars = ask.chars();
            let ask: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
            req.say("stepup.prompt_details", &[("scope", &scope), ("details", &lines.join("\n")), ("ask", &ask)])
        };
        let pending = Pending { event: req.event.clone(), approval, created_at_ms: self.stepup.now_ms() };
        self.stepup.pending().save(&pending).await?;
        let mut replies = vec![private(req, ReplyBody::CodePrompt { text: prompt })];
        // Platforms with private input (modals) ask right there; others move the question to a DM.
        if req.event.chat.kind != ChatKind::Direct && !req.capabilities.private_input {
            replies.push(req.answer_with("stepup.sent_privately", &[]));
        }
        Ok(replies)
    }

    /// Handles the user's answer while an action waits for their code.
    async fn answer(&self, req: Request, pending: Pending) -> Result<Response, DispatchError> {
        let user = req.event.user.clone();
        let input = match &req.event.kind {
            EventKind::Command(c) if c.name == "cancel" => {
                self.stepup.pending().clear(&user).await?;
                let mut out = vec![text(&req, req.say("stepup.cancelled", &[("scope", &pending.approval.scope)]))];
                if pending.event.chat == req.event.chat {
                    // Also end the flow the action belonged to, as /cancel would have without step-up.
                    let nothing = req.say("router.nothing_to_cancel", &[]);
                    let mut rest = self.inner.clone().oneshot(req).await?;
                    rest.retain(|r| !matches!(&r.body, ReplyBody::Text { text, .. } if *text == nothing));
                    out.append(&mut rest);
                }
                return Ok(out);
            }
            EventKind::Text(t) => t.clone(),
            _ => return Ok(vec![text(&req, req.say("stepup.code_first", &[]))]),
        };
        let mut out = Vec::new();
        if let Some(id) = req.event.message_id.clone().filter(|_| req.capabilities.can_delete_user_messages) {
            out.push(Reply {
                chat: req.event.chat.clone(),
                user: user.clone(),
                private: false,
                body: ReplyBody::Delete(id),
                retract: None,
            });
        }
        let outcome = match self.stepup.verify_pending(&pending, &input).await? {
            Verified::Attempted(outcome) => outcome,
            Verified::Gone => {
                out.push(text(&req, req.say("stepup.already_answered", &[("scope", &pending.approval.scope)])));
                return Ok(out);
            }
            Verified::NotEnrolled => {
                out.push(text(&req, req.say("stepup.not_enrolled_any_more", &[])));
                return Ok(out);
            }
        };
        match outcome {
            Outcome::Accepted | Outcome::Recovered { .. } => {
                if let Outcome::Recovered { left } = outcome {
                    out.push(text(&req, req.say("stepup.recovery_used", &[("left", &left.to_string())])));
                }
                out.append(&mut self.resume(&req, pending).await?);
            }
            Outcome::Replayed => {
                out.push(retry(&req, req.say("stepup.replayed", &[])));
            }
            Outcome::Wrong { before_pause: 0 } => {
                out.push(retry(&req, req.say("stepup.wrong_paused", &[])));
            }
            Outcome::Wrong { before_pause } => {
                out.push(retry(&req, req.say("stepup.wrong", &[("left", &before_pause.to_string())])));
            }
            Outcome::Locked { until_ms: Some(until) } => {
                let secs = until.saturating_sub(self.stepup.now_ms()).div_ceil(1000);
                out.push(retry(&req, req.say("stepup.paused", &[("seconds", &secs.to_string())])));
            }
            Outcome::Locked { until_ms: None } => {
                out.push(retry(&req, req.say("stepup.locked", &[])));
            }
            Outcome::Malformed => {
                out.push(text(&req, req.say("stepup.malformed", &[])));
            }
        }
        Ok(out)
    }

    /// Runs the verified action again, now with its scope granted: through the dispatcher's intake, so it
    /// runs in its own conversation's queue after whatever that conversation is doing (never alongside it);
    /// without an intake to go back into, right here.
    async fn resume(&self, req: &Request, pending: Pending) -> Result<Response, DispatchError> {
        let conv = pending.event.conversation();
        if let Some(sink) = self.stepup.resubmit() {
            self.stepup.note_resuming(conv, pending.approval.clone());
            // Whoever waits for the code's answer waits for the action's too.
            let mut envelope = crate::adapter::Envelope::new(pending.event).resumed();
            envelope.done = req.done.take();
            if let Err(refused) = sink.try_submit_envelope(envelope) {
                let (e, envelope) = *refused;
                let sink = sink.clone();
                tracing::debug!(error = %e, "intake full; the verified action waits for room");
                tokio::spawn(async move { sink.submit_envelope(envelope).await });
            }
            return Ok(Vec::new());
        }
        let mut resumed = Request::new(pending.event, req.capabilities);
        resumed.roles = req.roles.clone();
        resumed.texts = req.texts.clone();
        resumed.grants = Arc::new(self.stepup.grants(&conv).await?);
        self.run_verified(resumed, pending.approval).await
    }

    /// Runs a request whose action was just verified (`approval`), and audits how it went. A single-use
    /// approval is handed to this run only; if the action now asks for different details (the amount
    /// changed meanwhile), it is suspended again and a new code asked.
    async fn run_verified(
        &self,
        mut req: Request,
        approval: crate::plugin::Approval,
    ) -> Result<Response, DispatchError> {
        if approval.single_use {
            let mut grants = (*req.grants).clone();
            grants.insert(approval.grant());
            req.grants = Arc::new(grants);
        }
        let result = self.inner.clone().oneshot(req.clone()).await;
        let outcome = match &result {
            Ok(_) => crate::audit::Outcome::Success,
            Err(DispatchError::StepUpRequired(_)) => crate::audit::Outcome::Denied,
            Err(_) => crate::audit::Outcome::Failure,
        };
        let scope = approval.scope.clone();
        self.stepup.audit().note("sensitive.action", Some(&req.event.user), outcome, &[("scope", scope)]).await;
        match result {
            Err(DispatchError::StepUpRequired(again)) => {
                let mut out = Vec::new();
                if again.scope == approval.scope && approval.single_use {
                    out.push(text(&req, req.say("stepup.details_changed", &[])));
                }
                out.append(&mut self.suspend(&req, again).await?);
                Ok(out)
            }
            other => other,
        }
    }
}

/// Where a code may be typed: a direct chat with the bot, private input (a modal), or the original chat if
/// that was direct. Codes are never taken from a group.
fn is_code_channel(req: &Request, pending: &Pending) -> bool {
    req.event.user == pending.event.user && (req.event.chat.kind == ChatKind::Direct || req.event.private_input)
}

/// True for text that looks like a TOTP or recovery code.
fn looks_like_code(req: &Request) -> bool {
    let EventKind::Text(t) = &req.event.kind else { return false };
    let digits: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())) || super::recovery::looks_like(t)
}
