import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { GlueClient } from '@aws-sdk/client-glue';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { PipesClient } from '@aws-sdk/client-pipes';
import { SQSClient } from '@aws-sdk/client-sqs';
import { keepProtoAttributes } from '../../handlers/core/proto-attributes';

/**
 * The AWS clients operator commands use, all in one Region with the default credential chain
 * (AWS_PROFILE, environment, SSO, instance role). Created on first use; `destroy()` closes the
 * ones that were created, so a command leaves no open sockets behind.
 */
export class AwsClients {
  private readonly created: { destroy(): void }[] = [];
  private cache = new Map<string, unknown>();

  constructor(readonly region: string) {}

  get cloudFormation(): CloudFormationClient {
    return this.client('cloudformation', () => new CloudFormationClient({ region: this.region }));
  }

  get dynamodb(): DynamoDBClient {
    return this.client('dynamodb', () => keepProtoAttributes(new DynamoDBClient({ region: this.region })));
  }

  get glue(): GlueClient {
    // Its module is loaded on first use: ~15 MB resident, needed only by the commands that run a Glue job.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    return this.client('glue', () => new (require('@aws-sdk/client-glue') as typeof import('@aws-sdk/client-glue')).GlueClient({ region: this.region }));
  }

  get lambda(): LambdaClient {
    return this.client('lambda', () => new LambdaClient({ region: this.region }));
  }

  get pipes(): PipesClient {
    return this.client('pipes', () => new PipesClient({ region: this.region }));
  }

  get sqs(): SQSClient {
    return this.client('sqs', () => new SQSClient({ region: this.region }));
  }

  destroy(): void {
    for (const client of this.created.splice(0)) client.destroy();
    this.cache = new Map();
  }

  private client<T extends { destroy(): void }>(name: string, create: () => T): T {
    let client = this.cache.get(name) as T | undefined;
    if (client === undefined) {
      client = create();
      this.cache.set(name, client);
      this.created.push(client);
    }
    return client;
  }
}
