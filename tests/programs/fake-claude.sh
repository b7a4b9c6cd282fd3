#!/usr/bin/env bash
# A tiny stand-in for Claude Code's screen, for end-to-end tests of the bot: the input box
# between two rules, a footer; each line typed comes back as "❯ line" and "● You said: …";
# "menu" draws a numbered permission prompt and answers with the digit pressed.
echo $$ >> "${FAKE_PIDS:-/dev/null}"
box() {
  printf '\r\n────────────────────────────────────────\r\n❯\xc2\xa0\r\n────────────────────────────────────────\r\n  ? for shortcuts\r\n'
}
turn=0
printf '\033[2J\033[HWelcome to the fake\r\n'
box
while IFS= read -r line; do
  turn=$((turn + 1))
  printf '\033[2J\033[H❯ %s\r\n\r\n' "$line"
  if [ "$line" = slow ]; then
    # Working for a while: the status line and the footer say so.
    for s in 1 2 3 4 5 6; do
      printf '\033[2J\033[H❯ %s\r\n\r\n✶ Thinking… (%ss · ↓ 5 tokens)\r\n' "$line" "$s"
      printf '\r\n────────────────────────────────────────\r\n❯\xc2\xa0\r\n────────────────────────────────────────\r\n  esc to interrupt\r\n'
      sleep 1
    done
    printf '\033[2J\033[H❯ %s\r\n\r\n● Done thinking (turn %s)\r\n\r\n✻ Worked for 6s\r\n' "$line" "$turn"
  elif [ "$line" = menu ]; then
    printf '────────────────────────────────────────\r\n Do you want to proceed?\r\n ❯ 1. Yes\r\n   2. No\r\n\r\n Esc to cancel\r\n'
    IFS= read -rsn1 key
    printf '\033[2J\033[H❯ %s\r\n\r\n● You chose %s in turn %s\r\n\r\n✻ Worked for 1s\r\n' "$line" "$key" "$turn"
  else
    printf '● You said: %s (turn %s)\r\n\r\n✻ Worked for 1s\r\n' "$line" "$turn"
  fi
  box
done
