//! Slack's v0 request signature, checked against the example in Slack's own documentation ("Verifying
//! requests from Slack") and against signatures computed by an independent implementation (Python's `hmac`).

use palisade_slack::signature::{Rejection, check_signature, check_timestamp, sign};

/// The documented example: signing secret, timestamp, body and the signature Slack says it produces.
const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const DOC_TIMESTAMP: &str = "1531420618";
const DOC_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const DOC_SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

#[test]
fn slacks_documented_example_verifies() {
    assert_eq!(sign(DOC_SECRET.as_bytes(), DOC_TIMESTAMP, DOC_BODY.as_bytes()), DOC_SIGNATURE);
    assert_eq!(check_signature(DOC_SECRET.as_bytes(), DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY.as_bytes()), Ok(()));
    // The example is from 2018: as a live request it is stale.
    assert_eq!(check_timestamp(DOC_TIMESTAMP, crate::support::now()), Err(Rejection::Stale));
    let forged = DOC_SIGNATURE.replace("a2114d", "a2114e");
    assert_eq!(
        check_signature(DOC_SECRET.as_bytes(), DOC_TIMESTAMP, &forged, DOC_BODY.as_bytes()),
        Err(Rejection::Forged)
    );
}

#[test]
fn signatures_agree_with_pythons_hmac() {
    assert_eq!(crate::support::python_sign(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY.as_bytes()), DOC_SIGNATURE);
    let bodies: [&[u8]; 4] =
        [b"", b"{\"type\":\"url_verification\",\"challenge\":\"x\"}", "é ü ✓ 漢字".as_bytes(), &[0, 255, 10, 13]];
    for (i, body) in bodies.into_iter().enumerate() {
        let (secret, ts) = (format!("secret-{i}"), format!("17000000{i:02}"));
        let theirs = crate::support::python_sign(&secret, &ts, body);
        assert_eq!(sign(secret.as_bytes(), &ts, body), theirs, "body {i}");
        assert_eq!(check_signature(secret.as_bytes(), &ts, &theirs, body), Ok(()));
    }
}
