//! The bank demo plugin: a simulated account per user.
//!
//! - `/balance` shows your balance (not sensitive).
//! - `/transfer [amount] [to]` asks for what was left out (a typed flow: one enum of steps), shows a
//!   confirmation with buttons, then — after step-up
//!   verification of exactly that amount and recipient (each transfer needs its own code) — performs the
//!   (simulated) transfer and records it, flushed to disk before you are told.
//!
//! Amounts are kept in cents. Nothing leaves the process: there is no real bank behind it.

use palisade_core::prelude::*;
use serde::{Deserialize, Serialize};

/// `[plugins.bank]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BankSettings {
    /// Balance a new account starts with, in cents.
    pub opening_balance_cents: u64,
    /// Largest single transfer, in cents.
    pub max_transfer_cents: u64,
}

impl Default for BankSettings {
    fn default() -> Self {
        Self { opening_balance_cents: 100_000, max_transfer_cents: 1_000_000 }
    }
}

/// A user's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Balance in cents.
    pub balance_cents: u64,
    /// Completed transfers, oldest first.
    pub transfers: Vec<Transfer>,
}

/// One completed transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Amount in cents.
    pub amount_cents: u64,
    /// Who received it.
    pub recipient: String,
    /// When, ms since the epoch.
    pub at_ms: u64,
}

/// Where a transfer is: its flow's state, one variant per step with what was given so far (a step cannot
/// read what it was not given: that would not compile).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transferring {
    /// Waiting for the amount.
    Amount,
    /// Waiting for the recipient of `amount` cents.
    Recipient {
        /// Cents.
        amount: u64,
    },
    /// Waiting for the confirmation.
    Confirm {
        /// Cents.
        amount: u64,
        /// Who receives it.
        recipient: String,
    },
}

/// An amount typed as `25`, `25.50` or `€0.07`: a typed command argument of the bank's own.
struct Amount(u64);

impl palisade_core::plugin::ArgValue for Amount {
    const KIND: palisade_core::plugin::ArgKind = palisade_core::plugin::ArgKind::Text;

    fn parse_arg(word: &str) -> Option<Self> {
        parse_amount(word).filter(|c| *c > 0).map(Self)
    }

    fn expected() -> &'static str {
        "an amount like 25 or 25.50"
    }
}

/// The bank plugin.
#[derive(Debug, Default)]
pub struct Bank {
    settings: BankSettings,
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Parses `12`, `12.5` or `12.50` into cents.
pub fn parse_amount(text: &str) -> Option<u64> {
    let text = text.trim().trim_start_matches(['€', '$', '£']);
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || frac.len() > 2 || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = format!("{frac:0<2}");
    whole.parse::<u64>().ok()?.checked_mul(100)?.checked_add(frac.parse().ok()?)
}

/// The bank's commands, each declared with its handler.
static COMMANDS: std::sync::LazyLock<Commands<Bank>> = std::sync::LazyLock::new(|| {
    Commands::<Bank>::new()
        .add(Command::new("balance", "Show your (simulated) balance"), |bank, ctx| Box::pin(bank.balance(ctx)))
        .add(
            Command::new("transfer", "Send money; asks what you leave out (amount, recipient), then verification")
                .arg(Arg::typed_optional::<Amount>("amount"))
                .arg(Arg::optional("to")),
            |bank, ctx| Box::pin(bank.transfer(ctx)),
        )
});

impl Bank {
    /// A bank with `settings`.
    pub fn new(settings: BankSettings) -> Self {
        Self { settings }
    }

    async fn account(&self, ctx: &Ctx) -> Result<Account, PluginError> {
        let fresh = Account { balance_cents: self.settings.opening_balance_cents, transfers: Vec::new() };
        Ok(ctx.store().get("account").await?.unwrap_or(fresh))
    }

    /// What is wrong with sending `cents` now (over the balance or the limit), if anything.
    async fn amount_problem(&self, ctx: &Ctx, cents: u64) -> Result<Option<String>, PluginError> {
        let balance = self.account(ctx).await?.balance_cents;
        Ok(if cents > balance {
            Some(format!("That is more than your balance of {}. How much?", money(balance)))
        } else if cents > self.settings.max_transfer_cents {
            Some(format!("The most you can send at once is {}. How much?", money(self.settings.max_transfer_cents)))
        } else {
            None
        })
    }

    /// The amount's answer: checked, then the recipient is asked for.
    async fn amount_step(&self, flow: &mut Flow, ctx: &mut Ctx, text: &str) -> Result<Step, PluginError> {
        let Some(amount) = parse_amount(text).filter(|c| *c > 0) else {
            ctx.reply("Send an amount like 25 or 25.50.");
            return Ok(Step::Repeat);
        };
        if let Some(problem) = self.amount_problem(ctx, amount).await? {
            ctx.reply(problem);
            return Ok(Step::Repeat);
        }
        ctx.reply("Who should receive it? (a name or an account number)");
        Ok(flow.advance(&Transferring::Recipient { amount }))
    }

