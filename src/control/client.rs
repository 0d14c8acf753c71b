//! The command line's side: find the running bot's socket, make sure it is one to trust, ask, read the
//! answer. No socket, or one nobody answers on (left by a crashed process), means no bot runs: the caller
//! opens the store directly.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tokio::net::UnixStream;

use super::peer;
use super::wire::{self, Answer, Envelope, Request};

/// Asks the bot serving `socket`. `Ok(None)` when no bot answers there.
pub async fn ask(socket: &Path, request: Request) -> Result<Option<Answer>, String> {
    let Some(mut stream) = connect(socket).await? else { return Ok(None) };
    let envelope = Envelope { version: env!("CARGO_PKG_VERSION").to_string(), request };
    let (reader, writer) = stream.split();
    let talk_failed = |e: &dyn std::fmt::Display| format!("cannot talk to the bot on {}: {e}", socket.display());
    match wire::write_request(writer, &envelope).await {
        Ok(()) => {}
        // The bot may answer before reading (a refusal) and close: its answer is still there to read.
        Err(e) if matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset) => {
            return wire::read_answer(reader).await.map(Some).map_err(|_| talk_failed(&e));
        }
        Err(e) => return Err(talk_failed(&e)),
    }
    wire::read_answer(reader).await.map(Some).map_err(|e| format!("{}: {e}", socket.display()))
}

/// Connects to `socket` if a bot serves it, after checking who owns it and who answers.
async fn connect(socket: &Path) -> Result<Option<UnixStream>, String> {
    let meta = match std::fs::symlink_metadata(socket) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot look at {}: {e}", socket.display())),
    };
    if !meta.file_type().is_socket() {
        return Err(format!(
            "{} is not a socket (a {}); it is not the bot's control socket — remove it",
            socket.display(),
            if meta.file_type().is_symlink() { "symbolic link" } else { "file" }
        ));
    }
    let own = peer::own_uid(None);
    if let Some(own) = own
        && !peer::allowed(meta.uid(), own)
    {
        return Err(format!(
            "{} belongs to uid {}, not to you or root; refusing to trust it",
            socket.display(),
            meta.uid()
        ));
    }
    let stream = match UnixStream::connect(socket).await {
        Ok(stream) => stream,
        // Left by a process that is gone: not trusted, not used.
        Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound) => {
            return Ok(None);
        }
        Err(e) => return Err(format!("cannot connect to the bot on {}: {e}", socket.display())),
    };
    let server = stream.peer_cred().map_err(|e| format!("cannot identify the process on {}: {e}", socket.display()))?;
    if let Some(own) = own
        && !peer::allowed(server.uid(), own)
    {
        return Err(format!(
            "the process on {} runs as uid {}, not as you or root; refusing to talk to it",
            socket.display(),
            server.uid()
        ));
    }
    Ok(Some(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bot_that_answers_before_reading_is_heard() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        // As the bot refuses a peer: it answers at once and closes without reading the request.
        let bot = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            wire::write_answer(&mut stream, &Answer::fail(2, "uid 65534 may not use this bot's control socket"))
                .await
                .unwrap();
        });
        // A request larger than the socket's buffer: the write cannot finish before the bot has closed.
        let command = serde_json::Value::String("x".repeat(4 << 20));
        let answer = ask(&socket, Request::Command { command }).await.unwrap().unwrap();
        assert_eq!(answer.code, 2);
        assert!(answer.stderr.contains("may not use this bot's control socket"), "{answer:?}");
        bot.await.unwrap();
    }
}
