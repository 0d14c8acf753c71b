//! Reading an update without formatting the errors nobody reads.
//!
//! teloxide's `Update` is a tree of untagged enums (a message's kind, its media, ...): serde tries one variant
//! after another, and every failed try makes an error. With `serde_json` each of those errors is formatted
//! into a message (and searched for a position), about 19 000 instructions per text message, a tenth of the
//! bot's work per update, for errors that are thrown away as the next variant is tried.
//!
//! Here an answer is parsed once into [`Json`] (objects as lists of entries, strings lent from the answer
//! where they need no unescaping), and each update is read from that through [`Borrowed`], a deserializer
//! whose error ([`Quiet`]) carries nothing and costs nothing to make. The same `Deserialize` code runs on the
//! same values, so it gives the same update; only when an update cannot be read that way is it read again
//! through `serde_json`, which then gives the update or an error that says why. [`GetUpdatesQuietly`] reads
//! `getUpdates`' answers so; the webhook reads each update it is sent so.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::Value;
use teloxide::payloads::GetUpdates;
use teloxide::types::Update;

/// The update in `json`, as `serde_json` reads it, without its discarded errors' cost.
///
/// # Errors
/// `serde_json`'s error when the value is not an update.
pub(crate) fn update(json: &Json<'_>) -> Result<Update, serde_json::Error> {
    use serde::Deserialize;
    Update::deserialize(Borrowed(json)).or_else(|Quiet| serde_json::from_value(json.to_value()))
}

/// A JSON value as parsed: numbers as the parser reported them, strings lent from the text where they need no
/// unescaping, an object's entries in their order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'de> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Text(Cow<'de, str>),
    Array(Vec<Json<'de>>),
    Object(Vec<(Cow<'de, str>, Json<'de>)>),
}

impl Json<'_> {
    /// The same value as `serde_json` holds it.
    fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Unsigned(u) => Value::from(*u),
            Json::Signed(i) => Value::from(*i),
            Json::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::Text(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(entries) => {
                Value::Object(entries.iter().map(|(k, v)| (k.to_string(), v.to_value())).collect())
            }
        }
    }
}

/// A string, lent where the parser can lend it.
struct Text<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

impl<'de> serde::Deserialize<'de> for Json<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Json<'de>, E> {
                Ok(Json::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Json<'de>, E> {
                Ok(Json::Null)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
                serde::Deserialize::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Json<'de>, E> {
                Ok(Json::Bool(b))
            }
            fn visit_u64<E: de::Error>(self, u: u64) -> Result<Json<'de>, E> {
                Ok(Json::Unsigned(u))
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> Result<Json<'de>, E> {
                Ok(Json::Signed(i))
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<Json<'de>, E> {
                Ok(Json::Float(f))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Json<'de>, E> {
                Ok(Json::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Json<'de>, E> {
                Ok(Json::Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Json<'de>, E> {
                Ok(Json::Text(Cow::Owned(s)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(Text(key)) = map.next_key()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Json::Object(entries))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// An error that says nothing: a try that failed.
#[derive(Debug)]
pub(crate) struct Quiet;

impl std::fmt::Display for Quiet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the value does not fit")
    }
}

impl std::error::Error for Quiet {}

impl de::Error for Quiet {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Quiet
    }
}

/// A deserializer over a parsed value, as `serde_json`'s own over `&Value`, its strings lent.
#[derive(Clone, Copy)]
pub(crate) struct Borrowed<'de, 'j>(pub &'de Json<'j>);

