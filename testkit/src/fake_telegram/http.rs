//! HTTP plumbing: answers and errors as the Bot API shapes them, the request handler
//! (token check, faults, the call log), multipart bodies, file downloads, and
//! `getUpdates` long polling.

use super::*;

/// A Bot API answer.
pub(super) fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

pub(super) fn error(code: u16, description: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({"ok": false, "error_code": code, "description": description})),
    )
        .into_response()
}

pub(super) fn retry_after(seconds: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "ok": false,
            "error_code": 429,
            "description": format!("Too Many Requests: retry after {seconds}"),
            "parameters": {"retry_after": seconds},
        })),
    )
        .into_response()
}

pub(super) async fn handle(
    State(shared): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (body, files) = if multipart {
        match read_multipart(request).await {
            Ok(parts) => parts,
            Err(e) => return error(400, &format!("Bad Request: {e}")),
        }
    } else {
        let bytes = match axum::body::to_bytes(request.into_body(), DOCUMENT_LIMIT).await {
            Ok(b) => b,
            Err(_) => return error(413, "Request Entity Too Large"),
        };
        let body = if bytes.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&bytes).unwrap_or(json!({}))
        };
        (body, Vec::new())
    };
    let method = method.to_ascii_lowercase();
    {
        let inner = shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
            return error(401, "Unauthorized");
        }
    }
    let fault = shared
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .method_faults
        .get_mut(&method)
        .and_then(VecDeque::pop_front);
    if let Some(Fault::Slow(delay)) = fault {
        tokio::time::sleep(delay).await;
    } else if let Some(fault) = fault {
        let response = fault.response();
        let code = response.status().as_u16();
        shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .calls
            .push(Call {
                method: method.clone(),
                body,
                at: Instant::now(),
                error: Some(code),
            });
        if response.extensions().get::<DropMarker>().is_some() {
            std::future::pending::<()>().await;
        }
        return response;
    }
    if method == "getupdates" {
        return get_updates(&shared, body).await;
    }
    let response = {
        let mut inner = shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let response = answer(&mut inner, &method, &body, &files);
        let code = response.status().as_u16();
        inner.calls.push(Call {
            method: method.clone(),
            body,
            at: Instant::now(),
            error: (code != 200).then_some(code),
        });
        response
    };
    if response.extensions().get::<DropMarker>().is_some() {
        // A dropped connection: no answer ever comes (the client times out).
        std::future::pending::<()>().await;
    }
    response
}

/// A file part of a multipart request: field, file name, bytes.
pub(super) type FilePart = (String, String, Vec<u8>);

/// The fields of a multipart request as a JSON body (values that are JSON — numbers,
/// booleans, keyboards — as JSON), and its file parts.
pub(super) async fn read_multipart(request: Request) -> Result<(Value, Vec<FilePart>), String> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| e.to_string())?;
    let mut body = serde_json::Map::new();
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| e.to_string())?;
        match file_name {
            Some(file_name) => files.push((name, file_name, bytes.to_vec())),
            None => {
                let text = String::from_utf8_lossy(&bytes).to_string();
                let value = match name.as_str() {
                    "caption" | "parse_mode" => json!(text),
                    _ => serde_json::from_str(&text).unwrap_or(json!(text)),
                };
                body.insert(name, value);
            }
        }
    }
    Ok((Value::Object(body), files))
}

/// `GET /file/bot<token>/<path>`: a file a user sent.
pub(super) async fn download(
    State(shared): State<Shared>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    let inner = shared
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
        return error(401, "Unauthorized");
    }
    match inner.files.values().find(|(p, _, _)| *p == path) {
        Some((_, _, bytes)) => (StatusCode::OK, bytes.clone()).into_response(),
        None => error(404, "Not Found"),
    }
}

#[derive(Clone, Copy)]
pub(super) struct DropMarker;

pub(super) async fn get_updates(shared: &Shared, body: Value) -> Response {
    let offset = body["offset"].as_i64().unwrap_or(0);
    let timeout = body["timeout"].as_u64().unwrap_or(0).min(50);
    if let Some(kinds) = body["allowed_updates"].as_array() {
        shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .allowed_updates = Some(
            kinds
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = shared.notify.notified();
        {
            let mut inner = shared
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // An offset "in the future" (past the newest id + 10) is ignored, as Telegram's
            // server does: the queue is given from its head, nothing is confirmed.
            let future = offset > inner.next_update_id + 10;
            // Updates below the offset are confirmed: gone for good.
            while !future
                && inner
                    .updates
                    .front()
                    .is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < offset)
            {
                inner.updates.pop_front();
            }
            // Kinds the bot did not ask for are never given (Telegram's default: all but
            // chat_member and the reactions; an empty list is the default too).
            let allowed = inner.allowed_updates.clone().filter(|k| !k.is_empty());
            inner.updates.retain(|u| {
                let kind = u
                    .as_object()
                    .and_then(|o| o.keys().find(|k| *k != "update_id").cloned())
                    .unwrap_or_default();
                match &allowed {
                    Some(kinds) => kinds.contains(&kind),
                    None => !matches!(
                        kind.as_str(),
                        "chat_member" | "message_reaction" | "message_reaction_count"
                    ),
                }
            });
            if !inner.updates.is_empty() || tokio::time::Instant::now() >= deadline {
                let updates: Vec<Value> = inner.updates.iter().cloned().collect();
                return ok(Value::Array(updates));
            }
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}
