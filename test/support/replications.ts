/** Config inputs with several replications (issue 17 §1), shared by the infra and CLI tests. */
const SOURCE_ACCOUNT = '111111111111';

/** Three replications (orders with targets dr + analytics, customers and carts with dr), one source table each. */
export function threeReplications(): Record<string, unknown> {
  const replication = (name: string, table: string, targets: { name: string; account: string; table: string }[]) => ({
    replicationName: name,
    source: {
      account: SOURCE_ACCOUNT,
      region: 'eu-west-1',
      tableName: table,
      tableStreamArn: `arn:aws:dynamodb:eu-west-1:${SOURCE_ACCOUNT}:table/${table}/stream/2026-11-01T00:00:00.000`,
      keySchema: { partitionKey: { name: 'pk', type: 'S' } },
    },
    targets: targets.map((t) => ({ name: t.name, account: t.account, region: 'eu-central-1', tableName: t.table, externalId: `${name}-${t.name}-x1` })),
  });
  return {
    replications: [
      replication('orders', 'orders', [{ name: 'dr', account: '222222222222', table: 'orders-replica' }, { name: 'analytics', account: '333333333333', table: 'orders-analytics' }]),
      replication('customers', 'customers', [{ name: 'dr', account: '222222222222', table: 'customers-replica' }]),
      replication('carts', 'carts', [{ name: 'dr', account: '222222222222', table: 'carts-replica' }]),
    ],
  };
}

