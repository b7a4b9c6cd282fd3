//! `telepty local`: the console as the chat, with the same supervisor as the bot — so
//! telepty can be tried with no token and no Telegram, and scripted through a pipe.
//!
//! It starts one session, `local`, in the working directory. Lines typed go to the
//! active session as messages; telepty's commands (`/new`, `/sessions`, `/use`, `/stop`,
//! `/screen` …, one table with the bot's) are handled as the bot handles them, idle
//! sessions are suspended and a message resumes them; `/quit` leaves, and any other
//! `/command` is typed into the session (Claude Code's own `/compact`, `/model` …).
//!
//! The chat's messages are printed as they would appear: a message once when sent, an
//! edit as an update of the same message (redrawn in place on a terminal), buttons as
//! numbered choices — type the number to press one. At the end of input, telepty waits
//! until the sessions have been quiet for a moment, then stops them. Sessions live for
//! the run: the bot's registry is not touched.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use crate::config::Config;
use crate::core::buttons::ButtonData;
use crate::core::ops::{Button, Content, MessageId, Operation};
use crate::core::pacer::Limits;
use crate::core::profile::Profile;
use crate::core::render::html::plain;
use crate::session::command::{keypad, BotCommand, End, MENU};
use crate::session::dirs::Chosen;
use crate::session::supervisor::{Entry, Notice, Out, Supervisor};
use crate::session::{ProgramId, SessionId};
use crate::term::keys::Key;

/// How long the sessions must be quiet after the end of input before they are stopped.
const QUIET_AT_END: Duration = Duration::from_secs(2);
/// The console's chat (the supervisor keys sessions by chat).
const CHAT: i64 = 1;
/// The session `telepty local` starts with.
const FIRST: &str = "local";
/// How often idle sessions and slow starts are looked at.
const TICK_EVERY: Duration = Duration::from_secs(1);

/// What the console adds to the bot's commands.
const CONSOLE_HELP: &str = "\
  N             press button N of the newest message with buttons
  /keys K …     press keys: Enter Esc Tab Shift-Tab Up Down Left Right Space Ctrl-C …
  /quit         stop the sessions and leave
  /other        typed into the session (Claude Code's /compact, /model …)";

/// Whose button a number presses.
struct Choice {
    session: Option<SessionId>,
    data: String,
}

/// The console as a chat.
struct Console {
    out: std::io::Stdout,
    tty: bool,
    /// The console's number of each program's messages.
    numbers: HashMap<(ProgramId, MessageId), u64>,
    /// What each message shows now, by the console's number.
    shown: HashMap<u64, Content>,
    next: u64,
    /// The message printed last and how many lines it took (to redraw it in place).
    last: Option<(u64, usize)>,
    /// The buttons of the newest message that has some.
    buttons: Vec<Choice>,
}

impl Console {
    fn new() -> Console {
        let out = std::io::stdout();
        let tty = out.is_terminal();
        Console {
            out,
            tty,
            numbers: HashMap::new(),
            shown: HashMap::new(),
            next: 1,
            last: None,
            buttons: Vec::new(),
        }
    }

    fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "── {text}");
        let _ = self.out.flush();
        self.last = None;
    }

    /// A program's chat operation.
    fn apply(&mut self, program: &ProgramId, op: Operation) {
        let key = (program.clone(), op.id());
        let session = Some(program.session.clone());
        match op {
            Operation::Send(_, content)
            | Operation::Edit(_, content)
            | Operation::Draft(_, content) => {
                let number = match self.numbers.get(&key) {
                    Some(n) => *n,
                    None => {
                        let n = self.number();
                        self.numbers.insert(key, n);
                        n
                    }
                };
                self.print(number, session, content);
            }
            Operation::Delete(_) => {
                if let Some(number) = self.numbers.remove(&key) {
                    self.shown.remove(&number);
                    self.line(&format!("#{number} removed"));
                }
            }
        }
    }

    /// A message of telepty's own (an answer, a notice).
    fn say(&mut self, session: Option<SessionId>, content: Content) {
        let number = self.number();
        self.print(number, session, content);
    }

    fn number(&mut self) -> u64 {
        self.next += 1;
        self.next - 1
    }

    fn print(&mut self, number: u64, session: Option<SessionId>, content: Content) {
        let edit = self.shown.contains_key(&number);
        let mut text = format!(
            "── #{number}{}{}\n{}\n",
            if content.silent { "" } else { " 🔔" },
            if edit { " (updated)" } else { "" },
            plain(&content.text)
        );
        let buttons: Vec<&Button> = content.buttons.iter().flatten().collect();
        for (i, b) in buttons.iter().enumerate() {
            text.push_str(&format!("  [{}] {}\n", i + 1, b.text));
        }
        if !buttons.is_empty() {
            self.buttons = buttons
                .iter()
                .map(|b| Choice {
                    session: session.clone(),
                    data: b.data.clone(),
                })
                .collect();
        } else if edit
            && self
                .shown
                .get(&number)
                .is_some_and(|m| !m.buttons.is_empty())
        {
            self.buttons.clear();
        }
        // On a terminal, an update of the message printed last replaces it.
        if let (true, true, Some((last, lines))) = (self.tty, edit, self.last) {
            if last == number {
                let _ = write!(self.out, "\x1b[{lines}F\x1b[J");
            }
        }
        let _ = write!(self.out, "{text}");
        let _ = self.out.flush();
        self.last = Some((number, text.lines().count()));
        self.shown.insert(number, content);
    }
}

