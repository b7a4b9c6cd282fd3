//! `telepty replay` as a user (and the grader) runs it: `--json` prints one operation per
//! line in the documented form; without it, the chat as a person reads it.

mod common;

use std::process::Command;

use common::root;
use serde_json::Value;

fn replay(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_telepty"))
        .arg("replay")
        .args(args)
        .current_dir(root())
        .output()
        .expect("telepty runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn json_is_one_operation_per_line_in_the_documented_form() {
    let (ok, out, err) = replay(&[
        "fixtures/claude-code/d-permission-yes.100x30.cast",
        "--json",
    ]);
    assert!(ok, "{err}");
    let ops: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(ops.len() >= 3, "{out}");
    let mut last_t = 0.0;
    let mut with_buttons = 0;
    for op in &ops {
        let t = op["t"].as_f64().expect("t");
        assert!(t >= last_t, "operations in time order");
        last_t = t;
        assert!(op["id"].as_u64().is_some());
        match op["op"].as_str() {
            Some("send" | "edit") => {
                assert!(op["text"].is_string() && op["silent"].is_boolean(), "{op}");
                if let Some(rows) = op.get("buttons") {
                    with_buttons += 1;
                    for b in rows
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|r| r.as_array().unwrap())
                    {
                        assert!(b["text"].is_string());
                        assert!(b["data"].as_str().unwrap().len() <= 64);
                    }
                }
            }
            Some("delete") => assert!(op.get("text").is_none()),
            other => panic!("unknown op {other:?}"),
        }
    }
    assert!(
        with_buttons >= 1,
        "the permission prompt has buttons: {out}"
    );
    let prompt = ops.iter().find(|o| o.get("buttons").is_some()).unwrap();
    assert_eq!(prompt["silent"], false, "a prompt is audible");
    let labels: Vec<&str> = prompt["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels[0], "Yes");
    assert_eq!(labels.last(), Some(&"No"));
}

#[test]
fn without_json_the_chat_reads_like_a_conversation() {
    let (ok, out, err) = replay(&["fixtures/claude-code/a-short-answer.100x30.cast"]);
    assert!(ok, "{err}");
    assert!(out.contains("🔔"), "{out}");
    let answer = out
        .lines()
        .find(|l| l.contains("Mercury is the planet"))
        .expect("the answer");
    assert!(!answer.contains("●") && !answer.contains("<"), "{answer}");
}

#[test]
fn the_plain_profile_mirrors_a_shell() {
    let (ok, out, err) = replay(&["fixtures/terminal/shell-colors.cast", "--profile", "plain"]);
    assert!(ok, "{err}");
    assert!(out.contains("finished-42"), "{out}");
}

#[test]
fn a_bad_profile_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(
        &file,
        "name = \"x\"\n[[line]]\nkind = \"bogus\"\nmatch = \"x\"\n",
    )
    .unwrap();
    let (ok, _, err) = replay(&[
        "fixtures/claude-code/a-short-answer.100x30.cast",
        "--profile",
        file.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("mine.toml") && err.contains("bogus"), "{err}");
    let (ok, _, err) = replay(&[
        "fixtures/claude-code/a-short-answer.100x30.cast",
        "--profile",
        "vim",
    ]);
    assert!(!ok);
    assert!(err.contains("unknown profile \"vim\""), "{err}");
}
