//! Buttons bound to the person they were shown to, and to the command they came from.
//!
//! When a handler's reply carries buttons, the router seals each button's data with the user the reply is
//! for and the command whose handling produced it (its *origin*): `data ␟ origin ␟ tag`, where the tag is a
//! keyed hash (the store's keys, purpose `palisade/buttons/v1`) over all three. A press is accepted only
//! from that user, and before its handler runs the origin command's role and step-up requirement are checked
//! again: a button left by `/admin` is dead once the role is revoked, and a button from a sensitive command
//! needs the scope granted when it is pressed, not only when it was shown. Adapters map the sealed data to
//! short opaque ids of their own, so its length never reaches a platform.

use crate::event::UserRef;
use crate::store::Store;

/// Separates the parts of sealed data (a control character: plugins' button data is printable).
const SEP: char = '\u{1f}';
const PURPOSE: &str = "palisade/buttons/v1";

/// What a pressed button's data turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Pressed<'a> {
    /// Sealed for this user: the plugin's own data, and the command it came from (if any).
    Bound {
        /// The data the plugin gave the button (`plugin:value`).
        data: &'a str,
        /// The command whose handling showed the button.
        origin: Option<&'a str>,
    },
    /// Sealed for someone else, or altered.
    NotYours,
    /// Not sealed at all: no button the router showed.
    Unbound,
}

fn tag(store: &dyn Store, user: &UserRef, data: &str, origin: &str) -> Option<String> {
    let user = user.to_string();
    let mut input = Vec::with_capacity(user.len() + data.len() + origin.len() + 24);
    for part in [user.as_str(), origin, data] {
        input.extend_from_slice(&(part.len() as u64).to_be_bytes());
        input.extend_from_slice(part.as_bytes());
    }
    let mac = store.keyed_hash(PURPOSE, &input).ok()?;
    Some(mac[..16].iter().map(|b| format!("{b:02x}")).collect())
}

/// `data` sealed for `user`, coming from the command `origin`. `None` when the store cannot derive keys (the
/// button then stays unsealed, and a press is refused as inactive: fail closed).
pub fn seal(store: &dyn Store, user: &UserRef, origin: Option<&str>, data: &str) -> Option<String> {
    let origin = origin.unwrap_or_default();
    let tag = tag(store, user, data, origin)?;
    Some(format!("{data}{SEP}{origin}{SEP}{tag}"))
}

/// Opens the data of a button `user` pressed.
pub fn open<'a>(store: &dyn Store, user: &UserRef, pressed: &'a str) -> Pressed<'a> {
    let mut parts = pressed.rsplitn(3, SEP);
    let (Some(tag), Some(origin), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Pressed::Unbound;
    };
    let expected = self::tag(store, user, data, origin);
    // Both sides are public-length hex; a constant-time comparison keeps the tag from leaking byte by byte.
    match expected {
        Some(expected) if crate::crypto::ct_eq(expected.as_bytes(), tag.as_bytes()) => {
            Pressed::Bound { data, origin: Some(origin).filter(|o| !o.is_empty()) }
        }
        _ => Pressed::NotYours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sealed_button_opens_only_for_its_user_and_unchanged() {
        let key = crate::crypto::Key::from_bytes(&[7u8; 32]).unwrap();
        let backend = std::sync::Arc::new(crate::store::MemoryBackend::new());
        let store = crate::store::RecordStore::open(backend, &key, crate::clock::SystemClock::shared()).await.unwrap();
        let ann: UserRef = "console:ann".parse().unwrap();
        let ben: UserRef = "console:ben".parse().unwrap();
        let sealed = seal(&store, &ann, Some("admin"), "admin:unblock:x").unwrap();
        assert_eq!(open(&store, &ann, &sealed), Pressed::Bound { data: "admin:unblock:x", origin: Some("admin") });
        assert_eq!(open(&store, &ben, &sealed), Pressed::NotYours);
        let forged = sealed.replacen("admin:unblock:x", "admin:unblock:y", 1);
        assert_eq!(open(&store, &ann, &forged), Pressed::NotYours);
        let no_origin = sealed.replacen("\u{1f}admin\u{1f}", "\u{1f}\u{1f}", 1);
        assert_eq!(open(&store, &ann, &no_origin), Pressed::NotYours, "the origin cannot be stripped");
        assert_eq!(open(&store, &ann, "admin:unblock:x"), Pressed::Unbound);
        let plain = seal(&store, &ann, None, "bank:confirm").unwrap();
        assert_eq!(open(&store, &ann, &plain), Pressed::Bound { data: "bank:confirm", origin: None });
    }
}
