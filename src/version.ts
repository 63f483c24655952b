import pkg from '../package.json' with { type: 'json' };

/** dockvault's own version, recorded in every manifest. */
export const toolVersion: string = pkg.version;
