// What the CLI reads from and shows on a terminal: the username and a hidden password asked
// on a TTY, stdin read whole (for --password-stdin), the progress bar, and tables and CSV.

import { createInterface } from 'node:readline/promises';
import { InterruptedError } from './errors.ts';

export async function promptLine(question: string): Promise<string> {
  const lines = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return (await lines.question(question)).trim();
  } finally {
    lines.close();
  }
}

/** Asks on stderr and reads a line from the terminal without echoing it. */
export function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (char === '\u0003') {
          finish();
          reject(new InterruptedError('Interrupted.'));
          return;
        }
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    input.on('data', onData);
  });
}

/** All of stdin, without the line break a pipe or `echo` adds at the end. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `[=========>          ]  45% 2250/5000`, fitted to `width` columns. */
export function progressBar(done: number, total: number, width = 60): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const counts = ` ${String(Math.floor(ratio * 100)).padStart(3)}% ${done}/${total}`;
  const barWidth = Math.max(10, width - counts.length - 2);
  const filled = Math.round(ratio * barWidth);
  const bar = filled >= barWidth ? '='.repeat(barWidth) : `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(barWidth - filled)}`;
  return `[${bar}]${counts}`;
}

/** A progress line redrawn in place on stderr when it is a terminal; nothing otherwise. */
export function createProgress(label: string): { update(done: number, total: number): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  let drawn = false;
  return {
    update(done, total) {
      if (!tty) return;
      const width = Math.min(process.stderr.columns || 80, 100) - label.length - 1;
      process.stderr.write(`\r${label} ${progressBar(done, total, width)}`);
      drawn = true;
    },
    end() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    },
  };
}

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
export function csvField(value: unknown): string {
  const text = value == null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: readonly unknown[]): string {
  return `${values.map(csvField).join(',')}\n`;
}

/** Columns padded to their widest cell, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
