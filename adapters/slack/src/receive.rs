//! Handing authenticated payloads to the dispatcher, once each. Shared by the Events API listener (which must
//! answer at once and so never waits) and Socket Mode (which may wait briefly before acknowledging).
//!
//! Before an event is submitted, the trigger and response URL it came with are remembered, so the replies to
//! it can open a modal or reach a channel the bot is not in. A press on a forgotten button is answered
//! privately in the background.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::{ChatKind, Envelope, EventSink, SinkError, UserRef};
use slack_morphism::SlackMessageContent;
use slack_morphism::api::{SlackApiChatPostEphemeralRequest, SlackApiPostWebhookMessageRequest};

use crate::inbound::{Inbound, map};
use crate::payload::Payload;
use crate::shared::Shared;

/// Shown to someone who presses a button the bot no longer remembers.
pub const EXPIRED: &str = "This button has expired; run the command again.";

/// Maps payloads and submits their events.
#[derive(Debug, Clone)]
pub struct Receiver {
    shared: Arc<Shared>,
    sink: EventSink,
}

impl Receiver {
    /// A receiver submitting to `sink`.
    pub fn new(shared: Arc<Shared>, sink: EventSink) -> Self {
        Self { shared, sink }
    }

    /// The sink, for reporting rejected requests.
    pub fn sink(&self) -> &EventSink {
        &self.sink
    }

    /// Submits the payload's events and waits (at most `wait`) until the dispatcher accepted it: recorded,
    /// and checked against the deliveries it saw before (even before a restart). Only then may Slack be told
    /// it arrived; [`SinkError::Full`] means "let Slack retry". A repeated payload is accepted and dropped.
    pub async fn take(&self, payload: Payload, wait: Duration) -> Result<(), SinkError> {
        // A button sent by another replica is looked up among the replicas before the press is mapped.
        if let crate::payload::Payload::Interaction(crate::payload::Interaction::BlockActions(a)) = &payload
            && let Some(value) = a.actions.first().and_then(|x| x.value.as_deref())
        {
            self.shared.buttons.prefetch(value).await;
        }
        let Some((key, events)) = self.prepare(payload) else { return Ok(()) };
        for (n, mut event) in events.into_iter().enumerate() {
            if let Some(user) = self.unconfirmed_direct(&event) {
                event = self.confirm_direct(event, &user).await;
            }
            let mut envelope = Envelope::new(event);
            // The payload's id, and for the second and later events of one payload (files shared together)
            // `…/<n>`.
            if let Some(k) = &key {
                envelope = envelope.delivery_part(&format!("slack:{k}"), n);
            }
            self.sink.submit_within(envelope, wait).await.inspect_err(|_| self.release(key.as_deref()))?;
        }
        Ok(())
    }

    /// Claims the payload's id and maps it; `None` when there is nothing (more) to submit.
    fn prepare(&self, payload: Payload) -> Option<(Option<String>, Vec<palisade_core::Event>)> {
        let key = payload.dedupe_key();
        if let Some(k) = &key
            && !self.shared.seen.claim(k)
        {
            tracing::debug!("repeated Slack delivery dropped");
            return None;
        }
        let me = self.shared.api.me().map(|m| m.user_id.clone());
        match map(payload, &self.shared, me.as_deref()) {
            Inbound::Event { event, trigger_id, response_url } => {
                if let Some(t) = trigger_id {
                    self.shared.recent.note_trigger(&event.user, &t);
                }
                if let Some(url) = response_url {
                    self.shared.recent.note_response_url(&event.user, &event.chat.id, &url);
                }
                Some((key, vec![*event]))
            }
            Inbound::Events(events) => Some((key, events)),
            Inbound::Expired { user, channel, response_url } => {
                self.expired(user, channel, response_url);
                None
            }
            Inbound::Ignored(reason) => {
                tracing::debug!(reason, "Slack payload ignored");
                None
            }
        }
    }

    /// The Slack user of an event that claims a direct chat not yet known to be their DM with the bot (a
    /// slash command typed in a DM: between two people it says the same).
    fn unconfirmed_direct(&self, event: &palisade_core::Event) -> Option<String> {
        if event.chat.kind != ChatKind::Direct {
            return None;
        }
        let user = crate::identity::slack_user_id(&event.user)?;
        (self.shared.api.known_dm(user).as_deref() != Some(event.chat.id.as_str())).then(|| user.to_string())
    }

    /// `event` counted as direct only if its chat is the user's DM with the bot (`conversations.open` says
    /// which); otherwise, or when Slack cannot say, as a group, where nothing private is shown.
    async fn confirm_direct(&self, mut event: palisade_core::Event, user: &str) -> palisade_core::Event {
        match self.shared.api.dm(user).await {
            Ok(dm) if dm == event.chat.id => {}
            Ok(_) => event.chat.kind = ChatKind::Group,
            Err(e) => {
                tracing::warn!(error = %e, "could not tell whether a DM is with the bot; treating it as a group");
                event.chat.kind = ChatKind::Group;
            }
        }
        event
    }

    fn release(&self, key: Option<&str>) {
        if let Some(k) = key {
            self.shared.seen.release(k);
        }
    }

    /// Tells `user`, privately and in the background, that the button they pressed has expired.
    fn expired(&self, user: UserRef, channel: String, response_url: Option<String>) {
        let api = self.shared.api.clone();
        tokio::spawn(async move {
            let content = SlackMessageContent::new().with_text(EXPIRED.into());
            let result = match response_url.and_then(|u| u.parse().ok()) {
                Some(url) => {
                    let req = SlackApiPostWebhookMessageRequest::new(content);
                    let url = slack_morphism::SlackResponseUrl::new(url);
                    api.call("response_url", || async { api.client().respond_to_event(&url, &req).await })
                        .await
                        .map(drop)
                }
                None => {
                    let Some(slack_user) = crate::identity::slack_user_id(&user) else { return };
                    let req =
                        SlackApiChatPostEphemeralRequest::new(channel.into(), slack_user.to_string().into(), content);
                    api.call("chat.postEphemeral", || async { api.session().chat_post_ephemeral(&req).await })
                        .await
                        .map(drop)
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %crate::api::describe(&e), "could not say that a button expired");
            }
        });
    }
}
