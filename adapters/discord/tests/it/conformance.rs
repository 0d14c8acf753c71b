//! The adapter conformance suite on the fake Discord REST API and the interactions endpoint, with requests
//! signed by an Ed25519 key generated in the test (ed25519-dalek, independent of serenity's verifier).

use std::sync::Mutex;
use std::time::Duration;

use palisade::{Platform, Section, UserRef};
use palisade_discord::DiscordAdapter;
use palisade_testkit::conformance::{self, Delivery, Sent, Subject};
use serde_json::Value;

use crate::support::fake::FakeRest;
use crate::support::{Client, Place, Signer, TEAM, TOKEN};

/// User `n`'s snowflake and their DM channel with the bot.
fn user_id(n: u32) -> String {
    format!("20000000000000010{n}")
}

fn dm_channel(n: u32) -> String {
    format!("50000000000000010{n}")
}

struct Discord {
    fake: FakeRest,
    client: Client,
    sent: Mutex<Vec<Sent>>,
}

impl Discord {
    /// A slash command from `text` (`/name rest…`, the rest as the `text` option) by user `n` in `place`.
    async fn command(&self, n: u32, place: Place<'_>, text: &str) -> Delivery {
        let line = text.trim_start_matches('/');
        let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
        let args: Vec<(&str, &str)> = if rest.is_empty() { Vec::new() } else { vec![("text", rest)] };
        let interaction = crate::support::command(&user_id(n), place, name, &args);
        let answer = self.client.post(&interaction).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        self.note_answer(&answer.body, matches!(place, Place::Dm(_)));
        Delivery(interaction)
    }

    /// The endpoint's first answer: a message (ephemeral or in the channel) or a form.
    fn note_answer(&self, body: &Value, in_dm: bool) {
        let data = &body["data"];
        let flags = data["flags"].as_u64().unwrap_or(0);
        let sent = match body["type"].as_u64() {
            Some(4) => Sent { private: in_dm || flags & 64 != 0, text: data["content"].as_str().unwrap_or("").into() },
            Some(9) => Sent { private: true, text: data["title"].as_str().unwrap_or("").into() },
            _ => return,
        };
        self.sent.lock().unwrap().push(sent);
    }
}

#[async_trait::async_trait]
impl Subject for Discord {
    fn user(&self, n: u32) -> UserRef {
        UserRef::new(Platform::DISCORD, user_id(n))
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.to_string()]
    }

    fn max_len(&self) -> usize {
        palisade_discord::CAPABILITIES.max_message_len
    }

    async fn direct(&self, n: u32, text: &str) -> Delivery {
        self.command(n, Place::Dm(&dm_channel(n)), text).await
    }

    async fn group(&self, n: u32, text: &str) -> Delivery {
        self.command(n, Place::Guild(TEAM), text).await
    }

    async fn repeat(&self, delivery: &Delivery) {
        // Discord never delivers an interaction twice; a second copy is a replay, refused before handling.
        assert_eq!(self.client.post(&delivery.0).await.status, 401, "a replayed interaction is refused");
    }

    async fn forge(&self) -> bool {
        let interaction = crate::support::command(&user_id(1), Place::Dm(&dm_channel(1)), "say", &[("text", "x")]);
        let body = interaction.to_string();
        let ts = crate::support::now_secs().to_string();
        let forged = Signer::generate().sign(&ts, &body);
        assert_eq!(self.client.post_raw(&body, Some(&forged), Some(&ts)).await.status, 401);
        assert_eq!(self.client.post_raw(&body, None, None).await.status, 401);
        true
    }

    async fn sent(&self, until: &(dyn for<'s> Fn(&'s [Sent]) -> bool + Sync)) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            {
                let mut sent = self.sent.lock().unwrap();
                for call in self.fake.take() {
                    let to_dm = call.path.starts_with("/channels/5") || call.path.starts_with("/channels/7");
                    let message = call.method == axum::http::Method::POST
                        && (call.is_followup() || call.path.ends_with("/messages"));
                    if message {
                        sent.push(Sent { private: call.ephemeral() || to_dm, text: call.content().to_string() });
                    }
                }
                if until(&sent) {
                    return std::mem::take(&mut *sent);
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out; sent: {:?}", self.sent.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn the_discord_adapter_conforms() {
    let fake = FakeRest::start().await;
    let signer = Signer::generate();
    let table = crate::support::settings(&fake, &signer.public_hex(), serde_json::json!({}));
    let adapter = DiscordAdapter::from_section(&Section::new("adapters.discord", table).unwrap()).unwrap();
    let mut listening = adapter.listening();
    let users: Vec<UserRef> = (1..=3).map(|n| UserRef::new(Platform::DISCORD, user_id(n))).collect();
    let bot = conformance::start(Box::new(adapter), palisade_testkit::memory_store().await, &users).await;
    let addr = tokio::time::timeout(Duration::from_secs(20), listening.wait_for(Option::is_some)).await;
    let addr = addr.expect("the endpoint listens").unwrap().unwrap();
    let subject = Discord { fake, client: Client::new(addr, signer), sent: Mutex::default() };
    conformance::run(&subject, &bot).await;
    bot.stop().await.unwrap();
}
