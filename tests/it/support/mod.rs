//! Shared test fixtures: a capturing outbox, a dispatcher harness and a probe plugin.

pub mod probe;
pub mod stepup;

use std::sync::{Arc, Mutex};

use palisade::adapter::Capabilities;
use palisade::dispatch::DispatcherBuilder;
use palisade::store::{MemoryBackend, RecordStore, SharedStore, SledBackend};
use palisade::{
    ChatKind, ChatRef, Dispatcher, Event, EventKind, EventSink, MessageId, Outbox, Platform, Plugin, Reply, ReplyBody,
    SendError, UserRef,
};
use tokio_util::sync::CancellationToken;

/// Records every delivered reply.
#[derive(Default)]
pub struct Capture {
    replies: Mutex<Vec<Reply>>,
}

#[palisade::async_trait]
impl Outbox for Capture {
    async fn deliver(&self, reply: &Reply) -> Result<Option<MessageId>, SendError> {
        self.replies.lock().unwrap().push(reply.clone());
        Ok(None)
    }
}

impl Capture {
    pub fn take(&self) -> Vec<Reply> {
        std::mem::take(&mut *self.replies.lock().unwrap())
    }
}

/// The text of a reply (images and deletions render as markers).
pub fn text_of(r: &Reply) -> String {
    match &r.body {
        ReplyBody::Text { text, .. } => text.clone(),
        ReplyBody::Image { .. } => "<image>".into(),
        ReplyBody::Delete(id) => format!("<delete {}>", id.0),
        ReplyBody::CodePrompt { text } => format!("<code prompt> {text}"),
        ReplyBody::File { name, .. } => format!("<file {name}>"),
    }
}

/// The key every test store is sealed with (fixed, so a sled store can be reopened).
pub fn test_key() -> palisade::crypto::Key {
    palisade::crypto::Key::from_bytes(&[7u8; 32]).unwrap()
}

pub async fn memory_store() -> SharedStore {
    let backend = Arc::new(MemoryBackend::new());
    Arc::new(RecordStore::open(backend, &test_key(), palisade::clock::TokioClock::shared()).await.unwrap())
}

pub async fn sled_store(dir: &std::path::Path) -> SharedStore {
    let backend = Arc::new(SledBackend::open(dir).unwrap());
    Arc::new(RecordStore::open(backend, &test_key(), palisade::clock::TokioClock::shared()).await.unwrap())
}

pub fn user(id: &str) -> UserRef {
    UserRef::new(Platform::CONSOLE, id)
}

pub fn event(user_id: &str, text: &str) -> Event {
    let chat = ChatRef::new(Platform::CONSOLE, user_id, ChatKind::Direct);
    Event::text(user(user_id), chat, text)
}

pub fn button(user_id: &str, data: &str) -> Event {
    let mut e = event(user_id, "");
    e.kind = EventKind::Button(data.into());
    e
}

/// A running dispatcher with a capturing console outbox.
pub struct Harness {
    pub sink: EventSink,
    pub capture: Arc<Capture>,
    pub shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Harness {
    pub fn start(plugins: Vec<Arc<dyn Plugin>>, store: SharedStore) -> Self {
        Self::start_with(plugins, store, |b| b)
    }

    pub fn start_with(
        plugins: Vec<Arc<dyn Plugin>>,
        store: SharedStore,
        tweak: impl FnOnce(DispatcherBuilder) -> DispatcherBuilder,
    ) -> Self {
        let capture = Arc::new(Capture::default());
        let caps = Capabilities { max_message_len: 4096, ..Capabilities::CONSOLE };
        let mut builder = Dispatcher::builder(plugins, store);
        for platform in Platform::known() {
            builder = builder.outbox(platform, capture.clone(), caps);
        }
        let dispatcher = tweak(builder).build().unwrap();
        let sink = dispatcher.sink();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(dispatcher.run(shutdown.clone()));
        Self { sink, capture, shutdown, task }
    }

    /// Sends `text` as `user_id` in their direct chat and returns the texts of the replies.
    pub async fn say(&self, user_id: &str, text: &str) -> Vec<String> {
        self.send(event(user_id, text)).await
    }

    pub async fn send(&self, event: Event) -> Vec<String> {
        self.sink.submit_and_wait(event).await.unwrap();
        self.capture.take().iter().map(text_of).collect()
    }

    /// Stops intake, waits for the drain and the final flush.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }
}
