//! Opaque button ids for Telegram (at most 64 bytes of callback data), over the adapter kit's bounded map: chats
//! are Telegram's numeric chat ids.

use palisade_crypto::CryptoError;

/// The bounded map from opaque button id to (chat, data).
#[derive(Debug, Default)]
pub struct ButtonIds(palisade_adapter_kit::OpaqueIds<(i64, String)>);

impl ButtonIds {
    /// A map remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(palisade_adapter_kit::OpaqueIds::with_capacity(capacity))
    }

    /// A fresh id standing for `data` on a button sent to `chat` (with replicas: once every replica can
    /// resolve it).
    pub async fn register(&self, chat: i64, data: &str) -> Result<String, CryptoError> {
        self.0.register((chat, data.to_string())).await
    }

    /// Shares ids with the other replicas through `book`.
    pub fn share(&self, book: std::sync::Arc<dyn palisade_core::IdBook>) {
        self.0.share(book);
    }

    /// Looks `id` up among the replicas when it is not known here.
    pub async fn prefetch(&self, id: &str) {
        self.0.prefetch(id).await;
    }

    /// The data behind `id`, if it is remembered and was sent to `chat`.
    pub fn resolve(&self, id: &str, chat: i64) -> Option<String> {
        self.0.resolve(id, |(c, _)| *c == chat).map(|(_, data)| data)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn ids_fit_callback_data_and_are_bound_to_their_chat() {
        let ids = ButtonIds::default();
        let a = ids.register(42, "notes:yes").await.unwrap();
        assert!(a.len() <= 64 && !a.contains("notes"));
        assert_eq!(ids.resolve(&a, 42).as_deref(), Some("notes:yes"));
        assert_eq!(ids.resolve(&a, 43), None, "not from another chat");
    }
}
