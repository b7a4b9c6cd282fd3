//! A mock of the OpenAI Responses API on 127.0.0.1, for running the real Codex CLI
//! offline (a custom model provider with `wire_api = "responses"`; `docs/codex.md`).
//! Main requests (those that offer tools) get the scenario's turns in order, streamed as
//! server-sent events; the title request of a first turn (a JSON-schema text format) gets
//! `{"title": …}`. A tool call whose input is a JSON object is a `function_call`
//! (`exec_command`); one whose input is a string is a freeform `custom_tool_call`
//! (`apply_patch`). Every request is logged.

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
    responses: u64,
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
                responses: 0,
                log,
            })),
        })
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/responses", post(responses))
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

/// A title request: Codex asks for a JSON object by schema, with at most one tool.
fn is_title_request(request: &Value) -> bool {
    request["text"]["format"]["type"] == "json_schema"
}

async fn responses(State(mock): State<Mock>, uri: Uri, body: Bytes) -> Response {
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
    let model = request["model"].as_str().unwrap_or("gpt-mock").to_string();
    let title_request = is_title_request(&request);
    let (turn, chunk, delay, number, title) = {
        let mut shared = mock.shared.lock().expect("mock state");
        shared.responses += 1;
        let number = shared.responses;
        let title = shared.scenario.title.clone();
        let (chunk, delay) = (shared.scenario.chunk, shared.scenario.delay_ms);
        let turn = if title_request {
            None
        } else {
            let i = shared.next_turn;
            shared.next_turn += 1;
            shared.scenario.turn.get(i).cloned()
        };
        (turn, chunk, delay, number, title)
    };
    let turn = match (title_request, turn) {
        (true, _) => Turn {
            text: Some(json!({ "title": title }).to_string()),
            ..Turn::default()
        },
        (false, Some(turn)) => turn,
        (false, None) => Turn {
            text: Some(NO_MORE_TURNS.into()),
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
    let chunk = turn.chunk.unwrap_or(chunk).max(1);
    let delay = Duration::from_millis(turn.delay_ms.unwrap_or(delay));
    let events = answer_events(&turn, &model, number, chunk);
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(16);
    tokio::spawn(async move {
        for (sequence, mut event) in events.into_iter().enumerate() {
            event["sequence_number"] = json!(sequence);
            let is_delta = event["type"]
                .as_str()
                .is_some_and(|t| t.ends_with(".delta"));
            let frame = format!(
                "event: {}\ndata: {}\n\n",
                event["type"].as_str().unwrap_or("keepalive"),
                event
            );
            if tx.send(Ok(Bytes::from(frame))).await.is_err() {
                return; // the client went away (Esc in Codex)
            }
            if is_delta && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .header("x-request-id", format!("req_mock_{number}"))
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .expect("a valid response")
}

fn error_body(status: u16) -> Value {
    let kind = match status {
        429 => "rate_limit_exceeded",
        404 => "not_found",
        400 => "invalid_request_error",
        _ => "server_error",
    };
    json!({ "error": { "type": kind, "code": kind, "message": format!("mock error {status}"), "param": null } })
}

/// Pieces of `chunk` characters.
fn pieces(text: &str, chunk: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(chunk).map(|p| p.iter().collect()).collect()
}

/// The events of one response, deltas split into pieces of `chunk` characters.
fn answer_events(turn: &Turn, model: &str, number: u64, chunk: usize) -> Vec<Value> {
    let id = format!("resp_mock_{number}");
    let response = |status: &str, output: &[Value], usage: Option<Value>| {
        let mut r = json!({
            "id": id, "object": "response", "created_at": 1_764_000_000 + number, "status": status,
            "model": model, "output": output, "parallel_tool_calls": false, "tool_choice": "auto",
            "tools": [], "store": false, "error": null, "incomplete_details": null,
        });
        if let Some(u) = usage {
            r["usage"] = u;
        }
        r
    };
    let mut events = vec![
        json!({ "type": "response.created", "response": response("in_progress", &[], None) }),
        json!({ "type": "response.in_progress", "response": response("in_progress", &[], None) }),
    ];
    let mut output = Vec::new();
    if let Some(text) = &turn.text {
        let item_id = format!("msg_mock_{number}");
        let index = output.len();
        events.push(json!({
            "type": "response.output_item.added", "output_index": index,
            "item": { "id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": [] }
        }));
        events.push(json!({
            "type": "response.content_part.added", "item_id": item_id, "output_index": index, "content_index": 0,
            "part": { "type": "output_text", "text": "", "annotations": [] }
        }));
        for piece in pieces(text, chunk) {
            events.push(json!({
                "type": "response.output_text.delta", "item_id": item_id, "output_index": index,
                "content_index": 0, "delta": piece, "logprobs": []
            }));
        }
        let part = json!({ "type": "output_text", "text": text, "annotations": [] });
        events.push(json!({
            "type": "response.output_text.done", "item_id": item_id, "output_index": index,
            "content_index": 0, "text": text, "logprobs": []
        }));
        events.push(json!({
            "type": "response.content_part.done", "item_id": item_id, "output_index": index,
            "content_index": 0, "part": part
        }));
        let item = json!({
            "id": item_id, "type": "message", "status": "completed", "role": "assistant", "content": [part]
        });
        events.push(
            json!({ "type": "response.output_item.done", "output_index": index, "item": item }),
        );
        output.push(item);
    }
    for (i, call) in turn.tool.iter().enumerate() {
        let index = output.len();
        let item_id = format!("fc_mock_{number}_{i}");
        let call_id = format!("call_mock_{number}_{i}");
        let item = match &call.input {
            // A freeform tool (apply_patch): its input is the raw text.
            Value::String(input) => {
                events.push(json!({
                    "type": "response.output_item.added", "output_index": index,
                    "item": { "id": item_id, "type": "custom_tool_call", "status": "in_progress",
                              "call_id": call_id, "name": call.name, "input": "" }
                }));
                for piece in pieces(input, chunk.max(64)) {
                    events.push(json!({
                        "type": "response.custom_tool_call_input.delta", "item_id": item_id,
                        "output_index": index, "delta": piece
                    }));
                }
                events.push(json!({
                    "type": "response.custom_tool_call_input.done", "item_id": item_id,
                    "output_index": index, "input": input
                }));
                json!({ "id": item_id, "type": "custom_tool_call", "status": "completed",
                        "call_id": call_id, "name": call.name, "input": input })
            }
            // A function tool (exec_command): its arguments as a JSON string.
            input => {
                let arguments = input.to_string();
                events.push(json!({
                    "type": "response.output_item.added", "output_index": index,
                    "item": { "id": item_id, "type": "function_call", "status": "in_progress",
                              "call_id": call_id, "name": call.name, "arguments": "" }
                }));
                for piece in pieces(&arguments, chunk.max(64)) {
                    events.push(json!({
                        "type": "response.function_call_arguments.delta", "item_id": item_id,
                        "output_index": index, "delta": piece
                    }));
                }
                events.push(json!({
                    "type": "response.function_call_arguments.done", "item_id": item_id,
                    "output_index": index, "arguments": arguments
                }));
                json!({ "id": item_id, "type": "function_call", "status": "completed",
                        "call_id": call_id, "name": call.name, "arguments": arguments })
            }
        };
        events.push(
            json!({ "type": "response.output_item.done", "output_index": index, "item": item }),
        );
        output.push(item);
    }
    let words = turn
        .text
        .as_deref()
        .map_or(0, |t| t.split_whitespace().count()) as u64;
    let usage = json!({
        "input_tokens": 1000, "input_tokens_details": { "cached_tokens": 0 },
        "output_tokens": words.max(1) * 2, "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": 1000 + words.max(1) * 2
    });
    events.push(json!({
        "type": "response.completed",
        "response": response("completed", &output, Some(usage))
    }));
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(toml: &str) -> Turn {
        let s: Scenario = toml::from_str(toml).unwrap();
        s.turn[0].clone()
    }

    #[test]
    fn a_text_answer_streams_as_deltas_that_add_up_to_the_message() {
        let t = turn("[[turn]]\ntext = \"Hello there, general.\"\n");
        let events = answer_events(&t, "gpt-5.5", 1, 5);
        let text: String = events
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .map(|e| e["delta"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(text, "Hello there, general.");
        let done = events.last().unwrap();
        assert_eq!(done["type"], "response.completed");
        assert_eq!(
            done["response"]["output"][0]["content"][0]["text"],
            "Hello there, general."
        );
    }

    #[test]
    fn an_object_input_is_a_function_call_and_a_string_input_a_custom_tool_call() {
        let t = turn(
            r#"
            [[turn]]
            [[turn.tool]]
            name = "exec_command"
            input = { cmd = "wc -l data.csv", sandbox_permissions = "require_escalated" }
            [[turn.tool]]
            name = "apply_patch"
            input = "*** Begin Patch\n*** End Patch\n"
            "#,
        );
        let events = answer_events(&t, "gpt-5.5", 2, 24);
        let output = &events.last().unwrap()["response"]["output"];
        assert_eq!(output[0]["type"], "function_call");
        let args: Value = serde_json::from_str(output[0]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args["cmd"], "wc -l data.csv");
        assert_eq!(output[1]["type"], "custom_tool_call");
        assert_eq!(output[1]["input"], "*** Begin Patch\n*** End Patch\n");
        assert_ne!(output[0]["call_id"], output[1]["call_id"]);
    }

    #[test]
    fn a_title_request_is_told_apart_by_its_json_schema_format() {
        let title =
            json!({"text": {"format": {"type": "json_schema", "name": "title"}}, "tools": []});
        let main = json!({"text": {"verbosity": "low"}, "tools": [{"type": "function"}]});
        assert!(is_title_request(&title));
        assert!(!is_title_request(&main));
    }
}
