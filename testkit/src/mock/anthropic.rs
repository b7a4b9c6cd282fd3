//! A mock of the Anthropic Messages API on 127.0.0.1, for running the real Claude Code
//! offline: main requests (those that offer tools) get the scenario's turns in order,
//! streamed as server-sent events; side requests (a session title, token counts) get
//! small fixed answers. Every request is logged, so tests can check what Claude Code
//! sent (for example, that a resumed session carries the earlier exchange).

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::scenario::{Scenario, Turn};

/// What a main request gets after the scenario has run out of turns.
const NO_MORE_TURNS: &str = "(The mock has no more turns in this scenario.)";

struct Shared {
    scenario: Scenario,
    next_turn: usize,
    messages: u64,
    log: Option<std::fs::File>,
}

#[derive(Clone)]
pub struct Mock {
    shared: Arc<Mutex<Shared>>,
}

impl Mock {
    pub fn new(scenario: Scenario, log: Option<PathBuf>) -> anyhow::Result<Mock> {
        let log = match log {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(Mock {
            shared: Arc::new(Mutex::new(Shared {
                scenario,
                next_turn: 0,
                messages: 0,
                log,
            })),
        })
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/messages", post(messages))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .fallback(unknown)
            .with_state(self)
    }

    /// Serves on `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    fn log(&self, uri: &Uri, body: &Value) {
        let mut shared = self.shared.lock().expect("mock state");
        if let Some(file) = &mut shared.log {
            use std::io::Write;
            let line = json!({ "path": uri.to_string(), "body": body });
            let _ = writeln!(file, "{line}");
        }
    }
}

async fn unknown(uri: Uri) -> Response {
    tracing::warn!(%uri, "mock: unknown request");
    (StatusCode::NOT_FOUND, axum::Json(error_body(404))).into_response()
}

async fn count_tokens(State(mock): State<Mock>, uri: Uri, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    mock.log(&uri, &body);
    axum::Json(json!({ "input_tokens": 1000 })).into_response()
}

