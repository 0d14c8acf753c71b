//! Driving plugins through the real dispatcher in a few lines.
//!
//! [`Harness::start`] runs a bare dispatcher over some plugins (routing, flows, ordering). [`Harness::bot`]
//! runs the whole stack as `palisade run` composes it — step-up gate, consent, alert counting and the
//! built-in `/2fa`, `/admin` and privacy commands — over the store you give it. Replies are captured instead
//! of delivered; [`Harness::say`] returns their texts.
//!
//! ```no_run
//! # async fn demo() {
//! use palisade_testkit::{Harness, memory_store};
//! let h = Harness::bot(vec![std::sync::Arc::new(palisade_echo::Echo)], memory_store().await, Default::default()).await;
//! assert_eq!(h.say("ann", "/echo hi").await, ["hi"]);
//! let enrolled = h.enrol("ann").await;
//! assert_eq!(h.say("ann", &h.code(&enrolled.secret, 1)).await.len(), 1);
//! h.stop().await;
//! # }
//! ```

use std::sync::Arc;

use palisade::bot::Services;
use palisade::clock::{SharedClock, TokioClock};
use palisade::config::Settings;
use palisade::dispatch::DispatcherBuilder;
use palisade::stepup::StepUp;
use palisade::store::SharedStore;
use palisade_core::{Capabilities, ChatKind, ChatRef, Event, EventKind, EventSink, Platform, Plugin, UserRef};
use tokio_util::sync::CancellationToken;

use crate::capture::{Captured, text_of};

/// The console identity `console:<id>`.
pub fn user(id: &str) -> UserRef {
    UserRef::new(Platform::CONSOLE, id)
}

/// `text` typed by console user `id` in their direct chat.
pub fn event(id: &str, text: &str) -> Event {
    Event::text(user(id), ChatRef::new(Platform::CONSOLE, id, ChatKind::Direct), text)
}

/// A press on the button carrying `data`, by console user `id` in their direct chat.
pub fn button(id: &str, data: &str) -> Event {
    let mut e = event(id, "");
    e.kind = EventKind::Button(data.into());
    e
}

/// What enrolment gave a user.
#[derive(Clone, Debug)]
pub struct Enrolled {
    /// The TOTP secret.
    pub secret: Vec<u8>,
    /// The recovery codes shown once.
    pub recovery: Vec<String>,
}

/// A running dispatcher whose replies are captured.
pub struct Harness {
    /// Where events go in.
    pub sink: EventSink,
    /// Where replies come out.
    pub captured: Arc<Captured>,
    /// The wall clock the dispatcher uses (follows tokio's, so `tokio::time::advance` moves it).
    pub clock: SharedClock,
    services: Option<Services>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    alerts: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").finish_non_exhaustive()
    }
}

impl Harness {
    /// A bare dispatcher over `plugins` (no built-in commands, no step-up).
    pub fn start(plugins: Vec<Arc<dyn Plugin>>, store: SharedStore) -> Self {
        Self::start_with(plugins, store, |b| b)
    }

    /// A bare dispatcher over `plugins`, configured further by `tweak`.
    pub fn start_with(
        plugins: Vec<Arc<dyn Plugin>>,
        store: SharedStore,
        tweak: impl FnOnce(DispatcherBuilder) -> DispatcherBuilder,
    ) -> Self {
        let clock: SharedClock = TokioClock::shared();
        let builder = palisade::Dispatcher::builder(plugins, store).clock(clock.clone());
        Self::run(tweak(builder), clock, None)
    }

    /// The whole stack as `palisade run` composes it, over `store`, configured by `settings`.
    ///
    /// # Panics
    /// When the services cannot be built over `store`.
    pub async fn bot(plugins: Vec<Arc<dyn Plugin>>, store: SharedStore, settings: Settings) -> Self {
        Self::bot_with(plugins, store, settings, |b| b).await
    }

    /// Like [`Harness::bot`], with the dispatcher configured further by `tweak`.
    ///
    /// # Panics
    /// When the services cannot be built over `store`.
    pub async fn bot_with(
        plugins: Vec<Arc<dyn Plugin>>,
        store: SharedStore,
        settings: Settings,
        tweak: impl FnOnce(DispatcherBuilder) -> DispatcherBuilder,
    ) -> Self {
        let clock: SharedClock = TokioClock::shared();
        let services = match Services::new(store, clock.clone(), &settings, "palisade.toml".into()).await {
            Ok(services) => services,
            Err(e) => panic!("the services build: {e}"),
        };
        let (plugins, _privacy) = services.with_builtins(plugins);
        let builder = tweak(services.dispatcher(plugins));
        Self::run(builder, clock, Some(services))
    }

