// The whole schema, one module per table group. pg-boss keeps its own schema.
export * from './people';
export * from './presence';
export * from './routing';
export * from './webhooks';
