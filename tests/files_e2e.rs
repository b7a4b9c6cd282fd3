//! Files in and out through the real `telepty run` and the fake Bot API: uploads land in
//! the session's `files/` with safe names and the exact bytes, and the program reads one
//! line for them; `/get` sends files from inside the session's directory and refuses
//! every way out; a file the program wrote can be fetched with a button.

mod common;

use std::time::Duration;

use common::bot::{has, start_bot_with, wait_chat, Bot, TOKEN, USER};
use telepty_testkit::fake_telegram::{FakeTelegram, Upload, UploadKind};

fn uploads(bot: &Bot) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(bot.sessions.join("alpha/files"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits until the program has read `n` lines; returns them.
async fn inputs(bot: &Bot, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while bot.program_inputs().len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the program read {:?}, not {n} lines",
            bot.program_inputs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bot.program_inputs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_reach_the_session_as_files_and_one_line() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let _bot = start_bot_with(&fake, &[("TELEPTY_UPLOAD_MAX", "1MB".into())]);
    let bot = &_bot;
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;

    // A document with a caption: the exact bytes, a stamped safe name, one turn.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let mut doc = Upload::new(UploadKind::Document, bytes.clone());
    doc.name = Some("../../report \u{202e}v2.bin".into());
    doc.caption = Some("summarize\nthis".into());
    fake.user_upload(USER, doc);
    let lines = inputs(bot, 1).await;
    let names = uploads(bot);
    assert_eq!(names.len(), 1);
    let name = &names[0];
    assert!(
        name.len() > 17 && name[..17].ends_with("Z_") && name.ends_with("_report_v2.bin"),
        "{name}"
    );
    assert_eq!(
        std::fs::read(bot.sessions.join("alpha/files").join(name)).unwrap(),
        bytes
    );
    assert_eq!(lines[0], format!("summarize this (files/{name})"));
    wait_chat(&fake, USER, "the saved note", has("Saved files/")).await;

    // A photo asking a question is one turn.
    let mut photo = Upload::new(UploadKind::Photo, b"jpeg bytes".to_vec());
    photo.caption = Some("what is wrong here?".into());
    fake.user_upload(USER, photo);
    let lines = inputs(bot, 2).await;
    assert!(
        lines[1].starts_with("what is wrong here? (files/") && lines[1].ends_with("_photo.jpg)"),
        "{}",
        lines[1]
    );

    // An album: two photos, one line.
    for (i, caption) in [(1, Some("compare these")), (2, None)] {
        let mut p = Upload::new(UploadKind::Photo, vec![i; 10]);
        p.caption = caption.map(str::to_string);
        p.media_group = Some("album-1".into());
        fake.user_upload(USER, p);
    }
    let lines = inputs(bot, 3).await;
    assert!(
        lines[2].starts_with("compare these (files/") && lines[2].matches("files/").count() == 2,
        "{}",
        lines[2]
    );
    // A voice message without a caption.
    fake.user_upload(USER, Upload::new(UploadKind::Voice, b"ogg".to_vec()));
    let lines = inputs(bot, 4).await;
    assert!(lines[3].starts_with("I uploaded files/") && lines[3].ends_with("_voice.ogg"));

    // Too big for the configured cap (1 MB), and beyond Telegram's 20 MB: refused, nothing
    // saved, nothing typed.
    for size in [2 * 1024 * 1024, 25 * 1024 * 1024] {
        let mut big = Upload::new(UploadKind::Document, b"x".to_vec());
        big.name = Some("big.iso".into());
        big.claimed_size = Some(size);
        fake.user_upload(USER, big);
    }
    wait_chat(&fake, USER, "the refusals", |ms| {
        ms.iter()
            .filter(|m| m.text.contains("more than telepty takes"))
            .count()
            == 2
    })
    .await;
    assert_eq!(uploads(bot).len(), 5);
    fake.user_message(USER, "done");
    let lines = inputs(bot, 5).await;
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(lines[4], "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_sends_files_from_inside_and_refuses_every_way_out() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    // Wide enough for a Write call of a path longer than a button's 64 bytes.
    let bot = start_bot_with(&fake, &[("TELEPTY_PTY_SIZE", "120x30".into())]);
    fake.user_message(USER, "/new alpha");
    wait_chat(&fake, USER, "the start", has("Session alpha started")).await;
    let dir = bot.sessions.join("alpha");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(bot.dir.path().join("secret.txt"), "top secret").unwrap();
    std::os::unix::fs::symlink(bot.dir.path().join("secret.txt"), dir.join("link")).unwrap();

    fake.user_message(USER, "/get src/main.rs");
    let chat = wait_chat(&fake, USER, "the document", |ms| {
        ms.iter().any(|m| m.file.is_some())
    })
    .await;
    let file = chat.iter().find_map(|m| m.file.clone()).unwrap();
    assert_eq!(
        (file.kind.as_str(), file.name.as_str()),
        ("document", "main.rs")
    );
    assert_eq!(file.bytes, b"fn main() {}\n");

    let escapes = [
        "../secret.txt",
        "/etc/passwd",
        "link",
        "src/../../secret.txt",
        "~/secret.txt",
        "missing.txt",
        "src",
    ];
    for path in escapes {
        fake.user_message(USER, &format!("/get {path}"));
    }
    wait_chat(&fake, USER, "every refusal", |ms| {
        ms.iter()
            .filter(|m| m.text.starts_with("Cannot send"))
            .count()
            == escapes.len()
    })
    .await;
    let chat = fake.chat(USER);
    assert_eq!(chat.iter().filter(|m| m.file.is_some()).count(), 1);
    assert!(chat.iter().all(|m| !m.text.contains("top secret")));

    // A file the program writes: its turn's record offers it.
    fake.user_message(USER, "write notes.txt");
    let chat = wait_chat(&fake, USER, "the fetch button", |ms| {
        ms.iter()
            .any(|m| m.buttons.iter().flatten().any(|b| b.0 == "📄 notes.txt"))
    })
    .await;
    let record = chat
        .iter()
        .find(|m| m.buttons.iter().flatten().any(|b| b.0 == "📄 notes.txt"))
        .unwrap();
    let (_, data) = record
        .buttons
        .iter()
        .flatten()
        .find(|b| b.0 == "📄 notes.txt")
        .unwrap()
        .clone();
    assert!(!data.contains("notes"), "an index, not the path: {data}");
    fake.press_button(USER, record.id, &data);
    let chat = wait_chat(&fake, USER, "the written file", |ms| {
        ms.iter().filter(|m| m.file.is_some()).count() == 2
    })
    .await;
    let sent = chat.iter().rev().find_map(|m| m.file.clone()).unwrap();
    assert_eq!(sent.bytes, b"written in turn 1\n");

    // A path longer than a button's 64 bytes still gets its button (it was dropped).
    let long = format!("{}/report.txt", "d".repeat(70));
    std::fs::create_dir_all(bot.sessions.join("alpha").join(&long[..70])).unwrap();
    fake.user_message(USER, &format!("write {long}"));
    let chat = wait_chat(&fake, USER, "the long path's button", |ms| {
        ms.iter()
            .any(|m| m.buttons.iter().flatten().any(|b| b.0 == "📄 report.txt"))
    })
    .await;
    let record = chat
        .iter()
        .find(|m| m.buttons.iter().flatten().any(|b| b.0 == "📄 report.txt"))
        .unwrap();
    let data = record.buttons[0][0].1.clone();
    fake.press_button(USER, record.id, &data);
    let chat = wait_chat(&fake, USER, "the long path's file", |ms| {
        ms.iter().filter(|m| m.file.is_some()).count() == 3
    })
    .await;
    let sent = chat.iter().rev().find_map(|m| m.file.clone()).unwrap();
    assert_eq!(sent.name, "report.txt");
}
