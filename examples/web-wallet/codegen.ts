// GraphQL Code Generator: types every operation in src/ from the API schema. `pnpm codegen`
// (at the root or here) rewrites src/gql/, which is committed; CI fails when it is stale.

import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema/schema.graphql',
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**'],
  ignoreNoDocuments: false,
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        // Decimal is an exact decimal string ("1000000", "12.50"), never a JS number; DateTime an ISO 8601 string.
        scalars: { Decimal: 'string', DateTime: 'string' },
        strictScalars: true,
        useTypeImports: true,
        // String unions, not TypeScript enums (the repository's tsconfig allows only erasable syntax).
        enumsAsTypes: true,
      },
    },
  },
};

export default config;
