import path from 'node:path';

/** Runtime configuration, read from the environment once. */
export interface AppConfig {
  /** Real PostgreSQL + PostGIS; when absent the embedded PGlite backend is used. */
  databaseUrl?: string;
  /** Folder of the embedded database (persists between restarts). */
  dataDir: string;
  host: string;
  port: number;
  /** Production basemap style URL; null = built-in offline style. */
  basemapStyleUrl: string | null;
  /** Code of the municipality whose reference data is loaded on first start. */
  municipality: string;
  production: boolean;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const port = Number(env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be an integer 0..65535, got "${env.PORT}"`);
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: path.resolve(env.DATA_DIR ?? 'data/pglite'),
    host: env.HOST ?? '127.0.0.1',
    port,
    basemapStyleUrl: env.BASEMAP_STYLE_URL || null,
    municipality: env.MUNICIPALITY ?? 'rubtsovsk',
    production: env.NODE_ENV === 'production',
  };
}
