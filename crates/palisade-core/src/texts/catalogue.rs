//! Every built-in text, under its key, in English: what an operator translates or rewords in `[texts.<lang>]`.
//! `palisade texts` prints this list.

/// Key → English default. Names in braces are filled in when the text is used.
pub const CATALOGUE: &[(&str, &str)] = &[
    // The dispatcher and router.
    (
        "apology.internal",
        "Sorry, something went wrong on our side while handling that. Nothing else was affected; please try again in a moment (or send /cancel to start over).",
    ),
    ("apology.no_stepup", "{scope} needs step-up verification, which this bot does not have set up; ask its operator."),
    ("router.only_commands", "I only understand commands. Send /help to see what I can do."),
    ("router.unknown_command", "I don't know /{command}. Send /help to see what I can do."),
    ("router.not_allowed", "You are not allowed to use /{command}."),
    ("router.no_longer_allowed", "You are no longer allowed to use /{command}."),
    ("router.button_not_yours", "That button is not for you."),
    ("router.button_inactive", "That button is no longer active."),
    ("router.flow_timed_out", "Your unfinished {flow} timed out and was cancelled."),
    ("router.flow_cancelled", "Cancelled your {flow}."),
    ("router.nothing_to_cancel", "There is nothing to cancel."),
    (
        "router.flow_busy",
        "You are in the middle of your {flow}. Answer the question above, or send /cancel first to use /{command}.",
    ),
    ("router.flow_turned_off", "Your {flow} cannot continue: that feature is turned off."),
    ("help.hello", "Hello! I am {bot}."),
    ("help.intro", "Here is what you can do:"),
    ("help.asks_verification", " (asks for verification)"),
    ("help.cancel", "/cancel — stop what you are in the middle of"),
    ("help.help", "/help — this list"),
    // Step-up verification.
    ("stepup.timed_out", "The verification for {scope} timed out; nothing was done."),
    (
        "stepup.code_in_group_recovery",
        "Never post codes in a group. That recovery code was seen there, so it no longer works ({left} left); send a code to me in our private chat.",
    ),
    (
        "stepup.code_in_group",
        "Never post codes in a group. Send it to me in our private chat; if that was your current code, wait for the next one.",
    ),
    ("stepup.cancelled", "Cancelled: {scope} was not done."),
    ("stepup.finish_first", "Finish the verification first: send your code in our private chat, or /cancel."),
    (
        "stepup.elsewhere",
        "{scope} is waiting for your code on {platform}: send the code there (this bot does not confirm an action from another platform).",
    ),
    (
        "stepup.needs_enrolment",
        "{scope} needs two-factor verification. Turn it on with /2fa setup in a private chat with me (send /cancel first if you are in the middle of something), then try again.",
    ),
    (
        "stepup.needs_operator",
        "{scope} needs two-factor verification, which you have not set up. Ask the bot's operator.",
    ),
    ("stepup.ask_code", "send the 6-digit code from your authenticator app (or a recovery code)."),
    (
        "stepup.ask_recovery",
        "verification is locked after too many wrong codes, so send one of your recovery codes (or ask an admin to reset it).",
    ),
    ("stepup.prompt", "To confirm {scope}, {ask} Send /cancel to stop."),
    ("stepup.prompt_once", "To confirm {scope}, {ask} It approves this action once. Send /cancel to stop."),
    (
        "stepup.prompt_details",
        "To confirm {scope}:\n{details}\n{ask} The code approves exactly this, once. Send /cancel to stop.",
    ),
    ("stepup.sent_privately", "I sent you a private message to confirm this."),
    ("stepup.code_first", "Send your verification code first, or /cancel."),
    ("stepup.already_answered", "Nothing is waiting for a code any more ({scope} was already answered)."),
    ("stepup.not_enrolled_any_more", "Two-factor verification is no longer set up; nothing was done."),
    ("stepup.recovery_used", "You used a recovery code; {left} left. If that was not you, run /2fa setup now."),
    ("stepup.replayed", "That code was already used. Wait for the next code in your app and send it."),
    ("stepup.wrong_paused", "Wrong code. Too many wrong codes: verification is paused for a while."),
    ("stepup.wrong", "Wrong code. {left} more tries before verification pauses."),
    ("stepup.paused", "Verification is paused after wrong codes; try again in {seconds} s."),
    ("stepup.locked", "Verification is locked. Use a recovery code, or ask an admin to reset it."),
    ("stepup.malformed", "Send the 6-digit code from your authenticator app, or a recovery code (or /cancel)."),
    ("stepup.details_changed", "The details changed since you approved them; nothing was done."),
];
