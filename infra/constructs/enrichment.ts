import type { EnrichmentParametersConfig, IEnrichment, IPipe } from '@aws-cdk/aws-pipes-alpha';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';

/**
 * A Lambda function as a pipe's enrichment step. `@aws-cdk/aws-pipes-enrichments-alpha` is not
 * available to this project, so this is the small equivalent: the Pipe calls `bind` and
 * `grantInvoke` itself (docs/architecture.md#enrichment). No input template: the function receives the JSON array of
 * stream records exactly as Pipes sends it, which is what handlers/enrich.ts decodes.
 */
export class LambdaEnrichment implements IEnrichment {
  public readonly enrichmentArn: string;

  constructor(private readonly fn: IFunction) {
    this.enrichmentArn = fn.functionArn;
  }

  public bind(_pipe: IPipe): EnrichmentParametersConfig {
    return { enrichmentParameters: {} };
  }

  /** The pipe invokes the unqualified ARN, so it is granted exactly that (no `:*` for versions and aliases). */
  public grantInvoke(grantee: IRole): void {
    this.fn.grantInvokeLatestVersion(grantee);
  }
}
