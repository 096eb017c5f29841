/** The data version moved below the capabilities (server/db/data-version.ts): tiles and aggregate caches share it. */
export { DataVersion, markDataChanged as markHeatDataChanged } from '../db/data-version.js';
