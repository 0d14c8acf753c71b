//! `/link` and `/unlink`: the person's side of linking identities across platforms.

use std::sync::Arc;

use async_trait::async_trait;

use super::{CODE_TTL, Identities, Redeemed, platforms};
use crate::event::Platform;
use crate::plugin::{Arg, Command, Ctx, Plugin, PluginError};
use crate::reply::{ReplyBody, Retract};

/// The tag of messages carrying a link code (deleted from the chat once it expires).
const CODE_MESSAGES: &str = "identity.code";

/// The built-in `/link` and `/unlink` commands.
#[derive(Debug, Clone)]
pub struct IdentityPlugin {
    identities: Arc<Identities>,
}

impl IdentityPlugin {
    /// Commands over `identities`.
    pub fn new(identities: Arc<Identities>) -> Self {
        Self { identities }
    }

    /// `/link`: a code for the other platform. Someone enrolled in two-factor verification proves it first.
    async fn show_code(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        if self.identities.stepup.is_enrolled(ctx.user()).await? {
            ctx.sensitive("link")?;
        }
        let code = self.identities.issue(ctx.user()).await?;
        let minutes = CODE_TTL.as_secs() / 60;
        let linked = self.identities.linked(ctx.user()).await?;
        let minutes = minutes.to_string();
        let mut text = ctx.text("identity.code", &[("code", code.as_str()), ("minutes", &minutes)]);
        if linked.len() > 1 {
            text.push('\n');
            text.push_str(&ctx.text("identity.linked_now", &[("platforms", &platforms(&linked))]));
        }
        let body = ReplyBody::Text { text, buttons: Vec::new() };
        ctx.reply_retractable(true, body, Retract::new(CODE_MESSAGES, Some(CODE_TTL)));
        Ok(())
    }

    /// `/link CODE`: joins this identity to the one that showed the code.
    async fn use_code(&self, ctx: &mut Ctx, typed: &str) -> Result<(), PluginError> {
        if self.identities.stepup.is_enrolled(ctx.user()).await? {
            ctx.sensitive("link")?;
        }
        ctx.delete_user_message_if_possible();
        let me = ctx.user().platform;
        match self.identities.redeem(ctx.user(), typed).await? {
            Redeemed::Linked { issuer, identities, second_factor_replaced } => {
                let all = platforms(&identities);
                let (other, me) = (issuer.platform.to_string(), me.to_string());
                let mut told = ctx.text("identity.linked", &[("platform", &other), ("all", &all)]);
                if second_factor_replaced {
                    told.push(' ');
                    told.push_str(&ctx.text("identity.second_factor_replaced", &[("platform", &other)]));
                }
                ctx.reply_private(told);
                // The other account's language is not known here: the operator's default language is used.
                let notice = ctx.texts().fill(None, "identity.linked_notice", &[("platform", &me), ("all", &all)]);
                self.identities.notify(&issuer, notice).await;
            }
            Redeemed::Wrong(outcome) => {
                let mut told = ctx.text("identity.wrong_code", &[]);
                match outcome {
                    crate::stepup::Outcome::Wrong { before_pause: 0 } => {
                        told.push(' ');
                        told.push_str(&ctx.text("identity.wrong_code_paused", &[]));
                    }
                    crate::stepup::Outcome::Wrong { before_pause } => {
                        told.push(' ');
                        told.push_str(&ctx.text("identity.wrong_code_left", &[("left", &before_pause.to_string())]));
                    }
                    _ => {}
                }
                return Err(PluginError::user(told));
            }
            Redeemed::Paused(until) => {
                let told = match until {
                    Some(ms) => {
                        let minutes = ms.saturating_sub(ctx.now_ms()).div_ceil(60_000).to_string();
                        ctx.text("identity.paused", &[("minutes", &minutes)])
                    }
                    None => ctx.text("identity.locked", &[]),
                };
                return Err(PluginError::user(told));
            }
            Redeemed::SamePlatform => {
                return Err(PluginError::user(ctx.text("identity.same_platform", &[("platform", &me.to_string())])));
            }
            Redeemed::Already => ctx.reply_private(ctx.text("identity.already", &[])),
            Redeemed::Elsewhere => {
                return Err(PluginError::user(ctx.text("identity.elsewhere", &[])));
            }
            Redeemed::Conflicts(namespaces) => {
                return Err(PluginError::user(ctx.text("identity.conflicts", &[("data", &namespaces.join(", "))])));
            }
        }
        Ok(())
    }

    /// `/unlink PLATFORM`.
    async fn unlink(&self, ctx: &mut Ctx, platform: &str) -> Result<(), PluginError> {
        let Ok(platform) = platform.parse::<Platform>() else {
            return Err(PluginError::user(ctx.text("identity.not_a_platform", &[("platform", platform)])));
        };
        if self.identities.stepup.is_enrolled(ctx.user()).await? {
            ctx.sensitive("unlink")?;
        }
        let user = ctx.user().clone();
        match self.identities.unlink(&user, platform, &user).await? {
            None => ctx.reply_private(ctx.text("identity.no_link", &[("platform", &platform.to_string())])),
            Some(left) => {
                ctx.reply_private(ctx.text("identity.unlinked", &[("platform", &platform.to_string())]));
                if left != user {
                    let from = user.platform.to_string();
                    let notice = ctx.texts().fill(None, "identity.unlinked_notice", &[("platform", &from)]);
                    self.identities.notify(&left, notice).await;
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Plugin for IdentityPlugin {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("link", "Link this account with yours on another platform (/link, then /link CODE there)")
                .arg(Arg::optional("code")),
            Command::new("unlink", "Split off your linked account on a platform").arg(Arg::required("platform")),
        ]
    }

    async fn command(&self, command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        let arg = ctx.args().get(0).map(str::to_string);
        match (command, arg) {
            ("link", None) => self.show_code(ctx).await,
            ("link", Some(code)) => self.use_code(ctx, &code).await,
            (_, Some(platform)) => self.unlink(ctx, &platform).await,
            _ => Err(PluginError::user(ctx.text("identity.unlink_usage", &[]))),
        }
    }
}
