//! A plugin whose commands exercise the dispatcher: echo arguments, panic, fail, sleep, record order.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade::prelude::*;

pub struct Probe {
    /// (user, sequence number) in the order handlers started.
    pub log: Mutex<Vec<(String, u32)>>,
    pub running: AtomicUsize,
    pub max_running: AtomicUsize,
    pub finished: AtomicUsize,
    /// How many `/wait` handlers have started.
    pub waiting: AtomicUsize,
    /// When set, `wait` blocks until a permit is added.
    pub gate: tokio::sync::Semaphore,
    /// What `/pay` pays (and asks to approve); tests change it under a waiting approval.
    pub price: AtomicU64,
    /// How many times `/pay` paid.
    pub paid: AtomicUsize,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            log: Mutex::default(),
            running: AtomicUsize::default(),
            max_running: AtomicUsize::default(),
            finished: AtomicUsize::default(),
            waiting: AtomicUsize::default(),
            gate: tokio::sync::Semaphore::new(0),
            price: AtomicU64::new(5),
            paid: AtomicUsize::default(),
        }
    }
}

impl Probe {
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }
}

#[async_trait]
impl Plugin for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("args", "Echo arguments").arg(Arg::required("first")).arg(Arg::text("rest")),
            Command::new("boom", "Panic"),
            Command::new("fail", "Fail internally"),
            Command::new("oops", "Fail with a user error"),
            Command::new("seq", "Record a sequence number after a short pause").arg(Arg::required("n")),
            Command::new("wait", "Block until the gate opens"),
            Command::new("hang", "Never finish"),
            Command::new("secret", "Sensitive")
                .arg(Arg { name: "words", required: false, rest: true, kind: palisade::plugin::ArgKind::Text })
                .sensitive(),
            Command::new("pay", "Pay the current price after approving exactly it"),
            Command::new("staff", "Operators only").role("operator"),
            Command::new("menu", "Operators' buttons").role("operator"),
            Command::new("vault", "Buttons behind step-up").sensitive(),
            Command::new("long", "A long reply"),
            Command::new("stash", "Try to store something without a data manifest"),
        ]
    }

    async fn command(&self, command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        match command {
            "args" => {
                let (first, rest) = (ctx.args().get(0).unwrap_or(""), ctx.args().rest_from(1).unwrap_or(""));
                let reply = format!("first={first} rest={rest}");
                ctx.reply(reply);
            }
            "boom" => panic!("probe exploded"),
            "fail" => return Err(PluginError::internal("disk on fire")),
            "oops" => return Err(PluginError::user("You did it wrong.")),
            "seq" => {
                let n: u32 = ctx.args().get(0).and_then(|n| n.parse().ok()).unwrap_or(0);
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_running.fetch_max(now, Ordering::SeqCst);
                self.log.lock().unwrap().push((ctx.user().id.clone(), n));
                tokio::time::sleep(Duration::from_millis(u64::from(n % 3) * 2 + 1)).await;
                self.running.fetch_sub(1, Ordering::SeqCst);
                self.finished.fetch_add(1, Ordering::SeqCst);
                ctx.reply(format!("seq {n}"));
            }
            "wait" => {
                self.waiting.fetch_add(1, Ordering::SeqCst);
                self.gate.acquire().await.map_err(PluginError::internal)?.forget();
                self.finished.fetch_add(1, Ordering::SeqCst);
                ctx.reply("waited");
            }
            "hang" => std::future::pending::<()>().await,
            "menu" => ctx.reply_buttons("Menu", &[("Go", "go")]),
            "vault" => ctx.reply_buttons("Vault", &[("Open", "open")]),
            "pay" => {
                let price = self.price.load(Ordering::SeqCst);
                ctx.sensitive_once("pay", &[("amount", price.to_string()), ("to", "the shop".into())])?;
                self.paid.fetch_add(1, Ordering::SeqCst);
                ctx.reply(format!("paid {price}"));
            }
            "long" => ctx.reply("word ".repeat(2000)),
            "stash" => match ctx.store().put("x", &"personal", palisade::Durability::Flushed).await {
                Ok(()) => ctx.reply("stored"),
                Err(e) => ctx.reply(format!("refused: {e}")),
            },
            "secret" if !ctx.args().is_empty() => {
                let reply = format!("ran secret: {}", ctx.args().raw());
                ctx.reply(reply);
            }
            _ => ctx.reply(format!("ran {command}")),
        }
        Ok(())
    }

    async fn button(&self, value: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        ctx.reply(format!("pressed {value}"));
        Ok(())
    }
}
