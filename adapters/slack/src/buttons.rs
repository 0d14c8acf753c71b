//! Opaque button values for Block Kit, over the adapter kit's bounded map: a button carries a random id, never the
//! bot's own data, and a press resolves only in the channel the button was sent to.

pub use palisade_adapter_kit::random_id;
use palisade_core::ChatRef;
use palisade_crypto::CryptoError;

/// The bounded map from opaque button value to (chat, data).
#[derive(Debug, Default)]
pub struct ButtonIds(palisade_adapter_kit::OpaqueIds<(ChatRef, String)>);

impl ButtonIds {
    /// A map remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(palisade_adapter_kit::OpaqueIds::with_capacity(capacity))
    }

    /// A fresh id standing for `data` on a button sent to `chat` (with replicas: once every replica can
    /// resolve it).
    pub async fn register(&self, chat: &ChatRef, data: &str) -> Result<String, CryptoError> {
        self.0.register((chat.clone(), data.to_string())).await
    }

    /// Shares ids with the other replicas through `book`.
    pub fn share(&self, book: std::sync::Arc<dyn palisade_core::IdBook>) {
        self.0.share(book);
    }

    /// Looks `id` up among the replicas when it is not known here.
    pub async fn prefetch(&self, id: &str) {
        self.0.prefetch(id).await;
    }

    /// The chat and data behind `id`, if it is remembered and was sent to channel `channel`.
    pub fn resolve(&self, id: &str, channel: &str) -> Option<(ChatRef, String)> {
        self.0.resolve(id, |(chat, _)| chat.id == channel)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use palisade_core::{ChatKind, Platform};

    use super::*;

    #[tokio::test]
    async fn values_are_bound_to_their_channel() {
        let ids = ButtonIds::default();
        let chat = ChatRef::new(Platform::SLACK, "C1", ChatKind::Group);
        let a = ids.register(&chat, "bank:confirm").await.unwrap();
        assert!(!a.contains("bank"));
        assert_eq!(ids.resolve(&a, "C1"), Some((chat, "bank:confirm".to_string())));
        assert_eq!(ids.resolve(&a, "C2"), None, "not from another channel");
    }
}
