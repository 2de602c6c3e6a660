// The service credential check on the receiving side of a service-to-service call.

import { describe, expect, it } from 'vitest';
import { serviceTokenMatches } from '../src/service-client.ts';

describe('serviceTokenMatches', () => {
  const expected = 'a-long-random-service-token';

  it('matches the exact expected token', () => {
    expect(serviceTokenMatches('a-long-random-service-token', expected)).toBe(true);
  });

  it.each(['a-long-random-service-tokem', 'a-long-random-service-toke', 'a-long-random-service-token ', 'A-LONG-RANDOM-SERVICE-TOKEN', 'x'])(
    'refuses the different token %j',
    (given) => {
      expect(serviceTokenMatches(given, expected)).toBe(false);
    },
  );

  it('refuses a missing or empty header', () => {
    expect(serviceTokenMatches(undefined, expected)).toBe(false);
    expect(serviceTokenMatches('', expected)).toBe(false);
  });

  it('refuses an empty header even when the expected token is empty too', () => {
    expect(serviceTokenMatches('', '')).toBe(false);
  });

  it('refuses a header sent more than once (an array), even if one value is right', () => {
    expect(serviceTokenMatches([expected], expected)).toBe(false);
    expect(serviceTokenMatches([expected, expected], expected)).toBe(false);
  });
});
