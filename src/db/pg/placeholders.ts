/** SQLite's `?` placeholders as PostgreSQL's `$1, $2, …` (for Lineup's own queries, which hold no `?` in a string). */
export const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};
