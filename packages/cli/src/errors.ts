// The ways a command fails, each with the exit code it ends the process with:
// 1 the API refused, could not be reached, or there is no usable login; 2 the command line is
// wrong; 130 the user interrupted (Ctrl-C), as shells report SIGINT.

export const EXIT_API = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** A wrong command line: printed with a pointer to the command's help, exit 2. */
export class UsageError extends Error {
  readonly exitCode = EXIT_USAGE;
}

/** No login, an expired one, or one for another gateway: exit 1 with what to run. */
export class LoginRequiredError extends Error {
  readonly exitCode = EXIT_API;
}

export interface GraphQLErrorEntry {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/** The gateway answered with GraphQL errors: each is printed with its extensions.code, exit 1. */
export class ApiError extends Error {
  readonly exitCode = EXIT_API;
  readonly errors: readonly GraphQLErrorEntry[];
  readonly status: number;

  constructor(errors: readonly GraphQLErrorEntry[], status: number) {
    super(errors.map((error) => `${codeOf(error)}: ${error.message}`).join('\n'));
    this.errors = errors;
    this.status = status;
  }

  get codes(): string[] {
    return this.errors.map(codeOf);
  }
}

/** The gateway could not be reached or did not answer GraphQL: exit 1. */
export class NetworkError extends Error {
  readonly exitCode = EXIT_API;
}

/** Ctrl-C: exit 130. */
export class InterruptedError extends Error {
  readonly exitCode = EXIT_INTERRUPTED;
}

export function codeOf(error: GraphQLErrorEntry): string {
  const code = error.extensions?.code;
  return typeof code === 'string' ? code : 'ERROR';
}

/** A database `reconcile` could not read: unreachable, refused, or without GiftPay's schemas. */
export class DatabaseReadError extends Error {
  readonly exitCode = EXIT_API;
}
