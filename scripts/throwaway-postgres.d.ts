// Types of scripts/throwaway-postgres.js, for the tests' helper.
export const PG_BIN: string;
export function hasPostgresBinaries(): boolean;
export function asPostgres(command: string, args: string[]): void;
export function startThrowawayCluster(dir: string, port: number): string;
export function stopThrowawayCluster(dir: string): Promise<void>;