/// How a run of `telepty local` goes on after what the supervisor said.
#[derive(Default)]
struct Run {
    /// The user is done (end of input, `/quit`): the sessions were asked to stop.
    stopping: bool,
    /// A program ended by itself: whether it ended well, once nothing runs any more.
    ended: Option<bool>,
}

/// Runs `command` in `cwd` as the session `local`, with the console as the chat, until
/// the user is done or the programs have ended. Says whether it ended well: the programs
/// ended by themselves with status 0, or were stopped because the user was done.
pub async fn run(
    mut config: Config,
    profile: Arc<Profile>,
    command: Vec<String>,
    cwd: PathBuf,
) -> anyhow::Result<bool> {
    config.command = command;
    // The console paces what it prints as a chat would show it.
    let (mut sup, mut events) = Supervisor::new(config, profile, Limits::default(), false);
    let mut console = Console::new();
    if console.tty {
        eprintln!("telepty local: /help for commands, /quit to leave");
    }
    let path = cwd
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("cannot use {}: {e}", cwd.display()))?;
    let chosen = Chosen {
        inside_root: path.starts_with(&sup.config().sessions_root),
        path,
        created: false,
    };
    let first = SessionId::new(CHAT, FIRST);
    sup.create(&first, chosen, None, None).await;
    let mut run = Run::default();
    perform(&mut sup, &mut console, &mut run);
    if !sup.contains(&first) {
        anyhow::bail!("the session could not be started");
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    let mut quiet_since = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(TICK_EVERY);
    loop {
        if !sup.any_live() {
            if run.stopping {
                return Ok(true);
            }
            if let Some(well) = run.ended {
                return Ok(well);
            }
        }
        let waiting = sup.sessions().any(|(_, e)| !e.record.pending.is_empty());
        tokio::select! {
            Some((program, event)) = events.recv() => {
                quiet_since = tokio::time::Instant::now();
                sup.on_event(program, event).await;
            }
            _ = tick.tick() => sup.tick().await,
            line = lines.next_line(), if input_open => {
                quiet_since = tokio::time::Instant::now();
                match line {
                    Ok(Some(line)) => {
                        if !handle_line(&mut sup, &mut console, line.trim_end()).await {
                            input_open = false;
                            stop_all(&mut sup, &mut run).await;
                        }
                    }
                    _ => input_open = false,
                }
            }
            _ = tokio::time::sleep_until(quiet_since + QUIET_AT_END),
                if !input_open && !run.stopping && !waiting =>
            {
                stop_all(&mut sup, &mut run).await;
            }
        }
        perform(&mut sup, &mut console, &mut run);
    }
}

/// The user is done: every running program is stopped.
async fn stop_all(sup: &mut Supervisor, run: &mut Run) {
    run.stopping = true;
    let live: Vec<SessionId> = sup
        .sessions()
        .filter(|(_, e)| e.session().is_some())
        .map(|(id, _)| id.clone())
        .collect();
    for id in live {
        sup.end_command(&id, End::Stop).await;
    }
}

/// What the supervisor said, printed.
fn perform(sup: &mut Supervisor, console: &mut Console, run: &mut Run) {
    for out in sup.take_out() {
        match out {
            Out::Reply { content, .. } => console.say(None, content),
            Out::Ops { program, ops, .. } => {
                for op in ops {
                    console.apply(&program, op);
                }
            }
            Out::Notice { id, notice, .. } => match &notice {
                Notice::Ended { success, how, .. } => {
                    console.line(&format!("{}: session ended: {how}", id.name));
                    run.ended = Some(run.ended.unwrap_or(true) && *success);
                    if !sup.any_live() {
                        continue;
                    }
                    console.say(Some(id.clone()), notice.content(&id.name));
                }
                // The console's user chose the directory: no sessions-root caveats.
                Notice::Started { dir, .. } => {
                    console.line(&format!("session {} started in {}", id.name, dir.display()));
                }
                Notice::Stopped { how } => {
                    console.line(&format!("{}: session ended: {how} (stopped)", id.name));
                }
                _ => console.say(Some(id.clone()), notice.content(&id.name)),
            },
            Out::Spoke { .. } => {}
        }
    }
}

