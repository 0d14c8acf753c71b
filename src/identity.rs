//! One person across platforms: identities linked with a one-time code become one data subject.
//!
//! `/link` on one platform shows a code (privately, for 10 minutes, once); `/link CODE` on another links the
//! two. The store then files both identities' records under one person ([`crate::store::Store::link_subjects`]):
//! one data key, one two-factor enrolment (with its replay marker and lockout), one audit pseudonym, one set
//! of consents; `/mydata` and `palisade user export` cover every platform, and `/forget` or `palisade user
//! erase` on any identity erases the person. Roles stay with the identities `[roles]` names, step-up grants
//! with their conversation. `/unlink PLATFORM` splits an identity off again: the person keeps the records,
//! the identity starts empty.
//!
//! | module | owns |
//! |---|---|
//! | `code` | link codes: generation and what counts as one |
//! | `commands` | `/link` and `/unlink` |

mod code;
mod commands;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use commands::IdentityPlugin;

use crate::audit::{Audit, Outcome};
use crate::clock::SharedClock;
use crate::event::{ChatRef, ConversationKey, Platform, UserRef};
use crate::outboxes::Outboxes;
use crate::reply::{Reply, ReplyBody};
use crate::stepup::StepUp;
use crate::store::{Durability, Linked, RecordKey, SharedStore, StoreError, Subject};

/// The person's linked identities (under the person, so erased with them).
pub const NAMESPACE: &str = "core.identity";
/// Link codes waiting to be used: the code's keyed hash → who asked for it (records about nobody, for at
/// most [`CODE_TTL`]).
pub const CODES: &str = "core.identity.codes";
/// How long a link code works.
pub const CODE_TTL: Duration = Duration::from_secs(600);
const LINKS: &[u8] = b"links";
const CODE_PURPOSE: &str = "palisade/link-code/v1";

/// The identities of one person.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Links {
    identities: Vec<UserRef>,
}

/// A code waiting to be used.
#[derive(Serialize, Deserialize)]
struct Waiting {
    issuer: UserRef,
    expires_at_ms: u64,
}

/// What `/link CODE` came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// Linked with `issuer`.
    Linked {
        /// Who showed the code.
        issuer: UserRef,
        /// Every identity of the person now.
        identities: Vec<UserRef>,
        /// Whether the joining identity's own two-factor enrolment was retired for the person's.
        second_factor_replaced: bool,
    },
    /// No such code (wrong, used or expired): counted like a wrong verification code.
    Wrong(crate::stepup::Outcome),
    /// Guesses are paused (too many wrong codes or verification codes).
    Paused(Option<u64>),
    /// The code was shown to this same identity, or to another identity on this platform.
    SamePlatform,
    /// Already one person.
    Already,
    /// This identity belongs to another person: unlink it first.
    Elsewhere,
    /// Records under the same ids on both sides in these namespaces; nothing changed.
    Conflicts(Vec<String>),
}

/// Links and unlinks identities.
pub struct Identities {
    store: SharedStore,
    audit: Arc<Audit>,
    stepup: Arc<StepUp>,
    clock: SharedClock,
    outboxes: OnceLock<Outboxes>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identities")
    }
}

/// Namespaces where, when both identities hold a record under the same id, the person's (the identity that
/// showed the code) stays and the joining identity's is dropped: the core's own per-person records. (A
/// second two-factor enrolment is retired this way; the commands say so.) Plugins' data is never dropped:
/// a clash there refuses the link.
fn person_wins(namespace: &str) -> bool {
    namespace.starts_with("core.")
}

impl Identities {
    /// Identities over `store`; throttled by `stepup`, audited to `audit`.
    pub fn new(store: SharedStore, audit: Arc<Audit>, stepup: Arc<StepUp>, clock: SharedClock) -> Arc<Self> {
        Arc::new(Self { store, audit, stepup, clock, outboxes: OnceLock::new() })
    }

    /// Where notices to the other identity go (set once the dispatcher is built).
    pub fn set_outboxes(&self, outboxes: Outboxes) {
        let _ = self.outboxes.set(outboxes);
    }

    /// Every identity of the person `user` is (`user` alone when not linked).
    pub async fn linked(&self, user: &UserRef) -> Result<Vec<UserRef>, StoreError> {
        let mut links = self.links(user).await?.identities;
        if !links.contains(user) {
            links.insert(0, user.clone());
        }
        Ok(links)
    }

