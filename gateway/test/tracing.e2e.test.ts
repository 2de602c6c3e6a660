// OpenTelemetry traces across the supergraph: one activation, started with a client's
// traceparent, leaves spans from the gateway (its own and @apollo/gateway's), gift-cards and
// the wallet (GraphQL and the internal credit), all in the client's trace and nested as called.

import { randomBytes } from 'node:crypto';
import { SERVICE_TOKEN_HEADER, startTracing, type Tracing } from '@giftpay/common';
import { createTestDatabase, type Stack, startStack } from '@giftpay/testing';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exporter = new InMemorySpanExporter();
let tracing: Tracing | null;
let stack: Stack;

beforeAll(async () => {
  tracing = await startTracing({ service: 'giftpay-tests', exporter });
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
});

afterAll(async () => {
  await stack?.close();
  await tracing?.shutdown();
  // startTracing registered its provider, propagator and context manager process-wide, and
  // this worker goes on to run other files (isolate: false): take them out again, as the
  // OpenTelemetry API's disable() does, so no later file traces by accident.
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('opentelemetry.js.api.1')];
});

function service(span: ReadableSpan): unknown {
  return span.attributes['giftpay.service'];
}

describe('traces', () => {
  it("puts the gateway's, gift-cards' and the wallet's spans of one activation in the client's trace, each nested under its caller", async () => {
    const { code } = await stack.issueGiftCard({ amount: '10' });
    const user = await stack.signUp();
    const traceId = randomBytes(16).toString('hex');
    const clientSpanId = randomBytes(8).toString('hex');
    exporter.reset();
    // The wallet's id comes from the wallet subgraph (gift-cards provides only the balance), so
    // the gateway calls both subgraphs, and gift-cards calls the wallet's credit.
    const result = await stack.graphql('mutation ($code: String!) { activateGiftCard(input: { code: $code }) { wallet { id balance { amount } } } }', {
      token: user.token,
      variables: { code },
      headers: { traceparent: `00-${traceId}-${clientSpanId}-01` },
    });
    expect(result.errors).toBeUndefined();

    // A server span ends when its response has been sent, a moment after the client has it.
    const find = (spans: ReadableSpan[], name: string, of: string) => spans.find((span) => service(span) === of && span.name === name);
    const deadline = performance.now() + 10_000;
    let spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    while (!(find(spans, 'POST /graphql', 'gateway') && find(spans, 'POST /graphql', 'gift-cards')) && performance.now() < deadline) {
      await new Promise((done) => setTimeout(done, 20));
      spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    }
    const gateway = find(spans, 'POST /graphql', 'gateway');
    const giftCards = find(spans, 'POST /graphql', 'gift-cards');
    const walletGraphql = find(spans, 'POST /graphql', 'wallet');
    const walletCredit = find(spans, 'POST /internal/credit-batches', 'wallet');
    const fetches = spans.filter((span) => span.name === 'gateway.fetch');
    expect(gateway?.parentSpanId).toBe(clientSpanId);
    expect(fetches.length).toBeGreaterThanOrEqual(2);
    // Each subgraph's span is a child of the gateway's fetch span for it; the credit, of gift-cards' span.
    expect(fetches.map((span) => span.spanContext().spanId)).toContain(giftCards?.parentSpanId);
    expect(fetches.map((span) => span.spanContext().spanId)).toContain(walletGraphql?.parentSpanId);
    expect(walletCredit?.parentSpanId).toBe(giftCards?.spanContext().spanId);
    // The credit left in a batch (of one here): its span links to each request it carries.
    expect(walletCredit?.links.map((link) => link.context.spanId)).toEqual([giftCards?.spanContext().spanId]);
    expect(gateway?.attributes['http.response.status_code']).toBe(200);
  });

  it("links the wallet's span of a batch of credits to the span of every request whose credit it carries", async () => {
    const requests = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')].map((traceId) => ({
      traceId,
      spanId: randomBytes(8).toString('hex'),
    }));
    const credit = (traceparent: string) => ({
      ownerId: `trace-${randomBytes(6).toString('hex')}`,
      amountMinor: '5',
      currencyCode: 'IRR',
      description: 'Gift card …TRCE',
      idempotencyKey: randomBytes(8).toString('hex'),
      traceparent,
    });
    exporter.reset();
    const response = await fetch(`${stack.wallet.listening.url}/internal/credit-batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SERVICE_TOKEN_HEADER]: String(stack.env.INTERNAL_API_TOKEN) },
      body: JSON.stringify({ credits: [...requests.map(({ traceId, spanId }) => credit(`00-${traceId}-${spanId}-01`)), credit('not-a-traceparent')] }),
    });
    expect(response.status).toBe(200);
    const deadline = performance.now() + 10_000;
    const batchSpan = () => exporter.getFinishedSpans().find((span) => service(span) === 'wallet' && span.name === 'POST /internal/credit-batches');
    while (!batchSpan() && performance.now() < deadline) await new Promise((done) => setTimeout(done, 20));
    expect(batchSpan()?.links.map((link) => [link.context.traceId, link.context.spanId])).toEqual(requests.map(({ traceId, spanId }) => [traceId, spanId]));
  });
});
