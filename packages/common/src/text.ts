// Rules for the free text people type into the API (a description, a reason): printable only,
// so a log line or a CSV export cannot be split or spoofed by what someone wrote.

/** True when the text holds a C0 control character (a newline, a tab, ESC…) or DEL. */
export function hasControlCharacter(text: string): boolean {
  for (const char of text) if (char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f) return true;
  return false;
}
