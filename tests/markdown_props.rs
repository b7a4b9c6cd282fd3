//! Any markdown → Telegram HTML that the fake Bot API accepts, at most 4096 characters a
//! message, with the input's text preserved (tags aside) and in order (issue 16).

use proptest::prelude::*;
use pulldown_cmark::{Event, Options, Parser};
use telepty::core::render::html::{pack, plain, MESSAGE_LIMIT};
use telepty::core::render::markdown::pieces;
use telepty_testkit::fake_telegram::parse_telegram_html;

/// The text a markdown parser finds in the input, without whitespace.
fn text_of(markdown: &str) -> Vec<char> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    Parser::new_ext(markdown, options)
        .filter_map(|e| match e {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                Some(t.to_string())
            }
            _ => None,
        })
        .flat_map(|t| t.chars().collect::<Vec<_>>())
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn is_subsequence(needle: &[char], hay: &[char]) -> bool {
    let mut it = hay.iter();
    needle.iter().all(|c| it.any(|h| h == c))
}

/// Markdown-ish input: the syntax markdown answers use, mixed at random.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{1,40}",
        Just("# ".to_string()),
        Just("## ".to_string()),
        Just("**".to_string()),
        Just("*".to_string()),
        Just("_".to_string()),
        Just("~~".to_string()),
        Just("`".to_string()),
        Just("\n```python\n".to_string()),
        Just("\n```\n".to_string()),
        Just("\n- ".to_string()),
        Just("\n1. ".to_string()),
        Just("\n   - ".to_string()),
        Just("\n> ".to_string()),
        Just("\n\n".to_string()),
        Just("\n".to_string()),
        Just("\n| a | b |\n|---|:-:|\n| 速度 | 😀 |\n".to_string()),
        Just("[link](https://example.com/a?b=1&c=2)".to_string()),
        Just("[bad](javascript:x)".to_string()),
        Just("<b>raw</b> & <".to_string()),
        Just("&amp; &lt; \"q\"".to_string()),
        Just("- [ ] task".to_string()),
        Just("\n---\n".to_string()),
        "[ -~]{1,20}",
        "\\PC{1,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_markdown_becomes_html_telegram_accepts(parts in prop::collection::vec(fragment(), 0..60), repeat in 1usize..40) {
        let markdown = parts.concat().repeat(repeat);
        let messages = pack(pieces(&markdown), MESSAGE_LIMIT);
        let mut shown = String::new();
        for m in &messages {
            let text = parse_telegram_html(m).map_err(|e| TestCaseError::fail(format!("{e}\n{m}")))?;
            prop_assert!(text.chars().count() <= 4096, "{} characters", text.chars().count());
            prop_assert_eq!(&text, &plain(m));
            shown.push_str(&text);
            shown.push('\n');
        }
        let shown: Vec<char> = shown.chars().filter(|c| !c.is_whitespace()).collect();
        let input = text_of(&markdown);
        prop_assert!(is_subsequence(&input, &shown), "text lost:\n{markdown}\n---\n{}", messages.join("\n---\n"));
    }
}

#[test]
fn the_checks_can_fail() {
    assert!(parse_telegram_html("<b>open").is_err());
    assert!(!is_subsequence(&['a', 'b'], &['b', 'a']));
    assert_eq!(text_of("**a** `b`"), ['a', 'b']);
}
