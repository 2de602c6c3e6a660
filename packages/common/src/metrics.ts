// Prometheus metrics every service exposes at GET /metrics: process metrics, HTTP requests,
// GraphQL operations (latency by root field, errors by code). Labels come from the schema
// (root field names) or the contract (error codes), never from client-chosen strings such
// as operation names, so a client cannot make the number of series grow without bound.

import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

// Re-exported so services add their own metrics to the same registry without depending on prom-client.
export { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'route'>;
  readonly operationDuration: Histogram<'operation' | 'type'>;
  readonly graphqlErrors: Counter<'code'>;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer an HTTP request',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    operationDuration: new Histogram({
      name: 'graphql_operation_duration_seconds',
      help: 'Time to execute a GraphQL operation, by its first root field',
      labelNames: ['operation', 'type'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    graphqlErrors: new Counter({
      name: 'graphql_errors_total',
      help: 'GraphQL errors answered, by extensions.code',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}

/** The route label of a path: known routes by name, anything else as "other". */
export function routeLabel(pathname: string, known: readonly string[]): string {
  return known.includes(pathname) ? pathname : 'other';
}

/** Apollo Server plugin: operation latency by first root field, and every error's code. */
export function metricsPlugin<TContext extends BaseContext>(metrics: ServiceMetrics): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ operation, response }) {
          const root = operation?.selectionSet.selections.find((selection) => selection.kind === 'Field');
          const name = root && root.kind === 'Field' ? root.name.value : 'invalid';
          metrics.operationDuration.observe({ operation: name, type: operation?.operation ?? 'none' }, (performance.now() - started) / 1000);
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          for (const error of errors) metrics.graphqlErrors.inc({ code: String(error.extensions?.code ?? 'UNKNOWN') });
        },
      };
    },
  };
}
