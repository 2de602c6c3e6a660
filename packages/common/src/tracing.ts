// OpenTelemetry traces across the gateway and the subgraphs. Every HTTP request gets a server
// span that continues the caller's W3C `traceparent`; calls to other services carry the
// active context on; @apollo/gateway's own spans (plan, execute, fetch per subgraph) nest
// inside. Spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; without
// a configured provider the API is a no-op and costs next to nothing.

import type { IncomingHttpHeaders } from 'node:http';
import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

const tracer = () => trace.getTracer('giftpay');

export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * Registers the process-wide tracer provider. `endpoint` is the collector's base URL (spans go to
 * `<endpoint>/v1/traces`); tests pass an `exporter` instead. Without either, tracing stays off.
 * The SDK is loaded only then: a process that exports no spans never pays for its modules
 * (about a quarter of a second of CPU at each start).
 */
export async function startTracing(options: { service: string; endpoint?: string | null; exporter?: SpanExporter }): Promise<Tracing | null> {
  if (!options.endpoint && !options.exporter) return null;
  const [{ W3CTraceContextPropagator }, { OTLPTraceExporter }, { Resource }, { BatchSpanProcessor, SimpleSpanProcessor }, { NodeTracerProvider }] =
    await Promise.all([
      import('@opentelemetry/core'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/sdk-trace-node'),
    ]);
  const processor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.endpoint}/v1/traces` }));
  const provider = new NodeTracerProvider({ resource: new Resource({ 'service.name': options.service }), spanProcessors: [processor] });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return { shutdown: () => provider.shutdown() };
}

/** Runs `handle` inside a server span that continues the trace in the request's headers. */
export function inServerSpan<T>(
  headers: IncomingHttpHeaders,
  attributes: { service: string; method: string; path: string; requestId: string },
  handle: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(context.active(), headers);
  return tracer().startActiveSpan(
    `${attributes.method} ${attributes.path}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': attributes.method,
        'url.path': attributes.path,
        'giftpay.service': attributes.service,
        'giftpay.request_id': attributes.requestId,
      },
    },
    parent,
    async (span) => {
      try {
        return await handle(span);
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      }
    },
  );
}

/** Writes the active trace context (`traceparent`) into outgoing headers. */
export function injectTraceContext(headers: Record<string, string>): Record<string, string> {
  propagation.inject(context.active(), headers);
  return headers;
}

/** The W3C traceparent of the active span, when a trace is being recorded: what a batch item carries for its request. */
export function activeTraceparent(): string | undefined {
  return injectTraceContext({}).traceparent;
}

/**
 * Links the active span to the spans named by `traceparents` (the propagator drops malformed ones):
 * work done in one batch for several requests then shows in each request's trace as a link,
 * though the batch's own span sits in the trace of the call that carried it.
 */
export function linkActiveSpanTo(traceparents: readonly unknown[]): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  const links = traceparents.flatMap((traceparent) => {
    if (typeof traceparent !== 'string') return [];
    const linked = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }));
    return linked && trace.isSpanContextValid(linked) ? [{ context: linked }] : [];
  });
  if (links.length > 0) span.addLinks(links);
}
