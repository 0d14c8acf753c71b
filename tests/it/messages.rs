//! Messages a plugin writes first, and edits and deletions of what it sent: only to people it knows, or in
//! group chats the bot was written to in; only its own messages; each audited under a pseudonym.

use std::sync::Arc;

use async_trait::async_trait;
use palisade::config::Settings;
use palisade::plugin::{Arg, Command, Ctx, DataManifest, LegalBasis, Namespace, Plugin, PluginError, days};
use palisade::{ChatKind, ChatRef, Durability, Event, Platform, UserRef};

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

/// `/announce <chat> <text>` posts in a group chat first, edits the post once.
struct Board;

#[async_trait]
impl Plugin for Board {
    fn name(&self) -> &'static str {
        "board"
    }

    fn commands(&self) -> Vec<Command> {
        vec![Command::new("announce", "Post in a group").arg(Arg::required("chat")).arg(Arg::text("text"))]
    }

    async fn command(&self, _: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        let (chat, text) = (ctx.arg::<String>("chat")?, ctx.arg::<String>("text")?);
        let kind = if chat.starts_with("dm-") { ChatKind::Direct } else { ChatKind::Group };
        let sent = ctx.post_to(&ChatRef::new(Platform::CONSOLE, chat, kind), text.clone()).await?;
        ctx.edit_sent(&sent, format!("{text} (pinned)")).await?;
        ctx.reply(format!("Posted as {}.", sent.message.0));
        Ok(())
    }
}

#[tokio::test]
async fn a_plugin_posts_first_only_in_group_chats_the_bot_was_written_to_in() {
    let store = memory_store().await;
    let h = Harness::bot(vec![Arc::new(Board) as Arc<dyn Plugin>], store.clone(), Settings::default()).await;
    let team = ChatRef::new(Platform::CONSOLE, "team-1", ChatKind::Group);
    // Nobody wrote to the bot in team-1 yet, and a direct chat is never posted in.
    for refused in ["/announce team-1 hello", "/announce dm-bob hello"] {
        let answer = h.say("ann", refused).await;
        assert!(answer.len() == 1 && answer[0].contains("Sorry"), "{refused}: {answer:?}");
    }
    assert!(h.captured.take().iter().all(|r| r.chat != team));

    // Bob says something in team-1 (not even to the bot): the bot knows the chat from then on.
    h.sink.submit_and_wait(Event::text(user("bob"), team.clone(), "morning all")).await.unwrap();
    h.sink.submit_and_wait(crate::support::event("ann", "/announce team-1 the office is closed today")).await.unwrap();
    let replies = h.captured.take();
    let posted: Vec<&palisade::Reply> = replies.iter().filter(|r| r.chat == team).collect();
    let texts: Vec<String> = posted.iter().map(|r| text_of(r)).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert_eq!(texts[0], "the office is closed today");
    assert!(texts[1].ends_with("the office is closed today (pinned)"), "{texts:?}");
    assert!(posted.iter().all(|r| !r.private), "a post is for the whole chat");

    let trail = h.services().audit.entries_since(0).await.unwrap();
    let events: Vec<&str> = trail.iter().map(|e| e.event.as_str()).filter(|e| e.starts_with("message.")).collect();
    assert_eq!(events, ["message.posted", "message.edited"]);
    h.stop().await;

    // The chat is kept in the store (sealed), so a restarted bot may post there at once.
    assert_eq!(store.scan("core.chats").await.unwrap().len(), 1);
    let h = Harness::bot(vec![Arc::new(Board) as Arc<dyn Plugin>], store, Settings::default()).await;
    h.sink.submit_and_wait(crate::support::event("ann", "/announce team-1 back again")).await.unwrap();
    assert!(h.captured.take().iter().any(|r| r.chat == team && text_of(r) == "back again"));
    h.stop().await;
}
