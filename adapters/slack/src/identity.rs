//! Who and where, from Slack's immutable ids — never from names, which users can change and which are not
//! unique.
//!
//! A user is `scope/user`: the scope is the Enterprise Grid organisation (`E…`) when the payload names one,
//! because a user id is the same in every workspace of an organisation and should be one person here too;
//! otherwise the user's own workspace (`T…`; in a shared channel, not necessarily the channel's). Chats are
//! the channel id; `D…` channels (`im`) are direct, everything else (`mpim`, private and public channels) is
//! a group.

use palisade_core::{ChatKind, ChatRef, Platform, UserRef};

/// A Slack id as Slack issues them: 1 to 32 upper-case letters and digits. Anything else is refused, so a
/// crafted value can never smuggle a `/` into an identity.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The user `user` in `enterprise` (when present and non-empty) or else `team`.
pub fn user(enterprise: Option<&str>, team: Option<&str>, user: &str) -> Option<UserRef> {
    let scope = enterprise.filter(|e| !e.is_empty()).or(team.filter(|t| !t.is_empty()))?;
    (valid_id(scope) && valid_id(user)).then(|| UserRef::new(Platform::SLACK, format!("{scope}/{user}")))
}

/// The Slack user id (`U…`) inside an identity made by [`user`].
pub fn slack_user_id(user: &UserRef) -> Option<&str> {
    user.id.split_once('/').map(|(_, u)| u).filter(|u| valid_id(u))
}

/// The chat `channel`, classified by the `channel_type` of an event when given, else by the id's prefix.
pub fn chat(channel: &str, channel_type: Option<&str>) -> Option<ChatRef> {
    if !valid_id(channel) {
        return None;
    }
    let direct = match channel_type {
        Some(t) => t == "im",
        None => channel.starts_with('D'),
    };
    let kind = if direct { ChatKind::Direct } else { ChatKind::Group };
    Some(ChatRef::new(Platform::SLACK, channel, kind))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn enterprise_scope_wins_and_empty_values_fall_through() {
        assert_eq!(user(Some("E1"), Some("T1"), "U1").unwrap().id, "E1/U1");
        assert_eq!(user(Some(""), Some("T1"), "W1").unwrap().id, "T1/W1");
        assert_eq!(user(None, Some("T1"), "U1").unwrap().to_string(), "slack:T1/U1");
        assert_eq!(user(None, None, "U1"), None);
        assert_eq!(slack_user_id(&user(None, Some("T1"), "U9").unwrap()), Some("U9"));
    }

    #[test]
    fn crafted_ids_are_refused() {
        assert_eq!(user(None, Some("T1"), "U1/../U2"), None);
        assert_eq!(user(None, Some("T1/U2"), "U1"), None);
        assert_eq!(user(None, Some("T1"), "alice"), None);
        assert_eq!(chat("general", None), None);
    }

    #[test]
    fn only_ims_are_direct() {
        assert_eq!(chat("D1", Some("im")).unwrap().kind, ChatKind::Direct);
        assert_eq!(chat("C1", Some("channel")).unwrap().kind, ChatKind::Group);
        assert_eq!(chat("G1", Some("mpim")).unwrap().kind, ChatKind::Group);
        assert_eq!(chat("G1", Some("group")).unwrap().kind, ChatKind::Group);
        assert_eq!(chat("D1", None).unwrap().kind, ChatKind::Direct);
        assert_eq!(chat("C1", None).unwrap().kind, ChatKind::Group);
    }
}
