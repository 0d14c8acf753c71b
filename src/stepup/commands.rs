//! `/2fa`: set up, inspect and turn off two-factor verification. Built into the core (not a configurable
//! plugin) because it shares its state with the step-up gate and must not be left out by configuration.

use std::sync::Arc;

use async_trait::async_trait;

use zeroize::Zeroizing;

use super::{Confirmation, StepUp};
use crate::flow::{Flow, Step};
use crate::plugin::{Arg, Command, Ctx, Input, Plugin, PluginError};
use crate::reply::{Button, ReplyBody, Retract};

/// Most wrong codes accepted while confirming a setup before it is abandoned.
const SETUP_TRIES: u32 = 5;
/// The tag of the messages that show a new key (text, QR code, `otpauth://` link).
const SETUP: &str = "twofactor.setup";
/// The tag of the message that shows the recovery codes.
const RECOVERY: &str = "twofactor.recovery";

fn text(t: &str) -> ReplyBody {
    ReplyBody::Text { text: t.to_string(), buttons: Vec::new() }
}

/// The `/2fa` command.
#[derive(Debug, Clone)]
pub struct TwoFactor {
    stepup: Arc<StepUp>,
}

impl TwoFactor {
    /// `/2fa` over `stepup`.
    pub fn new(stepup: Arc<StepUp>) -> Self {
        Self { stepup }
    }

    async fn setup(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        if !ctx.chat().is_private() {
            ctx.reply_private(ctx.text("twofactor.setup_in_private", &[]));
            ctx.reply(ctx.text("twofactor.sent_privately", &[]));
            return Ok(());
        }
        if self.stepup.is_enrolled(ctx.user()).await? {
            ctx.sensitive("reenrol")?;
        }
        let setup = self.stepup.begin(ctx.user()).await?;
        // Everything that shows the key is taken back when setup ends (or after `secret_message_ttl`), so
        // whoever takes over the chat later cannot scroll up and copy the second factor.
        let keep_for = Some(self.stepup.settings().secret_message_ttl);
        let key = with_secret(&ctx.text("twofactor.scan", &[]), "{key}", setup.base32.as_str());
        ctx.reply_retractable(true, text(&key), Retract::new(SETUP, keep_for));
        if ctx.capabilities().images {
            let png = super::qr::png(&setup.uri).map_err(PluginError::internal)?;
            let image = ReplyBody::Image { png, caption: Some(ctx.text("twofactor.qr_caption", &[])) };
            ctx.reply_retractable(true, image, Retract::new(SETUP, keep_for));
        } else {
            let art = super::qr::unicode(&setup.uri).map_err(PluginError::internal)?;
            let shown = Zeroizing::new(format!("{art}\n{}", setup.uri.as_str()));
            ctx.reply_retractable(true, text(&shown), Retract::new(SETUP, keep_for));
        }
        ctx.reply_private(ctx.text("twofactor.then_code", &[]));
        ctx.start_flow(Flow::new("two-factor setup", "confirm").with("tries", 0u32));
        Ok(())
    }

    async fn status(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        let Some(e) = self.stepup.enrolment(ctx.user()).await?.filter(|e| e.active) else {
            ctx.reply_private(ctx.text("twofactor.status_off", &[]));
            return Ok(());
        };
        ctx.sensitive("status")?;
        let (left, of) = (e.recovery_left().to_string(), e.recovery.len().to_string());
        let mut told = ctx.text("twofactor.status_on", &[("left", &left), ("of", &of)]);
        if e.locked_for_good {
            told.push(' ');
            told.push_str(&ctx.text("twofactor.locked_note", &[]));
        }
        ctx.reply_private(told);
        Ok(())
    }

    async fn disable(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        if !self.stepup.is_enrolled(ctx.user()).await? {
            ctx.reply_private(ctx.text("twofactor.already_off", &[]));
            return Ok(());
        }
        ctx.sensitive("disable")?;
        self.stepup.disable(ctx.user()).await?;
        ctx.reply_private(ctx.text("twofactor.now_off", &[]));
        Ok(())
    }
}

#[async_trait]
impl Plugin for TwoFactor {
    fn name(&self) -> &'static str {
        "twofactor"
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("2fa", "Two-factor verification: `/2fa setup`, `/2fa status`, `/2fa disable`")
                .arg(Arg::optional("action")),
        ]
    }

    async fn command(&self, _command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        match ctx.args().get(0).unwrap_or("status") {
            "setup" => self.setup(ctx).await,
            "status" => self.status(ctx).await,
            "disable" => self.disable(ctx).await,
            other => Err(PluginError::user(ctx.text("twofactor.unknown_action", &[("action", other)]))),
        }
    }

    async fn button(&self, value: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        if value == "saved" {
            ctx.retract(RECOVERY);
            ctx.reply_private(ctx.text("twofactor.codes_deleted", &[]));
        } else {
            ctx.reply(ctx.text("router.button_inactive", &[]));
        }
        Ok(())
    }

    async fn flow_cancelled(&self, _flow: &Flow, ctx: &mut Ctx) -> Result<(), PluginError> {
        ctx.retract(SETUP);
        Ok(())
    }

    async fn flow_step(&self, flow: &mut Flow, ctx: &mut Ctx) -> Result<Step, PluginError> {
        let Input::Text(code) = ctx.input() else {
            ctx.reply_private(ctx.text("twofactor.send_code", &[]));
            return Ok(Step::Repeat);
        };
        let code = code.to_string();
        ctx.delete_user_message_if_possible();
        match self.stepup.confirm(ctx.user(), &code).await? {
            Confirmation::Activated(codes) => {
                ctx.retract(SETUP);
                let list: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
                let list = Zeroizing::new(list.join("\n"));
                let shown = with_secret(&ctx.text("twofactor.recovery_codes", &[]), "{codes}", &list);
                let saved = vec![Button::new(ctx.text("twofactor.saved_button", &[]), "twofactor:saved")];
                let body = ReplyBody::Text { text: shown.to_string(), buttons: saved };
                let keep_for = Some(self.stepup.settings().secret_message_ttl);
                ctx.reply_retractable(true, body, Retract::new(RECOVERY, keep_for));
                Ok(Step::Done)
            }
            Confirmation::NoSetup => {
                ctx.retract(SETUP);
                ctx.reply_private(ctx.text("twofactor.no_setup", &[]));
                Ok(Step::Cancel)
            }
            Confirmation::Wrong => {
                let tries: u32 = flow.get("tries").unwrap_or(0) + 1;
                if tries >= SETUP_TRIES {
                    ctx.retract(SETUP);
                    ctx.reply_private(ctx.text("twofactor.setup_stopped", &[]));
                    return Ok(Step::Cancel);
                }
                flow.set("tries", tries);
                ctx.reply_private(ctx.text("twofactor.no_match", &[]));
                Ok(Step::Repeat)
            }
        }
    }
}

/// `template` with `name` replaced by `secret`, built in one allocation of the final size (no reallocation
/// leaves a partial copy of the secret behind), wiped when dropped.
fn with_secret(template: &str, name: &str, secret: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(template.len() + secret.len()));
    match template.split_once(name) {
        Some((before, after)) => {
            out.push_str(before);
            out.push_str(secret);
            out.push_str(after);
        }
        // A wording without the placeholder still shows the secret: it is what the message is for.
        None => {
            out.push_str(template);
            out.push(' ');
            out.push_str(secret);
        }
    }
    out
}
