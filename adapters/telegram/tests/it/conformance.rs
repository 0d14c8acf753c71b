//! The adapter conformance suite on the fake Bot API, in webhook mode (so repeats and forgeries arrive the
//! way Telegram's and an attacker's would).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use palisade::{Platform, Section, UserRef};
use palisade_telegram::TelegramAdapter;
use palisade_testkit::conformance::{self, Delivery, Sent, Subject};
use serde_json::{Value, json};

use crate::support::post;
use palisade_testkit::telegram::{FakeApi, TOKEN};

const SECRET: &str = "conformance-Secret_0123456789";
const GROUP: i64 = -100_777;

struct Telegram {
    fake: FakeApi,
    hook: SocketAddr,
    next_update: AtomicU32,
    sent: Mutex<Vec<Sent>>,
}

impl Telegram {
    async fn deliver(&self, user: u64, chat: i64, text: &str) -> Delivery {
        let (mut update, _) = self.fake.message_update(user, chat, text);
        update["update_id"] = json!(self.next_update.fetch_add(1, Ordering::SeqCst));
        assert_eq!(post(self.hook, "/hook", Some(SECRET), &update).await, 200);
        Delivery(update)
    }
}

#[async_trait::async_trait]
impl Subject for Telegram {
    fn user(&self, n: u32) -> UserRef {
        UserRef::new(Platform::TELEGRAM, n.to_string())
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.to_string(), TOKEN.split_once(':').unwrap().1.to_string(), SECRET.to_string()]
    }

    fn max_len(&self) -> usize {
        4096
    }

    async fn direct(&self, n: u32, text: &str) -> Delivery {
        self.deliver(u64::from(n), i64::from(n), text).await
    }

    async fn group(&self, n: u32, text: &str) -> Delivery {
        self.deliver(u64::from(n), GROUP, text).await
    }

    async fn repeat(&self, delivery: &Delivery) {
        assert_eq!(post(self.hook, "/hook", Some(SECRET), &delivery.0).await, 200, "a repeat is acknowledged");
    }

    async fn forge(&self) -> bool {
        let (mut update, _) = self.fake.message_update(1, 1, "/say forged");
        update["update_id"] = json!(self.next_update.fetch_add(1, Ordering::SeqCst));
        assert_eq!(post(self.hook, "/hook", Some("wrong-secret"), &update).await, 401);
        assert_eq!(post(self.hook, "/hook", None, &update).await, 401);
        true
    }

    async fn sent(&self, until: &(dyn for<'s> Fn(&'s [Sent]) -> bool + Sync)) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            {
                let mut sent = self.sent.lock().unwrap();
                for call in self.fake.take().into_iter().filter(|c| c.method.starts_with("send") && c.status == 200) {
                    let text = call.params["text"].as_str().or(call.params["caption"].as_str()).unwrap_or("");
                    // A chat with a positive id is the user's private chat with the bot.
                    sent.push(Sent { private: call.chat_id().is_some_and(|c| c > 0), text: text.to_string() });
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

fn table(fake: &FakeApi) -> Value {
    crate::support::settings(
        fake,
        json!({ "mode": "webhook", "webhook": { "listen": "127.0.0.1:0", "path": "/hook", "secret_token": SECRET } }),
    )
}

#[tokio::test]
async fn the_telegram_adapter_conforms() {
    let fake = FakeApi::start().await;
    let adapter = TelegramAdapter::from_section(&Section::new("adapters.telegram", table(&fake)).unwrap()).unwrap();
    let mut listening = adapter.listening();
    let users: Vec<UserRef> = (1..=3).map(|n| UserRef::new(Platform::TELEGRAM, n.to_string())).collect();
    let bot = conformance::start(Box::new(adapter), palisade_testkit::memory_store().await, &users).await;
    let hook = tokio::time::timeout(Duration::from_secs(20), listening.wait_for(Option::is_some)).await;
    let hook = hook.expect("the webhook listens").unwrap().unwrap();
    let subject = Telegram { fake, hook, next_update: AtomicU32::new(1), sent: Mutex::default() };
    conformance::run(&subject, &bot).await;
    bot.stop().await.unwrap();
}
