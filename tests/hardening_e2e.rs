//! A remote shell over Telegram, tried as a hostile or an unlucky user would (issue 14):
//! the real `telepty run` against the fake Bot API. Each test here failed on the code
//! before its fix.

mod common;

use std::time::Duration;

use common::bot::{has, start_bot, wait_chat, wait_until, TOKEN, USER};
use telepty::fake_telegram::FakeTelegram;

/// `/new foo <root>/..` names the user's home through the sessions root; `/delete foo`
/// must never offer to remove it (it used to: the textual parent of `<root>/..` is the
/// root). A session telepty created itself still gets the offer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_never_offers_a_directory_telepty_did_not_create_for_the_session() {
    let fake = FakeTelegram::start(TOKEN).await.unwrap();
    let bot = start_bot(&fake);
    let home = bot.dir.path().to_path_buf();
    std::fs::write(home.join("precious.txt"), "the user's file").unwrap();

    let up = format!("{}/..", bot.sessions.display());
    fake.user_message(USER, &format!("/new foo {up}"));
    let chat = wait_chat(&fake, USER, "foo's start", has("Session foo started")).await;
    let started = chat
        .iter()
        .find(|m| m.text.contains("Session foo"))
        .unwrap();
    assert!(
        started.text.contains("outside the sessions root"),
        "{}",
        started.text
    );
    fake.user_message(USER, "/delete foo");
    let chat = wait_chat(&fake, USER, "foo's deletion", has("foo deleted")).await;
    let deleted = chat
        .iter()
        .find(|m| m.text.contains("foo deleted"))
        .unwrap();
    assert!(deleted.buttons.is_empty(), "offered: {:?}", deleted.buttons);
    // A forged press of the button it would have had does nothing.
    fake.press_button(USER, deleted.id, "x:rmdir:foo");
    wait_chat(&fake, USER, "the refusal", has("That button has expired")).await;
    assert!(home.join("precious.txt").exists());
    assert!(bot.sessions.is_dir());

    // `~` is the bot's home; relative directories are under the sessions root.
    fake.user_message(USER, "/new tilde ~/proj");
    let chat = wait_chat(&fake, USER, "tilde's start", has("Session tilde started")).await;
    let started = chat
        .iter()
        .find(|m| m.text.contains("Session tilde"))
        .unwrap();
    assert!(home.join("proj").is_dir(), "{}", started.text);
    assert!(started.text.contains("outside the sessions root"));
    fake.user_message(USER, "/new rel nested/rel");
    wait_chat(&fake, USER, "rel's start", has("Session rel started")).await;
    assert!(bot.sessions.join("nested/rel").is_dir());

    // The directory telepty made for a session: offered, and removed on the press.
    fake.user_message(USER, "/new bar");
    wait_chat(&fake, USER, "bar's start", has("Session bar started")).await;
    fake.user_message(USER, "/delete bar");
    let chat = wait_chat(&fake, USER, "bar's deletion", has("bar deleted")).await;
    let offer = chat
        .iter()
        .find(|m| m.text.contains("bar deleted"))
        .unwrap();
    let (_, data) = offer.buttons[0][0].clone();
    fake.press_button(USER, offer.id, &data);
    wait_until("bar's directory to go", Duration::from_secs(10), || {
        !bot.sessions.join("bar").exists()
    })
    .await;
    assert!(home.join("precious.txt").exists());
    assert!(home.join("proj").is_dir());
}
