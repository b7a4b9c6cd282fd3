//! Telegram's HTML, validated as Telegram does: allowed tags, balance, entities,
//! and the length of the text a user reads.

use super::*;

/// Validates a text as Telegram does; returns the text a user reads.
pub(super) fn check_text(html: &str, body: &Value) -> Result<String, String> {
    let text = if body["parse_mode"].as_str() == Some("HTML") {
        parse_html(html).map_err(|e| format!("Bad Request: can't parse entities: {e}"))?
    } else {
        html.to_string()
    };
    for b in buttons_of(&body["reply_markup"]).iter().flatten() {
        if b.1.is_empty() || b.1.len() > 64 {
            return Err("Bad Request: BUTTON_DATA_INVALID".into());
        }
    }
    let len = text.chars().count();
    if text.trim().is_empty() {
        return Err("Bad Request: message text is empty".into());
    }
    if len > 4096 {
        return Err("Bad Request: {too_long}".into());
    }
    Ok(text)
}

pub(super) const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "span",
    "tg-emoji",
];

/// Telegram's HTML: the allowed tags, balanced; `&lt; &gt; &amp; &quot;` and numeric
/// entities; nothing inside `<pre>` or `<code>` but text (and `<code>` right in `<pre>`).
pub(super) fn parse_html(html: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    let mut offset = 0;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest
                    .find('>')
                    .ok_or_else(|| format!("unclosed start tag at byte offset {offset}"))?;
                let tag = &rest[1..end];
                if let Some(name) = tag.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    match stack.pop() {
                        Some(open) if open == name => {}
                        _ => {
                            return Err(format!(
                                "Can't find end tag corresponding to start tag \"{name}\""
                            ))
                        }
                    }
                } else {
                    let name = tag
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    if !TAGS.contains(&name.as_str()) {
                        return Err(format!(
                            "Unsupported start tag \"{name}\" at byte offset {offset}"
                        ));
                    }
                    if let Some(open) = stack.last() {
                        if (open == "pre" && name != "code") || open == "code" {
                            return Err(format!(
                                "Entity \"{name}\" can't be nested in \"{open}\" at byte offset {offset}"
                            ));
                        }
                    }
                    stack.push(name);
                }
                offset += end + 1;
                rest = &rest[end + 1..];
            }
            '&' => {
                let end = rest.find(';').filter(|e| *e <= 10).ok_or_else(|| {
                    format!("Character '&' is reserved and must be escaped at byte offset {offset}")
                })?;
                let entity = &rest[1..end];
                let ch = match entity {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    e if e.starts_with('#') => e[1..]
                        .parse::<u32>()
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("Unsupported entity \"{e}\""))?,
                    e => {
                        return Err(format!(
                            "Unsupported HTML entity \"&{e};\" at byte offset {offset}"
                        ))
                    }
                };
                out.push(ch);
                offset += end + 1;
                rest = &rest[end + 1..];
            }
            '>' => return Err(format!("Character '>' is reserved at byte offset {offset}")),
            c => {
                out.push(c);
                offset += c.len_utf8();
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{open}\""
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_checked_as_telegram_does() {
        assert_eq!(
            parse_html("<b>a &lt; b</b>\n<pre>x &amp; y</pre>").unwrap(),
            "a < b\nx & y"
        );
        assert!(parse_html("<b>open")
            .unwrap_err()
            .contains("Can't find end tag"));
        assert!(parse_html("<div>x</div>")
            .unwrap_err()
            .contains("Unsupported start tag \"div\""));
        assert!(parse_html("a & b").unwrap_err().contains("'&' is reserved"));
        assert!(parse_html("<pre><b>x</b></pre>")
            .unwrap_err()
            .contains("can't be nested"));
        assert!(parse_html("1 > 0").is_err());
    }
}
