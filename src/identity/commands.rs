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
        let now = if linked.len() > 1 { format!("\nLinked now: {}.", platforms(&linked)) } else { String::new() };
        let text = format!(
            "Your link code: {code}\nWithin {minutes} minutes, send /link {code} to me on the other platform. It \
             works once. Whoever uses it joins that account to yours — never share it.{now}"
        );
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
                let replaced = if second_factor_replaced {
                    format!(
                        " Your two-factor setup here was replaced by the one on {}: use that authenticator entry \
                         from now on.",
                        issuer.platform
                    )
                } else {
                    String::new()
                };
                ctx.reply_private(format!(
                    "Linked: you are one person here and on {} ({all}). Two-factor verification, your data, \
                     your consents and your privacy rights now cover every one of them; roles stay with each \
                     account. /unlink {} undoes it.{replaced}",
                    issuer.platform, issuer.platform
                ));
                self.identities
                    .notify(
                        &issuer,
                        format!(
                            "Your account was just linked with your {me} account ({all}). If that was not you, \
                             send /unlink {me} here and tell the bot's operator."
                        ),
                    )
                    .await;
            }
            Redeemed::Wrong(outcome) => {
                let more = match outcome {
                    crate::stepup::Outcome::Wrong { before_pause: 0 } => {
                        " Too many wrong codes: wait a while before trying again.".to_string()
                    }
                    crate::stepup::Outcome::Wrong { before_pause } => {
                        format!(" {before_pause} more attempt(s) before a pause.")
                    }
                    _ => String::new(),
                };
                return Err(PluginError::user(format!(
                    "That link code is wrong, used or expired. Send /link on the other platform for a new one.{more}"
                )));
            }
            Redeemed::Paused(until) => {
                let when = match until {
                    Some(ms) => format!("in {} minute(s)", ms.saturating_sub(ctx.now_ms()).div_ceil(60_000)),
                    None => "after a recovery code or an admin unlocks it".to_string(),
                };
                return Err(PluginError::user(format!("Too many wrong codes. Try again {when}.")));
            }
            Redeemed::SamePlatform => {
                return Err(PluginError::user(format!(
                    "That code is for an account on {me}; send it from your account on another platform."
                )));
            }
            Redeemed::Already => ctx.reply_private("These accounts are already linked."),
            Redeemed::Elsewhere => {
                return Err(PluginError::user(
                    "This account is linked to another one already. Send /unlink with its platform first.",
                ));
            }
            Redeemed::Conflicts(namespaces) => {
                return Err(PluginError::user(format!(
                    "Both accounts hold data that cannot be merged ({}), so nothing was linked. Remove it on \
                     one side first, or ask the bot's operator.",
                    namespaces.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// `/unlink PLATFORM`.
    async fn unlink(&self, ctx: &mut Ctx, platform: &str) -> Result<(), PluginError> {
        let Ok(platform) = platform.parse::<Platform>() else {
            return Err(PluginError::user(format!("`{platform}` is not a platform. Usage: /unlink telegram")));
        };
        if self.identities.stepup.is_enrolled(ctx.user()).await? {
            ctx.sensitive("unlink")?;
        }
        let user = ctx.user().clone();
        match self.identities.unlink(&user, platform, &user).await? {
            None => ctx.reply_private(format!("You have no linked account on {platform}.")),
            Some(left) => {
                ctx.reply_private(format!(
                    "Unlinked your {platform} account. Your data stays with the accounts still linked; the {platform} \
                     account starts afresh."
                ));
                if left != user {
                    self.identities
                        .notify(&left, format!("This account was unlinked from your {} account.", user.platform))
                        .await;
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
            _ => Err(PluginError::user("Usage: /unlink telegram")),
        }
    }
}