    async fn links(&self, user: &UserRef) -> Result<Links, StoreError> {
        let subject = Subject::user(user);
        let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: LINKS };
        match self.store.get(key).await? {
            Some(rec) => serde_json::from_slice(&rec.value)
                .map_err(|e| StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() }),
            None => Ok(Links::default()),
        }
    }

    async fn save_links(&self, user: &UserRef, links: &Links) -> Result<(), StoreError> {
        let subject = Subject::user(user);
        let key = RecordKey { namespace: NAMESPACE, subject: Some(&subject), id: LINKS };
        let bytes = serde_json::to_vec(links)
            .map_err(|e| StoreError::Codec { namespace: NAMESPACE.into(), reason: e.to_string() })?;
        self.store.put(key, &bytes, Durability::Flushed).await
    }

    fn code_id(&self, code: &str) -> Result<[u8; 32], StoreError> {
        self.store.keyed_hash(CODE_PURPOSE, code.as_bytes())
    }

    /// A new link code for `issuer` (shown as `ABCDE-FGHJK`), working once within [`CODE_TTL`]. Only its
    /// keyed hash is stored.
    pub async fn issue(&self, issuer: &UserRef) -> Result<String, StoreError> {
        let shown = code::generate().map_err(|e| StoreError::MasterKey(e.to_string()))?;
        let id = self.code_id(&code::normalise(&shown).unwrap_or_default())?;
        let waiting =
            Waiting { issuer: issuer.clone(), expires_at_ms: self.clock.now_ms() + crate::clock::millis(CODE_TTL) };
        let bytes = serde_json::to_vec(&waiting)
            .map_err(|e| StoreError::Codec { namespace: CODES.into(), reason: e.to_string() })?;
        self.store.put(RecordKey { namespace: CODES, subject: None, id: &id }, &bytes, Durability::Flushed).await?;
        self.audit.record("identity.link_code", Some(issuer), Outcome::Info, &[]).await?;
        Ok(shown)
    }

    /// Takes the code `typed` (once: it is deleted before anything else) and links `joining` with the
    /// identity that showed it.
    pub async fn redeem(&self, joining: &UserRef, typed: &str) -> Result<Redeemed, StoreError> {
        if let Some(until) = self.stepup.paused(joining).await? {
            return Ok(Redeemed::Paused(until));
        }
        let waiting = match code::normalise(typed) {
            Some(code) => self.take(&code).await?,
            None => None,
        };
        let Some(waiting) = waiting.filter(|w| w.expires_at_ms > self.clock.now_ms()) else {
            return Ok(Redeemed::Wrong(self.stepup.count_failure(joining, "link code").await?));
        };
        let issuer = waiting.issuer;
        if issuer.platform == joining.platform {
            return Ok(Redeemed::SamePlatform);
        }
        let outcome = self.store.link_subjects(&Subject::user(joining), &Subject::user(&issuer), &person_wins).await?;
        let dropped = match outcome {
            Linked::Done { dropped, .. } => dropped,
            Linked::Already => return Ok(Redeemed::Already),
            Linked::Elsewhere => return Ok(Redeemed::Elsewhere),
            Linked::Conflicts(namespaces) => return Ok(Redeemed::Conflicts(namespaces)),
        };
        // The person's records now answer for both: forget what was cached per identity.
        for user in [joining, &issuer] {
            self.audit.forget(user);
        }
        let mut links = self.links(&issuer).await?;
        for user in [&issuer, joining] {
            if !links.identities.contains(user) {
                links.identities.push(user.clone());
            }
        }
        self.save_links(&issuer, &links).await?;
        let details = [
            ("with", issuer.platform.to_string()),
            ("platforms", platforms(&links.identities)),
            ("dropped", dropped.join(",")),
        ];
        self.audit.record("identity.linked", Some(joining), Outcome::Success, &details).await?;
        let second_factor_replaced = dropped.iter().any(|ns| ns == "core.stepup");
        Ok(Redeemed::Linked { issuer, identities: links.identities, second_factor_replaced })
    }

    /// Reads and deletes (flushed) the code with normalised text `code`.
    async fn take(&self, code: &str) -> Result<Option<Waiting>, StoreError> {
        let id = self.code_id(code)?;
        let key = RecordKey { namespace: CODES, subject: None, id: &id };
        let Some(rec) = self.store.get(key).await? else { return Ok(None) };
        if !self.store.delete(key, Durability::Flushed).await? {
            // Taken by a concurrent attempt in between.
            return Ok(None);
        }
        Ok(serde_json::from_slice(&rec.value).ok())
    }

    /// Splits the identity on `platform` off the person `user` is; `by` is who asked (`user` or an admin).
    /// Returns the identity split off, or `None` when the person has none on that platform.
    pub async fn unlink(
        &self,
        user: &UserRef,
        platform: Platform,
        by: &UserRef,
    ) -> Result<Option<UserRef>, StoreError> {
        let mut links = self.links(user).await?;
        let Some(leaving) = links.identities.iter().find(|u| u.platform == platform).cloned() else {
            return Ok(None);
        };
        let pseudonym = self.audit.pseudonym(user).await?;
        links.identities.retain(|u| *u != leaving);
        // The list stays with the person (saved before the split, so it is filed under the person).
        self.save_links(user, &links).await?;
        // Its grants go first: once split, they would be filed under the person, out of its reach.
        self.stepup.forget_grants(&leaving).await?;
        if !self.store.unlink_subject(&Subject::user(&leaving)).await? {
            return Ok(None);
        }
        self.audit.forget(&leaving);
        let details = [("platform", platform.to_string()), ("person", pseudonym)];
        self.audit.record("identity.unlinked", Some(by), Outcome::Success, &details).await?;
        Ok(Some(leaving))
    }

    /// Tells `user` something privately in their direct chat (the other side of a link).
    pub async fn notify(&self, user: &UserRef, text: String) {
        let Some(outboxes) = self.outboxes.get() else { return };
        let reply = Reply {
            chat: ChatRef::direct_with(user),
            user: user.clone(),
            private: true,
            body: ReplyBody::Text { text, buttons: Vec::new() },
            retract: None,
        };
        let lane = ConversationKey { user: user.clone(), chat_id: user.id.clone() };
        outboxes.send(lane, vec![reply], None, None).await;
    }
}

/// `slack, telegram`.
fn platforms(users: &[UserRef]) -> String {
    let mut names: Vec<String> = users.iter().map(|u| u.platform.to_string()).collect();
    names.sort();
    names.dedup();
    names.join(", ")
}
