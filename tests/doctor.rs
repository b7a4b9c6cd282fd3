//! `telepty doctor` from the outside: configured through `TELEPTY_*` variables alone,
//! against the fake Bot API; it says what is fine and what to fix, and its exit code
//! tells a script which.

mod common;

use std::process::{Command, Output};

use common::bot::{TOKEN, USER};
use telepty_testkit::fake_telegram::FakeTelegram;

fn doctor(home: &std::path::Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_telepty"))
        .arg("doctor")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TELEPTY_SESSIONS_ROOT", home.join("sessions"))
        .env("TELEPTY_STATE_DIR", home.join("state"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_working_setup_and_names_what_to_fix_otherwise() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let url = fake.url();
    let home = tempfile::tempdir().unwrap();
    let user = USER.to_string();

    // Everything in place (the program is `sh`, which is on every PATH).
    let out = doctor(
        home.path(),
        &[
            ("TELEPTY_TOKEN", TOKEN),
            ("TELEPTY_ALLOWED_USERS", &user),
            ("TELEPTY_API_URL", &url),
            ("TELEPTY_COMMAND", "sh"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("the token works: the bot is @telepty_bot"),
        "{text}"
    );
    assert!(!text.contains("FIX"), "{text}");
    assert!(!text.contains(TOKEN), "the token is never printed: {text}");

    // A wrong token, no allowed users, a program that is not there, a state dir that
    // cannot be written: each named with what to do.
    let out = doctor(
        home.path(),
        &[
            ("TELEPTY_TOKEN", "4242:wrong"),
            ("TELEPTY_API_URL", &url),
            ("TELEPTY_COMMAND", "telepty-no-such-program --flag"),
            ("TELEPTY_STATE_DIR", "/proc/telepty-state"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    for expected in [
        "no allowed users",
        "@userinfobot",
        "Telegram refused the token",
        "telepty-no-such-program is not on PATH",
        "state_dir /proc/telepty-state is not writable",
    ] {
        assert!(text.contains(expected), "no “{expected}” in:\n{text}");
    }
    assert!(
        !text.contains("4242:wrong"),
        "the token is never printed: {text}"
    );

    // A token file others can read, a state directory others can write.
    use std::os::unix::fs::PermissionsExt;
    let token = home.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let state = home.path().join("open-state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = doctor(
        home.path(),
        &[
            ("TELEPTY_TOKEN_FILE", token.to_str().unwrap()),
            ("TELEPTY_ALLOWED_USERS", &user),
            ("TELEPTY_API_URL", &url),
            ("TELEPTY_COMMAND", "sh"),
            ("TELEPTY_STATE_DIR", state.to_str().unwrap()),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    for expected in [
        "token_file",
        "mode 644",
        "chmod 600",
        "mode 777",
        "refuses to start",
    ] {
        assert!(text.contains(expected), "no “{expected}” in:\n{text}");
    }
}
