// Rules for the free text people type into the API (a description, a reason, an idempotency
// key): printable only, so a log line or a CSV export cannot be split or spoofed by what
// someone wrote, and stored exactly as it was sent.

/**
 * True when the text holds a C0 control character (a newline, a tab, ESC…) or DEL, or is not
 * well-formed UTF-16 (a lone surrogate such as JSON's "\ud800"). PostgreSQL keeps text as
 * UTF-8, which has no lone surrogates: such a text would be stored as U+FFFD, not as sent,
 * and refused in a batch's JSON, which undid the batch.
 */
export function hasUnprintable(text: string): boolean {
  for (const char of text) if (char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f) return true;
  return !text.isWellFormed();
}