impl<'de, 'j> IntoDeserializer<'de, Quiet> for Borrowed<'de, 'j> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// A map key, lent.
struct Key<'de>(&'de str);

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = Quiet;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Quiet> {
        visitor.visit_borrowed_str(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

struct Seq<'de, 'j>(std::slice::Iter<'de, Json<'j>>);

impl<'de, 'j> de::SeqAccess<'de> for Seq<'de, 'j> {
    type Error = Quiet;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Quiet> {
        self.0.next().map(|v| seed.deserialize(Borrowed(v))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map<'de, 'j> {
    entries: std::slice::Iter<'de, (Cow<'j, str>, Json<'j>)>,
    value: Option<&'de Json<'j>>,
}

impl<'de, 'j> de::MapAccess<'de> for Map<'de, 'j> {
    type Error = Quiet;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Quiet> {
        let Some((key, value)) = self.entries.next() else { return Ok(None) };
        self.value = Some(value);
        seed.deserialize(Key(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Quiet> {
        seed.deserialize(Borrowed(self.value.take().ok_or(Quiet)?))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum written as its variant's name, or as an object of one entry: the variant's name and its content.
struct Enum<'de, 'j> {
    variant: &'de str,
    content: Option<&'de Json<'j>>,
}

impl<'de, 'j> de::EnumAccess<'de> for Enum<'de, 'j> {
    type Error = Quiet;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Quiet> {
        Ok((seed.deserialize(Key(self.variant))?, self))
    }
}

impl<'de, 'j> de::VariantAccess<'de> for Enum<'de, 'j> {
    type Error = Quiet;

    fn unit_variant(self) -> Result<(), Quiet> {
        match self.content {
            None | Some(Json::Null) => Ok(()),
            Some(_) => Err(Quiet),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Quiet> {
        seed.deserialize(Borrowed(self.content.ok_or(Quiet)?))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Quiet> {
        de::Deserializer::deserialize_seq(Borrowed(self.content.ok_or(Quiet)?), visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Quiet> {
        de::Deserializer::deserialize_map(Borrowed(self.content.ok_or(Quiet)?), visitor)
    }
}

impl<'de, 'j> de::Deserializer<'de> for Borrowed<'de, 'j> {
    type Error = Quiet;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Quiet> {
        match self.0 {
            Json::Null => visitor.visit_unit(),
            Json::Bool(b) => visitor.visit_bool(*b),
            Json::Unsigned(u) => visitor.visit_u64(*u),
            Json::Signed(i) => visitor.visit_i64(*i),
            Json::Float(f) => visitor.visit_f64(*f),
            Json::Text(s) => visitor.visit_borrowed_str(s),
            Json::Array(items) => visitor.visit_seq(Seq(items.iter())),
            Json::Object(entries) => visitor.visit_map(Map { entries: entries.iter(), value: None }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Quiet> {
        match self.0 {
            Json::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Quiet> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Quiet> {
        match self.0 {
            Json::Text(variant) => visitor.visit_enum(Enum { variant, content: None }),
            Json::Object(entries) => match entries.as_slice() {
                [(variant, content)] => visitor.visit_enum(Enum { variant, content: Some(content) }),
                _ => Err(Quiet),
            },
            _ => Err(Quiet),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Quiet> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        seq tuple tuple_struct map struct identifier
    }
}

/// `getUpdates`, sent as teloxide sends it, its answer read by [`update`].
pub(crate) type GetUpdatesQuietly = crate::read_as::ReadAs<GetUpdates, Updates>;

/// The updates of a `getUpdates` answer.
#[derive(Debug)]
pub(crate) struct Updates(pub Vec<Update>);

impl<'de> serde::Deserialize<'de> for Updates {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let parsed = Vec::<Json<'de>>::deserialize(deserializer)?;
        parsed.iter().map(update).collect::<Result<_, _>>().map(Updates).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Updates of the kinds the adapter maps, and some it does not, in the Bot API's documented shapes.
    const UPDATES: &[&str] = &[
        // A private text message, with the sender's language.
        r#"{"update_id":1,"message":{"message_id":10,"from":{"id":42,"is_bot":false,"first_name":"Ada",
            "last_name":"L","username":"ada","language_code":"de"},"chat":{"id":42,"first_name":"Ada",
            "username":"ada","type":"private"},"date":1700000000,"text":"hello \"there\" \u00e9\n"}}"#,
        // A command in a forum topic, addressed to the bot, replying to one of its messages.
        r#"{"update_id":2,"message":{"message_id":11,"message_thread_id":5,"is_topic_message":true,
            "from":{"id":42,"is_bot":false,"first_name":"Ada"},"chat":{"id":-1001234567890,"title":"Team",
            "type":"supergroup","is_forum":true},"date":1700000001,"text":"/echo@pal_bot hi",
            "entities":[{"offset":0,"length":13,"type":"bot_command"}],
            "reply_to_message":{"message_id":9,"from":{"id":999,"is_bot":true,"first_name":"Pal",
            "username":"pal_bot"},"chat":{"id":-1001234567890,"title":"Team","type":"supergroup"},
            "date":1699999999,"text":"earlier"}}}"#,
        // A button press on one of the bot's messages.
        r#"{"update_id":3,"callback_query":{"id":"4382bfdwdsb323b2d9","from":{"id":42,"is_bot":false,
            "first_name":"Ada"},"message":{"message_id":12,"from":{"id":999,"is_bot":true,"first_name":"Pal"},
            "chat":{"id":42,"first_name":"Ada","type":"private"},"date":1700000002,"text":"Send 5.00?",
            "reply_markup":{"inline_keyboard":[[{"text":"Confirm","callback_data":"k3v9"}]]}},
            "chat_instance":"-8827","data":"k3v9"}}"#,
        // An edit.
        r#"{"update_id":4,"edited_message":{"message_id":10,"from":{"id":42,"is_bot":false,"first_name":"Ada"},
            "chat":{"id":42,"first_name":"Ada","type":"private"},"date":1700000000,"edit_date":1700000100,
            "text":"hello again"}}"#,
        // A reaction.
        r#"{"update_id":5,"message_reaction":{"chat":{"id":-100777,"title":"G","type":"group"},"message_id":11,
            "user":{"id":42,"is_bot":false,"first_name":"Ada"},"date":1700000003,"old_reaction":[],
            "new_reaction":[{"type":"emoji","emoji":"👍"}]}}"#,
        // A photo with a caption, a document, a sticker, a location, new members.
        r#"{"update_id":6,"message":{"message_id":13,"from":{"id":42,"is_bot":false,"first_name":"Ada"},
            "chat":{"id":42,"first_name":"Ada","type":"private"},"date":1700000004,"caption":"look",
            "photo":[{"file_id":"AgAD","file_unique_id":"AQAD","width":90,"height":67,"file_size":1254},
            {"file_id":"AgAE","file_unique_id":"AQAE","width":320,"height":240,"file_size":15000}]}}"#,
        r#"{"update_id":7,"message":{"message_id":14,"from":{"id":42,"is_bot":false,"first_name":"Ada"},
            "chat":{"id":42,"first_name":"Ada","type":"private"},"date":1700000005,
            "document":{"file_id":"BQAD","file_unique_id":"AgAD","file_name":"statement.pdf",
            "mime_type":"application/pdf","file_size":48213}}}"#,
        r#"{"update_id":8,"message":{"message_id":15,"from":{"id":42,"is_bot":false,"first_name":"Ada"},
            "chat":{"id":42,"first_name":"Ada","type":"private"},"date":1700000006,
            "sticker":{"file_id":"CAAD","file_unique_id":"AgAE","type":"regular","width":512,"height":512,
            "is_animated":false,"is_video":false,"emoji":"🙂"}}}"#,
        r#"{"update_id":9,"message":{"message_id":16,"from":{"id":42,"is_bot":false,"first_name":"Ada"},
            "chat":{"id":42,"first_name":"Ada","type":"private"},"date":1700000007,
            "location":{"latitude":52.520008,"longitude":13.404954}}}"#,
        r#"{"update_id":10,"message":{"message_id":17,"from":{"id":42,"is_bot":false,"first_name":"Ada"},
            "chat":{"id":-100777,"title":"G","type":"group"},"date":1700000008,
            "new_chat_members":[{"id":7,"is_bot":false,"first_name":"Bo"}]}}"#,
        // A kind teloxide does not know, and a message it cannot read: both kept as raw values.
        r#"{"update_id":11,"some_future_kind":{"x":1,"y":[true,null,-3]}}"#,
        r#"{"update_id":12,"message":{"message_id":18,"text":"no chat"}}"#,
    ];

    #[test]
    fn every_update_reads_quietly_as_serde_json_reads_it() {
        for (n, json) in UPDATES.iter().enumerate() {
            let parsed: Json<'_> = serde_json::from_str(json).unwrap();
            assert_eq!(parsed.to_value(), serde_json::from_str::<Value>(json).unwrap(), "{json}");
            let quietly = Update::deserialize(Borrowed(&parsed)).unwrap_or_else(|_| panic!("not read quietly: {json}"));
            let from_bytes: Update = serde_json::from_str(json).unwrap();
            assert_eq!(quietly, from_bytes, "{json}");
            assert_eq!(update(&parsed).unwrap(), from_bytes, "{json}");
            // The last two are kept raw by teloxide; every other one is read as what it is.
            let raw = matches!(from_bytes.kind, teloxide::types::UpdateKind::Error(_));
            assert_eq!(raw, n >= UPDATES.len() - 2, "{json}");
        }
        let batch: Updates = serde_json::from_str(&format!("[{}]", UPDATES.join(","))).unwrap();
        assert_eq!(batch.0.len(), UPDATES.len());
    }

    #[test]
    fn an_update_that_cannot_be_read_is_explained_by_serde_json() {
        let parsed: Json<'_> = serde_json::from_str(r#"{"message":{"message_id":1}}"#).unwrap();
        let error = update(&parsed).unwrap_err().to_string();
        assert!(error.contains("update_id"), "{error}");
        let error = serde_json::from_str::<Updates>(r#"[{"update_id":1},{"update_id":"two"}]"#).unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
    }
}
