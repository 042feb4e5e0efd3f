import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { LAMBDA_MAX_SYNC_RESPONSE_BYTES, SQS_LIMITS } from '../../handlers/core/aws-limits';
import {
  AwsRefusal, checkEnrichmentResponse, checkEventSourceBatchSize, checkPipeBatchSize, checkSendMessageBatch,
} from '../../local/aws-refusals';
import { EventSourceEmulator } from '../../local/event-source-emulator';
import { FaultInjector } from '../../local/faults';
import { PipeEmulator } from '../../local/pipe-emulator';

/** The emulators refuse what AWS refuses, with the error name AWS uses (docs/aws-contracts.md, "Local runtime"). */
const refusal = (fn: () => void): AwsRefusal => {
  try {
    fn();
  } catch (error) {
    if (error instanceof AwsRefusal) return error;
    throw error;
  }
  throw new Error('expected an AwsRefusal, nothing was thrown');
};
const fifo = { fifo: true, maximumMessageBytes: SQS_LIMITS.maxMessageBytes };
const entry = (id: number, body = 'x', groupId: string | null = `g${id}`): SendMessageBatchRequestEntry => ({
  Id: String(id), MessageBody: body, ...(groupId === null ? {} : { MessageGroupId: groupId }), MessageDeduplicationId: `d${id}`,
});

describe('SendMessageBatch', () => {
  it('accepts 10 entries of up to 1 MiB in total', () => {
    expect(() => checkSendMessageBatch(Array.from({ length: 10 }, (_, i) => entry(i, 'x'.repeat(100_000))), fifo)).not.toThrow();
  });

  it('over 10 entries: TooManyEntriesInBatchRequest', () => {
    expect(refusal(() => checkSendMessageBatch(Array.from({ length: 11 }, (_, i) => entry(i)), fifo)).name).toBe('TooManyEntriesInBatchRequest');
  });

  it('over 1 MiB in total: BatchRequestTooLong (six 200 KB envelopes)', () => {
    const error = refusal(() => checkSendMessageBatch(Array.from({ length: 6 }, (_, i) => entry(i, 'x'.repeat(200_000))), fifo));
    expect(error.name).toBe('BatchRequestTooLong');
    expect(error.message).toBe('BatchRequestTooLong: the messages total 1200000 bytes; the maximum is 1048576');
  });

  it('a message over the queue\'s MaximumMessageSize: InvalidParameterValue', () => {
    expect(refusal(() => checkSendMessageBatch([entry(0, 'x'.repeat(300_000))], { fifo: true, maximumMessageBytes: 262_144 })).name).toBe('InvalidParameterValue');
  });

  it('MessageGroupId over 128 characters: InvalidParameterValue; missing on a FIFO queue: MissingParameter', () => {
    expect(() => checkSendMessageBatch([entry(0, 'x', 'g'.repeat(128))], fifo)).not.toThrow();
    expect(refusal(() => checkSendMessageBatch([entry(0, 'x', 'g'.repeat(129))], fifo)).message).toMatch(/^InvalidParameterValue: entry 0: MessageGroupId is 129 characters/);
    expect(refusal(() => checkSendMessageBatch([entry(0, 'x', null)], fifo)).name).toBe('MissingParameter');
    expect(() => checkSendMessageBatch([entry(0, 'x', null)], { fifo: false, maximumMessageBytes: 1024 })).not.toThrow();
  });
});

describe('Pipes and Lambda', () => {
  it('a pipe batch larger than its SQS target allows: ValidationException, also from the pipe emulator\'s constructor', () => {
    expect(() => checkPipeBatchSize('p', 10)).not.toThrow();
    expect(refusal(() => checkPipeBatchSize('p', 11)).name).toBe('ValidationException');
    const make = () => new PipeEmulator({
      streams: new DynamoDBStreamsClient({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }), streamArn: 'arn',
      pipe: { name: 'p', batchSize: 100, parallelizationFactor: 1, maximumRetryAttempts: 10, bisectOnFailure: true },
      target: { queueUrl: 'q', ...fifo }, enrich: async () => [], faults: new FaultInjector({}, 1),
    });
    expect(refusal(make).message).toBe('ValidationException: pipe p: BatchSize 100 is larger than its SQS target supports (10)');
  });

  it('an enrichment response over 6 MB: Function.ResponseSizeTooLarge', () => {
    const element = { blob: 'x'.repeat(700_000) };
    expect(() => checkEnrichmentResponse('enrich', Array.from({ length: 8 }, () => element))).not.toThrow();
    expect(LAMBDA_MAX_SYNC_RESPONSE_BYTES).toBe(6_000_000);
    expect(refusal(() => checkEnrichmentResponse('enrich', Array.from({ length: 9 }, () => element))).name).toBe('Function.ResponseSizeTooLarge');
  });

  it('a FIFO event-source mapping with a batch over 10: InvalidParameterValueException, also from the emulator\'s constructor', () => {
    expect(() => checkEventSourceBatchSize(10, true)).not.toThrow();
    expect(() => checkEventSourceBatchSize(100, false)).not.toThrow();
    const make = () => new EventSourceEmulator({
      sqs: new SQSClient({ region: 'us-east-1' }), queueUrl: 'q', queueArn: 'arn', region: 'us-east-1',
      apply: async () => ({ batchItemFailures: [] }), faults: new FaultInjector({}, 1), visibilityTimeoutSeconds: 1, batchSize: 11,
    });
    expect(refusal(make).name).toBe('InvalidParameterValueException');
  });
});
