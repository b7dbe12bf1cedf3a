-- Live events (api.md, "Live events"): single-use tickets that let a
-- browser's EventSource, which cannot send headers, open a stream. Stored
-- as SHA-256 hex of the ticket; expired ones are purged.
CREATE TABLE event_tickets (
  ticket_hash  text PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz
);
CREATE INDEX event_tickets_expires ON event_tickets (expires_at);
