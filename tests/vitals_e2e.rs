//! A session's vitals: what the program reports to its status line (Claude Code's JSON:
//! model, context, usage limits) reaches `/status`, `/sessions` and the usage-limit
//! notice, and the user's own status line still runs. The program is the scripted
//! stand-in (`tests/programs/fake-claude.sh`, its `status` and `limit` commands); the
//! real Claude Code's report is checked in `claude_e2e.rs`.

mod common;

use common::bot::{has, start_bot_with, wait_chat, USER};
use serde_json::json;
use telepty_testkit::fake_telegram::FakeTelegram;

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A reset time as the chat says it, in UTC (the bot runs with TZ=UTC here).
fn clock(at: i64, with_day: bool) -> String {
    let t = jiff::Timestamp::from_second(at)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC);
    if with_day {
        t.strftime("%a %d %b %H:%M UTC").to_string()
    } else {
        t.strftime("%H:%M UTC").to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_status_shows_in_status_and_sessions_and_the_users_own_line_still_runs() {
    let fake = FakeTelegram::start(common::bot::TOKEN).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let status = scratch.path().join("status.json");
    let now = unix_now();
    // A subscriber's report, as Claude Code 2.1.332 writes it (trimmed).
    let five_hour = now + 2 * 3600;
    let weekly = now + 3 * 86400 + 3600;
    let payload = json!({
        "model": {"id": "claude-opus-5-5", "display_name": "Opus 5.5"},
        "context_window": {"context_window_size": 200000, "used_percentage": 37.2},
        "rate_limits": {
            "five_hour": {"used_percentage": 23.4, "resets_at": five_hour},
            "seven_day": {"used_percentage": 41, "resets_at": weekly}
        }
    });
    std::fs::write(&status, payload.to_string()).unwrap();
    let bot = start_bot_with(
        &fake,
        &[
            ("FAKE_STATUS", status.to_string_lossy().into()),
            ("TZ", "UTC".into()),
        ],
    );
    // The user's own status line, in their settings: it must still run.
    let claude = bot.dir.path().join(".claude");
    std::fs::create_dir_all(&claude).unwrap();
    std::fs::write(
        claude.join("settings.json"),
        // (No double quotes: the stand-in reads its settings with a regex, not a parser.)
        r#"{"statusLine": {"type": "command", "command": "printf my-line:%s $(wc -c)"}}"#,
    )
    .unwrap();
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    // Nothing reported yet: no vitals line.
    fake.user_message(USER, "/status");
    let chat = wait_chat(&fake, USER, "the status", has("session(s) running")).await;
    assert!(
        !chat.last().unwrap().text.contains("alpha"),
        "{:?}",
        chat.last()
    );

    fake.user_message(USER, "status");
    // The user's line got the whole payload on its input and its output is what shows.
    let bytes = payload.to_string().len();
    wait_chat(
        &fake,
        USER,
        "the status line's output",
        has(&format!("Reported the status (turn 1): my-line:{bytes}")),
    )
    .await;
    fake.user_message(USER, "/status");
    let chat = wait_chat(&fake, USER, "the vitals", has("Opus 5.5")).await;
    let reply = &chat.last().unwrap().text;
    assert!(
        reply.contains(&format!(
            "▶ alpha: Opus 5.5 · context 37% of 200k · 5-hour limit 23% used, resets {} (in 2h 0m) · \
             weekly limit 41% used, resets {} (in 3d 1h)",
            clock(five_hour, false),
            clock(weekly, true),
        )),
        "{reply}"
    );
    fake.user_message(USER, "/sessions");
    let chat = wait_chat(&fake, USER, "the list", has("last activity")).await;
    let list = &chat.last().unwrap().text;
    assert!(list.contains("Opus 5.5, context 37% of 200k"), "{list}");
    // The stand-in took telepty's settings off its arguments, as Claude Code does: what
    // is left is the fresh start's conversation id.
    let args = bot.program_args();
    assert_eq!(args.len(), 1, "{args:?}");
    assert!(args[0].starts_with("--session-id "), "{args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usage_limit_reported_by_the_program_is_announced_and_continued_at_its_exact_reset() {
    let fake = FakeTelegram::start(common::bot::TOKEN).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let status = scratch.path().join("status.json");
    let reset = unix_now() + 2 * 3600;
    let payload = json!({
        "model": {"display_name": "Opus 5.5"},
        "rate_limits": {"five_hour": {"used_percentage": 100, "resets_at": reset}}
    });
    std::fs::write(&status, payload.to_string()).unwrap();
    let bot = start_bot_with(
        &fake,
        &[
            ("FAKE_STATUS", status.to_string_lossy().into()),
            ("TZ", "UTC".into()),
        ],
    );
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    fake.user_message(USER, "status");
    wait_chat(&fake, USER, "the report", has("Reported the status")).await;
    // The screen says the limit resets within a minute; the program's report says when
    // exactly, two hours from now, and that is what the chat is told.
    fake.user_message(USER, "limit");
    let chat = wait_chat(&fake, USER, "the limit notice", has("hit a usage limit")).await;
    let notice = chat
        .iter()
        .find(|m| m.text.contains("hit a usage limit"))
        .unwrap();
    let exact = clock(reset, false);
    assert!(
        notice
            .text
            .contains(&format!("it resets {exact} (in 2h 0m).")),
        "{}",
        notice.text
    );
    fake.press_button(USER, notice.id, &notice.buttons[0][0].1);
    let chat = wait_chat(&fake, USER, "the schedule", has("will type “continue”")).await;
    let schedule = chat.last().unwrap();
    assert!(
        schedule
            .text
            .contains(&format!("At {exact} telepty will type")),
        "{}",
        schedule.text
    );
    // Nothing is typed now: the reset is two hours away.
    assert_eq!(bot.program_inputs(), ["status", "limit"]);
}
