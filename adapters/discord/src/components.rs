//! Opaque component ids: Discord gets a random `custom_id`, never the bot's own button data, and a press is
//! resolved here — a button only in the channel it was sent to, a "enter code" button only for its user.
//!
//! The map is in memory and bounded: the oldest ids are forgotten first, and all at restart. A press on a
//! forgotten id is answered "expired" and goes no further. With replicas, ids are shared through the
//! runtime's id book, so a component sent by one replica is resolved on another.

use palisade_crypto::CryptoError;

/// The `custom_id` of the verification modal and of its text input (the modal's answer is taken from its
/// first text input whatever the ids; these only label it).
pub const MODAL_ID: &str = "palisade-code";

/// What a component id stands for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Target {
    /// A bot button: its data, valid in `chat`.
    Button {
        /// The channel the button was sent to.
        chat: String,
        /// The data the bot attached.
        data: String,
    },
    /// Opens the verification modal for `user` (used where a modal cannot be the first answer).
    CodeEntry {
        /// The user the prompt was for.
        user: String,
        /// The prompt (its first words title the form).
        prompt: String,
    },
}

/// The bounded map from opaque id to target (the adapter kit's map).
#[derive(Debug, Default)]
pub struct Components(palisade_adapter_kit::OpaqueIds<Target>);

impl Components {
    /// A map remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(palisade_adapter_kit::OpaqueIds::with_capacity(capacity))
    }

    /// A fresh id standing for `target` (with replicas: once every replica can resolve it).
    pub async fn register(&self, target: Target) -> Result<String, CryptoError> {
        self.0.register(target).await
    }

    /// Shares ids with the other replicas through `book`.
    pub fn share(&self, book: std::sync::Arc<dyn palisade_core::IdBook>) {
        self.0.share(book);
    }

    /// Looks `id` up among the replicas when it is not known here.
    pub async fn prefetch(&self, id: &str) {
        self.0.prefetch(id).await;
    }

    /// What `id` stands for, if remembered.
    pub fn resolve(&self, id: &str) -> Option<Target> {
        self.0.resolve(id, |_| true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn ids_are_opaque_and_bounded() {
        let c = Components::with_capacity(2);
        let button = Target::Button { chat: "7".into(), data: "bank:confirm".into() };
        let a = c.register(button.clone()).await.unwrap();
        assert!(a.len() == 32 && !a.contains("bank"));
        assert_eq!(c.resolve(&a), Some(button));
        let b = c.register(Target::CodeEntry { user: "9".into(), prompt: String::new() }).await.unwrap();
        c.register(Target::CodeEntry { user: "9".into(), prompt: String::new() }).await.unwrap();
        assert_eq!(c.resolve(&a), None, "the oldest is forgotten");
        assert!(c.resolve(&b).is_some());
        assert_eq!(c.resolve("forged"), None);
    }
}
