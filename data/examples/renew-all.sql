-- Example: give every active subscriber 7 extra days (a goodwill credit after an outage).
-- An action, not a state: each run adds 7 more days, so apply it once per outage.
UPDATE subscribers
SET expires_at = datetime(max(expires_at, datetime('now')), '+7 days')
WHERE enabled = 1;
