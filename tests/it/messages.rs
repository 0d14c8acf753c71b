//! Messages a plugin writes first, and edits and deletions of what it sent: only to people it knows, only
//! its own messages, each audited under the recipient's pseudonym.

use std::sync::Arc;

use async_trait::async_trait;
use palisade::config::Settings;
use palisade::plugin::{Arg, Command, Ctx, DataManifest, LegalBasis, Namespace, Plugin, PluginError, days};
use palisade::{Durability, UserRef};

use crate::support::{Harness, memory_store, text_of, user};

/// `/join` records the user as a member; `/notify <user> <text>` writes to a member first, edits the message
/// once and deletes it on `/notify … delete`.
struct Club;

#[async_trait]
impl Plugin for Club {
    fn name(&self) -> &'static str {
        "club"
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("join", "Join the club"),
            Command::new("notify", "Write to a member").arg(Arg::typed::<UserRef>("to")).arg(Arg::text("text")),
        ]
    }

    fn manifest(&self) -> DataManifest {
        DataManifest::with(Namespace::new("club", "that you joined", "tell you news", LegalBasis::Contract, days(30)))
    }

    async fn command(&self, command: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        if command == "join" {
            ctx.store().put("member", &true, Durability::Flushed).await?;
            ctx.reply("Welcome.");
            return Ok(());
        }
        let (to, text) = (ctx.arg::<UserRef>("to")?, ctx.arg::<String>("text")?);
        let sent = ctx.send_to(&to, text.clone()).await?;
        ctx.edit_sent(&sent, format!("{text} (updated)")).await?;
        if text.ends_with("delete") {
            ctx.delete_sent(&sent).await?;
        }
        ctx.reply(format!("Sent as {}.", sent.message.0));
        Ok(())
    }
}

#[tokio::test]
async fn a_plugin_writes_first_only_to_people_it_knows_and_edits_and_deletes_its_messages() {
    let h = Harness::bot(vec![Arc::new(Club) as Arc<dyn Plugin>], memory_store().await, Settings::default()).await;
    // Bob never used the club: the plugin may not write to him.
    let refused = h.say("ann", "/notify console:bob hello").await;
    assert_eq!(refused.len(), 1);
    assert!(refused[0].contains("Sorry"), "an internal refusal is an apology: {refused:?}");

    assert_eq!(h.say("bob", "/join").await, ["Welcome."]);
    h.sink.submit_and_wait(crate::support::event("ann", "/notify console:bob the meeting moved")).await.unwrap();
    let replies = h.captured.take();
    let to_bob: Vec<String> = replies.iter().filter(|r| r.user == user("bob")).map(text_of).collect();
    let to_ann: Vec<String> = replies.iter().filter(|r| r.user == user("ann")).map(text_of).collect();
    let id = to_ann[0].strip_prefix("Sent as ").and_then(|s| s.strip_suffix('.')).unwrap().to_string();
    assert_eq!(to_bob, ["the meeting moved".to_string(), format!("<edit {id}> the meeting moved (updated)")]);
    assert!(replies.iter().filter(|r| r.user == user("bob")).all(|r| r.private && r.chat.is_direct_with(&user("bob"))));
    h.sink.submit_and_wait(crate::support::event("ann", "/notify console:bob please delete")).await.unwrap();
    let to_bob: Vec<String> = h.captured.take().iter().filter(|r| r.user == user("bob")).map(text_of).collect();
    assert_eq!(to_bob.len(), 3, "{to_bob:?}");
    assert!(to_bob[2].starts_with("<delete m"), "{to_bob:?}");

    let trail = h.services().audit.entries_since(0).await.unwrap();
    let events: Vec<&str> = trail.iter().map(|e| e.event.as_str()).filter(|e| e.starts_with("message.")).collect();
    assert_eq!(events, ["message.sent", "message.edited", "message.sent", "message.edited", "message.deleted"]);
    h.stop().await;
}
