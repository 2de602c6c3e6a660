// The bench's report: latest.json (every figure), a Markdown page with each peer figure as a
// ratio to GiftPay's gateway, and an SVG chart of throughput and latency, drawn by hand.

import { busiestThread, PATH_LABELS, type PathFigures, type PathId, SCENARIO_LABELS, type ScenarioId } from './figures.ts';

export interface BenchRun {
  readonly mode: 'full' | 'quick';
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: {
    readonly node: string;
    readonly nodePath: string;
    readonly platform: string;
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly loadAverageBefore: readonly number[];
    readonly loadAverageAfter: readonly number[];
  };
  readonly commit: string | null;
  readonly hiveGatewayVersion: string | null;
  readonly settings: Readonly<Record<string, number>>;
  readonly results: readonly PathFigures[];
  /** The warm-up bursts (each scenario smaller, on every path, before any measured one): the stack's cold start. */
  readonly warmUps: readonly PathFigures[];
  /** Paths that could not run at all, with why. */
  readonly failures: readonly string[];
  readonly exact: boolean;
}

const SCENARIOS: readonly ScenarioId[] = ['flash', 'walletRead', 'spend', 'shards'];
const COLORS: Record<PathId, string> = { giftpay: '#2b6cb0', hive: '#d69e2e', direct: '#38a169', database: '#718096' };

function ratio(value: number | null | undefined, base: number | null | undefined): string {
  if (value === null || value === undefined || base === null || base === undefined || !Number.isFinite(value) || !Number.isFinite(base) || base === 0)
    return '';
  return ` (${(value / base).toFixed(2)}×)`;
}

