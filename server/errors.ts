import { GraphQLError } from 'graphql';

/**
 * Bad input from a user or a file. `field` names what is wrong (e.g.
 * `filter.bbox.minLon`, `features[3].geometry.coordinates`) so that the person can fix it.
 */
export class InputError extends GraphQLError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`, { extensions: { code: 'BAD_USER_INPUT', field } });
  }
}