/// One line of input; false when the user asked to leave.
async fn handle_line(sup: &mut Supervisor, console: &mut Console, line: &str) -> bool {
    if let Ok(n) = line.parse::<usize>() {
        if let Some(choice) = n.checked_sub(1).and_then(|i| console.buttons.get(i)) {
            let (session, data) = (choice.session.clone(), choice.data.clone());
            press(sup, console, session, &data).await;
            return true;
        }
    }
    let current = sup.active(CHAT).map(|name| SessionId::new(CHAT, name));
    if let Some((name, _, args)) = BotCommand::split(line) {
        if name == "quit" {
            return false;
        }
        if let Some(command) = BotCommand::parse(name, args) {
            command_line(sup, console, current, command).await;
            return true;
        }
    }
    match current {
        Some(id) => sup.deliver(&id, line.to_string(), false).await,
        None => console.line("No session: /new NAME starts one."),
    }
    true
}

/// Button `data`, pressed (of `session`'s messages, when it is a program's button).
async fn press(
    sup: &mut Supervisor,
    console: &mut Console,
    session: Option<SessionId>,
    data: &str,
) {
    match ButtonData::decode(data) {
        Some(ButtonData::Key(key)) => {
            let current = sup.active(CHAT).map(|name| SessionId::new(CHAT, name));
            if let (Ok(key), Some(id)) = (key.parse::<Key>(), current) {
                sup.press_keys(&id, vec![key]).await;
            }
        }
        Some(ButtonData::Session { action, name }) => {
            sup.on_session_button(&SessionId::new(CHAT, name), action)
                .await;
        }
        Some(ButtonData::Fetch { .. }) | Some(ButtonData::Prompt { .. }) => {
            let live = match &session {
                Some(id) => sup.touch(id),
                None => None,
            };
            let Some(live) = live else {
                console.line("that prompt is gone");
                return;
            };
            if matches!(ButtonData::decode(data), Some(ButtonData::Fetch { .. })) {
                match live.fetch(data).await {
                    Some(path) => console.line(&format!("file: {path}")),
                    None => console.line("that file button is from an earlier run"),
                }
            } else if !live.press(data).await {
                console.line("that prompt is gone");
            }
        }
        None => console.line("that button is gone"),
    }
}

/// One of telepty's commands, typed at the console.
async fn command_line(
    sup: &mut Supervisor,
    console: &mut Console,
    current: Option<SessionId>,
    command: BotCommand,
) {
    match command {
        BotCommand::Help => {
            let mut text = String::from("Type a message and Enter to send it to the session.\n");
            for (c, d) in MENU {
                text.push_str(&format!("  /{c} {d}\n"));
            }
            text.push_str(CONSOLE_HELP);
            let _ = writeln!(console.out, "{text}");
        }
        BotCommand::New(args) => {
            if let Some(new) = sup.check_new(CHAT, &args) {
                let id = SessionId::new(CHAT, new.name);
                sup.create(&id, new.chosen, new.agent, None).await;
            }
        }
        BotCommand::Sessions => {
            let current = current.map(|c| c.name);
            sup.list_sessions(CHAT, current.as_deref()).await;
        }
        BotCommand::Use(name) => sup.use_session(CHAT, &name),
        // No pictures on a console: the screen as text.
        BotCommand::Screen { .. } => {
            let live = current
                .as_ref()
                .and_then(|id| sup.get(id))
                .and_then(Entry::session)
                .cloned();
            match live {
                Some(session) => {
                    let screen = session.screen().await;
                    console.line(&format!("screen\n{}", screen.trim_end()));
                }
                None => sup.screen_text(CHAT, current.as_ref()).await,
            }
        }
        BotCommand::Get(path) => {
            let dir = current
                .as_ref()
                .and_then(|id| sup.get(id))
                .map(|e| e.record.dir.clone());
            match dir {
                Some(dir) => match crate::session::files::confined(&dir, &path) {
                    Ok(p) => console.line(&format!("file: {}", p.display())),
                    Err(why) => console.line(&format!("cannot give {path}: {why}")),
                },
                None => sup.no_session(CHAT),
            }
        }
        BotCommand::Keys(keys) if !keys.is_empty() => {
            let keys: Result<Vec<Key>, _> = keys.split_whitespace().map(str::parse).collect();
            match (keys, current) {
                (Ok(keys), Some(id)) => sup.press_keys(&id, keys).await,
                (Ok(_), None) => sup.no_session(CHAT),
                (Err(e), _) => console.line(&e.to_string()),
            }
        }
        BotCommand::Keys(_) => {
            let buttons = keypad();
            let content = Content {
                live: false,
                text: "Keys for the active session:".into(),
                buttons,
                silent: true,
                attachment: None,
            };
            console.say(None, content);
        }
        BotCommand::Esc => {
            if let Some(id) = current {
                sup.press_keys(&id, vec![Key::Esc]).await;
            }
        }
        BotCommand::Interrupt => {
            if let Some(id) = current {
                sup.press_keys(&id, vec![Key::Ctrl('c')]).await;
            }
        }
        BotCommand::End(how, name) => {
            let name = name.or(current.map(|c| c.name)).unwrap_or_default();
            sup.end_command(&SessionId::new(CHAT, name), how).await;
        }
        BotCommand::Idle(args) => sup.idle_command(CHAT, current.as_ref(), &args),
        BotCommand::Status => {
            let current = current.map(|c| c.name);
            sup.status(CHAT, current.as_deref()).await
        }
    }
}