    /// The recipient's answer: then the confirmation, with buttons.
    fn recipient_step(flow: &mut Flow, ctx: &mut Ctx, amount: u64, text: &str) -> Step {
        let count = text.chars().count();
        if count == 0 || count > 64 || text.chars().any(char::is_control) {
            ctx.reply("A recipient needs 1 to 64 characters. Who should receive it?");
            return Step::Repeat;
        }
        ctx.reply_buttons(
            format!("Send {} to {text}?", money(amount)),
            &[("Confirm", "confirm"), ("Cancel", "cancel")],
        );
        flow.advance(&Transferring::Confirm { amount, recipient: text.to_string() })
    }

    /// `/balance`.
    async fn balance(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        let account = self.account(ctx).await?;
        ctx.reply(format!("Your balance is {}.", money(account.balance_cents)));
        Ok(())
    }

    /// `/transfer [amount] [to]`: `/transfer 25 Alice` skips the questions it answers; each answer is checked
    /// as if typed.
    async fn transfer(&self, ctx: &mut Ctx) -> Result<(), PluginError> {
        let amount = ctx.opt_arg::<Amount>("amount")?.map(|Amount(c)| c);
        let to = ctx.opt_arg::<String>("to")?;
        let mut flow = Flow::typed("transfer", &Transferring::Amount);
        match amount {
            None => ctx.reply("How much do you want to send?"),
            Some(amount) => match (self.amount_problem(ctx, amount).await?, to) {
                (Some(problem), _) => ctx.reply(problem),
                (None, None) => {
                    ctx.reply("Who should receive it? (a name or an account number)");
                    let _ = flow.advance(&Transferring::Recipient { amount });
                }
                (None, Some(to)) => {
                    let _ = flow.advance(&Transferring::Recipient { amount });
                    let _ = Self::recipient_step(&mut flow, ctx, amount, &to);
                }
            },
        }
        ctx.start_flow(flow);
        Ok(())
    }

    async fn execute(&self, ctx: &mut Ctx, amount: u64, recipient: String) -> Result<Step, PluginError> {
        // Step-up comes before any side effect: nothing below runs until the user has approved exactly this
        // amount to exactly this recipient with a code; the next transfer asks for its own code.
        ctx.sensitive_once("transfer", &[("amount", money(amount)), ("to", recipient.clone())])?;
        let mut account = self.account(ctx).await?;
        let Some(left) = account.balance_cents.checked_sub(amount) else {
            ctx.reply("Your balance changed and is now too low; nothing was sent.");
            return Ok(Step::Cancel);
        };
        account.balance_cents = left;
        account.transfers.push(Transfer { amount_cents: amount, recipient: recipient.clone(), at_ms: ctx.now_ms() });
        ctx.store().put("account", &account, Durability::Flushed).await?;
        ctx.audit("bank.transfer", &[("amount_cents", amount.to_string())]).await;
        ctx.reply(format!("Sent {} to {recipient}. Your balance is {}.", money(amount), money(left)));
        Ok(Step::Done)
    }
}

#[async_trait]
impl Plugin for Bank {
    fn name(&self) -> &'static str {
        "bank"
    }

    fn manifest(&self) -> DataManifest {
        DataManifest::with(
            Namespace::new(
                "bank",
                "your (simulated) balance and transfers",
                "run your account and keep its record",
                LegalBasis::LegalObligation,
                days(3650),
            )
            .field("balance_cents", "your balance in cents", false)
            .field("transfers", "amount, recipient and time of each transfer", false),
        )
    }

    fn commands(&self) -> Vec<Command> {
        COMMANDS.declarations()
    }

    async fn command(&self, command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        COMMANDS.run(self, command, ctx).await
    }

    async fn flow_step(&self, flow: &mut Flow, ctx: &mut Ctx) -> Result<Step, PluginError> {
        let input = ctx.input();
        let text = input.text().unwrap_or_default().to_string();
        match (flow.state::<Transferring>()?, input) {
            (Transferring::Amount, Input::Text(_)) => self.amount_step(flow, ctx, &text).await,
            (Transferring::Recipient { amount }, Input::Text(_)) => Ok(Self::recipient_step(flow, ctx, amount, &text)),
            (Transferring::Confirm { amount, recipient }, Input::Button("confirm")) => {
                self.execute(ctx, amount, recipient).await
            }
            (Transferring::Confirm { amount, recipient }, Input::Text(t)) if t.eq_ignore_ascii_case("yes") => {
                self.execute(ctx, amount, recipient).await
            }
            (Transferring::Confirm { .. }, Input::Button("cancel")) => {
                ctx.reply("Cancelled; nothing was sent.");
                Ok(Step::Cancel)
            }
            (Transferring::Confirm { .. }, _) => {
                ctx.reply("Press Confirm or Cancel (or answer yes, or /cancel).");
                Ok(Step::Repeat)
            }
            _ => {
                ctx.reply("Please answer with text.");
                Ok(Step::Repeat)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_parse_to_cents() {
        assert_eq!(parse_amount("25"), Some(2500));
        assert_eq!(parse_amount("25.5"), Some(2550));
        assert_eq!(parse_amount("€0.07"), Some(7));
        for bad in ["", "abc", "1.234", "-5", "1,5", ".5", "99999999999999999999"] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }
}
