import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBRecord } from 'aws-lambda';

const ROOT = join(__dirname, '..', '..', '..');
export const ENVELOPE_FIXTURES_DIR = join(ROOT, 'schemas', 'fixtures');
export const STREAM_RECORDS_DIR = join(ROOT, 'test', 'fixtures', 'stream-records');

/** [file name, text] of every fixture in a directory, sorted. */
export function fixtureTexts(dir: string): [string, string][] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, readFileSync(join(dir, f), 'utf8')]);
}

/** Envelope fixture directories by version: v1, v2, … */
export function envelopeVersionDirs(): string[] {
  return readdirSync(ENVELOPE_FIXTURES_DIR).filter((d) => /^v\d+$/.test(d)).sort();
}

export function streamRecord(name: string): DynamoDBRecord {
  return JSON.parse(readFileSync(join(STREAM_RECORDS_DIR, `${name}.json`), 'utf8')) as DynamoDBRecord;
}

export function allStreamRecords(): [string, DynamoDBRecord][] {
  return fixtureTexts(STREAM_RECORDS_DIR).map(([f, text]) => [f, JSON.parse(text) as DynamoDBRecord]);
}
