import { attributeValuesEqual, itemsEqual } from '../../common/item-compare';
import { InvalidFaultSpecError } from '../../local/errors';
import { splitRequestItems } from '../../local/fault-proxy';
import { FaultInjector, mulberry32, parseFaults } from '../../local/faults';
import { sqsSafeJson } from '../../local/sqs-local';

describe('parseFaults', () => {
  it('parses every known fault', () => {
    expect(parseFaults('apply-throttle=0.1, apply-crash=0.05,duplicate-delivery=1,enrich-failure=0,poison-message=0.5')).toEqual({
      applyThrottle: 0.1, applyCrash: 0.05, duplicateDelivery: 1, enrichFailure: 0, poisonMessage: 0.5,
    });
    expect(parseFaults('')).toEqual({});
  });

  it.each([
    ['apply-throtle=0.1', /unknown fault "apply-throtle".*known faults: apply-throttle/],
    ['apply-throttle', /not name=rate/],
    ['apply-throttle=1.5', /from 0 to 1, got "1.5"/],
    ['apply-throttle=-0.1', /from 0 to 1/],
    ['apply-throttle=abc', /from 0 to 1, got "abc"/],
    ['apply-throttle=', /from 0 to 1, got ""/],
    ['apply-crash=0.1,apply-crash=0.2', /given twice/],
  ])('rejects %s with a clear message', (spec, message) => {
    expect(() => parseFaults(spec)).toThrow(InvalidFaultSpecError);
    expect(() => parseFaults(spec)).toThrow(message);
  });
});

describe('FaultInjector', () => {
  const decisions = (injector: FaultInjector, n: number) => Array.from({ length: n }, () => injector.fires('applyThrottle'));

  it('repeats the same decisions for the same seed, and differs for another seed', () => {
    const a = decisions(new FaultInjector({ applyThrottle: 0.3 }, 7), 200);
    expect(decisions(new FaultInjector({ applyThrottle: 0.3 }, 7), 200)).toEqual(a);
    expect(decisions(new FaultInjector({ applyThrottle: 0.3 }, 8), 200)).not.toEqual(a);
    const rate = a.filter(Boolean).length / a.length;
    expect(rate).toBeGreaterThan(0.15);
    expect(rate).toBeLessThan(0.45);
  });

  it('keeps one fault\'s decisions independent of how often another fault is asked', () => {
    const quiet = new FaultInjector({ applyThrottle: 0.3, applyCrash: 0.5 }, 7);
    const busy = new FaultInjector({ applyThrottle: 0.3, applyCrash: 0.5 }, 7);
    for (let i = 0; i < 50; i += 1) busy.fires('applyCrash');
    expect(decisions(busy, 100)).toEqual(decisions(quiet, 100));
  });

  it('never fires a fault with rate 0 and always fires one with rate 1; rates can change', () => {
    const injector = new FaultInjector({ applyCrash: 1 }, 1);
    expect(injector.fires('applyCrash')).toBe(true);
    expect(injector.fires('enrichFailure')).toBe(false);
    injector.setRates({});
    expect(injector.fires('applyCrash')).toBe(false);
  });

  it('mulberry32 yields floats in [0, 1)', () => {
    const next = mulberry32(123);
    for (let i = 0; i < 1000; i += 1) {
      const x = next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});

describe('sqsSafeJson', () => {
  it('escapes characters outside the BMP as surrogate pairs and keeps the JSON value', () => {
    const value = { pk: { S: '日本語-キー 🔑' }, s: { S: 'ünï\u0000' } };
    const body = sqsSafeJson(value);
    expect(body).not.toMatch(/[\u{10000}-\u{10FFFF}]/u);
    expect(body).toContain('\\ud83d\\udd11');
    expect(JSON.parse(body)).toEqual(value);
  });
});

describe('attributeValuesEqual / itemsEqual', () => {
  it('compares sets without order, lists with order, numbers by exact value', () => {
    expect(attributeValuesEqual({ SS: ['a', 'b'] }, { SS: ['b', 'a'] })).toBe(true);
    expect(attributeValuesEqual({ NS: ['1.50', '2'] }, { NS: ['2', '1.5'] })).toBe(true);
    expect(attributeValuesEqual({ BS: ['AA==', 'AQ=='] }, { BS: ['AQ==', 'AA=='] })).toBe(true);
    expect(attributeValuesEqual({ L: [{ S: 'a' }, { S: 'b' }] }, { L: [{ S: 'b' }, { S: 'a' }] })).toBe(false);
    expect(attributeValuesEqual({ N: '12345678901234567890123456789012345678' }, { N: '12345678901234567890123456789012345679' })).toBe(false);
    expect(attributeValuesEqual({ N: '1' }, { S: '1' })).toBe(false);
    expect(attributeValuesEqual({ SS: ['a'] }, { SS: ['a', 'b'] })).toBe(false);
  });

  it('requires the same attribute names, nested too', () => {
    expect(itemsEqual({ a: { M: { x: { NULL: true } } } }, { a: { M: { x: { NULL: true } } } })).toBe(true);
    expect(itemsEqual({ a: { M: { x: { NULL: true } } } }, { a: { M: { y: { NULL: true } } } })).toBe(false);
    expect(itemsEqual({ a: { S: '' } }, { a: { S: '' }, b: { S: '' } })).toBe(false);
  });
});

describe('splitRequestItems', () => {
  it('forwards the first n write requests and returns the rest, per table, in order', () => {
    const w = (n: number) => ({ PutRequest: { Item: { pk: { S: String(n) } } } });
    expect(splitRequestItems({ t1: [w(1), w(2)], t2: [w(3), w(4)] }, 3)).toEqual({
      forwarded: { t1: [w(1), w(2)], t2: [w(3)] },
      unprocessed: { t2: [w(4)] },
    });
  });
});