function number(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `value` and, on a peer's row, its ratio to GiftPay's gateway. */
function cell(row: PathFigures, base: PathFigures | undefined, pick: (figures: PathFigures) => number | null | undefined, digits = 0): string {
  const value = pick(row);
  if (!base || row === base) return number(value, digits);
  return `${number(value, digits)}${ratio(value, pick(base))}`;
}

const PROCESS_NAMES: Readonly<Record<string, string>> = { 'hive-gateway': 'Hive Gateway', client: 'load generator' };

/**
 * Two sentences: for each path, its busiest JavaScript thread in cores kept busy (its whole
 * process beside it), then how busy the machine's cores were over each burst. A main thread
 * near 1.00 sets a path's pace; short of that, the machine's cores do.
 */
export function busiestThreadLine(rows: readonly PathFigures[]): string | null {
  const parts = rows.flatMap((row) => {
    const busiest = busiestThread(row);
    return busiest
      ? [`${row.label}: ${PROCESS_NAMES[busiest.name] ?? busiest.name} ${busiest.cores.toFixed(2)} (its process ${busiest.processCores.toFixed(2)})`]
      : [];
  });
  const machine = rows.flatMap((row) => (row.machine ? [`${row.label} ${Math.round(row.machine.busyShare * 100)}%`] : []));
  const cores = rows.find((row) => row.machine)?.machine?.cores;
  const sentences: string[] = [];
  if (parts.length > 0) {
    sentences.push(
      "The busiest JavaScript thread of each path, in cores kept busy over the burst (a Node process's main thread: its CPU a request × requests a second; " +
        "in brackets its whole process, with the garbage collector's helpers and libuv's pool, where signatures are checked; " +
        `only a main thread near 1.00 sets the path's pace): ${parts.join('; ')}.`,
    );
  }
  if (machine.length > 0) sentences.push(`The machine's ${cores} cores were busy, whoever kept them so: ${machine.join('; ')}.`);
  return sentences.length > 0 ? sentences.join(' ') : null;
}

function errorsOf(row: PathFigures): string {
  const entries = Object.entries(row.errors);
  return entries.length === 0 ? '0' : entries.map(([code, count]) => `${count} ${code}`).join(', ');
}

const PROCESS_COLUMNS: readonly { title: string; pick: (row: PathFigures) => number | undefined }[] = [
  {
    title: 'gateway',
    pick: (row) => (row.path === 'giftpay' ? row.cpuMsPerRequest.gateway : row.path === 'hive' ? row.cpuMsPerRequest['hive-gateway'] : undefined),
  },
  // At the database, the services take no part: their idle time is left out of the table (not of `all servers`).
  { title: 'gift-cards', pick: (row) => (row.path === 'database' ? undefined : row.cpuMsPerRequest['gift-cards']) },
  { title: 'wallet', pick: (row) => (row.path === 'database' ? undefined : row.cpuMsPerRequest.wallet) },
  { title: 'accounts', pick: (row) => (row.path === 'database' ? undefined : row.cpuMsPerRequest.accounts) },
  { title: 'PostgreSQL', pick: (row) => row.cpuMsPerRequest.postgres },
  { title: 'all servers', pick: (row) => row.cpuMsPerRequest.all },
  { title: 'load generator', pick: (row) => row.cpuMsPerRequest.client },
];

function scenarioSection(run: BenchRun, scenario: ScenarioId): string[] {
  const rows = run.results.filter((row) => row.scenario === scenario);
  if (rows.length === 0) return [];
  const flashLike = scenario === 'flash' || scenario === 'shards';
  // By slot shards, each row's ratios are to K = 1 on the same path; elsewhere to GiftPay's gateway.
  const gateway = rows.find((row) => row.path === 'giftpay');
  const baseOf = (row: PathFigures) => (scenario === 'shards' ? rows.find((other) => other.path === row.path && other.flash?.slotShards === 1) : gateway);
  const base = gateway;
  const first = rows[0] as PathFigures;
  const lines: string[] = [];
  const size = flashLike
    ? `${number(first.flash?.slots)} slots, ${number(first.flash?.users)} users, ${first.concurrency} in flight`
    : `${number(first.requests + first.unsent)} requests, ${first.concurrency} in flight`;
  lines.push(`## ${SCENARIO_LABELS[scenario]} (${size})`, '');
  if (scenario === 'shards') lines.push('Each figure is followed by its ratio to K = 1 on the same path.', '');
  const header = ['path', 'requests/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors'];
  if (flashLike)
    header.push(
      'slots filled in (s)',
      "winners' p50 ms",
      "winners' p99 ms",
      'winners told PENDING',
      `winners among the first ${number(first.flash?.slots)} sent`,
      'latest winning send position',
    );
  header.push('exact');
  lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => ' --- ').join('|')}|`);
  for (const row of rows) {
    const base = baseOf(row);
    const cells = [
      row.label,
      cell(row, base, (figures) => figures.requestsPerSecond),
      cell(row, base, (figures) => figures.latencyMs.p50, 1),
      cell(row, base, (figures) => figures.latencyMs.p95, 1),
      cell(row, base, (figures) => figures.latencyMs.p99, 1),
      errorsOf(row),
    ];
    if (flashLike) {
      const flash = row.flash;
      cells.push(
        cell(row, base, (figures) => figures.flash?.fillSeconds, 2),
        cell(row, base, (figures) => figures.flash?.winnersLatencyMs.p50, 1),
        cell(row, base, (figures) => figures.flash?.winnersLatencyMs.p99, 1),
        flash?.pendingShare === null || flash?.pendingShare === undefined ? '—' : `${(flash.pendingShare * 100).toFixed(1)}%`,
        flash ? `${number(flash.winnersAmongFirstN)} (${((flash.winnersAmongFirstNShare ?? 0) * 100).toFixed(1)}%)` : '—',
        number(flash?.latestWinningPosition),
      );
    }
    cells.push(row.exact ? 'yes' : '**NO**');
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('', 'CPU milliseconds per request, by process:', '');
  lines.push(`| path | ${PROCESS_COLUMNS.map((column) => column.title).join(' | ')} |`, `|${[0, ...PROCESS_COLUMNS].map(() => ' --- ').join('|')}|`);
  for (const row of rows) {
    const base = baseOf(row);
    const cells = PROCESS_COLUMNS.map((column) => {
      const value = column.pick(row);
      if (value === undefined) return '—';
      const baseValue = base && row !== base ? column.pick(base) : undefined;
      return `${number(value, 2)}${baseValue === undefined ? '' : ratio(value, baseValue)}`;
    });
    lines.push(`| ${row.label} | ${cells.join(' | ')} |`);
  }
  const busiest = busiestThreadLine(rows);
  if (busiest) lines.push('', busiest);
  if (scenario === 'flash') {
    const ceiling = rows.find((row) => row.path === 'database');
    const direct = rows.find((row) => row.path === 'direct');
    if (base && ceiling) lines.push('', ceilingLine(base, ceiling, direct));
  }
  lines.push('');
  return lines;
}

/** A request's CPU over every server and the load generator: what it takes of the cores they all share. */
const cpuWithLoad = (row: PathFigures) => (row.cpuMsPerRequest.all ?? 0) + (row.cpuMsPerRequest.client ?? 0);

/**
 * The flash through GiftPay's gateway against the database ceiling (and the subgraph
 * straight), then what the cores allow it: on one machine every path shares the same cores,
 * so a path's requests a second are at most its cores' busy time over its CPU a request, the
 * load generator's included. When that prediction meets the measured ratio, the cores, not
 * the database, set the path's pace.
 */
export function ceilingLine(base: PathFigures, ceiling: PathFigures, direct?: PathFigures): string {
  const percent = (value: number) => `${(value * 100).toFixed(0)}%`;
  const measured =
    `GiftPay's gateway ran the flash at ${percent(base.requestsPerSecond / Math.max(1, ceiling.requestsPerSecond))} of the database ceiling` +
    (direct ? ` and at ${percent(base.requestsPerSecond / Math.max(1, direct.requestsPerSecond))} of the subgraph straight.` : '.');
  const [baseCpu, ceilingCpu] = [cpuWithLoad(base), cpuWithLoad(ceiling)];
  if (!base.machine || !ceiling.machine || baseCpu <= 0 || ceilingCpu <= 0) return measured;
  const allowed = base.machine.busyShare / baseCpu / (ceiling.machine.busyShare / ceilingCpu);
  return (
    `${measured} With the load generator, a request through the gateway took ${number(baseCpu, 2)} ms of CPU and a claim alone ` +
    `${number(ceilingCpu, 2)} ms, ${number(baseCpu / ceilingCpu, 1)} times as much; on the cores they share ` +
    `(${percent(base.machine.busyShare)} and ${percent(ceiling.machine.busyShare)} busy) that allows the gateway's path ${percent(allowed)} of the ceiling.`
  );
}

