//! Sending a request with teloxide and reading its answer into a leaner type than teloxide's own.
//!
//! teloxide reads every answer into its full types, trees of untagged enums whose every failed variant try
//! formats an error (see docs/PERFORMANCE.md). [`ReadAs`] sends the same request through the same teloxide
//! `Bot` (its client, URL and error handling: retries, 429s and API errors come from teloxide's response
//! envelope, whatever the answer's type) and reads the answer as `O`: a sent message's id alone
//! (`crate::sent`), or `getUpdates`' updates read without those errors (`crate::quiet`).

use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;
use teloxide::requests::Payload;

/// The payload `P`, sent as teloxide sends it, its answer read as `O`.
#[derive(Serialize)]
#[serde(transparent)]
pub(crate) struct ReadAs<P, O> {
    payload: P,
    #[serde(skip)]
    answer: PhantomData<fn() -> O>,
}

impl<P, O> ReadAs<P, O> {
    /// `payload`, its answer to be read as `O`.
    pub(crate) fn new(payload: P) -> Self {
        Self { payload, answer: PhantomData }
    }
}

impl<P: Clone, O> Clone for ReadAs<P, O> {
    fn clone(&self) -> Self {
        Self::new(self.payload.clone())
    }
}

impl<P: std::fmt::Debug, O> std::fmt::Debug for ReadAs<P, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ReadAs").field(&self.payload).finish()
    }
}

impl<P: Payload, O> Payload for ReadAs<P, O> {
    type Output = O;
    const NAME: &'static str = P::NAME;

    fn timeout_hint(&self) -> Option<Duration> {
        self.payload.timeout_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::payloads::{GetUpdates, GetUpdatesSetters, SendMessage};
    use teloxide::types::ChatId;

    #[test]
    fn it_is_sent_as_the_method_it_wraps() {
        let payload = SendMessage::new(ChatId(42), "hello");
        assert_eq!(<ReadAs<SendMessage, ()> as Payload>::NAME, <SendMessage as Payload>::NAME);
        assert_eq!(
            serde_json::to_value(ReadAs::<_, ()>::new(payload.clone())).expect("serialises"),
            serde_json::to_value(payload).expect("serialises")
        );
        let poll = GetUpdates::new().timeout(30).offset(7);
        let read = ReadAs::<_, ()>::new(poll.clone());
        assert_eq!(<ReadAs<GetUpdates, ()> as Payload>::NAME, "GetUpdates");
        assert_eq!(serde_json::to_value(&read).expect("serialises"), serde_json::to_value(&poll).expect("serialises"));
        assert_eq!(read.timeout_hint(), poll.timeout_hint());
        assert!(read.timeout_hint().is_some(), "a long poll's timeout reaches the HTTP client");
    }
}
