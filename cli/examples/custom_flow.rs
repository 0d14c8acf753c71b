//! A plugin with a typed three-step conversation flow: ask a name, ask an age (validated), confirm with
//! buttons. The flow's state is one enum of the plugin's own — a variant per step, carrying what was gathered
//! so far — so a step cannot read data it does not have: that would not compile.
//!
//! ```text
//! cargo run -p palisade-cli --example custom_flow -- chat --config cli/examples/custom_flow.toml
//! ```
//!
//! The state is persisted (sealed) after every step, so stopping the bot in the middle and starting it again
//! continues where the user was; `/cancel` ends it and `[flows] idle_timeout` expires it.

use std::process::ExitCode;

use palisade::Registry;
use palisade_core::prelude::*;
use serde::{Deserialize, Serialize};

/// Where the user is in `/profile`, with what they told so far.
#[derive(Serialize, Deserialize)]
enum Asking {
    Name,
    Age { name: String },
    Confirm { name: String, age: u32 },
}

/// `/profile` asks for a name and an age, then saves them for the user after a confirmation.
struct Profile;

#[async_trait]
impl Plugin for Profile {
    fn name(&self) -> &'static str {
        "profile"
    }

    fn commands(&self) -> Vec<Command> {
        vec![Command::new("profile", "Tell me your name and age")]
    }

    /// What is kept (the name and age), why, on what basis and for how long: writes to undeclared
    /// namespaces are refused, and `/privacy`, `/mydata` and `/forget` are built from this.
    fn manifest(&self) -> DataManifest {
        DataManifest::with(
            Namespace::new("profile", "your name and age", "greet you by name", LegalBasis::Contract, days(365))
                .field("0", "your name", true)
                .field("1", "your age", true),
        )
    }

    async fn command(&self, _command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        ctx.start_flow(Flow::typed("profile setup", &Asking::Name));
        ctx.reply("What is your name?");
        Ok(())
    }

    async fn flow_step(&self, flow: &mut Flow, ctx: &mut Ctx) -> Result<Step, PluginError> {
        // A typed answer and a button's value are handled alike, so "yes" may be typed or pressed.
        let answer = match ctx.input() {
            Input::Text(s) | Input::Button(s) => s.to_string(),
            Input::Command(_) => String::new(),
        };
        Ok(match flow.state::<Asking>()? {
            Asking::Name => {
                ctx.reply(format!("Hello, {answer}! How old are you?"));
                flow.advance(&Asking::Age { name: answer })
            }
            Asking::Age { name } => {
                // A user error keeps the flow on this step; the message is shown as is.
                let Ok(age @ 1..=150) = answer.parse::<u32>() else {
                    return Err(PluginError::user("Please give your age as a number from 1 to 150."));
                };
                ctx.reply_buttons(format!("Save {name}, {age}?"), &[("Yes", "yes"), ("No", "no")]);
                flow.advance(&Asking::Confirm { name, age })
            }
            Asking::Confirm { name, age } => match answer.as_str() {
                "yes" => {
                    ctx.store().put("profile", &(name, age), Durability::Flushed).await?;
                    ctx.reply("Saved.");
                    Step::Done
                }
                "no" => {
                    ctx.reply("Nothing was saved.");
                    Step::Cancel
                }
                _ => {
                    ctx.reply_buttons(format!("Save {name}, {age}?"), &[("Yes", "yes"), ("No", "no")]);
                    Step::Repeat
                }
            },
        })
    }
}

fn registry() -> Registry {
    Registry::new().plugin("profile", |s| s.no_settings().map(|()| Profile))
}

fn main() -> ExitCode {
    palisade_cli::main(registry())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn the_three_steps_validate_confirm_and_save() {
        palisade_testkit::examples::config_checks("examples/custom_flow.toml", &registry());
        let store = palisade_testkit::memory_store().await;
        let h = palisade_testkit::Harness::bot(vec![std::sync::Arc::new(Profile)], store, Default::default()).await;
        assert_eq!(h.say("ann", "/profile").await, ["What is your name?"]);
        assert_eq!(h.say("ann", "Ann").await, ["Hello, Ann! How old are you?"]);
        assert_eq!(h.say("ann", "old").await, ["Please give your age as a number from 1 to 150."]);
        assert_eq!(h.say("ann", "41").await, ["Save Ann, 41?"]);
        assert_eq!(h.say("ann", "maybe").await, ["Save Ann, 41?"], "any other answer asks again");
        assert_eq!(h.press("ann", "profile:yes").await, ["Saved."]);
        let export = h.say("ann", "/mydata").await.join("\n");
        assert!(export.contains("<file my-data.json>"), "{export}");
        h.stop().await;
    }
}