export function toMarkdown(run: BenchRun, svgFile: string): string {
  const { machine } = run;
  const load = (values: readonly number[]) => values.map((value) => value.toFixed(2)).join(' / ');
  const checks = run.results.flatMap((row) => row.checks.map((item) => ({ row, item })));
  const failed = checks.filter(({ item }) => !item.ok);
  const lines = [
    `# GiftPay bench${run.mode === 'quick' ? ' (quick)' : ''}`,
    '',
    `${run.startedAt}, ${run.durationSeconds.toFixed(0)} s; Node ${machine.node} (${machine.nodePath}); ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB;` +
      ` load average (1/5/15 min) ${load(machine.loadAverageBefore)} before, ${load(machine.loadAverageAfter)} after;` +
      ` commit ${run.commit ?? 'unknown'}; Hive Gateway ${run.hiveGatewayVersion ?? 'not run'}.`,
    '',
    `Outcome: ${run.exact ? 'every scenario exact on every path' : '**NOT EXACT** (see the checks below)'}. Every peer figure is followed by its ratio to GiftPay's gateway.`,
    '',
    `![requests per second and latency of every scenario and path](${svgFile})`,
    '',
    ...SCENARIOS.flatMap((scenario) => scenarioSection(run, scenario)),
    ...warmUpSection(run),
    '## Checks',
    '',
    failed.length === 0 ? `All ${checks.length} checks passed.` : `${failed.length} of ${checks.length} checks failed:`,
    ...failed.map(({ row, item }) => `- ${SCENARIO_LABELS[row.scenario]}, ${row.label}: ${item.name}: ${item.detail}`),
    ...run.failures.map((failure) => `- ${failure}`),
    '',
    `Settings: ${Object.entries(run.settings)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ')}.`,
    '',
  ];
  return lines.join('\n');
}

