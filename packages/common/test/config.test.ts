// Configuration from the environment: a wrong value stops the service with a message that
// names the variable; token rules only allow asymmetric algorithms.

import { configErrorOf } from '@giftpay/testing/outcome';
import { describe, expect, it } from 'vitest';
import { envBoolean, envInt, envList, envMode, envOptional, envRequired, envString, envUrl, loadCommonConfig } from '../src/config.ts';

describe('envInt', () => {
  it('uses the fallback when the variable is absent or blank', () => {
    expect(envInt({}, 'PORT', 4000)).toBe(4000);
    expect(envInt({ PORT: '   ' }, 'PORT', 4000)).toBe(4000);
  });

  it('parses an integer, ignoring surrounding spaces', () => {
    expect(envInt({ PORT: ' 4001 ' }, 'PORT', 4000)).toBe(4001);
    expect(envInt({ OFFSET: '-3' }, 'OFFSET', 0)).toBe(-3);
  });

  it.each(['12abc', '1.5', 'abc', '0x10', '1e3'])('refuses %j, naming the variable', (value) => {
    const error = configErrorOf(() => envInt({ PORT: value }, 'PORT', 4000));
    expect(error.variable).toBe('PORT');
    expect(error.message).toContain('PORT');
    expect(error.name).toBe('ConfigError');
  });

  it('refuses values outside the range, naming the variable and the bound', () => {
    const low = configErrorOf(() => envInt({ WORKERS: '0' }, 'WORKERS', 1, { min: 1, max: 8 }));
    expect(low.variable).toBe('WORKERS');
    expect(low.message).toMatch(/at least 1/);
    const high = configErrorOf(() => envInt({ WORKERS: '9' }, 'WORKERS', 1, { min: 1, max: 8 }));
    expect(high.variable).toBe('WORKERS');
    expect(high.message).toMatch(/at most 8/);
  });

  it('accepts the range bounds themselves', () => {
    expect(envInt({ WORKERS: '1' }, 'WORKERS', 4, { min: 1, max: 8 })).toBe(1);
    expect(envInt({ WORKERS: '8' }, 'WORKERS', 4, { min: 1, max: 8 })).toBe(8);
  });
});

describe('envBoolean', () => {
  it.each(['1', 'true', 'TRUE', 'yes', 'On'])('reads %j as true', (value) => {
    expect(envBoolean({ FLAG: value }, 'FLAG', false)).toBe(true);
  });

  it.each(['0', 'false', 'No', 'OFF'])('reads %j as false', (value) => {
    expect(envBoolean({ FLAG: value }, 'FLAG', true)).toBe(false);
  });

  it('uses the fallback when absent', () => {
    expect(envBoolean({}, 'FLAG', true)).toBe(true);
  });

  it.each(['maybe', '2', 'enabled'])('refuses %j, naming the variable', (value) => {
    expect(configErrorOf(() => envBoolean({ FLAG: value }, 'FLAG', false)).variable).toBe('FLAG');
  });
});

describe('envUrl', () => {
  it('accepts http(s) and postgres URLs and drops trailing slashes', () => {
    expect(envUrl({ API: 'http://localhost:4000/' }, 'API', 'http://x')).toBe('http://localhost:4000');
    expect(envUrl({ API: 'https://example.com/graphql//' }, 'API', 'http://x')).toBe('https://example.com/graphql');
    expect(envUrl({ DB: 'postgres://giftpay@localhost:5432/giftpay' }, 'DB', 'http://x')).toBe('postgres://giftpay@localhost:5432/giftpay');
    expect(envUrl({ DB: 'postgresql://localhost/giftpay' }, 'DB', 'http://x')).toBe('postgresql://localhost/giftpay');
  });

  it('uses the fallback when absent', () => {
    expect(envUrl({}, 'API', 'http://127.0.0.1:4001/')).toBe('http://127.0.0.1:4001');
  });

  it.each(['ftp://example.com', 'file:///etc/passwd', 'not a url', 'localhost:4000'])('refuses %j, naming the variable', (value) => {
    const error = configErrorOf(() => envUrl({ API: value }, 'API', 'http://x'));
    expect(error.variable).toBe('API');
    expect(error.message).toContain('API');
  });

  it('refuses an invalid fallback, naming the variable', () => {
    expect(configErrorOf(() => envUrl({}, 'API', 'nonsense')).variable).toBe('API');
  });
});