    fn run(builder: DispatcherBuilder, clock: SharedClock, mut services: Option<Services>) -> Self {
        let captured = Arc::new(Captured::default());
        let caps = Capabilities { max_message_len: 4096, ..Capabilities::CONSOLE };
        let mut builder = builder;
        for platform in Platform::known() {
            builder = builder.outbox(platform, captured.clone(), caps);
        }
        let dispatcher = match builder.build() {
            Ok(d) => d,
            Err(e) => panic!("the dispatcher builds: {e}"),
        };
        let sink = dispatcher.sink();
        if let Some(services) = &services {
            services.connect(&dispatcher);
        }
        // Alerts reach the admin chats (captured like every reply), as in a running bot.
        let alerts = services.as_mut().and_then(|s| {
            let notices = s.notices.take()?;
            Some(tokio::spawn(palisade::alerts::deliver(s.alerts.clone(), notices, dispatcher.outboxes().clone())))
        });
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(dispatcher.run(shutdown.clone()));
        Self { sink, captured, clock, services, shutdown, task, alerts }
    }

    /// The services of a [`Harness::bot`] (step-up, audit, access, alerts).
    ///
    /// # Panics
    /// On a bare harness.
    pub fn services(&self) -> &Services {
        self.services.as_ref().unwrap_or_else(|| panic!("a bare harness has no services; use Harness::bot"))
    }

    /// The step-up service of a [`Harness::bot`].
    pub fn stepup(&self) -> &Arc<StepUp> {
        &self.services().stepup
    }

    /// Sends `text` as console user `id` in their direct chat; returns the texts of the replies.
    pub async fn say(&self, id: &str, text: &str) -> Vec<String> {
        self.send(event(id, text)).await
    }

    /// Presses the latest button shown to console user `id` that carries `data` (`plugin:value`), as the
    /// platform would send it back (sealed for that user by the runtime); returns the texts of the replies.
    /// With no such button shown, sends `data` as it is (which the runtime refuses as inactive).
    pub async fn press(&self, id: &str, data: &str) -> Vec<String> {
        self.send(self.pressed(id, data)).await
    }

    /// [`Harness::press`] for any identity, in its direct chat.
    pub async fn press_as(&self, user: &UserRef, data: &str) -> Vec<String> {
        let shown = self.captured.shown_button(user, data).unwrap_or_else(|| data.to_string());
        let chat = ChatRef::new(user.platform, user.id.clone(), ChatKind::Direct);
        let mut event = Event::text(user.clone(), chat, "");
        event.kind = EventKind::Button(shown);
        self.send(event).await
    }

    /// The press event of [`Harness::press`], for sending elsewhere (another chat, concurrently).
    pub fn pressed(&self, id: &str, data: &str) -> Event {
        let shown = self.captured.shown_button(&user(id), data);
        button(id, shown.as_deref().unwrap_or(data))
    }

    /// Sends `event` and waits until it was handled and its replies delivered; returns their texts.
    ///
    /// # Panics
    /// When the dispatcher has stopped.
    pub async fn send(&self, event: Event) -> Vec<String> {
        if let Err(e) = self.sink.submit_and_wait(event).await {
            panic!("the dispatcher took the event: {e}");
        }
        self.captured.take().iter().map(text_of).collect()
    }

    /// The TOTP code `steps` 30-second steps from the dispatcher's now, computed independently.
    pub fn code(&self, secret: &[u8], steps: i64) -> String {
        let now = self.clock.now_ms() / 1000;
        crate::totp::code_at(secret, now.saturating_add_signed(steps * 30))
    }

    /// Enrols console user `id` in two-factor verification through the chat, as a person would.
    ///
    /// # Panics
    /// When enrolment does not go as the built-in `/2fa` promises.
    pub async fn enrol(&self, id: &str) -> Enrolled {
        let shown = self.say(id, "/2fa setup").await.join("\n");
        let secret = crate::totp::secret_from_setup(&shown);
        let done = self.say(id, &self.code(&secret, 0)).await;
        let done = done.iter().find(|t| t.starts_with("Two-factor verification is on.")).cloned().unwrap_or_default();
        assert!(done.starts_with("Two-factor verification is on."), "{done}");
        let recovery = done.lines().skip(2).map(str::to_string).collect();
        Enrolled { secret, recovery }
    }

    /// Stops intake without waiting: submissions fail from now on, accepted events still run.
    pub fn close_intake(&self) {
        self.shutdown.cancel();
    }

    /// Stops intake and waits for the drain and the final flush; once it returns, nothing holds the store
    /// any more (a sled store can be opened again, as after a restart).
    ///
    /// # Panics
    /// When the dispatcher task panicked.
    pub async fn stop(self) {
        let Self { sink, services, shutdown, task, alerts, .. } = self;
        drop(sink);
        shutdown.cancel();
        if let Err(e) = task.await {
            panic!("the dispatcher stopped cleanly: {e}");
        }
        // The alert task ends when the last handle on the alerts is gone (a test may still hold one: then it
        // is stopped after a moment).
        drop(services);
        if let Some(mut alerts) = alerts
            && tokio::time::timeout(std::time::Duration::from_secs(2), &mut alerts).await.is_err()
        {
            alerts.abort();
        }
    }
}
