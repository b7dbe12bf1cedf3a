-- pgbench script for bench/report: the statements the service runs for one
-- distinct /getid update on the webhook (actors/telegram.cpp apply_update:
-- the update's id; bench/webhook.lua sends no language_code, so no chat
-- setting is written), in one transaction per update.
\set update_id random(1, 9000000000000000000)
BEGIN;
INSERT INTO telegram_updates (update_id) VALUES (:update_id) ON CONFLICT (update_id) DO NOTHING;
COMMIT;