describe('envList', () => {
  it('splits on commas, trimming items and dropping empty ones', () => {
    expect(envList({ ORIGINS: ' a, b,,c , ' }, 'ORIGINS', [])).toEqual(['a', 'b', 'c']);
  });

  it('returns a copy of the fallback when absent', () => {
    const fallback = ['x', 'y'];
    const list = envList({}, 'ORIGINS', fallback);
    expect(list).toEqual(['x', 'y']);
    list.push('z');
    expect(fallback).toEqual(['x', 'y']);
  });
});

describe('other readers', () => {
  it('envRequired refuses a missing or blank variable, naming it', () => {
    expect(configErrorOf(() => envRequired({}, 'SECRET')).variable).toBe('SECRET');
    expect(configErrorOf(() => envRequired({ SECRET: '  ' }, 'SECRET')).variable).toBe('SECRET');
    expect(envRequired({ SECRET: ' s ' }, 'SECRET')).toBe('s');
  });

  it('envString and envOptional treat blank as absent', () => {
    expect(envString({ HOST: ' ' }, 'HOST', '127.0.0.1')).toBe('127.0.0.1');
    expect(envOptional({ HOST: '' }, 'HOST')).toBeUndefined();
    expect(envOptional({ HOST: ' h ' }, 'HOST')).toBe('h');
  });

  it('envMode defaults to development and refuses unknown modes, naming NODE_ENV', () => {
    expect(envMode({})).toBe('development');
    expect(envMode({ NODE_ENV: 'production' })).toBe('production');
    expect(configErrorOf(() => envMode({ NODE_ENV: 'staging' })).variable).toBe('NODE_ENV');
  });
});

describe('loadCommonConfig', () => {
  it('defaults to asymmetric algorithms and safe settings', () => {
    const config = loadCommonConfig({});
    expect(config.jwt.algorithms).toEqual(['EdDSA', 'ES256']);
    expect(config.jwt.clockToleranceSeconds).toBe(5);
    expect(config.mode).toBe('development');
    expect(config.host).toBe('127.0.0.1');
  });

  it('accepts a list of asymmetric algorithms', () => {
    expect(loadCommonConfig({ JWT_ALGORITHMS: 'RS256, ES384,PS256' }).jwt.algorithms).toEqual(['RS256', 'ES384', 'PS256']);
  });

  it.each(['HS256', 'HS384', 'HS512', 'none', 'EdDSA,HS256', 'hs256', 'es256'])('refuses JWT_ALGORITHMS=%j', (value) => {
    const error = configErrorOf(() => loadCommonConfig({ JWT_ALGORITHMS: value }));
    expect(error.variable).toBe('JWT_ALGORITHMS');
    expect(error.message).toMatch(/asymmetric/);
  });

  it('refuses a clock tolerance above five minutes, naming the variable', () => {
    expect(configErrorOf(() => loadCommonConfig({ JWT_CLOCK_TOLERANCE_SECONDS: '301' })).variable).toBe('JWT_CLOCK_TOLERANCE_SECONDS');
    expect(loadCommonConfig({ JWT_CLOCK_TOLERANCE_SECONDS: '300' }).jwt.clockToleranceSeconds).toBe(300);
  });
});

describe('configuration errors never leak secrets', () => {
  it('does not repeat an invalid URL, which may hold a password', () => {
    const error = configErrorOf(() => envUrl({ DATABASE_URL: 'mysql://user:hunter2-secret@db/giftpay' }, 'DATABASE_URL', 'postgres://localhost/x'));
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).not.toContain('hunter2-secret');
  });

  it('refuses an empty list of JWT algorithms', () => {
    expect(() => loadCommonConfig({ JWT_ALGORITHMS: ' , ' })).toThrow(/JWT_ALGORITHMS/);
  });
});
