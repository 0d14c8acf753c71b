//! Consent before use: a command of a plugin whose data manifest asks for consent runs only once the user has
//! agreed to the current version of its text; until then the user is asked, with buttons that the privacy
//! commands answer (`privacy:agree:…`, `privacy:decline:…`).

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};

use super::ConsentBook;
use crate::dispatch::{DispatchError, Request, Response};
use crate::event::EventKind;
use crate::plugin::{ConsentRequest, Plugin};
use crate::reply::{Button, Reply, ReplyBody};

/// Which plugin's consent each command needs.
struct Rules {
    book: ConsentBook,
    by_command: HashMap<&'static str, (&'static str, ConsentRequest)>,
}

/// Layer adding [`Consent`].
#[derive(Clone)]
pub struct ConsentLayer {
    rules: Arc<Rules>,
}

impl std::fmt::Debug for ConsentLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentLayer").field("commands", &self.rules.by_command.len()).finish()
    }
}

impl ConsentLayer {
    /// Consent for the commands of every plugin in `plugins` whose manifest asks for it, recorded in `book`.
    pub fn new(book: ConsentBook, plugins: &[Arc<dyn Plugin>]) -> Self {
        let mut by_command = HashMap::new();
        for plugin in plugins {
            if let Some(ask) = plugin.manifest().consent {
                for command in plugin.commands() {
                    by_command.insert(command.name, (plugin.name(), ask.clone()));
                }
            }
        }
        Self { rules: Arc::new(Rules { book, by_command }) }
    }
}

impl<S> Layer<S> for ConsentLayer {
    type Service = Consent<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Consent { inner, rules: self.rules.clone() }
    }
}

/// Asks for consent instead of running a command that needs it.
#[derive(Clone)]
pub struct Consent<S> {
    inner: S,
    rules: Arc<Rules>,
}

impl<S> std::fmt::Debug for Consent<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consent").finish_non_exhaustive()
    }
}

impl<S> Service<Request> for Consent<S>
where
    S: Service<Request, Response = Response, Error = DispatchError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = DispatchError;
    type Future = BoxFuture<'static, Result<Response, DispatchError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let needed = match &req.event.kind {
            EventKind::Command(call) => self.rules.by_command.get(call.name.as_str()).cloned(),
            _ => None,
        };
        let Some((plugin, ask)) = needed else { return Box::pin(self.inner.call(req)) };
        let (rules, mut inner) = (self.rules.clone(), self.inner.clone());
        std::mem::swap(&mut self.inner, &mut inner);
        Box::pin(async move {
            if rules.book.has(&req.event.user, plugin, ask.version).await? {
                inner.call(req).await
            } else {
                Ok(vec![ask_for(&req, plugin, &ask, &**rules.book.store())])
            }
        })
    }
}

/// The question, with buttons the privacy commands answer (sealed for the user, like every button).
fn ask_for(req: &Request, plugin: &str, ask: &ConsentRequest, store: &dyn crate::store::Store) -> Reply {
    let text = req.say("privacy.consent_question", &[("request", ask.text)]);
    let button = |label: &str, data: String| {
        let sealed = crate::dispatch::seal_button(store, &req.event.user, None, &data);
        Button::new(label, sealed.unwrap_or(data))
    };
    let buttons = vec![
        button(&req.say("privacy.agree_button", &[]), format!("privacy:agree:{plugin}:{}", ask.version)),
        button(&req.say("privacy.decline_button", &[]), format!("privacy:decline:{plugin}")),
    ];
    Reply { body: ReplyBody::Text { text, buttons }, ..req.answer("") }
}
