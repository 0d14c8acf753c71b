//! Uploading a file (the enrolment QR code, a data export) with Slack's external upload flow: ask for an
//! upload URL, send the bytes there, then complete the upload into one channel — for a private file, the
//! user's direct-message channel, so it is shared with nobody else.

use palisade_core::{MessageId, SendError};
use slack_morphism::api::{
    SlackApiFilesComplete, SlackApiFilesCompleteUploadExternalRequest, SlackApiFilesGetUploadUrlExternalRequest,
    SlackApiFilesUploadViaUrlRequest,
};
use slack_morphism::{SlackChannelId, SlackFileId};

use crate::api::{Api, send_error};

/// One file to upload.
#[derive(Clone, Copy, Debug)]
pub struct Upload<'a> {
    /// The file name shown.
    pub name: &'a str,
    /// The contents.
    pub bytes: &'a [u8],
    /// The MIME type.
    pub content_type: &'a str,
    /// The comment posted with it.
    pub caption: Option<&'a str>,
}

/// Uploads `file` into `channel` (inside `thread` when given); returns the file's id.
pub async fn file(
    api: &Api,
    channel: &str,
    thread: Option<&str>,
    file: Upload<'_>,
) -> Result<Option<MessageId>, SendError> {
    let Upload { name, bytes, content_type, caption } = file;
    let title = caption.unwrap_or(name).to_string();
    let ask = SlackApiFilesGetUploadUrlExternalRequest::new(name.into(), bytes.len()).with_alt_txt(title.clone());
    let target = api
        .call("files.getUploadURLExternal", || async { api.session().get_upload_url_external(&ask).await })
        .await
        .map_err(|e| send_error(&e))?;
    let bytes = SlackApiFilesUploadViaUrlRequest::new(target.upload_url.clone(), bytes.to_vec(), content_type.into());
    api.call("files upload", || async { api.session().files_upload_via_url(&bytes).await })
        .await
        .map_err(|e| send_error(&e))?;
    let file = SlackApiFilesComplete::new(target.file_id.clone()).with_title(title);
    let mut complete = SlackApiFilesCompleteUploadExternalRequest::new(vec![file])
        .with_channel_id(SlackChannelId::new(channel.to_string()))
        .opt_initial_comment(caption.map(str::to_string));
    complete.thread_ts = thread.map(|t| t.to_string().into());
    api.call("files.completeUploadExternal", || async {
        api.session().files_complete_upload_external(&complete).await
    })
    .await
    .map_err(|e| send_error(&e))?;
    Ok(Some(MessageId(format!("file:{}", file_id(&target.file_id)))))
}

fn file_id(id: &SlackFileId) -> String {
    id.to_string()
}
