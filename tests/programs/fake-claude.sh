#!/usr/bin/env bash
# A tiny stand-in for Claude Code's screen, for end-to-end tests of the bot: the input box
# between two rules, a footer; each line typed comes back as "❯ line" and "● You said: …".
#   menu   draws a numbered permission prompt and answers with the digit pressed
#   slow   works for 6 s (status line, "esc to interrupt")
#   crash  prints an error and exits 3          bye    exits 0 with Claude's resume line
#   flood  redraws its working screen as fast as it can print, until stopped
#   limit  works, then shows a usage limit that resets at the next minute (UTC)
#   write NAME  writes NAME in the current directory, drawn as Claude Code's Write call
#   stream  a Read call, then an answer streamed a word every 0.25 s (about 5 s)
#   longstream  an answer streamed a word every 0.5 s for 90 s, ending with the time
#   status  runs the status line of --settings with the JSON in $FAKE_STATUS, as Claude
#           Code does after each turn, and shows what it printed
# With --continue or --resume the turns go on from the directory's last conversation
# (.fake-turns), as Claude Code's do. Logs: $FAKE_PIDS (pid per start), $FAKE_ARGS
# (arguments per start), $FAKE_INPUTS (every line read). $FAKE_START_DELAY: seconds
# before the first screen.
echo $$ >> "${FAKE_PIDS:-/dev/null}"
# --settings JSON (telepty's status line) is taken as Claude Code takes it, not logged.
args=()
settings=""
while [ $# -gt 0 ]; do
  if [ "$1" = --settings ]; then settings=$2; shift 2; else args+=("$1"); shift; fi
done
set -- "${args[@]}"
echo "$*" >> "${FAKE_ARGS:-/dev/null}"
# The status line's command, as the settings name it (telepty quotes it for a shell).
status_line() {
  [[ $settings =~ \"command\":\"([^\"]*)\" ]] && printf '%s' "${BASH_REMATCH[1]}"
}
box() {
  printf '\r\n────────────────────────────────────────\r\n❯\xc2\xa0\r\n────────────────────────────────────────\r\n  ? for shortcuts\r\n'
}
working() {
  printf '\033[2J\033[H❯ %s\r\n\r\n✶ Thinking… (%ss · ↓ 5 tokens)\r\n' "$1" "$2"
  printf '\r\n────────────────────────────────────────\r\n❯\xc2\xa0\r\n────────────────────────────────────────\r\n  esc to interrupt\r\n'
}
turn=0
case " $* " in
  *" --continue "*|*" --resume "*) turn=$(cat .fake-turns 2>/dev/null || echo 0) ;;
esac
sleep "${FAKE_START_DELAY:-0}"
# The cursor hidden, as Claude Code hides it (an attached terminal must show it again).
printf '\033[?25l\033[2J\033[HWelcome to the fake\r\n'
box
while IFS= read -r line; do
  echo "$line" >> "${FAKE_INPUTS:-/dev/null}"
  turn=$((turn + 1))
  echo "$turn" > .fake-turns
  printf '\033[2J\033[H❯ %s\r\n\r\n' "$line"
  if [ "$line" = slow ]; then
    # Working for a while: the status line and the footer say so.
    for s in 1 2 3 4 5 6; do
      working "$line" "$s"
      sleep 1
    done
    printf '\033[2J\033[H❯ %s\r\n\r\n● Done thinking (turn %s)\r\n\r\n✻ Worked for 6s\r\n' "$line" "$turn"
  elif [ "$line" = menu ]; then
    printf '────────────────────────────────────────\r\n Do you want to proceed?\r\n ❯ 1. Yes\r\n   2. No\r\n\r\n Esc to cancel\r\n'
    IFS= read -rsn1 key
    printf '\033[2J\033[H❯ %s\r\n\r\n● You chose %s in turn %s\r\n\r\n✻ Worked for 1s\r\n' "$line" "$key" "$turn"
  elif [ "$line" = crash ]; then
    printf '● Working on it\r\n\r\nboom: something broke in turn %s\r\n' "$turn"
    exit 3
  elif [ "$line" = bye ]; then
    printf '\r\nResume this session with:\r\nclaude --resume 0b6f6a52-3f4c-4c1e-9d0e-6a7d2b1c9e11\r\n'
    exit 0
  elif [ "${line%% *}" = write ]; then
    name=${line#write }
    printf 'written in turn %s\n' "$turn" > "$name"
    printf '\033[32m●\033[0m \033[1mWrite\033[0m(%s)\r\n  ⎿  Wrote 1 lines to %s\r\n\r\n● Wrote %s (turn %s)\r\n\r\n✻ Worked for 1s\r\n' "$name" "$name" "$name" "$turn"
  elif [ "$line" = stream ]; then
    read_call='\033[32m●\033[0m \033[1mRead\033[0m(notes.txt)\r\n  ⎿  Read 3 lines\r\n\r\n'
    shown=""
    for w in The answer streams in word by word so that a phone shows it growing \
             before it is final and the chat keeps it once STREAM-END; do
      shown="$shown $w"
      printf "\033[2J\033[H❯ %s\r\n\r\n$read_call●%s\r\n\r\n✶ Writing… (1s · ↓ 5 tokens)\r\n" "$line" "$shown"
      printf '\r\n────────────────────────────────────────\r\n❯\xc2\xa0\r\n────────────────────────────────────────\r\n  esc to interrupt\r\n'
      sleep 0.25
    done
    printf "\033[2J\033[H❯ %s\r\n\r\n$read_call●%s (turn %s)\r\n\r\n✻ Worked for 5s\r\n" "$line" "$shown" "$turn"
  elif [ "$line" = longstream ]; then
    # 90 s of an answer growing by a word every 0.5 s, the footer saying Claude works.
    shown=""
    for i in $(seq 1 180); do
      shown="$shown word$i"
      printf "\033[2J\033[H❯ %s\r\n\r\n●%s\r\n\r\n✶ Writing… (%ss · ↓ 5 tokens)\r\n" "$line" "$shown" "$((i / 2))"
      printf '\r\n────────────────────────────────────────\r\n❯\xc2\xa0\r\n────────────────────────────────────────\r\n  esc to interrupt\r\n'
      sleep 0.5
    done
    printf "\033[2J\033[H❯ %s\r\n\r\n●%s LONGSTREAM-END at %s\r\n\r\n✻ Worked for 90s\r\n" "$line" "$shown" "$(date +%s.%N)"
  elif [ "$line" = flood ]; then
    # Redraws the working screen as fast as the machine can print, until stopped.
    yes "$(working "$line" 1)"
  elif [ "$line" = status ]; then
    shown=$(sh -c "$(status_line)" < "${FAKE_STATUS:-/dev/null}")
    printf '● Reported the status (turn %s): %s\r\n\r\n✻ Worked for 1s\r\n' "$turn" "${shown:-nothing}"
  elif [ "$line" = limit ]; then
    working "$line" 1
    sleep 1
    reset=$(date -u -d '+1 minute' '+%-I:%M%P')
    printf '\033[2J\033[H❯ %s\r\n\r\n  ⎿  5-hour limit reached ∙ resets %s (UTC)\r\n' "$line" "$reset"
  else
    printf '● You said: %s (turn %s)\r\n\r\n✻ Worked for 1s\r\n' "$line" "$turn"
  fi
  box
done
