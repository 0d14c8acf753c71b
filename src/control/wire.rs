//! The control socket's protocol: one request per connection as a line of JSON; the answer as a line of
//! JSON (exit code, standard output and error text, the length of an attached document) followed by the
//! document's bytes (an export or a backup, which the command line writes where its user asked).

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The longest request line accepted.
const MAX_REQUEST: u64 = 1 << 20;
/// The longest answer line accepted.
const MAX_HEADER: u64 = 64 << 20;
/// The largest document accepted (a backup of a large store).
const MAX_DOCUMENT: u64 = 16 << 30;

/// What the command line asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// `palisade status`.
    Status,
    /// `palisade reload`.
    Reload,
    /// A `user`, `audit` or `store` subcommand, as the binary's command line encodes it.
    Command {
        /// The subcommand (serialised by the command line; the bot's own binary reads it back).
        command: serde_json::Value,
    },
}

/// The request with the version of the binary that sends it (a bot of another version refuses it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// `CARGO_PKG_VERSION` of the sender.
    pub version: String,
    /// What it asks.
    #[serde(flatten)]
    pub request: Request,
}

/// What the bot answers: what the command would have printed and its exit code, and a document, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// The exit code.
    pub code: u8,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// A document the command line writes to the file its user named (or to standard output).
    pub document: Option<Vec<u8>>,
}

impl Answer {
    /// Exit code 0 with `stdout`.
    pub fn ok(stdout: impl Into<String>) -> Self {
        Self { code: 0, stdout: stdout.into(), ..Self::default() }
    }

    /// Exit code `code` with `stderr` (an `error: ` prefix is added).
    pub fn fail(code: u8, stderr: impl std::fmt::Display) -> Self {
        Self { code, stderr: format!("error: {stderr}\n"), ..Self::default() }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    code: u8,
    stdout: String,
    stderr: String,
    document: Option<u64>,
}

/// Reads one request line.
pub async fn read_request<R: tokio::io::AsyncRead + Unpin>(r: R) -> Result<Envelope, String> {
    let mut line = String::new();
    BufReader::new(r.take(MAX_REQUEST)).read_line(&mut line).await.map_err(|e| e.to_string())?;
    serde_json::from_str(&line).map_err(|e| format!("not a control request: {e}"))
}

/// Writes one request line.
pub async fn write_request<W: tokio::io::AsyncWrite + Unpin>(mut w: W, request: &Envelope) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(request).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await?;
    w.flush().await
}

/// Writes an answer.
pub async fn write_answer<W: tokio::io::AsyncWrite + Unpin>(mut w: W, answer: &Answer) -> std::io::Result<()> {
    let header = Header {
        code: answer.code,
        stdout: answer.stdout.clone(),
        stderr: answer.stderr.clone(),
        document: answer.document.as_ref().map(|d| d.len() as u64),
    };
    let mut line = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await?;
    if let Some(document) = &answer.document {
        w.write_all(document).await?;
    }
    w.flush().await
}

/// Reads an answer.
pub async fn read_answer<R: tokio::io::AsyncRead + Unpin>(r: R) -> Result<Answer, String> {
    let mut r = BufReader::new(r);
    let mut line = String::new();
    (&mut r).take(MAX_HEADER).read_line(&mut line).await.map_err(|e| e.to_string())?;
    if line.is_empty() {
        return Err("the bot closed the connection without an answer (see its log)".into());
    }
    let header: Header = serde_json::from_str(&line).map_err(|e| format!("not a control answer: {e}"))?;
    let document = match header.document {
        None => None,
        Some(len) if len > MAX_DOCUMENT => return Err(format!("a document of {len} bytes is more than accepted")),
        Some(len) => {
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(1 << 20));
            (&mut r).take(len).read_to_end(&mut bytes).await.map_err(|e| e.to_string())?;
            if bytes.len() as u64 != len {
                return Err(format!("the answer was cut short ({} of {len} bytes)", bytes.len()));
            }
            Some(bytes)
        }
    };
    Ok(Answer { code: header.code, stdout: header.stdout, stderr: header.stderr, document })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_and_answers_with_documents_round_trip() {
        let request = Envelope {
            version: "1.2.3".into(),
            request: Request::Command { command: serde_json::json!({"User": {"Export": {"id": "7"}}}) },
        };
        let mut buf = Vec::new();
        write_request(&mut buf, &request).await.unwrap();
        assert_eq!(read_request(&buf[..]).await.unwrap(), request);
        let answer = Answer { code: 1, stdout: "a\nb".into(), stderr: "e".into(), document: Some(vec![0, 10, 255]) };
        let mut buf = Vec::new();
        write_answer(&mut buf, &answer).await.unwrap();
        assert_eq!(read_answer(&buf[..]).await.unwrap(), answer);
        let cut = &buf[..buf.len() - 1];
        assert!(read_answer(cut).await.unwrap_err().contains("cut short"));
        assert!(read_request(&b"{\"op\":\"drop_tables\"}\n"[..]).await.unwrap_err().contains("not a control request"));
    }
}