/** The warm-up bursts as they ran, first to last: what a stack that has just started does (not held to the targets). */
function warmUpSection(run: BenchRun): string[] {
  if (run.warmUps.length === 0) return [];
  const lines = [
    `## Warm-up (not measured against the targets)`,
    '',
    `Each scenario at ${Math.round((run.settings.warmUpShare ?? 0) * 100)}% of its size on every path, in this order, before any measured burst: a stack just started.`,
    '',
    '| scenario | path | requests | requests/s | p99 ms | slots filled in (s) | CPU ms per request, all servers | exact |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of run.warmUps) {
    lines.push(
      `| ${SCENARIO_LABELS[row.scenario]} | ${row.label} | ${number(row.requests)} | ${number(row.requestsPerSecond)} | ${number(row.latencyMs.p99)} | ${row.flash ? row.flash.fillSeconds : '—'} | ${row.cpuMsPerRequest.all ?? '—'} | ${row.exact ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('');
  return lines;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Two panels, one row per scenario and path: requests per second, and latency (p50 bar, p99 whisker). */
export function toSvg(run: BenchRun): string {
  const rows = SCENARIOS.flatMap((scenario) => run.results.filter((row) => row.scenario === scenario));
  const rowHeight = 20;
  const groupGap = 20;
  const top = 56;
  const labelWidth = 230;
  const panelWidth = 330;
  const gap = 70;
  const positions: number[] = [];
  let y = top;
  rows.forEach((row, index) => {
    if (index > 0 && rows[index - 1]?.scenario !== row.scenario) y += groupGap;
    positions.push(y);
    y += rowHeight;
  });
  const height = y + 50;
  const width = labelWidth + panelWidth * 2 + gap + 90;
  const maxRate = Math.max(1, ...rows.map((row) => row.requestsPerSecond));
  const maxLatency = Math.max(1, ...rows.map((row) => row.latencyMs.p99 ?? 0));
  const rateX = labelWidth;
  const latencyX = labelWidth + panelWidth + gap;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${escapeXml(`GiftPay bench: requests per second and latency (p50, p99) of every scenario and path, ${run.startedAt}`)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${rateX}" y="22" font-size="14" font-weight="bold">requests per second</text>`,
    `<text x="${latencyX}" y="22" font-size="14" font-weight="bold">latency, ms (bar p50, line to p99)</text>`,
    `<text x="10" y="${height - 14}" fill="#555">${escapeXml(`GiftPay bench${run.mode === 'quick' ? ' (quick)' : ''}, ${run.startedAt}, Node ${run.machine.node}, ${run.machine.cpus} CPUs`)}</text>`,
  ];
  let lastScenario: ScenarioId | null = null;
  rows.forEach((row, index) => {
    const rowY = positions[index] as number;
    if (row.scenario !== lastScenario) {
      parts.push(`<text x="10" y="${rowY - 4}" font-weight="bold">${escapeXml(SCENARIO_LABELS[row.scenario])}</text>`);
      lastScenario = row.scenario;
    }
    const color = COLORS[row.path];
    const barY = rowY + 4;
    const barHeight = rowHeight - 6;
    parts.push(`<text x="24" y="${barY + barHeight - 3}">${escapeXml(PATH_LABELS[row.path])}${row.exact ? '' : ' (not exact)'}</text>`);
    const rateWidth = (row.requestsPerSecond / maxRate) * panelWidth;
    parts.push(`<rect x="${rateX}" y="${barY}" width="${rateWidth.toFixed(1)}" height="${barHeight}" fill="${color}"/>`);
    parts.push(`<text x="${(rateX + rateWidth + 4).toFixed(1)}" y="${barY + barHeight - 3}">${escapeXml(number(row.requestsPerSecond))}</text>`);
    const p50 = row.latencyMs.p50 ?? 0;
    const p99 = row.latencyMs.p99 ?? 0;
    const p50Width = (p50 / maxLatency) * panelWidth;
    const p99X = latencyX + (p99 / maxLatency) * panelWidth;
    parts.push(`<rect x="${latencyX}" y="${barY}" width="${p50Width.toFixed(1)}" height="${barHeight}" fill="${color}"/>`);
    parts.push(
      `<line x1="${(latencyX + p50Width).toFixed(1)}" y1="${barY + barHeight / 2}" x2="${p99X.toFixed(1)}" y2="${barY + barHeight / 2}" stroke="${color}" stroke-width="2"/>`,
    );
    parts.push(`<line x1="${p99X.toFixed(1)}" y1="${barY + 2}" x2="${p99X.toFixed(1)}" y2="${barY + barHeight - 2}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${(p99X + 4).toFixed(1)}" y="${barY + barHeight - 3}">${escapeXml(`${number(p50)} / ${number(p99)}`)}</text>`);
  });
  for (const x of [rateX, latencyX]) parts.push(`<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${y}" stroke="#333"/>`);
  parts.push('</svg>', '');
  return parts.join('\n');
}
