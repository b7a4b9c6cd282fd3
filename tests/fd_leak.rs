//! Spawning and stopping programs leaves no file descriptor open. Its own test binary,
//! so no other test opens descriptors in the same process meanwhile.

use std::time::Duration;

use telepty::term::terminal::Activity;
use telepty::{Command, Size, Terminal};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

#[tokio::test(flavor = "current_thread")]
async fn no_descriptor_outlives_its_program() {
    // Warm up lazily opened descriptors (the runtime's, /dev/ptmx probing).
    let warm = Terminal::spawn(&Command::new("/bin/true", "/"), 10).unwrap();
    drop(warm);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut before = open_fds();
    while tokio::time::Instant::now() < deadline && open_fds() != before {
        before = open_fds();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for round in 0..5 {
        let cmd = Command::new("/bin/sh", "/")
            .args(["-c", "echo hi; sleep 30"])
            .size(Size::new(40, 10));
        let mut term = Terminal::spawn(&cmd, 10).unwrap();
        while !term.screen().text().contains("hi") {
            if let Activity::Exited(_) = term.next().await {
                break;
            }
        }
        if round % 2 == 0 {
            term.stop(Duration::from_millis(500)).await;
        }
        drop(term);
    }
    // Reader and waiter threads close their descriptors when the children are gone.
    while tokio::time::Instant::now() < deadline && open_fds() > before {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}