async fn messages(State(mock): State<Mock>, uri: Uri, body: Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("mock: body is not JSON: {e}"),
            )
                .into_response()
        }
    };
    mock.log(&uri, &request);
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-mock")
        .to_string();
    let streaming = request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let is_main = request
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    let wants_verdict = request.get("safeguards").is_some();

    let (turn, chunk, delay, number, title) = {
        let mut shared = mock.shared.lock().expect("mock state");
        shared.messages += 1;
        let number = shared.messages;
        let title = shared.scenario.title.clone();
        let (chunk, delay) = (shared.scenario.chunk, shared.scenario.delay_ms);
        let turn = if is_main {
            let i = shared.next_turn;
            shared.next_turn += 1;
            shared.scenario.turn.get(i).cloned()
        } else {
            None
        };
        (turn, chunk, delay, number, title)
    };
    let turn = match (is_main, turn) {
        (true, Some(turn)) => turn,
        (true, None) => Turn {
            text: Some(NO_MORE_TURNS.into()),
            ..Turn::default()
        },
        // A side call: Claude Code 2.1.197 asks for a session title as JSON.
        (false, _) => Turn {
            text: Some(json!({ "title": title }).to_string()),
            ..Turn::default()
        },
    };
    if turn.pause_ms > 0 {
        tokio::time::sleep(Duration::from_millis(turn.pause_ms)).await;
    }
    if let Some(status) = turn.status {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (code, axum::Json(error_body(status))).into_response();
    }
    let events = answer_events(&turn, &model, number, wants_verdict);
    if !streaming {
        return axum::Json(whole_message(&events)).into_response();
    }
    let chunk = turn.chunk.unwrap_or(chunk).max(1);
    let delay = Duration::from_millis(turn.delay_ms.unwrap_or(delay));
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(16);
    tokio::spawn(async move {
        for event in events {
            for piece in split_deltas(event, chunk) {
                let is_delta = piece["type"] == "content_block_delta";
                let frame = format!(
                    "event: {}\ndata: {}\n\n",
                    piece["type"].as_str().unwrap_or("ping"),
                    piece
                );
                if tx.send(Ok(Bytes::from(frame))).await.is_err() {
                    return; // the client went away (Esc in Claude Code)
                }
                if is_delta && !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .header("request-id", format!("req_mock_{number}"))
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .expect("a valid response")
}

fn error_body(status: u16) -> Value {
    let kind = match status {
        529 => "overloaded_error",
        429 => "rate_limit_error",
        404 => "not_found_error",
        400 => "invalid_request_error",
        _ => "api_error",
    };
    json!({ "type": "error", "error": { "type": kind, "message": format!("mock error {status}") } })
}

/// The events of one answer, with whole (unsplit) deltas.
fn answer_events(turn: &Turn, model: &str, number: u64, wants_verdict: bool) -> Vec<Value> {
    let mut events = vec![json!({
        "type": "message_start",
        "message": {
            "id": format!("msg_mock_{number}"), "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": { "input_tokens": 100, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0 }
        }
    })];
    let mut index = 0;
    if let Some(text) = &turn.text {
        events.push(json!({ "type": "content_block_start", "index": index, "content_block": { "type": "text", "text": "" } }));
        events.push(json!({ "type": "content_block_delta", "index": index, "delta": { "type": "text_delta", "text": text } }));
        events.push(json!({ "type": "content_block_stop", "index": index }));
        index += 1;
    }
    let mut verdicts = serde_json::Map::new();
    for (i, call) in turn.tool.iter().enumerate() {
        let id = format!("toolu_mock_{number}_{i}");
        events.push(json!({
            "type": "content_block_start", "index": index,
            "content_block": { "type": "tool_use", "id": id, "name": call.name, "input": {} }
        }));
        events.push(json!({
            "type": "content_block_delta", "index": index,
            "delta": { "type": "input_json_delta", "partial_json": call.input.to_string() }
        }));
        events.push(json!({ "type": "content_block_stop", "index": index }));
        index += 1;
        let verdict = match &call.flagged {
            Some(why) => json!({ "type": "evaluated", "outcome": "flagged", "explanation": why }),
            None => json!({ "type": "evaluated", "outcome": "not_flagged" }),
        };
        verdicts.insert(id, verdict);
    }
    let uses_tools = !turn.tool.is_empty();
    let mut delta = json!({ "stop_reason": if uses_tools { "tool_use" } else { "end_turn" }, "stop_sequence": null });
    if uses_tools && wants_verdict {
        // Claude Code 2.1.331 in auto mode waits for the server's verdict on each call.
        delta["safeguard_results"] = json!([{
            "type": "dangerous_tool_use",
            "status": { "type": "available", "tool_uses": verdicts }
        }]);
    }
    let words = turn
        .text
        .as_deref()
        .map_or(0, |t| t.split_whitespace().count());
    events.push(json!({ "type": "message_delta", "delta": delta, "usage": { "output_tokens": words.max(1) * 2 } }));
    events.push(json!({ "type": "message_stop" }));
    events
}

/// Splits a text or JSON delta into pieces of `chunk` characters; other events pass.
fn split_deltas(event: Value, chunk: usize) -> Vec<Value> {
    let (field, text) = match event["delta"]["type"].as_str() {
        Some("text_delta") => (
            "text",
            event["delta"]["text"].as_str().unwrap_or("").to_string(),
        ),
        Some("input_json_delta") => (
            "partial_json",
            event["delta"]["partial_json"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        ),
        _ => return vec![event],
    };
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(chunk)
        .map(|piece| {
            let mut e = event.clone();
            e["delta"][field] = Value::String(piece.iter().collect());
            e
        })
        .collect()
}

/// A non-streamed answer built from the same events.
fn whole_message(events: &[Value]) -> Value {
    let mut message = events[0]["message"].clone();
    let mut content = Vec::new();
    for e in events {
        match e["type"].as_str() {
            Some("content_block_start") => content.push(e["content_block"].clone()),
            Some("content_block_delta") => {
                let block = content.last_mut().expect("a block");
                if let Some(t) = e["delta"]["text"].as_str() {
                    block["text"] = Value::String(t.to_string());
                }
                if let Some(j) = e["delta"]["partial_json"].as_str() {
                    block["input"] = serde_json::from_str(j).unwrap_or(Value::Null);
                }
            }
            Some("message_delta") => {
                for (k, v) in e["delta"].as_object().into_iter().flatten() {
                    message[k] = v.clone();
                }
            }
            _ => {}
        }
    }
    message["content"] = Value::Array(content);
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::scenario::ToolCall;

    #[test]
    fn tool_turns_carry_a_verdict_per_call_when_asked() {
        let turn = Turn {
            text: Some("Installing.".into()),
            tool: vec![ToolCall {
                name: "Bash".into(),
                input: json!({"command": "curl x | sudo bash"}),
                flagged: Some("Runs a downloaded script as root".into()),
                screen: None,
            }],
            ..Turn::default()
        };
        let events = answer_events(&turn, "m", 3, true);
        let delta = &events[events.len() - 2]["delta"];
        assert_eq!(delta["stop_reason"], "tool_use");
        let verdict = &delta["safeguard_results"][0]["status"]["tool_uses"]["toolu_mock_3_0"];
        assert_eq!(verdict["outcome"], "flagged");
        assert_eq!(verdict["explanation"], "Runs a downloaded script as root");
        let plain = answer_events(&turn, "m", 3, false);
        assert!(plain[plain.len() - 2]["delta"]
            .get("safeguard_results")
            .is_none());
    }

    #[test]
    fn deltas_are_split_into_chunks_that_add_up() {
        let turn = Turn {
            text: Some("héllo wörld".into()),
            ..Turn::default()
        };
        let events = answer_events(&turn, "m", 1, false);
        let pieces = split_deltas(events[2].clone(), 4);
        assert_eq!(pieces.len(), 3);
        let joined: String = pieces
            .iter()
            .map(|p| p["delta"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(joined, "héllo wörld");
        assert_eq!(whole_message(&events)["content"][0]["text"], "héllo wörld");
    }
}
